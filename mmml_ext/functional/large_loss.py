"""Large loss modification for unobserved labels (Kim et al., CVPR 2022, "Large Loss Matters").

Training with unobserved labels read as negatives ("assume negative") first
fits the clean labels, then memorises the false negatives, whose losses are
the large ones. So, per batch, among the unobserved cells, those with the
largest loss are modified. With logits x, the assume-negative loss of an
unobserved cell is l = -log(1 - sigmoid(x)) (BCE against 0), and with
k = ceil(rate * N * C) for a batch of N images and C classes:

    S = the unobserved cells whose l is at least the k-th largest l among the
        unobserved cells (the choice has no gradient)

- ``'reject'`` (LL-R): a cell of S gets no loss;
- ``'correct'`` (LL-Ct): a cell of S gets the positive loss -log sigmoid(x),
  for this step;
- ``'correct_permanent'`` (LL-Cp): as LL-Ct, and the cell stays a positive
  for the rest of training (kept by :class:`LargeLossRejection`).

Observed cells (positives and verified negatives) keep their BCE. The rate
grows with the epoch t (counted from 0): rate = t * delta_rel / 100 for
LL-R and LL-Ct, so the first epoch is plain assume-negative; LL-Cp modifies
a fixed delta_rel / 100 from the second epoch on. ``delta_rel`` is in percent
of the batch's cells, as in the paper; its defaults here are the paper's
COCO settings (LL-R 0.4, LL-Ct 0.2, LL-Cp 0.2).
"""
import math
from typing import Tuple

import torch
import torch.nn.functional as F

from .bce_loss import binary_cross_entropy

LARGE_LOSS_MODES = ('reject', 'correct', 'correct_permanent')
#: delta_rel in percent: the paper's settings for COCO
DEFAULT_DELTA_REL = {'reject': 0.4, 'correct': 0.2, 'correct_permanent': 0.2}


def check_large_loss_args(mode: str, delta_rel: float) -> None:
    """ValueError unless ``mode`` is a known mode and ``delta_rel`` a percentage in (0, 100]."""
    if mode not in LARGE_LOSS_MODES:
        raise ValueError(f'mode must be one of {LARGE_LOSS_MODES}, got {mode!r}')
    if isinstance(delta_rel, bool) or not isinstance(delta_rel, (int, float)) \
            or not 0 < delta_rel <= 100:
        raise ValueError(f'delta_rel must be a percentage in (0, 100] (the paper\'s COCO '
                         f'settings are 0.2 to 0.4), got {delta_rel!r}')


def modification_rate(mode: str, epoch: int, delta_rel: float) -> float:
    """The fraction of a batch's cells modified in ``epoch`` (counted from 0).

    Examples:
        >>> modification_rate('reject', 0, 0.4), modification_rate('reject', 3, 0.4)
        (0.0, 0.012)
        >>> modification_rate('correct_permanent', 3, 0.2)
        0.002
    """
    check_large_loss_args(mode, delta_rel)
    if epoch < 1:
        return 0.0
    if mode == 'correct_permanent':
        return delta_rel / 100
    return min(round(epoch * delta_rel, 9) / 100, 1.0)


def large_loss_selection(loss: torch.Tensor, unobserved: torch.Tensor,
                         rate: float) -> torch.Tensor:
    """(N, C) bool: the unobserved cells among the ceil(rate * N * C) largest losses.

    Cells tied with the k-th largest loss are all chosen; observed cells never
    are. The choice has no gradient.

    Args:
        loss (torch.Tensor): (N, C) assume-negative loss of every cell.
        unobserved (torch.Tensor): (N, C) bool, True at unobserved cells.
        rate (float): Fraction of the batch's N * C cells to choose.
    """
    if loss.shape != unobserved.shape:
        raise ValueError(f'loss {tuple(loss.shape)} and unobserved {tuple(unobserved.shape)} '
                         'must have the same shape')
    k = min(math.ceil(round(rate * loss.numel(), 9)), int(unobserved.sum()))
    if k <= 0:
        return torch.zeros_like(unobserved)
    values = loss.detach().masked_fill(~unobserved, -math.inf)
    kth = values.flatten().topk(k, sorted=False).values.min()
    return unobserved & (values >= kth)


def large_loss(logits: torch.Tensor, target: torch.Tensor, unobserved: torch.Tensor, mode: str,
               rate: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """(N, C) element-wise large-loss-modified BCE, and the (N, C) cells modified.

    Args:
        logits (torch.Tensor): (N, C) logits.
        target (torch.Tensor): (N, C) targets in [0, 1], unobserved cells 0.
        unobserved (torch.Tensor): (N, C) bool, True at unobserved cells.
        mode (str): ``'reject'``, ``'correct'`` or ``'correct_permanent'``
            (the step's loss of the last two is the same).
        rate (float): Fraction of the batch's cells to modify
            (:func:`modification_rate`).

    Examples:
        >>> x = torch.tensor([[3.0, 0.0, -2.0, 1.0]])
        >>> y = torch.zeros(1, 4)
        >>> unobserved = torch.tensor([[True, True, True, False]])
        >>> loss, chosen = large_loss(x, y, unobserved, 'reject', rate=0.25)
        >>> chosen  # the largest unobserved loss: the cell at logit 3
        tensor([[ True, False, False, False]])
        >>> loss
        tensor([[0.0000, 0.6931, 0.1269, 1.3133]])
    """
    if mode not in LARGE_LOSS_MODES:
        raise ValueError(f'mode must be one of {LARGE_LOSS_MODES}, got {mode!r}')
    bce = binary_cross_entropy(logits, target)
    chosen = large_loss_selection(bce, unobserved, rate)
    if not bool(chosen.any()):
        return bce, chosen
    if mode == 'reject':
        return bce.masked_fill(chosen, 0.0), chosen
    with torch.autocast(device_type=logits.device.type, enabled=False):
        as_positive = F.softplus(-logits.to(bce.dtype))
    return torch.where(chosen, as_positive, bce), chosen
