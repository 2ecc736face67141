"""Rank each row's samples by score and summarise every group of tied scores.

Average precision and threshold tuning both need, for each distinct score value
of a class (a tie group), the number of positives and of counted samples that
score at least that much. Ranking once and reporting only the ends of the tie
groups makes both exact under ties and independent of sample order.
"""
from typing import NamedTuple

import torch


class TieGroups(NamedTuple):
    """The ends of the tie groups of every row, flattened row after row.

    Attributes:
        rows (torch.Tensor): Row of each group (int64, ascending).
        score (torch.Tensor): The group's score.
        tp (torch.Tensor): Positives scoring >= that score in the row.
        counted (torch.Tensor): Non-ignored samples scoring >= that score.
        n_pos (torch.Tensor): (rows,) positives of each row.
    """
    rows: torch.Tensor
    score: torch.Tensor
    tp: torch.Tensor
    counted: torch.Tensor
    n_pos: torch.Tensor


def tie_groups(scores: torch.Tensor, target: torch.Tensor) -> TieGroups:
    """Tie-group ends of each row of (R, M) ``scores``, ranked from the highest.

    Args:
        scores (torch.Tensor): (R, M) scores, one ranking per row.
        target (torch.Tensor): (R, M) with 1 / 0 / -1; -1 counts as nothing.
    """
    ignored = bool((target < 0).any())
    sorted_scores, order = scores.sort(dim=1, descending=True)
    sorted_target = target.gather(1, order)
    del order
    positive = sorted_target == 1
    tp = positive.cumsum(dim=1, dtype=torch.int32)
    # the last sample of each tie group: where the next score differs
    group_end = torch.ones_like(positive)
    torch.ne(sorted_scores[:, 1:], sorted_scores[:, :-1], out=group_end[:, :-1])
    rows, cols = group_end.nonzero(as_tuple=True)
    if ignored:
        counted = (sorted_target >= 0).cumsum(dim=1, dtype=torch.int32)[rows, cols]
    else:  # every sample counts: the rank itself
        counted = (cols + 1).to(torch.int32)
    return TieGroups(rows=rows, score=sorted_scores[rows, cols], tp=tp[rows, cols],
                     counted=counted, n_pos=tp[:, -1])


def previous_in_row(values: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """For flattened per-row sequences, each value's predecessor in its row (0 for the first)."""
    previous = torch.zeros_like(values)
    previous[1:] = torch.where(rows[1:] == rows[:-1], values[:-1], previous[1:])
    return previous
