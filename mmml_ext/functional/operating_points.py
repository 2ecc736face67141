"""Precision at a fixed recall, recall at a fixed precision, and the threshold that gives it.

A class's operating points are its thresholds t (each distinct score of its
non-ignored samples), predicting ``score >= t``: precision P(t) = TP / (TP + FP)
and recall R(t) = TP / (TP + FN). With torchmetrics'
``MultilabelPrecisionAtFixedRecall`` / ``MultilabelRecallAtFixedPrecision``
meaning:

- precision at recall r: the largest P(t) over the points with R(t) >= r;
  among equal precisions the larger recall, then the larger threshold;
- recall at precision p: the largest R(t) over the points with P(t) >= p;
  among equal recalls the larger precision, then the larger threshold.

Only the points that end a tie group holding a positive can be chosen (between
two of them recall stays and precision falls), so the bootstrap's ranking of
positive groups (:mod:`~mmml_ext.functional.bootstrap`) gives the replicates.

Edge cases: a class with no positive has neither (NaN, threshold NaN; torchmetrics
gives 0 and 1e6); when no point reaches the precision p, the recall is 0 and the
threshold NaN (no threshold reaches it; torchmetrics: 1e6).
"""
from typing import Tuple

import torch

from .checks import check_scores_target
from .tie_groups import by_class_chunks, previous_in_row, tie_groups

#: the two statistics, and which of (precision, recall) each constrains
STATISTICS = ('precision_at_recall', 'recall_at_precision')


def check_level(value, name: str) -> float:
    """A fixed recall or precision must be a number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f'{name} must be a number in [0, 1], got {value!r}')
    return float(value)


def check_statistic(statistic: str, level) -> float:
    """The statistic must be one of :data:`STATISTICS`, its fixed recall (or precision) a number
    in [0, 1]; returns the level as a float."""
    if statistic not in STATISTICS:
        raise ValueError(f'statistic must be one of {STATISTICS}, got {statistic!r}')
    return check_level(level, 'the fixed recall' if statistic == 'precision_at_recall' else
                       'the fixed precision')


def best_points(precision: torch.Tensor, recall: torch.Tensor, threshold: torch.Tensor,
                owner: torch.Tensor, num_owners: int, statistic: str, level: float
                ) -> Tuple[torch.Tensor, torch.Tensor]:
    """The chosen point of each owner (class, or class and replicate) among candidate points.

    The one selection rule of both statistics, for the point estimate and the
    replicates: the owner's candidates that meet the level, maximised in the
    order of the module docstring.

    Args:
        precision, recall, threshold (torch.Tensor): (K,) float64 candidates.
        owner (torch.Tensor): (K,) int64 owner of each candidate, in [0, num_owners).
        num_owners (int): Owners.
        statistic (str): One of :data:`STATISTICS`.
        level (float): The fixed recall (or precision).

    Returns:
        tuple: (num_owners,) value and threshold; value 0 and threshold NaN for
        an owner whose candidates all miss the level (and for one without a
        candidate: the caller marks those NaN).
    """
    value, other = (precision, recall) if statistic == 'precision_at_recall' else (recall,
                                                                                    precision)
    meets = (other >= level) & ~torch.isnan(value)  # NaN: no sample at or above the point
    nan = float('nan')

    def best(keys: torch.Tensor, among: torch.Tensor) -> torch.Tensor:
        filled = torch.where(among, keys, torch.full_like(keys, -1.0))
        top = torch.full((num_owners, ), -1.0, dtype=torch.float64, device=keys.device)
        top.scatter_reduce_(0, owner, filled, 'amax', include_self=True)
        return top

    top_value = best(value, meets)
    among = meets & (value == top_value[owner])
    top_other = best(other, among)
    among &= other == top_other[owner]
    finite = torch.where(torch.isnan(threshold), torch.full_like(threshold, -1.0), threshold)
    top_threshold = torch.full((num_owners, ), -float('inf'), dtype=torch.float64,
                               device=value.device)
    top_threshold.scatter_reduce_(0, owner, torch.where(among, finite, torch.full_like(
        finite, -float('inf'))), 'amax', include_self=True)
    reached = top_value >= 0
    return (torch.where(reached, top_value, torch.zeros_like(top_value)),
            torch.where(reached, top_threshold, torch.full_like(top_threshold, nan)))


def _rows_operating_point(scores: torch.Tensor, target: torch.Tensor, statistic: str,
                          level: float) -> Tuple[torch.Tensor, torch.Tensor]:
    groups = tie_groups(scores, target)
    tp = groups.tp.double()
    positive_group = (tp - previous_in_row(tp, groups.rows)) > 0
    rows = groups.rows[positive_group]
    tp = tp[positive_group]
    counted = groups.counted.double()[positive_group]
    n_pos = groups.n_pos.double()
    value, threshold = best_points(tp / counted, tp / n_pos[rows],
                                   groups.score.double()[positive_group], rows,
                                   scores.shape[0], statistic, level)
    none = n_pos == 0
    return (value.masked_fill(none, float('nan')), threshold.masked_fill(none, float('nan')))


def operating_point(scores: torch.Tensor, target: torch.Tensor, statistic: str, level: float,
                    validate_args: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
    """Precision at a fixed recall (or recall at a fixed precision) of every class.

    Args:
        scores (torch.Tensor): (N, C) scores.
        target (torch.Tensor): (N, C) with 1 / 0 / -1 (ignored).
        statistic (str): ``'precision_at_recall'`` or ``'recall_at_precision'``.
        level (float): The fixed recall (or precision), in [0, 1].
        validate_args (bool): Check the arguments first. Defaults to True.

    Returns:
        tuple: (C,) float64 values (fractions) and (C,) float64 thresholds
        (see the module docstring for the edge cases).

    Examples:
        >>> scores = torch.tensor([[0.9], [0.8], [0.7], [0.6], [0.2]])
        >>> target = torch.tensor([[1], [0], [1], [0], [1]])
        >>> operating_point(scores, target, 'precision_at_recall', 0.6)
        (tensor([0.6667], dtype=torch.float64), tensor([0.7000], dtype=torch.float64))
        >>> operating_point(scores, target, 'recall_at_precision', 0.7)
        (tensor([0.3333], dtype=torch.float64), tensor([0.9000], dtype=torch.float64))
    """
    level = check_statistic(statistic, level)
    if validate_args:
        check_scores_target(scores, target)
    return by_class_chunks(lambda s, t: _rows_operating_point(s, t, statistic, level), scores,
                           target)
