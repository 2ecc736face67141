"""The shared part of the multi-label metrics: collect rows, compute, lose nothing.

Each metric subclasses :class:`BaseMultiLabelMetric` and implements
:meth:`~BaseMultiLabelMetric.compute` on the evaluation's rows. The base class

- keeps the rows in the :class:`~mmml_ext.evaluation.shared_rows.EvaluationRows`
  of its :class:`~mmml_ext.evaluation.context.EvalContext` (shared by all
  metrics of an evaluator when ``RunFactsHook`` gives them one context);
- puts them in dataset order once across processes and checks them once
  (probabilities, one number of classes, as many class names as classes):
  under DDP the rows stay spread over the processes and every process
  computes the metrics with them (:mod:`~mmml_ext.evaluation.sharded_rows`);
- validates ``items``, and, if computing fails, first saves the gathered
  predictions and then raises an error of the same type that says where they are.
"""
import logging
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.dist import broadcast_object_list, is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from . import mmpretrain_args
from .context import EvalContext
from ..functional.checks import shown_names
from ..functional.target_codes import difficult_value
from .shared_rows import EvaluationRows

#: What class means do with a class that has no positive in the evaluated data.
ABSENT_CLASSES = ('exclude', 'include')


def check_absent_classes(value: str) -> str:
    if value not in ABSENT_CLASSES:
        raise ValueError(f'absent_classes must be one of {ABSENT_CLASSES}, got {value!r}')
    return value


