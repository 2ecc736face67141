"""Calibration of multi-label probabilities: reliability bins, ECE, class-wise ECE, Brier score.

Every non-ignored cell (sample i, class c) of the (N, C) scores is one binary
prediction: a probability p = s_ic and an outcome y = 1 (positive) or 0
(negative). Ignored cells (target -1) take part in nothing.

Binning: M equal-width bins over [0, 1] (``num_bins``, 15 by default), bin
m = [m/M, (m+1)/M) for m < M-1 and the last bin [(M-1)/M, 1] closed at 1, i.e.
the bin of a score p is ``min(floor(p * M), M - 1)``, computed on the exact value
of the score (a float32 0.9 is 0.89999998 and falls in [0.8, 0.9) with 10 bins; a
score of exactly 1.0 falls in the last bin). With B_m the counted cells in bin m,
n_m = |B_m| and n = sum_m n_m::

    confidence_m = (1/n_m) sum_{B_m} p            (NaN for an empty bin)
    accuracy_m   = (1/n_m) sum_{B_m} y            (NaN for an empty bin)
    ECE          = sum_m (n_m / n) |accuracy_m - confidence_m|
                 = (1/n) sum_m |sum_{B_m} (y - p)|
    classwise_ECE = mean over the classes c with a positive of ECE_c,
                   ECE_c the ECE of class c's own counted cells
    brier        = (1/n) sum over counted cells of (p - y)^2

All values are fractions in [0, 1]; lower is better. Edge cases: no counted
cell at all raises ValueError; if no class has a positive, ``classwise_ECE`` is
NaN (a class without a positive is left out of the class mean, the rule of every
class mean of the plugin).

Bootstrap weights: with ``weights`` (B, N), replicate b counts sample i w_bi
times (w_bi >= 0, not necessarily integer), and ECE and Brier are exactly those
of the data with each sample repeated w_bi times. With per-sample sums over
sample i's counted cells

    D_im = sum_{c: (i, c) in B_m} (y_ic - p_ic),   n_i = #counted cells,
    S_i  = sum_c (p_ic - y_ic)^2

(one pass over the data), all replicates come from matrix products (float64, W
taken in blocks of replicates):

    ECE_b   = sum_m |(W D)_bm| / (W n)_b,   brier_b = (W S)_b / (W n)_b

A replicate with no counted cell gives NaN. ``classwise_ECE`` is not computed
with weights (it would need per-sample, per-class, per-bin sums): the weighted
result has only ``ECE`` and ``brier``.

The cells are visited in blocks of rows, so working memory stays a few tens of
MB whatever N and C.
"""
from typing import Dict, Iterator, Optional, Tuple, Union

import torch

from .bootstrap import check_counts, replicate_sums
from .checks import check_int, check_probabilities, check_target

#: Cells (rows x classes) processed at once: bounds the float64 working memory.
_BLOCK_CELLS = 1 << 21


def check_num_bins(num_bins) -> None:
    """``num_bins`` must be an int >= 1."""
    check_int(num_bins, 'num_bins')


def _check(scores: torch.Tensor, target: torch.Tensor, num_bins) -> None:
    check_probabilities(scores, 'scores')
    check_target(target, scores.shape)
    check_num_bins(num_bins)


