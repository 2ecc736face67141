"""The rows of one evaluation, kept once for every metric of an evaluator.

Every multi-label metric needs the same two rows per sample: its scores
(float32) and its target (int8: 1 positive, 0 negative, -1 ignored, and
:data:`DIFFICULT` for a label seen only on difficult objects, which each metric
reads as ignored, positive or negative by its ``difficult_as``).

:func:`batch_rows` converts a batch of mmpretrain data samples into (B, C)
arrays at once (no per-sample tensors kept). :class:`EvaluationRows` is the
explicit owner of one evaluation's rows, with a lifetime: ``RunFactsHook``
makes one per evaluation and gives it to every metric of the evaluator; the
first metric to process a batch keeps it, the others only read. At the end
:meth:`EvaluationRows.gather` assembles the (N, C) tensors once (across
processes, dropping the sampler's padding by sample index), and what metrics
derive from them (the target under a ``difficult_as`` rule, predictions at a
threshold, AP) is computed once and cached by its meaning. A metric used on its
own gets rows of its own.

Ground truth comes from ``gt_score`` when present (values 1 / 0 / -1), else
from the ``gt_label`` indices. VOC's ``gt_label_difficult`` marks labels seen
only on difficult objects.
"""
from types import MappingProxyType
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import collect_results, get_world_size

from ..functional import average_precision, multilabel_predict
from ..functional.checks import check_probabilities, has_ignored

DIFFICULT_AS = ('ignore', 'positive', 'negative')
#: Target code of a label seen only on difficult objects.
DIFFICULT = 2
_DIFFICULT_VALUE = MappingProxyType(dict(ignore=-1, positive=1, negative=0))


def difficult_value(difficult_as: str) -> int:
    """The target value a label seen only on difficult objects takes under ``difficult_as``."""
    if difficult_as not in DIFFICULT_AS:
        raise ValueError(f'difficult_as must be one of {DIFFICULT_AS}, got {difficult_as!r}')
    return _DIFFICULT_VALUE[difficult_as]


class BatchRows(NamedTuple):
    """A batch's (B, C) float32 scores, int8 target codes and (B,) sample indices (or None)."""
    scores: np.ndarray
    target: np.ndarray
    sample_idx: Optional[np.ndarray]


def _sample_name(sample: dict, index: int) -> str:
    if sample.get('sample_idx') is not None:
        return f'sample {sample["sample_idx"]}'
    return f'sample {index} of the batch'


def _as_tensor(value: Any) -> torch.Tensor:
    return value.detach() if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))


def _stack_rows(data_samples: Sequence[dict], key: str, what: str) -> torch.Tensor:
    """The samples' ``key`` rows stacked to (B, C); ValueError naming the first bad sample."""
    try:  # the common case: (C,) tensors of one length, stacked at once
        stacked = torch.stack([sample[key] for sample in data_samples])
        if stacked.dim() == 2:
            return stacked.detach()
    except (TypeError, RuntimeError):
        pass
    rows = []
    for i, sample in enumerate(data_samples):
        row = _as_tensor(sample[key])
        if row.dim() != 1:
            raise ValueError(f'{_sample_name(sample, i)}: {key} must have shape (C,), got '
                             f'{tuple(row.shape)}')
        if rows and row.numel() != rows[0].numel():
            raise ValueError(f'{_sample_name(sample, i)} has {row.numel()} {what}, '
                             f'{_sample_name(data_samples[0], 0)} has {rows[0].numel()}')
        rows.append(row)
    return torch.stack(rows)


def batch_scores(data_samples: Sequence[dict]) -> np.ndarray:
    """(B, C) float32 scores of a batch; raises ValueError naming a bad sample."""
    for i, sample in enumerate(data_samples):
        if 'pred_score' not in sample:
            raise ValueError(f'{_sample_name(sample, i)} has no pred_score; multi-label '
                             'metrics need the scores of a multi-label head')
    return _stack_rows(data_samples, 'pred_score', 'scores').to('cpu', torch.float32).numpy()


