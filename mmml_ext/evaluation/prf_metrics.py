"""Metrics of thresholded (or top-k) predictions: the papers' P/R/F1 and exact match.

``MultiLabelPRF`` reports CP, CR, CF1, OP, OR, OF1 (and ``macro_F1``);
``SubsetAccuracy`` the exact-match ratio and the other example-based numbers.
Both predict with :func:`mmml_ext.functional.multilabel_predict`: ``score >= thr``,
or the top-k of each sample (ties to the lower class index), or both (the ML-GCN
rule); with neither given, ``thr = 0.5``. Keys of a top-k metric end in
``_top{k}``. Values are percentages. Formulas and edge cases: docs/metrics.md.

With ``thresholds='thresholds.json'`` they predict with the per-class thresholds
that ``TunedThresholdF1`` saved on the validation set: in a test evaluator this
gives the honest number at tuned thresholds (keys end in ``_valtuned``), where
tuning and measuring on the same data would be optimistic.
"""
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from mmpretrain.registry import METRICS

from ..functional import (confusion_counts, example_based_metrics, multilabel_predict,
                          precision_recall_f1, topk_mask)
from ..functional.checks import check_thr, check_topk
from ..models.heads import load_thresholds
from .base import BaseMultiLabelMetric, percent

ThresholdSource = Union[str, Sequence[float], None]


class _PredictionMetric(BaseMultiLabelMetric):
    """A metric of the predictions at ``thr`` and/or ``topk``, or at per-class thresholds."""

    def __init__(self, thr: Optional[float] = None, topk: Optional[int] = None,
                 thresholds: ThresholdSource = None, suffix: Optional[str] = None,
                 missing_thresholds: str = 'error', **kwargs):
        check_thr(thr)
        check_topk(topk)
        if thresholds is not None and thr is not None:
            raise ValueError('give thr or thresholds, not both')
        if thresholds is not None and not isinstance(thresholds, (str, list, tuple)):
            raise ValueError('thresholds must be a thresholds.json path or a list of per-class '
                             f'thresholds, got {type(thresholds).__name__}')
        if isinstance(thresholds, (list, tuple)):
            load_thresholds(thresholds, len(thresholds))  # each in (0, 1]
        if missing_thresholds not in ('error', 'warn'):
            raise ValueError("missing_thresholds must be 'error' or 'warn', got "
                             f'{missing_thresholds!r}')
        if suffix is not None and not isinstance(suffix, str):
            raise ValueError(f'suffix must be a string, got {suffix!r}')
        super().__init__(**kwargs)
        self.thr, self.topk, self.thresholds = thr, topk, thresholds
        self.missing_thresholds = missing_thresholds
        if suffix is None:
            suffix = ('_valtuned' if thresholds is not None else '') + \
                (f'_top{topk}' if topk is not None else '')
        self.suffix = suffix

    def thresholds_path(self) -> Optional[str]:
        """The thresholds file, a relative path read from the work dir."""
        if not isinstance(self.thresholds, str) or osp.isabs(self.thresholds):
            return self.thresholds
        return osp.join(self.output_dir(), self.thresholds)

    def class_thresholds(self, num_classes: int) -> torch.Tensor:
        """(C,) thresholds from ``thresholds``, read at each evaluation (the file
        may be rewritten by the validation between two tests)."""
        path = self.thresholds_path()
        if isinstance(path, str) and not osp.isfile(path):
            raise FileNotFoundError(
                f'thresholds file {path} does not exist: evaluate the validation set with '
                'TunedThresholdF1 first (it writes thresholds.json to the work dir)')
        return load_thresholds(self.thresholds if path is None else path, num_classes)

    def compute_metrics(self, results: List) -> Dict[str, float]:
        path = self.thresholds_path()
        if (self.missing_thresholds == 'warn' and isinstance(path, str)
                and not osp.isfile(path)):
            print_log(f'{type(self).__name__}: no thresholds file {path}; the *{self.suffix} '
                      'keys are left out (tune them on the validation set with '
                      'TunedThresholdF1, in the same work dir)', logger='current',
                      level=logging.WARNING)
            return {}
        return super().compute_metrics(results)

    def predict(self, scores: torch.Tensor) -> torch.Tensor:
        """Predictions at ``thr`` / ``topk``, computed once for all metrics of the evaluator."""
        check_topk(self.topk, scores.shape[1])
        if self.thresholds is not None:
            thr = self.class_thresholds(scores.shape[1]).to(scores.dtype)
            return self.shared(('pred', tuple(thr.tolist()), self.topk),
                               lambda: self._predict_per_class(scores, thr))
        return self.shared(('pred', self.thr, self.topk),
                           lambda: multilabel_predict(scores, self.thr, self.topk,
                                                      validate_args=False))

    def _predict_per_class(self, scores: torch.Tensor, thr: torch.Tensor) -> torch.Tensor:
        pred = scores >= thr
        return pred & topk_mask(scores, self.topk) if self.topk is not None else pred

    def keyed(self, values: Dict[str, float]) -> Dict[str, float]:
        return {f'{key}{self.suffix}': value for key, value in percent(values, self.items).items()}