def rows_per_block(num_classes: int) -> int:
    """Rows visited at once for ``num_classes`` classes (a few tens of MB of float64)."""
    return max(1, _BLOCK_CELLS // max(1, num_classes))


def _blocks(scores: torch.Tensor, target: torch.Tensor, num_bins: int,
            step: Optional[int] = None
            ) -> Iterator[Tuple[int, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per block of ``step`` rows: (first row, p, y, counted, bin) as (rows, C) tensors.

    ``p`` and ``y`` are float64; ``bin`` is int64, ``num_bins`` (one past the
    last bin) for an ignored cell, so that it can be counted and dropped.
    """
    num_rows, num_classes = scores.shape
    step = rows_per_block(num_classes) if step is None else step
    for start in range(0, num_rows, step):
        p = scores[start:start + step].to(torch.float64)
        t = target[start:start + step]
        counted = t >= 0 if t.dtype != torch.bool else torch.ones_like(t)
        y = (t == 1).to(torch.float64)
        bins = (p * num_bins).floor_().to(torch.int64).clamp_(max=num_bins - 1)
        bins.masked_fill_(~counted, num_bins)
        yield start, p, y, counted, bins


def class_bin_tables(scores: torch.Tensor, target: torch.Tensor, num_bins: int,
                     step: Optional[int] = None) -> Dict[str, torch.Tensor]:
    """Per class and bin: counted cells, sums of p, of y and of (p - y)^2.

    Each class's sums run over its cells in row order, in blocks of ``step``
    rows (default :func:`rows_per_block` of the classes given): the tables of a
    slice of the classes equal the rows of those of all classes when the
    slice is visited with the same ``step``, which is what a process that owns
    a slice of the classes does.

    Returns:
        dict: (C, M) tensors ``count`` (int64), ``sum_p``, ``sum_y``,
        ``sum_sq`` (float64).
    """
    num_classes = scores.shape[1]
    width = num_bins + 1  # the last column collects the ignored cells
    size = num_classes * width
    device = scores.device
    offsets = torch.arange(num_classes, device=device) * width
    tables = dict(count=torch.zeros(size, dtype=torch.int64, device=device))
    for name in ('sum_p', 'sum_y', 'sum_sq'):
        tables[name] = torch.zeros(size, dtype=torch.float64, device=device)
    for _, p, y, _, bins in _blocks(scores, target, num_bins, step):
        key = (bins + offsets).flatten()
        tables['count'] += torch.bincount(key, minlength=size)
        tables['sum_p'] += torch.bincount(key, weights=p.flatten(), minlength=size)
        tables['sum_y'] += torch.bincount(key, weights=y.flatten(), minlength=size)
        tables['sum_sq'] += torch.bincount(key, weights=(p - y).square_().flatten(),
                                           minlength=size)
    # contiguous: sums over the tables then run in one order, whoever computed them
    return {name: table.view(num_classes, width)[:, :num_bins].contiguous()
            for name, table in tables.items()}


def _sample_bin_sums(scores: torch.Tensor, target: torch.Tensor, num_bins: int):
    """Per sample: D (N, M) sums of (y - p) per bin, n (N,) counted cells, S (N,) sums of (p - y)^2."""
    num_rows = scores.shape[0]
    width = num_bins + 1
    device = scores.device
    diff_sums = torch.empty((num_rows, num_bins), dtype=torch.float64, device=device)
    cells = torch.empty(num_rows, dtype=torch.float64, device=device)
    squared = torch.empty(num_rows, dtype=torch.float64, device=device)
    for start, p, y, counted, bins in _blocks(scores, target, num_bins):
        rows = len(p)
        diff = (y - p).masked_fill_(~counted, 0.0)
        key = (bins + torch.arange(rows, device=device)[:, None] * width).flatten()
        sums = torch.bincount(key, weights=diff.flatten(), minlength=rows * width)
        diff_sums[start:start + rows] = sums.view(rows, width)[:, :num_bins]
        cells[start:start + rows] = counted.sum(dim=1)
        squared[start:start + rows] = diff.square_().sum(dim=1)
    return diff_sums, cells, squared


def reliability_bins(scores: torch.Tensor, target: torch.Tensor, num_bins: int = 15,
                     validate_args: bool = True) -> Dict[str, torch.Tensor]:
    """The reliability diagram of all counted cells: count, mean score, fraction positive per bin.

    Args:
        scores (torch.Tensor): (N, C) probabilities in [0, 1].
        target (torch.Tensor): (N, C) with 1 / 0 / -1 (ignored).
        num_bins (int): M, equal-width bins over [0, 1], the last closed at 1.
            Defaults to 15.
        validate_args (bool): Check the arguments first. Defaults to True.

    Returns:
        dict: (M,) tensors ``count`` (int64, counted cells per bin),
        ``confidence`` (float64, mean score of the bin) and ``accuracy``
        (float64, fraction of positives of the bin); ``confidence`` and
        ``accuracy`` are NaN for an empty bin (all of them when no cell is
        counted).

    Examples:
        >>> scores = torch.tensor([[0.9, 0.3, 1.0], [0.6, 0.1, 0.35]])
        >>> target = torch.tensor([[1, 0, 1], [0, -1, 1]])
        >>> bins = reliability_bins(scores, target, num_bins=4)
        >>> bins['count']
        tensor([0, 2, 1, 2])
        >>> bins['accuracy']
        tensor([   nan, 0.5000, 0.0000, 1.0000], dtype=torch.float64)
    """
    if validate_args:
        _check(scores, target, num_bins)
    tables = class_bin_tables(scores, target, num_bins)
    count, sum_p, sum_y = (tables[name].sum(dim=0) for name in ('count', 'sum_p', 'sum_y'))
    nan = torch.full_like(sum_p, float('nan'))
    filled = count > 0
    return dict(count=count,
                confidence=torch.where(filled, sum_p / count.clamp(min=1), nan),
                accuracy=torch.where(filled, sum_y / count.clamp(min=1), nan))


def calibration_errors(scores: torch.Tensor, target: torch.Tensor, num_bins: int = 15,
                       weights: Optional[torch.Tensor] = None, validate_args: bool = True
                       ) -> Dict[str, Union[float, torch.Tensor]]:
    """ECE, class-wise ECE and Brier score of multi-label probabilities (fractions, lower is better).

    Args:
        scores (torch.Tensor): (N, C) probabilities in [0, 1].
        target (torch.Tensor): (N, C) with 1 / 0 / -1 (ignored).
        num_bins (int): M, equal-width bins over [0, 1], the last closed at 1.
            Defaults to 15.
        weights (torch.Tensor, optional): (B, N) non-negative sample weights,
            one row per bootstrap replicate (replicate b counts sample i
            ``weights[b, i]`` times). Defaults to None (each sample once).
        validate_args (bool): Check the arguments first. Defaults to True.

    Returns:
        dict: Without ``weights``: ``ECE``, ``classwise_ECE`` and ``brier`` as
        floats (``classwise_ECE`` NaN when no class has a positive). With
        ``weights``: ``ECE`` and ``brier`` only, as (B,) float64 tensors, NaN
        for a replicate with no counted cell.

    Raises:
        ValueError: Bad arguments, or no cell that is not ignored.

    Examples:
        >>> scores = torch.tensor([[0.9, 0.3, 1.0], [0.6, 0.1, 0.35]])
        >>> target = torch.tensor([[1, 0, 1], [0, -1, 1]])
        >>> values = calibration_errors(scores, target, num_bins=4)
        >>> {k: round(v, 4) for k, v in values.items()}
        {'ECE': 0.21, 'classwise_ECE': 0.3375, 'brier': 0.1765}
        >>> weights = torch.tensor([[1, 1], [0, 2], [0, 0]])  # as is, sample 1 twice, nothing
        >>> calibration_errors(scores, target, num_bins=4, weights=weights)['ECE']
        tensor([0.2100, 0.6250,    nan], dtype=torch.float64)
    """
    if validate_args:
        _check(scores, target, num_bins)
        if weights is not None:
            check_counts(weights, scores.shape[0], name='weights')
    if weights is not None:
        return _weighted_errors(scores, target, num_bins, weights)
    return errors_from_tables(class_bin_tables(scores, target, num_bins))


def errors_from_tables(tables: Dict[str, torch.Tensor]) -> Dict[str, float]:
    """ECE, class-wise ECE and Brier score from the (C, M) :func:`class_bin_tables` of all classes."""
    count, sum_p, sum_y = tables['count'], tables['sum_p'], tables['sum_y']
    cells = count.sum(dim=1)  # (C,)
    total = int(cells.sum())
    if total == 0:
        raise ValueError('every cell of the target is ignored (-1): there is no prediction to '
                         'calibrate')
    gap = (sum_y - sum_p).abs()  # (C, M): |sum over the class's cells in bin m of (y - p)|
    ece = (sum_y.sum(dim=0) - sum_p.sum(dim=0)).abs().sum() / total
    present = sum_y.sum(dim=1) > 0
    class_ece = gap.sum(dim=1)[present] / cells[present]
    classwise = float(class_ece.mean()) if bool(present.any()) else float('nan')
    return dict(ECE=float(ece), classwise_ECE=classwise, brier=float(tables['sum_sq'].sum() / total))


def _weighted_errors(scores: torch.Tensor, target: torch.Tensor, num_bins: int,
                     weights: torch.Tensor) -> Dict[str, torch.Tensor]:
    diff_sums, cells, squared = _sample_bin_sums(scores, target, num_bins)
    if not bool(cells.sum() > 0):
        raise ValueError('every cell of the target is ignored (-1): there is no prediction to '
                         'calibrate')
    # per-sample sums side by side: one product per block of replicates (float64)
    sums = torch.cat([diff_sums, cells[:, None], squared[:, None]], dim=1)  # (N, M + 2)
    totals = replicate_sums(weights, sums)
    counted = totals[:, num_bins]  # (B,); 0 gives NaN below
    ece = totals[:, :num_bins].abs().sum(dim=1) / counted
    brier = totals[:, num_bins + 1] / counted
    return dict(ECE=ece, brier=brier)
