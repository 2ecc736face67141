"""Area under the ROC curve per class (macro) and over all cells (micro), exact under ties.

Medical multi-label work (ChestX-ray14, CheXpert) reports each disease's
AUROC; mmpretrain has none. ``MultiLabelAUROC`` computes it tie-exact
(:mod:`mmml_ext.functional.roc_auc`, equal to scikit-learn's
``roc_auc_score``), with the class-mean rules of mAP, and declares its macro
key to the comparison, which then gives it intervals, seeds and differences.
This file is also the worked example of docs/metrics.md, "Write a metric".
"""
from typing import Dict, Optional, Sequence

import torch
from mmpretrain.registry import METRICS

from ..functional.average_precision import class_mean
from ..functional.bootstrap import bootstrap_roc_auc
from ..functional.roc_auc import roc_auc
from .base import BaseMultiLabelMetric, check_absent_classes
from .shared_rows import EvaluationRows


@METRICS.register_module()
class MultiLabelAUROC(BaseMultiLabelMetric):
    """Per-class ROC AUC averaged over the classes (``AUROC``), and the micro AUROC, in percent.

    AUROC of a class: the probability that a positive scores above a negative,
    a tie counting one half, over its non-ignored cells (scikit-learn's
    ``roc_auc_score``). A class with no positive or no negative in the
    evaluated data has no AUROC: it is left out of the mean and named in a
    warning (``absent_classes='exclude'``, the default), or counted as 0 with
    ``'include'``, the rule of mAP. ``AUROC_micro`` pools every non-ignored
    cell into one ranking (scikit-learn's ``average='micro'``); it needs all
    rows on one process, so under DDP with it the rows are gathered on rank 0.

    Args:
        items (Sequence[str]): From ``AUROC AUROC_micro``. Defaults to
            ``('AUROC', )``.
        absent_classes (str): ``'exclude'`` (default) or ``'include'``.
        **kwargs: See :class:`BaseMultiLabelMetric` (``difficult_as``,
            ``prefix``, ...).

    Examples:
        >>> test_evaluator = [dict(type='MeanAP'), dict(type='MultiLabelAUROC')]
    """
    ALL_ITEMS = ('AUROC', 'AUROC_micro')
    DEFAULT_ITEMS = ('AUROC', )
    INTERVAL_KEYS = {'auroc': ('AUROC', )}
    INTERVAL_HOLDS_FROM = {'AUROC': 200}  # 200 images: 92.8-95.8 % (docs/experiments.md)

    def __init__(self, items: Optional[Sequence[str]] = None, absent_classes: str = 'exclude',
                 **kwargs):
        super().__init__(items=items, **kwargs)
        self.absent_classes = check_absent_classes(absent_classes)
        # the macro AUROC is per-class terms, which the sharded rows give; the micro ranks all
        self.SHARDABLE = 'AUROC_micro' not in self.items

    def statistics_settings(self, num_classes: int):
        return 'auroc', dict(difficult_as=self.difficult_as, absent_classes=self.absent_classes)

    @classmethod
    def replicate_values(cls, family, settings, data):
        auroc = bootstrap_roc_auc(data.scores, data.target(settings.get('difficult_as')),
                                  data.counts)
        return {'AUROC': class_mean(auroc, settings.get('absent_classes') == 'include')}

    def compute(self, rows: EvaluationRows) -> Dict[str, float]:
        result = {}
        if 'AUROC' in self.items:
            auroc = rows.class_terms(
                (roc_auc, ),
                lambda scores, target: dict(auroc=roc_auc(scores, target, validate_args=False)),
                self.difficult_as, 'AUROC')['auroc']
            self.class_mean_mask(~torch.isnan(auroc), self.absent_classes,  # names them once
                                 'no positive or no negative')
            # a column of the per-class report, next to MeanAP's AP
            self.context.add_report_column('auroc', (100 * auroc).tolist())
            result['AUROC'] = float(class_mean(auroc, self.absent_classes == 'include'))
        if 'AUROC_micro' in self.items:
            target = rows.target(self.difficult_as)
            result['AUROC_micro'] = float(roc_auc(rows.scores.reshape(-1, 1),
                                                  target.reshape(-1, 1), validate_args=False)[0])
        return {key: 100 * value for key, value in result.items()}
