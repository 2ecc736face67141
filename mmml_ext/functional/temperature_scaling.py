"""Per-class temperature scaling: probabilities that mean what they say, fitted on validation.

A model trained with a loss for imbalance ranks well but its scores are often
not frequencies (ASL pushes negatives down, focal loss flattens confident
scores). Temperature scaling (Guo et al., "On Calibration of Modern Neural
Networks", ICML 2017; per class, as the one-parameter case of Platt scaling)
rescales each class's logit ``z = logit(p)`` by an inverse temperature
``a_c > 0``::

    p' = sigmoid(a_c * z)

with ``a_c`` minimising the binary cross-entropy (negative log-likelihood) of
the class's non-ignored validation cells::

    NLL(a) = sum_i softplus(a z_i) - y_i a z_i

NLL is convex in ``a`` (its second derivative is ``sum z^2 s (1 - s)``, ``s`` the
scaled probability), so Newton's method from ``a = 1`` finds the minimum; all
classes are fitted at once. The map is increasing in ``z``, so it keeps every
ranking (AP, AUROC) and, with each threshold mapped the same way, every label
set: only the numbers change. Edge cases: a class with no positive or no
negative has no fit (NaN; applied as ``a = 1``, no change); a class whose
positives all score above its negatives has NLL decreasing without end, and its
``a`` stops at :data:`MAX_INVERSE_TEMPERATURE`.
"""
import torch

#: the range of the inverse temperature (a perfectly separated class stops at the top)
MIN_INVERSE_TEMPERATURE = 0.01
MAX_INVERSE_TEMPERATURE = 100.0
_EPS = 1e-7  # probabilities are clamped to [eps, 1 - eps] before the logit
_BLOCK_CELLS = 1 << 22  # cells of a block of classes fitted together (float64 work arrays)


def score_logits(scores: torch.Tensor) -> torch.Tensor:
    """``logit(p)`` in float64, with ``p`` clamped to [1e-7, 1 - 1e-7]."""
    return torch.logit(scores.double().clamp(_EPS, 1 - _EPS))


def fit_inverse_temperature(scores: torch.Tensor, target: torch.Tensor,
                            iterations: int = 100) -> torch.Tensor:
    """(C,) float64 inverse temperatures minimising each class's NLL; NaN where a class has no
    positive or no negative among its non-ignored cells.

    Args:
        scores (Tensor): (N, C) probabilities.
        target (Tensor): (N, C) with 1 / 0 / -1 (ignored).
        iterations (int): Newton steps at most (it stops when every step is below 1e-10
            of its value). Classes are fitted in blocks of about 4 M cells.

    Examples:
        >>> scores = torch.tensor([[0.9], [0.8], [0.3], [0.6]])
        >>> target = torch.tensor([[1], [1], [0], [0]])
        >>> a = fit_inverse_temperature(scores, target)
        >>> round(float(a[0]), 4)
        1.8703
    """
    if scores.shape != target.shape or scores.dim() != 2:
        raise ValueError(f'scores and target must be (N, C) of one shape, got '
                         f'{tuple(scores.shape)} and {tuple(target.shape)}')
    columns = max(1, _BLOCK_CELLS // max(scores.shape[0], 1))
    return torch.cat([_fit_block(scores[:, start:start + columns],
                                 target[:, start:start + columns], iterations)
                      for start in range(0, scores.shape[1], columns)]) \
        if scores.shape[1] else torch.zeros(0, dtype=torch.float64)


def _fit_block(scores: torch.Tensor, target: torch.Tensor, iterations: int) -> torch.Tensor:
    """:func:`fit_inverse_temperature` of a block of classes (float64 (N, c) work arrays)."""
    z = score_logits(scores)
    valid = (target >= 0).double()
    y = (target == 1).double()
    positives, negatives = (y * valid).sum(0), ((1 - y) * valid).sum(0)
    a = torch.ones(z.shape[1], dtype=torch.float64)
    # the iteration's constants: grad = sum vz s - sum vz y, hess = sum vz z s (1 - s)
    vz = valid * z
    vzz, vzy = vz * z, (vz * y).sum(0)
    for _ in range(iterations):
        s = torch.sigmoid(a * z)
        grad = (vz * s).sum(0) - vzy
        hess = (vzz * s * (1 - s)).sum(0)
        step = torch.where(hess > 0, grad / hess.clamp_min(1e-300), -a)  # flat: grow a
        new = (a - step).clamp(a / 4, a * 4)  # a damped Newton step keeps a > 0
        new = new.clamp(MIN_INVERSE_TEMPERATURE, MAX_INVERSE_TEMPERATURE)
        done = bool(((new - a).abs() <= 1e-10 * a).all())
        a = new
        if done:
            break
    # every positive above every negative: the NLL falls without end as a grows
    lowest_positive = torch.where((y * valid) > 0, z, torch.inf).amin(0)
    highest_negative = torch.where(((1 - y) * valid) > 0, z, -torch.inf).amax(0)
    a = a.masked_fill(lowest_positive > highest_negative, MAX_INVERSE_TEMPERATURE)
    return a.masked_fill((positives == 0) | (negatives == 0), float('nan'))


def apply_inverse_temperature(scores: torch.Tensor, inverse_temperature: torch.Tensor
                              ) -> torch.Tensor:
    """``sigmoid(a_c logit(p))`` in the scores' dtype; a NaN ``a_c`` leaves its class as it is.

    Args:
        scores (Tensor): (..., C) probabilities.
        inverse_temperature (Tensor): (C,).
    """
    if inverse_temperature.shape != scores.shape[-1:]:
        raise ValueError(f'{inverse_temperature.numel()} inverse temperatures for '
                         f'{scores.shape[-1]} classes')
    a = torch.nan_to_num(inverse_temperature.double(), nan=1.0)
    return torch.sigmoid(a * score_logits(scores)).to(scores.dtype)
