"""Sweeps and comparisons: planning, running, resuming after a crash, reading incomplete runs."""
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mmengine.config import Config

from cli_helpers import REPO, run_tool
from mmml_ext.experiments import LaunchOptions, compare_runs, plan_runs, read_run
from mmml_ext.experiments.grid import parse_grid, short_keys, split_values
from mmml_ext.experiments.run_records import RunRecord
from mmml_ext.experiments.summary import describe_run
from mmml_ext.run_facts import eval_outputs

BCE = 'configs/demo/resnet18_shapes-lt_bce.py'
ASL = 'configs/demo/resnet18_shapes-lt_asl.py'
# 96 training images (3 iterations an epoch), 2 epochs, small val / test sets
SMALL = [
    'train_dataloader.dataset.indices=96', 'val_dataloader.dataset.indices=32',
    'test_dataloader.dataset.indices=50', 'train_dataloader.num_workers=0',
    'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0', 'train_cfg.max_epochs=2',
    'train_cfg.val_interval=1', 'default_hooks.logger.interval=1'
]


def read_csv(path: Path) -> list:
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------- planning


def test_grid_values_split_outside_brackets_and_quotes():
    assert split_values('2,4') == ['2', '4']
    assert split_values('[0.1,0.2],[0.3,0.4]') == ['[0.1,0.2]', '[0.3,0.4]']
    assert split_values("'a,b',c") == ["'a,b'", 'c']
    with pytest.raises(ValueError, match='unbalanced'):
        split_values('[1,2')


@pytest.mark.parametrize('items, message', [
    (['model.head.loss.gamma'], 'KEY=V1,V2'),
    (['a.b=1', 'a.b=2'], 'twice'),
    (['a.b=1,,2'], 'empty value'),
    (['a.b=1,1'], 'repeats'),
])
def test_bad_grid_items_are_named(items, message):
    with pytest.raises(ValueError, match=message):
        parse_grid(items)


def test_short_keys_tell_keys_apart():
    keys = ['model.head.loss.gamma', 'model.head.loss.loss.gamma', 'optim_wrapper.optimizer.lr']
    assert short_keys(keys) == {'model.head.loss.gamma': 'head.loss.gamma',
                                'model.head.loss.loss.gamma': 'loss.loss.gamma',
                                'optim_wrapper.optimizer.lr': 'lr'}


def test_plan_is_configs_times_grid_with_names_that_say_the_settings():
    runs = plan_runs([BCE, ASL], ['optim_wrapper.optimizer.lr=1e-3,2e-3',
                                  'model.head.loss.loss_weight=0.5'], ['train_cfg.max_epochs=1'])
    assert [r.name for r in runs] == [
        'resnet18_shapes-lt_bce_lr-1e-3_loss_weight-0.5',
        'resnet18_shapes-lt_bce_lr-2e-3_loss_weight-0.5',
        'resnet18_shapes-lt_asl_lr-1e-3_loss_weight-0.5',
        'resnet18_shapes-lt_asl_lr-2e-3_loss_weight-0.5',
    ]
    assert runs[1].options() == ['train_cfg.max_epochs=1', 'optim_wrapper.optimizer.lr=2e-3',
                                 'model.head.loss.loss_weight=0.5']
    assert plan_runs([BCE])[0].options() == []


def test_plan_refuses_typos_missing_configs_and_name_clashes(tmp_path):
    with pytest.raises(ValueError, match='has no model.hed.loss'):
        plan_runs([ASL], ['model.hed.loss.gamma_neg=2,4'])
    with pytest.raises(FileNotFoundError, match='nope.py'):
        plan_runs(['configs/demo/nope.py'])
    copy = tmp_path / Path(BCE).name
    copy.write_text((REPO / BCE).read_text())
    with pytest.raises(ValueError, match='share the name'):
        plan_runs([BCE, str(copy)])


