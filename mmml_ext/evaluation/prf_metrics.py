"""Metrics of thresholded (or top-k) predictions: the papers' P/R/F1 and exact match.

``MultiLabelPRF`` reports CP, CR, CF1, OP, OR, OF1 (and ``macro_F1``);
``SubsetAccuracy`` the exact-match ratio and the other example-based numbers.
Both predict with :func:`mmml_ext.functional.multilabel_predict`: ``score >= thr``,
or the top-k of each sample (ties to the lower class index), or both (the ML-GCN
rule); with neither given, ``thr = 0.5``. Keys say how they predict
(:func:`key_suffix`): ``_thr-0.30`` for a threshold other than 0.5,
``_top{k}`` for top-k. Values are percentages. Formulas and edge cases:
docs/metrics.md.

With ``thresholds='tuned'`` they predict at the per-class thresholds that
``TunedThresholdF1`` tuned on the validation set for the checkpoint under test
(they travel in its meta): in a test evaluator this gives the honest numbers at
tuned thresholds (keys end in ``_valtuned``), where tuning and measuring on the
same data would be optimistic.
"""
import os.path as osp
from typing import Dict, Optional

import torch
from mmpretrain.registry import METRICS

from ..functional.bootstrap import bootstrap_confusion
from ..functional.confusion import predictions_of_rule
from ..functional.example_based import (example_terms, reduce_example_terms,
                                        weighted_example_metrics)
from ..functional.prf import batched_precision_recall_f1, precision_recall_f1
from ..functional.checks import check_thr, check_topk
from ..run_facts.tuned_thresholds import ThresholdSource, ThresholdSpec
from .base import BaseMultiLabelMetric, check_absent_classes, percent
from .shared_rows import EvaluationRows
from .threshold_tuning import TUNED_SUFFIX

#: Key ending of the numbers at thresholds tuned on the validation set (from a test).
VALTUNED_SUFFIX = '_valtuned'
#: Key ending of the numbers at fixed per-class thresholds from a list.
PER_CLASS_SUFFIX = '_perclass'
MISSING_THRESHOLDS = ('error', 'warn')


def threshold_suffix(thr: float) -> str:
    """``_thr-0.30``: the key ending of a threshold other than 0.5 (mmpretrain's form)."""
    text = f'{thr:.2f}' if round(thr, 2) == thr else f'{thr:g}'
    return f'_thr-{text}'


def key_suffix(thr: Optional[float] = None, topk: Optional[int] = None,
               thresholds: Optional[ThresholdSource] = None) -> str:
    """The key ending of predictions at ``thr`` / ``thresholds`` and ``topk``.

    Nothing for the default (``thr`` 0.5 or unset), ``_thr-0.30`` for another
    threshold, ``_valtuned`` for tuned thresholds (``'tuned'`` or a file),
    ``_perclass`` for a list, then ``_top{k}``: metrics that differ in ``thr``
    or ``topk`` never report the same key. Two metrics with per-class
    thresholds of different sources (two lists, a file beside ``'tuned'``)
    need a ``suffix`` of their own.
    """
    suffix = ''
    if thresholds is not None:
        if thresholds.is_tuned or thresholds.is_file:
            suffix = VALTUNED_SUFFIX
        elif isinstance(thresholds.spec, float):
            suffix = '' if thresholds.spec == 0.5 else threshold_suffix(thresholds.spec)
        else:
            suffix = PER_CLASS_SUFFIX
    elif thr is not None and thr != 0.5:
        suffix = threshold_suffix(thr)
    return suffix + (f'_top{topk}' if topk is not None else '')


