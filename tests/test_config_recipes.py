"""The documented recipes for configs work: reading data elsewhere, short runs on every schedule."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import mmml_ext  # noqa: F401
from cli_helpers import REPO, run_tool
from mmml_ext.engine.cli import set_data_root

SCHEDULES = sorted(p.name for p in (REPO / 'configs' / '_base_' / 'schedules').glob('*.py'))


def data_roots(cfg):
    roots = []
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[field].dataset
        while 'dataset' in dataset:
            dataset = dataset.dataset
        roots.append(dataset.get('data_root'))
    return roots


def test_data_root_sets_every_split_through_wrappers():
    cfg = Config.fromfile(str(REPO / 'configs/voc/resnet50_voc07_bce.py'))
    assert data_roots(cfg) == ['data/VOC2007'] * 3
    set_data_root(cfg, '/datasets/VOC2007')
    assert data_roots(cfg) == ['/datasets/VOC2007'] * 3
    cfg = Config.fromfile(str(REPO / 'configs/coco/resnet50_coco-mlt_db.py'))
    set_data_root(cfg, '/datasets/coco')
    assert data_roots(cfg) == ['/datasets/coco'] * 3


def test_data_root_refuses_configs_it_cannot_be_right_for():
    cfg = Config.fromfile(str(REPO / 'configs/voc/resnet50_voc-mlt_bce.py'))
    with pytest.raises(SystemExit, match=r"read different roots \['data/VOC2007', "
                                         r"'data/VOC2012'\]; set each with --cfg-options"):
        set_data_root(cfg, '/datasets/VOC')
    cfg = Config.fromfile(str(REPO / 'configs/demo/resnet18_shapes-lt_bce_rfs.py'))
    with pytest.raises(SystemExit, match='no dataset of the config takes a data_root'):
        set_data_root(cfg, '/datasets/x')


def test_data_root_moves_the_datasets_a_tool_uses_and_names_those_it_cannot_move():
    cfg = Config.fromfile(str(REPO / 'configs/voc/resnet50_voc-mlt_bce.py'))
    set_data_root(cfg, '/datasets/VOC2007', ('test_dataloader', ))  # what tools/test.py moves
    assert data_roots(cfg) == ['data/VOC2012', 'data/VOC2007', '/datasets/VOC2007']
    cfg = Config.fromfile(str(REPO / 'configs/voc/resnet50_voc07_bce.py'))
    cfg.val_dataloader.dataset = dict(type='LongTailedShapes', split='val')
    with pytest.raises(SystemExit, match=r"datasets of \['val_dataloader \(LongTailedShapes\)'\] "
                                         'have no data_root to set'):
        set_data_root(cfg, '/datasets/VOC2007')


def test_the_tools_read_the_data_root_flag(tmp_path):
    proc = run_tool('train.py', 'configs/voc/resnet50_voc07_bce.py', '--work-dir', tmp_path,
                    '--data-root', tmp_path / 'nowhere', '--cfg-options',
                    'model.backbone.init_cfg=None', check=False)
    assert proc.returncode != 0
    assert str(tmp_path / 'nowhere' / 'ImageSets' / 'Main') in proc.stdout + proc.stderr
    assert 'data/VOC2007' not in proc.stderr.splitlines()[-1]


@pytest.mark.parametrize('schedule', SCHEDULES)
def test_every_schedule_runs_a_one_epoch_smoke_run(schedule, tmp_path):
    config = tmp_path / 'smoke.py'
    bases = [REPO / 'configs/_base_' / part for part in (
        'models/resnet18_multilabel.py', 'datasets/shapes_lt.py', f'schedules/{schedule}',
        'default_runtime.py')]
    config.write_text(f'_base_ = {[str(p) for p in bases]!r}\n')
    cfg = Config.fromfile(str(config))
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg.max_epochs = 1
    cfg.train_dataloader.dataset.indices = 64
    cfg.train_dataloader.num_workers = 0
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.epoch == 1 and Path(tmp_path / 'epoch_1.pth').is_file()


def test_partial_label_configs_group_classes_by_the_full_training_labels():
    from mmml_ext.datasets import LongTailedShapes
    from mmml_ext.datasets.label_index import LabelIndex
    cfg = Config.fromfile('configs/demo/resnet18_shapes-lt_partial-sp_bce-an.py')
    full = LongTailedShapes(split='train')
    counts = LabelIndex.of(full, 20).class_counts().tolist()
    assert cfg.full_train_counts == counts
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        assert evaluator[0]['type'] == 'MeanAP' and evaluator[0]['class_counts'] == counts


@pytest.mark.parametrize('config', sorted(str(p) for p in Path('configs/demo').glob('*partial*')))
def test_partial_label_configs_hide_training_labels_only(config):
    cfg = Config.fromfile(config)
    train = cfg.train_dataloader.dataset
    assert train.type == 'PartialLabelDataset' and train.unobserved == 'unknown'
    assert (train.single_positive, train.get('keep_ratio')) in ((True, None), (False, 0.75))
    assert cfg.val_dataloader.dataset.type == cfg.test_dataloader.dataset.type == \
        'LongTailedShapes'
    assert not cfg.model.get('data_preprocessor', {}).get('batch_augments')
