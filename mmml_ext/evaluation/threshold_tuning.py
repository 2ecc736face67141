"""Tune decision thresholds for F1 on the validation set, and save them for test time.

A fixed 0.5 threshold often does not fit the score scale that a loss for
imbalance produces (focal loss, ASL): recall rises and precision collapses, or
the reverse. ``TunedThresholdF1`` finds, on the data it evaluates, the single
global threshold that maximises OF1 and the per-class thresholds that maximise
each class's F1, and reports CF1 / OF1 at them. It hands the thresholds to the
run (:mod:`mmml_ext.run_facts.tuned_thresholds`): ``RunFactsHook`` writes them
to ``<work_dir>/thresholds.json`` and into the checkpoint of the weights they
were tuned for, where ``thresholds='tuned'`` finds them at test time.

Numbers at thresholds tuned on the very data they are measured on are
optimistic: tune on the validation set, then test with the tuned thresholds.
"""
import math
from typing import Dict, Optional, Sequence

import torch
from mmpretrain.registry import METRICS

from ..functional import precision_recall_f1
from ..functional.temperature_scaling import fit_inverse_temperature
from ..run_facts.tuned_thresholds import TunedThresholds
from .base import BaseMultiLabelMetric, check_absent_classes
from .shared_rows import EvaluationRows

#: Key ending of the numbers at thresholds tuned on the evaluated data itself.
TUNED_SUFFIX = '_tuned'


@METRICS.register_module()
class TunedThresholdF1(BaseMultiLabelMetric):
    """CF1 and OF1 at F1-maximising thresholds; the thresholds go to the run.

    Keys (percent, except ``thr_global``):

    - ``CF1_tuned``, ``OF1_tuned``: at per-class thresholds, each maximising
      its class's F1 (a class with no positive takes the global threshold);
      ``CP_tuned``, ``CR_tuned``, ``OP_tuned``, ``OR_tuned``: the precision
      and recall behind them (the precision / recall trade-off of a loss);
    - ``CF1_tuned_global``, ``OF1_tuned_global``: at the one threshold that
      maximises OF1;
    - ``thr_global``: that threshold.

    The thresholds (``global``, ``per_class`` with null for a class with no
    positive, ``classes``, the evaluation and training iteration they come
    from), with a per-class temperature scaling fitted on the same data
    (``inverse_temperature``, :mod:`mmml_ext.functional.temperature_scaling`:
    the inferencer's calibrated probabilities), are written to ``thresholds.json`` in ``out_dir`` or the work dir,
    and ``RunFactsHook`` stores them in the checkpoint of the evaluated weights.

    Args:
        items (Sequence[str]): From ``CF1_tuned OF1_tuned CP_tuned CR_tuned
            OP_tuned OR_tuned CF1_tuned_global OF1_tuned_global thr_global``.
            Defaults to all.
        save (bool): Hand the thresholds to the run (file and checkpoint).
            Defaults to True.
        absent_classes (str): ``'exclude'`` (default) or ``'include'``: a
            class with no positive in the evaluated data in CP / CR / CF1
            (it cannot be tuned either way).
        **kwargs: See :class:`BaseMultiLabelMetric`.
    """
    SHARDABLE = True
    ALL_ITEMS = ('CF1_tuned', 'OF1_tuned', 'CP_tuned', 'CR_tuned', 'OP_tuned', 'OR_tuned',
                 'CF1_tuned_global', 'OF1_tuned_global', 'thr_global')
    DEFAULT_ITEMS = ALL_ITEMS

    def __init__(self, items: Optional[Sequence[str]] = None, save: bool = True,
                 absent_classes: str = 'exclude', **kwargs):
        super().__init__(items=items, **kwargs)
        self.save = save
        self.absent_classes = check_absent_classes(absent_classes)

    def compute(self, rows: EvaluationRows) -> Dict[str, float]:
        thr_global, _ = rows.global_threshold(self.difficult_as)
        if math.isnan(thr_global):  # a split without positives: nothing to tune, run goes on
            self.warn_once('no_positive', 'no positive label in the evaluated data: no '
                           'threshold to tune; its keys are left out')
            return {}
        thr_class, _ = rows.best_thresholds(self.difficult_as)
        scale = rows.class_terms(
            (fit_inverse_temperature, ),
            lambda scores, target: dict(a=fit_inverse_temperature(scores, target)),
            self.difficult_as, 'fitting temperatures')['a']
        context = self.context
        tuned = TunedThresholds.from_tensors(thr_global, thr_class, scale,
                                             classes=tuple(self.class_names or ()),
                                             tuned_on=context.tag, iter=context.iteration)
        at_class = self._prf(rows.confusion(tuned.values(), None, self.difficult_as))
        at_global = self._prf(rows.confusion(thr_global, None, self.difficult_as))
        values = {f'{key}{TUNED_SUFFIX}': 100 * at_class[key]
                  for key in ('CF1', 'OF1', 'CP', 'CR', 'OP', 'OR')}
        values.update(CF1_tuned_global=100 * at_global['CF1'],
                      OF1_tuned_global=100 * at_global['OF1'], thr_global=thr_global)
        if self.save and context.publish_thresholds(self.out_dir, tuned) is None:
            self.warn_once('no_dir', 'no out_dir and no work dir, so the thresholds are not '
                           "written: add dict(type='RunFactsHook') to custom_hooks")
        return {item: values[item] for item in self.items}

    def _prf(self, counts: Dict[str, torch.Tensor]) -> Dict[str, float]:
        present = self.class_mean_mask((counts['tp'] + counts['fn']) > 0, self.absent_classes)
        return precision_recall_f1(counts['tp'], counts['fp'], counts['fn'], present)