class _PredictionMetric(BaseMultiLabelMetric):
    """A metric of the predictions at ``thr`` and/or ``topk``, or at per-class thresholds."""

    def __init__(self, thr: Optional[float] = None, topk: Optional[int] = None,
                 thresholds: ThresholdSpec = None, suffix: Optional[str] = None,
                 missing_thresholds: str = 'error', **kwargs):
        check_thr(thr)
        check_topk(topk)
        if thresholds is not None and thr is not None:
            raise ValueError('give thr or thresholds, not both')
        if missing_thresholds not in MISSING_THRESHOLDS:
            raise ValueError(f'missing_thresholds must be one of {MISSING_THRESHOLDS}, got '
                             f'{missing_thresholds!r}')
        if suffix is not None and not isinstance(suffix, str):
            raise ValueError(f'suffix must be a string, got {suffix!r}')
        super().__init__(**kwargs)
        self.thr, self.topk = thr, topk
        self.thresholds = None if thresholds is None else ThresholdSource(thresholds)
        self.missing_thresholds = missing_thresholds
        self.suffix = key_suffix(thr, topk, self.thresholds) if suffix is None else suffix

    def class_thresholds(self, num_classes: int) -> torch.Tensor:
        """(C,) thresholds from ``thresholds`` for this evaluation (a file is read each time).

        Raises:
            ValueError: ``'tuned'``, and none were tuned for the weights under
                evaluation; a list or file for another number of classes.
            FileNotFoundError: The thresholds file does not exist.
        """
        context = self.context
        thr = self.thresholds.resolve(num_classes, context.work_dir, context.tuned_thresholds)
        if thr is None:
            raise ValueError(f'{type(self).__name__}(thresholds={self.thresholds.spec!r}): '
                             f'{self.thresholds_missing()}')
        return thr

    def thresholds_missing(self) -> Optional[str]:
        """Why the ``thresholds`` are not available here, or None when they are."""
        if self.thresholds is None:
            return None
        context = self.context
        if self.thresholds.is_tuned and context.tuned_thresholds is None:
            weights = f', {context.weights},' if context.weights else ''
            because = context.no_thresholds_because or (
                'they travel in the checkpoint: validate with TunedThresholdF1 while training, '
                "with dict(type='RunFactsHook') in custom_hooks")
            return f'no thresholds were tuned for the weights under evaluation{weights} ({because})'
        if self.thresholds.is_file:
            try:
                path = self.thresholds.file_path(self.context.work_dir)
            except ValueError as error:  # relative, and no work dir
                return str(error)
            if not osp.isfile(path):
                return f'the thresholds file {path} does not exist'
        return None

    def compute_metrics(self, results: EvaluationRows) -> Dict[str, float]:
        missing = self.thresholds_missing()
        if missing is not None and self.missing_thresholds == 'warn':
            self.warn_once(f'missing:{missing}', f'{missing}; the *{self.suffix} keys are left out')
            return {}
        return super().compute_metrics(results)  # a missing source raises there (rows saved)

    def rule(self, rows: EvaluationRows):
        """(thr, topk) of the one prediction rule: a number or (C,) thresholds, and k."""
        check_topk(self.topk, rows.num_classes)
        thr = self.thr if self.thresholds is None else self.class_thresholds(rows.num_classes)
        return thr, self.topk

    def keyed(self, values: Dict[str, float]) -> Dict[str, float]:
        return {f'{key}{self.suffix}': value for key, value in percent(values, self.items).items()}


@METRICS.register_module()
class MultiLabelPRF(_PredictionMetric):
    """CP, CR, CF1, OP, OR, OF1 of multi-label predictions, in percent.

    Per class c: P_c = TP/(TP+FP), R_c = TP/(TP+FN), 0 for a zero denominator.
    CP / CR are the means of P_c / R_c over all classes, CF1 = 2 CP CR/(CP+CR)
    (the papers' CF1); OP / OR pool the counts of all classes, OF1 = 2 OP OR/(OP+OR).
    ``macro_F1`` is the mean of per-class F1 (mmpretrain's and scikit-learn's
    macro F1), a different number from CF1. A class with no positive in the
    evaluated data is left out of CP, CR, CF1 and macro_F1 by default (the rule
    of every class mean of the plugin, as mAP); ``absent_classes='include'``
    averages over all classes (the papers' full-class mean).

    Args:
        thr (float, optional): Threshold in [0, 1]. Defaults to None.
        topk (int, optional): Labels predicted per sample (ignored labels take
            no place). Defaults to None; with ``thr`` also None, ``thr = 0.5``.
        thresholds (str | list, optional): Per-class thresholds instead of
            ``thr``: ``'tuned'`` (those tuned on validation for the
            checkpoint under test), a list of C numbers, or a thresholds file
            (a relative path is read from the work dir, at every evaluation).
            A class that could not be tuned takes the global threshold.
            Defaults to None.
        suffix (str, optional): Ending of the keys. Defaults to
            :func:`key_suffix`: ``_thr-0.30``, ``_valtuned``, ``_perclass``,
            then ``_top{k}``.
        missing_thresholds (str): When the ``thresholds`` are not available
            (no thresholds in the checkpoint, no file): ``'error'`` (a
            ValueError, raised by ``RunFactsHook`` before the evaluation
            starts) or ``'warn'`` (log a warning and report no keys).
            Defaults to ``'error'``.
        absent_classes (str): ``'exclude'`` (default) or ``'include'``: a
            class with no positive in the evaluated data in the class means.
        items (Sequence[str]): From ``CP CR CF1 OP OR OF1 macro_F1``.
            Defaults to the first six.
        **kwargs: See :class:`BaseMultiLabelMetric` (``difficult_as``,
            ``prefix``, ``collect_device``, ...).

    Examples:
        >>> val_evaluator = [
        ...     dict(type='MultiLabelPRF'),          # multi-label/CF1, ...
        ...     dict(type='MultiLabelPRF', topk=3),  # multi-label/CF1_top3, ...
        ... ]
        >>> # at the thresholds tuned on the validation set (multi-label/CF1_valtuned, ...)
        >>> test_evaluator = [dict(type='MultiLabelPRF', thresholds='tuned')]
    """
    SHARDABLE = True
    ALL_ITEMS = ('CP', 'CR', 'CF1', 'OP', 'OR', 'OF1', 'macro_F1')
    DEFAULT_ITEMS = ('CP', 'CR', 'CF1', 'OP', 'OR', 'OF1')
    #: at 0.5 (``prf``), and at the validation-tuned thresholds (``prf_tuned``)
    INTERVAL_KEYS = {'prf': ('CF1', 'OF1'),
                     'prf_tuned': (f'CF1{TUNED_SUFFIX}', f'OF1{TUNED_SUFFIX}')}
    #: CF1 with rare classes at 200 images: 82.7-91.6 %; the others 93.8-95.6 %
    INTERVAL_HOLDS_FROM = {'CF1': 5000, 'OF1': 200, f'CF1{TUNED_SUFFIX}': 200,
                           f'OF1{TUNED_SUFFIX}': 200}
    COMPARED_BY_DEFAULT = True

    def __init__(self, *args, absent_classes: str = 'exclude', **kwargs):
        super().__init__(*args, **kwargs)
        self.absent_classes = check_absent_classes(absent_classes)

    def statistics_settings(self, num_classes: int):
        common = dict(difficult_as=self.difficult_as, absent_classes=self.absent_classes,
                      topk=self.topk)
        if self.suffix == '':  # CP ... OF1 at 0.5
            return 'prf', dict(common, thr=self.thr)
        if self.suffix == VALTUNED_SUFFIX and self.thresholds_missing() is None:
            thresholds = self.class_thresholds(num_classes).tolist()  # what the test used
            return 'prf_tuned', dict(common, thresholds=thresholds)
        return None

    @classmethod
    def replicate_values(cls, family, settings, data):
        if family == 'prf':
            thr = settings.get('thr')
        else:
            thr = settings.get('thresholds')
            if thr is None and data.predictions.thresholds is None:
                return {}  # a test without validation-tuned thresholds
            thr = torch.tensor(thr if thr is not None else data.predictions.thresholds,
                               dtype=torch.float32)
        target = data.target(settings.get('difficult_as'))
        counts = bootstrap_confusion(predictions_of_rule(data.scores, target, thr,
                                                          settings.get('topk')),
                                     target, data.counts)
        present = None  # the rule of compute, in every replicate
        if settings.get('absent_classes', 'exclude') == 'exclude':
            present = (counts['tp'] + counts['fn']) > 0
        values = batched_precision_recall_f1(counts['tp'], counts['fp'], counts['fn'], present)
        suffix = '' if family == 'prf' else TUNED_SUFFIX
        return {f'{key}{suffix}': values[key] for key in ('CF1', 'OF1')}

    def compute(self, rows: EvaluationRows) -> Dict[str, float]:
        counts = rows.confusion(*self.rule(rows), self.difficult_as)
        present = self.class_mean_mask((counts['tp'] + counts['fn']) > 0, self.absent_classes)
        return self.keyed(precision_recall_f1(counts['tp'], counts['fp'], counts['fn'], present))


