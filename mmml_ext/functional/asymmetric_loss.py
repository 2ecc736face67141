"""Asymmetric loss (ASL, Ridnik et al. 2021), fused: one pass forward, closed-form backward.

Element-wise, from logits x with p = sigmoid(x), target y in [0, 1]:

    L+ = -(1 - p)^g+ log p
    L- = -p_m^g- log(1 - p_m),      p_m = max(p - clip, 0)
    L  = y L+ + (1 - y) L-

As in the official code, the argument of each log is clamped below at ``eps``.
Logs come from log-sigmoid, so nothing overflows at logits of +-1e4, and
everything is computed in float32 (float64 for float64 input) whatever the
autocast context. With ``detach_focal_weight`` the focusing weights (1-p)^g+
and p_m^g- carry no gradient (the official ``disable_torch_grad_focal_loss``),
without touching the global grad mode.

The backward pass is the closed form, with q = 1 - p and the clamped logs
written l+ and l-:

    dL+/dx = g+ p q^g+ l+ - q^(g+ + 1) [log p > log eps]
    dL-/dx = (-g- p_m^(g- - 1) l- + p_m^g- / (1 - p_m)) p q [p > clip]

(the terms with g+ / g- are dropped when the weights are detached). This saves
autograd from storing a dozen intermediates and is about twice as fast as the
plain formula; ``asymmetric_loss_reference`` is that plain formula, for tests.
"""
import math

import torch
import torch.nn.functional as F


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _terms(x: torch.Tensor, gamma_pos: float, gamma_neg: float, clip: float, eps: float):
    """p, q, clamped logs and weights, shared by forward and backward."""
    log_p, log_q = F.logsigmoid(x), F.logsigmoid(-x)
    p, q = log_p.exp(), log_q.exp()
    log_eps = math.log(eps) if eps > 0 else -math.inf
    pos_log = log_p.clamp(min=log_eps)
    if clip > 0:
        p_m = (p - clip).clamp(min=0)
        one_minus_pm = (q + clip).clamp(max=1)
        neg_log_raw = one_minus_pm.log()
    else:
        p_m, one_minus_pm, neg_log_raw = p, q, log_q
    neg_log = neg_log_raw.clamp(min=log_eps)
    w_pos = (gamma_pos * log_q).exp() if gamma_pos else torch.ones_like(p)
    w_neg = p_m.pow(gamma_neg) if gamma_neg else torch.ones_like(p)
    return (p, q, log_p > log_eps, pos_log, p_m, one_minus_pm, neg_log_raw > log_eps, neg_log,
            w_pos, w_neg)


class _FusedAsymmetricLoss(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x, y, gamma_pos, gamma_neg, clip, eps, detach_weight):
        (_, _, _, pos_log, _, _, _, neg_log, w_pos, w_neg) = _terms(x, gamma_pos, gamma_neg,
                                                                    clip, eps)
        loss_pos, loss_neg = -w_pos * pos_log, -w_neg * neg_log
        ctx.save_for_backward(x, y)
        ctx.params = (gamma_pos, gamma_neg, clip, eps, detach_weight)
        return torch.lerp(loss_neg, loss_pos, y)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        gamma_pos, gamma_neg, clip, eps, detach_weight = ctx.params
        (p, q, pos_unclamped, pos_log, p_m, one_minus_pm, neg_unclamped, neg_log, w_pos,
         w_neg) = _terms(x, gamma_pos, gamma_neg, clip, eps)
        pq = p * q
        # positive term -w+ l+: w+ = q^g+, dw+/dx = -g+ p w+, dl+/dx = q where unclamped
        d_pos = -w_pos * q * pos_unclamped
        # negative term -w- l-: w- = p_m^g-, dp_m/dx = pq where p > clip,
        # dl-/dx = -pq / (1 - p_m) where unclamped
        if clip > 0:
            d_neg = torch.where(p > clip, w_neg * pq / one_minus_pm, torch.zeros_like(p))
        else:
            d_neg = w_neg * p  # pq / q, written without dividing by q
        d_neg = d_neg * neg_unclamped
        if not detach_weight:
            if gamma_pos:
                d_pos = d_pos + gamma_pos * p * w_pos * pos_log
            if gamma_neg:
                active = p_m > 0
                dw = gamma_neg * p_m.clamp(min=torch.finfo(p.dtype).tiny).pow(gamma_neg - 1) * pq
                d_neg = d_neg - torch.where(active, dw, torch.zeros_like(dw)) * neg_log
        grad_x = grad * torch.lerp(d_neg, d_pos, y)
        grad_y = None
        if ctx.needs_input_grad[1]:
            grad_y = grad * (-w_pos * pos_log + w_neg * neg_log)
        return grad_x, grad_y, None, None, None, None, None