def test_launch_commands_for_each_launcher():
    spec = plan_runs([BCE], ['train_cfg.max_epochs=3'])[0]
    torchrun = LaunchOptions('pytorch', gpus=2).command('train', spec, 'w/run')
    assert torchrun[:2] == ['bash', str(Path(REPO, 'tools', 'dist_train.sh'))]
    assert torchrun[2:] == [BCE, '2', '--work-dir', 'w/run', '--cfg-options',
                            'train_cfg.max_epochs=3']
    slurm = LaunchOptions('slurm', gpus=8, partition='gpu')
    # the scripts' own signatures: PARTITION JOB CONFIG WORK_DIR / PARTITION JOB CONFIG CKPT
    assert slurm.command('train', spec, 'w/run')[2:] == [
        'gpu', spec.name, BCE, 'w/run', '--cfg-options', 'train_cfg.max_epochs=3']
    assert slurm.command('test', spec, 'w/run', 'c.pth')[2:] == [
        'gpu', spec.name, BCE, 'c.pth', '--work-dir', 'w/run', '--cfg-options',
        'train_cfg.max_epochs=3']
    single = LaunchOptions(amp=True).command('train', spec, 'w/run', flags=['--resume'])
    assert single[1].endswith('train.py') and single[3:7] == ['--work-dir', 'w/run', '--resume',
                                                              '--amp']
    with pytest.raises(ValueError, match='--partition'):
        LaunchOptions('slurm')


# ---------------------------------------------------------------- running


def sweep_cmd(work_root: Path, *configs: str) -> list:
    return [sys.executable, 'tools/sweep.py', *configs, '--work-root', str(work_root),
            '--cfg-options', *SMALL]


@pytest.fixture(scope='module')
def crashed_then_resumed(tmp_path_factory):
    """A sweep of BCE; then BCE + ASL killed during ASL's training; then the same again."""
    root = tmp_path_factory.mktemp('sweep')
    first = run_tool('sweep.py', BCE, '--work-root', root, '--cfg-options', *SMALL)
    bce_dir, asl_dir = root / 'resnet18_shapes-lt_bce', root / 'resnet18_shapes-lt_asl'
    bce_files = {p: p.stat().st_mtime_ns for p in bce_dir.rglob('*') if p.is_file()}
    proc = subprocess.Popen(sweep_cmd(root, BCE, ASL), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not (asl_dir / 'last_checkpoint').exists() and proc.poll() is None:
        assert time.time() < deadline, 'the ASL run saved no checkpoint in 300 s'
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)  # a crash: no clean-up, no state written
    proc.wait()
    crashed_state = json.loads((asl_dir / 'sweep_run.json').read_text())
    last = run_tool('sweep.py', BCE, ASL, '--work-root', root, '--cfg-options', *SMALL)
    return dict(root=root, first=first, last=last, bce_dir=bce_dir, asl_dir=asl_dir,
                bce_files=bce_files, crashed_state=crashed_state)


def test_sweep_runs_train_and_test_in_named_dirs(crashed_then_resumed):
    bce_dir = crashed_then_resumed['bce_dir']
    state = json.loads((bce_dir / 'sweep_run.json').read_text())
    assert set(state['stages']) == {'train', 'test'}
    assert state['config'] == BCE and state['cfg_options'] == SMALL
    assert (bce_dir / 'epoch_2.pth').is_file() and (bce_dir / 'per_class' / 'test.json').is_file()
    assert 'done resnet18_shapes-lt_bce' in ' '.join(crashed_then_resumed['first'].stdout.split())


