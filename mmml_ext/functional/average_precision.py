"""Tie-exact average precision per class: scikit-learn's ``average_precision_score``.

For one class, with the samples ranked by score and equal scores grouped, AP is
the step-wise area under the precision-recall curve, with no interpolation:

    AP = sum_k (R_k - R_{k-1}) P_k

where k runs over the distinct score values from the highest down, and P_k, R_k
are precision and recall when every sample scoring >= that value is predicted
positive. Equivalently, AP = mean over positives j of P at the end of j's tie
group, which is how it is computed here. The result does not depend on the
order of samples with equal scores (mmpretrain's AP does).

A class with no positive has no AP (NaN). Ignored cells (-1) are left out of
the ranking of their class, as if those samples were not there.

**Sample-wise AP** (:func:`sample_average_precision`) is the same AP of each
sample (row) over its classes, the "sample mAP" that Kobayashi (Two-way
Multi-Label Loss, CVPR 2023) reports beside the class mAP: rank the sample's
non-ignored labels by score, tie-grouped, and average the precision at the end
of each positive's tie group. A sample with no positive has no AP (NaN); one
with no negative has AP 1 (every ranking puts a positive first), as
scikit-learn's ``average_precision_score`` gives on its row. Per row it equals
scikit-learn's ``label_ranking_average_precision_score`` of that row, which
differs only in counting a sample without a positive as 1.
:func:`sample_mean` averages it over the samples that have one, with optional
per-sample weights (bootstrap counts): the one reduction of the point estimate
and of every replicate.
"""
import warnings
from typing import Optional, Sequence

import torch

from .bootstrap import check_counts, replicate_sums
from .checks import check_int, check_scores_target, shown_names
from .tie_groups import by_class_chunks, previous_in_row, tie_groups


