"""Run facts with one owner each: class statistics, tuned thresholds, evaluation context.

The files and checkpoint entries of :mod:`mmml_ext.run_facts`, and
``RunFactsHook`` moving them through a real mmengine Runner: one training run
builds its training set once, counts it through resampling wrappers, and
stores what it learns where a later test of any of its checkpoints finds it.
"""
import importlib
import json
import pkgutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import ClassBalancedDataset, RepeatDataset
from mmengine.evaluator import Evaluator
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS, HOOKS, METRICS, MODELS

import mmml_ext  # noqa: F401
from cli_helpers import REPO, run_tool
from mmml_ext import evaluation, run_facts
from mmml_ext.datasets import LongTailedShapes, MultiLabelBalancedDataset
from mmml_ext.engine import RunFactsHook
from mmml_ext.run_facts import (ClassStats, ThresholdSource, TunedThresholds, eval_outputs,
                                test_predictions)
from mmml_ext.run_facts import class_stats as stats_file
from mmml_ext.run_facts import tuned_thresholds as thresholds_file

# the demo's training counts, from its documented formula round(400 * 100^(-c/19))
DEMO_COUNTS = tuple(int(n) for n in np.round(400 * 100.0**(-np.arange(20) / 19)))
DEMO_CONFIGS = sorted(str(p.relative_to(REPO)) for p in (REPO / 'configs' / 'demo').glob('*.py')
                      if 'partial' not in p.name)
PARTIAL_CONFIGS = sorted(str(p.relative_to(REPO))
                         for p in (REPO / 'configs' / 'demo').glob('*partial*.py'))


# ------------------------------------------------------------ class statistics
def test_demo_counts_are_the_documented_ones():
    assert DEMO_COUNTS[0] == 400 and DEMO_COUNTS[-1] == 4
    stats = stats_file.compute(LongTailedShapes(split='train'))
    assert stats.class_counts == DEMO_COUNTS and stats.num_images == 800
    assert stats.classes[0] == 'solid_disc' and len(stats.classes) == 20


@pytest.mark.parametrize('wrap', [
    lambda d: MultiLabelBalancedDataset(d, oversample_thr=0.1),
    lambda d: ClassBalancedDataset(d, oversample_thr=0.1),
    lambda d: RepeatDataset(d, times=3),
])
def test_statistics_look_through_resampling_wrappers(wrap):
    wrapped = wrap(LongTailedShapes(split='train'))
    assert len(wrapped) > 800  # the wrapper repeats images...
    stats = stats_file.compute(wrapped)  # ...the statistics are the original data's
    assert stats.class_counts == DEMO_COUNTS and stats.num_images == 800


@pytest.mark.parametrize('config', DEMO_CONFIGS)
def test_every_demo_config_counts_its_original_training_set(config):
    cfg = Config.fromfile(REPO / config)
    stats = stats_file.compute(DATASETS.build(cfg.train_dataloader.dataset))
    assert stats.class_counts == DEMO_COUNTS and stats.num_images == 800


@pytest.mark.parametrize('config', PARTIAL_CONFIGS[:1] + PARTIAL_CONFIGS[-1:])
def test_partial_label_configs_count_the_labels_a_user_has(config):
    # the kept positives: what training with partial labels knows
    cfg = Config.fromfile(REPO / config)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    stats = stats_file.compute(dataset)
    kept = dataset.hidden_summary.kept.tolist()
    assert list(stats.class_counts) == kept and stats.num_images == 800
    assert sum(kept) == (1382 if 'partial-75' in config else 800)  # round(0.75 * 1842) or 1 each


def test_class_counts_tool_writes_what_a_training_run_writes(tmp_path):
    run_tool('class_counts.py', 'configs/demo/resnet18_shapes-lt_bce_rfs.py', '--work-dir',
             tmp_path)
    stats = stats_file.read(str(tmp_path / stats_file.FILE_NAME))
    assert stats.class_counts == DEMO_COUNTS and stats.num_images == 800  # not 1,166 and 20


