"""MLDecoderHead: against a transcription of the paper's decoder, its groups, and the habits
it shares with ImbalancedMultiLabelHead (every loss, the -1 rule, prior, thresholds)."""
import math

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmml_ext  # noqa: F401
from mmml_ext.models.heads.imbalance_head_mixin import ImbalanceHeadMixin

HEAD = dict(type='MLDecoderHead', num_classes=7, in_channels=5, num_groups=3, embed_dims=8,
            num_heads=2, feedforward_channels=12)


def _layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def transcription(head, features: np.ndarray) -> np.ndarray:
    """The decoder of the paper written out in numpy, cell by cell where it is short:
    E = ReLU(X W_e + b_e); Q0 = LN1(Q); A = LN2(Q0 + MHA(Q0, E, E));
    H = LN3(A + W2 ReLU(W1 A + b1) + b2); z_c = <H_k, U_k[:, j]> + b_c for c = k g + j."""
    p = {name: t.detach().double().numpy() for name, t in head.state_dict().items()}
    b, d, hgt, wid = features.shape
    x = features.reshape(b, d, hgt * wid).transpose(0, 2, 1)  # (B, L, D)
    e = np.maximum(x @ p['input_proj.weight'].T + p['input_proj.bias'], 0)
    q0 = _layer_norm(p['query'], p['query_norm.weight'], p['query_norm.bias'])
    dims = q0.shape[1]
    heads = head.cross_attn.num_heads
    dh = dims // heads
    wq, wk, wv = np.split(p['cross_attn.in_proj_weight'], 3)
    bq, bk, bv = np.split(p['cross_attn.in_proj_bias'], 3)
    logits = np.zeros((b, head.num_classes))
    for n in range(b):
        qp, kp, vp = q0 @ wq.T + bq, e[n] @ wk.T + bk, e[n] @ wv.T + bv
        parts = []
        for h in range(heads):
            cols = slice(h * dh, (h + 1) * dh)
            scores = qp[:, cols] @ kp[:, cols].T / math.sqrt(dh)  # (K, L)
            weights = np.exp(scores - scores.max(1, keepdims=True))
            weights /= weights.sum(1, keepdims=True)
            parts.append(weights @ vp[:, cols])
        mha = np.concatenate(parts, 1) @ p['cross_attn.out_proj.weight'].T \
            + p['cross_attn.out_proj.bias']
        a = _layer_norm(q0 + mha, p['attn_norm.weight'], p['attn_norm.bias'])
        f = np.maximum(a @ p['ffn.0.weight'].T + p['ffn.0.bias'], 0) @ p['ffn.3.weight'].T \
            + p['ffn.3.bias']
        hidden = _layer_norm(a + f, p['ffn_norm.weight'], p['ffn_norm.bias'])  # (K, d)
        u = p['group_weight']  # (K, d, g)
        per_group = u.shape[2]
        for c in range(head.num_classes):
            k, j = divmod(c, per_group)
            logits[n, c] = hidden[k] @ u[k, :, j] + p['group_bias'][c]
    return logits


def _randomised(head):
    """Every parameter and buffer drawn at random (biases and norms included), float64."""
    torch.manual_seed(3)
    with torch.no_grad():
        for tensor in list(head.parameters()) + list(head.buffers()):
            tensor.copy_(torch.randn_like(tensor) * 0.5)
    return head.double().eval()


def test_logits_equal_a_transcription_of_the_paper():
    head = _randomised(MODELS.build(HEAD))
    features = torch.randn(3, 5, 2, 3, dtype=torch.float64)
    np.testing.assert_allclose(head((features,)).detach().numpy(),
                               transcription(head, features.numpy()), rtol=1e-10, atol=1e-10)


def test_tokens_and_feature_maps_agree_and_positions_are_a_set():
    head = _randomised(MODELS.build(HEAD))
    features = torch.randn(2, 5, 3, 3, dtype=torch.float64)
    tokens = features.flatten(2).transpose(1, 2)
    torch.testing.assert_close(head((tokens,)), head((features,)))
    # no positional encoding in the decoder: the order of the positions does not matter
    torch.testing.assert_close(head((tokens[:, torch.randperm(9)],)), head((features,)))


@pytest.mark.parametrize('num_classes, queries, per_group', [
    (7, 3, 3), (20, 20, 1), (80, 80, 1), (1000, 100, 10), (9605, 100, 97)])
def test_group_queries_keep_the_attention_flat_in_the_classes(num_classes, queries, per_group):
    head = MODELS.build(dict(type='MLDecoderHead', num_classes=num_classes, in_channels=16,
                             num_groups=3 if num_classes == 7 else 100, embed_dims=8,
                             num_heads=2, feedforward_channels=12))
    assert head.query.shape == (queries, 8)
    assert head.group_weight.shape == (queries, 8, per_group)
    assert head((torch.randn(2, 16, 2, 2),)).shape == (2, num_classes)


def test_fixed_queries_are_kept_but_not_learned():
    head = MODELS.build(HEAD)
    assert 'query' in head.state_dict()
    assert not any(p is head.query for p in head.parameters())
    learned = MODELS.build(dict(HEAD, learnable_queries=True))
    learned((torch.randn(2, 5, 2, 2),)).sum().backward()
    assert learned.query.grad is not None and bool(learned.query.grad.abs().sum() > 0)


def test_prior_initialises_the_logit_bias():
    head = MODELS.build(dict(HEAD, prior='counts', class_counts=[10, 50, 90, 1, 99, 50, 20],
                             num_images=100))
    head.init_weights()
    torch.testing.assert_close(torch.sigmoid(head.group_bias.data),
                               torch.tensor([0.1, 0.5, 0.9, 0.01, 0.99, 0.5, 0.2]))