def _rows_average_precision(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """AP of each row of (c, N) ``scores`` / ``target``, NaN for no positive."""
    groups = tie_groups(scores, target)
    precision = groups.tp.double() / groups.counted.clamp(min=1)
    # the positives of a group share the precision at its end
    new_positives = groups.tp - previous_in_row(groups.tp, groups.rows)
    ap_sum = torch.zeros(scores.shape[0], dtype=torch.float64).index_add_(
        0, groups.rows, new_positives * precision)
    n_pos = groups.n_pos.double()
    return torch.where(n_pos > 0, ap_sum / n_pos.clamp(min=1), torch.full_like(ap_sum, float('nan')))


def average_precision(scores: torch.Tensor, target: torch.Tensor,
                      chunk_size: Optional[int] = None, validate_args: bool = True) -> torch.Tensor:
    """Average precision of every class, tie-exact, NaN for a class with no positive.

    Args:
        scores (torch.Tensor): (N, C) scores; only their order matters.
        target (torch.Tensor): (N, C) with 1 / 0 / -1 (ignored).
        chunk_size (int, optional): Classes ranked together. Defaults to
            :func:`~mmml_ext.functional.tie_groups.classes_per_chunk`: their
            working memory stays within a quarter of the raw predictions.
        validate_args (bool): Check the arguments first. Defaults to True.

    Returns:
        torch.Tensor: (C,) float64 AP in [0, 1], NaN where a class has no
        positive.

    Examples:
        >>> scores = torch.tensor([[0.9], [0.5], [0.5], [0.1]])
        >>> target = torch.tensor([[1], [1], [0], [1]])
        >>> average_precision(scores, target)  # (1/3)*1 + (1/3)*(2/3) + (1/3)*(3/4)
        tensor([0.8056], dtype=torch.float64)
    """
    if validate_args:
        check_scores_target(scores, target)
    check_int(chunk_size, 'chunk_size', optional=True)
    return by_class_chunks(_rows_average_precision, scores, target, chunk_size)


def mean_average_precision(ap: torch.Tensor, classes: Optional[Sequence[str]] = None,
                           empty_as_zero: bool = False, warn: bool = True) -> float:
    """Mean of per-class AP, leaving out (by default) classes with no positive.

    Args:
        ap (torch.Tensor): (C,) AP from :func:`average_precision`, NaN for
            classes with no positive.
        classes (Sequence[str], optional): Class names for the warning.
        empty_as_zero (bool): Count classes with no positive as AP 0
            (mmpretrain's and scikit-learn's habit) instead of leaving them out.
        warn (bool): Name the classes with no positive in a warning.
            Defaults to True.

    Returns:
        float: mAP in [0, 1]; NaN when no class has a positive and
        ``empty_as_zero`` is False.
    """
    empty = torch.isnan(ap)
    if bool(empty.any()) and warn:
        idx = empty.nonzero().flatten().tolist()
        names = [classes[i] for i in idx] if classes is not None else idx
        shown = shown_names(names)
        how = 'counted as AP 0' if empty_as_zero else 'left out of the mean'
        warnings.warn(f'{len(idx)} class(es) have no positive sample and no AP, {how}: {shown}')
    return float(class_mean(ap, empty_as_zero))


def class_mean(values: torch.Tensor, include_absent: bool = False) -> torch.Tensor:
    """The class mean of per-class values, NaN for a class with no positive (no value).

    One rule for the point estimate and for every bootstrap replicate: a class
    without a value is left out of the mean, or counted as 0 with
    ``include_absent`` (``absent_classes='include'``).

    Args:
        values (torch.Tensor): (..., C) per-class values, NaN where a class
            has none (e.g. AP, or AP in each replicate).
        include_absent (bool): Count a NaN as 0. Defaults to False.

    Returns:
        torch.Tensor: (...) float64 means; NaN where no class has a value and
        ``include_absent`` is False.

    Examples:
        >>> ap = torch.tensor([[0.5, float('nan')], [1.0, 0.5]], dtype=torch.float64)
        >>> class_mean(ap).tolist(), class_mean(ap, include_absent=True).tolist()
        ([0.5, 0.75], [0.25, 0.75])
    """
    values = values.double()
    if include_absent:
        return torch.nan_to_num(values, nan=0.0).mean(dim=-1)
    return torch.nanmean(values, dim=-1)


def sample_average_precision(scores: torch.Tensor, target: torch.Tensor,
                             chunk_size: Optional[int] = None,
                             validate_args: bool = True) -> torch.Tensor:
    """Average precision of every sample (row) over its classes, tie-exact; NaN without a positive.

    The AP of :func:`average_precision` taken along the rows: for sample i with
    positive labels Y_i among its non-ignored ones (ignored cells take part in
    nothing),

        AP_i = (1 / |Y_i|) sum_{j in Y_i} |{k in Y_i : s_ik >= s_ij}| / |{k counted : s_ik >= s_ij}|

    which is scikit-learn's ``average_precision_score(target[i], scores[i])``
    over the non-ignored cells of the row (tied scores grouped, no
    interpolation, independent of the order of the classes). A row with no
    positive has no AP (NaN); a row with a positive and no negative has AP 1.
    Rows are ranked in chunks (one integer sort per chunk, no loop over rows).

    Args:
        scores (torch.Tensor): (N, C) scores; only their order within a row matters.
        target (torch.Tensor): (N, C) with 1 / 0 / -1 (ignored), or bool.
        chunk_size (int, optional): Rows ranked together. Defaults to as many
            as keep their working memory within a quarter of the raw
            predictions (:func:`~mmml_ext.functional.tie_groups.classes_per_chunk`
            of the transposed matrix).
        validate_args (bool): Check the arguments first. Defaults to True.

    Returns:
        torch.Tensor: (N,) float64 AP in [0, 1], NaN where a row has no positive.

    Examples:
        >>> scores = torch.tensor([[0.9, 0.5, 0.5, 0.1], [0.2, 0.8, 0.4, 0.6],
        ...                        [0.3, 0.3, 0.3, 0.3], [0.1, 0.9, 0.5, 0.7]])
        >>> target = torch.tensor([[1, 1, 0, 1], [1, 1, 1, -1], [0, 0, 0, 0], [0, 1, -1, 0]])
        >>> sample_average_precision(scores, target)  # row 0: (1/3)*1 + (1/3)*(2/3) + (1/3)*(3/4)
        tensor([0.8056, 1.0000,    nan, 1.0000], dtype=torch.float64)
    """
    if validate_args:
        check_scores_target(scores, target)
    check_int(chunk_size, 'chunk_size', optional=True)
    if len(scores) == 0:  # a process of a sharded evaluation may hold no row
        return torch.zeros(0, dtype=torch.float64)
    # the class AP's chunking of the transposed matrices: chunks of rows, each (rows, C)
    return by_class_chunks(_rows_average_precision, scores.t(), target.t(), chunk_size)


def sample_mean(values: torch.Tensor, weights: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The mean of per-sample values over the samples that have one (not NaN), optionally weighted.

    The one reduction of sample mAP, for the point estimate (``weights=None``:
    each sample once) and for bootstrap replicates (row b of ``weights``: how
    many times replicate b draws each sample, so that the replicate's value is
    that of the resampled samples, with no sample ranked again)::

        mean_b = sum_i w_bi v_i [v_i has a value] / sum_i w_bi [v_i has a value]

    Args:
        values (torch.Tensor): (N,) per-sample values, NaN where a sample has
            none (e.g. :func:`sample_average_precision`).
        weights (torch.Tensor, optional): (N,) or (B, N) finite, non-negative
            weights. Defaults to None (every sample once).

    Returns:
        torch.Tensor: float64, () for no or (N,) weights, (B,) for (B, N); NaN
        where no sample with a value has weight.

    Examples:
        >>> ap = torch.tensor([0.5, float('nan'), 1.0], dtype=torch.float64)
        >>> sample_mean(ap).item(), sample_mean(ap, torch.tensor([[2, 5, 0], [0, 1, 0]])).tolist()
        (0.75, [0.5, nan])
    """
    if not isinstance(values, torch.Tensor) or values.dim() != 1 or not values.is_floating_point():
        got = (f'{values.dtype} {tuple(values.shape)}' if isinstance(values, torch.Tensor)
               else type(values).__name__)
        raise ValueError(f'values must be an (N,) floating point tensor of per-sample values, '
                         f'got {got}')
    values = values.double()
    has = ~torch.isnan(values)
    if weights is None:
        # numpy's pairwise sum: the same float64 bits whatever the number of threads (a sharded
        # evaluation reduces the same (N,) values in dataset order on every process)
        total = values[has].cpu().numpy().sum()
        count = int(has.sum())
        return torch.tensor(total / count if count else float('nan'), dtype=torch.float64)
    single = isinstance(weights, torch.Tensor) and weights.dim() == 1
    weights = weights[None] if single else weights
    check_counts(weights, len(values), 'weights')
    columns = torch.stack([torch.where(has, values, torch.zeros_like(values)), has.double()], 1)
    total, count = replicate_sums(weights, columns).unbind(1)
    out = torch.where(count > 0, total / count.clamp(min=1e-300),
                      torch.full_like(total, float('nan')))
    return out[0] if single else out
