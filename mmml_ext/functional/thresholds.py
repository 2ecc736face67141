"""Thresholds that maximise F1: one global threshold, or one per class.

A label is predicted when ``score >= thr``. Every distinct score of a class is a
candidate threshold; F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (predicted + P) is
evaluated at all of them at once from one ranking, and the highest threshold
reaching the best F1 is kept (the fewest predictions for that F1).

Tuned on the data they are then measured on, thresholds give optimistic
numbers: tune on the validation set, apply to the test set.
"""
from typing import Optional, Tuple

import numpy as np
import torch

from .checks import check_scores_target, has_ignored
from .tie_groups import classes_per_chunk, tie_groups

#: Cells of the block of rows sorted at once for the global threshold (16 MB of float32).
_BLOCK_CELLS = 1 << 22


def _rows_best_threshold(scores: torch.Tensor, target: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Best-F1 threshold and F1 of each row; NaN threshold for a row with no positive."""
    groups = tie_groups(scores, target)
    f1 = 2 * groups.tp.double() / (groups.counted + groups.n_pos[groups.rows]).clamp(min=1)
    num_rows = scores.shape[0]
    best = torch.zeros(num_rows, dtype=torch.float64).scatter_reduce_(
        0, groups.rows, f1, 'amax', include_self=False)
    index = torch.arange(len(f1))
    candidates = torch.where(f1 == best[groups.rows], index, torch.full_like(index, len(f1)))
    first = torch.full((num_rows, ), len(f1), dtype=index.dtype).scatter_reduce_(
        0, groups.rows, candidates, 'amin')
    thr = groups.score[first].double()
    thr[groups.n_pos == 0] = float('nan')
    return thr, best


def per_class_best_thresholds(scores: torch.Tensor, target: torch.Tensor,
                              chunk_size: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """The threshold of each class that maximises its F1.

    Args:
        scores (torch.Tensor): (N, C) scores.
        target (torch.Tensor): (N, C) with 1 / 0 / -1 (ignored).
        chunk_size (int, optional): Classes ranked together. Defaults to
            :func:`~mmml_ext.functional.tie_groups.classes_per_chunk`.

    Returns:
        tuple: (C,) float64 thresholds, NaN for a class with no positive (no
        threshold can be tuned for it), and (C,) float64 best F1.

    Examples:
        >>> scores = torch.tensor([[0.9, 0.2], [0.6, 0.8], [0.3, 0.1]])
        >>> target = torch.tensor([[1, 0], [1, 1], [0, 0]])
        >>> per_class_best_thresholds(scores, target)[0].tolist()
        [0.6000000238418579, 0.800000011920929]
    """
    check_scores_target(scores, target)
    if target.dtype == torch.bool:
        target = target.to(torch.int8)
    if chunk_size is None:
        chunk_size = classes_per_chunk(*scores.shape)
    parts = [
        _rows_best_threshold(scores[:, start:start + chunk_size].t(),
                             target[:, start:start + chunk_size].t())
        for start in range(0, scores.shape[1], chunk_size)
    ]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def positive_candidates(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The distinct scores of the positive cells, descending: the candidates for the global threshold.

    The best OF1 is reached at the score of a positive: lowering the threshold
    past a negative only adds a false positive.
    """
    return torch.unique(scores[target == 1]).flip(0)


def counts_at(scores: torch.Tensor, target: torch.Tensor,
              candidates: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """(K,) int64 positives and counted (non-ignored) cells scoring >= each candidate.

    Sums over cells: the counts of several parts of the cells add up to those
    of all, which is how they are computed, a block of rows at a time (a sorted
    copy of a block's scores, never of all cells).
    """
    ignored = has_ignored(target)
    candidates = candidates.cpu()
    n_counted = torch.zeros(len(candidates), dtype=torch.int64)
    step = max(1, _BLOCK_CELLS // max(1, scores.shape[1]))
    for start in range(0, scores.shape[0], step):
        block = scores[start:start + step]
        cells = block[target[start:start + step] >= 0] if ignored else block.flatten()
        cells = np.sort(cells.cpu().numpy())  # a copy of the block, no index array
        n_counted += len(cells) - torch.from_numpy(np.searchsorted(
            cells, candidates.numpy().astype(cells.dtype, copy=False), side='left'))
    positives = torch.sort(scores[target == 1].cpu()).values
    n_tp = len(positives) - torch.searchsorted(positives, candidates.to(positives.dtype),
                                               side='left')
    return n_tp.to(torch.int64), n_counted


def pick_global_threshold(candidates: torch.Tensor, tp: torch.Tensor,
                          counted: torch.Tensor) -> Tuple[float, float]:
    """The highest candidate reaching the best OF1 = 2 TP / (predicted + P); (NaN, 0) with none.

    P, all positives, is TP at the lowest candidate (the lowest positive score).
    """
    if len(candidates) == 0:
        return float('nan'), 0.0
    n_pos = tp[-1]
    f1 = 2 * tp.double() / (counted + n_pos).clamp(min=1)
    best = f1.max()
    first = int(torch.nonzero(f1 == best)[0, 0])  # candidates descend: the highest threshold
    return float(candidates[first].double()), float(best)


def global_best_threshold(scores: torch.Tensor, target: torch.Tensor,
                          validate_args: bool = True) -> Tuple[float, float]:
    """The single threshold for all classes that maximises the overall F1 (OF1).

    Every distinct score of a positive cell is a candidate; at each, TP and the
    number of predicted cells come from two sorted copies of the counted cells
    (:func:`counts_at`), which is also how processes that each hold part of the
    cells find the same threshold (their counts add up).

    Args:
        scores (torch.Tensor): (N, C) scores.
        target (torch.Tensor): (N, C) with 1 / 0 / -1 (ignored).
        validate_args (bool): Check the arguments first. Defaults to True.

    Returns:
        tuple: (threshold, OF1 at it); the threshold is NaN when there is no
        positive at all.

    Raises:
        ValueError: Every label is ignored.

    Examples:
        >>> scores = torch.tensor([[0.9, 0.2], [0.6, 0.8], [0.3, 0.1]])
        >>> target = torch.tensor([[1, 0], [1, 1], [0, 0]])
        >>> global_best_threshold(scores, target)  # 3 of 3 positives with no false alarm
        (0.6000000238418579, 1.0)
    """
    if validate_args:
        check_scores_target(scores, target)
    if not bool(target.max() >= 0):
        raise ValueError('every label is ignored (-1): there is nothing to tune a threshold on')
    candidates = positive_candidates(scores, target)
    tp, counted = counts_at(scores, target, candidates)
    return pick_global_threshold(candidates, tp, counted)
