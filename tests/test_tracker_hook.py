"""TrackerHook: per-class values, test metrics and run settings, read back with each tracker's
own reader (TensorBoard's event accumulator, MLflow's client on a local file store)."""
import copy
import json
import logging
from types import SimpleNamespace

import pytest
from mmengine.config import Config

from cli_helpers import run_tool
from mmml_ext.engine import TrackerHook, tracker_hook
from mmml_ext.run_facts import TunedThresholds, eval_outputs
from mmml_ext.run_facts import sweep_state
from mmml_ext.run_facts import tuned_thresholds as thresholds_file

CLASSES = ('solid disc', 'ring', 'tri/angle')
REPORT = [dict(class_name='solid disc', ap=81.5, f1=60.0, auroc=90.0, train_count=400),
          dict(class_name='ring', ap=40.25, f1=12.5, auroc=70.5, train_count=60),
          dict(class_name='tri/angle', ap=None, f1=0.0, auroc=None,  # no positive: no AP
               train_count=5)]
CFG = Config(dict(
    model=dict(head=dict(loss=dict(type='MultiLabelAsymmetricLoss', gamma_neg=4, clip=0.05))),
    train_dataloader=dict(sampler=dict(type='ClassAwareSampler'),
                          dataset=dict(type='LongTailedShapes')),
    randomness=dict(seed=3)))


class FakeRunner:
    """What the hook reads of a Runner: work dir, visualizer backends, config, step."""

    def __init__(self, work_dir, backends, epoch=2, cfg=CFG):
        self.work_dir = str(work_dir)
        self.visualizer = SimpleNamespace(_vis_backends=backends)
        self.cfg = cfg
        self.epoch, self.iter = epoch, 50 * epoch
        self.train_loop = object()  # an epoch-based loop


def a_validated_run(work_dir, epoch=2, rows=REPORT, thresholds=(0.3, 0.55, None)):
    tag = eval_outputs.eval_tag('val', True, epoch)
    eval_outputs.write_report(str(work_dir), tag, dict(thr=0.5), rows)
    classes = tuple(row['class_name'] for row in rows)
    thresholds_file.write(TunedThresholds(0.4, thresholds, classes, tag), str(work_dir))


def run_the_hook(runner, hook=None):
    hook = hook or TrackerHook()
    hook.before_run(runner)
    a_validated_run(runner.work_dir, runner.epoch)
    hook.after_val_epoch(runner, {'multi-label/mAP': 60.0})
    # a test of epoch 6's weights
    eval_outputs.write_report(runner.work_dir, 'test', dict(thr=0.5), REPORT)
    hook.after_load_checkpoint(runner, dict(meta=dict(epoch=6, iter=300)))
    hook.after_test_epoch(runner, {'multi-label/mAP': 58.5, 'multi-label/CF1': 41.0})
    return hook


EXPECTED_VAL = {'per_class/AP/solid disc': 81.5, 'per_class/AP/ring': 40.25,
                'per_class/F1/solid disc': 60.0, 'per_class/F1/ring': 12.5,
                'per_class/F1/tri_angle': 0.0, 'per_class/threshold/solid disc': 0.3,
                'per_class/threshold/ring': 0.55, 'per_class/AUROC/solid disc': 90.0,
                'per_class/AUROC/ring': 70.5}
#: sent once, at step 0, though the run writes two reports
EXPECTED_COUNTS = {'per_class/train_count/solid disc': 400.0, 'per_class/train_count/ring': 60.0,
                   'per_class/train_count/tri_angle': 5.0}
EXPECTED_TEST = {'test/multi-label/mAP': 58.5, 'test/multi-label/CF1': 41.0,
                 'test/per_class/AP/ring': 40.25}


