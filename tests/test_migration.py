"""From mmpretrain by changing type names: its arguments, its test vectors, its shipped configs.

The expected values are mmpretrain 1.2.0's own (its tests/test_models/test_losses.py,
tests/test_evaluation/test_metrics/test_multi_label.py and test_voc_metrics.py),
reached through the plugin's counterparts under the mapping of docs/migrating.md,
or mmpretrain's implementation itself called beside the plugin's.
"""
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.runner import Runner
from mmpretrain.models.losses import AsymmetricLoss, FocalLoss
from mmpretrain.registry import METRICS, MODELS
from mmpretrain.structures import DataSample

import mmml_ext  # noqa: F401
from test_dataset_formats import write_images

# mmpretrain's loss test inputs
CLS_SCORE = torch.tensor([[5., -5., 0.], [5., -5., 0.]])
LABEL = torch.tensor([[1., 0., 1.], [0., 1., 0.]])
WEIGHT = torch.tensor([0.5, 0.5])
C = 3  # mmpretrain's 'mean' of a loss called alone is the element mean: the plugin's / C


def close(value, expected) -> bool:
    return torch.allclose(torch.as_tensor(value, dtype=torch.float32),
                          torch.tensor(expected, dtype=torch.float32))


# ----------------------------------------------------------------------------- losses
def test_asymmetric_loss_reproduces_mmpretrain_test_vectors():
    cfg = dict(type='MultiLabelAsymmetricLoss', gamma_pos=1.0, gamma_neg=4.0, clip=0.05,
               reduction='mean', loss_weight=1.0, use_sigmoid=True)
    loss = MODELS.build(cfg)
    assert close(loss(CLS_SCORE, LABEL) / C, 3.80845 / 3)
    assert close(loss(CLS_SCORE, LABEL, weight=WEIGHT) / C, 3.80845 / 6)
    no_clip = MODELS.build(dict(cfg, clip=None))  # mmpretrain: no clipping
    assert no_clip.clip == 0
    assert close(no_clip(CLS_SCORE, LABEL) / C, 5.1186 / 3)


def test_focal_loss_reproduces_mmpretrain_test_vectors():
    loss = MODELS.build(dict(type='MultiLabelFocalLoss', gamma=2.0, alpha=0.25,
                             reduction='mean', loss_weight=1.0, use_sigmoid=True))
    assert close(loss(CLS_SCORE, LABEL) / C, 0.8522)
    assert close(loss(CLS_SCORE, LABEL, weight=WEIGHT) / C, 0.8522 / 2)
    indices = torch.tensor([0, 1])  # one class index per sample
    assert close(loss(CLS_SCORE, indices) / C, 0.86664125)
    assert close(loss(CLS_SCORE, indices, weight=WEIGHT) / C, 0.86664125 / 2)


