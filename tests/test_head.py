"""ImbalancedMultiLabelHead: prior bias, per-class thresholds, class counts from the hook."""
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import BaseLoop
from mmpretrain.registry import MODELS

import mmml_ext  # noqa: F401
from cli_helpers import REPO, run_tool
from mmml_ext.datasets import MultiLabelBalancedDataset
from mmml_ext.engine import RunFactsHook

HEAD = dict(type='ImbalancedMultiLabelHead', num_classes=3, in_channels=4)


class BuiltLoop(BaseLoop):
    """Stands for the train loop that Runner.train builds before ``before_run``."""

    def run(self):
        pass


def test_prior_bias_from_counts_and_from_a_list():
    head = MODELS.build(dict(HEAD, prior='counts', class_counts=[10, 50, 90], num_images=100))
    head.init_weights()
    torch.testing.assert_close(head.fc.bias.data,
                               torch.tensor([math.log(0.1 / 0.9), 0.0, math.log(0.9 / 0.1)]))
    head = MODELS.build(dict(HEAD, prior=[0.5, 0.2, 0.01]))
    head.init_weights()
    torch.testing.assert_close(torch.sigmoid(head.fc.bias.data), torch.tensor([0.5, 0.2, 0.01]))


def test_head_without_prior_needs_no_counts():
    assert not MODELS.build(HEAD).needs_class_counts()
    assert MODELS.build(dict(HEAD, prior='counts')).needs_class_counts()


def test_prior_without_counts_names_the_keys():
    head = MODELS.build(dict(HEAD, prior='counts'))
    with pytest.raises(ValueError, match='class_counts=.*RunFactsHook'):
        head.init_weights()


@pytest.mark.parametrize('bad, message', [
    (dict(prior='uniform'), "prior must be 'counts'"), (dict(prior=[0.5, 1.0, 0.2]), 'priors in'),
    (dict(thresholds=[0.5, 0.5]), '2 thresholds for 3 classes'),
    (dict(thresholds=[0.5, 1.5, 0.2]), r'thresholds\[1\] must be a number in \[0, 1\]'),
    (dict(thresholds=[0.5, 0.4, 0.2], thr=0.5), 'give thr or thresholds, not both'),
    (dict(topk=(1, 5)), r'topk must be an int >= 1, got \(1, 5\)'),
    (dict(topk=4), r'topk=4 is larger than the number of classes \(3\)'),
    (dict(thr=1.5), r'thr must be a number in \[0, 1\]'),
    (dict(loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
     r"softmax CrossEntropyLoss \(use_sigmoid=False\).*head=dict\(_delete_=True"),
    (dict(data_root='x'), r"has no argument\(s\) \['data_root'\]; its arguments are"),
])
def test_bad_head_arguments(bad, message):
    with pytest.raises(ValueError, match=message):
        MODELS.build(dict(HEAD, **bad))


def test_per_class_thresholds_from_the_tuning_file(tmp_path):
    path = tmp_path / 'thresholds.json'
    path.write_text(json.dumps({'global': 0.4, 'per_class': [0.9, None, 0.2]}))
    head = MODELS.build(dict(HEAD, thresholds=str(path)))  # an absolute path: read when built
    logits = torch.logit(torch.tensor([[0.85, 0.45, 0.25], [0.95, 0.35, 0.1]]))
    samples = head._get_predictions(logits, None)
    assert [s.pred_label.tolist() for s in samples] == [[1, 2], [0]]
    torch.testing.assert_close(samples[0].pred_score, torch.sigmoid(logits[0]))


def test_thresholds_with_topk_follow_the_ml_gcn_rule():
    head = MODELS.build(dict(HEAD, thresholds=[0.5, 0.3, 0.2], topk=1))
    logits = torch.logit(torch.tensor([[0.85, 0.95, 0.25], [0.4, 0.35, 0.1], [0.1, 0.2, 0.6]]))
    # in the top 1 and at least the class threshold: as multilabel_predict, as the metrics
    assert [s.pred_label.tolist() for s in head._get_predictions(logits, None)] == [[1], [], [2]]


def test_hook_gives_counts_to_losses_and_head(tmp_path):
    model = MODELS.build(dict(
        type='ImageClassifier', backbone=dict(type='ResNet', depth=18),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='ImbalancedMultiLabelHead', num_classes=20, in_channels=512, prior='counts',
                  loss=dict(type='DistributionBalancedLoss'))))
    dataset = MultiLabelBalancedDataset(dict(type='LongTailedShapes', split='train'),
                                        oversample_thr=0.1)
    runner = SimpleNamespace(model=model, cfg=Config(), _train_loop=dict(),
                             train_dataloader=SimpleNamespace(dataset=dataset))
    RunFactsHook().before_run(runner)  # a test run (train loop not built): nothing to do
    assert model.head.loss_module.class_counts is None
    runner._train_loop = BuiltLoop.__new__(BuiltLoop)
    runner.work_dir = str(tmp_path)
    RunFactsHook().before_run(runner)
    assert json.loads((tmp_path / 'class_counts.json').read_text())['num_images'] == 800
    assert model.head.loss_module.class_counts[0] == 400  # the original data's, not resampled
    assert model.head.loss_module.num_images == model.head.num_images == 800
    model.head.init_weights()
    assert model.head.fc.bias[0].item() == pytest.approx(0.0)  # head class: 400 of 800


@pytest.mark.parametrize('loss', ['focal', 'asl', 'cb-focal', 'db', 'two-way', 'mld-asl'])
def test_demo_loss_configs_train(loss, tmp_path):
    config = f'configs/demo/resnet18_shapes-lt_{loss}.py'
    assert Config.fromfile(config).model.head.loss.type != 'MultiLabelBCELoss'
    proc = run_tool('train.py', config, '--work-dir', tmp_path, '--no-validate', '--cfg-options',
                    'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=64',
                    'train_dataloader.num_workers=0')
    losses = [float(line.split('loss: ')[1].split()[0]) for line in
              (proc.stdout + proc.stderr).splitlines() if 'Epoch(train)' in line and 'loss: ' in line]
    assert losses and all(math.isfinite(v) for v in losses)
    assert (tmp_path / 'epoch_1.pth').exists()


REAL_DATA_CONFIGS = sorted(str(p) for d in ('voc', 'coco') for p in (REPO / 'configs' / d).glob('*.py'))


def test_real_data_configs_exist():
    names = {Path(p).stem for p in REAL_DATA_CONFIGS}
    assert names == {f'resnet50_{data}_{loss}' for data in ('voc07', 'coco')
                     for loss in ('bce', 'asl', 'db')} | {
                         f'resnet50_{data}-mlt_{loss}' for data in ('voc', 'coco')
                         for loss in ('bce', 'db')}


@pytest.mark.parametrize('config', REAL_DATA_CONFIGS)
def test_voc_and_coco_configs_build_their_model(config):
    cfg = Config.fromfile(config)
    cfg.model.backbone.pop('init_cfg')  # no download in tests
    model = MODELS.build(cfg.model)
    assert model.head.num_classes == (20 if 'voc' in config else 80)
    assert cfg.train_dataloader.dataset.type in ('VOC', 'COCOMultiLabel')