def _label_targets(data_samples: Sequence[dict], which: Sequence[int], key: str,
                   num_classes: int):
    """(sample rows, class indices) of the index lists ``key`` of the samples ``which``, checked."""
    flat = [_as_tensor(data_samples[i][key]).reshape(-1) for i in which]
    lengths = [len(row) for row in flat]
    if not sum(lengths):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    labels = torch.cat(flat).cpu().numpy().astype(np.int64)
    rows = np.repeat(np.asarray(which, dtype=np.int64), lengths)
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        where = int(np.flatnonzero(bad)[0])
        sample_i = int(rows[where])
        raise ValueError(f'{_sample_name(data_samples[sample_i], sample_i)}: {key} has index '
                         f'{labels[where]}, outside [0, {num_classes}) for {num_classes} classes')
    return rows, labels


def batch_targets(data_samples: Sequence[dict], num_classes: int) -> np.ndarray:
    """(B, C) int8 target codes of a batch (1, 0, -1, :data:`DIFFICULT`); ValueError naming a bad sample."""
    target = np.zeros((len(data_samples), num_classes), dtype=np.int8)
    with_score = [i for i, s in enumerate(data_samples) if 'gt_score' in s]
    with_label = [i for i, s in enumerate(data_samples) if 'gt_score' not in s]
    for i in with_label:
        if 'gt_label' not in data_samples[i]:
            raise ValueError(f'{_sample_name(data_samples[i], i)} has neither gt_score nor '
                             'gt_label')
    if with_score:
        chosen = [data_samples[i] for i in with_score]
        scores = _stack_rows(chosen, 'gt_score', 'gt_score entries')
        if scores.shape[1] != num_classes:
            raise ValueError(f'{_sample_name(chosen[0], with_score[0])}: gt_score has '
                             f'{scores.shape[1]} entries, the scores have {num_classes} classes')
        codes = scores.to('cpu', torch.int8)
        low, high = torch.aminmax(codes)
        if low < -1 or high > 1 or not torch.equal(codes.to(scores.dtype), scores.cpu()):
            bad = (scores != 1) & (scores != 0) & (scores != -1)
            row, cls = bad.nonzero()[0].tolist()
            raise ValueError(f'{_sample_name(chosen[row], with_score[row])}: gt_score values '
                             f'must be 1, 0 or -1 (ignored), got {scores[row, cls].item()} at '
                             f'class {cls}')
        if len(with_score) == len(data_samples):
            target = codes.numpy()
        else:
            target[with_score] = codes.numpy()
    if with_label:
        rows, labels = _label_targets(data_samples, with_label, 'gt_label', num_classes)
        target[rows, labels] = 1
    difficult = [i for i, s in enumerate(data_samples)
                 if s.get('gt_label_difficult') is not None]
    if difficult:
        rows, labels = _label_targets(data_samples, difficult, 'gt_label_difficult', num_classes)
        only_difficult = target[rows, labels] != 1
        target[rows[only_difficult], labels[only_difficult]] = DIFFICULT
    return target


def batch_rows(data_samples: Sequence[dict]) -> BatchRows:
    """A batch of data samples (dicts) as compact arrays."""
    scores = batch_scores(data_samples)
    idx = [s.get('sample_idx') for s in data_samples]
    sample_idx = None if any(i is None for i in idx) else np.asarray(idx, dtype=np.int64)
    return BatchRows(scores, batch_targets(data_samples, scores.shape[1]), sample_idx)


def _kept_rows(keys: np.ndarray, size: int) -> np.ndarray:
    """Source row of each kept sample: each key once (the first), in key order, at most ``size``."""
    _, first = np.unique(keys, return_index=True)
    return first[:size]


