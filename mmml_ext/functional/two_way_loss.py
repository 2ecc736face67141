"""Two-way multi-label loss (Kobayashi, "Two-way Multi-Label Loss", CVPR 2023), pure functions.

The loss compares positive with negative logits instead of scoring each cell on its own, in
two ways: within each sample (over its classes) and within each class (over the batch's
samples). For a set S of cells with positives P and negatives N (a row of the batch for
the sample-wise term, a column for the class-wise term):

    l(S) = softplus( Tn log sum_{n in N} exp(x_n / Tn) + Tp log sum_{p in P} exp(-x_p / Tp) )

a smooth form of ``log(1 + sum_{p, n} exp(x_n - x_p))``: as the temperatures go to 0 it
becomes ``softplus(max_n x_n - min_p x_p)``, the margin between the hardest negative and the
hardest positive. The loss of a batch of logits x (N, C) and binary targets y:

    L = mean over rows with a positive of l(row) + mean over columns with a positive of l(column)

Edge cases, as in the paper's code: a row or column without a positive is left out of its
mean (it has nothing to rank); a set without a negative has ``l = softplus(-inf) = 0``; a
batch without any positive has loss 0 (and a zero gradient). Unknown cells (target -1) are
in neither P nor N. Defaults of the paper: Tp = 4, Tn = 1.

The class-wise term depends on the whole batch; :func:`gather_batch` gives every process of
a distributed run the global batch, with the gradient flowing to its own rows.

The loss and its closed-form gradient are computed in one pass of their own (no autograd
graph of log-sum-exps): two exps per cell and a few passes of float arithmetic, in chunks of
rows on CPU (:func:`_two_way_forward`); forward + backward takes about as long as BCE with
logits (docs/losses.md, Speed).
"""
import math
from typing import Dict, Optional, Tuple

import torch
import torch.distributed as dist
import torch.nn.functional as F

from .bce_loss import loss_dtype


def check_temperatures(pos_temperature: float, neg_temperature: float) -> None:
    """ValueError unless both temperatures are positive numbers."""
    for name, value in (('pos_temperature', pos_temperature),
                        ('neg_temperature', neg_temperature)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f'{name} must be a number > 0, got {value!r}')


#: On CPU the rows come in chunks of about this many cells per intra-op thread (whole rows),
#: so that the loss's scratch is a few chunk-sized buffers, whatever the batch, reused by
#: every chunk. Larger chunks mean fewer ops, each a pass over memory and, on several
#: threads, a barrier; 1 << 18 ran fastest in tools/benchmarks/bench_losses.py (256 x 1,000
#: is one chunk on 2 threads, 256 x 9,605 five). Off the CPU, and under ``torch.compile``,
#: the batch is one chunk.
CHUNK_PER_THREAD = 1 << 18

DOUBLE_BACKWARD_ERROR = (
    'TwoWayMultiLabelLoss: the fused kernel supports first derivatives only; backward with '
    'create_graph=True (double backward, torch.autograd.gradgradcheck, gradient penalties) is '
    'not supported')


def _big(dtype: torch.dtype) -> float:
    """What takes a cell out of a set: w - BIG stays finite (so no inf * 0 = NaN arises) and
    an empty set's max, about -BIG, is told from any real one."""
    return torch.finfo(dtype).max / 4


def _exp_floor(dtype: torch.dtype) -> float:
    """The least exponent that exp() is given in a batch with unknown cells: half the log of
    the least normal number (-43.7 in float32, -354 in float64). exp() of a lower one (an
    unknown cell's w is about -BIG) underflows through denormals, an order of magnitude
    slower on x86; the floor adds at most C e^-43.7 to a sum s >= 1 (an unknown cell's e is
    masked to 0 anyway), and e times a factor stays a normal number."""
    return 0.5 * math.log(torch.finfo(dtype).tiny)


