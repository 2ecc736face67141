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
"""
import warnings
from typing import Optional, Sequence

import torch

from .checks import check_scores_target, shown_names
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
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f'chunk_size must be an int >= 1, got {chunk_size!r}')
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
