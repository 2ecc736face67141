"""Registered multi-label losses for imbalance and for missing labels (docs/losses.md)."""
from .asymmetric_loss import MultiLabelAsymmetricLoss
from .balanced_losses import ClassBalancedLoss, DistributionBalancedLoss
from .base import MultiLabelLoss
from .bce_loss import MultiLabelBCELoss
from .class_counts_mixin import NeedsClassCounts
from .focal_loss import MultiLabelFocalLoss
from .large_loss import LargeLossRejection
from .robust_losses import HillLoss, SPLCLoss
from .training_epoch import EpochAware
from .two_way_loss import TwoWayMultiLabelLoss

__all__ = [
    'MultiLabelLoss', 'MultiLabelAsymmetricLoss', 'MultiLabelFocalLoss', 'ClassBalancedLoss',
    'DistributionBalancedLoss', 'NeedsClassCounts', 'MultiLabelBCELoss', 'HillLoss', 'SPLCLoss',
    'LargeLossRejection', 'EpochAware', 'TwoWayMultiLabelLoss'
]
