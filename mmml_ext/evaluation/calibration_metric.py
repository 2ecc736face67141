"""Calibration of the scores: expected calibration error (overall and class-wise) and Brier score.

``MultiLabelCalibration`` treats every non-ignored (sample, class) cell as one
binary prediction with probability ``pred_score`` and reports ECE over M
equal-width bins, the mean of the per-class ECE, and the Brier score, in
percent. Formulas and edge cases: :mod:`mmml_ext.functional.calibration` and
docs/metrics.md.
"""
from typing import Dict, Optional, Sequence

import torch
from mmpretrain.registry import METRICS

from ..functional.calibration import calibration_errors, check_num_bins, errors_from_tables
from .base import BaseMultiLabelMetric, percent
from .shared_rows import EvaluationRows


@METRICS.register_module()
class MultiLabelCalibration(BaseMultiLabelMetric):
    """ECE, class-wise ECE and Brier score of the predicted probabilities, in percent.

    Each non-ignored cell (sample, class) is a prediction p with outcome y (1
    positive, 0 negative). With M equal-width bins over [0, 1] (the last
    closed at 1), n cells, n_m of them in bin m:

    - ``ECE`` = sum_m (n_m / n) |accuracy_m - confidence_m| (fraction of
      positives minus mean score of the bin);
    - ``classwise_ECE`` = mean over the classes with a positive of each
      class's ECE over its own cells (NaN, with a warning, when no class has
      a positive; classes without a positive are left out and named);
    - ``brier`` = mean over cells of (p - y)^2.

    Lower is better for all three. ECE depends on ``num_bins``: compare runs
    at one number of bins.

    Args:
        items (Sequence[str]): From ``ECE classwise_ECE brier``. Defaults to
            all three.
        num_bins (int): M, the number of equal-width bins. Defaults to 15.
        **kwargs: See :class:`BaseMultiLabelMetric` (``difficult_as``,
            ``prefix``, ...).

    Example:
        >>> test_evaluator = [
        ...     dict(type='MeanAP'),
        ...     dict(type='MultiLabelCalibration'),  # multi-label/ECE, .../classwise_ECE, .../brier
        ... ]
    """
    SHARDABLE = True
    ALL_ITEMS = ('ECE', 'classwise_ECE', 'brier')
    DEFAULT_ITEMS = ALL_ITEMS
    INTERVAL_KEYS = {'calibration': ('ECE', )}
    LOWER_IS_BETTER = ('ECE', )
    INTERVAL_HOLDS_FROM = {'ECE': 5000}  # 200 images: 66.2-93.0 %; 5,000: 92.0-95.3 %
    COMPARED_BY_DEFAULT = True

    def __init__(self, items: Optional[Sequence[str]] = None, num_bins: int = 15, **kwargs):
        super().__init__(items=items, **kwargs)
        check_num_bins(num_bins)
        self.num_bins = int(num_bins)

    def statistics_settings(self, num_classes: int):
        return 'calibration', dict(difficult_as=self.difficult_as, num_bins=self.num_bins)

    @classmethod
    def replicate_values(cls, family, settings, data):
        return {'ECE': calibration_errors(data.scores, data.target(settings.get('difficult_as')),
                                          settings.get('num_bins') or 15, weights=data.counts,
                                          validate_args=False)['ECE']}

    def compute(self, rows: EvaluationRows) -> Dict[str, float]:
        # the rows are checked probabilities with a 1 / 0 / -1 target
        tables = rows.calibration_tables(self.num_bins, self.difficult_as)
        values = errors_from_tables(tables)
        if 'classwise_ECE' in self.items:
            self._name_absent_classes(tables['sum_y'].sum(dim=1) > 0)
        return percent(values, self.items)

    def _name_absent_classes(self, present: torch.Tensor) -> None:
        if bool(present.all()):
            return
        absent = (~present).nonzero().flatten().tolist()
        if len(absent) == len(present):
            self.warn_once('no_positive', 'no class has a positive in the evaluated data: '
                           'classwise_ECE is NaN')
            return
        shown = self.named_classes(absent)
        self.warn_once('absent', f'{len(absent)} class(es) have no positive in the evaluated '
                       f'data and are left out of classwise_ECE: {shown}')