def test_class_stats_file_and_checkpoint_round_trip(tmp_path):
    stats = ClassStats((5, 0, 3), 6, ('a', 'b', 'c'))
    assert stats_file.read(stats_file.write(stats, str(tmp_path))) == stats
    checkpoint = dict(meta=dict(epoch=1))
    stats_file.to_checkpoint(checkpoint, stats)
    assert stats_file.from_checkpoint(checkpoint) == stats and checkpoint['meta']['epoch'] == 1
    assert stats_file.from_checkpoint(dict(meta={})) is None
    assert stats_file.load([3, 1]) == ClassStats((3, 1))


@pytest.mark.parametrize('content, message', [
    ('{"counts": [1, 2]}', 'holds no class statistics'),
    ('{"class_counts": [1, -2]}', 'must be a non-empty list of numbers >= 0'),
    ('{"class_counts": [1, 2], "classes": ["a"]}', '1 class names for 2 class counts'),
    ('{"class_counts": [5, 2], "num_images": 3}', 'num_images=3 is smaller than'),
    ('not json', 'is not JSON'),
])
def test_bad_class_stats_files_are_named(tmp_path, content, message):
    path = tmp_path / 'class_counts.json'
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as info:
        stats_file.read(str(path))
    assert str(path) in str(info.value)


def test_missing_class_stats_file_says_who_writes_it(tmp_path):
    with pytest.raises(FileNotFoundError, match='tools/class_counts.py'):
        stats_file.load(str(tmp_path / 'class_counts.json'))


# ------------------------------------------------------------ tuned thresholds
def test_tuned_thresholds_fill_rule_file_and_checkpoint(tmp_path):
    tuned = TunedThresholds(0.25, (0.5, None, 0.0), ('a', 'b', 'c'), 'val_epoch_2', 40)
    assert tuned.values().tolist() == [0.5, 0.25, 0.0]  # untuned class -> the global one
    assert thresholds_file.read(thresholds_file.write(tuned, str(tmp_path))) == tuned
    checkpoint = {}
    thresholds_file.to_checkpoint(checkpoint, tuned)
    assert thresholds_file.from_checkpoint(checkpoint) == tuned
    from_tuner = TunedThresholds.from_tensors(0.25, torch.tensor([0.5, float('nan'), 0.0]))
    assert from_tuner.per_class == (0.5, None, 0.0)


@pytest.mark.parametrize('data, message', [
    (dict(per_class=[0.5]), 'needs "global" and "per_class"'),
    (dict(per_class=[0.5, 1.5], **{'global': 0.3}), r'class 1 must be a number in \[0, 1\]'),
    (dict(per_class=[0.5], **{'global': float('nan')}), 'global threshold must be'),
    (dict(per_class=[], **{'global': 0.3}), 'at least one class'),
])
def test_bad_thresholds_files_are_named(tmp_path, data, message):
    path = tmp_path / 'thresholds.json'
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message):
        thresholds_file.read(str(path))


def test_threshold_sources(tmp_path):
    tuned = TunedThresholds(0.3, (0.6, None))
    thresholds_file.write(TunedThresholds(0.2, (0.1, 0.9)), str(tmp_path))
    assert ThresholdSource(0.4).resolve(2).tolist() == pytest.approx([0.4, 0.4])
    assert ThresholdSource([0.1, 0.7]).resolve(2).tolist() == pytest.approx([0.1, 0.7])
    assert ThresholdSource('tuned').resolve(2, tuned=tuned).tolist() == pytest.approx([0.6, 0.3])
    assert ThresholdSource('tuned').resolve(2) is None  # none tuned for these weights
    relative = ThresholdSource('thresholds.json')
    assert relative.needs_run() and not ThresholdSource(0.4).needs_run()
    assert relative.resolve(2, work_dir=str(tmp_path)).tolist() == pytest.approx([0.1, 0.9])
    absolute = str(tmp_path / 'thresholds.json')
    assert ThresholdSource(absolute).resolve(2).tolist() == pytest.approx([0.1, 0.9])
    with pytest.raises(ValueError, match='relative to the work dir, which is not known'):
        relative.resolve(2)
    with pytest.raises(ValueError, match='thresholds has 2 thresholds for 3 classes'):
        ThresholdSource([0.1, 0.7]).resolve(3)
    with pytest.raises(ValueError, match=r"'tuned' or a thresholds file, got True"):
        ThresholdSource(True)