@pytest.mark.parametrize('ours, theirs', [
    (dict(type='MultiLabelAsymmetricLoss', gamma_pos=1.0, gamma_neg=4.0, clip=None,
          detach_focal_weight=False), AsymmetricLoss(gamma_pos=1.0, gamma_neg=4.0, clip=None)),
    (dict(type='MultiLabelFocalLoss', gamma=2.0, alpha=0.25), FocalLoss(gamma=2.0, alpha=0.25)),
])
def test_in_a_head_the_reduction_is_mmpretrains(ours, theirs):
    # mmpretrain's heads pass avg_factor=N: their 'mean' is the plugin's, values and gradients
    logits = torch.randn(6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    target = (torch.rand(6, 5, generator=torch.Generator().manual_seed(1)) < 0.4).double()
    ours_x, theirs_x = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    mine = MODELS.build(ours)(ours_x, target)
    reference = theirs(theirs_x, target, avg_factor=6)
    mine.backward()
    reference.backward()
    torch.testing.assert_close(mine, reference.to(mine.dtype))
    torch.testing.assert_close(ours_x.grad, theirs_x.grad)


@pytest.mark.parametrize('cfg, match', [
    (dict(type='MultiLabelAsymmetricLoss', use_sigmoid=False),
     r"use_sigmoid=False is mmpretrain's softmax loss for single-label tasks: keep mmpretrain's "
     r'CrossEntropyLoss or AsymmetricLoss\(use_sigmoid=False\)'),
    (dict(type='MultiLabelFocalLoss', use_sigmoid=False), 'multi-label, one sigmoid per class'),
    (dict(type='MultiLabelAsymmetricLoss', clip=-1), 'give clip=None or 0'),
    (dict(type='MultiLabelFocalLoss', avg_non_ignore=True),
     r"no argument\(s\) \['avg_non_ignore'\]; its arguments are \['gamma', 'alpha', "
     r"'class_weight', 'reduction', 'loss_weight', 'use_sigmoid'\].*_delete_=True"),
    (dict(type='ImbalancedMultiLabelHead', loss=dict(type='MultiLabelBCELoss')),
     "needs \\['num_classes', 'in_channels'\\].*keep it and swap its loss"),
    (dict(type='ImbalancedMultiLabelHead', num_classes=20, in_channels=2048, num_heads=1,
          lam=0.1), "arguments of mmpretrain's CSRAClsHead.*keep type='CSRAClsHead'"),
])
def test_mmpretrain_loss_and_head_arguments_without_a_counterpart_name_the_replacement(cfg,
                                                                                       match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(cfg)


def test_every_loss_takes_use_sigmoid_true_as_a_type_only_swap_leaves_it():
    for name in ('MultiLabelBCELoss', 'MultiLabelAsymmetricLoss', 'MultiLabelFocalLoss',
                 'HillLoss', 'SPLCLoss', 'LargeLossRejection'):
        loss = MODELS.build(dict(type=name, use_sigmoid=True, loss_weight=1.0))
        if hasattr(loss, 'set_epoch'):  # a Runner gives the epoch
            loss.set_epoch(0)
        assert loss(CLS_SCORE, LABEL).isfinite()


def test_the_head_defaults_to_mmpretrains_loss():
    head = MODELS.build(dict(type='ImbalancedMultiLabelHead', num_classes=3, in_channels=4))
    assert type(head.loss_module).__name__ == 'MultiLabelBCELoss'


# ---------------------------------------------------------------------------- metrics
Y_TRUE = [[0], [1, 3], [0, 1, 2], [3]]
Y_SCORE = [[0.8, 0, 0, 0.6], [0.2, 0, 0.6, 0], [0, 0.9, 0.6, 0], [0, 0, 0.2, 0.3]]


def samples(scores, labels=None, gt_score=None, difficult=None):
    out = []
    for i, score in enumerate(scores):
        sample = DataSample(num_classes=4).set_pred_score(torch.tensor(score))
        if labels is not None:
            sample.set_gt_label(labels[i])
        if gt_score is not None:
            sample.set_gt_score(torch.tensor(gt_score[i]))
        if difficult is not None:
            sample.set_metainfo(dict(gt_label_difficult=difficult[i]))
        out.append(sample)
    return out


def evaluate(cfgs, data):
    evaluator = Evaluator([METRICS.build(cfg) for cfg in cfgs])
    evaluator.process(data)
    return evaluator.evaluate(len(data))


@pytest.mark.parametrize('cfg, expected', [
    # MultiLabelMetric() -> precision 62.5, recall 50, f1-score 50 (macro)
    (dict(), dict(CP=62.5, CR=50.0, macro_F1=50.0)),
    # MultiLabelMetric(topk=1) -> *_top1 75 / 37.5 / 50
    (dict(topk=1), dict(CP_top1=75.0, CR_top1=37.5, macro_F1_top1=50.0)),
    # MultiLabelMetric(thr=0.25) -> *_thr-0.25 75 / 62.5 / 62.5
    (dict(thr=0.25), {'CP_thr-0.25': 75.0, 'CR_thr-0.25': 62.5, 'macro_F1_thr-0.25': 62.5}),
    # MultiLabelMetric(average='micro') -> 60 / 42.857143 / 50
    (dict(), dict(OP=60.0, OR=42.857143, OF1=50.0)),
])
def test_prf_reproduces_mmpretrain_multilabel_metric_vectors(cfg, expected):
    items = [key.split('_thr')[0].replace('_top1', '') for key in expected]
    result = evaluate([dict(type='MultiLabelPRF', items=items, absent_classes='include',
                            **cfg)], samples(Y_SCORE, Y_TRUE))
    for key, value in expected.items():
        assert result[f'multi-label/{key}'] == pytest.approx(value, abs=1e-5)


def test_prf_reproduces_mmpretrain_calculate_on_predicted_labels():
    predicted = [[0, 3], [0, 2], [1, 2], [2, 3]]  # as 0 / 1 scores at the default 0.5
    scores = [[1.0 if c in row else 0.0 for c in range(4)] for row in predicted]
    result = evaluate([dict(type='MultiLabelPRF', items=('CP', 'CR', 'macro_F1', 'OP', 'OR',
                                                         'OF1'))], samples(scores, Y_TRUE))
    expected = dict(CP=58.333333, CR=62.5, macro_F1=54.166667, OP=50.0, OR=57.142857,
                    OF1=53.333333)
    for key, value in expected.items():
        assert result[f'multi-label/{key}'] == pytest.approx(value, abs=1e-5)


AP_SCORES = [[0.9, 0.8, 0.3, 0.2], [0.1, 0.2, 0.2, 0.1], [0.7, 0.5, 0.9, 0.3],
             [0.8, 0.1, 0.1, 0.2]]


def test_mean_ap_reproduces_mmpretrain_average_precision_vectors():
    gt_score = [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0]]  # class 3: no positive
    data = samples(AP_SCORES, gt_score=gt_score)
    # AveragePrecision() -> 70.83333: a class with no positive counts as AP 0
    result = evaluate([dict(type='MeanAP', items=('mAP', ), absent_classes='include',
                            report=False)], data)
    assert result['multi-label/mAP'] == pytest.approx(70.83333, abs=1e-4)
    # the plugin's default leaves it out: mean of 100, 83.3333, 100
    result = evaluate([dict(type='MeanAP', items=('mAP', ), report=False)], data)
    assert result['multi-label/mAP'] == pytest.approx((100 + 250 / 3 + 100) / 3, abs=1e-4)
    # AveragePrecision.calculate: every class has a positive, a tie in class 3
    y_true = [[1, 0, 0, 0], [0, 1, 0, 1], [1, 1, 1, 0], [0, 0, 0, 1]]
    result = evaluate([dict(type='MeanAP', items=('mAP', ), report=False)],
                      samples(AP_SCORES, gt_score=y_true))
    assert result['multi-label/mAP'] == pytest.approx(70.833333, abs=1e-5)


@pytest.mark.parametrize('difficult_as_positive, prf, mean_ap', [
    (None, (75.0, 50.0, 58.333333), 83.3333),
    (False, (62.5, 50.0, 50.0), 70.8333),
    (True, (75.0, 50.0, 58.333333), 83.3333),
])
def test_voc_metric_vectors_with_difficult_as_positive_kept(difficult_as_positive, prf,
                                                            mean_ap):
    # VOCMultiLabelMetric / VOCAveragePrecision -> MultiLabelPRF / MeanAP, argument kept
    difficult = [[0], [2], [1], []]
    result = evaluate([dict(type='MultiLabelPRF', items=('CP', 'CR', 'macro_F1'),
                            difficult_as_positive=difficult_as_positive)],
                      samples(Y_SCORE, Y_TRUE, difficult=difficult))
    assert [result[f'multi-label/{k}'] for k in ('CP', 'CR', 'macro_F1')] == \
        pytest.approx(list(prf), abs=1e-5)
    ap_scores = [[0.8, 0.1, 0, 0.6], [0.2, 0.2, 0.7, 0], [0.1, 0.9, 0.6, 0.1],
                 [0, 0, 0.2, 0.3]]
    result = evaluate([dict(type='MeanAP', items=('mAP', ), report=False,
                            difficult_as_positive=difficult_as_positive)],
                      samples(ap_scores, Y_TRUE, difficult=difficult))
    assert result['multi-label/mAP'] == pytest.approx(mean_ap, abs=1e-4)


@pytest.mark.parametrize('cfg, match', [
    (dict(type='MultiLabelPRF', average='micro'), "OP / OR / OF1"),
    (dict(type='MultiLabelPRF', average='macro'), "CP / CR / macro_F1"),
    (dict(type='MeanAP', average=None), 'the ap column of the per-class report'),
    (dict(type='MultiLabelPRF', items=['precision', 'recall', 'f1-score']),
     r"no item\(s\) \['precision', 'recall', 'f1-score'\] \(mmpretrain names\)"),
    (dict(type='MultiLabelPRF', items=['support']), 'support are the columns of the per-class'),
    (dict(type='SubsetAccuracy', colect_device='cpu'),
     r"no argument\(s\) \['colect_device'\]; its arguments are \["),
])
def test_mmpretrain_metric_arguments_name_the_plugins_keys(cfg, match):
    with pytest.raises(ValueError, match=match):
        METRICS.build(cfg)


# ------------------------------------------------------------- the two shipped configs
VOC_CLASSES_USED = {'a': [('cat', 0), ('person', 0)], 'b': [('dog', 0), ('cat', 1)]}


def tiny_voc(root: Path) -> Path:
    """Two images in trainval and test, one label seen only on a difficult object."""
    write_images(root / 'JPEGImages', [f'{i}.jpg' for i in VOC_CLASSES_USED])
    (root / 'Annotations').mkdir(parents=True)
    for image_id, objects in VOC_CLASSES_USED.items():
        body = ''.join(f'<object><name>{n}</name><difficult>{d}</difficult></object>'
                       for n, d in objects)
        (root / 'Annotations' / f'{image_id}.xml').write_text(
            f'<annotation><filename>{image_id}.jpg</filename>{body}</annotation>')
    (root / 'ImageSets' / 'Main').mkdir(parents=True)
    for split in ('trainval', 'test'):
        (root / 'ImageSets' / 'Main' / f'{split}.txt').write_text('a\nb\n')
    return root


def documented_configs():
    """The worked examples of docs/migrating.md: whole configs on mmpretrain's shipped ones."""
    text = Path(__file__).parents[1].joinpath('docs', 'migrating.md').read_text()
    blocks = [code for code in re.findall(r'```python\n(.*?)```', text, re.S)
              if code.startswith('_base_ = ')]
    assert len(blocks) == 2
    return blocks


def load_documented(code: str, tmp_path: Path) -> Config:
    path = tmp_path / 'migrated.py'
    path.write_text(code)
    return Config.fromfile(str(path))


def run_one_iteration(cfg: Config, root: Path, work_dir: Path) -> dict:
    """Test-only changes: the tiny tree, no download, no checkpoint, one epoch of 1 iteration."""
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(root)
        cfg[loader].update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.model.backbone.init_cfg = None
    cfg.default_hooks.checkpoint = None
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
    cfg.work_dir = str(work_dir)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner.message_hub.log_scalars


@pytest.mark.parametrize('index, base, head', [
    (0, 'vgg/vgg16_8xb16_voc.py', 'MultiLabelClsHead'),
    (1, 'csra/resnet101-csra_1xb16_voc07-448px.py', 'ImbalancedMultiLabelHead')])
def test_shipped_voc_configs_train_and_validate_after_the_documented_swaps(index, base, head,
                                                                         tmp_path):
    code = documented_configs()[index]
    assert f"_base_ = ['mmpretrain::{base}']" in code  # the shipped config, installed
    cfg = load_documented(code, tmp_path)
    assert cfg.model.head.type == head
    assert cfg.model.head.loss.type == 'MultiLabelAsymmetricLoss'
    if head == 'MultiLabelClsHead':  # only the type changed: the base's use_sigmoid stays
        assert cfg.model.head.loss.use_sigmoid is True
    scalars = run_one_iteration(cfg, tiny_voc(tmp_path / 'voc'), tmp_path / 'work')
    assert torch.isfinite(torch.tensor(scalars['train/loss'].current()))
    for key in ('CP', 'CR', 'CF1', 'OP', 'OR', 'OF1', 'mAP'):
        assert f'val/multi-label/{key}' in scalars
