"""Precision at a fixed recall and recall at a fixed precision, per class, with their thresholds.

"What precision do we get if we must find 90 % of the cases of each disease?"
``MultiLabelPrecisionAtRecall`` answers it per class, and gives the threshold
that reaches it; ``MultiLabelRecallAtPrecision`` is the converse. The meaning is
torchmetrics' ``MultilabelPrecisionAtFixedRecall`` /
``MultilabelRecallAtFixedPrecision`` (formulas and edge cases:
:mod:`mmml_ext.functional.operating_points`). Both are a second worked
example of docs/metrics.md, "Write a metric": one file, registration, and the
comparison gives their class means intervals and differences.
"""
from typing import Dict

import torch
from mmpretrain.registry import METRICS

from ..functional.average_precision import class_mean
from ..functional.bootstrap import bootstrap_operating_point
from ..functional.operating_points import check_level, operating_point
from .base import BaseMultiLabelMetric, check_absent_classes
from .shared_rows import EvaluationRows


class _OperatingPointMetric(BaseMultiLabelMetric):
    """The shared part: one statistic at one level, its class mean and per-class values."""
    SHARDABLE = True
    STATISTIC = ''
    LEVEL_NAME = ''

    def __init__(self, level: float, classwise: bool = False, absent_classes: str = 'exclude',
                 **kwargs):
        super().__init__(**kwargs)
        self.level = check_level(level, self.LEVEL_NAME)
        self.classwise = bool(classwise)
        self.absent_classes = check_absent_classes(absent_classes)

    def statistics_settings(self, num_classes: int):
        return self.STATISTIC, dict(difficult_as=self.difficult_as, level=self.level,
                                    absent_classes=self.absent_classes)

    @classmethod
    def replicate_values(cls, family, settings, data):
        values = bootstrap_operating_point(data.scores, data.target(settings.get('difficult_as')),
                                           data.counts, cls.STATISTIC,
                                           settings.get('level', 0.9))
        return {cls.STATISTIC: class_mean(values, settings.get('absent_classes') == 'include')}

    def compute(self, rows: EvaluationRows) -> Dict[str, float]:
        terms = rows.class_terms(
            (type(self), self.level),
            lambda scores, target: dict(zip(('value', 'threshold'), operating_point(
                scores, target, self.STATISTIC, self.level, validate_args=False))),
            self.difficult_as, self.STATISTIC.replace('_', ' '))
        value, threshold = terms['value'], terms['threshold']
        self.class_mean_mask(~torch.isnan(value), self.absent_classes)  # names them
        result = {self.STATISTIC: 100 * float(class_mean(value,
                                                         self.absent_classes == 'include'))}
        if self.classwise:
            names = self.class_names or [str(c) for c in range(len(value))]
            threshold_key = 'threshold_at_' + self.STATISTIC.split('_at_')[1]
            for name, v, t in zip(names, value.tolist(), threshold.tolist()):
                result[f'{self.STATISTIC}/{name}'] = 100 * v
                result[f'{threshold_key}/{name}'] = t
        return result


@METRICS.register_module()
class MultiLabelPrecisionAtRecall(_OperatingPointMetric):
    """Per class, the best precision among the thresholds that keep recall >= ``min_recall``.

    Reports ``precision_at_recall``, the mean over the classes with a positive
    (``absent_classes`` as mAP), in percent; with ``classwise=True`` also
    ``precision_at_recall/<class>`` and ``threshold_at_recall/<class>`` (the
    score threshold that gives it; predict ``score >= threshold``).

    Args:
        min_recall (float): The fixed recall, in [0, 1]. Defaults to 0.9.
        classwise (bool): Report each class's value and threshold. Defaults to False.
        absent_classes (str): ``'exclude'`` (default) or ``'include'`` (as 0).
        **kwargs: See :class:`BaseMultiLabelMetric`; give each of two
            instances at other recalls its own ``prefix``.

    Examples:
        >>> test_evaluator = [dict(type='MultiLabelPrecisionAtRecall', min_recall=0.9)]
    """
    STATISTIC = 'precision_at_recall'
    LEVEL_NAME = 'min_recall'
    ALL_ITEMS = DEFAULT_ITEMS = (STATISTIC, )
    INTERVAL_KEYS = {STATISTIC: (STATISTIC, )}
    # 200 images: 30-81 % (biased upward); 5,000: 94.3-97.9 % (docs/experiments.md)
    INTERVAL_HOLDS_FROM = {STATISTIC: 5000}

    def __init__(self, min_recall: float = 0.9, classwise: bool = False,
                 absent_classes: str = 'exclude', **kwargs):
        super().__init__(min_recall, classwise, absent_classes, **kwargs)


@METRICS.register_module()
class MultiLabelRecallAtPrecision(_OperatingPointMetric):
    """Per class, the best recall among the thresholds that keep precision >= ``min_precision``.

    Reports ``recall_at_precision`` (class mean, percent); a class where no
    threshold reaches the precision counts 0 (its threshold is NaN). With
    ``classwise=True`` also ``recall_at_precision/<class>`` and
    ``threshold_at_precision/<class>``.

    Args:
        min_precision (float): The fixed precision, in [0, 1]. Defaults to 0.9.
        classwise, absent_classes, **kwargs: As :class:`MultiLabelPrecisionAtRecall`.
    """
    STATISTIC = 'recall_at_precision'  # its interval held at no size measured: not declared
    LEVEL_NAME = 'min_precision'
    ALL_ITEMS = DEFAULT_ITEMS = (STATISTIC, )
    INTERVAL_KEYS = {STATISTIC: (STATISTIC, )}

    def __init__(self, min_precision: float = 0.9, classwise: bool = False,
                 absent_classes: str = 'exclude', **kwargs):
        super().__init__(min_precision, classwise, absent_classes, **kwargs)