def test_tensorboard_reads_back_per_class_test_and_settings(tmp_path):
    pytest.importorskip('tensorboard')
    from mmengine.visualization import TensorboardVisBackend
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    backend = TensorboardVisBackend(save_dir=str(tmp_path / 'vis'))
    run_the_hook(FakeRunner(tmp_path, dict(tb=backend)))
    backend.close()
    events = EventAccumulator(str(tmp_path / 'vis'))
    events.Reload()
    for tag, value in EXPECTED_VAL.items():
        [scalar] = events.Scalars(tag)
        assert (scalar.step, scalar.value) == (2, pytest.approx(value))
    assert 'per_class/AP/tri_angle' not in events.Tags()['scalars']
    for tag, value in EXPECTED_TEST.items():
        [scalar] = events.Scalars(tag)
        assert (scalar.step, scalar.value) == (6, pytest.approx(value))  # the checkpoint's epoch
    for tag, value in EXPECTED_COUNTS.items():
        [scalar] = events.Scalars(tag)
        assert (scalar.step, scalar.value) == (0, value)
    assert 'test/per_class/train_count/ring' not in events.Tags()['scalars']
    content = events.PluginTagToContent('hparams')
    start = plugin_data_pb2.HParamsPluginData.FromString(
        content['_hparams_/session_start_info']).session_start_info
    hparams = {key: value.string_value for key, value in start.hparams.items()}
    assert hparams['loss'] == 'MultiLabelAsymmetricLoss'
    assert json.loads(hparams['loss_args']) == dict(gamma_neg=4, clip=0.05)
    assert (hparams['sampler'], hparams['dataset'], hparams['seed']) == (
        'ClassAwareSampler', 'LongTailedShapes', '3')
    assert hparams['run'] == tmp_path.name  # the work dir's name: the comparison's key


def test_mlflow_reads_back_per_class_test_and_settings(tmp_path, monkeypatch):
    pytest.importorskip('mlflow')
    # mmengine's MLflowVisBackend defaults to a local file store, which MLflow 3 keeps only
    # on request (docs/trackers.md says so)
    monkeypatch.setenv('MLFLOW_ALLOW_FILE_STORE', 'true')
    from mlflow.tracking import MlflowClient
    from mmengine.visualization import MLflowVisBackend

    (tmp_path / sweep_state.FILE_NAME).write_text(json.dumps(dict(
        name='asl_seed-1', setting='asl', seed=1, grid={'model.head.loss.gamma_neg': 4})))
    backend = MLflowVisBackend(save_dir=str(tmp_path / 'mlruns'), exp_name='study')
    (tmp_path / 'artifacts').mkdir()
    backend.add_config(Config(dict(work_dir=str(tmp_path / 'artifacts'))))  # as the Runner does
    swept = copy.deepcopy(CFG)
    swept.merge_from_dict({'randomness.seed': 1})  # the sweep's --cfg-options randomness.seed=1
    run_the_hook(FakeRunner(tmp_path, dict(mlflow=backend), cfg=swept))
    backend.close()
    client = MlflowClient(tracking_uri=(tmp_path / 'mlruns').as_uri())
    [run] = client.search_runs([client.get_experiment_by_name('study').experiment_id])
    params = run.data.params
    assert params['mmml_ext.loss'] == 'MultiLabelAsymmetricLoss'
    assert params['mmml_ext.seed'] == '1'  # the sweep's seed, as the config has it
    assert params['mmml_ext.grid/model.head.loss.gamma_neg'] == '4'
    assert params['mmml_ext.run'] == tmp_path.name
    for key, value in {**EXPECTED_VAL, **EXPECTED_TEST, **EXPECTED_COUNTS}.items():
        [point] = client.get_metric_history(run.info.run_id, key)
        step = 6 if key.startswith('test/') else 0 if key in EXPECTED_COUNTS else 2
        assert (point.step, point.value) == (step, pytest.approx(value))


class Failing:
    """A tracker whose store is gone."""

    def __init__(self):
        self.calls = 0

    def add_scalars(self, *args, **kwargs):
        self.calls += 1
        raise OSError('the store is gone')


