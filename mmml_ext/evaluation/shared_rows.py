"""The rows of one evaluation, kept once for every metric of an evaluator.

Every multi-label metric needs the same two rows per sample: its scores
(float32) and its target (int8: 1 positive, 0 negative, -1 ignored, and
:data:`~mmml_ext.functional.target_codes.DIFFICULT` for a label seen only on
difficult objects, which each metric reads as ignored, positive or negative by
its ``difficult_as``).

:func:`~mmml_ext.evaluation.row_batches.batch_rows` converts each batch of
mmpretrain data samples into (B, C) arrays at once (no per-sample tensors
kept). :class:`EvaluationRows` is the
explicit owner of one evaluation's rows, with a lifetime: ``RunFactsHook``
makes one per evaluation and gives it to every metric of the evaluator; the
first metric to process a batch keeps it, the others only read. At the end
:meth:`EvaluationRows.gather` puts the rows in dataset order once (dropping the
sampler's padding by sample index): on one process as (N, C) tensors; across
processes they stay where they are (:mod:`~mmml_ext.evaluation.sharded_rows`).
Metrics read them through results that mean the same either way (per-sample
terms, per-class counts, per-class terms such as AP), each computed once and
cached by its meaning. A metric used on its own gets rows of its own.

Ground truth comes from ``gt_score`` when present (values 1 / 0 / -1), else
from the ``gt_label`` indices. VOC's ``gt_label_difficult`` marks labels seen
only on difficult objects.
"""
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dist import collect_results, get_rank, get_world_size
from mmengine.logging import print_log

