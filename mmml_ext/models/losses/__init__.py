"""Registered multi-label losses for imbalance (docs/losses.md)."""
from .asymmetric_loss import MultiLabelAsymmetricLoss
from .balanced_losses import ClassBalancedLoss, DistributionBalancedLoss
from .base import MultiLabelLoss
from .class_counts_mixin import NeedsClassCounts
from .focal_loss import MultiLabelFocalLoss

__all__ = [
    'MultiLabelLoss', 'MultiLabelAsymmetricLoss', 'MultiLabelFocalLoss', 'ClassBalancedLoss',
    'DistributionBalancedLoss', 'NeedsClassCounts'
]
