"""Paired bootstrap over test images: every replicate's metrics, vectorised, without re-sorting.

A replicate draws N test images with replacement (:func:`bootstrap_indices`,
one fixed seed, the same draws for every run that is compared). It is
described by its counts: ``w_bn``, how many times replicate b drew image n
(:func:`replicate_counts`). A metric of the replicate is the metric of the
resampled data, where an image drawn k times counts k times. Every metric
below is a function of weighted counts, so each replicate is one row of
weights over the original images, and the resampled data are never built.

**Confusion counts** (CP / CR / CF1 / OP / OR / OF1), over non-ignored cells
(:func:`bootstrap_confusion`)::

    TP_bc = sum_n w_bn [pred_nc and target_nc = 1]      (a matrix product)
    FP_bc = sum_n w_bn [pred_nc and target_nc = 0]
    FN_bc = sum_n w_bn [not pred_nc and target_nc = 1]

**Means of a per-sample value** such as the exact-match indicator of subset
accuracy (:func:`~mmml_ext.functional.example_based.weighted_example_metrics`,
the one formula of the example-based metrics)::

    mean_b = sum_n w_bn v_n [valid_n] / sum_n w_bn [valid_n]

**Average precision**, exactly scikit-learn's ``average_precision_score`` on
the resampled data (:func:`bootstrap_average_precision`). For one class, rank
its non-ignored images by score from the highest; equal scores form a tie
group, and the copies of one image are tied with each other. With TP_b(g) and
CNT_b(g) the weighted numbers of positives and of images scoring at least the
score of group g::

    AP_b = sum_g P_b(g) TP_b(g) / CNT_b(g)  /  sum_g P_b(g)

where P_b(g) is the weight of the positives of group g (each positive j
contributes w_bj times the precision at the end of its tie group). A class
drawn with no positive has no AP: NaN.

*Why no re-sorting is needed.* Resampling changes how often an image counts,
never its score: duplicates take the rank of their image, and the images a
replicate misses count 0. So the ranking and the tie groups of each class are
those of the original data, computed once; a replicate only changes the
weights. TP_b and CNT_b are then cumulative sums of the weights in rank order,
read at the ends of the tie groups. Here the sums of each group are formed
first and cumulated over groups, which is the same number with fewer terms;
and since only the groups that hold a positive enter AP, every image is added
to the first group holding a positive at or below its score (an image below
the last one takes no part). For a chunk of classes this is one sparse matrix
A (rows: the positive groups of the classes, twice -- once for the positives,
once for the negatives; columns: images; one 1 per non-ignored cell at or above
its class's lowest positive), and the group sums of a chunk of replicates are
the product ``A @ w.T``: the ranking is done once and every replicate costs one
multiply-add per cell. Integer counts are added exactly (float32 while a
replicate draws fewer than 2**24 images, float64 beyond).

*Memory.* The matrices of all classes are kept (about 12 bytes per cell of
the (N, C) predictions) while the replicates are weighted in chunks, so that a
chunk's (N x replicates) weights and its float64 arrays over the positive
groups stay within about :data:`CHUNK_BYTES` (64 MB).
"""
import math
import numbers
import warnings
from typing import Dict, List, NamedTuple, Optional, Tuple, Union

import numpy as np
import torch

from .checks import check_int, check_scores_target, check_target
from .operating_points import best_points, check_statistic
from .tie_groups import classes_per_chunk, score_order_keys

#: Working memory of one chunk (replicates x samples arrays), in bytes.
CHUNK_BYTES = 64 << 20
#: Row blocks of :func:`replicate_counts` hold about this many draws.
_DRAWS_PER_BLOCK = 1 << 23
#: A float32 sum of integer counts is exact below this.
_FLOAT32_EXACT = 1 << 24


def check_counts(counts: torch.Tensor, num_samples: int, name: str = 'counts') -> None:
    """``counts`` must be a (B, N) tensor of finite, non-negative replicate counts, B >= 1."""
    if not isinstance(counts, torch.Tensor):
        raise TypeError(f'{name} must be a torch.Tensor, got {type(counts).__name__}')
    if counts.dim() != 2 or counts.shape[1] != num_samples:
        raise ValueError(f'{name} must have shape (B, N) = (B, {num_samples}), one row of '
                         f'sample counts per bootstrap replicate, got {tuple(counts.shape)}')
    if counts.shape[0] == 0:
        raise ValueError(f'{name} holds no replicate (shape {tuple(counts.shape)})')
    if counts.is_complex():
        raise ValueError(f'{name} must be real, got {counts.dtype}')
    if counts.dtype != torch.bool and counts.numel() > 0:
        low, high = torch.aminmax(counts)  # no (B, N) temporary in the common case
        if not (bool(low >= 0) and bool(torch.isfinite(high))):  # NaN fails both
            bad = ~(torch.isfinite(counts) & (counts >= 0))
            replicate, sample = bad.nonzero()[0].tolist()
            raise ValueError(f'{name} must be finite and non-negative (times each sample is '
                             f'drawn); replicate {replicate}, sample {sample} is '
                             f'{counts[replicate, sample].item()}')


