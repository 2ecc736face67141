"""``MultiLabelBCELoss``: sigmoid BCE in float32 that knows what an unknown (-1) cell is."""
from typing import Optional

import torch
from mmpretrain.registry import MODELS

from ...functional.bce_loss import (binary_cross_entropy, check_unknown_rule, weigh_unknown)
from .base import MultiLabelLoss


@MODELS.register_module()
class MultiLabelBCELoss(MultiLabelLoss):
    """Binary cross-entropy from logits, with a rule for unknown (-1) targets.

    L = -(y log p + (1 - y) log(1 - p)), p = sigmoid(x), computed as
    softplus(x) - x y in float32 (finite at logits of +-1e4, also under
    fp16 / bf16 autocast). With no unknown cell it is mmpretrain's
    ``CrossEntropyLoss(use_sigmoid=True)`` under an mmpretrain head (the same
    ``mean``: sum over classes, averaged over samples).

    Args:
        unknown (str): What a -1 ("not annotated") cell is: ``'ignore'`` (no
            loss, no gradient), ``'negative'`` (assume negative, AN) or
            ``'weak'`` (a negative weighted by ``weak_weight``: weak assume
            negative, WAN, Cole et al. CVPR 2021). Defaults to ``'ignore'``.
        weak_weight (float, optional): Weight of an unknown cell with
            ``unknown='weak'``, in (0, 1]. Defaults to 1 / (C - 1).
        reduction (str): ``'mean'`` (sum over classes, mean over samples),
            ``'sum'`` or ``'none'``.
        loss_weight (float): Defaults to 1.

    Examples:
        >>> loss = dict(type='MultiLabelBCELoss')                     # -1 cells ignored
        >>> wan = dict(type='MultiLabelBCELoss', unknown='weak')      # WAN, weight 1/(C-1)
    """

    def __init__(self, unknown: str = 'ignore', weak_weight: Optional[float] = None,
                 reduction: str = 'mean', loss_weight: float = 1.0, **kwargs) -> None:
        super().__init__(reduction, loss_weight, **kwargs)
        check_unknown_rule(unknown, weak_weight)
        self.unknown, self.weak_weight = unknown, weak_weight

    def elementwise(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return binary_cross_entropy(logits, target)

    def unknown_aware_loss(self, logits: torch.Tensor, target: torch.Tensor,
                           unknown: Optional[torch.Tensor]) -> torch.Tensor:
        return weigh_unknown(self.elementwise(logits, target), unknown, self.unknown,
                             self.weak_weight)
