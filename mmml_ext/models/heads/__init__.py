"""Registered multi-label heads."""
from .imbalanced_multilabel_head import ImbalancedMultiLabelHead

__all__ = ['ImbalancedMultiLabelHead']