def check_asl_args(gamma_pos: float, gamma_neg: float, clip: float, eps: float) -> None:
    for name, value in (('gamma_pos', gamma_pos), ('gamma_neg', gamma_neg)):
        if not value >= 0:
            raise ValueError(f'{name} must be >= 0, got {value!r}')
    if not 0 <= clip < 1:
        raise ValueError(f'clip must be in [0, 1), got {clip!r}')
    if not 0 <= eps < 1:
        raise ValueError(f'eps must be in [0, 1), got {eps!r}')


def asymmetric_loss(logits: torch.Tensor, target: torch.Tensor, gamma_pos: float = 0.0,
                    gamma_neg: float = 4.0, clip: float = 0.05, eps: float = 1e-8,
                    detach_focal_weight: bool = True) -> torch.Tensor:
    """Element-wise asymmetric loss of (N, C) logits, fused.

    Args:
        logits (torch.Tensor): (N, C) logits, any float dtype.
        target (torch.Tensor): (N, C) targets in [0, 1].
        gamma_pos (float): Focusing parameter of positives. Defaults to 0.
        gamma_neg (float): Focusing parameter of negatives. Defaults to 4.
        clip (float): Probability margin of negatives, in [0, 1). Defaults
            to 0.05.
        eps (float): Lower clamp of the argument of each log. Defaults to 1e-8.
        detach_focal_weight (bool): Stop the gradient through the focusing
            weights. Defaults to True (the official training setting).

    Returns:
        torch.Tensor: (N, C) float32 loss (float64 for float64 logits).

    Examples:
        >>> logits = torch.tensor([[2.0, -1.0]])
        >>> asymmetric_loss(logits, torch.tensor([[1.0, 0.0]]), clip=0.0)
        tensor([[0.1269, 0.0016]])
    """
    check_asl_args(gamma_pos, gamma_neg, clip, eps)
    if logits.shape != target.shape:
        raise ValueError(f'logits {tuple(logits.shape)} and target {tuple(target.shape)} '
                         'must have the same shape')
    dtype = _compute_dtype(logits)
    with torch.autocast(device_type=logits.device.type, enabled=False):
        return _FusedAsymmetricLoss.apply(logits.to(dtype), target.to(dtype), float(gamma_pos),
                                          float(gamma_neg), float(clip), float(eps),
                                          bool(detach_focal_weight))


def asymmetric_loss_reference(logits: torch.Tensor, target: torch.Tensor, gamma_pos: float = 0.0,
                              gamma_neg: float = 4.0, clip: float = 0.05, eps: float = 1e-8,
                              detach_focal_weight: bool = True) -> torch.Tensor:
    """The same loss as :func:`asymmetric_loss`, written plainly for autograd (tests)."""
    x, y = logits.to(_compute_dtype(logits)), target.to(_compute_dtype(logits))
    (_, _, _, pos_log, _, _, _, neg_log, w_pos, w_neg) = _terms(x, gamma_pos, gamma_neg, clip, eps)
    if detach_focal_weight:
        w_pos, w_neg = w_pos.detach(), w_neg.detach()
    return y * (-w_pos * pos_log) + (1 - y) * (-w_neg * neg_log)
