"""Losses for unknown and missing labels against direct transcriptions of their papers' formulas.

MultiLabelBCELoss (ignore / assume negative / weak negatives, Cole et al. 2021),
HillLoss and SPLCLoss (Zhang et al. 2021), LargeLossRejection (Kim et al. 2022):
every reference below is written from the formula, cell by cell where the
rule is a choice, in float64, independent of the kernels under test.
"""
import math

import pytest
import torch
from mmengine.logging import MessageHub
from mmpretrain.registry import MODELS

import mmml_ext  # noqa: F401
from mmml_ext.functional.large_loss import modification_rate


def batch(seed=0, n=6, c=5, dtype=torch.float64, unknown=0.3):
    """Logits, and targets with positives, negatives and unknown (-1) cells."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g, dtype=dtype) * 3
    target = (torch.rand(n, c, generator=g) < 0.35).to(dtype)
    target[torch.rand(n, c, generator=g) < unknown] = -1
    return logits, target


def bce_cell(x: float, y: float) -> float:
    p = 1 / (1 + math.exp(-x))
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


# ----------------------------------------------------------------- MultiLabelBCELoss
@pytest.mark.parametrize('unknown, weak_weight', [('ignore', None), ('negative', None),
                                                  ('weak', None), ('weak', 0.3)])
def test_bce_rules_follow_the_formula(unknown, weak_weight):
    logits, target = batch()
    c = target.shape[1]
    loss = MODELS.build(dict(type='MultiLabelBCELoss', unknown=unknown, weak_weight=weak_weight,
                             reduction='none'))
    expected = torch.zeros_like(logits)
    for i in range(logits.shape[0]):
        for j in range(c):
            y = target[i, j].item()
            if y != -1:
                expected[i, j] = bce_cell(logits[i, j].item(), y)
            elif unknown == 'negative':
                expected[i, j] = bce_cell(logits[i, j].item(), 0.0)
            elif unknown == 'weak':  # Cole et al.: weight 1 / (C - 1) unless given
                w = 1 / (c - 1) if weak_weight is None else weak_weight
                expected[i, j] = w * bce_cell(logits[i, j].item(), 0.0)
    torch.testing.assert_close(loss(logits, target), expected, rtol=1e-12, atol=1e-12)


def test_bce_without_unknowns_is_mmpretrain_sigmoid_cross_entropy_under_a_head():
    logits, target = batch(1, unknown=0.0)
    ours = MODELS.build(dict(type='MultiLabelBCELoss'))
    theirs = MODELS.build(dict(type='CrossEntropyLoss', use_sigmoid=True))
    n = logits.shape[0]  # mmpretrain's multi-label heads pass avg_factor=N
    torch.testing.assert_close(ours(logits.float(), target.float(), avg_factor=n),
                               theirs(logits.float(), target.float(), avg_factor=n))


def test_bce_gradcheck_float64():
    for unknown in ('ignore', 'negative', 'weak'):
        loss = MODELS.build(dict(type='MultiLabelBCELoss', unknown=unknown))
        logits, target = batch(2)
        logits.requires_grad_()
        assert torch.autograd.gradcheck(lambda x: loss(x, target), (logits, ))


@pytest.mark.parametrize('cfg, message', [
    (dict(unknown='zero'), "unknown must be one of"),
    (dict(unknown='ignore', weak_weight=0.2), "weak_weight applies to unknown='weak' only"),
    (dict(unknown='weak', weak_weight=0), r'weak_weight must be a number in \(0, 1\]'),
])
def test_bce_bad_arguments(cfg, message):
    with pytest.raises(ValueError, match=message):
        MODELS.build(dict(type='MultiLabelBCELoss', **cfg))


# ----------------------------------------------------------------- Hill
def hill_cell(x, y, lamb=1.5, margin=1.0, gamma=2.0):
    """Zhang et al. 2021, eq. of the Hill loss: focal-margin positives, (lambda - p) p^2
    negatives."""
    p = 1 / (1 + math.exp(-x))
    p_m = 1 / (1 + math.exp(-(x - margin)))
    if y == 1:
        return -(1 - p_m)**gamma * math.log(p_m)
    return (lamb - p) * p**2


@pytest.mark.parametrize('params', [{}, dict(lamb=2.0, margin=0.5, gamma=1.0),
                                    dict(margin=0.0, gamma=0.0)])
def test_hill_follows_the_formula(params):
    logits, target = batch(3)
    loss = MODELS.build(dict(type='HillLoss', reduction='none', **params))
    out = loss(logits, target)
    for i in range(logits.shape[0]):
        for j in range(logits.shape[1]):
            y = target[i, j].item()  # unknown cells are negatives by default (the paper's data)
            expected = hill_cell(logits[i, j].item(), 1.0 if y == 1 else 0.0, **params)
            assert out[i, j].item() == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_hill_defaults_are_the_papers():
    loss = MODELS.build(dict(type='HillLoss'))
    assert (loss.lamb, loss.margin, loss.gamma, loss.unknown) == (1.5, 1.0, 2.0, 'negative')


def test_hill_gradient_of_a_negative_is_the_derivative_of_the_hill():
    # d/dx (lambda - p) p^2 = (2 lambda p - 3 p^2) p (1 - p): zero at p = 0 and p = 2 lambda / 3
    x = torch.tensor([[0.3, -1.2, 2.0]], dtype=torch.float64, requires_grad=True)
    MODELS.build(dict(type='HillLoss', reduction='sum'))(x, torch.zeros_like(x)).backward()
    p = torch.sigmoid(x.detach())
    torch.testing.assert_close(x.grad, (3.0 * p - 3 * p * p) * p * (1 - p))


# ----------------------------------------------------------------- SPLC
def splc_cell(x, y, epoch, tau=0.6, change_epoch=1, margin=1.0, gamma=2.0):
    """Zhang et al. 2021, SPLC: from change_epoch on, a negative with p > tau is a positive
    (focal loss, no margin); positives focal-margin; other negatives focal."""
    p = 1 / (1 + math.exp(-x))
    if y == 1:
        p_m = 1 / (1 + math.exp(-(x - margin)))
        return -(1 - p_m)**gamma * math.log(p_m)
    if epoch >= change_epoch and p > tau:
        return -(1 - p)**gamma * math.log(p)
    return -p**gamma * math.log(1 - p)


@pytest.mark.parametrize('epoch', [0, 1, 4])
@pytest.mark.parametrize('params', [{}, dict(tau=0.8, change_epoch=2, margin=0.5, gamma=1.0)])
def test_splc_follows_the_formula_by_epoch(epoch, params):
    logits, target = batch(4, n=10)
    loss = MODELS.build(dict(type='SPLCLoss', reduction='none', **params))
    loss.set_epoch(epoch)
    out = loss(logits, target)
    corrected = 0
    for i in range(logits.shape[0]):
        for j in range(logits.shape[1]):
            x, y = logits[i, j].item(), 1.0 if target[i, j].item() == 1 else 0.0
            expected = splc_cell(x, y, epoch, **params)
            assert out[i, j].item() == pytest.approx(expected, rel=1e-12, abs=1e-14)
            corrected += y == 0 and epoch >= params.get('change_epoch', 1) and \
                1 / (1 + math.exp(-x)) > params.get('tau', 0.6)
    if epoch >= params.get('change_epoch', 1):
        assert corrected > 0  # the case is exercised


def test_splc_reads_the_epoch_of_the_runner():
    hub = MessageHub.get_instance('test_splc_epoch')  # the newest instance is the current one
    loss = MODELS.build(dict(type='SPLCLoss', reduction='none'))
    x = torch.tensor([[2.0]], dtype=torch.float64)  # p = 0.88 > tau
    y = torch.zeros(1, 1, dtype=torch.float64)
    hub.update_info('epoch', 0)
    assert loss(x, y).item() == pytest.approx(splc_cell(2.0, 0.0, 0))
    hub.update_info('epoch', 1)
    assert loss(x, y).item() == pytest.approx(splc_cell(2.0, 0.0, 1))
    hub.update_info('epoch', None)


def test_splc_outside_a_runner_says_how_to_give_the_epoch():
    MessageHub.get_instance('test_splc_no_epoch')
    with pytest.raises(RuntimeError, match=r'set_epoch\(epoch\)'):
        MODELS.build(dict(type='SPLCLoss'))(torch.zeros(1, 2), torch.zeros(1, 2))


@pytest.mark.parametrize('cfg, message', [
    (dict(type='SPLCLoss', tau=1.0), 'tau'), (dict(type='SPLCLoss', change_epoch=-1),
                                               'change_epoch must be an integer >= 0'),
    (dict(type='HillLoss', lamb=0.5), 'lamb'), (dict(type='HillLoss', gamma=-1), 'gamma'),
    (dict(type='HillLoss', unknown='weak'), 'unknown must be one of'),
])
def test_robust_losses_bad_arguments(cfg, message):
    with pytest.raises(ValueError, match=message):
        MODELS.build(cfg)


@pytest.mark.parametrize('cfg', [dict(type='HillLoss'), dict(type='SPLCLoss'),
                                 dict(type='HillLoss', margin=0.0, gamma=0.0)])
def test_robust_losses_gradcheck_float64(cfg):
    loss = MODELS.build(cfg)
    if hasattr(loss, 'set_epoch'):
        loss.set_epoch(1)
    logits, target = batch(5)
    logits = logits.clamp(-3, 3)  # away from SPLC's tau switch by construction below
    keep = (torch.sigmoid(logits) - 0.6).abs() > 1e-3
    logits = torch.where(keep, logits, logits + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: loss(x, target), (logits, ))


# ----------------------------------------------------------------- Large loss
def large_loss_reference(x, y, mode, rate):
    """Kim et al. 2022, written per cell: unobserved (-1) cells are negatives; among them the
    ceil(rate * N * C) largest BCE losses are rejected (0) or corrected (positive loss)."""
    n, c = x.shape
    cells = [(bce_cell(x[i, j].item(), 0.0), i, j) for i in range(n) for j in range(c)
             if y[i, j].item() == -1]
    k = min(math.ceil(round(rate * n * c, 9)), len(cells))
    chosen = {(i, j) for _, i, j in sorted(cells, reverse=True)[:k]}
    out = torch.zeros(n, c, dtype=torch.float64)
    for i in range(n):
        for j in range(c):
            label = max(y[i, j].item(), 0.0)
            if (i, j) not in chosen:
                out[i, j] = bce_cell(x[i, j].item(), label)
            elif mode != 'reject':
                out[i, j] = bce_cell(x[i, j].item(), 1.0)
    return out, chosen


@pytest.mark.parametrize('mode', ['reject', 'correct', 'correct_permanent'])
@pytest.mark.parametrize('epoch', [0, 1, 5])
def test_large_loss_follows_the_formula(mode, epoch):
    logits, target = batch(6, n=8, c=10, unknown=0.6)
    loss = MODELS.build(dict(type='LargeLossRejection', mode=mode, delta_rel=3.0,
                             reduction='none'))
    loss.set_epoch(epoch)
    # the paper's schedule: (t - 1) * delta_rel % with t counted from 1; LL-Cp fixed
    rate = 0 if epoch == 0 else (0.03 if mode == 'correct_permanent' else epoch * 0.03)
    assert modification_rate(mode, epoch, 3.0) == pytest.approx(rate)
    expected, chosen = large_loss_reference(logits, target, mode, rate)
    out = loss(logits, target, sample_idx=list(range(8)))
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    assert len(chosen) == (0 if epoch == 0 else math.ceil(rate * 80))


def test_large_loss_ties_at_the_kth_loss_are_all_chosen():
    loss = MODELS.build(dict(type='LargeLossRejection', delta_rel=25.0, reduction='none'))
    loss.set_epoch(1)  # rate 0.25 of 4 cells: k = 1, and two cells tie for the largest loss
    x = torch.tensor([[2.0, 2.0, 0.0, 5.0]])
    y = torch.tensor([[-1.0, -1.0, -1.0, 1.0]])
    out = loss(x, y)
    assert out[0, 0] == 0 and out[0, 1] == 0 and out[0, 2] > 0


def test_large_loss_keeps_observed_negatives():
    loss = MODELS.build(dict(type='LargeLossRejection', delta_rel=50.0, reduction='none'))
    loss.set_epoch(2)  # rate 1.0: every unobserved cell is rejected, no observed one
    x = torch.tensor([[4.0, 3.0, -1.0]])
    y = torch.tensor([[0.0, -1.0, 1.0]])
    out = loss(x, y)
    assert out[0, 1] == 0
    assert out[0, 0].item() == pytest.approx(bce_cell(4.0, 0.0), rel=1e-6)
    assert out[0, 2].item() == pytest.approx(bce_cell(-1.0, 1.0), rel=1e-6)


def test_permanent_correction_remembers_cells_by_image_and_survives_a_checkpoint(tmp_path):
    cfg = dict(type='LargeLossRejection', mode='correct_permanent', delta_rel=10.0,
               reduction='none')
    loss = MODELS.build(cfg)
    loss.set_epoch(1)
    logits, target = batch(7, n=4, c=5, unknown=0.7)
    _, chosen = large_loss_reference(logits, target, 'reject', 0.1)
    loss(logits, target, sample_idx=[10, 11, 12, 13])
    expected_keys = sorted((10 + i) * 5 + j for i, j in chosen)
    assert loss.corrected.tolist() == expected_keys
    # image 11 comes back in another batch at another position, with low logits: its
    # corrected cells are positives now, whatever their loss
    again = torch.full((1, 5), -3.0, dtype=torch.float64)
    row = target[1:2].clone()
    out = loss(again, row, sample_idx=[11])
    for key in expected_keys:
        if key // 5 == 11:
            assert out[0, key % 5].item() == pytest.approx(bce_cell(-3.0, 1.0))
    # through a checkpoint, read with weights_only=True
    torch.save(loss.state_dict(), tmp_path / 'loss.pth')
    restored = MODELS.build(cfg)
    restored.load_state_dict(torch.load(tmp_path / 'loss.pth', weights_only=True))
    assert torch.equal(restored.corrected, loss.corrected)
    # nothing is remembered in eval mode
    loss.eval()
    before = loss.corrected.clone()
    loss(logits * 5, target, sample_idx=[0, 1, 2, 3])
    assert torch.equal(loss.corrected, before)


def test_permanent_correction_needs_sample_idx():
    loss = MODELS.build(dict(type='LargeLossRejection', mode='correct_permanent'))
    loss.set_epoch(1)
    with pytest.raises(ValueError, match='needs their sample_idx'):
        loss(torch.zeros(2, 3), torch.full((2, 3), -1.0))
    with pytest.raises(ValueError, match='3 sample_idx for 2 samples'):
        loss(torch.zeros(2, 3), torch.full((2, 3), -1.0), sample_idx=[0, 1, 2])


@pytest.mark.parametrize('cfg, message', [
    (dict(mode='drop'), 'mode must be one of'),
    (dict(delta_rel=0), r'delta_rel must be a percentage in \(0, 100\]'),
    (dict(delta_rel=150), r'delta_rel must be a percentage'),
])
def test_large_loss_bad_arguments(cfg, message):
    with pytest.raises(ValueError, match=message):
        MODELS.build(dict(type='LargeLossRejection', **cfg))


@pytest.mark.parametrize('mode', ['reject', 'correct'])
def test_large_loss_gradcheck_float64(mode):
    loss = MODELS.build(dict(type='LargeLossRejection', mode=mode, delta_rel=10.0))
    loss.set_epoch(2)
    logits, target = batch(8, unknown=0.6)
    logits.requires_grad_()
    assert torch.autograd.gradcheck(lambda x: loss(x, target), (logits, ))


# ----------------------------------------------------------------- end to end: -1 through
# PackInputs, mmpretrain's ClsDataPreprocessor and the head into every plugin loss
C = 4
MASKING_CFGS = [
    dict(type='MultiLabelAsymmetricLoss'),
    dict(type='MultiLabelFocalLoss'),
    dict(type='MultiLabelFocalLoss', alpha=None, class_weight=[1, 2, 3, 4]),
    dict(type='ClassBalancedLoss', class_counts=[50, 20, 5, 1]),
    dict(type='DistributionBalancedLoss', class_counts=[50, 20, 5, 1], num_images=60),
    dict(type='MultiLabelBCELoss'),
    dict(type='HillLoss', unknown='ignore'),
    dict(type='SPLCLoss', unknown='ignore'),
]
# a loss of sets (rows and columns) that masks unknown cells: a known cell outside every set
# that it ranks has no gradient either
SET_WISE_CFGS = [dict(type='TwoWayMultiLabelLoss')]
# a documented reading of unknown cells instead of masking them
READING_CFGS = [dict(type='MultiLabelBCELoss', unknown='negative'),
                dict(type='MultiLabelBCELoss', unknown='weak'), dict(type='HillLoss'),
                dict(type='SPLCLoss'), dict(type='LargeLossRejection'),
                dict(type='LargeLossRejection', mode='correct_permanent')]


def packed_batch():
    """Four images through the real PackInputs and ClsDataPreprocessor; -1 cells in gt_score."""
    from mmpretrain.datasets.transforms import PackInputs
    from mmpretrain.models.utils import ClsDataPreprocessor
    scores = [[1, -1, 0, -1], [-1, 1, -1, -1], [0, 0, 1, -1], [1, -1, -1, 1]]
    pack = PackInputs()
    samples = [pack.transform(dict(img=torch.zeros(8, 8, 3).numpy(), sample_idx=i,
                                   gt_label=[j for j, v in enumerate(row) if v == 1],
                                   gt_score=torch.tensor(row, dtype=torch.float32)))
               for i, row in enumerate(scores)]
    preprocessor = ClsDataPreprocessor(to_onehot=True, num_classes=C)
    data = preprocessor(dict(inputs=[s['inputs'] for s in samples],
                             data_samples=[s['data_samples'] for s in samples]), training=True)
    return data['data_samples'], torch.tensor(scores, dtype=torch.float32)


def head_loss_and_logit_grad(loss_cfg, data_samples):
    head = MODELS.build(dict(type='ImbalancedMultiLabelHead', num_classes=C, in_channels=6,
                             loss=loss_cfg))
    if hasattr(head.loss_module, 'set_epoch'):
        head.loss_module.set_epoch(1)
    logits = {}

    def keep(module, args, output):
        output.retain_grad()
        logits['x'] = output

    head.fc.register_forward_hook(keep)
    feats = torch.randn(len(data_samples), 6, generator=torch.Generator().manual_seed(0))
    losses = head.loss((feats, ), data_samples)
    losses['loss'].backward()
    return losses['loss'], logits['x'].grad


def test_the_preprocessor_keeps_unknown_cells():
    data_samples, scores = packed_batch()
    assert torch.equal(torch.stack([s.gt_score for s in data_samples]), scores)


def gradient_masked_at_unknown_cells(cfg):
    """(logit gradient, targets) of a head step with ``cfg``, checked: a positive finite loss,
    no gradient at an unknown cell."""
    data_samples, scores = packed_batch()
    value, grad = head_loss_and_logit_grad(cfg, data_samples)
    unknown = scores == -1
    assert torch.isfinite(value) and value > 0
    assert torch.equal(grad[unknown], torch.zeros(int(unknown.sum())))
    return grad, scores


@pytest.mark.parametrize('cfg', MASKING_CFGS)
def test_every_masking_loss_gives_unknown_cells_no_gradient_through_the_head(cfg):
    grad, scores = gradient_masked_at_unknown_cells(cfg)
    assert (grad[scores != -1] != 0).all()


@pytest.mark.parametrize('cfg', READING_CFGS)
def test_losses_that_read_unknown_cells_give_them_a_gradient(cfg):
    data_samples, scores = packed_batch()
    _, grad = head_loss_and_logit_grad(cfg, data_samples)
    assert (grad[scores == -1] != 0).any()


@pytest.mark.parametrize('cfg', SET_WISE_CFGS)
def test_a_set_wise_loss_gives_unknown_cells_no_gradient_through_the_head(cfg):
    grad, scores = gradient_masked_at_unknown_cells(cfg)
    positive, negative, unknown = scores == 1, scores == 0, scores == -1
    # ranked: a cell whose row, or column, holds both a positive and a negative
    ranked = ((positive.any(1) & negative.any(1))[:, None]
              | (positive.any(0) & negative.any(0))[None, :]) & ~unknown
    assert ranked.any() and (grad[ranked] != 0).all()


def test_every_plugin_loss_is_covered_by_the_end_to_end_tests():
    from mmml_ext.models import losses
    registered = {name for name in losses.__all__
                  if isinstance(getattr(losses, name), type)
                  and issubclass(getattr(losses, name), losses.MultiLabelLoss)
                  and getattr(losses, name) is not losses.MultiLabelLoss}
    assert registered == {cfg['type'] for cfg in MASKING_CFGS + READING_CFGS + SET_WISE_CFGS}


def test_the_head_refuses_unknown_cells_for_a_loss_that_cannot_mask_them():
    data_samples, _ = packed_batch()
    head = MODELS.build(dict(type='ImbalancedMultiLabelHead', num_classes=C, in_channels=6,
                             loss=dict(type='CrossEntropyLoss', use_sigmoid=True)))
    with pytest.raises(ValueError, match=r'unknown \(-1\) cells and CrossEntropyLoss'):
        head.loss((torch.zeros(4, 6), ), data_samples)


def test_mixup_of_unknown_cells_is_named_by_the_loss():
    loss = MODELS.build(dict(type='MultiLabelBCELoss'))
    mixed = 0.7 * torch.tensor([[1.0, -1.0]]) + 0.3 * torch.tensor([[0.0, 1.0]])  # -0.4
    with pytest.raises(ValueError, match='Mixup or CutMix'):
        loss(torch.zeros(1, 2), mixed)


def test_permanent_corrections_reach_every_process(tmp_path):
    import json
    import sys

    from cli_helpers import free_port, run_cmd
    from dist_loss_worker import NUM_CLASSES, NUM_SAMPLES, fixed_data
    from mmml_ext.functional.large_loss import large_loss_selection
    from mmml_ext.functional.bce_loss import binary_cross_entropy
    world = 2
    out = tmp_path / 'corrected'
    run_cmd([sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={world}',
             f'--master_port={free_port()}', 'tests/dist_loss_worker.py', out], timeout=300)
    held = [json.loads((tmp_path / f'corrected.{r}.json').read_text()) for r in range(world)]
    # each process chose among its own batch; every one holds the union, by image index
    logits, target = fixed_data()
    expected = set()
    for rank in range(world):
        rows = list(range(rank, NUM_SAMPLES, world))
        unobserved = target[rows] == -1
        chosen = large_loss_selection(binary_cross_entropy(logits[rows], target[rows].clamp(0)),
                                      unobserved, 0.1)
        for i, j in chosen.nonzero().tolist():
            expected.add(rows[i] * NUM_CLASSES + j)
    assert len(expected) > world
    assert held[0] == held[1] == sorted(expected)


def test_run_facts_hook_refuses_batch_augments_with_unknown_labels():
    from types import SimpleNamespace

    from mmml_ext.engine.run_facts_hook import _hides_labels, _refuse_mixing_unknown_labels

    def runner(unknown, augments):
        dataset = SimpleNamespace(metainfo=dict(classes=('a', 'b'), unknown_labels=unknown))
        model = SimpleNamespace(data_preprocessor=SimpleNamespace(batch_augments=augments))
        return SimpleNamespace(train_dataloader=SimpleNamespace(dataset=dataset), model=model)

    with pytest.raises(ValueError, match=r'unknown \(-1\) labels.*batch_augments'):
        _refuse_mixing_unknown_labels(runner(True, object()))
    _refuse_mixing_unknown_labels(runner(True, None))  # no augments: fine
    _refuse_mixing_unknown_labels(runner(False, object()))  # full labels: fine
    from mmml_ext.datasets import LongTailedShapes, PartialLabelDataset
    from mmml_ext.datasets import MultiLabelBalancedDataset
    hidden = PartialLabelDataset(LongTailedShapes(split='val'), single_positive=True)
    assert _hides_labels(MultiLabelBalancedDataset(hidden, oversample_thr=0.1)) and not _hides_labels(hidden.dataset)


def test_a_single_positive_demo_config_trains_and_tests(tmp_path):
    """Training on one positive per image (LL-R, whose rate grows from the second epoch), then
    testing on full labels, with the tools a user runs."""
    import numpy as np

    from cli_helpers import run_tool
    config = 'configs/demo/resnet18_shapes-lt_partial-sp_ll-r.py'
    small = ['train_dataloader.dataset.dataset.indices=64', 'train_dataloader.num_workers=0',
             'val_dataloader.dataset.indices=40', 'val_dataloader.num_workers=0',
             'test_dataloader.dataset.indices=40', 'test_dataloader.num_workers=0']
    proc = run_tool('train.py', config, '--work-dir', tmp_path, '--cfg-options',
                    'train_cfg.max_epochs=2', 'train_cfg.val_interval=2', *small)
    log = proc.stdout + proc.stderr
    assert 'kept 64 of' in log and 'unknown (-1, no loss)' in log
    run_tool('test.py', config, tmp_path / 'epoch_2.pth', '--work-dir', tmp_path,
             '--cfg-options', *small)
    with np.load(tmp_path / 'test_predictions.npz') as saved:
        target = saved['target']
    # the test set keeps its full labels: no unknown cell, several positives per image
    assert target.shape == (40, 20) and (target >= 0).all() and target.sum(1).max() > 1
