"""Example-based multi-label metrics: each sample scored on its own, then averaged.

With P_i the predicted and T_i the true label set of sample i, over its
non-ignored labels:

    subset accuracy   = mean_i [P_i == T_i]                 (exact match)
    Hamming accuracy  = correct cells / all cells            (Keras binary_accuracy)
    Hamming loss      = 1 - Hamming accuracy                 (scikit-learn hamming_loss)
    Jaccard           = mean_i |P_i & T_i| / |P_i | T_i|      (scikit-learn average='samples')
    example F1        = mean_i 2 |P_i & T_i| / (|P_i| + |T_i|)  (scikit-learn f1 average='samples')

A sample whose every label is ignored takes part in nothing. For Jaccard and
example F1 a sample with P_i and T_i both empty scores ``zero_division``
(0 by default, as scikit-learn).
"""
from typing import Dict, Optional

import torch

from .bootstrap import replicate_sums
from .checks import check_target, count_true, has_ignored


def _check(pred: torch.Tensor, target: torch.Tensor) -> None:
    """Check the inputs: bool predictions, a valid target of their shape, a sample to count."""
    if not isinstance(pred, torch.Tensor) or pred.dtype != torch.bool or pred.dim() != 2:
        raise ValueError('pred must be a 2-D bool tensor of predictions, got '
                         f'{getattr(pred, "dtype", type(pred).__name__)} '
                         f'{tuple(getattr(pred, "shape", ()))}')
    check_target(target, pred.shape)
    if pred.shape[0] == 0:
        raise ValueError('pred holds no sample')


def example_terms(pred: torch.Tensor, target: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Per sample, over its non-ignored labels: the terms that the example-based metrics average.

    Each sample's terms depend on its own row only, so the terms of the parts
    of a split evaluation, put in dataset order, are those of the whole.

    Returns:
        dict: (N,) tensors ``n_wrong`` and ``n_valid`` (int64: wrong and
        non-ignored cells), ``hits``, ``n_pred``, ``n_true`` (float64: true
        positives, predicted and true labels).
    """
    positive = target if target.dtype == torch.bool else target == 1
    if has_ignored(target):
        valid = target >= 0
        pred = pred & valid
        n_valid = count_true(valid, 1)
    else:
        n_valid = torch.full((pred.shape[0], ), pred.shape[1], dtype=torch.int64)
    return dict(n_wrong=count_true(pred ^ positive, 1),  # ignored cells are False in both
                n_valid=n_valid,
                hits=count_true(pred & positive, 1).double(),
                n_pred=count_true(pred, 1).double(),
                n_true=count_true(positive, 1).double())


def _counted(terms: Dict[str, torch.Tensor]) -> torch.Tensor:
    """The samples that count (with a non-ignored label); ValueError when none does."""
    counted = terms['n_valid'] > 0
    if not bool(counted.any()):
        raise ValueError('no sample has a non-ignored label: nothing to measure')
    return counted


def example_based_metrics(pred: torch.Tensor, target: torch.Tensor, zero_division: float = 0.0,
                          validate_args: bool = True) -> Dict[str, float]:
    """All example-based metrics at once, as fractions.

    Args:
        pred (torch.Tensor): (N, C) bool predictions.
        target (torch.Tensor): (N, C) with 1 / 0 / -1 (ignored).
        zero_division (float): Jaccard / example F1 of a sample with no
            predicted and no true label. Defaults to 0.
        validate_args (bool): Check the arguments first. Defaults to True.

    Returns:
        dict: ``subset_accuracy``, ``hamming_accuracy``, ``hamming_loss``,
        ``jaccard``, ``example_f1``.

    Examples:
        >>> pred = torch.tensor([[1, 0, 1], [1, 1, 0]]).bool()
        >>> target = torch.tensor([[1, 0, 1], [1, 0, 0]])
        >>> {k: round(v, 4) for k, v in example_based_metrics(pred, target).items()}
        {'subset_accuracy': 0.5, 'hamming_accuracy': 0.8333, 'hamming_loss': 0.1667, 'jaccard': 0.75, 'example_f1': 0.8333}
    """
    if validate_args:
        _check(pred, target)
    return reduce_example_terms(example_terms(pred, target), zero_division)


def reduce_example_terms(terms: Dict[str, torch.Tensor],
                         zero_division: float = 0.0) -> Dict[str, float]:
    """The example-based metrics (fractions) from :func:`example_terms` of all samples."""
    _counted(terms)  # a ValueError when no sample counts
    return {key: float(value[0]) for key, value in
            weighted_example_metrics(terms, None, zero_division).items()}


def weighted_example_metrics(terms: Dict[str, torch.Tensor], weights: Optional[torch.Tensor],
                             zero_division: float = 0.0) -> Dict[str, torch.Tensor]:
    """The example-based metrics of weighted samples, one row of weights per replicate.

    The one formula of the metrics, for the point estimate (``weights=None``,
    each sample once) and for bootstrap replicates (row b of ``weights``: how
    many times replicate b draws each sample): with w_i the weight of sample
    i and the sums over the samples that count,

        subset accuracy = sum_i w_i [P_i == T_i] / sum_i w_i
        Hamming accuracy = 1 - sum_i w_i wrong_i / sum_i w_i valid_i

    and Jaccard and example F1 as weighted means like subset accuracy.

    Args:
        terms (dict): :func:`example_terms` of the N samples.
        weights (torch.Tensor, optional): (B, N) non-negative weights.
            Defaults to None (one row of ones).
        zero_division (float): See :func:`example_based_metrics`.

    Returns:
        dict: the five metrics, each a (B,) float64 tensor of fractions (B = 1
        without ``weights``), NaN where a row weighs no sample that counts.

    Examples:
        >>> terms = example_terms(torch.tensor([[1, 0], [1, 1]]).bool(), torch.tensor([[1, 0], [0, 1]]))
        >>> weighted_example_metrics(terms, torch.tensor([[1, 1], [0, 2]]))['subset_accuracy']
        tensor([0.5000, 0.0000], dtype=torch.float64)
    """
    hits, n_pred, n_true = terms['hits'], terms['n_pred'], terms['n_true']
    counted = (terms['n_valid'] > 0).double()
    union = n_pred + n_true - hits
    empty = union == 0
    jaccard = torch.where(empty, torch.full_like(hits, zero_division), hits / union.clamp(min=1))
    f1 = torch.where(empty, torch.full_like(hits, zero_division),
                     2 * hits / (n_pred + n_true).clamp(min=1))
    columns = torch.stack([counted, (terms['n_wrong'] == 0).double() * counted,
                           jaccard * counted, f1 * counted, terms['n_wrong'].double(),
                           terms['n_valid'].double()], dim=1)  # (N, 6)
    if weights is None:
        sums = columns.sum(dim=0, keepdim=True)
    else:
        sums = replicate_sums(weights, columns)
    num, matched, jaccard, f1, wrong, valid = sums.unbind(dim=1)
    nan = torch.full_like(num, float('nan'))
    mean = lambda total: torch.where(num > 0, total / num.clamp(min=1e-300), nan)  # noqa: E731
    hamming_accuracy = torch.where(valid > 0, 1 - wrong / valid.clamp(min=1e-300), nan)
    return dict(subset_accuracy=mean(matched), hamming_accuracy=hamming_accuracy,
                hamming_loss=1 - hamming_accuracy, jaccard=mean(jaccard), example_f1=mean(f1))
