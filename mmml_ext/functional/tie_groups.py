"""Rank each row's samples by score and summarise every group of tied scores.

Average precision and threshold tuning both need, for each distinct score value
of a class (a tie group), the number of positives and of counted samples that
score at least that much. Ranking once and reporting only the ends of the tie
groups makes both exact under ties and independent of sample order.

The ranking sorts one int64 key per cell instead of the scores with their
indices: the bits of the float32 score, mapped so that integer order is float
order, shifted left by two, with the cell's target in the two low bits. Equal
scores stay together (only the target bits differ, and the order inside a tie
group does not matter), no index has to be kept and no target gathered, and
numpy's vectorised integer sort does the work (about 4x faster than a sort of
the scores with indices). Scores of another precision are ranked with
``torch.sort``.
"""
from typing import Callable, NamedTuple, Optional, Tuple, Union

import torch

#: the two low bits of a key: target + 1 (0 ignored, 1 negative, 2 positive)
_POSITIVE = 2
#: bytes that ranking one cell takes at most (key, codes, flags, counts, group indices)
BYTES_PER_CELL = 48


def classes_per_chunk(num_samples: int, num_classes: int) -> int:
    """How many classes to rank at once: their working memory stays within a quarter of
    the raw predictions (N x C x 5 bytes), and at least 8 MB."""
    budget = max(8 << 20, num_samples * num_classes * 5 // 4)
    return int(max(1, min(num_classes, budget // (BYTES_PER_CELL * max(num_samples, 1)))))


class TieGroups(NamedTuple):
    """The tie groups of every row, flattened row after row.

    The groups of a row are contiguous and ordered from the highest score
    down; the rows may come in any order.

    Attributes:
        rows (torch.Tensor): Row of each group (int64).
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


_NEGATIVE_ZERO = -2**31  # the bits of -0.0 as an int32
_LOW_31_BITS = 0x7FFFFFFF


def score_order_keys(scores: torch.Tensor) -> torch.Tensor:
    """int64 keys of float32 scores whose integer order is the scores' order.

    The one ranking of the package (tie groups here, the bootstrap's ranking
    in :mod:`~mmml_ext.functional.bootstrap`): the bits of each float32 score,
    -0.0 read as +0.0, and a negative float's magnitude bits reversed, so that
    equal keys are exactly equal scores. The keys lie in [-2**31, 2**31) and
    leave the high bits free for a shift.

    Args:
        scores (torch.Tensor): Float32 scores of any shape and strides (CPU).

    Returns:
        torch.Tensor: int64 keys of the same shape.
    """
    keys = torch.empty(scores.shape, dtype=torch.int64)
    keys.copy_(scores.view(torch.int32))  # any strides; torch tiles the transposition
    keys.masked_fill_(keys == _NEGATIVE_ZERO, 0)  # -0.0 ranks with +0.0
    # a negative float: the larger its magnitude, the smaller it is
    keys.bitwise_xor_((keys < 0).to(torch.int64).mul_(_LOW_31_BITS))
    return keys


def _sort_keys(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(R, M) int64 keys of float32 scores and 1 / 0 / -1 targets, each row sorted ascending."""
    keys = score_order_keys(scores)
    codes = torch.empty(target.shape, dtype=torch.int8).copy_(target).add_(1)
    keys.bitwise_left_shift_(2).add_(codes)  # low bits: 0 ignored, 1 negative, 2 positive
    keys.numpy().sort(axis=1)  # in place: numpy's vectorised integer sort
    return keys


def _float32_from_order(order: torch.Tensor) -> torch.Tensor:
    bits = order.bitwise_xor((order < 0).to(torch.int64).mul_(_LOW_31_BITS))
    return bits.to(torch.int32).view(torch.float32)


def _tie_groups_by_keys(scores: torch.Tensor, target: torch.Tensor) -> TieGroups:
    keys = _sort_keys(scores.to(torch.float32), target)
    num_cols = keys.shape[1]
    code = keys.bitwise_and(3)
    positive = code == _POSITIVE
    counted = (code != 0) if bool((target < 0).any()) else None
    del code
    order = keys.bitwise_right_shift_(2)  # the score order of each cell (in the keys' memory)
    # ascending: a tie group starts where the score changes
    start = torch.ones(order.shape, dtype=torch.bool)
    torch.ne(order[:, 1:], order[:, :-1], out=start[:, 1:])
    rows, cols = start.nonzero(as_tuple=True)
    del start
    # cells scoring >= a group's score: from its first cell to the end of the row
    up_to = positive.cumsum(dim=1, dtype=torch.int32)
    n_pos = up_to[:, -1].clone()
    tp = n_pos[rows] - up_to[rows, cols] + positive[rows, cols]
    del up_to
    if counted is None:  # every sample counts: the cells from the group's first one on
        counted_ge = (num_cols - cols).to(torch.int32)
    else:
        up_to = counted.cumsum(dim=1, dtype=torch.int32)
        counted_ge = up_to[:, -1][rows] - up_to[rows, cols] + counted[rows, cols]
    score = _float32_from_order(order[rows, cols])
    # from the highest score down, as the consumers read the groups of a row
    return TieGroups(rows=rows.flip(0), score=score.flip(0), tp=tp.flip(0),
                     counted=counted_ge.flip(0), n_pos=n_pos)


def _tie_groups_by_sort(scores: torch.Tensor, target: torch.Tensor) -> TieGroups:
    ignored = bool((target < 0).any())
    sorted_scores, order = scores.contiguous().sort(dim=1, descending=True)
    sorted_target = target.contiguous().gather(1, order)
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


def tie_groups(scores: torch.Tensor, target: torch.Tensor) -> TieGroups:
    """Tie-group ends of each row of (R, M) ``scores``, ranked from the highest.

    Args:
        scores (torch.Tensor): (R, M) scores, one ranking per row (any strides).
        target (torch.Tensor): (R, M) with 1 / 0 / -1; -1 counts as nothing.
    """
    if scores.device.type == 'cpu' and scores.dtype in (torch.float32, torch.float16,
                                                        torch.bfloat16):
        return _tie_groups_by_keys(scores, target)
    return _tie_groups_by_sort(scores, target)


def previous_in_row(values: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """For flattened per-row sequences, each value's predecessor in its row (0 for the first)."""
    previous = torch.zeros_like(values)
    previous[1:] = torch.where(rows[1:] == rows[:-1], values[:-1], previous[1:])
    return previous


def by_class_chunks(rows_statistic: Callable[[torch.Tensor, torch.Tensor], Union[
        torch.Tensor, Tuple[torch.Tensor, ...]]], scores: torch.Tensor, target: torch.Tensor,
        chunk_size: Optional[int] = None) -> Union[torch.Tensor, Tuple[torch.Tensor, ...]]:
    """A per-class statistic of (N, C) scores, computed on chunks of classes ranked together.

    ``rows_statistic`` takes the (c, N) transposed scores and target of a chunk
    (a bool target as int8) and gives (c,) values, or a tuple of them; the
    chunks' values are put back in class order.

    Args:
        rows_statistic (Callable): (c, N) scores, (c, N) target -> (c,) tensor(s).
        scores (torch.Tensor): (N, C) scores.
        target (torch.Tensor): (N, C) target.
        chunk_size (int, optional): Classes per chunk. Defaults to
            :func:`classes_per_chunk`.

    Returns:
        torch.Tensor | tuple: (C,) tensor(s), as ``rows_statistic`` gives them.
    """
    if target.dtype == torch.bool:
        target = target.to(torch.int8)
    num_samples, num_classes = scores.shape
    if chunk_size is None:
        chunk_size = classes_per_chunk(num_samples, num_classes)
    parts = [rows_statistic(scores[:, start:start + chunk_size].t(),
                            target[:, start:start + chunk_size].t())
             for start in range(0, num_classes, chunk_size)]
    if isinstance(parts[0], tuple):
        return tuple(torch.cat(values) for values in zip(*parts))
    return torch.cat(parts)
