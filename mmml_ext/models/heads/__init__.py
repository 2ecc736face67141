"""Registered multi-label heads."""
from .imbalanced_multilabel_head import ImbalancedMultiLabelHead, load_thresholds

__all__ = ['ImbalancedMultiLabelHead', 'load_thresholds']
