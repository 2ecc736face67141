"""Tie-exact mean average precision, by frequency group, with a per-class report.

``MeanAP`` reports mAP (scikit-learn's ``average_precision_score`` per class,
averaged over the classes that have a positive) and, when the training-set class
counts are known, the mAP of the head, medium and tail classes. It also writes a
per-class report (class, support, training count, P, R, F1 at a threshold, AP)
as JSON and CSV at each evaluation.

Training counts come, in this order, from the ``class_counts`` argument (a list,
or a JSON file such as ``tools/class_counts.py`` writes), from the dataset's
``metainfo['train_class_counts']`` (the demo dataset has it), or from
``MultiLabelEvalHook``, which counts the training dataset.
"""
import csv
import json
import logging
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.logging import print_log

from mmpretrain.registry import METRICS

from ..datasets.class_counts import load_class_counts
from ..functional import (average_precision, confusion_counts, mean_average_precision,
                          multilabel_predict, per_class_prf)
from ..functional.checks import check_thr
from .base import BaseMultiLabelMetric

GROUPS = ('head', 'medium', 'tail')


def frequency_groups(counts: Sequence[int], bounds: Sequence[float]) -> Dict[str, torch.Tensor]:
    """Boolean class masks: tail n < low, medium low <= n <= high, head n > high."""
    counts = torch.as_tensor(counts)
    low, high = bounds
    return dict(head=counts > high, medium=(counts >= low) & (counts <= high), tail=counts < low)


@METRICS.register_module()
class MeanAP(BaseMultiLabelMetric):
    """Tie-exact mAP, head / medium / tail mAP, and a per-class report, in percent.

    AP of a class is scikit-learn's ``average_precision_score``: the step-wise
    area under its precision-recall curve, with tied scores grouped, so it does
    not depend on sample order. A class with no positive has no AP: it is left
    out of the means and named in a warning (or counted as 0 with
    ``empty_as_zero=True``, mmpretrain's habit). Ignored labels (-1) are left out
    of their class's ranking.

    Args:
        items (Sequence[str]): From ``mAP mAP_head mAP_medium mAP_tail``.
            Defaults to all four; the group keys need training class counts and
            are left out (with a warning) without them.
        class_counts (list | str, optional): Training images per class, or a
            JSON file of them. Defaults to the dataset's metainfo or
            ``MultiLabelEvalHook``.
        group_bounds (tuple): ``(low, high)``: tail classes have fewer than
            ``low`` training images, head classes more than ``high``, medium
            the rest. Defaults to ``(20, 100)`` (the VOC-MLT / COCO-MLT split).
        empty_as_zero (bool): Count a class with no positive as AP 0.
            Defaults to False.
        report (bool): Write the per-class report to ``out_dir`` at each
            evaluation (needs ``out_dir`` or ``MultiLabelEvalHook``).
            Defaults to True.
        report_thr (float): Threshold of the report's P, R, F1. Defaults to 0.5.
        **kwargs: See :class:`BaseMultiLabelMetric`.
    """
    ALL_ITEMS = ('mAP', 'mAP_head', 'mAP_medium', 'mAP_tail')
    DEFAULT_ITEMS = ALL_ITEMS

    def __init__(self,
                 items: Optional[Sequence[str]] = None,
                 class_counts: Union[str, Sequence[int], None] = None,
                 group_bounds: Sequence[float] = (20, 100),
                 empty_as_zero: bool = False,
                 report: bool = True,
                 report_thr: float = 0.5,
                 **kwargs):
        super().__init__(items=items, **kwargs)
        if (len(group_bounds) != 2 or not 0 <= group_bounds[0] <= group_bounds[1]):
            raise ValueError(f'group_bounds must be (low, high) with 0 <= low <= high, '
                             f'got {group_bounds!r}')
        check_thr(report_thr)
        self.class_counts = load_class_counts(class_counts) if class_counts is not None else None
        #: counts from MultiLabelEvalHook, used when nothing else gives them
        self.counted_class_counts: Optional[List[int]] = None
        self.group_bounds = tuple(group_bounds)
        self.empty_as_zero = empty_as_zero
        self.report = report
        self.report_thr = report_thr
        self._warned_no_counts = False

    def train_class_counts(self) -> Optional[List[int]]:
        """The training counts from the argument, the metainfo, or the hook."""
        if self.class_counts is not None:
            return self.class_counts
        meta_counts = (self.dataset_meta or {}).get('train_class_counts')
        if meta_counts is not None:
            return list(meta_counts)
        return self.counted_class_counts

    def compute(self, scores: torch.Tensor, target: torch.Tensor) -> Dict[str, float]:
        ap = self.shared('ap', lambda: average_precision(scores, target, validate_args=False))
        names = self.class_names
        result = {}
        if 'mAP' in self.items:
            result['mAP'] = 100 * mean_average_precision(ap, names, self.empty_as_zero)
        counts = self.train_class_counts()
        if counts is not None and len(counts) != len(ap):
            raise ValueError(f'{len(counts)} training class counts given for {len(ap)} classes')
        group_items = [item for item in self.items if item != 'mAP']
        if group_items and counts is None:
            if not self._warned_no_counts:
                print_log(f'MeanAP: no training class counts, so no {group_items}: give '
                          'class_counts, or add MultiLabelEvalHook to custom_hooks',
                          logger='current', level=logging.WARNING)
                self._warned_no_counts = True
        elif group_items:
            groups = frequency_groups(counts, self.group_bounds)
            for item in group_items:
                mask = groups[item[len('mAP_'):]]
                if bool(mask.any()):
                    members = [names[i] for i in mask.nonzero().flatten()] if names else None
                    result[item] = 100 * mean_average_precision(ap[mask], members,
                                                                self.empty_as_zero)
        report_dir = self.output_dir(fallback=None)
        if self.report and report_dir is not None:
            self.write_report(report_dir, scores, target, ap, counts)
        return result

    def write_report(self, report_dir: str, scores: torch.Tensor, target: torch.Tensor,
                     ap: torch.Tensor, counts: Optional[Sequence[int]]) -> None:
        """Write ``per_class/<eval_tag>.json`` and ``.csv`` under ``report_dir``."""
        pred = self.shared(('pred', self.report_thr, None),
                           lambda: multilabel_predict(scores, self.report_thr, validate_args=False))
        tallies = confusion_counts(pred, target)
        prf = per_class_prf(tallies['tp'], tallies['fp'], tallies['fn'])
        support = (target == 1).sum(dim=0)
        names = self.class_names or [str(i) for i in range(len(ap))]
        rows = [
            dict(
                class_name=names[c],
                support=int(support[c]),
                train_count=None if counts is None else int(counts[c]),
                precision=100 * float(prf['precision'][c]),
                recall=100 * float(prf['recall'][c]),
                f1=100 * float(prf['f1'][c]),
                ap=None if torch.isnan(ap[c]) else 100 * float(ap[c]),
            ) for c in range(len(ap))
        ]
        out_dir = osp.join(report_dir, 'per_class')
        os.makedirs(out_dir, exist_ok=True)
        base = osp.join(out_dir, self.eval_tag)
        with open(base + '.json', 'w') as f:
            json.dump(dict(thr=self.report_thr, num_samples=len(scores), classes=rows), f,
                      indent=1)
        with open(base + '.csv', 'w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
