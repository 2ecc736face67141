"""End to end through the tools: train, test, resume, distributed on CPU, hostile checkpoints.

One short demo training (1 epoch on a subset) is shared by the module; each test
then runs a tool on its output in a subprocess, as a user would.
"""
import csv
import importlib.util
import json
import os
import sys
from pathlib import Path

import mmengine
import numpy as np
import pytest
import torch
from sklearn import metrics as skm

import mmml_ext  # noqa: F401  (the checkpoint allowlist, for torch.load below)

from cli_helpers import DEMO_BCE, REPO, free_port, run_cmd, run_tool
from mmml_ext.run_facts import test_predictions
from mmml_ext.run_facts import tuned_thresholds as thresholds_file

# Small but real: 96 training images (3 iterations), 101 test images, an odd
# number so that 2 processes pad their shares and the padding must be dropped.
SMALL = [
    'train_dataloader.dataset.indices=96',
    'val_dataloader.dataset.indices=32',
    'test_dataloader.dataset.indices=101',
    'train_dataloader.num_workers=0',
    'val_dataloader.num_workers=0',
    'test_dataloader.num_workers=0',
    'default_hooks.logger.interval=1',
]


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def assert_same_metrics(other: dict, single: dict) -> None:
    """Metrics of a test on other processes: ranks and counts exact, score values to 1e-6.

    Two processes run the forward pass over other batches than one process does, and the
    convolution kernels round differently by batch size on some CPUs: on an AMD EPYC one
    score of 2,020 differed by one float32 ulp (6e-8), and ECE read 33.87383555274198
    against 33.87383555569271. The metrics made of ranks and counts (mAP, P / R / F1,
    subset accuracy, ranking metrics) stay exactly equal; those that average the scores
    themselves (ECE, class-wise ECE, Brier) agree to 1e-6. Bitwise equality of every key
    belongs to the evaluation of identical predictions: test_metrics_distributed.py.
    """
    assert set(other) == set(single)
    score_valued = [key for key in single if 'ECE' in key or 'brier' in key]
    assert score_valued  # the demo's test evaluator has the calibration metrics
    for key, value in single.items():
        if key in score_valued:
            assert other[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key
        else:
            assert other[key] == value, key


def assert_same_predictions(other, single) -> None:
    """The same samples in dataset order, the same targets and label sets, scores to 1e-5."""
    np.testing.assert_array_equal(other.sample_idx, np.arange(len(single.sample_idx)))
    np.testing.assert_array_equal(other.target, single.target)
    np.testing.assert_allclose(other.scores, single.scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(other.scores >= 0.5, single.scores >= 0.5)  # counts exact


def load_tool(name: str):
    """``tools/<name>.py`` as a module, without running its ``main``."""
    spec = importlib.util.spec_from_file_location(f'tool_{name}', REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_tools_take_mmpretrain_flags(monkeypatch):
    train, test = load_tool('train'), load_tool('test')
    monkeypatch.setattr(sys, 'argv', [
        'train.py', 'cfg.py', '--work-dir', 'w', '--resume', '--amp', '--auto-scale-lr',
        '--cfg-options', 'train_cfg.max_epochs=3', 'a.b=x,y', '--launcher', 'pytorch',
        '--local-rank', '1'])
    args = train.parse_args()
    assert (args.config, args.work_dir, args.resume, args.amp) == ('cfg.py', 'w', 'auto', True)
    assert args.auto_scale_lr and args.launcher == 'pytorch' and args.local_rank == 1
    assert args.cfg_options == {'train_cfg.max_epochs': 3, 'a.b': ['x', 'y']}
    monkeypatch.setattr(sys, 'argv', ['train.py', 'cfg.py', '--resume', 'epoch_2.pth'])
    assert train.parse_args().resume == 'epoch_2.pth'
    monkeypatch.setattr(sys, 'argv', ['test.py', 'cfg.py', 'ckpt.pth', '--out', 'm.json',
                                      '--out-item', 'metrics', '--data-root', 'd'])
    args = test.parse_args()
    assert (args.checkpoint, args.out, args.out_item, args.data_root) == (
        'ckpt.pth', 'm.json', 'metrics', 'd')
    monkeypatch.setattr(sys, 'argv', ['test.py', 'cfg.py', 'ckpt.pth', '--out-item', 'pred'])
    with pytest.raises(SystemExit):  # --out-item without --out
        test.parse_args()


@pytest.fixture(scope='module')
def trained(tmp_path_factory) -> Path:
    """Work dir of a 1-epoch demo training, validated (thresholds tuned) at epoch 1."""
    work_dir = tmp_path_factory.mktemp('train')
    run_tool('train.py', DEMO_BCE, '--work-dir', work_dir, '--cfg-options',
             'train_cfg.max_epochs=1', 'train_cfg.val_interval=1', *SMALL)
    return work_dir


@pytest.fixture(scope='module')
def single_process_dir(trained, tmp_path_factory) -> Path:
    """Work dir of a one-process test of the trained checkpoint (its metrics.json)."""
    out = tmp_path_factory.mktemp('test1') / 'metrics.json'
    proc = run_tool('test.py', DEMO_BCE, trained / 'epoch_1.pth', '--work-dir', out.parent,
                    '--out', out, '--out-item', 'metrics', '--cfg-options', *SMALL)
    assert 'multi-label/mAP' in proc.stdout  # the printed table
    return out.parent


@pytest.fixture(scope='module')
def single_process_metrics(single_process_dir) -> dict:
    return read_json(single_process_dir / 'metrics.json')


def test_training_writes_a_checkpoint_with_its_state(trained):
    assert (trained / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')
    ckpt = torch.load(trained / 'epoch_1.pth', map_location='cpu')  # weights_only by default
    assert ckpt['meta']['epoch'] == 1 and ckpt['meta']['iter'] == 3
    assert ckpt['meta']['dataset_meta']['train_class_counts'][0] == 400


def test_test_tool_tests_at_the_thresholds_of_its_checkpoint_from_any_directory(
        trained, single_process_metrics, tmp_path):
    tuned = thresholds_file.from_checkpoint(torch.load(trained / 'epoch_1.pth'))
    assert tuned is not None and tuned.tuned_on == 'val_epoch_1'
    out = tmp_path / 'predictions.pkl'
    proc = run_cmd([sys.executable, REPO / 'tools' / 'test.py', REPO / DEMO_BCE,
                    trained / 'epoch_1.pth', '--work-dir', 'w', '--out', out, '--cfg-options',
                    *SMALL], cwd=tmp_path)
    assert 'multi-label/CF1_valtuned' in proc.stdout
    samples = mmengine.load(out)
    scores = np.stack([s['pred_score'].numpy() for s in samples])
    target = np.zeros(scores.shape, dtype=int)
    for i, s in enumerate(samples):
        target[i, s['gt_label'].numpy()] = 1
    pred = (scores >= tuned.values().numpy()).astype(int)
    p = skm.precision_score(target, pred, average='macro', zero_division=0)
    r = skm.recall_score(target, pred, average='macro', zero_division=0)
    metrics = single_process_metrics  # the same checkpoint, tested from the repository root
    assert metrics['multi-label/CP_valtuned'] == pytest.approx(100 * p, abs=1e-4)
    assert metrics['multi-label/CF1_valtuned'] == pytest.approx(200 * p * r / (p + r), abs=1e-4)
    assert metrics['multi-label/OF1_valtuned'] == pytest.approx(
        100 * skm.f1_score(target, pred, average='micro'), abs=1e-4)
    assert metrics['multi-label/CF1_valtuned'] != metrics['multi-label/CF1']


def test_testing_a_checkpoint_builds_no_training_set(trained, single_process_metrics, tmp_path):
    """A test takes the weights' epoch and iteration from the checkpoint, and the class
    statistics and thresholds too: a training set that cannot be built (a machine with only the
    test split) changes nothing, and nothing tries to build it."""
    out = tmp_path / 'metrics.json'
    proc = run_tool('test.py', DEMO_BCE, trained / 'epoch_1.pth', '--work-dir', tmp_path, '--out',
                    out, '--out-item', 'metrics', '--cfg-options', *SMALL,
                    'train_dataloader.dataset.type=NoTrainingSetHere')
    log = proc.stdout + proc.stderr
    assert log.count('NoTrainingSetHere') == 1  # in the printed config only: never built
    assert 'cannot be counted' not in log and 'not in the dataset registry' not in log.lower()
    assert_same_metrics(read_json(out), single_process_metrics)
    assert (tmp_path / 'per_class' / 'test.json').is_file()


def test_test_tool_reports_metrics(single_process_metrics):
    metrics = single_process_metrics
    assert set(metrics) >= {'multi-label/mAP', 'multi-label/CF1', 'multi-label/OF1_top3',
                            'multi-label/subset_accuracy', 'multi-label/lrap'}
    assert all(0 <= value <= 100 for value in metrics.values())


def test_two_cpu_processes_give_the_same_metrics(trained, single_process_dir,
                                                 single_process_metrics, tmp_path):
    out = tmp_path / 'metrics.json'
    proc = run_tool('dist_test.sh', DEMO_BCE, trained / 'epoch_1.pth', 2, '--work-dir', tmp_path,
                    '--out', out, '--out-item', 'metrics', '--cfg-options', *SMALL,
                    env=dict(PORT=str(free_port())))
    assert "backend='gloo'" in proc.stdout + proc.stderr
    assert (proc.stdout + proc.stderr).count('test predictions written to') == 1
    assert_same_metrics(read_json(out), single_process_metrics)
    # the predictions are written once, in dataset order, by one process: as one process does
    two = test_predictions.read(test_predictions.path_in(str(tmp_path)))
    one = test_predictions.read(test_predictions.path_in(str(single_process_dir)))
    assert len(one.sample_idx) == 101
    assert_same_predictions(two, one)


def test_resume_continues_from_the_checkpoint(trained, tmp_path):
    proc = run_tool('train.py', DEMO_BCE, '--work-dir', tmp_path, '--resume',
                    trained / 'epoch_1.pth', '--cfg-options', 'train_cfg.max_epochs=2', *SMALL)
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 1, iter: 3' in log
    assert 'Epoch(train) [1]' not in log and 'Epoch(train) [2][3/3]' in log
    ckpt = torch.load(tmp_path / 'epoch_2.pth', map_location='cpu')
    assert ckpt['meta']['epoch'] == 2 and ckpt['meta']['iter'] == 6


def test_auto_resume_finds_the_latest_checkpoint(trained, tmp_path):
    for name in ('epoch_1.pth', 'last_checkpoint'):
        text = (trained / name).read_bytes()
        if name == 'last_checkpoint':
            text = str(tmp_path / 'epoch_1.pth').encode()
        (tmp_path / name).write_bytes(text)
    proc = run_tool('train.py', DEMO_BCE, '--work-dir', tmp_path, '--resume', '--no-validate',
                    '--cfg-options', 'train_cfg.max_epochs=2', *SMALL)
    assert 'resumed epoch: 1, iter: 3' in proc.stdout + proc.stderr


def test_mmpretrain_own_test_tool_loads_the_checkpoint(trained, tmp_path):
    """The allowlist comes with the config's custom_imports, not only with our tools."""
    import mmpretrain
    tool = Path(mmpretrain.__file__).parent / '.mim' / 'tools' / 'test.py'
    if not tool.exists():
        pytest.fail(f'mmpretrain ships no {tool}; the check needs its tools/test.py')
    proc = run_cmd([sys.executable, tool, DEMO_BCE, trained / 'epoch_1.pth', '--work-dir',
                    tmp_path, '--cfg-options', *SMALL], env=dict(PYTHONPATH=''))
    assert 'Epoch(test)' in proc.stdout + proc.stderr


def test_load_from_a_checkpoint(trained, tmp_path):
    proc = run_tool('train.py', DEMO_BCE, '--work-dir', tmp_path, '--no-validate',
                    '--cfg-options', f'load_from={trained / "epoch_1.pth"}',
                    'train_cfg.max_epochs=1', *SMALL)
    assert 'Load checkpoint from' in proc.stdout + proc.stderr


def test_hostile_checkpoint_is_refused_by_the_test_tool(trained, tmp_path):
    from test_checkpoint_safety import WritesMarker
    marker = tmp_path / 'ran'
    ckpt = torch.load(trained / 'epoch_1.pth', map_location='cpu')
    ckpt['meta']['payload'] = WritesMarker(marker)
    torch.save(ckpt, tmp_path / 'hostile.pth')
    proc = run_tool('test.py', DEMO_BCE, tmp_path / 'hostile.pth', '--work-dir', tmp_path,
                    '--cfg-options', *SMALL, check=False)
    assert proc.returncode != 0
    assert 'UnsafeCheckpointError' in proc.stderr
    assert f"'{os.system.__module__}.system'" in proc.stderr
    assert not marker.exists()


def test_two_process_training_on_cpu(trained, tmp_path):
    proc = run_tool('dist_train.sh', DEMO_BCE, 2, '--work-dir', tmp_path, '--no-validate',
                    '--cfg-options', 'train_cfg.max_epochs=1', *SMALL,
                    env=dict(PORT=str(free_port())))
    log = proc.stdout + proc.stderr
    assert 'MMDistributedDataParallel' in log and 'Distributed training: True' in log
    # 96 images over 2 processes of 32 per batch: 2 iterations each
    assert 'Epoch(train) [1][2/2]' in log
    # the checkpoint holds the model's own weights (no DDP wrapper), as one process writes it:
    # testing it on 2 processes is test_two_cpu_processes_give_the_same_metrics
    two = torch.load(tmp_path / 'epoch_1.pth', map_location='cpu')
    one = torch.load(trained / 'epoch_1.pth', map_location='cpu')
    assert two['state_dict'].keys() == one['state_dict'].keys()
    assert two['meta']['epoch'] == 1 and two['meta']['iter'] == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the message given without CUDA')
def test_amp_without_cuda_is_a_clear_error(tmp_path):
    proc = run_tool('train.py', DEMO_BCE, '--amp', '--work-dir', tmp_path, check=False)
    assert proc.returncode != 0 and '--amp needs a CUDA device' in proc.stderr


FAKE_SRUN = '''#!{python}
"""Stand-in for slurm's srun: start --ntasks copies of the command with slurm's variables."""
import argparse, os, subprocess, sys
parser = argparse.ArgumentParser()
for flag in ('-p', '--job-name', '--gres', '--ntasks-per-node', '--cpus-per-task',
             '--kill-on-bad-exit'):
    parser.add_argument(flag)
parser.add_argument('--ntasks', type=int)
parser.add_argument('command', nargs=argparse.REMAINDER)
args = parser.parse_args()
with open(os.environ['SRUN_LOG'], 'w') as log:
    log.write(' '.join(sys.argv[1:]))
procs = [subprocess.Popen(args.command, env=dict(
    os.environ, SLURM_PROCID=str(rank), SLURM_LOCALID=str(rank), SLURM_NTASKS=str(args.ntasks),
    SLURM_NODELIST='localhost')) for rank in range(args.ntasks)]
sys.exit(max(proc.wait() for proc in procs))
'''


def test_slurm_test_on_cpu_nodes(trained, single_process_metrics, tmp_path):
    """slurm_test.sh with GPUS_PER_NODE=0 runs its tasks on the CPU with gloo."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text(FAKE_SRUN.format(python=sys.executable))
    srun.chmod(0o755)
    out = tmp_path / 'metrics.json'
    run_tool('slurm_test.sh', 'cpu', 'job', DEMO_BCE, trained / 'epoch_1.pth', '--work-dir',
             tmp_path, '--out', out, '--out-item', 'metrics', '--cfg-options', *SMALL,
             env=dict(PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}', GPUS='2',
                      GPUS_PER_NODE='0', MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port()),
                      SRUN_LOG=str(tmp_path / 'srun.log')))
    srun_args = (tmp_path / 'srun.log').read_text()
    assert '--ntasks=2' in srun_args and '--ntasks-per-node=2' in srun_args
    assert '--gres' not in srun_args and srun_args.endswith('--launcher=slurm')
    assert_same_metrics(read_json(out), single_process_metrics)


def test_statistics_start_from_the_numbers_the_test_logged(single_process_dir,
                                                           single_process_metrics):
    from mmml_ext.experiments import read_run
    from mmml_ext.experiments.statistics import compare_statistics
    stats = compare_statistics([read_run(str(single_process_dir))], num_replicates=20)
    point = {metric: value[0] for metric, value in stats.runs[single_process_dir.name].items()}
    logged = {'mAP': 'mAP', 'mAP_medium': 'mAP_medium', 'mAP_tail': 'mAP_tail', 'CF1': 'CF1',
              'OF1': 'OF1', 'CF1_tuned': 'CF1_valtuned', 'OF1_tuned': 'OF1_valtuned',
              'subset_accuracy': 'subset_accuracy', 'ECE': 'ECE'}
    # the groups the test logged, and sample mAP, which the stored scores give whether or
    # not the test logged it (the demo's test does not)
    assert 'multi-label/sample_mAP' not in single_process_metrics
    assert set(point) == {m for m, k in logged.items()
                          if f'multi-label/{k}' in single_process_metrics} | {'sample_mAP'}
    assert len(point) >= 9
    for ours in set(point) - {'sample_mAP'}:
        key = logged[ours]
        assert point[ours] == pytest.approx(single_process_metrics[f'multi-label/{key}'],
                                            abs=1e-3), ours


def test_the_inferencer_gives_the_label_sets_of_the_tested_scores(trained, single_process_dir,
                                                                  tmp_path):
    """New images through MultiLabelInferencer: the scores tools/test.py scored for the same
    images, and each label set the classes at or above the checkpoint's tuned thresholds."""
    import mmcv

    from mmml_ext.apis import MultiLabelInferencer
    from mmml_ext.datasets import LongTailedShapes
    test_set = LongTailedShapes(split='test', pipeline=[])
    paths = []
    for index in range(7):
        paths.append(str(tmp_path / f'{index:02d}.png'))
        mmcv.imwrite(test_set[index]['img'], paths[-1])  # PNG: the same pixels back
    inferencer = MultiLabelInferencer(str(REPO / DEMO_BCE), str(trained / 'epoch_1.pth'),
                                      device='cpu', calibrated=False)
    results = inferencer(paths, batch_size=3)
    tested = test_predictions.read(str(single_process_dir / test_predictions.FILE_NAME))
    rows = {int(i): r for r, i in enumerate(tested.sample_idx)}
    expected_scores = tested.scores[[rows[i] for i in range(7)]]
    np.testing.assert_allclose(np.stack([r['pred_scores'] for r in results]), expected_scores,
                               atol=1e-5)
    thresholds = thresholds_file.from_checkpoint(torch.load(trained / 'epoch_1.pth')).values()
    for result, scores in zip(results, expected_scores):
        chosen = np.flatnonzero(scores >= thresholds.numpy())
        assert sorted(result['pred_labels']) == sorted(chosen.tolist())
        assert result['pred_classes'] == [test_set.metainfo['classes'][c]
                                          for c in result['pred_labels']]
        assert result['rule'] == 'tuned thresholds (val_epoch_1)'
    assert [r['pred_labels'] for r in inferencer(str(tmp_path))] == \
        [r['pred_labels'] for r in results]  # a folder, in name order
    # tools/predict.py reads the files in worker processes: the same scores
    out = tmp_path / 'labels.csv'
    run_tool('predict.py', DEMO_BCE, trained / 'epoch_1.pth', tmp_path, '--out', out,
             '--all-scores', '--num-workers', '2', '--raw-scores')
    with open(out) as f:
        rows = list(csv.DictReader(f))
    names = test_set.metainfo['classes']
    np.testing.assert_allclose([[float(row[n]) for n in names] for row in rows],
                               expected_scores, atol=1e-5)
    # by default, through the temperature scaling fitted at the validation of those weights
    tuned = thresholds_file.from_checkpoint(torch.load(trained / 'epoch_1.pth'))
    assert tuned.calibrated
    calibrated = MultiLabelInferencer(str(REPO / DEMO_BCE), str(trained / 'epoch_1.pth'))(paths)
    p = np.clip(expected_scores.astype(np.float64), 1e-7, 1 - 1e-7)
    a = tuned.inverse_temperatures().numpy()
    np.testing.assert_allclose([r['pred_scores'] for r in calibrated],
                               1 / (1 + (p / (1 - p)) ** -a), atol=1e-5)
