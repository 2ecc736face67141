"""Read what one training run left in its work dir, for comparing runs.

A run dir written by ``tools/train.py`` (and ``tools/test.py``) holds the
dumped config, mmengine's scalar logs (``<timestamp>/vis_data/scalars.json``:
training loss per logging step, validation metrics per evaluation), the test
metrics (``<timestamp>/<timestamp>.json``), the per-class reports of
``MeanAP`` (:mod:`mmml_ext.run_facts.eval_outputs`: ``per_class/<tag>.json``
of every validation, by epoch or by iteration, and of the test). Any of them may be
missing (a run without test, older metrics, a run still going): the record
then says what it lacks instead of failing.
"""
import glob
import json
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from mmengine.config import Config

from ..evaluation.ap_metrics import DEFAULT_GROUP_BOUNDS
from ..run_facts import eval_outputs, sweep_state
from .grid import SEED_SUFFIX

#: mmengine's directory of one run's logs: <work_dir>/<YYYYmmdd_HHMMSS>/
_STAMP = re.compile(r'^\d{8}_\d{6}$')


@dataclass
class RunRecord:
    """The logged results of one run.

    Attributes:
        name (str): The run dir's name.
        work_dir (str): Its path.
        config (Config, optional): The dumped config.
        val (dict): Epoch -> {metric key: value} of every validation.
        train_loss (list): (epoch, iteration, loss) of every logged step.
        test (dict): {metric key: value} of the latest test, if any.
        per_class (list): The rows (class_name, train_count, ap, ...) of the
            test's per-class report, else the last validation's (by epoch or
            by iteration).
        per_class_source (str): Which report that is (``test``, ``val_epoch_6``,
            ``val_iter_500``).
        seed (int, optional): The training seed a sweep gave the run.
        setting (str): The run's setting: the runs of one setting differ only
            by their seed. From the sweep's state file; the run's name otherwise.
        notes (list[str]): What could not be read.
    """
    name: str
    work_dir: str
    config: Optional[Config] = None
    val: Dict[int, Dict[str, float]] = field(default_factory=dict)
    train_loss: List[tuple] = field(default_factory=list)
    test: Dict[str, float] = field(default_factory=dict)
    per_class: List[Dict[str, Any]] = field(default_factory=list)
    per_class_source: str = ''
    notes: List[str] = field(default_factory=list)
    seed: Optional[int] = None
    setting: str = ''
    #: metric -> (point, low, high) of the test's bootstrap intervals, when computed
    intervals: Dict[str, Tuple[float, float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.setting:  # a run of its own is a setting of one seed
            self.setting = self.name

    def final_values(self) -> Tuple[Dict[str, float], str]:
        """(metrics, split) of the run's final numbers: its test, else its last validation."""
        if self.test:
            return self.test, 'test'
        return (self.val[max(self.val)], 'val') if self.val else ({}, 'val')


def config_group_bounds(cfg: Optional[Config]) -> Optional[Tuple[float, float]]:
    """``group_bounds`` of the config's ``MeanAP`` (test evaluator first, its default where
    unset), or None when the config has no ``MeanAP``."""
    for key in ('test_evaluator', 'val_evaluator'):
        evaluators = (cfg.get(key) if cfg is not None else None) or []
        for metric in [evaluators] if isinstance(evaluators, dict) else evaluators:
            if isinstance(metric, dict) and str(metric.get('type', '')).endswith('MeanAP'):
                return tuple(metric.get('group_bounds', DEFAULT_GROUP_BOUNDS))
    return None


def is_run_dir(path: str) -> bool:
    """Whether ``path`` looks like a work dir of a training or test run."""
    return osp.isdir(path) and (osp.isfile(sweep_state.path_in(path))
                                or any(_STAMP.match(d) for d in _listdir(path)))


def read_run(work_dir: str) -> RunRecord:
    """Read a run dir; what is missing goes to ``notes``."""
    record = RunRecord(osp.basename(osp.normpath(work_dir)), work_dir)
    _read_sweep_state(work_dir, record)
    record.config = _read_config(work_dir, record.notes)
    for stamp in sorted(d for d in _listdir(work_dir) if _STAMP.match(d)):
        scalars = osp.join(work_dir, stamp, 'vis_data', 'scalars.json')
        if osp.isfile(scalars):
            _read_scalars(scalars, record)
        test_log = osp.join(work_dir, stamp, f'{stamp}.json')
        if osp.isfile(test_log):  # written by test runs only
            lines = _json_lines(test_log, record.notes)
            if lines:
                record.test = _metric_items(lines[-1])
    _read_per_class(work_dir, record)
    if not record.val:
        record.notes.append('no validation metrics')
    if not record.test:
        record.notes.append('no test metrics')
    return record


def _listdir(path: str) -> List[str]:
    try:
        return sorted(osp.basename(p) for p in glob.glob(osp.join(path, '*')))
    except OSError:
        return []


def _read_sweep_state(work_dir: str, record: RunRecord) -> None:
    """The seed and setting the sweep recorded for the run (never guessed from its name)."""
    if not osp.isfile(sweep_state.path_in(work_dir)):
        return
    state = sweep_state.read(work_dir)
    record.seed = state.get('seed')
    suffix = f'{SEED_SUFFIX}{record.seed}'
    if state.get('setting'):
        record.setting = state['setting']
    elif record.seed is not None and record.name.endswith(suffix):  # state files before 'setting'
        record.setting = record.name[:-len(suffix)]


def _read_config(work_dir: str, notes: List[str]) -> Optional[Config]:
    candidates = []
    if osp.isfile(sweep_state.path_in(work_dir)):
        config = sweep_state.read(work_dir).get('config', '')
        candidates.append(osp.join(work_dir, osp.basename(config)))
    candidates += sorted(glob.glob(osp.join(work_dir, '*.py')))
    candidates += sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'config.py')))[::-1]
    for path in candidates:
        if osp.isfile(path):
            try:
                return Config.fromfile(path)
            except Exception as error:  # a config of a plugin not installed here, ...
                notes.append(f'config {path} unreadable ({type(error).__name__}: {error})')
                return None
    notes.append('no dumped config')
    return None


def _json_lines(path: str, notes: List[str]) -> List[dict]:
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:  # a run killed while writing
                    notes.append(f'{path}:{number} is not JSON; skipped')
    return rows


def _metric_items(row: dict) -> Dict[str, float]:
    """The metric entries of a log row: keys with a prefix (``multi-label/mAP``)."""
    return {k: float(v) for k, v in row.items() if '/' in k and isinstance(v, (int, float))}


def _read_scalars(path: str, record: RunRecord) -> None:
    for row in _json_lines(path, record.notes):
        metrics = _metric_items(row)
        if metrics and 'step' in row:
            # a resumed run logs its evaluations again: the later value wins
            record.val[int(row['step'])] = metrics
        elif 'loss' in row and 'iter' in row:
            record.train_loss.append((row.get('epoch'), int(row['iter']), float(row['loss'])))


def _read_per_class(work_dir: str, record: RunRecord) -> None:
    tag = eval_outputs.final_report(work_dir)
    if tag is None:
        record.notes.append('no per-class report')
        return
    report = eval_outputs.read_report(eval_outputs.list_reports(work_dir)[tag])
    record.per_class = list(report.get('classes', []))
    record.per_class_source = tag
