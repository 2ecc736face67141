"""How sure a comparison is: paired bootstrap intervals, differences against a baseline, seeds.

From each run's ``test_predictions.npz`` (:mod:`mmml_ext.run_facts.test_predictions`):

- **Paired bootstrap over test images.** B sets of N images are drawn with
  replacement once (a fixed seed) and used for every run, so that two runs are
  compared on the same resampled test sets. In each replicate a metric is
  computed exactly as its point estimate, on the resampled data (a class with
  no positive in a replicate is left out of mAP and of the class means, as in
  the point estimate). The interval is the 2.5 and 97.5 percentiles of the
  replicates.
- **Seeds.** The runs of one setting (``<name>_seed-<s>`` of a sweep with
  ``--seeds``, as its state file says) are aggregated: the mean and
  the standard deviation of their point estimates. The setting's interval
  covers the test images (the interval of the seed mean over the replicates)
  and the seeds (Student's t on the seeds' standard error), combined margin by
  margin (:mod:`mmml_ext.functional.seed_noise`). A setting of one seed has
  the image interval only, and the summary says that seed noise is not covered.
- **Against a baseline.** The paired difference of a setting's and the
  baseline's seed means in each replicate gives the image part of the interval
  of the difference, Welch's t on both settings' seeds its seed part; a
  difference is a win or a loss only when that interval excludes 0. Beside it,
  the probability that a run of the setting beats a run of the baseline, with an
  interval that resamples seeds and images.

The metrics are those the registered metric classes declare
(:mod:`mmml_ext.evaluation.interval_statistics`: each computes its own values in
every replicate, with the reduction its evaluation uses); this module knows
none by name. Today: mAP and head / medium / tail mAP, sample mAP (each image's
AP over its classes, averaged over the images), CF1 and OF1 at 0.5 and at the
thresholds tuned on validation (``*_tuned``: the test's ``*_valtuned``), subset
accuracy, and ECE (lower is better), in percent.
"""
import math
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..evaluation.ap_metrics import DEFAULT_GROUP_BOUNDS
from ..evaluation.interval_statistics import (interval_holds_from, interval_keys,
                                              interval_methods, lower_is_better,
                                              replicate_values)
from ..functional.bootstrap import bootstrap_counts, bootstrap_interval
from ..functional.calibration import reliability_bins
from ..functional.seed_noise import (bootstrap_probability_of_improvement, difference_interval,
                                     probability_of_improvement, setting_interval)
from ..run_facts import test_predictions
from ..run_facts.test_predictions import TestPredictions
from .run_records import RunRecord, config_group_bounds

LEVEL = 0.95
#: below this share of replicates with a value (e.g. tail mAP, NaN in a replicate that draws
#: no tail positive) an interval is reported but supports no statement
MIN_VALID_SHARE = 0.95


@dataclass
class SettingStatistics:
    """A setting (the runs of one configuration, one per seed) and its statistics.

    Attributes:
        name (str): The setting's name (run names without ``_seed-<s>``).
        runs (list[str]): Its runs.
        seed_points (dict): Metric -> (S,) the runs' point estimates.
        seed_replicates (dict): Metric -> (S, B) the runs' replicates.
    """
    name: str
    runs: List[str] = field(default_factory=list)
    seed_points: Dict[str, torch.Tensor] = field(default_factory=dict)
    seed_replicates: Dict[str, torch.Tensor] = field(default_factory=dict)
    _intervals: Dict[str, Tuple[float, float]] = field(default_factory=dict, repr=False)

    @property
    def point(self) -> Dict[str, float]:
        """Metric -> mean over the runs of their point estimates."""
        return {metric: float(values.mean()) for metric, values in self.seed_points.items()}

    @property
    def sd(self) -> Dict[str, float]:
        """Metric -> standard deviation over the runs (NaN for one run)."""
        return {metric: float(values.std()) if len(values) > 1 else math.nan
                for metric, values in self.seed_points.items()}

    @property
    def covers_seeds(self) -> bool:
        """Whether its intervals include seed-to-seed noise (two seeds or more)."""
        return len(self.runs) > 1

    def interval(self, metric: str) -> Tuple[float, float]:
        """The interval of the seed mean: test images and (with two seeds or more) seeds;
        computed once per metric."""
        if metric not in self._intervals:
            _, low, high = setting_interval(
                self.seed_points[metric], self.seed_replicates[metric],
                interval_methods().get(metric, 'percentile'), LEVEL)
            self._intervals[metric] = (low, high)
        return self._intervals[metric]