@pytest.mark.parametrize('loss', [
    dict(type='MultiLabelBCELoss'), dict(type='MultiLabelAsymmetricLoss'),
    dict(type='MultiLabelFocalLoss'), dict(type='TwoWayMultiLabelLoss'),
    dict(type='ClassBalancedLoss', class_counts=[5, 4, 3, 3, 2, 1, 1]),
    dict(type='DistributionBalancedLoss', class_counts=[5, 4, 3, 3, 2, 1, 1], num_images=10),
    dict(type='HillLoss'), dict(type='CrossEntropyLoss', use_sigmoid=True)])
def test_every_loss_trains_every_weight(loss):
    head = MODELS.build(dict(HEAD, loss=loss))
    samples = [DataSample().set_gt_label([0, 3]), DataSample().set_gt_label([6]),
               DataSample().set_gt_label([1, 2, 5])]
    losses = head.loss((torch.randn(3, 5, 2, 2),), samples)
    total = sum(v for v in losses.values())
    assert torch.isfinite(total)
    total.backward()
    assert all(p.grad is not None for p in head.parameters())


def test_unknown_cells_reach_the_plugins_losses_and_not_others():
    target = torch.tensor([[1.0, -1, 0, 0, 0, 0, 1], [0, 0, 1, -1, -1, 0, 0]])
    samples = [DataSample().set_gt_score(row) for row in target]
    features = (torch.randn(2, 5, 2, 2),)
    head = MODELS.build(dict(HEAD, loss=dict(type='MultiLabelBCELoss', unknown='ignore')))
    assert torch.isfinite(head.loss(features, samples)['loss'])
    head = MODELS.build(dict(HEAD, loss=dict(type='CrossEntropyLoss', use_sigmoid=True)))
    with pytest.raises(ValueError, match=r'unknown \(-1\) cells and CrossEntropyLoss'):
        head.loss(features, samples)


def test_tuned_thresholds_decide_the_labels():
    head = MODELS.build(dict(HEAD, thresholds='tuned')).eval()
    assert isinstance(head, ImbalanceHeadMixin)  # RunFactsHook gives it the thresholds
    features = (torch.randn(4, 5, 2, 2),)
    scores = torch.sigmoid(head(features))
    thresholds = scores[0].detach().clone()  # the first sample reaches every class exactly
    head.set_thresholds(thresholds)
    predicted = head.predict(features)
    assert predicted[0].pred_label.tolist() == list(range(7))
    for sample, row in zip(predicted, scores):
        assert sample.pred_label.tolist() == (row >= thresholds).nonzero().flatten().tolist()


@pytest.mark.parametrize('bad, message', [
    (dict(num_groups=0), 'num_groups must be an int >= 1, got 0'),
    (dict(embed_dims=9), r'embed_dims \(9\) must be a multiple of num_heads \(2\)'),
    (dict(drop_rate=1.0), r'drop_rate must be in \[0, 1\), got 1.0'),
    (dict(in_channels=None), 'in_channels must be an int >= 1, got None'),
    (dict(thresholds=[0.5] * 7, thr=0.5), 'give thr or thresholds, not both'),
    (dict(loss=dict(type='CrossEntropyLoss')), r"softmax.*type='MLDecoderHead'"),
    (dict(num_head=2), r"has no argument\(s\) \['num_head'\]"),
])
def test_bad_arguments(bad, message):
    with pytest.raises(ValueError, match=message):
        MODELS.build(dict(HEAD, **bad))


def test_pooled_features_name_the_neck():
    head = MODELS.build(HEAD)
    with pytest.raises(ValueError, match=r'got shape \(2, 5\).*set model.neck=None'):
        head((torch.randn(2, 5),))
    with pytest.raises(ValueError, match='in_channels=5, the features have 4 channels'):
        head((torch.randn(2, 4, 2, 2),))


def test_demo_config_reads_the_feature_map():
    cfg = Config.fromfile('configs/demo/resnet18_shapes-lt_mld-asl_cas.py')
    assert cfg.model.neck is None and cfg.model.head.type == 'MLDecoderHead'
    model = MODELS.build(cfg.model)
    assert model.head.loss_module.__class__.__name__ == 'MultiLabelAsymmetricLoss'
    scores = model(torch.randn(2, 3, 64, 64), mode='tensor')
    assert scores.shape == (2, 20)


def test_the_exported_graph_gives_the_inferencers_scores(tmp_path):
    import onnxruntime
    from mmml_ext.apis import MultiLabelInferencer
    from mmml_ext.apis.onnx_export import export_onnx
    from mmml_ext.datasets import LongTailedShapes
    config = 'configs/demo/resnet18_shapes-lt_mld-bce.py'
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(config).model)
    model.init_weights()
    checkpoint = str(tmp_path / 'epoch_1.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(
        classes=list(LongTailedShapes.METAINFO['classes'])))), checkpoint)
    inferencer = MultiLabelInferencer(config, checkpoint, thr=0.5)
    export_onnx(inferencer, str(tmp_path / 'model.onnx'))
    images = [LongTailedShapes(split='test', pipeline=[])[i]['img'] for i in range(3)]
    expected = np.array([r['pred_scores'] for r in inferencer(images)])
    session = onnxruntime.InferenceSession(str(tmp_path / 'model.onnx'),
                                           providers=['CPUExecutionProvider'])
    pixels = np.stack([image[..., ::-1].transpose(2, 0, 1) for image in images])  # BGR -> RGB
    scores = session.run(None, {'image': pixels.astype(np.float32)})[0]
    np.testing.assert_allclose(scores, expected, atol=1e-4)
