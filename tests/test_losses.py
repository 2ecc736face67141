"""Losses: closed forms, the fused ASL's gradient, parity with mmpretrain and Keras, robustness."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

import mmml_ext  # noqa: F401
from mmml_ext.functional.asymmetric_loss import asymmetric_loss
from mmml_ext.functional import focal_loss as focal_module
from mmml_ext.functional.balanced_losses import (effective_number_weights, prior_logit_bias,
                                                 rebalanced_weights)
from mmml_ext.functional.focal_loss import sigmoid_focal_loss


def asymmetric_loss_reference(x, y, gamma_pos, gamma_neg, clip, eps, detach):
    """ASL written plainly for autograd, as the official code computes it."""
    p = torch.sigmoid(x)
    p_m = (p - clip).clamp(min=0)
    if eps > 0:
        log_pos, log_neg = p.clamp(min=eps).log(), (1 - p_m).clamp(min=eps).log()
    else:
        log_pos = F.logsigmoid(x)
        log_neg = (1 - p_m).log() if clip > 0 else F.logsigmoid(-x)
    w_pos, w_neg = (1 - p)**gamma_pos, p_m**gamma_neg
    if detach:
        w_pos, w_neg = w_pos.detach(), w_neg.detach()
    return -(y * w_pos * log_pos + (1 - y) * w_neg * log_neg)


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def random_batch(seed=0, n=8, c=6, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g, dtype=dtype) * 3
    target = (torch.rand(n, c, generator=g) < 0.4).to(dtype)
    return logits, target


# ----------------------------------------------------------------- closed forms
def test_asl_closed_form():
    loss = MODELS.build(dict(type='MultiLabelAsymmetricLoss', gamma_pos=1, gamma_neg=4, clip=0.05,
                             reduction='none'))
    x = torch.tensor([[2.0, 0.5, -1.0]])
    y = torch.tensor([[1.0, 0.0, 0.0]])
    p = [sigmoid(v) for v in (2.0, 0.5, -1.0)]
    expected = [-(1 - p[0]) * math.log(p[0]),
                -((p[1] - 0.05)**4) * math.log(1 - p[1] + 0.05),
                -((p[2] - 0.05)**4) * math.log(1 - p[2] + 0.05)]
    torch.testing.assert_close(loss(x, y)[0], torch.tensor(expected))
    # below the margin a negative costs nothing
    assert loss(torch.tensor([[-4.0]]), torch.tensor([[0.0]])).item() == 0.0


def test_focal_closed_form_scalar_alpha():
    loss = MODELS.build(dict(type='MultiLabelFocalLoss', gamma=2, alpha=0.25, reduction='none'))
    p0, p1 = sigmoid(1.0), sigmoid(-0.5)
    expected = [-0.25 * (1 - p0)**2 * math.log(p0), -0.75 * p1**2 * math.log(1 - p1)]
    out = loss(torch.tensor([[1.0, -0.5]]), torch.tensor([[1.0, 0.0]]))
    torch.testing.assert_close(out[0], torch.tensor(expected))


def keras_multilabel_focal(y_pred_prob, y_true, alpha, gamma=2.0):
    """The well-known Keras multi-label focal loss with a per-class alpha, written out."""
    pt = y_true * y_pred_prob + (1 - y_true) * (1 - y_pred_prob)
    per_element = -alpha * (1 - pt)**gamma * torch.log(pt)
    return per_element.sum(dim=1).mean()


def test_focal_with_class_weight_is_the_keras_per_class_alpha_loss():
    logits, target = random_batch(1, dtype=torch.float64)
    alpha = torch.tensor([0.9, 0.1, 0.5, 0.25, 0.6, 0.3], dtype=torch.float64)
    loss = MODELS.build(dict(type='MultiLabelFocalLoss', gamma=2, alpha=None,
                             class_weight=alpha.tolist()))
    expected = keras_multilabel_focal(torch.sigmoid(logits), target, alpha)
    assert loss(logits, target).item() == pytest.approx(expected.item(), rel=1e-6)


def test_class_balanced_weights_closed_form():
    w = effective_number_weights([100, 10, 1], beta=0.9)
    raw = torch.tensor([0.1 / (1 - 0.9**100), 0.1 / (1 - 0.9**10), 1.0], dtype=torch.float64)
    torch.testing.assert_close(w, raw * 3 / raw.sum())
    assert torch.allclose(effective_number_weights([5, 50], beta=0.0), torch.ones(2, dtype=torch.float64))


def test_class_balanced_loss_weights_the_inner_loss():
    logits, target = random_batch(2, c=3)
    counts = [100, 10, 1]
    cb = MODELS.build(dict(type='ClassBalancedLoss', beta=0.9, class_counts=counts,
                           loss=dict(type='CrossEntropyLoss', use_sigmoid=True),
                           reduction='none'))
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction='none')
    torch.testing.assert_close(cb(logits, target), bce * effective_number_weights(counts, 0.9).float())


def test_db_rebalanced_weights_closed_form():
    counts = [100, 10, 1]
    target = torch.tensor([[1.0, 1.0, 0.0]])
    w = rebalanced_weights(target, counts, map_alpha=0.1, map_beta=10.0, map_gamma=0.3)
    repeat = 1 / 100 + 1 / 10
    expected = [1 / (1 + math.exp(-10 * ((1 / n) / repeat - 0.3))) + 0.1 for n in counts]
    torch.testing.assert_close(w[0], torch.tensor(expected))


def test_db_loss_closed_form_without_focal():
    counts, num_images = [50, 5], 100
    loss = MODELS.build(dict(type='DistributionBalancedLoss', class_counts=counts,
                             num_images=num_images, focal=False, reduction='none',
                             init_bias=0.05, neg_scale=5.0))
    x, y = torch.tensor([[0.7, -0.3]]), torch.tensor([[1.0, 0.0]])
    w = rebalanced_weights(y, counts)[0]
    bias = [0.05 * math.log((n / num_images) / (1 - n / num_images)) / 5 for n in counts]
    z_pos = 0.7 + bias[0]
    z_neg = 5 * (-0.3 + bias[1])
    expected = [w[0].item() * -math.log(sigmoid(z_pos)),
                w[1].item() / 5 * -math.log(1 - sigmoid(z_neg))]
    torch.testing.assert_close(loss(x, y)[0], torch.tensor(expected))


def test_prior_logit_bias():
    torch.testing.assert_close(prior_logit_bias([10, 50], 100),
                               torch.tensor([math.log(0.1 / 0.9), 0.0]))


# ----------------------------------------------------------------- reduction
def test_mean_is_sum_over_classes_averaged_over_samples():
    logits, target = random_batch(3)
    loss = MODELS.build(dict(type='MultiLabelFocalLoss'))
    per_element = loss(logits, target, reduction_override='none')
    assert loss(logits, target).item() == pytest.approx(per_element.sum(1).mean().item())
    assert loss(logits, target, avg_factor=2).item() == pytest.approx(per_element.sum().item() / 2)
    assert loss(logits, target, reduction_override='sum').item() == pytest.approx(
        per_element.sum().item())
    w = torch.arange(8.0)
    assert loss(logits, target, weight=w).item() == pytest.approx(
        (per_element * w[:, None]).sum(1).mean().item())


def test_index_lists_and_ignored_targets():
    loss = MODELS.build(dict(type='MultiLabelAsymmetricLoss', reduction='none'))
    logits = torch.tensor([[1.0, -1.0, 0.5], [0.2, 0.3, -2.0]])
    onehot = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    torch.testing.assert_close(loss(logits, [[0, 2], [1]]), loss(logits, onehot))
    ignored = onehot.clone()
    ignored[0, 1] = -1
    out = loss(logits, ignored)
    assert out[0, 1] == 0 and torch.equal(out[1], loss(logits, onehot)[1])


# ----------------------------------------------------------------- fused ASL
@pytest.mark.parametrize('gamma_pos, gamma_neg, clip, detach', [
    (0, 4, 0.05, True), (1, 4, 0.05, False), (0.5, 2, 0.0, False), (2, 0.5, 0.1, False),
    (0, 0, 0.0, False), (1, 3, 0.2, True), (1, 1, 0.05, False), (0, 4, 0.0, True)])
def test_fused_asl_gradcheck_and_matches_the_plain_formula(gamma_pos, gamma_neg, clip, detach):
    logits, target = random_batch(4, dtype=torch.float64)
    logits[0, :3] = torch.tensor([-30.0, 25.0, -3.0])  # below eps, above 1 - eps, inside the margin
    target[0, :3] = torch.tensor([1.0, 0.0, 0.0])
    target[1] = torch.linspace(0, 1, target.shape[1])  # soft targets
    logits.requires_grad_()
    args = (gamma_pos, gamma_neg, clip, 1e-8, detach)
    if not detach:
        assert torch.autograd.gradcheck(lambda x: asymmetric_loss(x, target, *args), (logits, ))
    fused = asymmetric_loss(logits, target, *args)
    (grad_fused, ) = torch.autograd.grad(fused.sum(), logits)
    plain = asymmetric_loss_reference(logits, target, *args)
    (grad_plain, ) = torch.autograd.grad(plain.sum(), logits)
    torch.testing.assert_close(fused, plain, rtol=0, atol=1e-12)
    torch.testing.assert_close(grad_fused, grad_plain, rtol=0, atol=1e-12)


def test_detached_weight_leaves_grad_mode_alone():
    logits, target = random_batch(5)
    logits.requires_grad_()
    MODELS.build(dict(type='MultiLabelAsymmetricLoss'))(logits, target).backward()
    assert torch.is_grad_enabled() and logits.grad is not None


def test_equal_to_mmpretrain_asymmetric_loss_where_they_coincide():
    logits, target = random_batch(6)
    ours = MODELS.build(dict(type='MultiLabelAsymmetricLoss', gamma_pos=1, gamma_neg=4,
                             clip=0.05, detach_focal_weight=False))
    theirs = MODELS.build(dict(type='AsymmetricLoss', gamma_pos=1, gamma_neg=4, clip=0.05))
    x1 = logits.clone().requires_grad_()
    x2 = logits.clone().requires_grad_()
    a = ours(x1, target, avg_factor=8)
    b = theirs(x2, target, avg_factor=8)
    a.backward()
    b.backward()
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(x1.grad, x2.grad)


# ----------------------------------------------------------------- robustness
LOSS_CFGS = [
    dict(type='MultiLabelAsymmetricLoss'),
    dict(type='MultiLabelAsymmetricLoss', clip=0.0, eps=0.0, detach_focal_weight=False),
    dict(type='MultiLabelFocalLoss'),
    dict(type='MultiLabelFocalLoss', alpha=None, class_weight=[1, 2, 3]),
    dict(type='ClassBalancedLoss', class_counts=[100, 10, 1]),
    dict(type='ClassBalancedLoss', class_counts=[100, 10, 1],
         loss=dict(type='MultiLabelAsymmetricLoss')),
    dict(type='DistributionBalancedLoss', class_counts=[100, 10, 1], num_images=200),
    dict(type='MultiLabelBCELoss'),
    dict(type='HillLoss', unknown='ignore'),
    dict(type='SPLCLoss', unknown='ignore'),
]
# losses that read unknown cells as (weak, corrected) negatives by design
READING_UNKNOWN_CFGS = [
    dict(type='MultiLabelBCELoss', unknown='weak'),
    dict(type='HillLoss'),
    dict(type='SPLCLoss'),
    dict(type='LargeLossRejection', mode='reject', delta_rel=20.0),
    dict(type='LargeLossRejection', mode='correct', delta_rel=20.0),
]


def build_loss(cfg):
    """Build a loss; one that changes with the epoch is put in its second epoch (counted from
    0), where SPLC corrects and large loss modification is on."""
    loss = MODELS.build(cfg)
    if hasattr(loss, 'set_epoch'):
        loss.set_epoch(1)
    return loss


@pytest.mark.parametrize('cfg', LOSS_CFGS + READING_UNKNOWN_CFGS)
def test_finite_at_extreme_logits(cfg):
    loss = build_loss(cfg)
    for target in ([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [[1.0, -1.0, -1.0], [-1.0, -1.0, 1.0]]):
        logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]], requires_grad=True)
        value = loss(logits, torch.tensor(target))
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(logits.grad).all()
        assert value.dtype == torch.float32


@pytest.mark.parametrize('cfg', LOSS_CFGS + READING_UNKNOWN_CFGS)
def test_bf16_autocast_close_to_float32(cfg):
    loss = build_loss(cfg)
    g = torch.Generator().manual_seed(7)
    feats = torch.randn(16, 8, generator=g)
    weight = torch.randn(8, 3, generator=g)
    target = (torch.rand(16, 3, generator=g) < 0.4).float()
    reference = loss(feats @ weight, target)
    with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
        logits = feats @ weight
        assert logits.dtype == torch.bfloat16
        value = loss(logits, target)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(reference.item(), rel=0.05)


@pytest.mark.parametrize('cfg, message', [
    (dict(type='MultiLabelFocalLoss', gamma=-1), 'gamma must be >= 0'),
    (dict(type='MultiLabelAsymmetricLoss', gamma_neg=-2), 'gamma_neg must be >= 0'),
    (dict(type='MultiLabelAsymmetricLoss', clip=1.0), r'clip must be in \[0, 1\)'),
    (dict(type='MultiLabelAsymmetricLoss', clip=-0.1), r'clip must be in \[0, 1\)'),
    (dict(type='MultiLabelFocalLoss', alpha=1.5), r'alpha must be a number in \[0, 1\] or None'),
    (dict(type='MultiLabelFocalLoss', gamma='2'), 'gamma must be a number >= 0'),
    (dict(type='MultiLabelFocalLoss', gamma=[2.0]), 'gamma must be a number >= 0'),
    (dict(type='ClassBalancedLoss', beta=1.0), r'beta must be in \[0, 1\)'),
    (dict(type='MultiLabelFocalLoss', reduction='avg'), 'reduction must be one of'),
])
def test_bad_arguments(cfg, message):
    with pytest.raises(ValueError, match=message):
        MODELS.build(cfg)


def test_class_weight_of_the_wrong_length():
    loss = MODELS.build(dict(type='MultiLabelFocalLoss', class_weight=[1.0, 2.0]))
    with pytest.raises(ValueError, match=r'class_weight has \(2,\) entries, the logits 3 classes'):
        loss(torch.zeros(2, 3), torch.zeros(2, 3))


@pytest.mark.parametrize('cfg', [dict(type='ClassBalancedLoss'),
                                 dict(type='DistributionBalancedLoss')])
def test_missing_class_counts_name_the_config_key(cfg):
    with pytest.raises(ValueError, match=r'class_counts=.*RunFactsHook'):
        MODELS.build(cfg)(torch.zeros(2, 3), torch.zeros(2, 3))


def test_db_without_num_images_names_it():
    loss = MODELS.build(dict(type='DistributionBalancedLoss', class_counts=[3, 2, 1]))
    with pytest.raises(ValueError, match='num_images='):
        loss(torch.zeros(2, 3), torch.zeros(2, 3))


def test_focal_alpha_list_points_to_class_weight():
    # the Keras multi-label focal loss takes a per-class alpha vector; ours is class_weight
    with pytest.raises(ValueError) as info:
        MODELS.build(dict(type='MultiLabelFocalLoss', alpha=[0.1, 0.9, 0.5]))
    message = str(info.value)
    assert 'alpha must be a number in [0, 1] or None, got [0.1, 0.9, 0.5]' in message
    assert 'class_weight=[...]' in message and 'both terms of class c' in message


def test_bad_targets():
    loss = MODELS.build(dict(type='MultiLabelFocalLoss'))
    with pytest.raises(ValueError,
                       match=r'targets must lie in \[0, 1\].*got 2.0 at \(sample 0, class 0\)'):
        loss(torch.zeros(1, 2), torch.tensor([[2.0, 0.0]]))
    with pytest.raises(ValueError, match=r'got -0.5 at \(sample 1, class 0\)'):
        loss(torch.zeros(2, 2), torch.tensor([[-1.0, 0.0], [-0.5, 1.0]]))
    with pytest.raises(ValueError, match='label index'):
        loss(torch.zeros(1, 2), [[3]])


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), float('-inf')])
@pytest.mark.parametrize('cfg', LOSS_CFGS)
def test_non_finite_target_names_the_first_bad_cell(cfg, bad):
    loss = build_loss(cfg)
    target = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, bad], [bad, 0.0, 1.0]])
    with pytest.raises(ValueError, match=r'targets must be finite.*at \(sample 1, class 2\)'):
        loss(torch.zeros(3, 3), target)
    target[1, 0] = -1  # an ignored cell before it changes nothing
    with pytest.raises(ValueError, match=r'targets must be finite.*at \(sample 1, class 2\)'):
        loss(torch.zeros(3, 3), target)


@pytest.mark.parametrize('cfg', LOSS_CFGS)
def test_ignored_cell_has_zero_loss_and_zero_gradient(cfg):
    loss = build_loss({**cfg, 'reduction': 'none'})
    logits = torch.tensor([[1.5, -0.5, 0.3], [-2.0, 0.8, 2.5]], requires_grad=True)
    target = torch.tensor([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0]])
    out = loss(logits, target)
    out.sum().backward()
    ignored = target == -1
    assert torch.equal(out[ignored], torch.zeros(2))
    assert torch.equal(logits.grad[ignored], torch.zeros(2))
    assert torch.isfinite(out).all() and (out[~ignored] > 0).all()


def focal_reference(x, y, gamma, alpha):
    """Sigmoid focal loss written plainly (Lin et al.), for autograd."""
    p = torch.sigmoid(x)
    a_pos, a_neg = (1.0, 1.0) if alpha is None else (alpha, 1 - alpha)
    return -(a_pos * y * (1 - p)**gamma * F.logsigmoid(x)
             + a_neg * (1 - y) * p**gamma * F.logsigmoid(-x))


@pytest.mark.parametrize('gamma, alpha', [(2.0, 0.25), (0.0, None), (1.5, 0.6), (3.0, None)])
def test_focal_gradient_matches_the_plain_formula(gamma, alpha):
    logits, target = random_batch(8, dtype=torch.float64)
    target[1] = torch.linspace(0, 1, target.shape[1])  # soft targets
    logits.requires_grad_()
    loss = MODELS.build(dict(type='MultiLabelFocalLoss', gamma=gamma, alpha=alpha,
                             reduction='none'))
    assert torch.autograd.gradcheck(lambda x: loss(x, target), (logits, ))
    ours = loss(logits, target)
    plain = focal_reference(logits, target, gamma, alpha)
    torch.testing.assert_close(ours, plain, rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.autograd.grad(ours.sum(), logits)[0],
                               torch.autograd.grad(plain.sum(), logits)[0], rtol=0, atol=1e-12)


def test_equal_to_mmpretrain_focal_loss_where_they_coincide():
    logits, target = random_batch(9)
    ours = MODELS.build(dict(type='MultiLabelFocalLoss', gamma=2.0, alpha=0.25))
    theirs = MODELS.build(dict(type='FocalLoss', gamma=2.0, alpha=0.25))
    x1, x2 = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    a, b = ours(x1, target, avg_factor=8), theirs(x2, target, avg_factor=8)
    a.backward()
    b.backward()
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(x1.grad, x2.grad)


@pytest.mark.parametrize('gamma', [0.0, 0.5, 1.0, 2.0, 2.5, 4.0])
@pytest.mark.parametrize('alpha', [None, 0.25, 0.0, 1.0])
def test_fused_focal_matches_autograd_of_the_plain_formula_on_every_path(gamma, alpha):
    # every power path (none, a product, exp(g log-sigmoid)) and alpha form; soft targets,
    # logits in both tails; dloss/dy too
    logits, target = random_batch(13, n=6, c=7, dtype=torch.float64)
    logits[0] = torch.tensor([-20.0, -9.0, -1e-3, 0.0, 2e-3, 9.0, 20.0])
    target[1] = torch.linspace(0, 1, 7)
    logits.requires_grad_()
    target.requires_grad_()
    ours = sigmoid_focal_loss(logits, target, gamma, alpha)
    plain = focal_reference(logits, target, gamma, alpha)
    torch.testing.assert_close(ours, plain, rtol=0, atol=1e-12)
    weight = torch.rand(ours.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for got, want in zip(torch.autograd.grad((ours * weight).sum(), (logits, target)),
                         torch.autograd.grad((plain * weight).sum(), (logits, target))):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def focal_reference_exact(x, y, gamma, alpha):
    """The plain formula with 1 - p as sigmoid(-x), in float64: the values float32 should round."""
    x, y = x.double(), y.double()
    a_pos, a_neg = (1.0, 1.0) if alpha is None else (alpha, 1 - alpha)
    return -(a_pos * y * torch.sigmoid(-x)**gamma * F.logsigmoid(x)
             + a_neg * (1 - y) * torch.sigmoid(x)**gamma * F.logsigmoid(-x))


@pytest.mark.parametrize('gamma, alpha', [(2.0, 0.25), (0.0, None), (1.0, 0.5), (2.5, None)])
def test_fused_focal_float32_keeps_relative_precision_in_the_tails(gamma, alpha):
    # confident cells have tiny losses and gradients; float32 keeps them to a few ulps (the plain
    # formula in float32 rounds 1 - p to 0 from x = 17 on)
    x = torch.linspace(-25, 25, 201)
    logits = torch.cat([x, x]).reshape(2, -1)
    target = torch.cat([torch.ones_like(x), torch.zeros_like(x)]).reshape(2, -1)
    logits.requires_grad_()
    ours = sigmoid_focal_loss(logits, target, gamma, alpha)
    (grad, ) = torch.autograd.grad(ours.sum(), logits)
    x64 = logits.detach().double().requires_grad_()
    exact = focal_reference_exact(x64, target, gamma, alpha)
    (grad64, ) = torch.autograd.grad(exact.sum(), x64)
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours.double(), exact.detach(), rtol=2e-5, atol=0)
    torch.testing.assert_close(grad.double(), grad64, rtol=2e-5, atol=0)


def test_fused_focal_at_logits_of_1e4():
    logits = torch.tensor([[-1e4, 1e4, 1e4, -1e4]], requires_grad=True)
    target = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    loss = sigmoid_focal_loss(logits, target, gamma=2.0, alpha=0.25)
    (grad, ) = torch.autograd.grad(loss.sum(), logits)
    torch.testing.assert_close(loss, torch.tensor([[2500.0, 7500.0, 0.0, 0.0]]))
    torch.testing.assert_close(grad, torch.tensor([[-0.25, 0.75, 0.0, 0.0]]))


def test_fused_focal_chunks_agree_with_one_pass(monkeypatch):
    logits, target = random_batch(14, n=37, c=101)
    target[::3] = torch.rand(target[::3].shape, generator=torch.Generator().manual_seed(2))

    def loss_and_grad():
        x = logits.clone().requires_grad_()
        loss = sigmoid_focal_loss(x, target)
        loss.sum().backward()
        return loss.detach(), x.grad

    whole = loss_and_grad()
    # chunks of at most 1,000 elements: several, the last one partial
    monkeypatch.setattr(focal_module, 'CHUNK_PER_THREAD', max(1, 1000 // torch.get_num_threads()))
    chunked = loss_and_grad()
    for a, b in zip(whole, chunked):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(whole[0], focal_reference(logits, target, 2.0, 0.25))


def test_fused_focal_backward_twice_through_one_graph():
    # the first backward scales the derivatives in place; a second one recomputes them
    logits, target = random_batch(16)
    target[0] = torch.linspace(0, 1, target.shape[1])
    logits.requires_grad_()
    target.requires_grad_()
    loss = MODELS.build(dict(type='MultiLabelFocalLoss'))(logits, target)
    first = torch.autograd.grad(loss, (logits, target), retain_graph=True)
    second = torch.autograd.grad(2 * loss, (logits, target), retain_graph=True)
    loss.backward()
    for a, b, c in zip(first, second, (logits.grad, target.grad)):
        torch.testing.assert_close(b, 2 * a)
        torch.testing.assert_close(c, a)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_fused_focal_computes_half_precision_logits_in_float32(dtype):
    logits, target = random_batch(15)
    half = logits.to(dtype)
    out = sigmoid_focal_loss(half, target)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, sigmoid_focal_loss(half.float(), target), rtol=0, atol=0)
    with torch.autocast(device_type='cpu', dtype=dtype):
        assert sigmoid_focal_loss(half, target).dtype == torch.float32


def test_fused_focal_of_an_empty_batch():
    logits = torch.zeros(0, 5, requires_grad=True)
    value = MODELS.build(dict(type='MultiLabelFocalLoss'))(logits, torch.zeros(0, 5))
    value.backward()
    assert value.item() == 0 and logits.grad.shape == (0, 5)


# ----------------------------------------------------------------- derivatives of the fused kernel
DOUBLE_BACKWARD_CFGS = [
    dict(type='MultiLabelAsymmetricLoss', detach_focal_weight=False),
    dict(type='MultiLabelFocalLoss'),
    dict(type='ClassBalancedLoss', class_counts=[100, 10, 1, 5, 50, 20]),  # focal inside
]


@pytest.mark.parametrize('cfg', DOUBLE_BACKWARD_CFGS)
def test_fused_kernel_is_differentiable_once(cfg):
    loss = MODELS.build(cfg)
    logits, target = random_batch(10, dtype=torch.float64)
    logits.requires_grad_()
    assert torch.autograd.gradcheck(lambda x: loss(x, target), (logits, ))
    with pytest.raises(RuntimeError, match=r'MultiLabelAsymmetricLoss / MultiLabelFocalLoss: '
                       'the fused kernel supports first derivatives only'):
        torch.autograd.grad(loss(logits, target), logits, create_graph=True)
    # the refusal leaves ordinary first derivatives working
    (grad, ) = torch.autograd.grad(loss(logits, target), logits)
    assert torch.isfinite(grad).all()


def test_gradgradcheck_refuses_instead_of_a_wrong_answer():
    logits, target = random_batch(11, n=3, c=4, dtype=torch.float64)
    logits.requires_grad_()
    with pytest.raises(RuntimeError, match='create_graph=True'):
        torch.autograd.gradgradcheck(
            lambda x: asymmetric_loss(x, target, 1, 4, 0.05, 1e-8, False), (logits, ))


# ----------------------------------------------------------------- class-balanced precision
def test_class_balanced_loss_keeps_float64():
    counts, beta = [100, 10, 1, 5, 50, 20], 0.99
    cb = MODELS.build(dict(type='ClassBalancedLoss', beta=beta, class_counts=counts,
                           reduction='none'))  # inner: focal, gamma 2, alpha None
    logits, target = random_batch(12, dtype=torch.float64)
    raw = [(1 - beta) / (1 - beta**n) for n in counts]
    w = torch.tensor([r * len(raw) / sum(raw) for r in raw], dtype=torch.float64)
    expected = w * focal_reference(logits, target, 2.0, None)
    out = cb(logits, target)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-14)
    assert cb(logits, target, reduction_override='mean').dtype == torch.float64
    out32 = cb(logits.float(), target.float())
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32, expected.float())


def test_the_fused_asl_chunks_only_on_the_cpu():
    from mmml_ext.functional import asymmetric_loss as asl_module
    big = asl_module.SINGLE_PASS_LIMIT + 1
    assert not asl_module.single_pass(torch.empty(big))  # CPU: chunks that stay in cache
    assert asl_module.single_pass(torch.empty(asl_module.SINGLE_PASS_LIMIT))
    assert asl_module.single_pass(torch.empty(big, device='meta'))  # another device: one pass