from ..functional import average_precision, confusion_counts
from ..functional.average_precision import sample_average_precision
from ..functional.confusion import predictions_of_rule
from ..functional.calibration import class_bin_tables, rows_per_block
from ..functional.checks import check_probabilities, has_ignored
from ..functional.target_codes import DIFFICULT, difficult_value, read_difficult
from ..functional.thresholds import per_class_best_thresholds
from .exchange import Exchange
from .local_rows import LocalRows
from .row_batches import BatchRows, batch_rows, plan_rows, sample_name
from .sharded_rows import ShardedRows


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

    After :meth:`gather` the rows live in one of two backends with one interface
    (:class:`~mmml_ext.evaluation.local_rows.LocalRows`: every row on this
    process; :class:`~mmml_ext.evaluation.sharded_rows.ShardedRows`: spread over
    processes). A metric reads results over all rows (:meth:`row_terms`,
    :meth:`row_sums`, :meth:`class_terms` and the shared results built on
    them), each cached under a key that starts with its owner: the metric class
    or the kernel function that computes it, so two metrics never share a value
    by accident. :attr:`scores` is every row, and raises where this process holds
    only its own (read :meth:`own_scores` inside a ``row_terms`` / ``row_sums``
    computation).

    Attributes:
        num_classes (int, optional): C, known from the first batch.
    """

    def __init__(self) -> None:
        self._keeper = None
        self._scores: Optional[_RowBuffer] = None
        self._targets: Optional[_RowBuffer] = None
        self._indices: Optional[List[np.ndarray]] = []
        self.num_classes: Optional[int] = None
        self.num_batches = 0
        self._backend = None  # LocalRows or ShardedRows, after gather
        self._unplaced: Optional[BatchRows] = None  # this process's rows while they are placed
        self._gathered = False
        self._derived: Dict[Any, Any] = {}
        # the latest predictions (key, (n, C) bool): what they feed (counts, terms) is cached
        self._last_predictions = None
        self._unshardable: List[str] = []

    def add(self, metric: object, data_samples: Sequence[dict]) -> bool:
        """Keep a batch if ``metric`` is the keeper (the first metric to call); whether it was kept."""
        if self._keeper is None:
            self._keeper = metric
        name = type(metric).__name__
        if not getattr(metric, 'SHARDABLE', False) and name not in self._unshardable:
            self._unshardable.append(name)
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
            raise ValueError(f'{sample_name(data_samples[0], 0)} has {num_classes} scores, the '
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
        """Put the rows of all processes in dataset order, once.

        Called by every process (it is collective on the first call). Rows
        are ordered by sample index and each sample is kept once (the
        sampler pads the last batch by repeating samples); without sample
        indices, in mmengine's order (process by process, interleaved).

        With several processes the rows stay spread over them
        (:class:`~mmml_ext.evaluation.sharded_rows.ShardedRows`): this
        process keeps its own rows in :attr:`scores`, and the results that
        need all rows come through :meth:`row_terms`, :meth:`row_sums` and
        :meth:`class_terms`. If a metric of the evaluation cannot work that
        way, the rows are gathered on the main process with mmengine's
        ``collect_results`` instead, and a log line says so.
        """
        if self._gathered:
            return
        self._gathered = True
        local = self._local()
        world_size = get_world_size()
        if world_size == 1:
            self._assemble([local], size, world_size)
        elif not self._unshardable:
            self._unplaced = local  # kept until the rows are placed, to be saved on failure
            self._backend = ShardedRows(Exchange(), local, size)
            self._unplaced = None
            self.num_classes = self._backend.num_classes
        else:
            if get_rank() == 0:
                print_log(f'{", ".join(self._unshardable)} cannot be computed from rows spread '
                          'over processes: the rows are gathered on rank 0', logger='current')
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
        num_classes = {p.scores.shape[1] for p in parts}
        if len(num_classes) > 1:
            raise ValueError(f'processes evaluated different numbers of classes: '
                             f'{sorted(num_classes)}')
        plan = plan_rows([None if p is None else p.sample_idx for p in payloads],
                         [0 if p is None else len(p.scores) for p in payloads], size, world_size)
        destination = np.concatenate(plan.positions)
        if len(parts) == 1 and np.array_equal(destination, np.arange(len(destination))):
            scores, codes = parts[0].scores, parts[0].target  # in order already: no copy
        else:
            scores, codes = self._reorder(parts, destination, plan.num_samples)
        payloads.clear()
        self._backend = LocalRows(torch.from_numpy(scores), torch.from_numpy(codes),
                                  plan.sample_idx)
        self.num_classes = scores.shape[1]

    @staticmethod
    def _reorder(parts: List[BatchRows], destination: np.ndarray, num_samples: int):
        """The kept rows in dataset order, copied part by part (each part freed after its copy)."""
        scores = np.empty((num_samples, parts[0].scores.shape[1]), dtype=np.float32)
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

    @property
    def holds_all(self) -> bool:
        """Whether this process has the results of all rows (the main process, or every
        process of a sharded evaluation)."""
        return self._backend is not None

    @property
    def spread(self) -> bool:
        """Whether the rows are spread over processes (then every process computes, with the
        others)."""
        return self._backend is not None and self._backend.spread

    @property
    def num_samples(self) -> int:
        """N, the samples evaluated (each once)."""
        return self._placed().num_samples

    @property
    def sample_idx(self) -> Optional[np.ndarray]:
        """The dataset index of each row (all rows, dataset order), or None."""
        return None if self._backend is None else self._backend.sample_idx

    @property
    def scores(self) -> torch.Tensor:
        """(N, C) float32 scores of every row, in dataset order.

        Raises:
            RuntimeError: The rows are spread over processes, so no process
                holds them all (read results over all rows instead).
        """
        backend = self._placed()
        if backend.spread:
            raise RuntimeError('the evaluation rows are spread over processes: this process '
                               'holds only its own; read results over all rows (row_terms, '
                               'row_sums, class_terms) or own_scores() inside their computation')
        return backend.scores

    def own_scores(self) -> torch.Tensor:
        """(n, C) float32 scores of this process's rows (every row on one process)."""
        return self._placed().scores

    def own_rows(self) -> Optional[BatchRows]:
        """This process's rows as numpy arrays with their sample indices (also while they are
        being placed, to be saved when that fails); None if it has none."""
        if self._unplaced is not None:
            return self._unplaced
        return None if self._backend is None else self._backend.own_rows()

    def _placed(self):
        if self._backend is None:
            raise RuntimeError('the evaluation rows are not here: gather() was not called, or '
                               'this process is not the one that holds them')
        return self._backend

    def check_scores(self) -> None:
        """The scores must be probabilities (checked once for all metrics)."""
        self.derived('scores_checked', lambda: self._placed().agree(
            lambda: check_probabilities(self.own_scores(), 'pred_score'), 'checking the scores'))

    def shared_error(self, error: Optional[BaseException], name: str) -> Optional[BaseException]:
        """``error`` of this process, or one raised on any other process of a spread evaluation."""
        return self._placed().shared_error(error, name)

    @property
    def exchange_broken(self) -> bool:
        """Whether the processes of a spread evaluation can no longer exchange rows."""
        return self._backend is not None and self._backend.broken

    def agree_on(self, value, what: str):
        """The main process's ``value`` on every process (collective when the rows are spread)."""
        return self._placed().agree_on(value, what)

    def write(self, write: Callable, difficult_as: Optional[str] = None):
        """``write(scores, target)`` with every row in dataset order, on the process that writes.

        Args:
            write (callable): Gets (N, C) scores and target as arrays, or, when
                the rows are spread, as :class:`~mmml_ext.run_facts.npz_blocks.BlockArray`
                blocks (collective: every process calls this).
            difficult_as (str, optional): Read the target codes by this rule;
                None: the codes as kept.

        Returns:
            What ``write`` returns on the writing process, None elsewhere.
        """
        backend = self._placed()
        read = (lambda codes: codes) if difficult_as is None else \
            (lambda codes: read_difficult(codes, difficult_as))
        return backend.write(write, read)

    def target(self, difficult_as: str = 'ignore') -> torch.Tensor:
        """(n, C) int8 target of this process's rows (all rows on one process): 1 / 0 / -1."""
        difficult_value(difficult_as)  # checks the rule
        codes = self._placed().codes
        if not self.derived('has_difficult', lambda: bool((codes == DIFFICULT).any())):
            return codes
        return self.derived(('target', difficult_as),
                            lambda: read_difficult(codes, difficult_as))

    def has_ignored(self, difficult_as: str = 'ignore') -> bool:
        return self.derived(('has_ignored', difficult_as),
                            lambda: has_ignored(self.target(difficult_as)))

    @staticmethod
    def thr_key(thr) -> Any:
        """A cache key of a threshold: a number, or the bytes of (C,) float32 thresholds."""
        if isinstance(thr, torch.Tensor):
            return ('per_class', thr.to(torch.float32).numpy().tobytes())
        return None if thr is None else float(thr)

    def predictions(self, thr=None, topk: Optional[int] = None,
                    difficult_as: str = 'ignore') -> torch.Tensor:
        """(n, C) bool predictions of :func:`multilabel_predict` for this process's rows, once per meaning.

        ``thr`` is a number or a (C,) tensor; with ``topk``, ignored labels take
        no top-k place.
        """
        if thr is None and topk is None:
            thr = 0.5
        if isinstance(thr, torch.Tensor):
            thr = thr.to(torch.float32)
        masked = topk is not None and self.has_ignored(difficult_as)
        key = ('pred', self.thr_key(thr), topk, difficult_as if masked else None)
        if self._last_predictions is None or self._last_predictions[0] != key:
            self._last_predictions = None  # one (n, C) bool matrix alive at a time
            self._last_predictions = (key, predictions_of_rule(
                self.own_scores(), self.target(difficult_as) if masked else None, thr, topk,
                masked))
        return self._last_predictions[1]

    # --- results over all rows (equal on one process and across processes) --------------
    def row_terms(self, key: tuple, compute: Callable[[], Dict[str, torch.Tensor]],
                  what: str) -> Dict[str, torch.Tensor]:
        """Per-sample terms ``compute()`` of this process's rows, of all rows in dataset order."""
        return self.derived(('row_terms', *_owned(key)),
                            lambda: self._placed().row_terms(compute, what))

    def row_sums(self, key: tuple, compute: Callable[[], Dict[str, torch.Tensor]],
                 what: str) -> Dict[str, torch.Tensor]:
        """Integer sums over samples ``compute()`` of this process's rows, of all rows."""
        return self.derived(('row_sums', *_owned(key)),
                            lambda: self._placed().row_sums(compute, what))

    def class_terms(self, key: tuple, compute: Callable[[torch.Tensor, torch.Tensor], Dict],
                    difficult_as: str, what: str) -> Dict[str, torch.Tensor]:
        """Per-class terms ``compute(scores, target)`` of (N, c) columns, of all classes.

        ``compute`` sees every row of some classes, in dataset order (all
        classes on one process; its owned slice on each of several).
        """
        return self.derived(('class_terms', *_owned(key), difficult_as),
                            lambda: self._placed().class_terms(
                                lambda scores, codes: compute(scores,
                                                              read_difficult(codes, difficult_as)),
                                what))

    def average_precision(self, difficult_as: str = 'ignore') -> torch.Tensor:
        """(C,) float64 AP of every class (NaN without a positive), computed once."""
        return self.class_terms((average_precision, ), lambda s, t: dict(ap=average_precision(
            s, t, validate_args=False)), difficult_as, 'average precision')['ap']

    def sample_average_precision(self, difficult_as: str = 'ignore') -> Dict[str, torch.Tensor]:
        """Per sample, in dataset order: ``ap`` (N,) float64, its AP over its classes (NaN
        without a positive), and ``has_negative`` (N,) bool; computed once.

        Row terms: each process ranks its own rows, which are whole (every class of a
        sample), so a sharded evaluation needs no exchange, only the (N,) results.
        """
        def terms() -> Dict[str, torch.Tensor]:
            target = self.target(difficult_as)
            return dict(ap=sample_average_precision(self.own_scores(), target,
                                                    validate_args=False),
                        has_negative=(target == 0).any(dim=1))
        return self.row_terms((sample_average_precision, difficult_as), terms,
                              'sample average precision')

    def best_thresholds(self, difficult_as: str = 'ignore') -> Tuple[torch.Tensor, torch.Tensor]:
        """(C,) thresholds maximising each class's F1 (NaN without a positive), and the F1."""
        terms = self.class_terms((per_class_best_thresholds, ), lambda s, t: dict(zip(
            ('thr', 'f1'), per_class_best_thresholds(s, t))), difficult_as, 'tuning thresholds')
        return terms['thr'], terms['f1']

    def global_threshold(self, difficult_as: str = 'ignore') -> Tuple[float, float]:
        """The one threshold maximising OF1 over all cells, and the OF1 (NaN: no positive)."""
        target = self.target(difficult_as)
        return self.derived(('global_thr', difficult_as), lambda: self._placed()
                            .global_best_threshold(target, 'tuning the global threshold'))

    def confusion(self, thr=None, topk: Optional[int] = None,
                  difficult_as: str = 'ignore') -> Dict[str, torch.Tensor]:
        """(C,) int64 ``tp``, ``fp``, ``fn``, ``tn`` of the predictions at ``thr`` / ``topk``."""
        if thr is None and topk is None:
            thr = 0.5
        key = (confusion_counts, self.thr_key(thr), topk, difficult_as)
        return self.row_sums(key, lambda: confusion_counts(
            self.predictions(thr, topk, difficult_as), self.target(difficult_as)),
            'counting predictions')

    def calibration_tables(self, num_bins: int,
                           difficult_as: str = 'ignore') -> Dict[str, torch.Tensor]:
        """(C, M) :func:`class_bin_tables` of all classes (blocks of rows set by all C)."""
        step = rows_per_block(self.num_classes)
        return self.class_terms((class_bin_tables, num_bins), lambda s, t: class_bin_tables(
            s, t, num_bins, step), difficult_as, 'calibration bins')

    def release(self) -> None:
        """Drop the rows and everything derived from them (and the sharded evaluation's group)."""
        if self._backend is not None:
            self._backend.release()
            self._backend = None
        self._unplaced = self._last_predictions = None
        self._scores = self._targets = self._indices = None
        self._derived = {}


def _owned(key: tuple) -> tuple:
    """A cache key must start with its owner: the metric class or the kernel function."""
    if not (isinstance(key, tuple) and key and (isinstance(key[0], type) or callable(key[0]))):
        raise TypeError(f'a cache key of the evaluation rows starts with its owner (the metric '
                        f'class or the function that computes the value), got {key!r}')
    return key
