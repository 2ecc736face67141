"""``HillLoss`` and ``SPLCLoss``: losses robust to missing labels (Zhang et al. 2021).

Formulas and defaults: :mod:`mmml_ext.functional.robust_losses` and
docs/losses.md. Both are defined for data whose missing labels look like
negatives, so an unknown (-1) cell is read as a negative by default
(``unknown='negative'``); ``unknown='ignore'`` leaves it out instead.
"""
from typing import Optional

import torch
from mmpretrain.registry import MODELS

from ...functional.bce_loss import check_unknown_rule, weigh_unknown
from ...functional.robust_losses import check_robust_args, hill_loss, splc_loss
from .base import MultiLabelLoss
from .training_epoch import EpochAware

ROBUST_UNKNOWN_RULES = ('negative', 'ignore')


class _MissingLabelLoss(MultiLabelLoss):
    """An unknown cell is a negative (the papers' setting) or ignored."""

    def __init__(self, unknown: str, reduction: str, loss_weight: float, **kwargs) -> None:
        super().__init__(reduction, loss_weight, **kwargs)
        check_unknown_rule(unknown, rules=ROBUST_UNKNOWN_RULES)
        self.unknown = unknown

    def unknown_aware_loss(self, logits: torch.Tensor, target: torch.Tensor,
                           unknown: Optional[torch.Tensor]) -> torch.Tensor:
        return weigh_unknown(self.elementwise(logits, target), unknown, self.unknown)


@MODELS.register_module()
class HillLoss(_MissingLabelLoss):
    """Hill loss: focal-margin positives, hill-shaped negatives (lambda - p) p^2.

    L = y (1 - sigmoid(x - m))^gamma (-log sigmoid(x - m)) + (1 - y) (lambda - p) p^2.
    The paper's code sums over all cells (``reduction='sum'`` here).

    Args:
        lamb (float): lambda of the negative term, >= 1. Defaults to 1.5.
        margin (float): Logit margin m of positives. Defaults to 1.
        gamma (float): Focusing of positives. Defaults to 2.
        unknown (str): ``'negative'`` (default) or ``'ignore'``.
        reduction (str): ``'mean'`` (sum over classes, mean over samples),
            ``'sum'`` or ``'none'``.
        loss_weight (float): Defaults to 1.

    Examples:
        >>> loss = dict(type='HillLoss', lamb=1.5, margin=1.0, gamma=2.0)
    """

    def __init__(self, lamb: float = 1.5, margin: float = 1.0, gamma: float = 2.0,
                 unknown: str = 'negative', reduction: str = 'mean',
                 loss_weight: float = 1.0, **kwargs) -> None:
        super().__init__(unknown, reduction, loss_weight, **kwargs)
        check_robust_args(margin, gamma, lamb)
        self.lamb, self.margin, self.gamma = lamb, margin, gamma

    def elementwise(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return hill_loss(logits, target, self.lamb, self.margin, self.gamma)


@MODELS.register_module()
class SPLCLoss(EpochAware, _MissingLabelLoss):
    """Self-paced loss correction: from ``change_epoch`` on, a negative scored above ``tau``
    is a pseudo-positive.

    Positives: focal loss with logit margin m; pseudo-positives: focal loss
    without margin; other negatives: focal loss. The epoch comes from the
    Runner (its message hub) with no config edit, or from :meth:`set_epoch`.
    The paper's code sums over all cells (``reduction='sum'`` here).

    Args:
        tau (float): Probability above which a negative is a pseudo-positive.
            Defaults to 0.6.
        change_epoch (int): First epoch (counted from 0) of the correction.
            Defaults to 1 (the second epoch).
        margin (float): Logit margin m of the given positives. Defaults to 1.
        gamma (float): Focusing of both terms. Defaults to 2.
        unknown (str): ``'negative'`` (default: an unknown cell can become a
            pseudo-positive) or ``'ignore'``.
        reduction (str): ``'mean'``, ``'sum'`` or ``'none'``.
        loss_weight (float): Defaults to 1.

    Examples:
        >>> loss = dict(type='SPLCLoss', tau=0.6, change_epoch=1)
    """

    def __init__(self, tau: float = 0.6, change_epoch: int = 1, margin: float = 1.0,
                 gamma: float = 2.0, unknown: str = 'negative', reduction: str = 'mean',
                 loss_weight: float = 1.0, **kwargs) -> None:
        super().__init__(unknown, reduction, loss_weight, **kwargs)
        check_robust_args(margin, gamma, tau=tau)
        if isinstance(change_epoch, bool) or not isinstance(change_epoch, int) \
                or change_epoch < 0:
            raise ValueError(f'change_epoch must be an integer >= 0, got {change_epoch!r}')
        self.tau, self.change_epoch, self.margin, self.gamma = tau, change_epoch, margin, gamma

    def elementwise(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        correct = self.current_epoch(self.change_epoch) >= self.change_epoch
        return splc_loss(logits, target, self.tau, self.margin, self.gamma, correct)
