"""What the plugin knows, in the trackers people watch: per-class results, test metrics, run settings.

mmengine sends the scalars of training and validation to every ``vis_backends`` entry
(TensorBoard, MLflow, W&B) but not the per-class report (a file in the work dir), not
the metrics of ``runner.test()``, and not the run's loss setting in a form a tracker
groups runs by. ``TrackerHook`` adds those three through the Runner's visualizer:

- after each validation and after a test, per-class AP, F1 at the report's threshold,
  AUROC (with a ``MultiLabelAUROC`` in the evaluator) and the threshold tuned for that
  evaluation, as scalars named
  ``per_class/<value>/<class name>`` (one chart per class, grouped by value in both
  TensorBoard and MLflow, whose compare views then overlay runs class by class); off
  above ``max_classes`` classes, which would flood a tracker; the training images of
  each class once, at step 0 (``per_class/train_count/<class name>``);
- after a test, its metrics as ``test/<key>`` at the step of the tested checkpoint;
- when the run starts (training, or ``tools/test.py``'s run of its own), the run
  settings (loss type and arguments, sampler, dataset, seed, a sweep's grid values, the
  run's name) as TensorBoard hparams and MLflow params; other backends get the scalars
  only.

The values come from the files the run already writes (``per_class/<tag>.json``,
``thresholds.json``, ``sweep_run.json``): the hook reads, it computes nothing. The
work dir's own ``scalars.json`` (mmengine's ``LocalVisBackend``) is left alone: it
already has the report beside it. A tracker that fails (not installed, a store that
cannot be written) is named once in a warning and skipped; the run goes on.
"""
import json
import logging
import os.path as osp
from typing import Dict, Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop
from mmpretrain.registry import HOOKS

from ..run_facts import eval_outputs, sweep_state
from ..run_facts.tracker_names import RUN_KEY, param_name, tag_safe
from ..run_facts import tuned_thresholds as thresholds_file

#: backends that get nothing from this hook: the work dir's files already hold it all
_SKIPPED_BACKENDS = ('LocalVisBackend', )


def per_class_scalars(report: dict, thresholds: Optional[list] = None) -> Dict[str, float]:
    """``per_class/AP/<name>``, ``per_class/F1/<name>``, ``per_class/AUROC/<name>`` (with a
    ``MultiLabelAUROC`` in the evaluator) and ``per_class/threshold/<name>``
    of a per-class report (:func:`mmml_ext.run_facts.eval_outputs.read_report`); a class
    without a value (no positive) is left out.

    Examples:
        >>> per_class_scalars(dict(classes=[dict(class_name='cat', ap=80.0, f1=50.0),
        ...                                 dict(class_name='dog', ap=None, f1=0.0)]))
        {'per_class/AP/cat': 80.0, 'per_class/F1/cat': 50.0, 'per_class/F1/dog': 0.0}
    """
    scalars = {}
    rows = report.get('classes') or []
    for c, row in enumerate(rows):
        name = tag_safe(str(row.get('class_name', c)))
        for key, title in (('ap', 'AP'), ('f1', 'F1'), ('auroc', 'AUROC')):
            value = row.get(key)
            if value is not None and value == value:
                scalars[f'per_class/{title}/{name}'] = float(value)
        if thresholds is not None and c < len(thresholds) and thresholds[c] is not None:
            scalars[f'per_class/threshold/{name}'] = float(thresholds[c])
    return scalars


def train_count_scalars(report: dict) -> Dict[str, float]:
    """``per_class/train_count/<name>``: the training images of each class, from a report.

    Examples:
        >>> train_count_scalars(dict(classes=[dict(class_name='cat', train_count=120)]))
        {'per_class/train_count/cat': 120.0}
    """
    return {f'per_class/train_count/{tag_safe(str(row.get("class_name", c)))}':
            float(row['train_count'])
            for c, row in enumerate(report.get('classes') or [])
            if row.get('train_count') is not None}


def run_settings(cfg, work_dir: Optional[str] = None) -> Dict[str, str]:
    """The settings a tracker groups runs by, as strings: the run's name (its work dir's base
    name, by which ``tools/compare.py --log-to`` finds it), loss, sampler, dataset, seed, and
    a sweep's grid values and setting (:mod:`mmml_ext.run_facts.sweep_state`)."""
    def get(path: str):
        value = cfg
        for key in path.split('.'):
            value = value.get(key) if hasattr(value, 'get') else None
            if value is None:
                return None
        return value

    settings = {}
    if work_dir:
        settings[RUN_KEY] = osp.basename(osp.normpath(work_dir))
    loss = get('model.head.loss')
    if loss is not None:
        loss = dict(loss)
        settings['loss'] = str(loss.pop('type', ''))
        settings['loss_args'] = json.dumps(_plain(loss), sort_keys=True)
    for key, path in (('sampler', 'train_dataloader.sampler.type'),
                      ('dataset', 'train_dataloader.dataset.type'),
                      ('seed', 'randomness.seed')):
        value = get(path)
        if value is not None:
            settings[key] = str(value)
    try:  # the seed is the config's: the sweep gives it as randomness.seed
        sweep = sweep_state.read(work_dir) if work_dir else {}
    except (OSError, ValueError):
        sweep = {}
    for key, value in (sweep.get('grid') or {}).items():
        settings[f'grid/{key}'] = str(value)
    if sweep.get('setting'):
        settings['setting'] = str(sweep['setting'])
    return settings


