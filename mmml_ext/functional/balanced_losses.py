"""Class-frequency-aware pieces of the class-balanced and distribution-balanced losses.

Class-balanced loss (Cui et al. 2019): with n_c training images of class c, the
effective number of samples is (1 - beta^n_c) / (1 - beta), and class c is
weighted by its inverse,

    w_c = (1 - beta) / (1 - beta^n_c),    normalised so that sum_c w_c = C.

Distribution-balanced loss (Wu et al. 2020), for sample i with positive set Y_i:

- re-balanced weighting: the ratio of the class-level to the instance-level
  sampling probability, r_ic = (1/n_c) / sum_{k in Y_i} (1/n_k), smoothed as
  w_ic = sigmoid(map_beta (r_ic - map_gamma)) + map_alpha (a sample with no
  positive gets 1 + map_alpha);
- negative-tolerant regularisation: logits are shifted by a class prior,
  b_c = init_bias * logit(n_c / num_images) / neg_scale, then negative logits are
  scaled by ``neg_scale`` and their weight divided by it, so that the many easy
  negatives of a rare class are not pushed down as hard.
"""
from typing import Sequence, Tuple, Union

import torch
import torch.nn.functional as F

Counts = Union[Sequence[int], torch.Tensor]


def _counts_tensor(class_counts: Counts, device=None) -> torch.Tensor:
    counts = torch.as_tensor(class_counts, dtype=torch.float64, device=device)
    if counts.dim() != 1 or counts.numel() == 0:
        raise ValueError(f'class_counts must be a non-empty list, got shape {tuple(counts.shape)}')
    if bool((counts < 0).any()):
        raise ValueError(f'class_counts must be >= 0, got {counts.tolist()}')
    return counts


def effective_number_weights(class_counts: Counts, beta: float) -> torch.Tensor:
    """Class-balanced weights (1 - beta) / (1 - beta^n_c), summing to C.

    A class with no training image is weighted as one with a single image.

    Examples:
        >>> effective_number_weights([100, 10, 1], beta=0.9)
        tensor([0.2393, 0.3674, 2.3932], dtype=torch.float64)
    """
    if not 0 <= beta < 1:
        raise ValueError(f'beta must be in [0, 1), got {beta!r}')
    counts = _counts_tensor(class_counts).clamp(min=1)
    weights = (1 - beta) / (1 - torch.pow(torch.tensor(beta, dtype=torch.float64), counts))
    return weights * (len(weights) / weights.sum())


def rebalanced_weights(target: torch.Tensor, class_counts: Counts, map_alpha: float = 0.1,
                       map_beta: float = 10.0, map_gamma: float = 0.3) -> torch.Tensor:
    """Distribution-balanced re-balancing weights, (N, C) float32.

    Args:
        target (torch.Tensor): (N, C) targets in [0, 1].
        class_counts: Training images per class (C,).
        map_alpha, map_beta, map_gamma (float): The smoothing map
            sigmoid(beta (r - gamma)) + alpha.
    """
    inv = _inverse_counts_of(class_counts, target.shape[1]).to(target.device)
    return _rebalanced(target, inv, map_alpha, map_beta, map_gamma)


def inverse_counts(class_counts: Counts) -> torch.Tensor:
    """1 / n_c in float32, a class with no training image counted as one with one."""
    return (1.0 / _counts_tensor(class_counts).clamp(min=1)).to(torch.float32)


def _inverse_counts_of(class_counts: Counts, num_classes: int) -> torch.Tensor:
    """:func:`inverse_counts`, or a ValueError when they are not ``num_classes``."""
    inv = inverse_counts(class_counts)
    if inv.numel() != num_classes:
        raise ValueError(f'{inv.numel()} class counts for {num_classes} classes')
    return inv


def _rebalanced(target: torch.Tensor, inv: torch.Tensor, map_alpha: float, map_beta: float,
                map_gamma: float) -> torch.Tensor:
    """:func:`rebalanced_weights` from the (C,) float32 inverse counts on the target's device."""
    repeat_rate = (target.to(torch.float32) * inv).sum(dim=1, keepdim=True)
    ratio = inv / repeat_rate.clamp(min=torch.finfo(torch.float32).tiny)
    return torch.sigmoid(map_beta * (ratio - map_gamma)) + map_alpha