@dataclass
class ComparisonStatistics:
    """What :func:`compare_statistics` found.

    Attributes:
        num_replicates (int): B.
        seed (int): The seed of the resampling.
        runs (dict): Run name -> {metric: (point, low, high)}.
        settings (dict): Setting name -> :class:`SettingStatistics`.
        baseline (str, optional): The baseline setting.
        deltas (dict): Setting -> {metric: (difference, low, high)} against
            the baseline (seeds covered where a side has two or more).
        improvement (dict): Setting -> {metric: (probability, low, high)} that a
            run of the setting beats a run of the baseline; only where a side
            has two seeds or more.
        valid (dict): (setting, metric) -> share of replicates with a value of
            the difference (or of the setting's metric); below
            :data:`MIN_VALID_SHARE` an interval supports no statement.
        run_settings (dict): Run name -> its setting.
        reliability (dict): Run name -> reliability bins (for the diagram).
        notes (list[str]): What could not be computed, and why.
        num_images (int): N, the test images (0 before a run is read).
    """
    num_replicates: int
    seed: int
    num_images: int = 0
    runs: Dict[str, Dict[str, Tuple[float, float, float]]] = field(default_factory=dict)
    settings: Dict[str, SettingStatistics] = field(default_factory=dict)
    baseline: Optional[str] = None
    deltas: Dict[str, Dict[str, Tuple[float, float, float]]] = field(default_factory=dict)
    improvement: Dict[str, Dict[str, Tuple[float, float, float]]] = field(default_factory=dict)
    valid: Dict[Tuple[str, str], float] = field(default_factory=dict)
    run_settings: Dict[str, str] = field(default_factory=dict)
    reliability: Dict[str, Dict[str, np.ndarray]] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)

    def no_statement(self) -> List[str]:
        """The keys whose single-setting interval supports no statement on this test set: the
        coverage study did not find it holding at this number of images, or did not measure it
        (``INTERVAL_HOLDS_FROM`` of its metric). Differences are not concerned."""
        sizes = interval_holds_from()
        return [key for key in interval_keys()
                if self.num_images < sizes.get(key, math.inf)]


def _interval(point: float, replicates: torch.Tensor,
              metric: Optional[str] = None) -> Tuple[float, float]:
    """The interval of one key (its metric's declared method), or of a difference
    (``metric=None``: percentile)."""
    method = 'percentile' if metric is None else interval_methods().get(metric, 'percentile')
    low, high = bootstrap_interval(torch.tensor(point, dtype=torch.float64), replicates, method,
                                   LEVEL)
    return float(low), float(high)


def _same_test_set(a: TestPredictions, b: TestPredictions) -> Optional[str]:
    """Why two runs' predictions are not on one test set, or None when they are."""
    if a.scores.shape != b.scores.shape:
        return f'{b.scores.shape[0]} images x {b.scores.shape[1]} classes, not ' \
               f'{a.scores.shape[0]} x {a.scores.shape[1]}'
    if tuple(a.classes) != tuple(b.classes):
        return 'other classes'
    if not np.array_equal(a.sample_idx, b.sample_idx) or not np.array_equal(a.target, b.target):
        return 'other images or labels'
    return None


def _valid_share(replicates: torch.Tensor) -> float:
    return float((~torch.isnan(replicates)).double().mean())


