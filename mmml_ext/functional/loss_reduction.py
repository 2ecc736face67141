"""Weighting and reduction shared by the multi-label losses (docs/losses.md).

``reduction='mean'`` is the sum over classes averaged over samples: the sum of
the element-wise loss divided by ``avg_factor`` (mmpretrain's heads pass the
batch size), or by the number of samples when no ``avg_factor`` is given.
``'sum'`` is the plain sum (the official ASL reduction), ``'none'`` keeps (N, C).
"""
from typing import Optional

import torch

REDUCTIONS = ('none', 'mean', 'sum')


def check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f'reduction must be one of {REDUCTIONS}, got {reduction!r}')


def weight_and_reduce(loss: torch.Tensor, weight: Optional[torch.Tensor] = None,
                      reduction: str = 'mean', avg_factor: Optional[float] = None) -> torch.Tensor:
    """Apply an optional weight to an (N, C) element-wise loss, then reduce it.

    Args:
        loss (torch.Tensor): (N, C) element-wise loss.
        weight (torch.Tensor, optional): Per sample (N,), as mmpretrain's
            losses take it, or per element (N, C). Per-class weights are the
            losses' ``class_weight``.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``.
        avg_factor (float, optional): Divisor of the sum for ``'mean'``.
            Defaults to N.

    Returns:
        torch.Tensor: The reduced loss (float32 unless ``loss`` is float64).
    """
    check_reduction(reduction)
    if weight is not None:
        if weight.dim() == 1 and weight.shape[0] == loss.shape[0]:
            weight = weight[:, None]
        elif weight.shape != loss.shape:
            raise ValueError(f'weight must have shape (N,) = ({loss.shape[0]},) or (N, C) = '
                             f'{tuple(loss.shape)}, got {tuple(weight.shape)}')
        loss = loss * weight.to(loss.dtype)
    if reduction == 'none':
        return loss
    total = loss.sum()
    if reduction == 'sum':
        return total
    divisor = loss.shape[0] if avg_factor is None else avg_factor
    return total / max(float(divisor), torch.finfo(torch.float32).eps)
