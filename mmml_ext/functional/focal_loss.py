"""Sigmoid focal loss for multi-label targets, with a scalar alpha or per-class weights.

Element-wise, from logits x with p = sigmoid(x), target y in [0, 1]:

    L = -( a  y     (1 - p)^g log p
         + a' (1-y) p^g       log(1 - p) ) * w_c

with (a, a') = (alpha, 1 - alpha) for a scalar ``alpha`` (Lin et al.), (1, 1)
when ``alpha`` is None, and w_c the optional per-class ``class_weight``, which
weights both terms of class c. ``gamma=2, alpha=None, class_weight=[...]`` with
the ``mean`` reduction is the well-known Keras multi-label focal loss with a
per-class alpha vector.

A fused kernel of its own computes it in float32 (float64 for float64 logits)
whatever the autocast context. Both logs come from one log1p,

    s = log(1 + exp(-|x|)),   log p = min(x, 0) - s,   log(1 - p) = -max(x, 0) - s,

and p, 1 - p are the exponentials of their logs: each keeps its float32 relative
precision in the tails (the plain formula rounds 1 - p to 0 from x = 17 on),
and the loss is exact at logits of +-1e4. The closed-form derivative

    dL/dx = a y (1-p)^g (g p log p - (1-p)) + a' (1-y) p^g (p - g (1-p) log(1-p))

is formed in the forward pass, so the backward pass is one multiplication.
gamma 1 and 2 are taken by multiplication, others as exp(g log-sigmoid). On CPU
the kernel runs in chunks whose intermediates stay in cache. It is
differentiable once: a backward pass with ``create_graph=True`` raises a
RuntimeError.
"""
import numbers
from typing import Optional, Tuple, Union

import torch

from .asymmetric_loss import DOUBLE_BACKWARD_ERROR

#: On CPU the kernel runs in chunks of this many elements per intra-op thread, so that
#: each thread's share of the intermediates stays in its cache (tools/benchmarks/bench_losses.py).
#: Off the CPU, and under ``torch.compile`` (which fuses the pass itself), it runs in one pass.
CHUNK_PER_THREAD = 1 << 16


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_focal_args(gamma: float, alpha: Optional[float]) -> None:
    """ValueError unless ``gamma`` is a number >= 0 and ``alpha`` one in [0, 1] or None."""
    if not _is_number(gamma):
        raise ValueError(f'gamma must be a number >= 0, got {gamma!r}')
    if not gamma >= 0:
        raise ValueError(f'gamma must be >= 0, got {gamma!r}')
    if alpha is not None and not _is_number(alpha):
        raise ValueError(
            f'alpha must be a number in [0, 1] or None, got {alpha!r}; a per-class alpha vector '
            '(as the Keras multi-label focal loss takes) is `alpha=None, class_weight=[...]`, '
            'which weights both terms of class c')
    if alpha is not None and not 0 <= alpha <= 1:
        raise ValueError(f'alpha must be a number in [0, 1] or None, got {alpha!r}')