def prior_logit_bias(class_counts: Counts, num_images: int) -> torch.Tensor:
    """logit(pi_c) = -log((1 - pi_c) / pi_c), with pi_c = n_c / num_images, in float32.

    Classes in no or in every image get pi clamped into [1/(2N), 1 - 1/(2N)].
    """
    counts = _counts_tensor(class_counts)
    if not num_images or num_images < counts.max():
        raise ValueError(f'num_images ({num_images}) must be >= every class count '
                         f'(max {int(counts.max())})')
    half = 0.5 / num_images
    prior = (counts / num_images).clamp(half, 1 - half)
    return torch.logit(prior).to(torch.float32)


def negative_tolerant_logits(logits: torch.Tensor, target: torch.Tensor, bias: torch.Tensor,
                             neg_scale: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """Shift logits by ``bias``, scale the negatives by ``neg_scale``.

    Returns:
        tuple: the regularised logits, and the (N, C) factor of the loss weight
        (1 for positives, 1 / neg_scale for negatives). Soft targets interpolate.
    """
    if not neg_scale > 0:
        raise ValueError(f'neg_scale must be > 0, got {neg_scale!r}')
    shifted = logits + bias.to(logits.device, logits.dtype)
    scale = torch.lerp(torch.full_like(target, neg_scale), torch.ones_like(target), target)
    return shifted * scale, 1.0 / scale


def distribution_balanced_loss(logits: torch.Tensor, target: torch.Tensor, class_counts: Counts,
                               num_images: int, reweight: bool = True, map_alpha: float = 0.1,
                               map_beta: float = 10.0, map_gamma: float = 0.3,
                               init_bias: float = 0.05, neg_scale: float = 5.0,
                               focal: bool = True, gamma: float = 2.0,
                               balance_param: float = 2.0) -> torch.Tensor:
    """Element-wise distribution-balanced loss, (N, C) float32.

    BCE on the regularised logits, weighted by the re-balancing weights (if
    ``reweight``) and the negative-tolerant factor; with ``focal``, multiplied
    by balance_param * (1 - p_t)^gamma, p_t the probability of the true label
    under the regularised logits. Defaults: the VOC-MLT / COCO-MLT settings of
    the paper's configs.
    """
    if logits.shape != target.shape:
        raise ValueError(f'logits {tuple(logits.shape)} and target {tuple(target.shape)} '
                         'must have the same shape')
    inv = _inverse_counts_of(class_counts, target.shape[1])
    return distribution_balanced_from_terms(
        logits, target, inv.to(logits.device), prior_logit_bias(class_counts, num_images).to(
            logits.device), reweight=reweight, map_alpha=map_alpha, map_beta=map_beta,
        map_gamma=map_gamma, init_bias=init_bias, neg_scale=neg_scale, focal=focal, gamma=gamma,
        balance_param=balance_param)


def distribution_balanced_from_terms(logits: torch.Tensor, target: torch.Tensor,
                                     inv_counts: torch.Tensor, prior_logit: torch.Tensor,
                                     reweight: bool = True, map_alpha: float = 0.1,
                                     map_beta: float = 10.0, map_gamma: float = 0.3,
                                     init_bias: float = 0.05, neg_scale: float = 5.0,
                                     focal: bool = True, gamma: float = 2.0,
                                     balance_param: float = 2.0) -> torch.Tensor:
    """:func:`distribution_balanced_loss` from the class terms, computed once per run.

    ``inv_counts`` (:func:`inverse_counts`) and ``prior_logit``
    (:func:`prior_logit_bias`) are (C,) float32 tensors on the logits' device; the
    registered loss keeps them as buffers, so that a training step reads no count on the
    host (no copy, no ``torch.compile`` graph break).
    """
    if not gamma >= 0:
        raise ValueError(f'gamma must be >= 0, got {gamma!r}')
    dtype = torch.float64 if logits.dtype == torch.float64 else torch.float32
    with torch.autocast(device_type=logits.device.type, enabled=False):
        x, y = logits.to(dtype), target.to(dtype)
        weight = (_rebalanced(y, inv_counts, map_alpha, map_beta, map_gamma).to(dtype)
                  if reweight else torch.ones_like(x))
        bias = init_bias * prior_logit / neg_scale
        x, factor = negative_tolerant_logits(x, y, bias, neg_scale)
        bce = F.binary_cross_entropy_with_logits(x, y, reduction='none')
        loss = bce * weight * factor
        if focal:
            loss = balance_param * (-torch.expm1(-bce)).pow(gamma) * loss
        return loss
