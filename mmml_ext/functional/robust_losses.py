"""Hill and SPLC losses for missing labels (Zhang et al. 2021, arXiv 2112.07368).

Both are written for training data where a missing positive looks like a
negative. Element-wise, from logits x, p = sigmoid(x), target y in [0, 1]
(y interpolates between the positive and the negative term), with the
focal-margin positive term shared by both,

    L+(z) = -(1 - sigmoid(z))^gamma log sigmoid(z),   z = x - m

**Hill**: a negative's loss is shaped like a hill in p, (lambda - p) p^2, with
derivative 3 p (1 - p) at lambda = 1.5: largest at p = 0.5, small for the
confident "negatives" (p near 1) that are likely missing positives:

    L = y L+(x - m) + (1 - y) (lambda - p) p^2

**SPLC** (self-paced loss correction): a negative that the model scores above
tau is taken for a missing positive, once training has warmed up:

    L = y L+(x - m) + (1 - y) [ L+(x)                          if correct and p > tau
                                -p^gamma log(1 - p)            otherwise ]

The pseudo-positive gets the positive term without the margin; the others
plain focal loss. ``correct`` is False before ``change_epoch``. Nothing is
detached (the paper's code), except that the choice of pseudo-positives, a
comparison, has no gradient. Defaults (the paper's code): lambda = 1.5,
m = 1, gamma = 2, tau = 0.6, change_epoch = 1 (epochs counted from 0, so the
correction starts in the second epoch).

Computed in float32 (float64 for float64 logits) with log-sigmoid, and the
focusing weights as exp(gamma log-sigmoid), so loss and gradient are finite
at logits of +-1e4 for any gamma >= 0.
"""
import numbers

import torch
import torch.nn.functional as F

from .bce_loss import loss_dtype


def _number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_robust_args(margin: float, gamma: float, lamb: float = 1.5, tau: float = 0.6) -> None:
    """ValueError naming the first argument out of its range."""
    if not _number(margin) or not margin >= 0:
        raise ValueError(f'margin must be a number >= 0, got {margin!r}')
    if not _number(gamma) or not gamma >= 0:
        raise ValueError(f'gamma must be a number >= 0, got {gamma!r}')
    if not _number(lamb) or not lamb >= 1:
        raise ValueError(f'lamb must be a number >= 1 (the negative term (lamb - p) p^2 must '
                         f'not be negative for p in [0, 1]), got {lamb!r}')
    if not _number(tau) or not 0 < tau < 1:
        raise ValueError(f'tau must be a probability in (0, 1), got {tau!r}')


def _focal_positive(z: torch.Tensor, gamma: float) -> torch.Tensor:
    """-(1 - sigmoid(z))^gamma log sigmoid(z), finite for any z."""
    nll = F.softplus(-z)  # -log sigmoid(z)
    if gamma == 0:
        return nll
    return torch.exp(gamma * F.logsigmoid(-z)) * nll


def _focal_negative(x: torch.Tensor, gamma: float) -> torch.Tensor:
    """-p^gamma log(1 - p), finite for any x."""
    nll = F.softplus(x)  # -log(1 - sigmoid(x))
    if gamma == 0:
        return nll
    return torch.exp(gamma * F.logsigmoid(x)) * nll


def hill_loss(logits: torch.Tensor, target: torch.Tensor, lamb: float = 1.5, margin: float = 1.0,
              gamma: float = 2.0) -> torch.Tensor:
    """(N, C) element-wise Hill loss of logits and targets in [0, 1].

    Examples:
        >>> x = torch.tensor([[1.0, 0.0]])
        >>> hill_loss(x, torch.tensor([[1.0, 0.0]]))  # 0.5^2 log 2 and (1.5 - 0.5) 0.5^2
        tensor([[0.1733, 0.2500]])
    """
    check_robust_args(margin, gamma, lamb)
    dtype = loss_dtype(logits)
    with torch.autocast(device_type=logits.device.type, enabled=False):
        x, y = logits.to(dtype), target.to(dtype)
        positive = _focal_positive(x - margin, gamma)
        p = torch.sigmoid(x)
        negative = (lamb - p) * p * p
        return torch.lerp(negative, positive, y)


def splc_loss(logits: torch.Tensor, target: torch.Tensor, tau: float = 0.6, margin: float = 1.0,
              gamma: float = 2.0, correct: bool = True) -> torch.Tensor:
    """(N, C) element-wise SPLC loss of logits and targets in [0, 1].

    Args:
        logits (torch.Tensor): (N, C) logits.
        target (torch.Tensor): (N, C) targets in [0, 1].
        tau (float): A negative scored above ``tau`` is a pseudo-positive.
        margin (float): Logit margin of the (given) positives.
        gamma (float): Focusing parameter of both terms.
        correct (bool): Whether pseudo-positives are taken (from the
            ``change_epoch`` of :class:`SPLCLoss` on).

    Examples:
        >>> x, y = torch.tensor([[2.0]]), torch.tensor([[0.0]])  # p = 0.88 > 0.6
        >>> splc_loss(x, y, correct=False)  # p^2 (-log(1 - p))
        tensor([[1.6501]])
        >>> splc_loss(x, y, correct=True)  # (1 - p)^2 (-log p)
        tensor([[0.0018]])
    """
    check_robust_args(margin, gamma, tau=tau)
    dtype = loss_dtype(logits)
    with torch.autocast(device_type=logits.device.type, enabled=False):
        x, y = logits.to(dtype), target.to(dtype)
        positive = _focal_positive(x - margin, gamma)
        negative = _focal_negative(x, gamma)
        if correct:
            pseudo = torch.sigmoid(x.detach()) > tau
            negative = torch.where(pseudo, _focal_positive(x, gamma), negative)
        return torch.lerp(negative, positive, y)
