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


def _per_sample(pred: torch.Tensor, target: torch.Tensor):
    """Per sample over its non-ignored labels: wrong cells, hits, predicted and true labels,
    and whether it counts (None: every sample counts); and the number of counted cells."""
    positive = target if target.dtype == torch.bool else target == 1
    if has_ignored(target):
        valid = target >= 0
        counted = valid.any(dim=1)
        if not bool(counted.any()):
            raise ValueError('no sample has a non-ignored label: nothing to measure')
        pred = pred & valid
        n_cells = count_true(valid, 0).sum()
    else:
        counted = None
        n_cells = target.numel()
    n_wrong = count_true(pred ^ positive, 1)  # ignored cells are False in both
    hits = count_true(pred & positive, 1).double()
    n_pred, n_true = count_true(pred, 1).double(), count_true(positive, 1).double()
    return n_wrong, hits, n_pred, n_true, counted, n_cells


def exact_matches(pred: torch.Tensor, target: torch.Tensor, validate_args: bool = True):
    """Per sample: whether its predicted set is its true set (over its non-ignored labels),
    and whether it counts (it has a non-ignored label): the terms of subset accuracy.

    Returns:
        tuple: (N,) bool matches, (N,) bool counted.
    """
    if validate_args:
        _check(pred, target)
    n_wrong, _, _, _, counted, _ = _per_sample(pred, target)
    if counted is None:
        counted = torch.ones(len(n_wrong), dtype=torch.bool)
    return n_wrong == 0, counted


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
    n_wrong, hits, n_pred, n_true, counted, n_cells = _per_sample(pred, target)
    union = n_pred + n_true - hits
    empty = union == 0
    jaccard = torch.where(empty, torch.full_like(hits, zero_division), hits / union.clamp(min=1))
    f1 = torch.where(empty, torch.full_like(hits, zero_division),
                     2 * hits / (n_pred + n_true).clamp(min=1))
    hamming_accuracy = 1 - n_wrong.sum().double() / n_cells
    if counted is not None:
        n_wrong, jaccard, f1 = n_wrong[counted], jaccard[counted], f1[counted]
    return dict(
        subset_accuracy=float((n_wrong == 0).double().mean()),
        hamming_accuracy=float(hamming_accuracy),
        hamming_loss=float(1 - hamming_accuracy),
        jaccard=float(jaccard.mean()),
        example_f1=float(f1.mean()),
    )