def test_resumed_sweep_skips_the_finished_run_and_resumes_the_crashed_one(crashed_then_resumed):
    out = ' '.join(crashed_then_resumed['last'].stdout.split())
    assert 'skipped resnet18_shapes-lt_bce' in out and 'done resnet18_shapes-lt_asl' in out
    # the finished run was not touched
    bce_files = crashed_then_resumed['bce_files']
    assert all(p.stat().st_mtime_ns == t for p, t in bce_files.items())
    # the crashed run had not finished training, and was resumed from its checkpoint
    assert 'train' not in crashed_then_resumed['crashed_state']['stages']
    asl_dir = crashed_then_resumed['asl_dir']
    commands = [line for line in (asl_dir / 'sweep_train.log').read_text().splitlines()
                if line.startswith('$ ')]
    assert len(commands) == 2 and '--resume' not in commands[0] and '--resume' in commands[1]
    assert 'resumed epoch: ' in (asl_dir / 'sweep_train.log').read_text()
    record = read_run(str(asl_dir))  # (killed before its epoch-1 validation: only epoch 2's)
    assert max(record.val) == 2 and record.test


def test_sweep_ends_with_a_two_row_comparison(crashed_then_resumed):
    report = crashed_then_resumed['root'] / 'comparison'
    rows = read_csv(report / 'summary.csv')
    assert [r['run'] for r in rows] == ['resnet18_shapes-lt_bce', 'resnet18_shapes-lt_asl']
    assert [r['loss'] for r in rows] == ['MultiLabelBCELoss', 'MultiLabelAsymmetricLoss']
    asl = rows[1]
    assert 'gamma_neg=4' in asl['loss_params'] and asl['resampling'] == 'none'
    assert asl['epochs'] == '2' and asl['best_epoch'] in ('1', '2')
    # the numbers are the logged ones
    record = read_run(str(crashed_then_resumed['asl_dir']))
    assert float(asl['test_mAP']) == pytest.approx(record.test['multi-label/mAP'], abs=1e-4)
    assert float(asl['last_CF1']) == pytest.approx(record.val[2]['multi-label/CF1'], abs=1e-4)
    assert float(asl['test_CF1_tuned']) == pytest.approx(
        record.test['multi-label/CF1_valtuned'], abs=1e-4)
    for name in ('summary.md', 'curves.png', 'precision_recall.png', 'per_class_ap.png',
                 'group_map.png'):
        assert (report / name).stat().st_size > 0
    assert 'resnet18_shapes-lt_asl' in (report / 'summary.md').read_text()


def test_sweep_refuses_a_run_dir_made_with_other_settings(crashed_then_resumed):
    proc = run_tool('sweep.py', BCE, '--work-root', crashed_then_resumed['root'],
                    '--cfg-options', *SMALL[:-1], check=False)
    assert proc.returncode != 0 and 'other settings' in proc.stderr


# ---------------------------------------------------------------- comparing


def write_lines(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(json.dumps(row) + '\n' for row in rows))