def replicate_sums(weights: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """Per-sample columns summed with each replicate's weights: ``weights @ columns``.

    The reduction of every metric that is a ratio of per-sample sums (sample mAP,
    subset accuracy, ECE): row b of the (B, K) float64 result holds
    sum_i w_bi x_ik. The product runs over blocks of replicates, so no float64
    copy of the (B, N) weights is larger than about :data:`CHUNK_BYTES`.

    Args:
        weights (torch.Tensor): (B, N) replicate counts (any real dtype), checked by
            the caller (:func:`check_counts`).
        columns (torch.Tensor): (N, K) float64 per-sample values.

    Returns:
        torch.Tensor: (B, K) float64 sums, on ``columns``' device.
    """
    sums = columns.new_empty((len(weights), columns.shape[1]))
    step = max(1, CHUNK_BYTES // (8 * max(1, weights.shape[1])))
    for start in range(0, len(weights), step):
        block = weights[start:start + step].to(device=columns.device, dtype=torch.float64)
        torch.mm(block, columns, out=sums[start:start + step])
    return sums


def bootstrap_indices(num_samples: int, num_replicates: int = 1000, seed: int = 0) -> np.ndarray:
    """The images of each bootstrap replicate: N draws with replacement, per replicate.

    Args:
        num_samples (int): N, the number of test images (>= 1).
        num_replicates (int): B (>= 1). Defaults to 1000.
        seed (int): Seed of ``np.random.default_rng`` (>= 0). Defaults to 0.
            The same seed gives the same replicates, so that runs tested on
            the same images are compared on the same resampled sets.

    Returns:
        np.ndarray: (B, N) int64; row b holds the indices drawn by replicate
        b, each uniform in [0, N).

    Examples:
        >>> idx = bootstrap_indices(5, num_replicates=3, seed=0)
        >>> idx.shape, idx.dtype.name, bool((idx >= 0).all() and (idx < 5).all())
        ((3, 5), 'int64', True)
        >>> bool((idx == bootstrap_indices(5, 3, seed=0)).all())
        True
    """
    check_int(num_samples, 'num_samples')
    check_int(num_replicates, 'num_replicates')
    check_int(seed, 'seed', 0)
    rng = np.random.default_rng(seed)
    return rng.integers(0, num_samples, size=(num_replicates, num_samples), dtype=np.int64)


def bootstrap_counts(num_samples: int, num_replicates: int = 1000, seed: int = 0) -> torch.Tensor:
    """:func:`replicate_counts` of :func:`bootstrap_indices`, drawn in blocks of replicates.

    The same numbers as the two calls (the generator gives the same sequence in
    blocks), without the (B, N) int64 index matrix beside the counts.

    Examples:
        >>> counts = bootstrap_counts(5, num_replicates=3, seed=0)
        >>> bool((counts == replicate_counts(bootstrap_indices(5, 3, seed=0), 5)).all())
        True
    """
    check_int(num_samples, 'num_samples')
    check_int(num_replicates, 'num_replicates')
    check_int(seed, 'seed', 0)
    rng = np.random.default_rng(seed)
    counts = torch.zeros((num_replicates, num_samples), dtype=torch.int32)
    block = max(1, (8 << 20) // num_samples)  # about 8 M draws (64 MB of indices) at a time
    for start in range(0, num_replicates, block):
        rows = min(block, num_replicates - start)
        drawn = rng.integers(0, num_samples, size=(rows, num_samples), dtype=np.int64)
        counts[start:start + rows] = replicate_counts(drawn, num_samples)
    return counts


def replicate_counts(indices: Union[np.ndarray, torch.Tensor], num_samples: int) -> torch.Tensor:
    """How many times each sample is drawn in each replicate.

    Args:
        indices (np.ndarray): (B, M) integer sample indices in [0, N), one row
            per replicate (from :func:`bootstrap_indices`, where M = N).
        num_samples (int): N.

    Returns:
        torch.Tensor: (B, N) int32 counts; each row sums to M. One
        scatter-add per block of replicates (about 8 M draws), no (B, N)
        temporary beside the result.

    Examples:
        >>> replicate_counts(np.array([[0, 0, 2], [1, 2, 0]]), 3)
        tensor([[2, 0, 1],
                [1, 1, 1]], dtype=torch.int32)
    """
    check_int(num_samples, 'num_samples')
    if isinstance(indices, torch.Tensor):
        indices = indices.cpu().numpy()
    indices = np.asarray(indices)
    if indices.ndim != 2 or indices.shape[0] == 0:
        raise ValueError(f'indices must have shape (B, M) with B >= 1, one row of drawn sample '
                         f'indices per replicate, got {indices.shape}')
    if indices.dtype.kind not in 'iu':
        raise ValueError(f'indices must be integers, got {indices.dtype}')
    if indices.size and (indices.min() < 0 or indices.max() >= num_samples):
        bad = np.argwhere((indices < 0) | (indices >= num_samples))[0]
        raise ValueError(f'indices must lie in [0, {num_samples}) (num_samples={num_samples}); '
                         f'replicate {bad[0]}, draw {bad[1]} is {indices[bad[0], bad[1]]}')
    num_replicates, num_draws = indices.shape
    counts = torch.zeros((num_replicates, num_samples), dtype=torch.int32)
    rows = max(1, _DRAWS_PER_BLOCK // max(num_draws, 1))
    for start in range(0, num_replicates, rows):
        block = torch.from_numpy(np.ascontiguousarray(indices[start:start + rows],
                                                      dtype=np.int64))
        ones = torch.ones((1, 1), dtype=torch.int32).expand(block.shape)
        counts[start:start + len(block)].scatter_add_(1, block, ones)
    return counts


# ---------------------------------------------------------------- average precision

class _RankedChunk(NamedTuple):
    """A chunk of ranked classes as the sparse matrix of the module docstring."""
    start: int  # first class of the chunk
    stop: int
    matrix: Optional[torch.Tensor]  # (2 R, N) CSR; None when no class of the chunk has a positive
    row_class: torch.Tensor  # (R,) class of each positive group, in [0, stop - start)
    class_base: torch.Tensor  # (stop - start,) first row of each class
    num_rows: int  # R


def _descending_order(scores: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per row of (k, N) ``scores``: the samples from the highest score down, and a key of each
    ranked cell that is equal exactly where the scores are equal."""
    num = scores.shape[1]
    shift = max(1, (num - 1).bit_length())
    if scores.device.type == 'cpu' and scores.dtype in (torch.float32, torch.float16,
                                                        torch.bfloat16) and shift <= 31:
        # the package's ranking keys, reversed (highest score first, in [0, 2**32)) and with
        # the sample index in the low bits; one integer sort
        keys = score_order_keys(scores.to(torch.float32)).neg_().add_((1 << 31) - 1)
        keys.bitwise_left_shift_(shift).add_(torch.arange(num, dtype=torch.int64))
        keys.numpy().sort(axis=1)
        order = keys.bitwise_and((1 << shift) - 1)
        return order, keys.bitwise_right_shift_(shift)
    values, order = torch.sort(scores, dim=1, descending=True, stable=True)
    return order, values


def _rank_chunk(scores: torch.Tensor, target: torch.Tensor, start: int, stop: int,
                dtype: torch.dtype, tied_negatives: bool = False) -> _RankedChunk:
    """Rank classes ``start:stop`` once and build their matrix of positive groups.

    With ``tied_negatives`` the negatives tied with a positive group get rows of
    their own, [2R, 3R) (AUROC counts a tie one half), instead of [R, 2R).
    """
    device = scores.device
    num = scores.shape[0]
    order, key = _descending_order(scores[:, start:stop].t())
    label = torch.gather(target[:, start:stop].t().to(torch.int8), 1, order)  # in rank order
    num_classes = stop - start
    new_group = torch.ones(key.shape, dtype=torch.bool, device=device)
    torch.ne(key[:, 1:], key[:, :-1], out=new_group[:, 1:])
    del key
    group = new_group.cumsum(dim=1)  # 1-based tie group of each cell within its class
    del new_group
    group_offset = torch.zeros(num_classes, dtype=torch.int64, device=device)
    group_offset[1:] = group[:-1, -1].cumsum(0)
    group += group_offset[:, None] - 1  # flat over the chunk
    positive = label == 1
    has_positive = torch.zeros(int(group[-1, -1]) + 1, dtype=torch.int64, device=device)
    has_positive[group[positive]] = 1
    before = has_positive.cumsum(0) - has_positive  # positive groups above each group (flat)
    class_base = before[group_offset]  # positive groups of the chunk above each class
    positive_groups = torch.empty_like(class_base)
    positive_groups[:-1] = class_base[1:] - class_base[:-1]
    positive_groups[-1] = int(has_positive.sum()) - class_base[-1]
    tied = has_positive[group].bool() & ~positive if tied_negatives else None
    del has_positive
    # a cell's row: the first positive group at or below its score (its own when it is positive)
    row = before[group]
    del before, group
    keep = (label >= 0) & (row < (class_base + positive_groups)[:, None])
    num_rows = int(positive_groups.sum())
    row_class = torch.repeat_interleave(torch.arange(num_classes, device=device),
                                        positive_groups)
    if num_rows == 0:
        return _RankedChunk(start, stop, None, row_class, class_base, 0)
    # positives in rows [0, R), negatives in [R, 2R) (tied ones in [2R, 3R) when asked):
    # sort the cells by (row, sample)
    row += (~positive).to(torch.int64) * num_rows
    if tied is not None:
        row += tied.to(torch.int64) * num_rows
    num_blocks = 2 if tied is None else 3
    del positive, label, tied
    row, order = row[keep], order[keep]
    del keep
    shift = max(1, (num - 1).bit_length())
    cells = row.bitwise_left_shift_(shift).add_(order)
    del order
    if device.type == 'cpu':
        cells.numpy().sort()
    else:
        cells = cells.sort().values
    columns = cells.bitwise_and((1 << shift) - 1)
    crow = torch.zeros(num_blocks * num_rows + 1, dtype=torch.int64, device=device)
    crow[1:] = torch.bincount(cells.bitwise_right_shift_(shift),
                              minlength=num_blocks * num_rows).cumsum(0)
    del cells
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # torch's notes that sparse CSR is in beta
        matrix = torch.sparse_csr_tensor(crow, columns,
                                         torch.ones(len(columns), dtype=dtype, device=device),
                                         size=(num_blocks * num_rows, num),
                                         check_invariants=False)
    return _RankedChunk(start, stop, matrix, row_class, class_base, num_rows)


def _positive_group_sums(chunk: _RankedChunk, weights: torch.Tensor):
    """Per positive group and replicate, (R, b) float64: the weight of the group's positives,
    and the weighted positives and counted samples scoring at least the group's score."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        sums = torch.sparse.mm(chunk.matrix, weights)  # (2R, b): each group's positives, others
    rows = chunk.num_rows
    new_positive = sums[:rows].to(torch.float64)
    counted = sums[rows:2 * rows].to(torch.float64)
    del sums
    tp = _cumulative_in_class(new_positive.clone(), chunk)
    counted = _cumulative_in_class(counted.add_(new_positive), chunk)
    return new_positive, tp, counted


def _cumulative_in_class(values: torch.Tensor, chunk: _RankedChunk) -> torch.Tensor:
    """(R, b) per-group values summed down each class's positive groups, in place: a
    cumulative sum over the whole chunk, less the classes above."""
    values.cumsum_(0)
    above = (chunk.class_base - 1).clamp(min=0)
    first_class = (chunk.class_base == 0)[:, None]
    values -= values[above].masked_fill_(first_class, 0)[chunk.row_class]
    return values


def _chunk_average_precision(chunk: _RankedChunk, weights: torch.Tensor) -> torch.Tensor:
    """(b, k) AP of the chunk's classes, with ``weights`` (N, b) the replicates' counts."""
    num_classes = chunk.stop - chunk.start
    num_replicates = weights.shape[1]
    out = torch.full((num_classes, num_replicates), float('nan'), dtype=torch.float64,
                     device=weights.device)
    new_positive, tp, counted = _positive_group_sums(chunk, weights)
    # a group with no positive drawn adds 0 (its count may be 0 too)
    counted.masked_fill_(counted == 0, 1)
    terms = tp.mul_(new_positive).div_(counted)
    del counted
    classes = chunk.row_class
    ap_sum = torch.zeros_like(out).index_add_(0, classes, terms)
    n_pos = torch.zeros_like(out).index_add_(0, classes, new_positive)
    drawn = n_pos > 0
    out[drawn] = ap_sum[drawn] / n_pos[drawn]
    return out.t()


def _chunk_roc_auc(chunk: _RankedChunk, weights: torch.Tensor,
                   negatives: torch.Tensor) -> torch.Tensor:
    """(b, k) AUROC of the chunk's classes (its matrix built with ``tied_negatives``), with
    ``weights`` (N, b) and ``negatives`` (k, b) each class's weighted negatives."""
    out = torch.full((chunk.stop - chunk.start, weights.shape[1]), float('nan'),
                     dtype=torch.float64, device=weights.device)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        sums = torch.sparse.mm(chunk.matrix, weights)  # (3R, b)
    rows = chunk.num_rows
    positive = sums[:rows].to(torch.float64)
    tied = sums[2 * rows:].to(torch.float64)
    at_or_above = _cumulative_in_class(sums[rows:2 * rows].to(torch.float64).add_(tied), chunk)
    del sums
    # negatives below the group, and half of those tied with it
    below = negatives[chunk.row_class] - at_or_above
    terms = positive * below.add_(tied, alpha=0.5)
    classes = chunk.row_class
    wins = torch.zeros_like(out).index_add_(0, classes, terms)
    pairs = torch.zeros_like(out).index_add_(0, classes, positive).mul_(negatives)
    drawn = pairs > 0
    out[drawn] = wins[drawn] / pairs[drawn]
    return out.t()


def _chunk_operating_point(chunk: _RankedChunk, weights: torch.Tensor, statistic: str,
                           level: float) -> torch.Tensor:
    """(b, k) precision at recall (or recall at precision) of the chunk's classes."""
    num_classes = chunk.stop - chunk.start
    num_replicates = weights.shape[1]
    out = torch.full((num_classes, num_replicates), float('nan'), dtype=torch.float64,
                     device=weights.device)
    new_positive, tp, counted = _positive_group_sums(chunk, weights)
    n_pos = torch.zeros_like(out).index_add_(0, chunk.row_class, new_positive)  # (k, b)
    precision = tp / counted  # NaN where nothing is drawn at or above the group: no candidate
    recall = tp / n_pos[chunk.row_class]
    owner = (chunk.row_class[:, None] * num_replicates
             + torch.arange(num_replicates, device=weights.device)).flatten()
    value, _ = best_points(precision.flatten(), recall.flatten(), torch.zeros_like(
        precision).flatten(), owner, num_classes * num_replicates, statistic, level)
    value = value.view(num_classes, num_replicates)
    drawn = n_pos > 0
    out[drawn] = value[drawn]
    return out.t()


def _sum_dtype(counts: torch.Tensor) -> torch.dtype:
    """float32 when it adds the counts of every replicate exactly, else float64."""
    if counts.dtype == torch.bool:
        return torch.float32 if counts.shape[1] < _FLOAT32_EXACT else torch.float64
    if counts.is_floating_point():
        return torch.float64
    if counts.numel() == 0 or int(counts.max()) * counts.shape[1] < _FLOAT32_EXACT:
        return torch.float32  # no row can sum to 2**24
    rows = max(1, _DRAWS_PER_BLOCK // counts.shape[1])  # no int64 copy of all the counts
    most = max(int(counts[start:start + rows].sum(dim=1, dtype=torch.int64).max())
               for start in range(0, counts.shape[0], rows))
    return torch.float32 if most < _FLOAT32_EXACT else torch.float64


def bootstrap_average_precision(scores: torch.Tensor, target: torch.Tensor, counts: torch.Tensor,
                                chunk_classes: Optional[int] = None,
                                chunk_replicates: Optional[int] = None) -> torch.Tensor:
    """AP of every class in every bootstrap replicate: scikit-learn's AP on the resampled data.

    Each class is ranked once; a replicate only weights the ranked images (see
    the module docstring). Equal to ``average_precision_score`` of the
    replicate's images (``scores[idx]``, ``target[idx]``) with ties grouped, a
    drawn image tied with its own copies, ignored cells left out.

    Args:
        scores (torch.Tensor): (N, C) finite scores; only their order matters.
        target (torch.Tensor): (N, C) with 1 / 0 / -1 (ignored), any integer or
            bool dtype.
        counts (torch.Tensor): (B, N) non-negative times each image is drawn
            in each replicate (:func:`replicate_counts`); a row of ones gives
            the point estimate. Real weights are allowed too.
        chunk_classes (int, optional): Classes ranked and weighted together.
            Defaults to :func:`~mmml_ext.functional.tie_groups.classes_per_chunk`
            of (N, C).
        chunk_replicates (int, optional): Replicates weighted together.
            Defaults to as many as keep the chunk's replicate x sample arrays
            within about 64 MB (:data:`CHUNK_BYTES`).

    Returns:
        torch.Tensor: (B, C) float64 AP in [0, 1]; NaN where the replicate
        draws no positive of the class.

    Examples:
        >>> scores = torch.tensor([[0.9], [0.5], [0.5], [0.1]])
        >>> target = torch.tensor([[1], [1], [0], [1]], dtype=torch.int8)
        >>> counts = torch.tensor([[1, 1, 1, 1], [2, 0, 1, 1], [0, 0, 4, 0]])
        >>> bootstrap_average_precision(scores, target, counts)
        tensor([[0.8056],
                [0.9167],
                [   nan]], dtype=torch.float64)
    """
    return _ranked_replicates(scores, target, counts, chunk_classes, chunk_replicates, 'ap')


def bootstrap_roc_auc(scores: torch.Tensor, target: torch.Tensor, counts: torch.Tensor,
                      chunk_classes: Optional[int] = None,
                      chunk_replicates: Optional[int] = None) -> torch.Tensor:
    """AUROC of every class in every bootstrap replicate: scikit-learn's ``roc_auc_score`` on
    the resampled data (:mod:`~mmml_ext.functional.roc_auc`).

    The ranking of :func:`bootstrap_average_precision`, with the negatives tied
    with a positive group in rows of their own: with P_b(g) the weight of
    group g's positives, NEG_b(>=g) the weighted negatives scoring at least its
    score, TIE_b(g) those tied with it and Q_b all the class's negatives::

        AUROC_b = sum_g P_b(g) (Q_b - NEG_b(>=g) + TIE_b(g) / 2) / (sum_g P_b(g) Q_b)

    Args:
        scores, target, counts, chunk_classes, chunk_replicates: As
            :func:`bootstrap_average_precision`.

    Returns:
        torch.Tensor: (B, C) float64 AUROC in [0, 1]; NaN where the replicate
        draws no positive or no negative of the class.

    Examples:
        >>> scores = torch.tensor([[0.9], [0.5], [0.5], [0.1]])
        >>> target = torch.tensor([[1], [1], [0], [0]], dtype=torch.int8)
        >>> counts = torch.tensor([[1, 1, 1, 1], [0, 2, 1, 1], [1, 1, 0, 0]])
        >>> bootstrap_roc_auc(scores, target, counts)
        tensor([[0.8750],
                [0.7500],
                [   nan]], dtype=torch.float64)
    """
    return _ranked_replicates(scores, target, counts, chunk_classes, chunk_replicates, 'auroc')


def bootstrap_operating_point(scores: torch.Tensor, target: torch.Tensor, counts: torch.Tensor,
                              statistic: str, level: float,
                              chunk_classes: Optional[int] = None,
                              chunk_replicates: Optional[int] = None) -> torch.Tensor:
    """Precision at a fixed recall (or recall at a fixed precision) of every class in every
    replicate (:func:`~mmml_ext.functional.operating_points.operating_point` of the resampled
    data), from the positive groups of :func:`bootstrap_average_precision`'s ranking.

    Args:
        scores, target, counts, chunk_classes, chunk_replicates: As
            :func:`bootstrap_average_precision`.
        statistic (str): ``'precision_at_recall'`` or ``'recall_at_precision'``.
        level (float): The fixed recall (or precision), in [0, 1].

    Returns:
        torch.Tensor: (B, C) float64 fractions; NaN where the replicate draws
        no positive of the class.

    Examples:
        >>> scores = torch.tensor([[0.9], [0.8], [0.7], [0.6], [0.2]])
        >>> target = torch.tensor([[1], [0], [1], [0], [1]])
        >>> counts = torch.tensor([[1, 1, 1, 1, 1], [0, 2, 1, 0, 1]])
        >>> bootstrap_operating_point(scores, target, counts, 'precision_at_recall', 0.6)
        tensor([[0.6667],
                [0.5000]], dtype=torch.float64)
    """
    level = check_statistic(statistic, level)
    return _ranked_replicates(scores, target, counts, chunk_classes, chunk_replicates,
                              (statistic, level))


def _ranked_replicates(scores: torch.Tensor, target: torch.Tensor, counts: torch.Tensor,
                       chunk_classes: Optional[int], chunk_replicates: Optional[int],
                       statistic) -> torch.Tensor:
    """(B, C) AP, AUROC or an operating point (``(statistic, level)``) of every replicate:
    rank each chunk of classes once, then weight."""
    check_scores_target(scores, target)
    num_samples, num_classes = scores.shape
    check_counts(counts, num_samples)
    check_int(chunk_classes, 'chunk_classes', optional=True)
    check_int(chunk_replicates, 'chunk_replicates', optional=True)
    if chunk_classes is None:
        chunk_classes = classes_per_chunk(num_samples, num_classes)
    dtype = _sum_dtype(counts)
    counts = counts.to(scores.device)
    chunks: List[_RankedChunk] = [
        _rank_chunk(scores, target, start, min(start + chunk_classes, num_classes), dtype,
                    tied_negatives=statistic == 'auroc')
        for start in range(0, num_classes, chunk_classes)]
    num_replicates = counts.shape[0]
    if chunk_replicates is None:
        # per replicate: N weights, and four float64 arrays of the chunk's positive groups
        rows = max(chunk.num_rows for chunk in chunks) * (6 if statistic == 'auroc' else 5)
        widest = max(num_samples, rows)
        chunk_replicates = max(1, min(num_replicates, CHUNK_BYTES // (8 * widest)))
    out = torch.empty((num_replicates, num_classes), dtype=torch.float64, device=scores.device)
    for first in range(0, num_replicates, chunk_replicates):
        last = min(first + chunk_replicates, num_replicates)
        weights = torch.empty((num_samples, last - first), dtype=dtype, device=counts.device)
        weights.copy_(counts[first:last].t())  # (N, b)
        for chunk in chunks:
            if chunk.matrix is None:  # no class of the chunk has a positive: no value
                value = float('nan')
            elif statistic == 'ap':
                value = _chunk_average_precision(chunk, weights)
            elif isinstance(statistic, tuple):
                value = _chunk_operating_point(chunk, weights, *statistic)
            else:  # each class's negatives drawn, (k, b), exact in the weights' dtype
                negatives = (target[:, chunk.start:chunk.stop] == 0).t().to(dtype) @ weights
                value = _chunk_roc_auc(chunk, weights, negatives.to(torch.float64))
            out[first:last, chunk.start:chunk.stop] = value
    return out


# ---------------------------------------------------------------- counts and means

def bootstrap_confusion(pred: torch.Tensor, target: torch.Tensor,
                        counts: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Per-class true positives, false positives and false negatives of every replicate.

    Weighted counts over the non-ignored cells, as matrix products of the
    counts (float64) with indicator matrices: exact integers for integer
    counts (below 2**53).

    Args:
        pred (torch.Tensor): (N, C) bool predictions (e.g. from
            :func:`~mmml_ext.functional.confusion.multilabel_predict`).
        target (torch.Tensor): (N, C) with 1 / 0 / -1 (ignored).
        counts (torch.Tensor): (B, N) non-negative times each sample is drawn
            in each replicate.

    Returns:
        dict: ``tp``, ``fp``, ``fn``, each a (B, C) float64 tensor.

    Examples:
        >>> pred = torch.tensor([[True, False], [True, True], [False, True]])
        >>> target = torch.tensor([[1, 0], [0, -1], [1, 1]], dtype=torch.int8)
        >>> counts = torch.tensor([[1, 1, 1], [0, 2, 1]])
        >>> for key, value in bootstrap_confusion(pred, target, counts).items():
        ...     print(key, value.tolist())
        tp [[1.0, 1.0], [0.0, 1.0]]
        fp [[1.0, 0.0], [2.0, 0.0]]
        fn [[1.0, 0.0], [1.0, 0.0]]
    """
    if not isinstance(pred, torch.Tensor) or pred.dtype != torch.bool or pred.dim() != 2:
        raise ValueError('pred must be an (N, C) bool tensor, got '
                         + (f'{pred.dtype} {tuple(pred.shape)}' if isinstance(pred, torch.Tensor)
                            else type(pred).__name__))
    check_target(target, pred.shape)
    num_samples, num_classes = pred.shape
    check_counts(counts, num_samples)
    positive = target if target.dtype == torch.bool else target == 1
    negative = ~target if target.dtype == torch.bool else target == 0
    counts = counts.to(pred.device)
    num_replicates = counts.shape[0]
    # three (N, k) indicators and a (b, N) block of counts, each within the budget
    chunk_classes = max(1, min(num_classes, CHUNK_BYTES // (3 * 8 * num_samples)))
    chunk_replicates = max(1, min(num_replicates, CHUNK_BYTES // (8 * num_samples)))
    out = {key: torch.empty((num_replicates, num_classes), dtype=torch.float64,
                            device=pred.device) for key in ('tp', 'fp', 'fn')}
    for start in range(0, num_classes, chunk_classes):
        stop = min(start + chunk_classes, num_classes)
        p, pos, neg = pred[:, start:stop], positive[:, start:stop], negative[:, start:stop]
        indicators = {'tp': (p & pos).double(), 'fp': (p & neg).double(),
                      'fn': (~p & pos).double()}
        for first in range(0, num_replicates, chunk_replicates):
            last = min(first + chunk_replicates, num_replicates)
            weights = counts[first:last].double()
            for key, indicator in indicators.items():
                torch.mm(weights, indicator, out=out[key][first:last, start:stop])
    return out


# ---------------------------------------------------------------- intervals

def percentile_interval(replicates: torch.Tensor,
                        level: float = 0.95) -> Tuple[torch.Tensor, torch.Tensor]:
    """Percentile bootstrap interval of each statistic, leaving out NaN replicates.

    The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles over the
    replicates, with linear interpolation (numpy's default): for 1,000
    replicates and ``level=0.95``, the 2.5 and 97.5 percentiles.

    Args:
        replicates (torch.Tensor): (B, ...) a statistic in each replicate
            (NaN where a replicate has none), B >= 1.
        level (float): Coverage in (0, 1). Defaults to 0.95.

    Returns:
        tuple: ``(low, high)``, float64 tensors of the shape ``(...)``; NaN
        where every replicate is NaN.

    Examples:
        >>> low, high = percentile_interval(torch.arange(101, dtype=torch.float64), 0.9)
        >>> round(low.item(), 9), round(high.item(), 9)
        (5.0, 95.0)
        >>> low, high = percentile_interval(torch.tensor([[1., float('nan')], [3., float('nan')]]))
        >>> low.tolist(), high.tolist()
        ([1.05, nan], [2.95, nan])
    """
    if isinstance(replicates, np.ndarray):
        replicates = torch.from_numpy(replicates)
    if not isinstance(replicates, torch.Tensor):
        raise TypeError(f'replicates must be a torch.Tensor, got {type(replicates).__name__}')
    if replicates.dim() == 0 or replicates.shape[0] == 0:
        raise ValueError(f'replicates must have shape (B, ...) with B >= 1, one statistic per '
                         f'bootstrap replicate, got {tuple(replicates.shape)}')
    if replicates.is_complex():
        raise ValueError(f'replicates must be real, got {replicates.dtype}')
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or \
            not 0 < float(level) < 1 or math.isnan(float(level)):
        raise ValueError(f'level must be a number in (0, 1), got {level!r}')
    values = replicates.double()
    q = torch.tensor([(1 - float(level)) / 2, (1 + float(level)) / 2], dtype=torch.float64,
                     device=values.device)
    if values.numel() == 0:  # (B, 0, ...): nothing to interpolate
        empty = values.new_empty(values.shape[1:])
        return empty, empty.clone()
    bounds = torch.nanquantile(values.reshape(values.shape[0], -1), q, dim=0)
    return bounds[0].reshape(values.shape[1:]), bounds[1].reshape(values.shape[1:])


#: interval methods of :func:`bootstrap_interval`
INTERVAL_METHODS = ('percentile', 'basic', 'logit-basic')


def bootstrap_interval(point: torch.Tensor, replicates: torch.Tensor, method: str = 'percentile',
                       level: float = 0.95, bounds: Tuple[float, float] = (0.0, 100.0)
                       ) -> Tuple[torch.Tensor, torch.Tensor]:
    """A bootstrap interval of each statistic from its point estimate and its replicates.

    With q_a the a-quantile of the replicates (NaN replicates left out) and
    a = (1 - level) / 2:

    - ``'percentile'``: [q_a, q_(1-a)];
    - ``'basic'`` (reverse percentile): [2 t - q_(1-a), 2 t - q_a], t the point
      estimate: where the replicates sit above the point (a statistic biased
      upward, as the sample AP), the interval moves down by as much;
    - ``'logit-basic'``: the basic interval on the logit scale of a statistic
      bounded by ``bounds`` (percent: (0, 100)), mapped back, so that it
      stays inside them. A replicate on a bound is moved inside by 1e-6 of
      the range; a point on a bound takes its percentile interval.

    Which method each metric uses is chosen by the coverage study
    (tools/benchmarks/coverage_study.py, docs/experiments.md).

    Args:
        point (torch.Tensor): (...) point estimates.
        replicates (torch.Tensor): (B, ...) replicates.
        method (str): One of :data:`INTERVAL_METHODS`. Defaults to ``'percentile'``.
        level (float): Coverage in (0, 1). Defaults to 0.95.
        bounds (tuple): The statistic's range, for ``'logit-basic'``.

    Returns:
        tuple: ``(low, high)``, float64 tensors of the shape of ``point``.

    Examples:
        >>> replicates = torch.tensor([[50.], [52.], [54.], [56.], [58.]])
        >>> low, high = bootstrap_interval(torch.tensor([52.]), replicates, 'basic', 0.5)
        >>> low.tolist(), high.tolist()
        ([48.0], [52.0])
    """
    if method not in INTERVAL_METHODS:
        raise ValueError(f'method must be one of {INTERVAL_METHODS}, got {method!r}')
    point = torch.as_tensor(point, dtype=torch.float64)
    if method == 'percentile':
        return percentile_interval(replicates, level)
    if method == 'basic':
        low, high = percentile_interval(replicates, level)
        return 2 * point - high, 2 * point - low
    lowest, highest = (float(b) for b in bounds)
    span = highest - lowest
    eps = 1e-6 * span

    def logit(x: torch.Tensor) -> torch.Tensor:
        x = (x.double() - lowest).clamp(eps, span - eps) / span
        return torch.log(x) - torch.log1p(-x)

    low, high = percentile_interval(logit(replicates), level)
    centre = logit(point)
    low, high = (lowest + span * torch.sigmoid(2 * centre - high),
                 lowest + span * torch.sigmoid(2 * centre - low))
    # a point on a bound (AP 100) has no logit to reflect about: its percentile interval
    on_bound = (point <= lowest) | (point >= highest)
    if bool(on_bound.any()):
        plain_low, plain_high = percentile_interval(replicates, level)
        low, high = torch.where(on_bound, plain_low, low), torch.where(on_bound, plain_high, high)
    return low, high