def _sigmoid_logs(x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """log p, log(1 - p), p and 1 - p of p = sigmoid(x), each to its relative precision."""
    low = x.clamp(max=0)
    minus_high = torch.sub(low, x)  # -max(x, 0), exactly
    soft = torch.add(low, minus_high).exp_().log1p_()  # log(1 + exp(-|x|))
    log_p, log_q = low.sub_(soft), minus_high.sub_(soft)
    return log_p, log_q, log_p.exp(), torch.exp(log_q, out=soft)


def _scaled_power(base: torch.Tensor, log_base: torch.Tensor, gamma: float, scale: float,
                  zero: torch.Tensor, out: torch.Tensor) -> Union[torch.Tensor, float]:
    """scale * base ** gamma into ``out`` (``log_base`` = log(base)); a number for gamma 0."""
    if gamma == 0:
        return scale
    if gamma == 1:
        return torch.mul(base, scale, out=out)
    if gamma == 2:
        return torch.addcmul(zero, base, base, value=scale, out=out)
    return torch.mul(log_base, gamma, out=out).exp_().mul_(scale)


def _term(log_t: torch.Tensor, weight: Union[torch.Tensor, float], u: torch.Tensor,
          v: torch.Tensor, sign: float, gamma: float, zero: torch.Tensor,
          out: torch.Tensor) -> torch.Tensor:
    """One term of the loss, T = weight log_t in place of ``log_t``, and its derivative
    sign (weight u - gamma v T) into ``out``, which may hold ``weight``.

    With u = 1 - p, v = p for the positive term (weight (1-p)^gamma, log p), and u = p,
    v = 1 - p, sign -1 for the negative one, since d(1-p)/dx = -p (1-p).
    """
    term = log_t.mul_(weight)
    if isinstance(weight, float):
        torch.mul(u, sign * weight, out=out)
    else:
        torch.addcmul(zero, weight, u, value=sign, out=out)
    if gamma:
        out.addcmul_(v, term, value=-sign * gamma)
    return term


def _focal_chunk(x: torch.Tensor, y: torch.Tensor, gamma: float, alpha_pos: float,
                 alpha_neg: float, zero: torch.Tensor, out_loss: torch.Tensor,
                 out_grad: torch.Tensor, out_grad_y: Optional[torch.Tensor]) -> None:
    """The loss, dloss/dx and (if ``out_grad_y`` is given) dloss/dy of a flat chunk.

    The outputs serve as scratch and intermediates are overwritten once dead, so that a
    chunk touches few buffers; products with a scale are one ``addcmul`` onto a 0-dim zero.
    """
    log_p, log_q, p, q = _sigmoid_logs(x)
    # the loss is pos = w_pos log p (target 1) and neg = w_neg log q (target 0)
    w_pos = _scaled_power(q, log_q, gamma, -alpha_pos, zero, out=out_loss)
    w_neg = _scaled_power(p, log_p, gamma, -alpha_neg, zero, out=out_grad)
    neg = _term(log_q, w_neg, p, q, -1.0, gamma, zero, out=out_grad)
    pos = _term(log_p, w_pos, q, p, 1.0, gamma, zero, out=out_loss)
    torch.lerp(out_grad, out_loss, y, out=out_grad)
    torch.lerp(neg, pos, y, out=out_loss)
    if out_grad_y is not None:
        torch.sub(pos, neg, out=out_grad_y)


def _loss_and_derivatives(x: torch.Tensor, y: torch.Tensor, gamma: float, alpha_pos: float,
                          alpha_neg: float, need_y: bool) -> Tuple[Optional[torch.Tensor], ...]:
    """The element-wise loss, dloss/dx and (if ``need_y``) dloss/dy, shaped as ``x``."""
    flat_x, flat_y = x.reshape(-1), y.reshape(-1)
    numel = flat_x.numel()
    if x.is_cpu and not torch.compiler.is_compiling():
        chunk = CHUNK_PER_THREAD * torch.get_num_threads()
    else:
        chunk = max(numel, 1)
    loss, grad_x = torch.empty_like(flat_x), torch.empty_like(flat_x)
    grad_y = torch.empty_like(flat_x) if need_y else None
    zero = flat_x.new_zeros(())
    for start in range(0, numel, chunk):
        part = slice(start, start + chunk)
        _focal_chunk(flat_x[part], flat_y[part], gamma, alpha_pos, alpha_neg, zero, loss[part],
                     grad_x[part], None if grad_y is None else grad_y[part])
    return tuple(None if t is None else t.view_as(x) for t in (loss, grad_x, grad_y))


class _FusedFocalLoss(torch.autograd.Function):
    """Element-wise focal loss with its derivatives formed in the forward pass.

    The backward pass scales the derivatives in place, so it allocates nothing; a
    repeated backward through the same graph (``retain_graph=True``) recomputes them.
    Differentiable once: backward with ``create_graph=True`` raises a RuntimeError.
    """

    @staticmethod
    def forward(ctx, x, y, gamma, alpha_pos, alpha_neg):
        ctx.save_for_backward(x, y)  # read only by a repeated backward
        ctx.params = (gamma, alpha_pos, alpha_neg, ctx.needs_input_grad[1])
        loss, *ctx.derivatives = _loss_and_derivatives(x, y, *ctx.params)
        return loss

    @staticmethod
    def backward(ctx, grad):
        if torch.is_grad_enabled():  # create_graph=True: the derivatives are constants
            raise RuntimeError(DOUBLE_BACKWARD_ERROR)
        derivatives, ctx.derivatives = ctx.derivatives, None
        if derivatives is None:  # used up by an earlier backward through this graph
            derivatives = _loss_and_derivatives(*ctx.saved_tensors, *ctx.params)[1:]
        grad_x, grad_y = derivatives
        return grad_x.mul_(grad), None if grad_y is None else grad_y.mul_(grad), None, None, None


def sigmoid_focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
                       alpha: Optional[float] = 0.25,
                       class_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Element-wise sigmoid focal loss of (N, C) logits, fused.

    Args:
        logits (torch.Tensor): (N, C) logits, any float dtype.
        target (torch.Tensor): (N, C) targets in [0, 1].
        gamma (float): Focusing parameter, >= 0. Defaults to 2.
        alpha (float, optional): Weight of positives (1 - alpha for
            negatives), or None for no such weighting. Defaults to 0.25.
        class_weight (torch.Tensor, optional): (C,) weight of each class.

    Returns:
        torch.Tensor: (N, C) float32 loss (float64 for float64 logits).

    Examples:
        >>> logits, target = torch.tensor([[0.0]]), torch.tensor([[1.0]])
        >>> sigmoid_focal_loss(logits, target, gamma=2, alpha=None)  # 0.5^2 * log 2
        tensor([[0.1733]])
    """
    check_focal_args(gamma, alpha)
    if logits.shape != target.shape:
        raise ValueError(f'logits {tuple(logits.shape)} and target {tuple(target.shape)} '
                         'must have the same shape')
    alpha_pos, alpha_neg = (1.0, 1.0) if alpha is None else (float(alpha), 1.0 - alpha)
    dtype = torch.float64 if logits.dtype == torch.float64 else torch.float32
    with torch.autocast(device_type=logits.device.type, enabled=False):
        loss = _FusedFocalLoss.apply(logits.to(dtype), target.to(dtype), float(gamma),
                                     alpha_pos, alpha_neg)
    if class_weight is not None:
        if class_weight.shape != (logits.shape[1], ):
            raise ValueError(f'class_weight has {tuple(class_weight.shape)} entries, '
                             f'the logits {logits.shape[1]} classes')
        loss = loss * class_weight.to(device=loss.device, dtype=loss.dtype)
    return loss
