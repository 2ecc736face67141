"""The losses under ``torch.compile``: one graph each, the eager values and gradients.

The break counts come from ``torch._dynamo.explain``; values from the ``aot_eager``
backend (the tracing and the autograd of the fused kernels, no C++ build) and, for the
fused ASL kernel, from ``inductor`` as ``torch.compile`` runs by default.
"""
import pytest
import torch
from mmpretrain.registry import MODELS

import mmml_ext  # noqa: F401

COUNTS = [500, 200, 100, 50, 20, 10]
ONE_GRAPH = {
    'bce': dict(type='MultiLabelBCELoss'),
    'bce-weak': dict(type='MultiLabelBCELoss', unknown='weak'),
    'focal': dict(type='MultiLabelFocalLoss', gamma=2.0, alpha=0.25),
    'asl': dict(type='MultiLabelAsymmetricLoss', gamma_pos=0, gamma_neg=4, clip=0.05),
    'cb-focal': dict(type='ClassBalancedLoss', class_counts=COUNTS,
                     loss=dict(type='MultiLabelFocalLoss', gamma=2.0, alpha=None)),
    'db': dict(type='DistributionBalancedLoss', class_counts=COUNTS, num_images=800),
    'hill': dict(type='HillLoss'),
    'splc': dict(type='SPLCLoss'),
    'two-way': dict(type='TwoWayMultiLabelLoss'),
}


def build(cfg):
    loss = MODELS.build(cfg)
    if hasattr(loss, 'set_epoch'):
        loss.set_epoch(3)
    return loss


def batch(unknown=False):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(16, len(COUNTS), generator=g) * 3
    target = (torch.rand(16, len(COUNTS), generator=g) < 0.4).float()
    if unknown:
        target[torch.rand(target.shape, generator=g) < 0.3] = -1.0
    return logits, target


def eager_and_compiled(loss, logits, target, backend):
    x_eager = logits.clone().requires_grad_()
    eager = loss(x_eager, target)
    eager.backward()
    x_comp = logits.clone().requires_grad_()
    compiled = torch.compile(loss, backend=backend)(x_comp, target)
    compiled.backward()
    return (eager, x_eager.grad), (compiled, x_comp.grad)


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(ONE_GRAPH))
def test_one_graph_and_the_eager_result(name):
    loss = build(ONE_GRAPH[name])
    torch._dynamo.reset()
    for unknown in (False, True):
        logits, target = batch(unknown)
        explained = torch._dynamo.explain(loss)(logits, target)
        assert explained.graph_break_count == 0, [str(b.reason)[:200]
                                                  for b in explained.break_reasons]
        (eager, eager_grad), (comp, comp_grad) = eager_and_compiled(loss, logits, target,
                                                                     'aot_eager')
        torch.testing.assert_close(comp, eager)
        torch.testing.assert_close(comp_grad, eager_grad)


@pytest.mark.slow
def test_fused_asl_under_inductor():
    torch._dynamo.reset()
    loss = build(ONE_GRAPH['asl'])
    (eager, eager_grad), (comp, comp_grad) = eager_and_compiled(loss, *batch(True), 'inductor')
    torch.testing.assert_close(comp, eager, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(comp_grad, eager_grad, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize('bad', [2.0, float('nan'), -0.5])
def test_a_bad_target_stops_a_compiled_step(bad):
    torch._dynamo.reset()
    loss = build(ONE_GRAPH['bce'])
    logits, target = batch()
    target[3, 2] = bad
    with pytest.raises(RuntimeError, match=r'targets must be finite numbers in \[0, 1\]'):
        torch.compile(loss, backend='aot_eager')(logits, target)
    with pytest.raises(ValueError, match=r'sample 3, class 2'):  # eager names the cell
        loss(logits, target)
