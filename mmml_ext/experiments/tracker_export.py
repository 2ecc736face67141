"""A comparison in the trackers people watch: ``tools/compare.py --log-to mlflow:EXP tensorboard:DIR``.

No tracker computes paired intervals of a difference between runs; this plugin does
(:mod:`.statistics`). This module hands a finished comparison to them:

- **MLflow** (``mlflow[:EXPERIMENT]``, experiment ``Default`` if none is named): one run
  of its own, named after the report's directory, in that experiment of the tracking store
  (``tracking_uri``, else MLflow's own default: ``MLFLOW_TRACKING_URI``). Artifacts:
  ``summary.md``, ``summary.csv`` and the plots. Metrics, per setting ``<s>``:
  ``<s>/<m>`` (the seed mean of test metric ``<m>``), ``<s>/<m>_sd``, ``<s>/<m>_ci_low`` /
  ``_ci_high`` (where that interval supports a statement at this test size),
  ``<s>/delta/<m>`` with ``_ci_low`` / ``_ci_high`` (against the baseline), and
  ``<s>/improvement/<m>`` (the probability that a run of ``<s>`` beats a run of the
  baseline). Tags ``verdict/<s>/<m>``: ``better``, ``worse``, ``within noise``. Params: the
  baseline, the replicates, the resampling seed, the number of test images. **Links**: tag
  ``mmml_ext.compared/<run>`` holds the MLflow run ids (training, testing) of each compared
  run that the same store holds (found by its ``mmml_ext.run`` param, which ``TrackerHook`` logs), else the run's
  work dir; each such training run gets the tag ``mmml_ext.comparison`` = this run's id.
- **TensorBoard** (``tensorboard[:DIR]``, ``<out>/tensorboard`` if no directory is named):
  ``DIR/<setting>/`` per setting with its hparams (setting, seeds, baseline, the verdict of
  each metric) and the same metrics as scalars, so that the HPARAMS tab lists the settings
  as one sortable table; ``DIR/report/`` with ``summary.md`` as text and the plots as images.

Everything comes from the :class:`~.report.Comparison` already written to disk: nothing is
computed again.
"""
import importlib.util
import math
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..run_facts.tracker_names import PARAM_PREFIX, RUN_KEY, param_name, tag_safe
from .statistics import ComparisonStatistics, verdict
from .summary import SUMMARY_CSV, SUMMARY_MD

#: the kinds of ``--log-to``, with the package each needs
TRACKER_PACKAGES = dict(mlflow='mlflow', tensorboard='tensorboard')
DEFAULT_EXPERIMENT = 'Default'  # MLflow's own default, as mmengine's MLflowVisBackend uses
#: MLflow's limits per log_batch call (metrics 1,000, params and tags 100)
_BATCH = 100
COMPARISON_TAG = PARAM_PREFIX + 'comparison'
COMPARED_TAG = PARAM_PREFIX + 'compared/'


@dataclass(frozen=True)
class LogTarget:
    """Where a comparison is logged: ``kind`` ``mlflow`` (``where``: the experiment) or
    ``tensorboard`` (``where``: the log directory)."""
    kind: str
    where: str

    def __str__(self) -> str:
        return f'{self.kind}:{self.where}'


def parse_log_target(text: str, out_dir: str) -> LogTarget:
    """``mlflow[:EXPERIMENT]`` or ``tensorboard[:DIR]`` as a :class:`LogTarget`; the tracker's
    package must be installed.

    Raises:
        ValueError: an unknown kind, or a tracker that is not installed (named with the
            install command).

    Examples:
        >>> parse_log_target('mlflow:my-study', 'out')
        LogTarget(kind='mlflow', where='my-study')
        >>> parse_log_target('tensorboard', 'out')
        LogTarget(kind='tensorboard', where='out/tensorboard')
    """
    kind, _, where = text.partition(':')
    if kind not in TRACKER_PACKAGES:
        raise ValueError(f'--log-to {text}: the tracker must be one of '
                         f'{sorted(TRACKER_PACKAGES)}, as mlflow[:EXPERIMENT] or '
                         'tensorboard[:DIR]')
    if importlib.util.find_spec(TRACKER_PACKAGES[kind]) is None:
        raise ValueError(f'--log-to {text}: {TRACKER_PACKAGES[kind]} is not installed '
                         '(pip install -e .[trackers], or pip install '
                         f'{TRACKER_PACKAGES[kind]})')
    if not where:
        where = DEFAULT_EXPERIMENT if kind == 'mlflow' else osp.join(out_dir, 'tensorboard')
    return LogTarget(kind, where)