class Recording:
    def __init__(self):
        self.scalars = []

    def add_scalars(self, scalars, step=0):
        self.scalars.append((dict(scalars), step))


def test_a_failing_tracker_is_named_once_and_the_others_go_on(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(tracker_hook, 'print_log',
                        lambda message, logger, level: logged.append((message, level)))
    failing, recording = Failing(), Recording()
    runner = FakeRunner(tmp_path, dict(broken=failing, fine=recording))
    hook = TrackerHook(run_settings=False)
    run_the_hook(runner, hook)
    hook.after_val_epoch(runner)  # again: not retried
    assert failing.calls == 3  # once each: per-class values, class counts, test metrics
    warnings = [message for message, level in logged if level == logging.WARNING]
    assert len(warnings) == 3 and all('Failing (broken)' in w and 'the store is gone' in w
                                      for w in warnings)
    assert [step for _, step in recording.scalars] == [2, 0, 6, 6, 2]  # counts once, at 0


def test_no_per_class_values_above_max_classes_and_local_files_left_alone(tmp_path):
    from mmengine.visualization import LocalVisBackend
    recording, local = Recording(), LocalVisBackend(save_dir=str(tmp_path / 'vis'))
    runner = FakeRunner(tmp_path, dict(fine=recording, local=local))
    rows = [dict(class_name=f'c{c}', ap=50.0, f1=50.0) for c in range(5)]
    a_validated_run(tmp_path, rows=rows, thresholds=(0.5, ) * 5)
    TrackerHook(max_classes=4).after_val_epoch(runner)
    assert recording.scalars == []
    TrackerHook(max_classes=5).after_val_epoch(runner)
    assert len(recording.scalars[0][0]) == 15  # AP, F1 and threshold of 5 classes
    assert not (tmp_path / 'vis' / 'scalars.json').exists()


@pytest.mark.parametrize('bad', [-1, 2.5, True])
def test_a_bad_max_classes_is_named(bad):
    with pytest.raises(ValueError, match='max_classes'):
        TrackerHook(max_classes=bad)


def test_the_tensorboard_demo_shows_per_class_ap_test_metrics_and_the_loss(tmp_path):
    """tools/train.py then tools/test.py on the demo config with the TensorBoard line."""
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = 'configs/demo/resnet18_shapes-lt_bce_tensorboard.py'
    small = ['train_dataloader.dataset.indices=64', 'val_dataloader.dataset.indices=32',
             'test_dataloader.dataset.indices=32', 'train_cfg.max_epochs=1']
    run_tool('train.py', config, '--work-dir', tmp_path, '--cfg-options', *small)
    run_tool('test.py', config, tmp_path / 'epoch_1.pth', '--work-dir', tmp_path,
             '--cfg-options', *small)
    scalars, hparams = {}, {}
    for events_file in tmp_path.glob('*/vis_data/events.out.tfevents.*'):
        events = EventAccumulator(str(events_file))
        events.Reload()
        for tag in events.Tags()['scalars']:
            scalars[tag] = [(s.step, s.value) for s in events.Scalars(tag)]
        try:  # the training run's file has them, the test's has none
            hparams.update(events.PluginTagToContent('hparams'))
        except KeyError:
            pass
    report = eval_outputs.read_report(eval_outputs.report_paths(str(tmp_path),
                                                                'val_epoch_1')['json'])
    first = report['classes'][0]
    assert scalars[f"per_class/AP/{first['class_name']}"] == [(1, pytest.approx(first['ap']))]
    test_report = eval_outputs.read_report(eval_outputs.report_paths(str(tmp_path),
                                                                     'test')['json'])
    test_first = test_report['classes'][0]
    assert scalars[f"test/per_class/AP/{test_first['class_name']}"] == [
        (1, pytest.approx(test_first['ap']))]
    assert scalars['test/multi-label/mAP'][0][0] == 1
    assert '_hparams_/session_start_info' in hparams
