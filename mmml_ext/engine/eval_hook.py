"""Give the multi-label metrics what only the Runner knows: work dir, evaluation name, class counts.

Metrics are built before training and see only their data samples. Before each
validation and test, ``MultiLabelEvalHook`` tells every multi-label metric of
the evaluator where to write (the work dir: per-class reports, tuned
thresholds, predictions saved after a failure), what to call this evaluation
(``val_epoch_3``, ``test``), and, for ``MeanAP``'s head / medium / tail groups,
the training-set class counts when the dataset metainfo does not carry them
(counted once from the training dataset).
"""
import logging
from typing import List, Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmpretrain.registry import HOOKS

from ..evaluation.ap_metrics import MeanAP
from ..evaluation.base import BaseMultiLabelMetric
from .train_class_counts import train_class_counts


@HOOKS.register_module()
class MultiLabelEvalHook(Hook):
    """Set output dir, evaluation tag and training class counts on multi-label metrics.

    Args:
        count_classes (bool): Count the training dataset's classes for
            ``MeanAP`` when nothing else gives the counts. Defaults to True.

    Examples:
        >>> custom_hooks = [dict(type='MultiLabelEvalHook')]
    """
    priority = 'NORMAL'

    def __init__(self, count_classes: bool = True) -> None:
        self.count_classes = count_classes
        self._counts: Optional[List[int]] = None
        self._counting_failed = False

    def before_val_epoch(self, runner) -> None:
        by_epoch = runner.cfg.get('train_cfg', {}).get('by_epoch', True)
        tag = f'val_epoch_{runner.epoch}' if by_epoch else f'val_iter_{runner.iter}'
        self._prepare(runner, runner.val_evaluator, tag)

    def before_test_epoch(self, runner) -> None:
        self._prepare(runner, runner.test_evaluator, 'test')

    def _prepare(self, runner, evaluator, tag: str) -> None:
        for metric in getattr(evaluator, 'metrics', []):
            if not isinstance(metric, BaseMultiLabelMetric):
                continue
            metric.work_dir = runner.work_dir
            metric.eval_tag = tag
            if (isinstance(metric, MeanAP) and self.count_classes
                    and metric.train_class_counts() is None):
                metric.counted_class_counts = self._train_counts(runner)

    def _train_counts(self, runner) -> Optional[List[int]]:
        """Training images per class, counted once; None if there is no training set."""
        if self._counts is not None or self._counting_failed:
            return self._counts
        try:
            self._counts, _ = train_class_counts(runner)
            print_log(f'MultiLabelEvalHook: counted the training images of '
                      f'{len(self._counts)} classes', logger='current')
        except Exception as error:  # the metric then reports mAP without groups
            self._counting_failed = True
            print_log(f'MultiLabelEvalHook: cannot count the training classes ({error}); '
                      'MeanAP reports no head / medium / tail mAP. Give MeanAP(class_counts=...) '
                      'or a dataset with train_class_counts in its metainfo.',
                      logger='current', level=logging.WARNING)
        return self._counts