def setting_metrics(stats: ComparisonStatistics) -> Dict[str, Dict[str, float]]:
    """Setting -> {name: value} of its test statistics (the names of the module docstring,
    without the setting); NaN values are left out."""
    unsupported = set(stats.no_statement())
    out = {}
    for name, setting in stats.settings.items():
        values, sd = dict(setting.point), setting.sd
        for metric in setting.point:
            values[f'{metric}_sd'] = sd[metric]
            if metric not in unsupported:
                values[f'{metric}_ci_low'], values[f'{metric}_ci_high'] = setting.interval(metric)
        for prefix, table in (('delta', stats.deltas), ('improvement', stats.improvement)):
            if name == stats.baseline:
                continue
            for metric, (value, low, high) in table.get(name, {}).items():
                values.update({f'{prefix}/{metric}': value, f'{prefix}/{metric}_ci_low': low,
                               f'{prefix}/{metric}_ci_high': high})
        out[name] = {key: float(value) for key, value in values.items()
                     if value is not None and not math.isnan(value)}
    return out


def setting_verdicts(stats: ComparisonStatistics) -> Dict[str, Dict[str, str]]:
    """Setting -> {metric: better / worse / within noise / too few replicates} against the
    baseline (empty without one)."""
    out = {}
    for name, deltas in stats.deltas.items():
        if name == stats.baseline:
            continue
        out[name] = {metric: verdict(metric, low, high,
                                     stats.valid.get((f'{name} - {stats.baseline}', metric), 1.0))
                     for metric, (_, low, high) in deltas.items()}
    return out


def report_files(comparison) -> List[str]:
    """The report's files on disk: ``summary.md``, ``summary.csv`` and the plots."""
    names = [SUMMARY_MD, SUMMARY_CSV, *comparison.plots]
    return [osp.join(comparison.out_dir, n) for n in names
            if osp.isfile(osp.join(comparison.out_dir, n))]


def log_comparison(comparison, targets: Sequence[LogTarget],
                   tracking_uri: Optional[str] = None) -> Dict[str, str]:
    """Log ``comparison`` (:func:`~.report.compare_runs`'s result) to each target.

    Args:
        comparison (Comparison): A comparison written to disk.
        targets (Sequence[LogTarget]): From :func:`parse_log_target`.
        tracking_uri (str, optional): MLflow's tracking store; defaults to MLflow's own
            (``MLFLOW_TRACKING_URI``).

    Returns:
        dict: Target (as text) -> where it landed, or the error it failed with (keyed
        ``failed``); a failing tracker does not stop the others.
    """
    loggers: Dict[str, Callable] = dict(mlflow=lambda t: _to_mlflow(comparison, t.where,
                                                                     tracking_uri),
                                        tensorboard=lambda t: _to_tensorboard(comparison,
                                                                              t.where))
    outcome = {}
    for target in targets:
        try:
            outcome[str(target)] = loggers[target.kind](target)
        except Exception as error:  # the report on disk stands; the tracker is named
            outcome[str(target)] = f'failed: {type(error).__name__}: {error}'
    return outcome


def _describe(stats: Optional[ComparisonStatistics]) -> Dict[str, str]:
    if stats is None:
        return dict(bootstrap='0')
    return dict(baseline=stats.baseline or '', bootstrap=str(stats.num_replicates),
                resampling_seed=str(stats.seed), test_images=str(stats.num_images))


def _chunks(items: list) -> List[list]:
    return [items[i:i + _BATCH] for i in range(0, len(items), _BATCH)] or [[]]