def test_compare_reports_what_runs_lack_instead_of_failing(tmp_path):
    # an old run: mmpretrain's metric keys, no test, no per-class report, no config
    old = tmp_path / 'old_run'
    write_lines(old / '20260101_000000' / 'vis_data' / 'scalars.json', [
        dict(lr=0.1, loss=0.9, epoch=1, iter=10, step=10),
        {'multi-label/precision': 40.0, 'multi-label/mAP': 30.0, 'step': 1},
        {'multi-label/precision': 45.0, 'multi-label/mAP': 35.0, 'step': 2},
    ])
    # a newer run: the project's keys, a test, a per-class report, its config
    new = tmp_path / 'new_run'
    write_lines(new / '20260102_000000' / 'vis_data' / 'scalars.json', [
        {'multi-label/mAP': 50.0, 'multi-label/CF1': 20.0, 'step': 2},
        {'multi-label/mAP': 55.0, 'multi-label/CF1': 25.0, 'multi-label/CF1_tuned': 40.0,
         'step': 4},
        {'multi-label/mAP': 52.0, 'multi-label/CF1': 30.0, 'step': 6},
    ])
    write_lines(new / '20260102_010000' / '20260102_010000.json',
                [{'multi-label/mAP': 51.0, 'multi-label/CF1_valtuned': 38.0, 'step': 0}])
    (new / 'per_class').mkdir()
    (new / 'per_class' / 'test.json').write_text(json.dumps(dict(classes=[
        dict(class_name='a', train_count=100, ap=90.0), dict(class_name='b', train_count=3,
                                                              ap=10.0)])))
    Config(dict(model=dict(head=dict(loss=dict(type='MultiLabelFocalLoss', gamma=2.0,
                                               loss_weight=1.0))),
                train_dataloader=dict(dataset=dict(type='MultiLabelBalancedDataset',
                                                   oversample_thr=0.1, dataset=dict(type='X')),
                                      sampler=dict(type='DefaultSampler', shuffle=True)),
                train_cfg=dict(max_epochs=6))).dump(str(new / 'focal.py'))

    result = compare_runs([str(old), str(new)], str(tmp_path / 'report'))
    old_row, new_row = result.rows
    assert old_row['last_mAP'] == 35.0 and old_row['test_mAP'] == ''
    assert 'no test metrics' in old_row['missing'] and 'no per-class report' in old_row['missing']
    assert 'no dumped config' in old_row['missing'] and 'last lacks' in old_row['missing']
    # best = the evaluation with the best mAP (epoch 4), every metric from it
    assert new_row['best_epoch'] == 4
    assert (new_row['best_mAP'], new_row['best_CF1'], new_row['best_CF1_tuned']) == (55, 25, 40)
    assert (new_row['last_mAP'], new_row['last_CF1']) == (52.0, 30.0)
    assert (new_row['test_mAP'], new_row['test_CF1_tuned']) == (51.0, 38.0)
    assert new_row['loss'] == 'MultiLabelFocalLoss' and new_row['loss_params'] == 'gamma=2.0'
    assert new_row['resampling'] == 'MultiLabelBalancedDataset(oversample_thr=0.1)'
    assert new_row['epochs'] == 6
    assert len(read_csv(tmp_path / 'report' / 'summary.csv')) == 2
    assert set(result.plots) == {'curves.png', 'per_class_ap.png'}  # what the data allows
    markdown = (tmp_path / 'report' / 'summary.md').read_text()
    assert '## Test (last checkpoint)' in markdown and '| old_run |' in markdown


def test_resampling_is_described_from_the_config():
    wrapper = read_cfg('configs/demo/resnet18_shapes-lt_bce_rfs.py')
    sampler = read_cfg('configs/demo/resnet18_shapes-lt_db_cas.py')
    assert wrapper['resampling'] == 'MultiLabelBalancedDataset(oversample_thr=0.1)'
    assert sampler['resampling'] == 'ClassAwareSampler(num_sample_class=1)'
    assert sampler['loss'] == 'DistributionBalancedLoss'


def read_cfg(path):
    return describe_run(RunRecord('r', '.', Config.fromfile(str(REPO / path))))


def test_compare_tool_names_a_directory_without_runs(tmp_path):
    (tmp_path / 'empty').mkdir()
    proc = run_tool('compare.py', tmp_path / 'empty', '--out', tmp_path / 'out', check=False)
    assert proc.returncode != 0 and 'neither a run dir' in proc.stderr


def test_compare_skips_a_comparison_and_finds_reports_by_iteration(tmp_path):
    run = tmp_path / 'iter_run'
    write_lines(run / '20260103_000000' / 'vis_data' / 'scalars.json', [
        {'multi-label/mAP': 40.0, 'step': 500}, {'multi-label/mAP': 45.0, 'step': 1000}])
    for tag, ap in (('val_iter_500', 20.0), ('val_iter_1000', 30.0)):  # written by MeanAP
        eval_outputs.write_report(str(run), tag, dict(thr=0.5),
                                  [dict(class_name='a', train_count=7, ap=ap)])
    first = compare_runs([str(run)], str(tmp_path / 'comparison'))
    record = first.records[0]
    assert record.per_class_source == 'val_iter_1000' and record.per_class[0]['ap'] == 30.0
    # `compare.py work_dirs/sweep/*` names the comparison too: it is skipped, with a note
    again = compare_runs([str(run), str(tmp_path / 'comparison')], str(tmp_path / 'second'))
    assert [r.name for r in again.records] == ['iter_run']
    assert again.notes == [f'{tmp_path / "comparison"} is a comparison, not a run: skipped']