# ------------------------------------------------------------ evaluation names and files
def test_tags_and_reports(tmp_path):
    assert eval_outputs.eval_tag('val', True, epoch=3) == 'val_epoch_3'
    assert eval_outputs.eval_tag('val', False, iteration=500) == 'val_iter_500'
    assert eval_outputs.eval_tag('test') == 'test'
    assert eval_outputs.parse_tag('val_iter_500') == ('val', 'iter', 500)
    assert eval_outputs.parse_tag('predictions') is None
    for tag in ('val_iter_1000', 'val_iter_500', 'test'):
        eval_outputs.write_report(str(tmp_path), tag, dict(thr=0.5), [dict(class_name='a', ap=1)])
    assert list(eval_outputs.list_reports(str(tmp_path))) == ['val_iter_500', 'val_iter_1000',
                                                              'test']
    assert eval_outputs.final_report(str(tmp_path)) == 'test'
    report = eval_outputs.read_report(eval_outputs.list_reports(str(tmp_path))['val_iter_500'])
    assert report == dict(thr=0.5, classes=[dict(class_name='a', ap=1)])


def test_evaluation_and_run_facts_keep_no_module_level_mutable_state():
    for package in (evaluation, run_facts):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f'{package.__name__}.{info.name}')
            mutable = [name for name, value in vars(module).items()
                       if not name.startswith('__') and isinstance(value, (dict, list, set))]
            assert not mutable, f'{module.__name__} holds module-level state {mutable}'


