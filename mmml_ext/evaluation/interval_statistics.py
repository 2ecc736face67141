"""The comparison's statistics, each declared by the metric that owns it.

A bootstrap interval needs a metric's value in every replicate, a resampled
test set given as one row of weights over the test images (how many times the
replicate draws each image; a row of ones is the point estimate). The metric
classes own those values: a registered
:class:`~mmml_ext.evaluation.base.BaseMultiLabelMetric` subclass declares

- ``INTERVAL_KEYS``: ``{family: (key, ...)}``, the keys it gives intervals
  for, by family (a family is one setting of the metric whose settings the
  test's ``test_predictions.npz`` keeps: :meth:`statistics_settings`);
- ``LOWER_IS_BETTER``: those of its keys where a smaller number is better;
- ``INTERVAL_METHOD``: ``{key: method}``, the interval of a single run's key,
  where the coverage study found the percentile interval wrong;
- ``INTERVAL_HOLDS_FROM``: ``{key: images}``, the fewest test images at which
  the coverage study found a single setting's interval of the key holding;
- ``COMPARED_BY_DEFAULT``: whether a test without the metric gets its
  intervals too, with the metric's defaults (False: only the tests that had it);
- :meth:`replicate_values` ``(family, settings, data)``: the keys' values (fractions) in
  every row of ``data.counts``, from the same reduction of class terms or row
  terms that :meth:`compute` uses.

:func:`replicate_values` asks every declared family for its values, and the
comparison (:mod:`mmml_ext.experiments.statistics`) knows no metric by name:
a metric written by a user and registered with ``custom_imports`` gets
intervals, seeds and differences with no edit elsewhere (docs/metrics.md,
"Write a metric").
"""
from dataclasses import dataclass, field
from typing import Collection, Dict, Optional, Sequence, Tuple, Type

import numpy as np
import torch
from mmpretrain.registry import METRICS

from ..run_facts.test_predictions import TestPredictions
from .base import BaseMultiLabelMetric


@dataclass
class ReplicateData:
    """One run's test predictions and the replicates' weights, as metrics read them.

    Attributes:
        predictions (TestPredictions): What the test predicted, with the
            settings its metrics used.
        counts (torch.Tensor): (R, N) times each test image is drawn in each
            replicate; a row of ones is the point estimate.
        group_bounds (tuple): ``(low, high)`` of head / medium / tail when the
            test's settings do not say (the run's config, else the default).
    """
    predictions: TestPredictions
    counts: torch.Tensor
    group_bounds: Sequence[float] = (20, 100)
    _targets: Dict[str, torch.Tensor] = field(default_factory=dict, repr=False)
    _scores: torch.Tensor = field(default=None, repr=False)

    @property
    def scores(self) -> torch.Tensor:
        """(N, C) float32 scores."""
        if self._scores is None:
            self._scores = torch.from_numpy(np.ascontiguousarray(self.predictions.scores))
        return self._scores

    def target(self, difficult_as: str = 'ignore') -> torch.Tensor:
        """(N, C) int8 target, 1 / 0 / -1, with the difficult labels read by ``difficult_as``."""
        difficult_as = difficult_as or 'ignore'
        if difficult_as not in self._targets:
            self._targets[difficult_as] = torch.from_numpy(np.ascontiguousarray(
                self.predictions.target_as(difficult_as)))
        return self._targets[difficult_as]


def interval_owners() -> Dict[str, Type[BaseMultiLabelMetric]]:
    """Family -> the registered metric class that declares it, in registration order."""
    owners: Dict[str, Type[BaseMultiLabelMetric]] = {}
    for metric in METRICS.module_dict.values():
        if not (isinstance(metric, type) and issubclass(metric, BaseMultiLabelMetric)):
            continue
        for family in metric.INTERVAL_KEYS:
            if family in owners and owners[family] is not metric:
                raise ValueError(f'{metric.__name__} and {owners[family].__name__} both declare '
                                 f'the interval family {family!r}: a family has one owner')
            owners[family] = metric
    return owners


def interval_keys() -> Tuple[str, ...]:
    """Every key with an interval, in the order of the families (each key once)."""
    keys = []
    for family, metric in interval_owners().items():
        keys += [key for key in metric.INTERVAL_KEYS[family] if key not in keys]
    return tuple(keys)


def lower_is_better() -> Tuple[str, ...]:
    """The keys where a smaller number is the better one."""
    return tuple(key for metric in set(interval_owners().values())
                 for key in metric.LOWER_IS_BETTER)


def interval_methods() -> Dict[str, str]:
    """Key -> the interval method its metric declares (``INTERVAL_METHOD``; percentile else)."""
    methods = {}
    for family, metric in interval_owners().items():
        for key in metric.INTERVAL_KEYS[family]:
            methods.setdefault(key, metric.INTERVAL_METHOD.get(key, 'percentile'))
    return methods


def interval_holds_from() -> Dict[str, int]:
    """Key -> the fewest test images at which its single-setting interval was found to hold
    (``INTERVAL_HOLDS_FROM``); a key not there was not measured."""
    sizes = {}
    for family, metric in interval_owners().items():
        for key in metric.INTERVAL_KEYS[family]:
            if key in metric.INTERVAL_HOLDS_FROM:
                sizes.setdefault(key, metric.INTERVAL_HOLDS_FROM[key])
    return sizes


def replicate_values(predictions: TestPredictions, counts: torch.Tensor,
                     group_bounds: Sequence[float] = (20, 100),
                     keys: Optional[Collection[str]] = None) -> Dict[str, torch.Tensor]:
    """Every declared key's value in each replicate, in percent.

    Each family repeats the settings the test's metric used (kept in the file
    by family); a family the test did not have is left out, or takes its
    metric's defaults when the metric says ``COMPARED_BY_DEFAULT``; a family that cannot be computed from the file (no tuned thresholds,
    no training counts for the groups) gives no key.

    Args:
        predictions (TestPredictions): One run's test predictions.
        counts (torch.Tensor): (R, N) times each image is drawn in each
            replicate; a row of ones gives the point estimate.
        group_bounds (tuple): ``(low, high)`` of the frequency groups when the
            file does not say.
        keys (Collection[str], optional): Compute only the families that declare one
            of these keys (all of each such family's keys); the same values as
            without, at those families' cost. Defaults to None (every family).

    Returns:
        dict: key -> (R,) float64 tensor, in percent (NaN in a replicate
        without a value, such as a group without a positive drawn).
    """
    data = ReplicateData(predictions, counts, tuple(group_bounds))
    values: Dict[str, torch.Tensor] = {}
    for family, metric in interval_owners().items():
        if family not in predictions.settings and not metric.COMPARED_BY_DEFAULT:
            continue
        if keys is not None and not set(metric.INTERVAL_KEYS[family]) & set(keys):
            continue
        found = metric.replicate_values(family, predictions.family(family), data)
        unknown = set(found) - set(metric.INTERVAL_KEYS[family])
        if unknown:
            raise ValueError(f'{metric.__name__}.replicate_values gave {sorted(unknown)} for '
                             f'the family {family!r}, which declares '
                             f'{list(metric.INTERVAL_KEYS[family])} (INTERVAL_KEYS)')
        for key, value in found.items():
            values[key] = 100 * value.double()
    return values
