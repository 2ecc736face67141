"""Metrics of thresholded (or top-k) predictions: the papers' P/R/F1 and exact match.

``MultiLabelPRF`` reports CP, CR, CF1, OP, OR, OF1 (and ``macro_F1``);
``SubsetAccuracy`` the exact-match ratio and the other example-based numbers.
Both predict with :func:`mmml_ext.functional.multilabel_predict`: ``score >= thr``,
or the top-k of each sample (ties to the lower class index), or both (the ML-GCN
rule); with neither given, ``thr = 0.5``. Keys of a top-k metric end in
``_top{k}``. Values are percentages. Formulas and edge cases: docs/metrics.md.
"""
from typing import Dict, Optional, Sequence

import torch
from mmpretrain.registry import METRICS

from ..functional import (confusion_counts, example_based_metrics, multilabel_predict,
                          precision_recall_f1)
from ..functional.checks import check_thr, check_topk
from .base import BaseMultiLabelMetric, percent


class _PredictionMetric(BaseMultiLabelMetric):
    """A metric of the predictions at ``thr`` and/or ``topk``."""

    def __init__(self, thr: Optional[float] = None, topk: Optional[int] = None, **kwargs):
        check_thr(thr)
        check_topk(topk)
        super().__init__(**kwargs)
        self.thr, self.topk = thr, topk

    def predict(self, scores: torch.Tensor) -> torch.Tensor:
        """Predictions at ``thr`` / ``topk``, computed once for all metrics of the evaluator."""
        check_topk(self.topk, scores.shape[1])
        return self.shared(('pred', self.thr, self.topk),
                           lambda: multilabel_predict(scores, self.thr, self.topk,
                                                      validate_args=False))

    def keyed(self, values: Dict[str, float]) -> Dict[str, float]:
        suffix = f'_top{self.topk}' if self.topk is not None else ''
        return {f'{key}{suffix}': value for key, value in percent(values, self.items).items()}


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
        items (Sequence[str]): From ``CP CR CF1 OP OR OF1 macro_F1``.
            Defaults to the first six.
        **kwargs: See :class:`BaseMultiLabelMetric` (``difficult_as``,
            ``prefix``, ``collect_device``, ...).

    Examples:
        >>> val_evaluator = [
        ...     dict(type='MultiLabelPRF'),          # multi-label/CF1, ...
        ...     dict(type='MultiLabelPRF', topk=3),  # multi-label/CF1_top3, ...
        ... ]
    """
    ALL_ITEMS = ('CP', 'CR', 'CF1', 'OP', 'OR', 'OF1', 'macro_F1')
    DEFAULT_ITEMS = ('CP', 'CR', 'CF1', 'OP', 'OR', 'OF1')

    def __init__(self, thr: Optional[float] = None, topk: Optional[int] = None,
                 items: Optional[Sequence[str]] = None, **kwargs):
        super().__init__(thr=thr, topk=topk, items=items, **kwargs)

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
        items (Sequence[str]): From ``subset_accuracy hamming_accuracy
            hamming_loss jaccard example_f1``. Defaults to ``subset_accuracy``.
        **kwargs: See :class:`BaseMultiLabelMetric`.
    """
    ALL_ITEMS = ('subset_accuracy', 'hamming_accuracy', 'hamming_loss', 'jaccard', 'example_f1')
    DEFAULT_ITEMS = ('subset_accuracy', )

    def __init__(self, thr: Optional[float] = None, topk: Optional[int] = None,
                 items: Optional[Sequence[str]] = None, **kwargs):
        super().__init__(thr=thr, topk=topk, items=items, **kwargs)

    def compute(self, scores: torch.Tensor, target: torch.Tensor) -> Dict[str, float]:
        return self.keyed(example_based_metrics(self.predict(scores), target, validate_args=False))