def compare_statistics(records: Sequence[RunRecord], baseline: Optional[str] = None,
                       num_replicates: int = 1000, seed: int = 0) -> ComparisonStatistics:
    """Bootstrap intervals of every run, seed statistics of every setting, differences.

    Args:
        records (Sequence[RunRecord]): The runs (their work dirs hold the test
            predictions; their ``setting`` groups the seeds of one setting).
        baseline (str, optional): A setting, or a run (then its setting), to
            compare against.
        num_replicates (int): B. Defaults to 1,000.
        seed (int): Seed of the resampling. Defaults to 0.

    Returns:
        ComparisonStatistics: Runs without test predictions, or on another test
        set than the first run's, are left out, with a note.
    """
    if num_replicates < 1:
        raise ValueError(f'--bootstrap must be >= 1, got {num_replicates}')
    result = ComparisonStatistics(num_replicates, seed)
    reference: Optional[Tuple[str, TestPredictions]] = None
    counts = None
    per_run: Dict[str, Dict[str, torch.Tensor]] = {}
    points: Dict[str, Dict[str, float]] = {}
    for record in records:
        path = test_predictions.path_in(record.work_dir)
        if not osp.isfile(path):
            result.notes.append(f'{record.name}: no {test_predictions.FILE_NAME}, so no '
                                'intervals (it is written by a test with RunFactsHook and '
                                'mmml_ext metrics in the test evaluator)')
            continue
        try:
            predictions = test_predictions.read(path)
        except (OSError, ValueError) as error:
            result.notes.append(f'{record.name}: {error}')
            continue
        if reference is None:
            reference = (record.name, predictions)
            # row 0 weighs every image once (the point estimate), the others are the replicates:
            # each run is ranked once for both
            num = predictions.scores.shape[0]
            result.num_images = num
            counts = torch.cat([torch.ones((1, num), dtype=torch.int32),
                                bootstrap_counts(num, num_replicates, seed)])
        else:
            why = _same_test_set(reference[1], predictions)
            if why is not None:
                result.notes.append(f'{record.name} was tested on another test set than '
                                    f'{reference[0]} ({why}): left out of the bootstrap')
                continue
        bounds = config_group_bounds(record.config) or DEFAULT_GROUP_BOUNDS
        values = replicate_values(predictions, counts, bounds)
        replicates = {key: value[1:] for key, value in values.items()}
        points[record.name] = {key: float(value[0]) for key, value in values.items()}
        per_run[record.name] = replicates
        result.run_settings[record.name] = record.setting
        result.runs[record.name] = {
            key: (points[record.name][key], *_interval(points[record.name][key], value, key))
            for key, value in replicates.items()}
        settings = predictions.family('calibration')
        scores = torch.from_numpy(np.ascontiguousarray(predictions.scores))
        target = torch.from_numpy(np.ascontiguousarray(
            predictions.target_as(settings.get('difficult_as') or 'ignore')))
        result.reliability[record.name] = {key: value.numpy() for key, value in reliability_bins(
            scores, target, settings.get('num_bins') or 15).items()}
        del predictions, scores, target
    for run, name in result.run_settings.items():
        result.settings.setdefault(name, SettingStatistics(name)).runs.append(run)
    for setting in result.settings.values():
        metrics = set.intersection(*(set(per_run[run]) for run in setting.runs))
        for metric in [m for m in interval_keys() if m in metrics]:
            setting.seed_points[metric] = torch.tensor(
                [points[run][metric] for run in setting.runs], dtype=torch.float64)
            setting.seed_replicates[metric] = torch.stack(
                [per_run[run][metric] for run in setting.runs]).double()
            result.valid[(setting.name, metric)] = _valid_share(
                setting.seed_replicates[metric].mean(dim=0))
    if baseline is not None:
        _differences(result, baseline)
    return result


def _differences(result: ComparisonStatistics, baseline: str) -> None:
    name = baseline if baseline in result.settings else result.run_settings.get(baseline)
    if name is None:
        result.notes.append(f'--baseline {baseline} names no compared run or setting with test '
                            f'predictions (they are: {sorted(result.settings)}); no differences')
        return
    if name != baseline and len(result.settings[name].runs) > 1:
        result.notes.append(f'--baseline {baseline} is one seed of the setting {name}: the '
                            f'differences are from the mean of its {len(result.settings[name].runs)}'
                            ' runs')
    result.baseline = name
    base = result.settings[name]
    lower = lower_is_better()
    for setting in result.settings.values():
        deltas, improvement = {}, {}
        for metric in setting.seed_replicates:
            if metric not in base.seed_replicates:
                continue
            deltas[metric] = difference_interval(
                setting.seed_points[metric], setting.seed_replicates[metric],
                base.seed_points[metric], base.seed_replicates[metric], LEVEL)
            diff = setting.seed_replicates[metric].mean(dim=0) - \
                base.seed_replicates[metric].mean(dim=0)
            result.valid[(f'{setting.name} - {name}', metric)] = _valid_share(diff)
            if setting is not base and (setting.covers_seeds or base.covers_seeds):
                improvement[metric] = _improvement(setting, base, metric, metric in lower,
                                                   result.seed)
        result.deltas[setting.name] = deltas
        if improvement:
            result.improvement[setting.name] = improvement


