"""Ranking metrics of multi-label scores, with scikit-learn's semantics.

Per sample i, over its non-ignored labels, with Y_i its positive labels and
``rank_i(j) = |{k : s_ik >= s_ij}|`` (ties share the worse rank):

    LRAP         = mean_i  1/|Y_i| sum_{j in Y_i} |{k in Y_i : s_ik >= s_ij}| / rank_i(j)
                   (1 for a sample with no positive, or with no negative)
    coverage     = mean_i  max_{j in Y_i} rank_i(j)          (0 for a sample with no positive)
    ranking loss = mean_i  |{(j, k) : j in Y_i, k not in Y_i, s_ik >= s_ij}| / (|Y_i| |not Y_i|)
                   (0 for a sample with no positive, or with no negative)
    one-error    = mean over samples with a positive of [the top-scored label is
                   not positive], ties going to the lower class index

These are ``label_ranking_average_precision_score``, ``coverage_error`` and
``label_ranking_loss`` of scikit-learn; scikit-learn has no one-error. Ignored
labels are dropped from their sample; a sample whose labels are all ignored
takes part in nothing.
"""
from typing import Dict

import torch

from .checks import check_scores_target
from .confusion import topk_mask


def ranking_metrics(scores: torch.Tensor, target: torch.Tensor) -> Dict[str, float]:
    """LRAP, coverage error, ranking loss and one-error of (N, C) scores.

    Args:
        scores (torch.Tensor): (N, C) scores.
        target (torch.Tensor): (N, C) with 1 / 0 / -1 (ignored).

    Returns:
        dict: ``lrap``, ``coverage_error``, ``ranking_loss``, ``one_error``
        (coverage in labels, the others fractions).

    Examples:
        >>> scores = torch.tensor([[0.75, 0.5, 1.0], [1.0, 0.2, 0.1]])
        >>> target = torch.tensor([[1, 0, 0], [0, 0, 1]])
        >>> {k: round(v, 4) for k, v in ranking_metrics(scores, target).items()}
        {'lrap': 0.4167, 'coverage_error': 2.5, 'ranking_loss': 0.75, 'one_error': 1.0}
    """
    check_scores_target(scores, target)
    return reduce_ranking_terms(ranking_terms(scores, target))


def ranking_terms(scores: torch.Tensor, target: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Per sample: its LRAP, coverage, ranking loss and top label, from its own row only.

    Returns:
        dict: (N,) tensors ``lrap``, ``ranking_loss`` (float64), ``coverage``
        (int64), ``counted`` (a non-ignored label), ``has_pos`` and
        ``top_is_positive`` (bool).
    """
    valid = target >= 0
    positive = target == 1
    scores = scores.double()
    inf = torch.tensor(float('inf'), dtype=scores.dtype)
    n_valid = valid.sum(dim=1)
    n_pos = positive.sum(dim=1)
    n_neg = n_valid - n_pos
    num_classes = scores.shape[1]

    # rank among the sample's labels: how many valid labels score >= s_ij
    all_sorted = torch.where(valid, scores, -inf).sort(dim=1).values
    rank = num_classes - torch.searchsorted(all_sorted, scores, side='left')
    # the same among its positive labels only
    pos_sorted = torch.where(positive, scores, -inf).sort(dim=1).values
    rank_in_pos = num_classes - torch.searchsorted(pos_sorted, scores, side='left')

    ratio = torch.where(positive, rank_in_pos.double() / rank.clamp(min=1), torch.zeros_like(scores))
    lrap = torch.where((n_pos > 0) & (n_neg > 0), ratio.sum(dim=1) / n_pos.clamp(min=1),
                       torch.ones_like(ratio[:, 0]))

    coverage = torch.where(positive, rank, torch.zeros_like(rank)).max(dim=1).values \
        if num_classes else torch.zeros(len(scores), dtype=torch.int64)

    # for each negative label k: positives j with s_ij <= s_ik (mis-ordered pairs)
    pos_sorted_high = torch.where(positive, scores, inf).sort(dim=1).values
    below = torch.searchsorted(pos_sorted_high, scores, side='right')
    wrong_pairs = torch.where(valid & ~positive, below, torch.zeros_like(below)).sum(dim=1)
    ranking_loss = torch.where((n_pos > 0) & (n_neg > 0),
                               wrong_pairs.double() / (n_pos * n_neg).clamp(min=1),
                               torch.zeros_like(wrong_pairs, dtype=scores.dtype))

    top = topk_mask(scores, 1, valid)  # the top-k rule of the predictions: ignored labels last
    return dict(lrap=lrap, coverage=coverage, ranking_loss=ranking_loss,
                counted=valid.any(dim=1), has_pos=n_pos > 0,
                top_is_positive=(top & positive).any(dim=1))


def reduce_ranking_terms(terms: Dict[str, torch.Tensor]) -> Dict[str, float]:
    """The ranking metrics from :func:`ranking_terms` of all samples, in dataset order."""
    counted, has_pos = terms['counted'], terms['has_pos']
    if not bool(counted.any()):
        raise ValueError('no sample has a non-ignored label: nothing to rank')
    one_error = ((~terms['top_is_positive'][has_pos]).double().mean() if bool(has_pos.any())
                 else torch.tensor(float('nan')))
    return dict(
        lrap=float(terms['lrap'][counted].mean()),
        coverage_error=float(terms['coverage'][counted].double().mean()),
        ranking_loss=float(terms['ranking_loss'][counted].mean()),
        one_error=float(one_error),
    )
