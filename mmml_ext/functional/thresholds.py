"""Thresholds that maximise F1: one global threshold, or one per class.

A label is predicted when ``score >= thr``. Every distinct score of a class is a
candidate threshold; F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (predicted + P) is
evaluated at all of them at once from one ranking, and the highest threshold
reaching the best F1 is kept (the fewest predictions for that F1).

Tuned on the data they are then measured on, thresholds give optimistic
numbers: tune on the validation set, apply to the test set.
"""
from typing import Optional, Tuple

import torch

from .checks import check_scores_target
from .tie_groups import classes_per_chunk, tie_groups


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


def global_best_threshold(scores: torch.Tensor, target: torch.Tensor) -> Tuple[float, float]:
    """The single threshold for all classes that maximises the overall F1 (OF1).

    Returns:
        tuple: (threshold, OF1 at it); the threshold is NaN when there is no
        positive at all.

    Raises:
        ValueError: Every label is ignored.
    """
    check_scores_target(scores, target)
    valid = target >= 0
    if not bool(valid.any()):
        raise ValueError('every label is ignored (-1): there is nothing to tune a threshold on')
    flat_scores = scores[valid].unsqueeze(0)
    flat_target = target[valid].to(torch.int8).unsqueeze(0)
    thr, f1 = _rows_best_threshold(flat_scores, flat_target)
    return float(thr[0]), float(f1[0])
