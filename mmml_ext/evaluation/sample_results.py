"""Read scores and ground truth out of mmpretrain data samples, compactly.

Every multi-label metric needs the same two rows per sample: its scores
(float32) and its target (int8: 1 positive, 0 negative, -1 ignored). They are
built once per batch as (B, C) numpy arrays, and every metric of the evaluator
keeps the same :class:`SampleRow` objects pointing into them: one copy for all
metrics. A row pickles as just its own two rows when mmengine gathers results
across processes. At evaluation, :func:`stack_results` turns the rows back
into (N, C) tensors once for all metrics (runs of consecutive rows of a batch
are sliced, not copied row by row) and keeps them, with the predictions the
metrics ask for, until the rows are freed.

Ground truth comes from ``gt_score`` when present (values 1 / 0 / -1), else
from the ``gt_label`` indices. VOC's ``gt_label_difficult`` marks labels seen
only on difficult objects; ``difficult_as`` makes them ignored (default),
positive or negative.
"""
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

DIFFICULT_AS = ('ignore', 'positive', 'negative')
_DIFFICULT_VALUE = dict(ignore=-1, positive=1, negative=0)


class BatchArrays:
    """A batch's (B, C) float32 scores and int8 targets."""
    __slots__ = ('scores', 'target')

    def __init__(self, scores: np.ndarray, target: np.ndarray) -> None:
        self.scores, self.target = scores, target


class SampleRow:
    """One sample: row ``index`` of a :class:`BatchArrays`, shared by the metrics."""
    __slots__ = ('batch', 'index', '__weakref__')

    def __init__(self, batch: BatchArrays, index: int) -> None:
        self.batch, self.index = batch, index

    @property
    def scores(self) -> np.ndarray:
        return self.batch.scores[self.index]

    @property
    def target(self) -> np.ndarray:
        return self.batch.target[self.index]

    def __reduce__(self):
        # gathered across processes as its own two rows, not its whole batch
        return (SampleRow.of_rows, (self.scores.copy(), self.target.copy()))

    @staticmethod
    def of_rows(scores: np.ndarray, target: np.ndarray) -> 'SampleRow':
        return SampleRow(BatchArrays(scores[None], target[None]), 0)

# The last batch converted, shared by the metrics of one evaluator: mmengine's
# Evaluator hands every metric the same list object for a batch. The first
# sample is kept too, so that a list refilled in place is not mistaken for it.
_last_batch: Dict[str, Any] = dict(samples=None, first=None, scores=None, targets={}, rows={})


def _is_last_batch(data_samples: Sequence[dict]) -> bool:
    return (_last_batch['samples'] is data_samples and len(data_samples) > 0
            and data_samples[0] is _last_batch['first'])


def _sample_name(sample: dict, index: int) -> str:
    if 'sample_idx' in sample:
        return f'sample {sample["sample_idx"]}'
    return f'sample {index} of the batch'