def _to_mlflow(comparison, experiment: str, tracking_uri: Optional[str]) -> str:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    run_names = [record.name for record in comparison.records]
    trained = _training_runs(client, run_names)
    name = osp.basename(osp.normpath(comparison.out_dir))
    run = client.create_run(experiment_id, run_name=name,
                            tags={PARAM_PREFIX + 'kind': 'comparison'})
    run_id = run.info.run_id
    try:
        stats = comparison.statistics
        now = run.info.start_time
        metrics, tags = [], []
        if stats is not None:
            for setting, values in setting_metrics(stats).items():
                metrics += [Metric(f'{tag_safe(setting)}/{key}', value, now, 0)
                            for key, value in values.items()]
            for setting, verdicts in setting_verdicts(stats).items():
                tags += [RunTag(f'verdict/{tag_safe(setting)}/{metric}', text)
                         for metric, text in verdicts.items()]
        params = [Param(key, value) for key, value in _describe(stats).items() if value]
        params.append(Param('runs', str(len(run_names))))
        for record in comparison.records:
            tags.append(RunTag(COMPARED_TAG + tag_safe(record.name),
                               ','.join(trained.get(record.name,
                                                    [osp.abspath(record.work_dir)]))))
        for chunk in _chunks(metrics):
            client.log_batch(run_id, metrics=chunk)
        for chunk in _chunks(params):
            client.log_batch(run_id, params=chunk)
        for chunk in _chunks(tags):
            client.log_batch(run_id, tags=chunk)
        for path in report_files(comparison):
            client.log_artifact(run_id, path)
        for ids in trained.values():
            for linked in ids:
                client.set_tag(linked, COMPARISON_TAG, run_id)
    except Exception:
        client.set_terminated(run_id, 'FAILED')
        raise
    client.set_terminated(run_id)
    return (f'run {run_id} in experiment {experiment!r} of {client.tracking_uri}, linked to '
            f'{len(trained)} of its {len(run_names)} runs')


def _training_runs(client, run_names: Sequence[str]) -> Dict[str, List[str]]:
    """Run name -> the MLflow run ids of its training and testing (newest first), in any
    experiment of the store, found by the ``mmml_ext.run`` param that ``TrackerHook`` logs."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return {}
    found = {}
    key = param_name(RUN_KEY)
    for name in run_names:
        if "'" in name:
            continue  # MLflow's filter language has no escape for it
        runs = client.search_runs(experiments, filter_string=f"params.`{key}` = '{name}'",
                                  order_by=['attributes.start_time DESC'], max_results=20)
        if runs:
            found[name] = [run.info.run_id for run in runs]
    return found


def _to_tensorboard(comparison, log_dir: str) -> str:
    import numpy as np
    from PIL import Image
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    stats = comparison.statistics
    written = []
    if stats is not None:
        verdicts = setting_verdicts(stats)
        for setting, values in setting_metrics(stats).items():
            settings = dict(setting=setting, seeds=len(stats.settings[setting].runs),
                            **_describe(stats))
            settings.update({f'verdict/{m}': v for m, v in verdicts.get(setting, {}).items()})
            path = osp.join(log_dir, tag_safe(setting))
            with SummaryWriter(path) as writer:
                for summary in hparams(settings, {f'test/{k}': v for k, v in values.items()}):
                    writer.file_writer.add_summary(summary)
                for key, value in values.items():
                    writer.add_scalar(f'test/{key}', value, 0)
            written.append(path)
    with SummaryWriter(osp.join(log_dir, 'report')) as writer:
        for path in report_files(comparison):
            if path.endswith('.md'):
                with open(path) as f:
                    writer.add_text('summary', f.read(), 0)
            elif path.endswith('.png'):
                with Image.open(path) as image:
                    pixels = np.asarray(image.convert('RGB'))
                writer.add_image(osp.splitext(osp.basename(path))[0], pixels, 0,
                                 dataformats='HWC')
    return f'{len(written)} settings and the report in {os.path.abspath(log_dir)}'


def log_lines(outcome: Dict[str, str]) -> List[Tuple[bool, str]]:
    """(failed, line) per target of :func:`log_comparison`, for a console."""
    return [(text.startswith('failed: '), f'--log-to {target}: {text}')
            for target, text in outcome.items()]
