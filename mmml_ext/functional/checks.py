"""Argument checks shared by the metric kernels, each failing with a message that names the problem.

The kernels take ``scores`` (N, C) floating point and ``target`` (N, C) with
1 = positive, 0 = negative and -1 = ignored. Checking once, up front, keeps the
kernels themselves branch-free.
"""
import numbers
from typing import Optional, Sequence

import numpy as np
import torch


def check_int(value, name: str, low: int = 1, optional: bool = False) -> None:
    """ValueError unless ``value`` is an integer >= ``low`` (a bool is not one); None passes
    when ``optional`` (an argument whose None means 'choose for me')."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f'{name} must be an int >= {low}, got {value!r}')


def _check_matrix(scores: torch.Tensor, name: str) -> None:
    if not isinstance(scores, torch.Tensor):
        raise TypeError(f'{name} must be a torch.Tensor, got {type(scores).__name__}')
    if scores.dim() != 2:
        raise ValueError(f'{name} must have shape (N, C), got {tuple(scores.shape)}')
    if scores.shape[0] == 0:
        raise ValueError(f'{name} holds no sample (shape {tuple(scores.shape)})')
    if scores.shape[1] == 0:
        raise ValueError(f'{name} holds no class (shape {tuple(scores.shape)})')
    if not scores.is_floating_point():
        raise ValueError(f'{name} must be floating point, got {scores.dtype}')


def _check_finite(scores: torch.Tensor, name: str) -> None:
    finite = torch.isfinite(scores)
    if not bool(finite.all()):
        bad = (~finite).nonzero()
        sample, cls = bad[0].tolist()
        raise ValueError(f'{name} has {len(bad)} NaN or infinite value(s), the first at '
                         f'sample {sample}, class {cls}: {scores[sample, cls].item()}')


def check_scores(scores: torch.Tensor, name: str = 'scores') -> None:
    """``scores`` must be a finite floating (N, C) tensor with N, C >= 1."""
    _check_matrix(scores, name)
    # one reduction for the common case: a finite sum means every score is finite
    if not bool(torch.isfinite(scores.sum())):
        _check_finite(scores, name)


def check_target(target: torch.Tensor, shape: torch.Size, name: str = 'target') -> None:
    """``target`` must have ``shape`` and hold only 1, 0 and -1 (ignored)."""
    if not isinstance(target, torch.Tensor):
        raise TypeError(f'{name} must be a torch.Tensor, got {type(target).__name__}')
    if target.shape != shape:
        raise ValueError(f'{name} shape {tuple(target.shape)} does not match the scores '
                         f'shape {tuple(shape)}')
    if target.dtype != torch.bool and target.numel():
        if not target.is_floating_point() and not target.is_complex():
            low, high = torch.aminmax(target)  # integers in [-1, 1]: no mask to build
            if low >= -1 and high <= 1:
                return
        bad = (target != 1) & (target != 0) & (target != -1)
        if bool(bad.any()):
            sample, cls = bad.nonzero()[0].tolist()
            raise ValueError(f'{name} values must be 1 (positive), 0 (negative) or -1 '
                             f'(ignored); sample {sample}, class {cls} is '
                             f'{target[sample, cls].item()}')


def check_scores_target(scores: torch.Tensor, target: torch.Tensor) -> None:
    """Both checks: finite (N, C) scores, and a target of the same shape."""
    check_scores(scores)
    check_target(target, scores.shape)


#: Rows (or columns) summed at once in uint8: no count within a block can overflow.
_UINT8_BLOCK = 255


def count_true(mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Number of True entries of a 2-D bool tensor along ``dim``, as int64.

    On the CPU the flags are summed by numpy in uint8, in blocks of 255 along
    ``dim`` (no block can overflow), and the block sums are added in int64:
    about ten times faster than an int64 reduction, and much faster than
    ``torch.sum`` of a bool tensor (tools/benchmarks/bench_metrics.py).
    """
    flags = mask.view(torch.uint8)
    if flags.device.type != 'cpu':
        return flags.sum(dim, dtype=torch.int64)
    array = flags.numpy()
    total = None
    for start in range(0, array.shape[dim], _UINT8_BLOCK):
        block = array[start:start + _UINT8_BLOCK] if dim == 0 else \
            array[:, start:start + _UINT8_BLOCK]
        part = block.sum(dim, dtype=np.uint8)
        total = part.astype(np.int64) if total is None else total + part
    if total is None:  # an empty dimension
        total = np.zeros(array.shape[1 - dim], dtype=np.int64)
    return torch.from_numpy(total)