# ------------------------------------------------------------ the hook in a real Runner
def small_config(work_dir: Path, **changes) -> Config:
    cfg = Config.fromfile(REPO / 'configs/demo/resnet18_shapes-lt_bce_rfs.py')
    cfg.work_dir = str(work_dir)
    cfg.train_dataloader.dataset.dataset.indices = 64  # inside the resampling wrapper
    cfg.val_dataloader.dataset.indices = 40
    cfg.test_dataloader.dataset.indices = 40
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].num_workers = 0
        cfg[loader].pop('persistent_workers', None)
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 1
    cfg.model.head.prior = 'counts'
    cfg.model.head.loss = dict(type='DistributionBalancedLoss')
    cfg.default_hooks.checkpoint.save_best = 'multi-label/mAP'
    cfg.default_hooks.logger.interval = 1
    cfg.merge_from_dict(changes)
    return cfg


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A 1-epoch run (validated at epoch 1) whose training datasets were counted as built."""
    work_dir = tmp_path_factory.mktemp('facts_train')
    built = []
    original_init = LongTailedShapes.__init__

    def counting_init(self, *args, **kwargs):
        built.append(kwargs.get('split', 'train'))
        original_init(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LongTailedShapes, '__init__', counting_init)
        runner = Runner.from_cfg(small_config(work_dir))
        runner.train()
    head = runner.model.head
    return SimpleNamespace(work_dir=work_dir, built=built, head=head)


def subset_counts(num: int):
    """Images per class of the first ``num`` training images, counted here by hand."""
    return tuple(int(n) for n in (LongTailedShapes(split='train')._label_matrix[:num] > 0).sum(0))


def test_one_training_run_builds_its_training_set_once(trained):
    assert trained.built.count('train') == 1
    assert trained.built.count('val') == 1


def test_training_counts_reach_the_model_the_work_dir_and_the_checkpoints(trained):
    expected = subset_counts(64)
    stats = stats_file.read(str(trained.work_dir / stats_file.FILE_NAME))
    assert stats.class_counts == expected and stats.num_images == 64  # the original 64 images
    assert tuple(trained.head.loss_module.class_counts) == expected
    assert trained.head.num_images == trained.head.loss_module.num_images == 64
    for checkpoint in trained.work_dir.glob('*.pth'):
        assert stats_file.from_checkpoint(torch.load(checkpoint)) == stats


def test_thresholds_travel_with_the_checkpoint_of_their_weights(trained):
    saved = thresholds_file.read(str(trained.work_dir / thresholds_file.FILE_NAME))
    assert saved.tuned_on == 'val_epoch_1' and saved.iter > 0
    epoch = torch.load(trained.work_dir / 'epoch_1.pth')  # saved before the validation
    best = torch.load(next(trained.work_dir.glob('best_*.pth')))  # saved after it
    for checkpoint in (epoch, best):
        assert checkpoint['meta']['iter'] == saved.iter
        assert thresholds_file.from_checkpoint(checkpoint) == saved
    reports = eval_outputs.list_reports(str(trained.work_dir))
    assert list(reports) == ['val_epoch_1']


def test_a_test_run_uses_the_facts_of_its_checkpoint(trained, tmp_path):
    # the work dir's file is rewritten later (another validation): the checkpoint must win
    thresholds_file.write(TunedThresholds(0.99, (0.99, ) * 20), str(trained.work_dir))
    checkpoint = trained.work_dir / 'epoch_1.pth'
    cfg = small_config(tmp_path / 'elsewhere', load_from=str(checkpoint))
    cfg.model.head.thresholds = 'tuned'
    runner = Runner.from_cfg(cfg)
    dumped = []
    runner.test_evaluator.metrics.append(DumpRows(dumped))
    metrics = runner.test()
    tuned = thresholds_file.from_checkpoint(torch.load(checkpoint)).values()
    scores = torch.stack([s['pred_score'] for s in dumped])
    target = torch.stack([torch.zeros(20).index_fill_(0, s['gt_label'], 1) for s in dumped])
    pred = scores >= tuned
    tp = (pred & (target == 1)).sum(0).double()
    recall = torch.where(target.sum(0) > 0, tp / target.sum(0).clamp(min=1), torch.zeros(20))
    assert metrics['multi-label/CR_valtuned'] == pytest.approx(100 * recall.mean().item())
    # the head predicts at the same thresholds
    assert all(s['pred_label'].tolist() == pred[i].nonzero().flatten().tolist()
               for i, s in enumerate(dumped))
    # head / medium / tail from the checkpoint's statistics (nothing else knows them here)
    assert 'multi-label/mAP_tail' in metrics
    report = eval_outputs.read_report(str(tmp_path / 'elsewhere' / 'per_class' / 'test.json'))
    assert tuple(row['train_count'] for row in report['classes']) == subset_counts(64)
    # the test's predictions, kept for the comparison: every sample once, in dataset order
    kept = test_predictions.read(test_predictions.path_in(str(tmp_path / 'elsewhere')))
    order = np.argsort([s['sample_idx'] for s in dumped])
    np.testing.assert_array_equal(kept.sample_idx, np.arange(40))
    np.testing.assert_array_equal(kept.scores, scores.numpy()[order])
    np.testing.assert_array_equal(kept.target, target.numpy()[order].astype(np.int8))
    np.testing.assert_array_equal(kept.thresholds, tuned.numpy())
    assert tuple(kept.train_class_counts) == subset_counts(64)
    assert kept.classes[0] == 'solid_disc' 


class DumpRows:
    """A plain mmengine-style metric that keeps the data samples it sees."""

    def __init__(self, out):
        self.out, self.dataset_meta = out, None

    def process(self, data_batch, data_samples):
        self.out.extend(data_samples)

    def evaluate(self, size):
        return {}


def test_tuned_thresholds_in_a_val_evaluator_are_refused_before_training(tmp_path):
    cfg = small_config(tmp_path)
    cfg.val_evaluator = [dict(type='MultiLabelPRF', thresholds='tuned')]
    with pytest.raises(ValueError, match="thresholds='tuned' belongs in the test_evaluator"):
        Runner.from_cfg(cfg).train()
    assert not list(tmp_path.glob('*.pth'))


def test_a_test_without_tuned_thresholds_fails_before_it_starts(trained, tmp_path):
    cfg = small_config(tmp_path, load_from=None)
    cfg.test_evaluator = [dict(type='MultiLabelPRF', thresholds='tuned')]
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match="in the test evaluator: no thresholds were tuned"):
        runner.test()


def test_old_hook_names_say_what_replaced_them():
    for name in ('ClassCountsHook', 'MultiLabelEvalHook'):
        with pytest.raises(ValueError, match=f"{name} was replaced by RunFactsHook.*"
                                             r"custom_hooks = \[dict\(type='RunFactsHook'\)\]"):
            HOOKS.build(dict(type=name))


def test_an_iteration_based_run_names_and_pairs_by_iteration(tmp_path):
    cfg = small_config(tmp_path)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=4, val_interval=2)
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=2, by_epoch=False)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert list(eval_outputs.list_reports(str(tmp_path))) == ['val_iter_2', 'val_iter_4']
    for step in (2, 4):  # each checkpoint holds the thresholds tuned on its own weights
        tuned = thresholds_file.from_checkpoint(torch.load(tmp_path / f'iter_{step}.pth'))
        assert (tuned.tuned_on, tuned.iter) == (f'val_iter_{step}', step)
    assert all(m._context is None for m in runner.val_evaluator.metrics)  # contexts ended


def test_fine_tuning_does_not_give_new_checkpoints_the_loaded_thresholds(trained, tmp_path):
    loaded = torch.load(trained.work_dir / 'epoch_1.pth')
    cfg = small_config(tmp_path, load_from=str(trained.work_dir / 'epoch_1.pth'))
    cfg.train_cfg.max_epochs, cfg.train_cfg.val_interval = 2, 2  # epoch 1 is not validated
    Runner.from_cfg(cfg).train()
    first, second = (torch.load(tmp_path / f'epoch_{e}.pth') for e in (1, 2))
    assert first['meta']['iter'] == loaded['meta']['iter']  # the same step, other weights:
    assert thresholds_file.from_checkpoint(first) is None  # not the loaded run's thresholds
    assert thresholds_file.from_checkpoint(second).tuned_on == 'val_epoch_2'


def test_head_thresholds_come_from_the_run(tmp_path):
    head = MODELS.build(dict(type='ImbalancedMultiLabelHead', num_classes=3, in_channels=4,
                             thresholds='tuned'))
    logits = torch.logit(torch.tensor([[0.85, 0.45, 0.25]]))
    assert head._get_predictions(logits, None)[0].pred_label.tolist() == [0]  # 0.5 until known
    runner = SimpleNamespace(work_dir=str(tmp_path), epoch=0, iter=0, model=head,
                             test_evaluator=Evaluator([]))
    hook = RunFactsHook()
    hook.loaded_thresholds = TunedThresholds(0.4, (0.9, None, 0.2))
    hook.before_test_epoch(runner)
    assert head._get_predictions(logits, None)[0].pred_label.tolist() == [1, 2]


class _Unlabelled:
    """A training dataset whose labels cannot be indexed (no get_cat_ids)."""
    metainfo = dict(classes=('a', 'b'))

    def __len__(self):
        return 3


def test_a_training_set_that_cannot_be_counted(tmp_path):
    from test_head import BuiltLoop
    runner = SimpleNamespace(model=torch.nn.Linear(1, 1), work_dir=str(tmp_path),
                             _train_loop=BuiltLoop.__new__(BuiltLoop),
                             train_dataloader=SimpleNamespace(dataset=_Unlabelled()))
    hook = RunFactsHook()
    hook.before_run(runner)  # nothing needs the counts: a warning, and the run goes on
    assert hook.class_stats is None and not (tmp_path / stats_file.FILE_NAME).exists()
    runner.model = MODELS.build(dict(type='ImbalancedMultiLabelHead', num_classes=2,
                                     in_channels=4, prior='counts'))
    with pytest.raises(ValueError, match=r"\['ImbalancedMultiLabelHead'\] need the training "
                                         'class counts.*no get_cat_ids'):
        RunFactsHook().before_run(runner)


def test_splits_with_other_classes_stop_the_run_before_training(tmp_path, trained):
    from mmml_ext.datasets import CLASS_NAMES
    swapped = list(CLASS_NAMES)
    swapped[0], swapped[1] = swapped[1], swapped[0]
    cfg = small_config(tmp_path)
    cfg.val_dataloader.dataset.metainfo = dict(classes=swapped)
    with pytest.raises(ValueError, match=r"the classes of the val set \(LongTailedShapes\) are "
                                         r"not the training set's \(the same names in another "
                                         r"order\): class 0 is 'solid_square' in the val set"):
        Runner.from_cfg(cfg).train()
    assert not list(tmp_path.glob('*.pth'))
    # a test of a checkpoint is checked against the classes it was trained on
    cfg = small_config(tmp_path / 'test', load_from=str(trained.work_dir / 'epoch_1.pth'))
    cfg.test_dataloader.dataset.metainfo = dict(classes=swapped)
    with pytest.raises(ValueError, match=r'the classes of the test set \(LongTailedShapes\)'):
        Runner.from_cfg(cfg).test()


def test_a_checkpoint_without_statistics_is_checked_by_the_classes_it_names(trained, tmp_path):
    """A checkpoint trained without the hook has no class statistics; the test reads no training
    set for them (issue: a test parses the training set), and the classes mmengine stored with
    the checkpoint (``meta['dataset_meta']``) still guard against a test set in another order."""
    from mmml_ext.datasets import CLASS_NAMES
    checkpoint = torch.load(trained.work_dir / 'epoch_1.pth')
    del checkpoint['meta']['mmml_ext']  # as a checkpoint trained without the hook
    assert list(checkpoint['meta']['dataset_meta']['classes']) == list(CLASS_NAMES)
    torch.save(checkpoint, tmp_path / 'plain.pth')
    cfg = small_config(tmp_path / 'test', load_from=str(tmp_path / 'plain.pth'))
    cfg.train_dataloader.dataset = dict(type='NoTrainingSetHere')  # never built
    cfg.test_dataloader.dataset.metainfo = dict(classes=list(CLASS_NAMES)[::-1])
    with pytest.raises(ValueError, match=r'the classes of the test set \(LongTailedShapes\)'):
        Runner.from_cfg(cfg).test()
    cfg = small_config(tmp_path / 'test2', load_from=str(tmp_path / 'plain.pth'))
    cfg.train_dataloader.dataset = dict(type='NoTrainingSetHere')
    metrics = Runner.from_cfg(cfg).test()
    assert 'multi-label/mAP' in metrics and 'multi-label/mAP_tail' not in metrics


def test_statistics_repeat_the_settings_the_test_used(trained, tmp_path):
    from mmml_ext.experiments import read_run
    from mmml_ext.experiments.statistics import compare_statistics
    cfg = small_config(tmp_path / 'test', load_from=str(trained.work_dir / 'epoch_1.pth'))
    cfg.test_dataloader.dataset.indices = 25  # some classes without a positive
    cfg.test_evaluator = [
        dict(type='MeanAP', absent_classes='include', group_bounds=(5, 30)),
        dict(type='MultiLabelPRF', items=('CF1', 'OF1'), absent_classes='include'),
        dict(type='MultiLabelPRF', thresholds='tuned', items=('CF1', 'OF1')),
        dict(type='SubsetAccuracy'),
        dict(type='MultiLabelCalibration', num_bins=10),
    ]
    logged = Runner.from_cfg(cfg).test()
    stats = compare_statistics([read_run(str(tmp_path / 'test'))], num_replicates=10)
    point = {metric: value[0] for metric, value in stats.runs['test'].items()}
    names = {'mAP': 'mAP', 'mAP_tail': 'mAP_tail', 'CF1': 'CF1', 'OF1': 'OF1',
             'CF1_tuned': 'CF1_valtuned', 'OF1_tuned': 'OF1_valtuned',
             'subset_accuracy': 'subset_accuracy', 'ECE': 'ECE'}
    for ours, key in names.items():
        assert point[ours] == pytest.approx(logged[f'multi-label/{key}'], abs=1e-3), ours


def test_a_test_names_its_checkpoint_and_where_its_thresholds_come_from(tmp_path):
    """Validated at epoch 2 only: testing epoch 1 says why it has no thresholds (that epoch
    was not validated) and which checkpoint; testing epoch 2 says which it uses."""
    train_dir = tmp_path / 'run'
    cfg = small_config(train_dir, train_cfg=dict(max_epochs=2, val_interval=2))
    cfg.default_hooks.checkpoint.pop('save_best')
    Runner.from_cfg(cfg).train()

    def test_log(checkpoint: str) -> str:
        test_dir = tmp_path / f'test_{checkpoint}'
        Runner.from_cfg(small_config(test_dir, load_from=str(train_dir / checkpoint))).test()
        [log] = test_dir.glob('*/*.log')
        return ' '.join(log.read_text().split())

    first = test_log('epoch_1.pth')
    assert (f'no thresholds were tuned for the weights under evaluation, checkpoint '
            f'{train_dir / "epoch_1.pth"} (epoch 1), (its epoch 1 was not validated, while its '
            f'run tuned thresholds at val_epoch_2 ({train_dir / "thresholds.json"})') in first
    second = test_log('epoch_2.pth')
    assert (f'test: checkpoint {train_dir / "epoch_2.pth"} (epoch 2) at the thresholds tuned at '
            'val_epoch_2 (carried by the checkpoint)') in second
    assert 'no thresholds were tuned' not in second
