"""Asymmetric loss (ASL, Ridnik et al. 2021), fused: few passes forward, closed-form backward.

Element-wise, from logits x with p = sigmoid(x), target y in [0, 1]:

    L+ = -(1 - p)^g+ log p
    L- = -p_m^g- log(1 - p_m),      p_m = max(p - clip, 0)
    L  = y L+ + (1 - y) L-

As in the official code (and mmpretrain's), the argument of each log is clamped
below at ``eps`` (with ``eps = 0`` the logs come from log-sigmoid); the loss is
therefore finite at logits of +-1e4. Everything is computed in float32 (float64
for float64 input) whatever the autocast context. With ``detach_focal_weight``
the focusing weights (1-p)^g+ and p_m^g- carry no gradient (the official
``disable_torch_grad_focal_loss``), without touching the global grad mode.

The derivative is the closed form, formed in the forward pass from its
intermediates (the backward pass only multiplies), with q = 1 - p and l+, l-
the clamped logs:

    dL+/dx = g+ p q^g+ l+ - q^(g+ + 1) [p > eps]
    dL-/dx = (p_m^g- / (1 - p_m) - g- p_m^(g- - 1) l-) p q [p > clip, 1 - p_m > eps]

(the g+ / g- terms vanish when the weights are detached). Integer gammas are
taken by multiplication, and autograd stores no intermediates: against
mmpretrain's ``AsymmetricLoss`` (the plain formula under autograd) the step is
2.74x faster at C = 1,000 and 2.91x at C = 9,605 (B = 256, forward + backward
of the loss step alone, CPU, float32; docs/losses.md, "Speed"). The kernel is
differentiable once: a backward pass with ``create_graph=True`` (double
backward, gradient penalties) raises a RuntimeError.
"""
from typing import Optional

import torch
import torch.nn.functional as F


def _power(t: torch.Tensor, gamma: float) -> Optional[torch.Tensor]:
    """t ** gamma, by multiplication for small integers; None for gamma 0 (a weight of 1)."""
    if gamma == 0:
        return None
    if gamma == 1:
        return t
    if gamma == 2:
        return t * t
    if gamma == 4:
        square = t * t
        return square.mul_(square)
    return t.pow(gamma)


def _times(weight: Optional[torch.Tensor], t: torch.Tensor) -> torch.Tensor:
    return t if weight is None else weight * t


#: Larger inputs on the CPU are processed in chunks of CHUNK elements, so that the
#: intermediates stay in cache (measured with tools/benchmarks/bench_losses.py). On
#: another device (CUDA) a chunk would only add a row of kernel launches, and under
#: ``torch.compile`` the compiler fuses the pass itself: one pass there.
SINGLE_PASS_LIMIT = 1 << 18
CHUNK = 1 << 16


def single_pass(x: torch.Tensor) -> bool:
    """Whether the fused loss takes ``x`` in one pass: off the CPU, under ``torch.compile``,
    or small enough."""
    return (x.device.type != 'cpu' or x.numel() <= SINGLE_PASS_LIMIT
            or torch.compiler.is_compiling())


def _logs(x, p, one_minus_pm, clip, eps):
    """log(max(p, eps)) and log(max(1 - p_m, eps)); from log-sigmoid when eps is 0."""
    if eps > 0:
        pos_log = p.clamp(min=eps).log_()
        neg_arg = one_minus_pm if one_minus_pm is not None else 1 - p
        neg_log = (neg_arg.clamp(min=eps) if clip < eps else neg_arg).log()
    else:
        pos_log = F.logsigmoid(x)
        neg_log = one_minus_pm.log() if one_minus_pm is not None else F.logsigmoid(-x)
    return pos_log, neg_log