def has_ignored(target: torch.Tensor) -> bool:
    """Whether ``target`` marks any cell as ignored (-1)."""
    return target.dtype != torch.bool and target.numel() > 0 and bool(target.min() < 0)


def check_thr(thr, num_classes: Optional[int] = None, name: str = 'thr') -> None:
    """A threshold: a number in [0, 1], or a (C,) tensor of per-class ones; None means 'not used'.

    A label is predicted when ``score >= thr``: 0 predicts every label, 1 only
    scores of exactly 1.
    """
    if thr is None:
        return
    if isinstance(thr, torch.Tensor):
        if thr.dim() != 1 or (num_classes is not None and thr.numel() != num_classes):
            expected = '(C,)' if num_classes is None else f'({num_classes},)'
            raise ValueError(f'{name} must be a number or a {expected} tensor of per-class '
                             f'thresholds, got shape {tuple(thr.shape)}')
        bad = ~((thr >= 0) & (thr <= 1))  # NaN is bad too
        if bool(bad.any()):
            cls = int(bad.nonzero()[0])
            raise ValueError(f'{name} must lie in [0, 1]; class {cls} has {thr[cls].item()}')
        return
    if isinstance(thr, bool) or not isinstance(thr, (int, float)) or not 0 <= thr <= 1:
        raise ValueError(f'{name} must be a number in [0, 1], got {thr!r}')


def check_probabilities(scores: torch.Tensor, name: str = 'scores') -> None:
    """``scores`` must be a floating (N, C) tensor of probabilities: finite and in [0, 1].

    Logits passed as scores would be thresholded at 0.5 silently (and tuned
    thresholds would come out negative), so they are refused with a message
    that says so.
    """
    _check_matrix(scores, name)
    low, high = torch.aminmax(scores)  # one pass for the common case (NaN fails both tests)
    if bool(low >= 0) and bool(high <= 1):
        return
    _check_finite(scores, name)
    bad = ((scores < 0) | (scores > 1)).nonzero()
    sample, cls = bad[0].tolist()
    raise ValueError(f'{name} must be probabilities in [0, 1] (pred_score of a multi-label '
                     f'head, after the sigmoid); {len(bad)} value(s) lie outside, the first at '
                     f'sample {sample}, class {cls}: {scores[sample, cls].item()}. Logits? Apply '
                     'torch.sigmoid first')


def check_topk(topk: Optional[int], num_classes: Optional[int] = None) -> None:
    """``topk`` must be an int in [1, C]; None means 'not used'."""
    if topk is None:
        return
    if isinstance(topk, (tuple, list)):
        raise ValueError(f'topk must be an int >= 1, got {topk!r}: a tuple is the topk of '
                         "mmpretrain's single-label heads and accuracy. Inherited from a base "
                         "config? Replace the base's head with head=dict(_delete_=True, "
                         "type=..., ...) (its single-label loss would be inherited too); a "
                         'multi-label head or metric predicts one k, or None')
    if isinstance(topk, bool) or not isinstance(topk, int) or topk < 1:
        raise ValueError(f'topk must be an int >= 1, got {topk!r}')
    if num_classes is not None and topk > num_classes:
        raise ValueError(f'topk={topk} is larger than the number of classes ({num_classes})')


def shown_names(names: Sequence, limit: int = 10) -> str:
    """The first ``limit`` names, comma-separated, with ``...`` when there are more: how a
    message names a set of classes."""
    return ', '.join(str(n) for n in names[:limit]) + (' ...' if len(names) > limit else '')
