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
from typing import Dict

import torch

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


def exact_matches(pred: torch.Tensor, target: torch.Tensor, validate_args: bool = True):
    """Per sample: whether its predicted set is its true set (over its non-ignored labels),
    and whether it counts (it has a non-ignored label): the terms of subset accuracy.

    Returns:
        tuple: (N,) bool matches, (N,) bool counted.
    """
    if validate_args:
        _check(pred, target)
    terms = example_terms(pred, target)
    return terms['n_wrong'] == 0, _counted(terms)


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
    counted = _counted(terms)
    hits, n_pred, n_true = terms['hits'], terms['n_pred'], terms['n_true']
    union = n_pred + n_true - hits
    empty = union == 0
    jaccard = torch.where(empty, torch.full_like(hits, zero_division), hits / union.clamp(min=1))
    f1 = torch.where(empty, torch.full_like(hits, zero_division),
                     2 * hits / (n_pred + n_true).clamp(min=1))
    hamming_accuracy = 1 - terms['n_wrong'].sum().double() / terms['n_valid'].sum()
    n_wrong, jaccard, f1 = terms['n_wrong'][counted], jaccard[counted], f1[counted]
    return dict(
        subset_accuracy=float((n_wrong == 0).double().mean()),
        hamming_accuracy=float(hamming_accuracy),
        hamming_loss=float(1 - hamming_accuracy),
        jaccard=float(jaccard.mean()),
        example_f1=float(f1.mean()),
    )