def test_sweep_with_seeds_then_compare_against_a_baseline(tmp_path):
    tiny = ['train_dataloader.dataset.indices=32', 'val_dataloader.dataset.indices=24',
            'test_dataloader.dataset.indices=40', 'train_dataloader.num_workers=0',
            'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0',
            'train_cfg.max_epochs=1']
    sweep = run_tool('sweep.py', BCE, ASL, '--work-root', tmp_path / 'sweep', '--seeds', '0,1',
                     '--cfg-options', *tiny, '--log-to', 'tensorboard',
                     '--baseline', 'resnet18_shapes-lt_bce', timeout=900,
                     env=dict(COLUMNS='1000'))  # paths on one line
    board = tmp_path / 'sweep' / 'comparison' / 'tensorboard'
    assert f'--log-to tensorboard:{board}: 2 settings' in sweep.stdout
    assert {p.name for p in board.iterdir()} == {'resnet18_shapes-lt_asl',
                                                 'resnet18_shapes-lt_bce', 'report'}
    # the sweep's own answer: one block per setting, its difference from the baseline judged
    lines = sweep.stdout.splitlines()
    asl = lines.index('resnet18_shapes-lt_asl  seeds: 2')
    assert lines[asl + 1].lstrip().startswith('mAP ')
    assert re.search(r' [+-]\d+\.\d \[[+-]\d+\.\d, [+-]\d+\.\d\] (better|worse|within noise)$',
                     lines[asl + 1]), lines[asl + 1]
    summary = (tmp_path / 'sweep' / 'comparison' / 'summary.md').read_text()
    headings = [line for line in summary.splitlines() if line.startswith('## ')]
    assert headings[0] == '## Verdict against resnet18_shapes-lt_bce'
    assert headings.index('## Runs') > headings.index('## Test, with intervals')
    names = sorted(p.name for p in (tmp_path / 'sweep').iterdir() if p.name != 'comparison')
    assert names == [f'resnet18_shapes-lt_{loss}_seed-{s}' for loss in ('asl', 'bce')
                     for s in (0, 1)]
    state = json.loads((tmp_path / 'sweep' / names[1] / 'sweep_run.json').read_text())
    assert state['seed'] == 1
    proc = run_tool('compare.py', tmp_path / 'sweep', '--out', tmp_path / 'report',
                    '--baseline', 'resnet18_shapes-lt_bce', '--bootstrap', '100')
    rows = {row['run']: row for row in read_csv(tmp_path / 'report' / 'summary.csv')}
    asl = rows['resnet18_shapes-lt_asl_seed-1']
    assert asl['setting'] == 'resnet18_shapes-lt_asl' and asl['seeds'] == '2'
    for metric in ('mAP', 'CF1', 'OF1', 'subset_accuracy', 'ECE'):
        low, high = float(asl[f'test_{metric}_ci_low']), float(asl[f'test_{metric}_ci_high'])
        assert low <= float(asl[f'test_{metric}']) <= high  # the logged test number inside
        delta_low = float(asl[f'delta_test_{metric}_ci_low'])
        assert delta_low <= float(asl[f'delta_test_{metric}']) <= float(
            asl[f'delta_test_{metric}_ci_high'])
        assert asl[f'test_{metric}_sd'] != ''
    bce = rows['resnet18_shapes-lt_bce_seed-0']
    assert float(bce['delta_test_mAP']) == 0.0  # the baseline against itself
    markdown = (tmp_path / 'report' / 'summary.md').read_text()
    assert '## Against resnet18_shapes-lt_bce' in markdown
    assert any(word in markdown for word in ('better', 'worse', 'within noise'))
    assert (tmp_path / 'report' / 'calibration.png').stat().st_size > 0
    assert 'Against' in proc.stdout or 'summary' in proc.stdout
