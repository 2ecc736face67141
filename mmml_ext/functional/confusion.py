"""Turn scores into multi-label predictions, and count per-class confusion.

:func:`multilabel_predict` is the one function that turns scores into
predictions: the head's ``pred_label``, every metric and the threshold tuner
call it. Rules (docs/metrics.md):

- at a threshold, a label is predicted when ``score >= thr`` (mmpretrain's
  rule); ``thr`` is one number for all classes or one per class;
- at top-k, the k highest scores of a sample are predicted, ties going to the
  lower class index; cells marked invalid (ignored labels) take no place;
- with both, a label must be in the top-k and reach ``thr`` (the ML-GCN rule);
- with neither, ``thr = 0.5``.

Cells whose target is -1 are ignored: they count as nothing.
"""
from typing import Dict, Optional, Union

import torch

from .checks import check_scores, check_target, check_thr, check_topk, count_true, has_ignored

Threshold = Union[float, torch.Tensor, None]
#: Cells of crowded rows (ties at the k-th score) resolved at once by :func:`topk_mask`.
_CELLS_AT_ONCE = 1 << 20


def topk_mask(scores: torch.Tensor, k: int, valid: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Boolean (N, C) mask of each row's k highest scores, ties to the lower index.

    ``torch.topk`` breaks ties arbitrarily; here the k-th largest value ``v`` of
    a row is found first, all scores above ``v`` are taken, and the remaining
    places go to the scores equal to ``v`` in class order. With ``valid``,
    invalid cells (ignored labels) are ranked last, so they take no place
    while a valid label is left.
    """
    if valid is not None:
        scores = scores.masked_fill(~valid, float('-inf'))
    kth = scores.topk(k, dim=1).values[:, -1:]
    taken = scores >= kth
    crowded = count_true(taken, 1) > k  # rows with more ties at the k-th score than places
    crowded_rows = crowded.nonzero().flatten()
    block = max(1, _CELLS_AT_ONCE // scores.shape[1])  # bounds the memory of the fix-up
    for start in range(0, len(crowded_rows), block):
        rows = crowded_rows[start:start + block]
        part, part_kth = scores[rows], kth[rows]
        above, tied = part > part_kth, part == part_kth
        free = k - count_true(above, 1)
        taken[rows] = above | (tied & (tied.cumsum(dim=1, dtype=torch.int32) <= free[:, None]))
    return taken


def multilabel_predict(scores: torch.Tensor, thr: Threshold = None, topk: Optional[int] = None,
                       valid: Optional[torch.Tensor] = None,
                       validate_args: bool = True) -> torch.Tensor:
    """Boolean (N, C) predictions from scores at ``thr`` and/or ``topk``.

    Args:
        scores (torch.Tensor): (N, C) scores, usually probabilities.
        thr (float | torch.Tensor, optional): Threshold in [0, 1], or a (C,)
            tensor of per-class thresholds. Defaults to None.
        topk (int, optional): Number of labels per sample, in [1, C].
            Defaults to None. With ``thr`` and ``topk`` both None, ``thr=0.5``.
        valid (torch.Tensor, optional): (N, C) bool, False for ignored cells,
            which then take no top-k place. Defaults to None (all valid).
        validate_args (bool): Check the arguments first. Defaults to True.

    Returns:
        torch.Tensor: (N, C) bool.

    Examples:
        >>> scores = torch.tensor([[0.9, 0.5, 0.5, 0.1]])
        >>> multilabel_predict(scores, thr=0.5).int().tolist()
        [[1, 1, 1, 0]]
        >>> multilabel_predict(scores, topk=2).int().tolist()
        [[1, 1, 0, 0]]
        >>> multilabel_predict(scores, thr=torch.tensor([0.95, 0.5, 0.6, 0.0])).int().tolist()
        [[0, 1, 0, 1]]
    """
    if validate_args:
        check_scores(scores)
        check_thr(thr, scores.shape[1])
        check_topk(topk, scores.shape[1])
        if valid is not None and (valid.dtype != torch.bool or valid.shape != scores.shape):
            raise ValueError(f'valid must be a bool tensor of the scores shape '
                             f'{tuple(scores.shape)}, got {valid.dtype} {tuple(valid.shape)}')
    if thr is None and topk is None:
        thr = 0.5
    pred = None
    if thr is not None:
        if isinstance(thr, torch.Tensor):
            thr = thr.to(device=scores.device, dtype=torch.float32)
        # compared in float32 at least, as the metrics compare the gathered float32 scores:
        # a float16 threshold would round (0.3 is 0.30005 in float16)
        low_precision = scores.dtype in (torch.float16, torch.bfloat16)
        pred = (scores.float() if low_precision else scores) >= thr
    if topk is not None:
        in_topk = topk_mask(scores, topk, valid)
        pred = in_topk if pred is None else pred.logical_and_(in_topk)
    return pred


def predictions_of_rule(scores: torch.Tensor, target: torch.Tensor, thr: Threshold = None,
                        topk: Optional[int] = None,
                        ignored: Optional[bool] = None) -> torch.Tensor:
    """The predictions of a metric's rule (``thr`` / (C,) thresholds and ``topk``) on its rows:
    with ``topk``, an ignored cell (target -1) takes no top-k place.

    The one owner of that rule, for the evaluation and for the bootstrap.

    Args:
        scores (torch.Tensor): (N, C) probabilities.
        target (torch.Tensor): (N, C) with 1 / 0 / -1.
        thr, topk: As :func:`multilabel_predict`.
        ignored (bool, optional): Whether ``target`` has a -1 (computed when None).

    Returns:
        torch.Tensor: (N, C) bool.
    """
    if topk is not None and (has_ignored(target) if ignored is None else ignored):
        return multilabel_predict(scores, thr, topk, target >= 0, validate_args=False)
    return multilabel_predict(scores, thr, topk, validate_args=False)


def confusion_counts(pred: torch.Tensor, target: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Per-class true / false positives and negatives over non-ignored cells.

    Args:
        pred (torch.Tensor): (N, C) bool predictions.
        target (torch.Tensor): (N, C) with 1 / 0 / -1 (ignored).

    Returns:
        dict: ``tp``, ``fp``, ``fn``, ``tn``, each an int64 (C,) tensor.
    """
    if pred.dtype != torch.bool or pred.shape != target.shape:
        raise ValueError(f'pred must be a bool tensor of the target shape {tuple(target.shape)}, '
                         f'got {pred.dtype} {tuple(pred.shape)}')
    positive = target if target.dtype == torch.bool else target == 1
    tp = count_true(pred & positive, 0)
    if has_ignored(target):
        negative = target == 0
        return dict(tp=tp, fp=count_true(pred & negative, 0), fn=count_true(~pred & positive, 0),
                    tn=count_true(~pred & negative, 0))
    fp = count_true(pred, 0) - tp
    fn = count_true(positive, 0) - tp
    return dict(tp=tp, fp=fp, fn=fn, tn=target.shape[0] - tp - fp - fn)


def multilabel_confusion(scores: torch.Tensor, target: torch.Tensor, thr: Optional[float] = None,
                         topk: Optional[int] = None) -> Dict[str, torch.Tensor]:
    """:func:`confusion_counts` of :func:`multilabel_predict`, with every input checked."""
    pred = multilabel_predict(scores, thr, topk)  # checks the scores
    check_target(target, scores.shape)
    return confusion_counts(pred, target)