def _improvement(setting: SettingStatistics, base: SettingStatistics, metric: str,
                 lower: bool, seed: int) -> Tuple[float, float, float]:
    """The probability that a run of ``setting`` beats a run of ``base``, with its interval."""
    point = float(probability_of_improvement(setting.seed_points[metric],
                                             base.seed_points[metric], lower))
    replicates = bootstrap_probability_of_improvement(
        setting.seed_replicates[metric], base.seed_replicates[metric], lower,
        torch.Generator().manual_seed(seed))
    low, high = _interval(point, replicates)
    return point, low, high


def verdict(metric: str, low: float, high: float, valid_share: float = 1.0) -> str:
    """``better``, ``worse`` or ``within noise``: what an interval of a difference supports;
    ``too few replicates`` when fewer than :data:`MIN_VALID_SHARE` of them had a value."""
    if valid_share < MIN_VALID_SHARE:
        return 'too few replicates'
    if math.isnan(low) or math.isnan(high) or low <= 0 <= high:
        return 'within noise'
    better = low > 0 if metric not in lower_is_better() else high < 0
    return 'better' if better else 'worse'


def statistics_columns() -> List[str]:
    """The summary.csv columns of the statistics, per declared metric ``m`` (:func:`interval_keys`):
    ``test_<m>_ci_low/high`` (the run's interval: its test images), ``test_<m>_mean/sd`` (its
    setting over seeds) and ``test_<m>_mean_ci_low/high`` (the setting's interval: images and
    seeds), ``delta_test_<m>`` and ``delta_test_<m>_ci_low/high`` (its setting against the
    baseline setting), ``improvement_test_<m>`` and ``improvement_test_<m>_ci_low/high`` (the
    probability that a run of its setting beats a run of the baseline)."""
    names = ['setting', 'seeds', 'no_statement']
    for metric in interval_keys():
        names += [f'test_{metric}_ci_low', f'test_{metric}_ci_high', f'test_{metric}_mean',
                  f'test_{metric}_sd', f'test_{metric}_mean_ci_low', f'test_{metric}_mean_ci_high',
                  f'delta_test_{metric}', f'delta_test_{metric}_ci_low',
                  f'delta_test_{metric}_ci_high', f'improvement_test_{metric}',
                  f'improvement_test_{metric}_ci_low', f'improvement_test_{metric}_ci_high']
    return names


def _rounded(value: float):
    return '' if value is None or math.isnan(value) else round(value, 4)


def statistics_cells(record: RunRecord,
                     stats: Optional[ComparisonStatistics]) -> Dict[str, object]:
    """A run's cells of :func:`statistics_columns` (empty where there is no statistic)."""
    cells = {name: '' for name in statistics_columns()}
    run, setting = record.name, record.setting
    cells['setting'] = setting
    if stats is None:
        return cells
    group = stats.settings.get(setting)
    cells['seeds'] = len(group.runs) if group is not None else ''
    cells['no_statement'] = ' '.join(stats.no_statement())
    for metric, (_, low, high) in stats.runs.get(run, {}).items():
        cells[f'test_{metric}_ci_low'], cells[f'test_{metric}_ci_high'] = (_rounded(low),
                                                                           _rounded(high))
    if group is not None:
        point, sd = group.point, group.sd
        for metric in point:
            cells[f'test_{metric}_mean'] = _rounded(point[metric])
            cells[f'test_{metric}_sd'] = _rounded(sd[metric])
            low, high = group.interval(metric)
            cells[f'test_{metric}_mean_ci_low'] = _rounded(low)
            cells[f'test_{metric}_mean_ci_high'] = _rounded(high)
    for prefix, table in (('delta', stats.deltas), ('improvement', stats.improvement)):
        for metric, (value, low, high) in table.get(setting, {}).items():
            cells[f'{prefix}_test_{metric}'] = _rounded(value)
            cells[f'{prefix}_test_{metric}_ci_low'] = _rounded(low)
            cells[f'{prefix}_test_{metric}_ci_high'] = _rounded(high)
    return cells


def _fmt(value: float) -> str:
    return '–' if value is None or math.isnan(value) else f'{value:.1f}'