class _Chunks:
    """The rows of a batch in chunks, and the buffers that every chunk reuses: p (1 at a
    positive, else 0), n (1 at a negative), w (Tn times the value v of a cell in its set),
    ``work`` (2, k, C) and, with unknown cells, their mask in float."""

    def __init__(self, x: torch.Tensor, target: torch.Tensor, unknown: Optional[torch.Tensor],
                 tp: float, tn: float) -> None:
        rows, classes = x.shape
        if x.is_cpu and not torch.compiler.is_compiling():
            step = min(rows, max(1, CHUNK_PER_THREAD * torch.get_num_threads() // classes))
        else:
            step = rows
        self.bounds = [(start, min(start + step, rows)) for start in range(0, rows, step)]
        self.x, self.target, self.unknown, self.tp, self.tn = x, target, unknown, tp, tn
        self.big = _big(x.dtype)
        self._buffers = x.new_empty((5 if unknown is None else 6, step, classes))
        self._views: Dict[int, tuple] = {}

    def buffers(self, rows: int) -> tuple:
        """p, n, w, work (2, rows, C) and the float unknown mask (or None) of a chunk."""
        if rows not in self._views:
            b = self._buffers[:, :rows]
            self._views[rows] = (b[0], b[1], b[2], b[3:5], b[5] if len(b) > 5 else None)
        return self._views[rows]

    def cells(self, start: int, stop: int) -> tuple:
        """p, n, w and work of rows start:stop, with p = target > 0.5 and n = 1 - p, both 0
        at an unknown cell, and w = Tn v: x at a negative, -(Tn / Tp) x at a positive, about
        -BIG at an unknown cell. Float arithmetic only (bool masks and where() are slow on
        CPU); each product is exact where a mask is 0."""
        p, n, w, work, u = self.buffers(stop - start)
        x = self.x[start:stop]
        torch.gt(self.target[start:stop], 0.5, out=p)
        # w = x - (1 + Tn / Tp) x p: x at a negative, -(Tn / Tp) x at a positive (one op;
        # the difference rounds once, to (1 + Tp / Tn) / 2 units in the last place)
        torch.addcmul(x, x, p, value=-(1.0 + self.tn / self.tp), out=w)
        if u is None:
            torch.sub(1.0, p, out=n)
        else:
            u.copy_(self.unknown[start:stop])
            p.addcmul_(p, u, value=-1.0)
            torch.sub(1.0, p, out=n).sub_(u)
            w.addcmul_(w, u, value=-1.0).add_(u, alpha=-self.big)
        return p, n, w, work


def _set_exps(w: torch.Tensor, p: torch.Tensor, n: torch.Tensor, shift: torch.Tensor,
              tn: float, floor: Optional[float], work: torch.Tensor) -> torch.Tensor:
    """Into ``work`` (2, k, C): e = exp(v - m) at the negatives (0 elsewhere) and at the
    positives (0 elsewhere), v = w / Tn, m the max of the cell's set (``shift`` (2, ...):
    negatives', positives', by row or by column). One exp per cell, of an exponent raised
    to ``floor`` if one is given."""
    arg = torch.add(shift[0].neg(), w, alpha=1.0 / tn, out=work[1]).addcmul_(
        p, shift[1] - shift[0], value=-1.0)
    if floor:
        arg.clamp_(min=floor)
    arg.exp_()
    torch.mul(work[1], n, out=work[0])
    work[1].mul_(p)
    return work


def _mean_softplus(z: torch.Tensor, has_positive: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """(the mean of softplus(z) over the sets with a positive, 1 / their number)."""
    # softplus(z) = max(z, 0) + log(1 + exp(-|z|)) to the last bit (F.softplus is linear
    # from z = 20 on, where its slope 1 would not be the gradient's sigmoid(z)); 0 at -inf
    softplus = torch.abs(z).neg_().exp_().log1p_().add_(z.clamp(min=0.0))
    count = has_positive.sum().clamp(min=1.0)
    return torch.dot(softplus, has_positive) / count, 1.0 / count


def _two_way_forward(x: torch.Tensor, target: torch.Tensor, unknown: Optional[torch.Tensor],
                     tp: float, tn: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """The loss of a batch and its gradient dloss/dx, computed together.

    With v = x / Tn at the negatives and -x / Tp at the positives, a set's log-sum-exp is
    m + log s, s = sum e, e = exp(v - m), m the set's max; z = Tn (m_N + log s_N) +
    Tp (m_P + log s_P) and, for l = softplus(z), dl/dx_n = sigmoid(z) e_n / s_N and
    dl/dx_p = -sigmoid(z) e_p / s_P. A set without a negative has z = -inf (log 0:
    softplus 0, sigmoid 0), one without a positive too (and is left out of the mean); 1 / s
    of an empty set is 1 / tiny, times sigmoid(z) = 0. Rows and columns need shifts of
    their own (one global shift underflows at large logits): an exp per cell for each.

    The rows come in chunks: a chunk's rows are done at once (loss and gradient); the
    columns keep a running max and sum (online log-sum-exp), and a last pass over the
    chunks adds the columns' part of the gradient, recomputing their e (but the last
    chunk's, still at hand). One chunk: two exps per cell and some 20 other passes of float
    arithmetic (masks, maxima, sums, gradient) over five reused buffers, no autograd graph.
    """
    rows, classes = x.shape
    dtype, big, tiny = x.dtype, _big(x.dtype), torch.finfo(x.dtype).tiny
    grad = torch.empty((rows, classes), dtype=dtype, device=x.device)
    if x.numel() == 0:  # no set has a positive
        return x.new_zeros(()), grad
    chunks = _Chunks(x, target, unknown, tp, tn)
    one_chunk = len(chunks.bounds) == 1
    # the exps' floor where unknown cells (w about -BIG) are; without them it would cost two
    # passes for the rare cell far below its set's max
    floor = None if unknown is None else _exp_floor(dtype)

    def shift_of(maxima):  # the sets' maxima of w = Tn v, as m (of v); 0 for an empty set
        return F.threshold(maxima, -big / 2, 0.0).mul_(1.0 / tn)

    def z_of(sums, shift):  # Tn (m_N + log s_N) + Tp (m_P + log s_P), of (2, ...) inputs
        lse = torch.log(sums).add_(shift)
        return torch.mul(lse[0], tn).add_(lse[1], alpha=tp)

    def coefficients(z, sums):  # (2, ...): sigmoid(z) / s_N, -sigmoid(z) / s_P
        coef = torch.sigmoid(z).div(sums.clamp(min=tiny))
        coef[1].neg_()
        return coef

    row_sums, row_z = x.new_empty((2, rows, 1)), x.new_empty((rows, 1))
    col_max = col_sum = None
    for start, stop in chunks.bounds:
        p, n, w, work = chunks.cells(start, stop)
        torch.add(w, p, alpha=-big, out=work[0])  # the negatives' w, others about -BIG
        torch.add(w, n, alpha=-big, out=work[1])  # the positives'
        row_shift = shift_of(work.amax(2, keepdim=True))  # (2, k, 1)
        chunk_max = work.amax(1, keepdim=True)  # (2, 1, C)
        # the rows, whole: their z and their part of the gradient
        _set_exps(w, p, n, row_shift, tn, floor, work)
        sums = torch.sum(work, 2, keepdim=True, out=row_sums[:, start:stop])
        z = z_of(sums, row_shift)  # (k, 1)
        row_z[start:stop] = z
        coef = coefficients(z, sums)
        if one_chunk:  # the mean's weight is known: 1 / the number of rows with a positive
            coef.div_((sums[1] > 0).sum().clamp(min=1).to(dtype))
        torch.mul(work[0], coef[0], out=grad[start:stop]).addcmul_(work[1], coef[1])
        # the columns: the running max, and their sums so far
        if col_max is None:
            col_max = chunk_max
        else:  # the sums so far rescaled to the new max; 0 where the set was empty so far
            new_max = torch.maximum(col_max, chunk_max)
            col_sum.mul_(torch.sub(col_max, new_max).mul_(1.0 / tn).exp_())
            col_max = new_max
        _set_exps(w, p, n, shift_of(col_max), tn, floor, work)
        chunk_sum = work.sum(1, keepdim=True)  # (2, 1, C)
        col_sum = chunk_sum if col_sum is None else col_sum.add_(chunk_sum)

    row_loss, row_weight = _mean_softplus(row_z.view(-1), (row_sums[1, :, 0] > 0).to(dtype))
    col_shift = shift_of(col_max)  # (2, 1, C)
    col_z = z_of(col_sum, col_shift)  # (1, C)
    col_loss, col_weight = _mean_softplus(col_z.view(-1), (col_sum[1, 0] > 0).to(dtype))
    col_coef = coefficients(col_z, col_sum).mul_(col_weight)
    col_minus_shift, col_shift_pos = col_shift[0].neg(), col_shift[1] - col_shift[0]
    for index, (start, stop) in enumerate(reversed(chunks.bounds)):
        part = grad[start:stop] if one_chunk else grad[start:stop].mul_(row_weight)
        if index == 0:  # the last chunk: its columns' e are at hand, with the final max
            work = chunks.buffers(stop - start)[3]
            part.addcmul_(work[0], col_coef[0]).addcmul_(work[1], col_coef[1])
        else:  # e recomputed, times the factor of the cell's set
            p, n, w, work = chunks.cells(start, stop)
            e = torch.add(col_minus_shift, w, alpha=1.0 / tn, out=work[0]).addcmul_(
                p, col_shift_pos, value=-1.0)
            factor = torch.mul(n, col_coef[0], out=work[1]).addcmul_(p, col_coef[1])
            part.addcmul_((e if floor is None else e.clamp_(min=floor)).exp_(), factor)
    return row_loss + col_loss, grad


class _TwoWayLoss(torch.autograd.Function):
    """The two-way loss of a batch, with its gradient formed in the forward pass (closed form).

    The backward pass scales the gradient in place, so it allocates nothing; a repeated
    backward through the same graph (``retain_graph=True``) recomputes it. Differentiable
    once: backward with ``create_graph=True`` raises a RuntimeError.
    """

    @staticmethod
    def forward(ctx, x, target, unknown, tp, tn):
        ctx.save_for_backward(x, target, unknown)  # read only by a repeated backward
        ctx.params = (tp, tn)
        loss, ctx.grad = _two_way_forward(x, target, unknown, tp, tn)
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        if torch.is_grad_enabled():  # create_graph=True: the gradient is a constant here
            raise RuntimeError(DOUBLE_BACKWARD_ERROR)
        grad, ctx.grad = ctx.grad, None
        if grad is None:  # used up by an earlier backward through this graph
            grad = _two_way_forward(*ctx.saved_tensors, *ctx.params)[1]
        return grad.mul_(grad_loss), None, None, None, None


def two_way_loss(logits: torch.Tensor, target: torch.Tensor,
                 unknown: Optional[torch.Tensor] = None, pos_temperature: float = 4.0,
                 neg_temperature: float = 1.0) -> torch.Tensor:
    """The two-way loss of a batch: the mean sample-wise plus the mean class-wise term.

    Args:
        logits (torch.Tensor): (N, C) logits.
        target (torch.Tensor): (N, C) binary targets (1 positive, 0 negative; a cell is
            positive where its target is > 0.5).
        unknown (torch.Tensor, optional): (N, C) bool, True at unknown cells (neither
            positive nor negative, whatever their target).
        pos_temperature (float): Tp. Defaults to 4.
        neg_temperature (float): Tn. Defaults to 1.

    Returns:
        torch.Tensor: The scalar loss, float32 (float64 for float64 logits). Its gradient is
        the closed form, formed in the forward pass; it is differentiable once.

    Examples:
        >>> x, y = torch.tensor([[2.0, -1.0]]), torch.tensor([[1.0, 0.0]])
        >>> two_way_loss(x, y, pos_temperature=1.0)  # softplus(-1 - 2) + 0
        tensor(0.0486)
    """
    dtype = loss_dtype(logits)
    with torch.autocast(device_type=logits.device.type, enabled=False):
        return _TwoWayLoss.apply(logits.to(dtype), target, unknown, float(pos_temperature),
                                 float(neg_temperature))


def gather_batch(logits: torch.Tensor, target: torch.Tensor,
                 unknown: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor,
                                                           Optional[torch.Tensor], int]:
    """The global batch of a distributed run, on every process.

    Every process's rows, in rank order (batches of different sizes allowed); the
    process's own rows are its ``logits`` themselves, so the gradient reaches them, the
    other rows carry none.

    Returns:
        tuple: (logits, target, unknown, world size); the inputs and 1 when not
        distributed.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return logits, target, unknown, 1
    world, rank = dist.get_world_size(), dist.get_rank()
    size = torch.tensor([logits.shape[0]], device=logits.device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    sizes = [int(s) for s in sizes]
    code = target.to(logits.dtype)  # targets and the unknown mask in one tensor: -1 unknown
    if unknown is not None:
        code = code.masked_fill(unknown, -1.0)
    local = torch.stack([logits.detach(), code])  # (2, N, C)
    padded = F.pad(local, (0, 0, 0, max(sizes) - logits.shape[0]))
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded.contiguous())
    parts = [part[:, :n] for part, n in zip(parts, sizes)]
    all_logits = torch.cat([logits if r == rank else part[0] for r, part in enumerate(parts)])
    all_code = torch.cat([part[1] for part in parts])
    all_unknown = all_code < 0  # another process's batch may have unknown cells
    return all_logits, all_code.clamp(min=0), all_unknown, world