@METRICS.register_module()
class SubsetAccuracy(_PredictionMetric):
    """Exact-match ratio of multi-label predictions, and other example-based numbers.

    A sample counts for ``subset_accuracy`` when its predicted label set equals
    its true set over its non-ignored labels. ``hamming_accuracy`` is the share
    of correct non-ignored cells (Keras ``binary_accuracy``), ``hamming_loss``
    its complement, ``jaccard`` and ``example_f1`` the per-sample IoU and F1 of
    the label sets (scikit-learn ``average='samples'``, 0 for a sample with no
    predicted and no true label). All in percent.

    Args:
        thr (float, optional): Threshold in [0, 1]. Defaults to None.
        topk (int, optional): Labels predicted per sample. Defaults to None;
            with ``thr`` also None, ``thr = 0.5``.
        thresholds, suffix, missing_thresholds: As in :class:`MultiLabelPRF`.
        items (Sequence[str]): From ``subset_accuracy hamming_accuracy
            hamming_loss jaccard example_f1``. Defaults to ``subset_accuracy``.
        **kwargs: See :class:`BaseMultiLabelMetric`.
    """
    SHARDABLE = True
    ALL_ITEMS = ('subset_accuracy', 'hamming_accuracy', 'hamming_loss', 'jaccard', 'example_f1')
    DEFAULT_ITEMS = ('subset_accuracy', )
    INTERVAL_KEYS = {'subset': ('subset_accuracy', )}
    COMPARED_BY_DEFAULT = True

    def statistics_settings(self, num_classes: int):
        if self.suffix != '':
            return None
        return 'subset', dict(difficult_as=self.difficult_as, thr=self.thr, topk=self.topk)

    @classmethod
    def replicate_values(cls, family, settings, data):
        target = data.target(settings.get('difficult_as'))
        terms = example_terms(predictions_of_rule(data.scores, target, settings.get('thr'),
                                                   settings.get('topk')), target)
        return {'subset_accuracy': weighted_example_metrics(terms, data.counts)['subset_accuracy']}

    def compute(self, rows: EvaluationRows) -> Dict[str, float]:
        thr, topk = self.rule(rows)
        terms = rows.row_terms(
            (example_terms, rows.thr_key(thr), topk, self.difficult_as),
            lambda: example_terms(rows.predictions(thr, topk, self.difficult_as),
                                  rows.target(self.difficult_as)), 'example-based terms')
        return self.keyed(reduce_example_terms(terms))
