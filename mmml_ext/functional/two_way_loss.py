"""Two-way multi-label loss (Kobayashi, "Two-way Multi-Label Loss", CVPR 2023), pure functions.

The loss compares positive with negative logits instead of scoring each cell on its own, in
two ways: within each sample (over its classes) and within each class (over the batch's
samples). For a set S of cells with positives P and negatives N (a row of the batch for
the sample-wise term, a column for the class-wise term):

    l(S) = softplus( Tn log sum_{n in N} exp(x_n / Tn) + Tp log sum_{p in P} exp(-x_p / Tp) )

a smooth form of ``log(1 + sum_{p, n} exp(x_n - x_p))``: as the temperatures go to 0 it
becomes ``softplus(max_n x_n - min_p x_p)``, the margin between the hardest negative and the
hardest positive. The loss of a batch of logits x (N, C) and binary targets y:

    L = mean over rows with a positive of l(row) + mean over columns with a positive of l(column)

Edge cases, as in the paper's code: a row or column without a positive is left out of its
mean (it has nothing to rank); a set without a negative has ``l = softplus(-inf) = 0``; a
batch without any positive has loss 0 (and a zero gradient). Unknown cells (target -1) are
in neither P nor N. Defaults of the paper: Tp = 4, Tn = 1.

The class-wise term depends on the whole batch; :func:`gather_batch` gives every process of
a distributed run the global batch, with the gradient flowing to its own rows.
"""
from typing import Optional, Tuple

import torch
import torch.distributed as dist
import torch.nn.functional as F

from .bce_loss import loss_dtype


def check_temperatures(pos_temperature: float, neg_temperature: float) -> None:
    """ValueError unless both temperatures are positive numbers."""
    for name, value in (('pos_temperature', pos_temperature),
                        ('neg_temperature', neg_temperature)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f'{name} must be a number > 0, got {value!r}')


def _mean_set_loss(x: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, dim: int,
                   tp: float, tn: float) -> torch.Tensor:
    """The mean of l(S) over the rows (``dim=1``) or columns (``dim=0``) with a positive; 0
    when none has one. No branch on a value (one graph under ``torch.compile``)."""
    lowest = torch.finfo(x.dtype).min  # an absent cell: exp(lowest - max) is 0
    neg = torch.logsumexp((x / tn).masked_fill(~negative, lowest), dim)
    pos = torch.logsumexp((-x / tp).masked_fill(~positive, lowest), dim)
    # a set without a negative: -inf, softplus 0 (a finite stand-in would leak into the sum)
    neg = torch.where(negative.any(dim), tn * neg, torch.full_like(neg, float('-inf')))
    has_positive = positive.any(dim)
    losses = F.softplus(neg + tp * pos).masked_fill(~has_positive, 0.0)
    return losses.sum() / has_positive.sum().clamp(min=1)


def two_way_loss(logits: torch.Tensor, target: torch.Tensor,
                 unknown: Optional[torch.Tensor] = None, pos_temperature: float = 4.0,
                 neg_temperature: float = 1.0) -> torch.Tensor:
    """The two-way loss of a batch: the mean sample-wise plus the mean class-wise term.

    Args:
        logits (torch.Tensor): (N, C) logits.
        target (torch.Tensor): (N, C) binary targets (1 positive, 0 negative).
        unknown (torch.Tensor, optional): (N, C) bool, True at unknown cells (neither
            positive nor negative, whatever their target).
        pos_temperature (float): Tp. Defaults to 4.
        neg_temperature (float): Tn. Defaults to 1.

    Returns:
        torch.Tensor: The scalar loss, float32 (float64 for float64 logits).

    Examples:
        >>> x, y = torch.tensor([[2.0, -1.0]]), torch.tensor([[1.0, 0.0]])
        >>> two_way_loss(x, y, pos_temperature=1.0)  # softplus(-1 - 2) + 0
        tensor(0.0486)
    """
    dtype = loss_dtype(logits)
    with torch.autocast(device_type=logits.device.type, enabled=False):
        x = logits.to(dtype)
        positive = target > 0.5
        negative = ~positive
        if unknown is not None:
            positive, negative = positive & ~unknown, negative & ~unknown
        sample_wise = _mean_set_loss(x, positive, negative, 1, pos_temperature, neg_temperature)
        class_wise = _mean_set_loss(x, positive, negative, 0, pos_temperature, neg_temperature)
        return sample_wise + class_wise


def gather_batch(logits: torch.Tensor, target: torch.Tensor,
                 unknown: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor,
                                                           Optional[torch.Tensor], int]:
    """The global batch of a distributed run, on every process.

    Every process's rows, in rank order (batches of different sizes allowed); the
    process's own rows are its ``logits`` themselves, so the gradient reaches them, the
    other rows carry none.

    Returns:
        tuple: (logits, target, unknown, world size); the inputs and 1 when not
        distributed.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return logits, target, unknown, 1
    world, rank = dist.get_world_size(), dist.get_rank()
    size = torch.tensor([logits.shape[0]], device=logits.device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    sizes = [int(s) for s in sizes]
    code = target.to(logits.dtype)  # targets and the unknown mask in one tensor: -1 unknown
    if unknown is not None:
        code = code.masked_fill(unknown, -1.0)
    local = torch.stack([logits.detach(), code])  # (2, N, C)
    padded = F.pad(local, (0, 0, 0, max(sizes) - logits.shape[0]))
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded.contiguous())
    parts = [part[:, :n] for part, n in zip(parts, sizes)]
    all_logits = torch.cat([logits if r == rank else part[0] for r, part in enumerate(parts)])
    all_code = torch.cat([part[1] for part in parts])
    all_unknown = all_code < 0  # another process's batch may have unknown cells
    return all_logits, all_code.clamp(min=0), all_unknown, world
