"""``MultiLabelAsymmetricLoss``: ASL (Ridnik et al. 2021), fused forward and backward."""
from typing import Optional

import torch
from mmpretrain.registry import MODELS

from ...functional.asymmetric_loss import asymmetric_loss, check_asl_args
from .base import MultiLabelLoss


@MODELS.register_module()
class MultiLabelAsymmetricLoss(MultiLabelLoss):
    """Asymmetric loss: focusing and a probability margin on negatives.

    L+ = -(1-p)^gamma_pos log p, L- = -p_m^gamma_neg log(1-p_m), p_m = max(p - clip, 0).
    Same values and gradients as the plain formula, from a custom autograd
    function with the closed-form gradient: 2.74x faster than mmpretrain's
    ``AsymmetricLoss`` at C = 1,000 and 2.91x at C = 9,605 (B = 256, forward +
    backward of the loss step alone, CPU, float32; docs/losses.md, "Speed").

    Args:
        gamma_pos (float): Focusing of positives. Defaults to 0.
        gamma_neg (float): Focusing of negatives. Defaults to 4.
        clip (float, optional): Probability margin, in [0, 1); None or 0
            for none (mmpretrain's ``clip=None``). Defaults to 0.05.
        eps (float): Lower clamp of the argument of each log. Defaults to 1e-8.
        detach_focal_weight (bool): No gradient through the focusing weights
            (the official ``disable_torch_grad_focal_loss``). Defaults to True.
        reduction (str): ``'mean'`` (sum over classes, mean over samples),
            ``'sum'`` (the official ASL reduction) or ``'none'``.
        loss_weight (float): Defaults to 1.

    Examples:
        >>> loss = dict(type='MultiLabelAsymmetricLoss', gamma_neg=4, gamma_pos=0, clip=0.05)
    """

    def __init__(self, gamma_pos: float = 0.0, gamma_neg: float = 4.0,
                 clip: Optional[float] = 0.05, eps: float = 1e-8,
                 detach_focal_weight: bool = True, reduction: str = 'mean',
                 loss_weight: float = 1.0, **kwargs) -> None:
        super().__init__(reduction, loss_weight, **kwargs)
        if clip is None:  # mmpretrain's "no clipping"
            clip = 0.0
        if isinstance(clip, (int, float)) and clip < 0:
            raise ValueError(f'clip must be in [0, 1), got {clip!r}: for no probability margin '
                             'give clip=None or 0 (mmpretrain reads a negative clip as none)')
        check_asl_args(gamma_pos, gamma_neg, clip, eps)
        self.gamma_pos, self.gamma_neg, self.clip, self.eps = gamma_pos, gamma_neg, clip, eps
        self.detach_focal_weight = detach_focal_weight

    def elementwise(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return asymmetric_loss(logits, target, self.gamma_pos, self.gamma_neg, self.clip,
                               self.eps, self.detach_focal_weight)
