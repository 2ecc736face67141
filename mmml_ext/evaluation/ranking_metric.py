"""Ranking metrics of multi-label scores: LRAP, coverage error, ranking loss, one-error.

scikit-learn's ``label_ranking_average_precision_score``, ``coverage_error`` and
``label_ranking_loss``, and one-error; formulas in
:mod:`mmml_ext.functional.ranking`. They need no threshold.
"""
from typing import Dict, Optional, Sequence

from mmpretrain.registry import METRICS

from ..functional.ranking import ranking_terms, reduce_ranking_terms
from .base import BaseMultiLabelMetric
from .shared_rows import EvaluationRows

#: items that are fractions, reported in percent; coverage error is a number of labels
PERCENT_ITEMS = ('lrap', 'ranking_loss', 'one_error')


@METRICS.register_module()
class MultiLabelRanking(BaseMultiLabelMetric):
    """LRAP, coverage error, ranking loss and one-error.

    ``lrap``, ``ranking_loss`` and ``one_error`` are in percent;
    ``coverage_error`` is in labels (how far down the ranking one must go, on
    average, to cover all true labels).

    Args:
        items (Sequence[str]): From ``lrap coverage_error ranking_loss
            one_error``. Defaults to all four.
        **kwargs: See :class:`BaseMultiLabelMetric`.
    """
    SHARDABLE = True
    ALL_ITEMS = ('lrap', 'coverage_error', 'ranking_loss', 'one_error')
    DEFAULT_ITEMS = ALL_ITEMS

    def __init__(self, items: Optional[Sequence[str]] = None, **kwargs):
        super().__init__(items=items, **kwargs)

    def compute(self, rows: EvaluationRows) -> Dict[str, float]:
        terms = rows.row_terms((ranking_terms, self.difficult_as), lambda: ranking_terms(
            rows.own_scores(), rows.target(self.difficult_as)), 'ranking terms')
        values = reduce_ranking_terms(terms)
        return {item: values[item] * (100.0 if item in PERCENT_ITEMS else 1.0)
                for item in self.items}