def statistics_markdown(stats: ComparisonStatistics) -> List[str]:
    """The summary.md sections: each setting with its intervals and seeds, and its differences
    against the baseline with what they support."""
    level = int(LEVEL * 100)
    parts = ['', '## Test, with intervals', '',
             f'Paired bootstrap over the test images: {stats.num_replicates} replicates (seed '
             f'{stats.seed}), the same resampled image sets for every run; {level} % intervals '
             '(each metric\'s declared method). A setting of several seeds: the mean of its '
             'runs, with the standard deviation over the seeds (sd); its interval covers the '
             'test images and the seeds (Student\'s t on the seeds\' standard error, added '
             'margin by margin). A setting of one seed (*1, images only*): its interval covers '
             'the test images, not the seed; run several (--seeds) to cover it.', '']
    unsupported = set(stats.no_statement())
    if unsupported:
        parts[-1:-1] = ['*no statement*: on simulated populations (docs/experiments.md, the '
                        'coverage study) this interval of a single setting did not hold its '
                        f'{level} % at {stats.num_images} test images, or was not measured; '
                        'read it as indicative only. The differences below hold.', '']
    metrics = [m for m in interval_keys()
               if any(m in s.seed_points for s in stats.settings.values())]
    parts.append('| setting | seeds | ' + ' | '.join(metrics) + ' |')
    parts.append('|---|---:|' + '---:|' * len(metrics))
    for setting in stats.settings.values():
        cells, points, sds = [], setting.point, setting.sd
        for metric in metrics:
            if metric not in points:
                cells.append('–')
                continue
            low, high = setting.interval(metric)
            sd = sds[metric]
            cells.append(f'{_fmt(points[metric])} [{_fmt(low)}, {_fmt(high)}]'
                         + ('' if math.isnan(sd) else f' sd {sd:.1f}')
                         + (' no statement' if metric in unsupported else ''))
        seeds = f'{len(setting.runs)}' if setting.covers_seeds else '1, images only'
        parts.append(f'| {setting.name} | {seeds} | ' + ' | '.join(cells) + ' |')
    if stats.baseline is not None:
        parts += ['', f'## Against {stats.baseline}', '',
                  f'Difference of each setting from the baseline {stats.baseline} (points), with '
                  f'the {level} % interval of the paired difference (test images, and the seeds '
                  'of each side that has two or more). *better* / *worse*: the '
                  'interval excludes 0 (for ECE lower is better); *within noise*: it does not, '
                  'and the data do not say which is better; *too few replicates*: fewer than '
                  f'{MIN_VALID_SHARE:.0%} of the replicates had a value (a group without a '
                  'positive in many of them).', '']
        parts.append('| setting | ' + ' | '.join(metrics) + ' |')
        parts.append('|---|' + '---|' * len(metrics))
        for setting, deltas in stats.deltas.items():
            if setting == stats.baseline:
                continue
            cells = []
            for metric in metrics:
                if metric not in deltas:
                    cells.append('–')
                    continue
                delta, low, high = deltas[metric]
                share = stats.valid.get((f'{setting} - {stats.baseline}', metric), 1.0)
                valid = '' if share == 1.0 else f' ({share:.0%} of replicates)'
                cells.append(f'{delta:+.1f} [{low:+.1f}, {high:+.1f}] '
                             f'{verdict(metric, low, high, share)}{valid}')
            parts.append(f'| {setting} | ' + ' | '.join(cells) + ' |')
        parts += _improvement_markdown(stats, metrics)
    if stats.notes:
        parts += ['', 'Not in the statistics:', ''] + [f'- {note}' for note in stats.notes]
    return parts


def _improvement_markdown(stats: ComparisonStatistics, metrics: List[str]) -> List[str]:
    """The probability of improvement table, where a side has two seeds or more."""
    if not stats.improvement:
        return []
    base = stats.settings[stats.baseline]
    single = [name for name in [stats.baseline, *stats.improvement]
              if not stats.settings[name].covers_seeds]
    parts = ['', f'Probability that a run of each setting beats a run of {stats.baseline} '
             '(over all pairs of their seeds, ties counting a half; for ECE, lower beats), with '
             f'the {int(LEVEL * 100)} % interval of a bootstrap over seeds and test images '
             f'together. 0.5: as likely to win as to lose; {stats.baseline} has '
             f'{len(base.runs)} seed(s).'
             + (f' One seed only, so seed noise not covered: {", ".join(single)}.' if single
                else ''), '',
             '| setting | ' + ' | '.join(metrics) + ' |', '|---|' + '---|' * len(metrics)]
    for setting, values in stats.improvement.items():
        cells = [f'{values[m][0]:.2f} [{values[m][1]:.2f}, {values[m][2]:.2f}]' if m in values
                 else '–' for m in metrics]
        parts.append(f'| {setting} | ' + ' | '.join(cells) + ' |')
    return parts
