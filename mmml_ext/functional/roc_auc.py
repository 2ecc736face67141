"""Area under the ROC curve of each class, exact under tied scores.

For one class with P positives and Q negatives among its non-ignored samples::

    AUROC = (1 / (P Q)) sum_{i positive} sum_{j negative} ([s_i > s_j] + 0.5 [s_i = s_j])

the probability that a random positive scores above a random negative, a tie
counting one half (the Mann-Whitney statistic). It equals scikit-learn's
``roc_auc_score`` (the trapezoidal area under the ROC curve, whose tied scores
are one point). A class with no positive or no negative has no AUROC: NaN.

Computed from the tie groups of each class (:mod:`~mmml_ext.functional.tie_groups`,
one ranking): with pos_g and neg_g the positives and negatives of tie group g
and NEG_<g the negatives below it, ``AUROC = sum_g pos_g (NEG_<g + neg_g / 2) / (P Q)``.
The bootstrap's replicate form is
:func:`~mmml_ext.functional.bootstrap.bootstrap_roc_auc`.
"""
import torch

from .checks import check_scores_target
from .tie_groups import by_class_chunks, previous_in_row, tie_groups


def _rows_roc_auc(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(R,) float64 AUROC of each row of (R, M) scores and 1 / 0 / -1 target."""
    groups = tie_groups(scores, target)
    rows = groups.rows
    tp = groups.tp.double()
    negative_ge = groups.counted.double() - tp  # negatives scoring >= the group's score
    positive = tp - previous_in_row(tp, rows)
    negative = negative_ge - previous_in_row(negative_ge, rows)
    num_rows = scores.shape[0]
    total_negative = (target == 0).sum(dim=1, dtype=torch.float64).to(tp.device)
    below = total_negative[rows] - negative_ge
    wins = torch.zeros(num_rows, dtype=torch.float64).index_add_(
        0, rows, positive * (below + 0.5 * negative))
    pairs = groups.n_pos.double() * total_negative
    return torch.where(pairs > 0, wins / pairs.clamp(min=1), torch.full_like(wins, float('nan')))


def roc_auc(scores: torch.Tensor, target: torch.Tensor, validate_args: bool = True) -> torch.Tensor:
    """AUROC of every class, tie-exact (scikit-learn's ``roc_auc_score`` per column).

    Args:
        scores (torch.Tensor): (N, C) finite scores; only their order matters.
        target (torch.Tensor): (N, C) with 1 / 0 / -1 (ignored: left out of
            its class), any integer or bool dtype.
        validate_args (bool): Check the arguments first. Defaults to True.

    Returns:
        torch.Tensor: (C,) float64 AUROC in [0, 1]; NaN for a class with no
        positive or no negative.

    Examples:
        >>> scores = torch.tensor([[0.9, 0.2], [0.5, 0.4], [0.5, 0.6], [0.1, 0.8]])
        >>> target = torch.tensor([[1, 1], [1, 1], [0, 1], [0, -1]])
        >>> roc_auc(scores, target)
        tensor([0.8750,    nan], dtype=torch.float64)
    """
    if validate_args:
        check_scores_target(scores, target)
    return by_class_chunks(_rows_roc_auc, scores, target)
