"""Registered multi-label metrics: mmengine ``BaseMetric`` adapters over :mod:`mmml_ext.functional`.

The import order is the registration order, which is the order of the
comparison's interval columns (:mod:`~mmml_ext.evaluation.interval_statistics`).
"""
from .ap_metrics import MeanAP
from .prf_metrics import MultiLabelPRF, SubsetAccuracy
from .auroc_metric import MultiLabelAUROC  # noqa: I100 (registration order)
from .operating_point_metrics import MultiLabelPrecisionAtRecall, MultiLabelRecallAtPrecision
from .calibration_metric import MultiLabelCalibration  # noqa: I100 (registration order)
from .base import BaseMultiLabelMetric
from .context import EvalContext
from .ranking_metric import MultiLabelRanking
from .shared_rows import EvaluationRows
from .threshold_tuning import TunedThresholdF1

__all__ = [
    'BaseMultiLabelMetric', 'EvalContext', 'EvaluationRows', 'MeanAP', 'MultiLabelPRF',
    'SubsetAccuracy', 'MultiLabelAUROC', 'MultiLabelPrecisionAtRecall',
    'MultiLabelRecallAtPrecision', 'MultiLabelRanking', 'MultiLabelCalibration', 'TunedThresholdF1'
]
