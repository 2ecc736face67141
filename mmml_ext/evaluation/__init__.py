"""Registered multi-label metrics: mmengine ``BaseMetric`` adapters over :mod:`mmml_ext.functional`."""
from .ap_metrics import MeanAP
from .base import BaseMultiLabelMetric
from .calibration_metric import MultiLabelCalibration
from .context import EvalContext
from .prf_metrics import MultiLabelPRF, SubsetAccuracy
from .ranking_metric import MultiLabelRanking
from .shared_rows import EvaluationRows
from .threshold_tuning import TunedThresholdF1

__all__ = [
    'BaseMultiLabelMetric', 'EvalContext', 'EvaluationRows', 'MeanAP', 'MultiLabelPRF', 'SubsetAccuracy', 'MultiLabelRanking',
    'MultiLabelCalibration', 'TunedThresholdF1'
]
