"""Registered multi-label heads."""
from .imbalanced_multilabel_head import ImbalancedMultiLabelHead
from .ml_decoder_head import MLDecoderHead

__all__ = ['ImbalancedMultiLabelHead', 'MLDecoderHead']