@METRICS.register_module()
class MultiLabelPRF(_PredictionMetric):
    """CP, CR, CF1, OP, OR, OF1 of multi-label predictions, in percent.

    Per class c: P_c = TP/(TP+FP), R_c = TP/(TP+FN), 0 for a zero denominator.
    CP / CR are the means of P_c / R_c over all classes, CF1 = 2 CP CR/(CP+CR)
    (the papers' CF1); OP / OR pool the counts of all classes, OF1 = 2 OP OR/(OP+OR).
    ``macro_F1`` is the mean of per-class F1 (mmpretrain's and scikit-learn's
    macro F1), a different number from CF1.

    Args:
        thr (float, optional): Threshold in (0, 1]. Defaults to None.
        topk (int, optional): Labels predicted per sample. Defaults to None;
            with ``thr`` also None, ``thr = 0.5``.
        thresholds (str | list, optional): Per-class thresholds instead of
            ``thr``: a list of C numbers, or a ``thresholds.json`` written by
            ``TunedThresholdF1`` (a relative path is read from the work dir,
            at every evaluation; its classes without a tuned threshold use its
            global one). Defaults to None.
        suffix (str, optional): Ending of the keys. Defaults to ``_top{k}``
            with ``topk``, ``_valtuned`` with ``thresholds``, both with both.
        missing_thresholds (str): When the ``thresholds`` file does not exist:
            ``'error'`` (FileNotFoundError, after saving the predictions) or
            ``'warn'`` (log a warning and report no keys, e.g. for a test run
            in another work dir). Defaults to ``'error'``.
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
        >>> test_evaluator = [dict(type='MultiLabelPRF', thresholds='thresholds.json')]
    """
    ALL_ITEMS = ('CP', 'CR', 'CF1', 'OP', 'OR', 'OF1', 'macro_F1')
    DEFAULT_ITEMS = ('CP', 'CR', 'CF1', 'OP', 'OR', 'OF1')

    def compute(self, scores: torch.Tensor, target: torch.Tensor) -> Dict[str, float]:
        counts = confusion_counts(self.predict(scores), target)
        return self.keyed(precision_recall_f1(counts['tp'], counts['fp'], counts['fn']))


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
        thr (float, optional): Threshold in (0, 1]. Defaults to None.
        topk (int, optional): Labels predicted per sample. Defaults to None;
            with ``thr`` also None, ``thr = 0.5``.
        thresholds, suffix: Per-class thresholds, as in :class:`MultiLabelPRF`.
        items (Sequence[str]): From ``subset_accuracy hamming_accuracy
            hamming_loss jaccard example_f1``. Defaults to ``subset_accuracy``.
        **kwargs: See :class:`BaseMultiLabelMetric`.
    """
    ALL_ITEMS = ('subset_accuracy', 'hamming_accuracy', 'hamming_loss', 'jaccard', 'example_f1')
    DEFAULT_ITEMS = ('subset_accuracy', )

    def compute(self, scores: torch.Tensor, target: torch.Tensor) -> Dict[str, float]:
        return self.keyed(example_based_metrics(self.predict(scores), target, validate_args=False))