class _RowBuffer:
    """(n, C) rows appended in place to one growing array: nothing to stack at the end.

    It grows with ``ndarray.resize`` (``realloc``, which remaps a large array
    instead of copying it) by an eighth of its size, at least 4 MB at a time,
    and is cut to its rows by :meth:`finish`: the rows of an evaluation take
    their own size in memory, once.
    """

    def __init__(self, num_classes: int, dtype) -> None:
        self.array = np.empty((0, num_classes), dtype=dtype)
        self.size = 0
        self._min_growth = max(1, (4 << 20) // (num_classes * self.array.itemsize))

    def append(self, rows: np.ndarray) -> None:
        needed = self.size + len(rows)
        if needed > len(self.array):
            capacity = max(needed, len(self.array) + max(len(self.array) // 8, self._min_growth))
            self.array.resize((capacity, self.array.shape[1]), refcheck=False)
        self.array[self.size:needed] = rows
        self.size = needed

    def finish(self) -> np.ndarray:
        self.array.resize((self.size, self.array.shape[1]), refcheck=False)
        return self.array


class EvaluationRows:
    """The rows of one evaluation and what the metrics derive from them.

    Attributes:
        scores (torch.Tensor): (N, C) float32, after :meth:`gather` (main process).
        sample_idx (np.ndarray, optional): The dataset index of each row.
        num_classes (int, optional): C, known from the first batch.
    """

    def __init__(self) -> None:
        self._keeper = None
        self._scores: Optional[_RowBuffer] = None
        self._targets: Optional[_RowBuffer] = None
        self._indices: Optional[List[np.ndarray]] = []
        self.num_classes: Optional[int] = None
        self.num_batches = 0
        self.scores: Optional[torch.Tensor] = None
        self._codes: Optional[torch.Tensor] = None
        self.sample_idx: Optional[np.ndarray] = None
        self._gathered = False
        self._derived: Dict[Any, Any] = {}

    def add(self, metric: object, data_samples: Sequence[dict]) -> bool:
        """Keep a batch if ``metric`` is the keeper (the first metric to call); whether it was kept."""
        if self._keeper is None:
            self._keeper = metric
        if metric is not self._keeper or not data_samples:
            return False
        if self._gathered:
            raise RuntimeError('these evaluation rows were already gathered; a new evaluation '
                               'needs new rows')
        rows = batch_rows(data_samples)
        num_classes = rows.scores.shape[1]
        if self.num_classes is None:
            self.num_classes = num_classes
            self._scores = _RowBuffer(num_classes, np.float32)
            self._targets = _RowBuffer(num_classes, np.int8)
        elif num_classes != self.num_classes:
            raise ValueError(f'{_sample_name(data_samples[0], 0)} has {num_classes} scores, the '
                             f'samples evaluated before it have {self.num_classes}')
        self._scores.append(rows.scores)
        self._targets.append(rows.target)
        if rows.sample_idx is None:
            self._indices = None
        elif self._indices is not None:
            self._indices.append(rows.sample_idx)
        self.num_batches += 1
        return True

    def gather(self, size: int, collect_device: str = 'cpu',
               collect_dir: Optional[str] = None) -> None:
        """Assemble the (N, C) rows of all processes on the main one, once.

        Called by every process (it is collective on the first call). Rows
        are ordered by sample index and each sample is kept once (the
        sampler pads the last batch by repeating samples); without sample
        indices, in mmengine's order (process by process, interleaved).
        """
        if self._gathered:
            return
        self._gathered = True
        local = self._local()
        world_size = get_world_size()
        if world_size == 1:
            payloads = [local]
        else:
            payloads = collect_results([local], world_size, collect_device, collect_dir)
            del local
        if payloads is not None:
            self._assemble(payloads, size, world_size)

    def _local(self) -> Optional[BatchRows]:
        """This process's rows, taken out of the buffers."""
        if self._scores is None:
            return None
        rows = BatchRows(self._scores.finish(), self._targets.finish(),
                         None if self._indices is None else np.concatenate(self._indices))
        self._scores = self._targets = self._indices = None
        return rows

    def _assemble(self, payloads: List[Optional[BatchRows]], size: int, world_size: int) -> None:
        """Each process's rows (in rank order) into one set, in dataset order, each sample once."""
        parts = [p for p in payloads if p is not None]
        if not parts:
            raise ValueError('no sample was evaluated: the dataloader gave no sample, or '
                             'process() was never called')
        num_classes = {p.scores.shape[1] for p in parts}
        if len(num_classes) > 1:
            raise ValueError(f'processes evaluated different numbers of classes: '
                             f'{sorted(num_classes)}')
        keys = None
        if all(p.sample_idx is not None for p in parts):
            keys = np.concatenate([p.sample_idx for p in parts])
            if len(np.unique(keys)) < min(size, len(keys)):
                keys = None  # not one index per sample (a ConcatDataset restarts them)
        if keys is None:  # mmengine's order: the j-th row of process r is sample j * W + r
            keys = np.concatenate([np.arange(0 if p is None else len(p.scores)) * world_size + rank
                                   for rank, p in enumerate(payloads)])
        kept = _kept_rows(keys, size)
        if len(parts) == 1 and np.array_equal(kept, np.arange(len(keys))):
            scores, codes = parts[0].scores, parts[0].target  # in order already: no copy
        else:
            scores, codes = self._reorder(parts, keys, kept)
        payloads.clear()
        self.scores, self._codes = torch.from_numpy(scores), torch.from_numpy(codes)
        self.sample_idx = keys[kept]
        self.num_classes = scores.shape[1]

    @staticmethod
    def _reorder(parts: List[BatchRows], keys: np.ndarray, kept: np.ndarray):
        """The kept rows in key order, copied part by part (each part freed after its copy)."""
        destination = np.full(len(keys), -1, dtype=np.int64)
        destination[kept] = np.arange(len(kept))
        scores = np.empty((len(kept), parts[0].scores.shape[1]), dtype=np.float32)
        codes = np.empty(scores.shape, dtype=np.int8)
        start = 0
        while parts:
            part = parts.pop(0)
            dest = destination[start:start + len(part.scores)]
            start += len(part.scores)
            keep = dest >= 0
            scores[dest[keep]] = part.scores[keep]
            codes[dest[keep]] = part.target[keep]
            del part
        return scores, codes

    def derived(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per evaluation and ``key`` (a key says what the value means)."""
        if key not in self._derived:
            self._derived[key] = compute()
        return self._derived[key]

    def check_scores(self) -> None:
        """The scores must be probabilities (checked once for all metrics)."""
        self.derived('scores_checked', lambda: check_probabilities(self.scores, 'pred_score'))

    def target(self, difficult_as: str = 'ignore') -> torch.Tensor:
        """(N, C) int8 target: 1 / 0 / -1, labels only on difficult objects read by ``difficult_as``."""
        value = difficult_value(difficult_as)
        if not self.derived('has_difficult', lambda: bool((self._codes == DIFFICULT).any())):
            return self._codes
        return self.derived(('target', difficult_as), lambda: self._codes.masked_fill(
            self._codes == DIFFICULT, value))

    def raw_target(self) -> torch.Tensor:
        """(N, C) int8 target codes as kept: 1 / 0 / -1, and :data:`DIFFICULT` unread."""
        return self._codes

    def has_ignored(self, difficult_as: str = 'ignore') -> bool:
        return self.derived(('has_ignored', difficult_as),
                            lambda: has_ignored(self.target(difficult_as)))

    def predictions(self, thr=None, topk: Optional[int] = None,
                    difficult_as: str = 'ignore') -> torch.Tensor:
        """(N, C) bool predictions of :func:`multilabel_predict`, computed once per meaning.

        ``thr`` is a number or a (C,) tensor; with ``topk``, ignored labels take
        no top-k place.
        """
        if thr is None and topk is None:
            thr = 0.5
        if isinstance(thr, torch.Tensor):
            thr = thr.to(torch.float32)
            thr_key = ('per_class', thr.numpy().tobytes())
        else:
            thr_key = None if thr is None else float(thr)
        masked = topk is not None and self.has_ignored(difficult_as)
        key = ('pred', thr_key, topk, difficult_as if masked else None)
        valid = (lambda: self.target(difficult_as) >= 0) if masked else (lambda: None)
        return self.derived(key, lambda: multilabel_predict(self.scores, thr, topk, valid(),
                                                            validate_args=False))

    def average_precision(self, difficult_as: str = 'ignore') -> torch.Tensor:
        """(C,) float64 AP of every class (NaN without a positive), computed once."""
        return self.derived(('ap', difficult_as), lambda: average_precision(
            self.scores, self.target(difficult_as), validate_args=False))

    def release(self) -> None:
        """Drop the rows and everything derived from them."""
        self._scores = self._targets = self._indices = None
        self.scores = self._codes = self.sample_idx = None
        self._derived = {}