def _loss_and_grads(x, y, gamma_pos, gamma_neg, clip, eps, detach_weight, alpha_pos, alpha_neg,
                    need_y, out_loss=None, out_grad=None):
    """Loss, dloss/dx and (if ``need_y``) dloss/dy of a flat chunk, element-wise.

    The derivatives are formed here from the forward's intermediates, so the
    backward pass is one multiplication and nothing is computed twice.
    ``alpha_pos`` / ``alpha_neg`` scale the positive / negative terms; the loss
    and dloss/dx are written into ``out_loss`` / ``out_grad`` when given.
    """
    p = torch.sigmoid(x)
    q = 1 - p
    if clip > 0:
        p_m = (p - clip).clamp_(min=0)
        one_minus_pm = torch.sub(1 + clip, p).clamp_(max=1)
    else:
        p_m, one_minus_pm = p, None
    pos_log, neg_log = _logs(x, p, one_minus_pm, clip, eps)
    w_pos = _power(q, gamma_pos)
    w_neg = _power(p_m, gamma_neg)
    pos_term, neg_term = _times(w_pos, pos_log), _times(w_neg, neg_log)
    if alpha_pos != 1:
        pos_term = pos_term * alpha_pos
    if alpha_neg != 1:
        neg_term = neg_term * alpha_neg
    loss = torch.lerp(neg_term, pos_term, y, out=out_loss).neg_()

    pq = p * q
    # positives: -w+ l+ with dl+/dx = q where p > eps
    d_pos = torch.neg(_times(w_pos, q))
    if eps > 0:
        d_pos.masked_fill_(p <= eps, 0)
    # negatives: -w- l- with dl-/dx = -pq / (1 - p_m) where p > clip and 1 - p_m > eps
    if clip > 0:
        d_neg = _times(w_neg, pq.div(one_minus_pm))
        if w_neg is None:  # no p_m^g- factor to zero the inactive part
            d_neg.masked_fill_(p <= clip, 0)
        if eps > 0 and clip < eps:
            d_neg.masked_fill_(one_minus_pm <= eps, 0)
    else:
        d_neg = _times(w_neg, p).clone()  # pq / q, without dividing by q
        if eps > 0:
            d_neg.masked_fill_(q <= eps, 0)
    if alpha_pos != 1:
        d_pos.mul_(alpha_pos)
    if alpha_neg != 1:
        d_neg = d_neg * alpha_neg
    if not detach_weight:
        if gamma_pos:
            d_pos.add_(gamma_pos * p * pos_term)
        if gamma_neg:
            dw = _times(_power(p_m, gamma_neg - 1), gamma_neg * pq)
            if gamma_neg <= 1:  # no positive power of p_m to zero the inactive part
                dw = dw.masked_fill_(p_m <= 0, 0)
            d_neg.sub_(dw * (neg_log if alpha_neg == 1 else alpha_neg * neg_log))
    grad_x = torch.lerp(d_neg, d_pos, y, out=out_grad)
    grad_y = neg_term - pos_term if need_y else None
    return loss, grad_x, grad_y


DOUBLE_BACKWARD_ERROR = (
    'MultiLabelAsymmetricLoss / MultiLabelFocalLoss: the fused kernel supports first derivatives '
    'only; backward with create_graph=True (double backward, torch.autograd.gradgradcheck, '
    'gradient penalties) is not supported. For higher derivatives use a loss written with plain '
    "torch ops, e.g. mmpretrain's AsymmetricLoss or FocalLoss")


class _FusedAsymmetricLoss(torch.autograd.Function):
    """Element-wise loss with its derivatives formed in the forward pass, in chunks.

    Differentiable once: backward with ``create_graph=True`` raises a RuntimeError.
    """

    @staticmethod
    def forward(ctx, x, y, gamma_pos, gamma_neg, clip, eps, detach_weight, alpha_pos, alpha_neg):
        params = (gamma_pos, gamma_neg, clip, eps, detach_weight, alpha_pos, alpha_neg,
                  ctx.needs_input_grad[1])
        flat_x, flat_y = x.reshape(-1), y.reshape(-1)
        if single_pass(flat_x):
            loss, grad_x, grad_y = _loss_and_grads(flat_x, flat_y, *params)
        else:
            loss, grad_x = torch.empty_like(flat_x), torch.empty_like(flat_x)
            grad_y = torch.empty_like(flat_x) if params[-1] else None
            for start in range(0, flat_x.numel(), CHUNK):
                part = slice(start, start + CHUNK)
                parts = _loss_and_grads(flat_x[part], flat_y[part], *params, out_loss=loss[part],
                                        out_grad=grad_x[part])
                if grad_y is not None:
                    grad_y[part] = parts[2]
        ctx.save_for_backward(grad_x.view_as(x), None if grad_y is None else grad_y.view_as(x))
        return loss.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        # The engine runs backward in grad mode exactly when create_graph=True. The saved
        # derivatives are constants to autograd, so a graph built here would give silently
        # wrong second derivatives: refuse instead.
        if torch.is_grad_enabled():
            raise RuntimeError(DOUBLE_BACKWARD_ERROR)
        grad_x, grad_y = ctx.saved_tensors
        return (grad * grad_x, None if grad_y is None else grad * grad_y) + (None, ) * 7


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
    return fused_focal_terms(logits, target, gamma_pos, gamma_neg, clip, eps,
                             detach_focal_weight)


def fused_focal_terms(logits: torch.Tensor, target: torch.Tensor, gamma_pos: float,
                      gamma_neg: float, clip: float, eps: float, detach_weight: bool,
                      alpha_pos: float = 1.0, alpha_neg: float = 1.0) -> torch.Tensor:
    """The fused kernel behind ASL, in float32 (float64 for float64 logits) with
    autocast off; ``alpha_pos`` / ``alpha_neg`` scale the two terms. Arguments
    are not checked. (Focal loss, ASL's special case with clip 0, eps 0 and one
    gamma, has a faster kernel of its own: :mod:`mmml_ext.functional.focal_loss`.)"""
    if logits.shape != target.shape:
        raise ValueError(f'logits {tuple(logits.shape)} and target {tuple(target.shape)} '
                         'must have the same shape')
    dtype = torch.float64 if logits.dtype == torch.float64 else torch.float32
    with torch.autocast(device_type=logits.device.type, enabled=False):
        return _FusedAsymmetricLoss.apply(logits.to(dtype), target.to(dtype), float(gamma_pos),
                                          float(gamma_neg), float(clip), float(eps),
                                          bool(detach_weight), float(alpha_pos),
                                          float(alpha_neg))
