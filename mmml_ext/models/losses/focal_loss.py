"""``MultiLabelFocalLoss``: sigmoid focal loss with scalar alpha or per-class weights."""
from typing import Optional, Sequence

import torch
from mmpretrain.registry import MODELS

from ...functional.focal_loss import check_focal_args, sigmoid_focal_loss
from .base import MultiLabelLoss


@MODELS.register_module()
class MultiLabelFocalLoss(MultiLabelLoss):
    """Sigmoid focal loss, -a (1-p_t)^gamma log p_t, per class.

    Args:
        gamma (float): Focusing parameter, >= 0. Defaults to 2.
        alpha (float, optional): Weight of positives, 1 - alpha of negatives
            (Lin et al.), a number in [0, 1]; None for no such weighting. A
            per-class vector is ``class_weight`` (a list here is a
            ValueError). Defaults to 0.25.
        class_weight (Sequence[float], optional): Per-class weights on both
            terms of a class. ``gamma=2, alpha=None, class_weight=[...]`` is the
            Keras multi-label focal loss with a per-class alpha vector.
        reduction (str): ``'mean'`` (sum over classes, mean over samples),
            ``'sum'`` or ``'none'``.
        loss_weight (float): Defaults to 1.
    """

    def __init__(self, gamma: float = 2.0, alpha: Optional[float] = 0.25,
                 class_weight: Optional[Sequence[float]] = None, reduction: str = 'mean',
                 loss_weight: float = 1.0, **kwargs) -> None:
        super().__init__(reduction, loss_weight, **kwargs)
        check_focal_args(gamma, alpha)
        self.gamma, self.alpha = gamma, alpha
        if class_weight is not None:
            class_weight = torch.as_tensor(class_weight, dtype=torch.float32)
            if class_weight.dim() != 1 or bool((class_weight < 0).any()):
                raise ValueError('class_weight must be a list of non-negative numbers, got '
                                 f'{class_weight.tolist()}')
        self.register_buffer('class_weight', class_weight, persistent=False)

    def elementwise(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sigmoid_focal_loss(logits, target, self.gamma, self.alpha, self.class_weight)
