"""Sigmoid binary cross-entropy with the three readings of an unknown (-1) cell.

Element-wise, from logits x with p = sigmoid(x) and target y in [0, 1]:

    L = -( y log p + (1 - y) log(1 - p) )
      = softplus(x) - y x            (computed so, in float32, finite at +-1e4)

An unknown cell (target -1, "not annotated") is read by ``unknown``:

- ``'ignore'``: no loss and no gradient (the cell is not there);
- ``'negative'``: a negative, y = 0 ("assume negative", AN; Cole et al. 2021);
- ``'weak'``: a negative whose loss is multiplied by ``weak_weight``, by
  default 1 / (C - 1) ("weak assume negative", WAN; Cole et al. 2021, where
  with one observed positive among C classes the C - 1 weak negatives then
  weigh as much as the positive).
"""
from typing import Optional

import torch
import torch.nn.functional as F

UNKNOWN_RULES = ('ignore', 'negative', 'weak')


def loss_dtype(logits: torch.Tensor) -> torch.dtype:
    """float64 for float64 logits, else float32 (the losses never compute in fp16 / bf16)."""
    return torch.float64 if logits.dtype == torch.float64 else torch.float32


def check_unknown_rule(unknown: str, weak_weight: Optional[float] = None,
                       rules=UNKNOWN_RULES) -> None:
    """ValueError unless ``unknown`` is one of ``rules`` and ``weak_weight`` fits it."""
    if unknown not in rules:
        raise ValueError(f'unknown must be one of {rules}, got {unknown!r}')
    if weak_weight is not None:
        if unknown != 'weak':
            raise ValueError(f"weak_weight applies to unknown='weak' only, got unknown={unknown!r}")
        if isinstance(weak_weight, bool) or not isinstance(weak_weight, (int, float)) \
                or not 0 < weak_weight <= 1:
            raise ValueError(f'weak_weight must be a number in (0, 1], got {weak_weight!r}')


def binary_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(N, C) element-wise sigmoid BCE of logits and targets in [0, 1], in float32.

    Examples:
        >>> binary_cross_entropy(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
        tensor([[0.6931, 2.1269]])
    """
    dtype = loss_dtype(logits)
    with torch.autocast(device_type=logits.device.type, enabled=False):
        return F.binary_cross_entropy_with_logits(logits.to(dtype), target.to(dtype),
                                                  reduction='none')


def weigh_unknown(loss: torch.Tensor, unknown_mask: Optional[torch.Tensor], unknown: str,
                  weak_weight: Optional[float] = None) -> torch.Tensor:
    """Apply an unknown-cell rule to an (N, C) loss computed with the unknown cells as negatives.

    Args:
        loss (torch.Tensor): (N, C) element-wise loss, unknown cells read as y = 0.
        unknown_mask (torch.Tensor, optional): (N, C) bool, True at unknown cells.
        unknown (str): ``'ignore'``, ``'negative'`` or ``'weak'``.
        weak_weight (float, optional): Weight of an unknown cell for ``'weak'``;
            defaults to 1 / (C - 1) (1 when C = 1).

    Returns:
        torch.Tensor: The (N, C) loss under the rule.
    """
    if unknown_mask is None or unknown == 'negative':
        return loss
    if unknown == 'ignore':
        return loss.masked_fill(unknown_mask, 0.0)
    if weak_weight is None:
        weak_weight = 1.0 / max(loss.shape[1] - 1, 1)
    return torch.where(unknown_mask, loss * weak_weight, loss)