def _as_array(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def batch_scores(data_samples: Sequence[dict]) -> np.ndarray:
    """(B, C) float32 scores of a batch; raises ValueError naming a bad sample."""
    if _is_last_batch(data_samples):
        return _last_batch['scores']
    rows = []
    for i, sample in enumerate(data_samples):
        if 'pred_score' not in sample:
            raise ValueError(f'{_sample_name(sample, i)} has no pred_score; multi-label '
                             'metrics need the scores of a multi-label head')
        score = sample['pred_score']
        if not isinstance(score, torch.Tensor):
            score = torch.as_tensor(np.asarray(score))
        if score.dim() != 1:
            raise ValueError(f'{_sample_name(sample, i)}: pred_score must have shape (C,), '
                             f'got {tuple(score.shape)}')
        rows.append(score.detach())
    lengths = {len(row) for row in rows}
    if len(lengths) > 1:
        raise ValueError(f'pred_score lengths differ within a batch: {sorted(lengths)}')
    scores = torch.stack(rows).to('cpu', torch.float32).numpy()
    _last_batch.update(samples=data_samples, first=data_samples[0], scores=scores, targets={},
                       rows={})
    return scores


def batch_targets(data_samples: Sequence[dict], num_classes: int,
                  difficult_as: str = 'ignore') -> np.ndarray:
    """(B, C) int8 targets of a batch; raises ValueError naming a bad sample."""
    cached = _last_batch['targets'].get(difficult_as)
    if cached is not None and _is_last_batch(data_samples):
        return cached
    target = np.zeros((len(data_samples), num_classes), dtype=np.int8)
    label_rows: List[Any] = []
    label_samples: List[int] = []
    for i, sample in enumerate(data_samples):
        if 'gt_score' in sample:
            target[i] = _gt_score_row(sample, i, num_classes)
        elif 'gt_label' in sample:
            label_rows.append(sample['gt_label'])
            label_samples.append(i)
        else:
            raise ValueError(f'{_sample_name(sample, i)} has neither gt_score nor gt_label')
    if label_rows:
        if all(isinstance(row, torch.Tensor) for row in label_rows):  # one concatenation
            flat_rows = [row.reshape(-1) for row in label_rows]
            labels = torch.cat(flat_rows).cpu().numpy().astype(np.int64)
        else:
            flat_rows = [_as_array(row).reshape(-1) for row in label_rows]
            labels = np.concatenate(flat_rows).astype(np.int64)
        row_index = np.repeat(np.asarray(label_samples, dtype=np.int64),
                              [len(row) for row in flat_rows])
        bad = (labels < 0) | (labels >= num_classes)
        if bad.any():
            where = int(np.flatnonzero(bad)[0])
            sample_i = int(row_index[where])
            raise ValueError(f'{_sample_name(data_samples[sample_i], sample_i)} has label index '
                             f'{labels[where]}, outside [0, {num_classes}) for {num_classes} '
                             'classes')
        target[row_index, labels] = 1
    if difficult_as != 'negative':
        _mark_difficult(data_samples, target, _DIFFICULT_VALUE[difficult_as])
    if _is_last_batch(data_samples):
        _last_batch['targets'][difficult_as] = target
    return target


def _gt_score_row(sample: dict, index: int, num_classes: int) -> np.ndarray:
    row = _as_array(sample['gt_score']).reshape(-1)
    if row.shape != (num_classes, ):
        raise ValueError(f'{_sample_name(sample, index)}: gt_score has shape {row.shape}, '
                         f'the scores have {num_classes} classes')
    bad = (row != 1) & (row != 0) & (row != -1)
    if bad.any():
        raise ValueError(f'{_sample_name(sample, index)}: gt_score values must be 1, 0 or -1 '
                         f'(ignored), got {row[bad][0]} at class {int(np.flatnonzero(bad)[0])}')
    return row


def _mark_difficult(data_samples: Sequence[dict], target: np.ndarray, value: int) -> None:
    """Labels only on difficult objects (VOC): set to ``value`` unless already positive."""
    num_classes = target.shape[1]
    for i, sample in enumerate(data_samples):
        difficult = sample.get('gt_label_difficult')
        if difficult is None or len(difficult) == 0:
            continue
        difficult = _as_array(difficult).reshape(-1).astype(np.int64)
        if ((difficult < 0) | (difficult >= num_classes)).any():
            raise ValueError(f'{_sample_name(sample, i)}: gt_label_difficult {difficult.tolist()} '
                             f'has an index outside [0, {num_classes})')
        only_difficult = difficult[target[i, difficult] != 1]
        target[i, only_difficult] = value


def batch_results(data_samples: Sequence[dict], difficult_as: str = 'ignore') -> List[SampleRow]:
    """The batch's samples as :class:`SampleRow` objects, the same ones for every metric."""
    if len(data_samples) == 0:
        return []
    cached = _last_batch['rows'].get(difficult_as)
    if cached is not None and _is_last_batch(data_samples):
        return cached
    scores = batch_scores(data_samples)
    batch = BatchArrays(scores, batch_targets(data_samples, scores.shape[1], difficult_as))
    rows = [SampleRow(batch, i) for i in range(len(data_samples))]
    if _is_last_batch(data_samples):
        _last_batch['rows'][difficult_as] = rows
    return rows


class _Stacked:
    """(N, C) tensors of one list of rows, and what the metrics derived from them."""

    def __init__(self, rows: Sequence[SampleRow]) -> None:
        me = weakref.ref(self)

        def forget(_ref) -> None:  # the rows are gone: drop the tensors, unless replaced
            if _stacked[0] is not None and _stacked[0] is me():
                _stacked[0] = None

        self.key = (weakref.ref(rows[0], forget), weakref.ref(rows[-1]), len(rows))
        self.scores, self.target = _concatenate(rows)
        self.checked = False
        self.derived: Dict[Any, Any] = {}

    def matches(self, rows: Sequence[SampleRow]) -> bool:
        first, last, n = self.key
        return n == len(rows) and first() is rows[0] and last() is rows[-1]


_stacked: List[Optional[_Stacked]] = [None]


def _concatenate(rows: Sequence[SampleRow]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Stack rows; runs of consecutive rows of one batch become slices."""
    scores_parts, target_parts = [], []
    start = 0
    for i in range(1, len(rows) + 1):
        if (i == len(rows) or rows[i].batch is not rows[start].batch
                or rows[i].index != rows[i - 1].index + 1):
            batch, lo = rows[start].batch, rows[start].index
            scores_parts.append(batch.scores[lo:lo + i - start])
            target_parts.append(batch.target[lo:lo + i - start])
            start = i
    return (torch.from_numpy(np.concatenate(scores_parts)),
            torch.from_numpy(np.concatenate(target_parts)))


def stack_results(rows: Sequence[SampleRow]) -> _Stacked:
    """(N, C) float32 scores and int8 targets of the rows, shared by the metrics.

    The metrics of one evaluator get the same rows and so the same stacked
    tensors; they are dropped when the rows are freed after the evaluation.
    """
    if len(rows) == 0:
        raise ValueError('no sample was evaluated: the dataloader gave no sample, or '
                         'process() was never called')
    stacked = _stacked[0]
    if stacked is None or not stacked.matches(rows):
        stacked = _stacked[0] = _Stacked(rows)
    return stacked


def derived(stacked: _Stacked, key: Any, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per stacked rows and ``key`` (e.g. predictions at a threshold)."""
    if key not in stacked.derived:
        stacked.derived[key] = compute()
    return stacked.derived[key]


def release_batch_cache() -> None:
    """Drop the reference to the last batch (called after an evaluation)."""
    _last_batch.update(samples=None, first=None, scores=None, targets={}, rows={})