def _plain(value):
    """Config values as JSON can hold them (tuples as lists, the rest as text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


@HOOKS.register_module()
class TrackerHook(Hook):
    """Per-class results, test metrics and run settings to the Runner's ``vis_backends``.

    Args:
        per_class (bool): Per-class AP, F1 and tuned threshold after each validation and
            test. Defaults to True.
        max_classes (int): Above this many classes no per-class value is sent (a tracker
            shows one chart per class); the work dir's report keeps them all.
            Defaults to 200.
        test_metrics (bool): The test's metrics as ``test/<key>``. Defaults to True.
        run_settings (bool): The run settings as hyperparameters. Defaults to True.

    Examples:
        >>> # in a config, beside RunFactsHook (which writes the per-class reports)
        >>> visualizer = dict(type='UniversalVisualizer', vis_backends=[
        ...     dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
        >>> custom_hooks = [dict(type='RunFactsHook'), dict(type='TrackerHook')]
    """

    priority = 'LOW'  # after RunFactsHook and mmengine's LoggerHook

    def __init__(self, per_class: bool = True, max_classes: int = 200,
                 test_metrics: bool = True, run_settings: bool = True) -> None:
        if not isinstance(max_classes, int) or isinstance(max_classes, bool) or max_classes < 0:
            raise ValueError(f'TrackerHook: max_classes must be an int >= 0, got {max_classes!r}')
        self.per_class = per_class
        self.max_classes = max_classes
        self.test_metrics = test_metrics
        self.run_settings = run_settings
        self._failed = set()
        self._said_too_many = False
        self._sent_counts = False
        self._loaded_step = 0

    # --- the Runner's events ----------------------------------------------------------
    def before_run(self, runner) -> None:  # training, or a test of its own
        if self.run_settings:
            settings = run_settings(runner.cfg, runner.work_dir)
            if settings:
                self._send(runner, 'run settings', _hparams, settings)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # the tested weights' step: their epoch, or their iteration for iteration-based runs
        meta = checkpoint.get('meta') or {}
        self._loaded_step = int(meta.get('epoch') or meta.get('iter') or 0)

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        by_epoch = not isinstance(runner.train_loop, IterBasedTrainLoop)
        step = runner.epoch if by_epoch else runner.iter
        if self.per_class:
            tag = eval_outputs.eval_tag('val', by_epoch, runner.epoch, runner.iter)
            self._per_class(runner, tag, step)

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        step = self._loaded_step
        if self.test_metrics and metrics:
            scalars = {f'test/{key}': float(value) for key, value in metrics.items()
                       if isinstance(value, (int, float)) and not isinstance(value, bool)}
            self._send(runner, 'test metrics', _scalars, scalars, step)
        if self.per_class:
            self._per_class(runner, eval_outputs.eval_tag('test'), step, prefix='test/')

    # --- helpers ------------------------------------------------------------------------
    def _per_class(self, runner, tag: str, step: int, prefix: str = '') -> None:
        """Send the per-class values of the evaluation ``tag`` (names under ``prefix``)."""
        path = eval_outputs.report_paths(runner.work_dir, tag)['json']
        if not osp.isfile(path):
            return  # no MeanAP with a report in this evaluator
        report = eval_outputs.read_report(path)
        num_classes = len(report.get('classes') or [])
        if num_classes > self.max_classes:
            if not self._said_too_many:
                self._said_too_many = True
                print_log(f'TrackerHook: {num_classes} classes, more than max_classes='
                          f'{self.max_classes}: no per-class values sent to the trackers (the '
                          f'per-class report is in {osp.dirname(path)})', 'current', logging.INFO)
            return
        thresholds = None
        tuned_path = thresholds_file.path_in(runner.work_dir)
        if osp.isfile(tuned_path):  # thresholds tuned at this very evaluation, if any
            try:
                tuned = thresholds_file.read(tuned_path)
            except (OSError, ValueError):
                tuned = None  # RunFactsHook names a broken file; nothing to add here
            if tuned is not None and tuned.tuned_on == tag:
                thresholds = list(tuned.per_class)
        scalars = {prefix + key: value for key, value in
                   per_class_scalars(report, thresholds).items()}
        self._send(runner, 'per-class values', _scalars, scalars, step)
        if not self._sent_counts:  # the training set's, the same in every report: once
            counts = train_count_scalars(report)
            self._sent_counts = bool(counts)
            self._send(runner, 'training class counts', _scalars, counts, 0)

    def _send(self, runner, what: str, send, *args) -> None:
        """``send(backend, *args)`` for each tracker; a failure is named once and skipped."""
        backends = getattr(runner.visualizer, '_vis_backends', None) or {}
        for name, backend in backends.items():
            kind = type(backend).__name__
            if kind in _SKIPPED_BACKENDS or (name, what) in self._failed:
                continue
            try:
                send(backend, *args)
            except Exception as error:  # a tracker never fails the run
                self._failed.add((name, what))
                print_log(f'TrackerHook: {kind} ({name}) could not take the {what}, which it '
                          f'will not be sent again: {type(error).__name__}: {error}',
                          'current', logging.WARNING)


def _scalars(backend, scalars: Dict[str, float], step: int) -> None:
    if scalars:
        backend.add_scalars(scalars, step=step)


def _hparams(backend, settings: Dict[str, str]) -> None:
    """Settings where each tracker groups runs: TensorBoard hparams, MLflow params (other
    backends get none: the config they log holds the same keys)."""
    kind = type(backend).__name__
    if kind == 'TensorboardVisBackend':
        from torch.utils.tensorboard.summary import hparams
        writer = backend.experiment
        for summary in hparams(settings, {}):
            writer.file_writer.add_summary(summary)
        writer.flush()
    elif kind == 'MLflowVisBackend':
        backend.experiment.log_params({param_name(k): v for k, v in settings.items()})
