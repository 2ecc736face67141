"""Tune decision thresholds for F1 on the validation set, and save them for test time.

A fixed 0.5 threshold often does not fit the score scale that a loss for
imbalance produces (focal loss, ASL): recall rises and precision collapses, or
the reverse. ``TunedThresholdF1`` finds, on the data it evaluates, the single
global threshold that maximises OF1 and the per-class thresholds that maximise
each class's F1, reports CF1 / OF1 at them, and writes them to
``<out_dir>/thresholds.json``, which a head can load at test time.

Numbers at thresholds tuned on the very data they are measured on are
optimistic: tune on the validation set, then test with the saved thresholds.
"""
import json
import math
import os
import os.path as osp
from typing import Dict, Optional, Sequence

import torch
from mmpretrain.registry import METRICS

from ..functional import confusion_counts, precision_recall_f1
from ..functional.thresholds import global_best_threshold, per_class_best_thresholds
from .base import BaseMultiLabelMetric

THRESHOLDS_FILE = 'thresholds.json'


@METRICS.register_module()
class TunedThresholdF1(BaseMultiLabelMetric):
    """CF1 and OF1 at F1-maximising thresholds; the thresholds go to a JSON file.

    Keys (percent, except ``thr_global``):

    - ``CF1_tuned``, ``OF1_tuned``: at per-class thresholds, each maximising
      its class's F1 (a class with no positive keeps the global threshold);
      ``CP_tuned``, ``CR_tuned``, ``OP_tuned``, ``OR_tuned``: the precision
      and recall behind them (the precision / recall trade-off of a loss);
    - ``CF1_tuned_global``, ``OF1_tuned_global``: at the one threshold that
      maximises OF1;
    - ``thr_global``: that threshold.

    The file ``thresholds.json`` (in ``out_dir``, or the work dir given by
    ``MultiLabelEvalHook``) holds ``global``, ``per_class`` (null for a class
    with no positive), ``classes`` and the evaluation it came from.

    Args:
        items (Sequence[str]): From ``CF1_tuned OF1_tuned CP_tuned CR_tuned
            OP_tuned OR_tuned CF1_tuned_global OF1_tuned_global thr_global``.
            Defaults to all.
        save (bool): Write the thresholds file. Defaults to True.
        **kwargs: See :class:`BaseMultiLabelMetric`.
    """
    ALL_ITEMS = ('CF1_tuned', 'OF1_tuned', 'CP_tuned', 'CR_tuned', 'OP_tuned', 'OR_tuned',
                 'CF1_tuned_global', 'OF1_tuned_global', 'thr_global')
    DEFAULT_ITEMS = ALL_ITEMS

    def __init__(self, items: Optional[Sequence[str]] = None, save: bool = True, **kwargs):
        super().__init__(items=items, **kwargs)
        self.save = save

    def compute(self, scores: torch.Tensor, target: torch.Tensor) -> Dict[str, float]:
        thr_global, _ = global_best_threshold(scores, target)
        if math.isnan(thr_global):
            raise ValueError('no positive label in the evaluated data: no threshold to tune')
        thr_class, _ = per_class_best_thresholds(scores, target)
        thr_class_filled = torch.where(torch.isnan(thr_class), torch.tensor(thr_global,
                                       dtype=thr_class.dtype), thr_class)
        at_class = self._prf(scores >= thr_class_filled.to(scores.dtype), target)
        at_global = self._prf(scores >= thr_global, target)
        values = {f'{key}_tuned': 100 * at_class[key] for key in ('CF1', 'OF1', 'CP', 'CR',
                                                                   'OP', 'OR')}
        values.update(CF1_tuned_global=100 * at_global['CF1'],
                      OF1_tuned_global=100 * at_global['OF1'], thr_global=thr_global)
        if self.save:
            self.save_thresholds(thr_global, thr_class)
        return {item: values[item] for item in self.items}

    @staticmethod
    def _prf(pred: torch.Tensor, target: torch.Tensor) -> Dict[str, float]:
        counts = confusion_counts(pred, target)
        return precision_recall_f1(counts['tp'], counts['fp'], counts['fn'])

    def save_thresholds(self, thr_global: float, thr_class: torch.Tensor) -> str:
        os.makedirs(self.output_dir(), exist_ok=True)
        path = osp.join(self.output_dir(), THRESHOLDS_FILE)
        per_class = [None if math.isnan(t) else float(t) for t in thr_class.tolist()]
        with open(path, 'w') as f:
            json.dump({'global': thr_global, 'per_class': per_class,
                       'classes': list(self.class_names or []), 'tuned_on': self.eval_tag,
                       'objective': 'F1'}, f, indent=1)
        return path
