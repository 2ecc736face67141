"""Sigmoid focal loss for multi-label targets, with a scalar alpha or per-class weights.

Element-wise, from logits x with p = sigmoid(x), target y in [0, 1]:

    L = -( a  y     (1 - p)^g log p
         + a' (1-y) p^g       log(1 - p) ) * w_c

with (a, a') = (alpha, 1 - alpha) for a scalar ``alpha`` (Lin et al.), (1, 1)
when ``alpha`` is None, and w_c the optional per-class ``class_weight``, which
weights both terms of class c. ``gamma=2, alpha=None, class_weight=[...]`` with
the ``mean`` reduction (sum over classes, mean over samples) is the well-known
Keras multi-label focal loss with a per-class alpha vector.

It runs on the fused kernel of :mod:`mmml_ext.functional.asymmetric_loss` (focal
loss is ASL with no margin, no clamp, one gamma and the weights' gradient kept):
float32 from log-sigmoid, finite at logits of +-1e4 and under fp16 / bf16
autocast, with the closed-form gradient.
"""
import numbers
from typing import Optional

import torch

from .asymmetric_loss import fused_focal_terms


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_focal_args(gamma: float, alpha: Optional[float]) -> None:
    """ValueError unless ``gamma`` is a number >= 0 and ``alpha`` one in [0, 1] or None."""
    if not _is_number(gamma):
        raise ValueError(f'gamma must be a number >= 0, got {gamma!r}')
    if not gamma >= 0:
        raise ValueError(f'gamma must be >= 0, got {gamma!r}')
    if alpha is not None and not _is_number(alpha):
        raise ValueError(
            f'alpha must be a number in [0, 1] or None, got {alpha!r}; a per-class alpha vector '
            '(as the Keras multi-label focal loss takes) is `alpha=None, class_weight=[...]`, '
            'which weights both terms of class c')
    if alpha is not None and not 0 <= alpha <= 1:
        raise ValueError(f'alpha must be a number in [0, 1] or None, got {alpha!r}')


def sigmoid_focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
                       alpha: Optional[float] = 0.25,
                       class_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Element-wise sigmoid focal loss of (N, C) logits.

    Args:
        logits (torch.Tensor): (N, C) logits.
        target (torch.Tensor): (N, C) targets in [0, 1].
        gamma (float): Focusing parameter, >= 0. Defaults to 2.
        alpha (float, optional): Weight of positives (1 - alpha for
            negatives), or None for no such weighting. Defaults to 0.25.
        class_weight (torch.Tensor, optional): (C,) weight of each class.

    Returns:
        torch.Tensor: (N, C) float32 loss (float64 for float64 logits).

    Examples:
        >>> logits, target = torch.tensor([[0.0]]), torch.tensor([[1.0]])
        >>> sigmoid_focal_loss(logits, target, gamma=2, alpha=None)  # 0.5^2 * log 2
        tensor([[0.1733]])
    """
    check_focal_args(gamma, alpha)
    alpha_pos, alpha_neg = (1.0, 1.0) if alpha is None else (alpha, 1.0 - alpha)
    # focal loss is the fused ASL kernel with clip 0, eps 0, one gamma, weight gradient kept
    loss = fused_focal_terms(logits, target, gamma, gamma, 0.0, 0.0, False, alpha_pos, alpha_neg)
    if class_weight is not None:
        if class_weight.shape != (logits.shape[1], ):
            raise ValueError(f'class_weight has {tuple(class_weight.shape)} entries, '
                             f'the logits {logits.shape[1]} classes')
        loss = loss * class_weight.to(device=loss.device, dtype=loss.dtype)
    return loss