class BaseMultiLabelMetric(BaseMetric):
    """Base of the multi-label metrics.

    Args:
        items (Sequence[str], optional): Keys to report, a subset of
            ``ALL_ITEMS``. Defaults to ``DEFAULT_ITEMS``.
        difficult_as (str): What a label seen only on difficult objects (VOC's
            ``gt_label_difficult``) counts as: ``'ignore'`` (default),
            ``'positive'`` or ``'negative'``.
        out_dir (str, optional): Where reports, tuned thresholds and, after a
            failure, the predictions are written. Defaults to the work dir,
            which ``RunFactsHook`` provides.
        collect_device (str): ``'cpu'`` or ``'gpu'``, for gathering results
            across processes. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the keys. Defaults to
            ``'multi-label'``.
        collect_dir (str, optional): Directory for gathering on CPU.
        difficult_as_positive (bool, optional): mmpretrain's VOC metrics'
            argument, read as ``difficult_as``: None is ``'ignore'``, False
            ``'negative'``, True ``'positive'``. mmpretrain's ``average`` and
            ``items`` names are ValueErrors that name the plugin's keys
            (docs/migrating.md).
    """
    default_prefix = 'multi-label'
    #: Whether :meth:`compute` works on rows spread over processes: it reads
    #: them only through the results of ``EvaluationRows`` (``row_terms``,
    #: ``row_sums``, ``class_terms``, ``confusion``, ...). A metric that reads
    #: ``rows.scores`` as all rows leaves it False: the rows are then gathered
    #: on the main process.
    SHARDABLE = False
    ALL_ITEMS: Sequence[str] = ()
    DEFAULT_ITEMS: Sequence[str] = ()
    #: The keys the comparison gives intervals for, by family (the family
    #: :meth:`statistics_settings` names): ``{family: (key, ...)}``; each needs
    #: :meth:`replicate_values` (:mod:`~mmml_ext.evaluation.interval_statistics`).
    INTERVAL_KEYS: Dict[str, Tuple[str, ...]] = {}
    #: Those of the keys where a smaller number is the better one.
    LOWER_IS_BETTER: Tuple[str, ...] = ()
    #: The bootstrap interval of a single run's (or setting's) key, by key
    #: (:data:`~mmml_ext.functional.bootstrap.INTERVAL_METHODS`), chosen by the
    #: coverage study (docs/experiments.md); ``'percentile'`` where not given.
    #: Differences between runs always take the percentile interval.
    INTERVAL_METHOD: Dict[str, str] = {}
    #: The fewest test images at which the coverage study found a single
    #: setting's interval of the key within 93-97 % in every population it
    #: measured (docs/experiments.md), by key. On fewer images, or for a key
    #: not given (not measured), the comparison prints the interval with
    #: "no statement". Differences are not concerned: theirs held at 200.
    INTERVAL_HOLDS_FROM: Dict[str, int] = {}
    #: Whether the comparison also gives these intervals for a test that did
    #: not have the metric (with its defaults); else only where the test had it.
    COMPARED_BY_DEFAULT = False

    def __init__(self,
                 items: Optional[Sequence[str]] = None,
                 difficult_as: str = 'ignore',
                 out_dir: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None,
                 **unexpected) -> None:
        difficult_as = mmpretrain_args.take_difficult_as_positive(unexpected, difficult_as)
        mmpretrain_args.refuse_unknown(type(self), unexpected)
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if isinstance(items, str):
            raise ValueError(f'items must be a non-empty sequence of names, got the string '
                             f'{items!r}: write items=({items!r}, )')
        items = tuple(self.DEFAULT_ITEMS if items is None else items)
        if not items:
            raise ValueError(f'items must be a non-empty sequence of names, got {items!r}')
        unknown = [item for item in items if item not in self.ALL_ITEMS]
        mmpretrain_args.refuse_mmpretrain_items(type(self), unknown)
        if unknown:
            raise ValueError(f'{type(self).__name__} has no item(s) {unknown}; '
                             f'choose from {list(self.ALL_ITEMS)}')
        difficult_value(difficult_as)  # the one check of the rule
        if out_dir is not None and not isinstance(out_dir, str):
            raise ValueError(f'out_dir must be a path, got {out_dir!r}')
        self.items = items
        self.difficult_as = difficult_as
        self.out_dir = out_dir
        self._context: Optional[EvalContext] = None
        self._own_context = False
        self._warned = set()

    # --- the evaluation context -------------------------------------------------------
    def set_eval_context(self, context: Optional[EvalContext]) -> None:
        """Take the context of the coming evaluation (``RunFactsHook`` calls this)."""
        self._context, self._own_context = context, False

    @property
    def context(self) -> EvalContext:
        """The current evaluation's context; one of its own when none was given."""
        if self._context is None:
            self._context, self._own_context = EvalContext(), True
        return self._context

    def statistics_settings(self, num_classes: int) -> Optional[Tuple[str, dict]]:
        """(family, settings) that a bootstrap of this metric must repeat, or None.

        The families and their keys are those of
        :mod:`mmml_ext.run_facts.test_predictions`; ``RunFactsHook`` stores the
        test's in ``test_predictions.npz``.
        """
        return None

    @classmethod
    def replicate_values(cls, family: str, settings: dict, data) -> Dict[str, torch.Tensor]:
        """The values of ``INTERVAL_KEYS[family]`` in every bootstrap replicate, as fractions.

        Args:
            family (str): One of ``INTERVAL_KEYS``.
            settings (dict): The settings the test used for it (what
                :meth:`statistics_settings` gave; empty when the test did not
                have the metric: use the defaults).
            data (ReplicateData): The test's predictions and the replicates'
                ``counts`` (R, N) (:class:`~mmml_ext.evaluation.interval_statistics.ReplicateData`).

        Returns:
            dict: key -> (R,) float64 values (NaN where a replicate has none);
            a key that cannot be computed from the data is left out.
        """
        raise NotImplementedError(f'{cls.__name__} declares INTERVAL_KEYS {cls.INTERVAL_KEYS} '
                                  'but no replicate_values')

    def uses_class_stats(self) -> bool:
        """Whether this metric needs the training class statistics from the run."""
        return False

    # --- mmengine's BaseMetric protocol ------------------------------------------------
    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each sample's scores (float32) and target (int8) rows, once per evaluator."""
        rows = self.context.rows
        if rows.add(self, data_samples) and rows.num_batches == 1:
            self._check_class_names(rows.num_classes)

    def evaluate(self, size: int) -> dict:
        """Gather the rows (once for all metrics of the context), compute on the main process.

        Args:
            size (int): The size of the evaluated dataset; rows beyond it
                (the sampler's padding) are dropped.

        Returns:
            dict: The metric values, keys with the prefix.
        """
        context = self.context
        try:
            self._gather(context, size)
            if context.rows.spread:  # every process computes, with the others
                return self._prefixed(self.compute_metrics(context.rows))
            results = [None]
            if is_main_process():
                results = [self._prefixed(self.compute_metrics(context.rows))]
            broadcast_object_list(results)
            return results[0]
        finally:
            if self._own_context:
                context.release()
                self._context = None

    def _prefixed(self, values: Dict[str, float]) -> Dict[str, float]:
        return {f'{self.prefix}/{k}': v for k, v in values.items()} if self.prefix else values

    def _gather(self, context: EvalContext, size: int) -> None:
        """Put the rows in order; if that fails, save what this process holds first."""
        rows = context.rows
        try:
            rows.gather(size, self.collect_device, self.collect_dir)
        except Exception as error:
            own = rows.own_rows()
            if own is None:
                raise
            path = context.save_local_rows(self.out_dir, self.class_names or [])
            raise _with_message(error, f'{error}. The {len(own.scores)} predictions '
                                f'of this process were saved first, to {path}') from error

    def compute_metrics(self, results: EvaluationRows) -> Dict[str, float]:
        """The metric values from the gathered rows; saves the predictions if it fails.

        Across processes (sharded rows) every process computes; a failure on
        any of them is raised by all, after the predictions are saved once.
        """
        rows = results
        try:
            rows.check_scores()
            values, error = self.compute(rows), None
        except Exception as failure:
            values, error = None, failure
        # across processes, also a failure on one process only (writing a file)
        error = rows.shared_error(error, type(self).__name__)
        if error is None:
            return values
        path = self.context.save_predictions(self.out_dir, self.class_names or [])
        raise _with_message(error, f'{type(self).__name__} failed: {error}. The '
                            f'{rows.num_samples} evaluated predictions were saved first, to '
                            f'{path} (numpy .npz: scores, target, classes, sample_idx)') from error

    def compute(self, rows: EvaluationRows) -> Dict[str, float]:
        """The metric values (keys from ``items``) of the gathered, checked rows."""
        raise NotImplementedError

    # --- helpers -----------------------------------------------------------------------
    def _check_class_names(self, num_classes: int) -> None:
        names = self.class_names
        if names is not None and len(names) != num_classes:
            raise ValueError(f"the dataset names {len(names)} classes (dataset_meta['classes']) "
                             f'but the scores have {num_classes}: {type(self).__name__} cannot '
                             'name the classes')

    def class_mean_mask(self, present: torch.Tensor, absent_classes: str,
                        missing: str = 'no positive') -> Optional[torch.Tensor]:
        """The classes that enter class means under ``absent_classes``; names the absent once.

        Args:
            present (torch.Tensor): (C,) bool, classes with a value (a positive
                in the evaluated data).
            absent_classes (str): ``'exclude'`` or ``'include'`` (the metric's rule).
            missing (str): What an absent class lacks, for the warning.

        Returns:
            The mask for ``'exclude'``, None (every class) for ``'include'``.
        """
        if bool(present.all()):
            return None
        absent = (~present).nonzero().flatten().tolist()
        shown = self.named_classes(absent)
        how = ('left out of the class means' if absent_classes == 'exclude' else
               'counted in the class means (as 0)')
        self.warn_once('absent', f'{len(absent)} class(es) have {missing} in the evaluated data '
                       f'and are {how} (absent_classes={absent_classes!r}): {shown}')
        return present if absent_classes == 'exclude' else None

    def named_classes(self, indices: Sequence[int]) -> str:
        """The classes at ``indices`` by name (their index without names), as a warning shows
        them (:func:`~mmml_ext.functional.checks.shown_names`)."""
        names = self.class_names
        return shown_names([names[i] if names else i for i in indices])

    def warn_once(self, key: str, message: str) -> None:
        """Log ``message`` as a warning the first time ``key`` comes up for this metric."""
        if key not in self._warned:
            self._warned.add(key)
            print_log(f'{type(self).__name__}: {message}', logger='current', level=logging.WARNING)

    @property
    def class_names(self) -> Optional[Sequence[str]]:
        return (self.dataset_meta or {}).get('classes')


def _with_message(error: Exception, message: str) -> Exception:
    """An error of the type of ``error`` with ``message`` (a RuntimeError if that type cannot)."""
    try:
        return type(error)(message)
    except Exception:
        return RuntimeError(message)


def percent(values: Dict[str, float], items: Sequence[str]) -> Dict[str, float]:
    """The chosen items as percentages, the convention of mmpretrain's metrics."""
    return {item: values[item] * 100.0 for item in items}


def as_float(value) -> float:
    return float(value.item() if isinstance(value, torch.Tensor) else value)
