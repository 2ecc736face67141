"""TwoWayMultiLabelLoss against a direct transcription of the paper's formula (numpy, float64,
one set at a time), a hand-worked value, its low-temperature limit, and one process on the
concatenated batch for the distributed scopes."""
import json
import sys

import numpy as np
import pytest
import torch
from mmpretrain.registry import MODELS

import mmml_ext  # noqa: F401
from mmml_ext.functional import two_way_loss as two_way_module
from mmml_ext.functional.two_way_loss import _TwoWayLoss, two_way_loss


def set_loss(x_pos, x_neg, tp, tn):
    """l(S) = softplus(Tn log sum exp(x_n / Tn) + Tp log sum exp(-x_p / Tp)), as written."""
    if len(x_neg) == 0:
        return 0.0  # log(1 + an empty sum)
    z = tn * np.log(np.sum(np.exp(np.asarray(x_neg) / tn))) + \
        tp * np.log(np.sum(np.exp(-np.asarray(x_pos) / tp)))
    return float(np.log1p(np.exp(z)))


def reference(x, y, tp=4.0, tn=1.0):
    """Mean over rows with a positive + mean over columns with a positive; -1 cells in neither."""
    total = 0.0
    for matrix, labels in ((x, y), (x.T, y.T)):
        losses = [set_loss(row[lab == 1], row[lab == 0], tp, tn)
                  for row, lab in zip(matrix, labels) if (lab == 1).any()]
        total += np.mean(losses) if losses else 0.0
    return total


def random_batch(seed, n=9, c=6, unknown=True):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2, (n, c))
    y = (rng.random((n, c)) < 0.3).astype(float)
    y[0] = 0  # a sample without a positive
    y[:, 1] = 0  # a class without a positive
    y[2] = 1  # a sample without a negative
    if unknown:
        y[rng.random((n, c)) < 0.15] = -1
    return x, y


def build(**kwargs):
    return MODELS.build(dict(type='TwoWayMultiLabelLoss', **kwargs))


def test_a_hand_worked_batch():
    # x = (2, -1), y = (1, 0), Tp = Tn = 1: the row gives softplus(-1 - 2) = log(1 + e^-3);
    # column 0 has no negative (0), column 1 no positive (left out)
    loss = build(pos_temperature=1.0)(torch.tensor([[2.0, -1.0]]), torch.tensor([[1.0, 0.0]]))
    assert loss.item() == pytest.approx(np.log1p(np.exp(-3.0)), rel=1e-6)


@pytest.mark.parametrize('tp,tn', [(4.0, 1.0), (1.0, 1.0), (0.5, 2.0)])
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_equals_the_transcribed_formula(seed, tp, tn):
    x, y = random_batch(seed)
    got = build(pos_temperature=tp, neg_temperature=tn)(torch.tensor(x), torch.tensor(y))
    assert got.dtype == torch.float64
    assert got.item() == pytest.approx(reference(x, y, tp, tn), rel=1e-10)


def test_float32_logits_give_float32_and_match():
    x, y = random_batch(3, unknown=False)
    got = build()(torch.tensor(x, dtype=torch.float32), torch.tensor(y))
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(reference(x.astype(np.float32), y), rel=1e-5)


def test_label_indices_are_the_same_as_one_hot_targets():
    x, y = random_batch(4, unknown=False)
    indices = [np.nonzero(row)[0].tolist() for row in y]
    loss = build()
    assert loss(torch.tensor(x), indices).item() == pytest.approx(
        loss(torch.tensor(x), torch.tensor(y)).item(), rel=1e-12)


def test_low_temperatures_give_the_hardest_pair_margin():
    # Tp, Tn -> 0: softplus(max_n x_n - min_p x_p) per set (a closed form)
    x, y = random_batch(5, unknown=False)
    got = build(pos_temperature=1e-3, neg_temperature=1e-3)(torch.tensor(x), torch.tensor(y))
    expected = 0.0
    for matrix, labels in ((x, y), (x.T, y.T)):
        terms = [np.log1p(np.exp(row[lab == 0].max() - row[lab == 1].min())) if (lab == 0).any()
                 else 0.0 for row, lab in zip(matrix, labels) if (lab == 1).any()]
        expected += np.mean(terms)
    assert got.item() == pytest.approx(expected, abs=1e-2)


def test_gradient_matches_finite_differences_and_skips_unknown_cells():
    x, y = random_batch(6)
    logits = torch.tensor(x, requires_grad=True)
    target = torch.tensor(y)
    assert torch.autograd.gradcheck(lambda z: two_way_loss(z, target.clamp(min=0), target < 0),
                                     (logits, ))
    build()(logits, target).backward()
    assert (logits.grad[target < 0] == 0).all()
    moved = x.copy()
    moved[y == -1] += 50.0  # an unknown cell's logit changes nothing
    assert build()(torch.tensor(moved), target).item() == pytest.approx(
        build()(torch.tensor(x), target).item(), rel=1e-12)


def test_extreme_logits_and_empty_batches_give_finite_values_and_gradients():
    x = torch.tensor([[1e4, -1e4, 3.0], [-1e4, 1e4, 0.0]], requires_grad=True)
    y = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])  # the second row has no negative
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = build()(x, y)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()
    empty = torch.zeros(3, 4, requires_grad=True)  # no positive anywhere: nothing to rank
    loss = build()(empty, torch.zeros(3, 4))
    loss.backward()
    assert loss.item() == 0.0 and (empty.grad == 0).all()


def stable_reference(x, y, tp=4.0, tn=1.0):
    """The transcription with log-sum-exps and softplus that hold at any logit scale."""
    def one(x_pos, x_neg):
        if len(x_neg) == 0:
            return 0.0
        z = tn * np.logaddexp.reduce(x_neg / tn) + tp * np.logaddexp.reduce(-x_pos / tp)
        return float(np.logaddexp(0.0, z))
    total = 0.0
    for matrix, labels in ((x, y), (x.T, y.T)):
        losses = [one(row[lab == 1], row[lab == 0]) for row, lab in zip(matrix, labels)
                  if (lab == 1).any()]
        total += np.mean(losses) if losses else 0.0
    return total


def autograd_reference(x, positive, negative, tp=4.0, tn=1.0):
    """The loss by torch's autograd through one log-sum-exp per set (float64)."""
    total = x.new_zeros(())
    for matrix, pos, neg in ((x, positive, negative), (x.T, positive.T, negative.T)):
        losses = []
        for row, p, n in zip(matrix, pos, neg):
            if not p.any():
                continue
            if not n.any():
                losses.append(row.sum() * 0)
                continue
            z = tn * torch.logsumexp(row[n] / tn, 0) + tp * torch.logsumexp(-row[p] / tp, 0)
            losses.append(torch.logaddexp(torch.zeros_like(z), z))
        if losses:
            total = total + torch.stack(losses).mean()
    return total


def edge_batch(dtype=torch.float64, scale=2.0):
    """A batch with a row and a column without a positive, a row and a column without a
    negative, scattered unknown cells and a row of unknown cells only."""
    g = torch.Generator().manual_seed(11)
    x = (torch.randn(8, 7, generator=g, dtype=torch.float64) * scale).to(dtype)
    y = (torch.rand(8, 7, generator=g) < 0.4).to(dtype)
    unknown = torch.rand(8, 7, generator=g) < 0.15
    y[0], y[1], y[:, 2], y[:, 3] = 0, 1, 0, 1
    unknown[0, 3] = unknown[1, 2] = True  # keeps row 0 and column 3, row 1 and column 2 pure
    unknown[5] = True
    return x, y, unknown


ONE_ROW_PER_CHUNK = 1  # CHUNK_PER_THREAD: chunks of one row (the running column sums)


@pytest.mark.parametrize('chunk', [None, ONE_ROW_PER_CHUNK])
@pytest.mark.parametrize('tp,tn', [(4.0, 1.0), (0.5, 2.0)])
def test_the_fused_function_passes_gradcheck_with_empty_sets_and_unknown_cells(
        chunk, tp, tn, monkeypatch):
    if chunk is not None:
        monkeypatch.setattr(two_way_module, 'CHUNK_PER_THREAD', chunk)
    x, y, unknown = edge_batch()
    logits = x.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda z: _TwoWayLoss.apply(z, y, unknown, tp, tn),
                                    (logits, ))
    loss = _TwoWayLoss.apply(logits, y, unknown, tp, tn)
    (grad, ) = torch.autograd.grad(loss, logits)
    assert (grad[unknown] == 0).all()
    coded = y.masked_fill(unknown, -1).numpy()
    assert loss.item() == pytest.approx(reference(x.numpy(), coded, tp, tn), rel=1e-12)
    expected = torch.autograd.grad(
        autograd_reference(logits, (y > 0.5) & ~unknown, (y < 0.5) & ~unknown, tp, tn), logits)[0]
    torch.testing.assert_close(grad, expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('scale', [3.0, 1e3])
def test_chunks_give_the_result_of_one_chunk_at_any_logit_scale(dtype, scale, monkeypatch):
    g = torch.Generator().manual_seed(3)
    x = (torch.randn(40, 30, generator=g, dtype=torch.float64) * scale).to(dtype)
    y = (torch.rand(40, 30, generator=g) < 0.1).to(dtype)
    unknown = torch.rand(40, 30, generator=g) < 0.1
    results = []
    for chunk in (two_way_module.CHUNK_PER_THREAD, ONE_ROW_PER_CHUNK, 7 * 30):
        monkeypatch.setattr(two_way_module, 'CHUNK_PER_THREAD', chunk)
        logits = x.clone().requires_grad_()
        loss = two_way_loss(logits, y, unknown)
        loss.backward()
        assert loss.dtype == dtype and torch.isfinite(loss) and torch.isfinite(logits.grad).all()
        assert (logits.grad[unknown] == 0).all()
        results.append((loss.detach(), logits.grad))
    rtol = 1e-12 if dtype == torch.float64 else 1e-5
    coded = y.double().masked_fill(unknown, -1).numpy()
    assert results[0][0].item() == pytest.approx(stable_reference(x.double().numpy(), coded),
                                                  rel=rtol)
    exact = x.double().requires_grad_()
    autograd_reference(exact, (y > 0.5) & ~unknown, (y < 0.5) & ~unknown).backward()
    for loss, grad in results:
        assert loss.item() == pytest.approx(results[0][0].item(), rel=rtol)
        torch.testing.assert_close(grad.double(), exact.grad, rtol=0,
                                   atol=(1e-12 if dtype == torch.float64 else 1e-6)
                                   * exact.grad.abs().max().item())


def test_a_repeated_backward_recomputes_and_a_double_backward_is_refused():
    x, y, unknown = edge_batch()
    logits = x.clone().requires_grad_()
    loss = two_way_loss(logits, y, unknown)
    (first, ) = torch.autograd.grad(loss, logits, retain_graph=True)
    (second, ) = torch.autograd.grad(loss * 3, logits)
    torch.testing.assert_close(second, 3 * first)
    with pytest.raises(RuntimeError, match='TwoWayMultiLabelLoss: the fused kernel supports '
                       'first derivatives only'):
        torch.autograd.grad(two_way_loss(logits, y, unknown), logits, create_graph=True)


@pytest.mark.parametrize('shape', [(0, 5), (4, 0)])
def test_an_empty_batch_has_loss_zero(shape):
    logits = torch.zeros(shape, requires_grad=True)
    loss = build()(logits, torch.zeros(shape))
    loss.backward()
    assert loss.item() == 0.0 and logits.grad.shape == shape and (logits.grad == 0).all()


@pytest.mark.parametrize('kwargs,message', [
    (dict(pos_temperature=0), 'pos_temperature must be a number > 0'),
    (dict(neg_temperature=-1.0), 'neg_temperature must be a number > 0'),
    (dict(batch='world'), "batch must be one of ('global', 'local')"),
    (dict(reduction='sum'), "reduction='mean' only"),
    (dict(temperature=2.0), 'temperature'),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message.replace('(', r'\(').replace(')', r'\)')):
        build(**kwargs)


def test_soft_targets_and_weights_are_refused_by_name():
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r'got 0.9.* at \(sample 1, class 2\).*label smoothing'):
        build()(x, torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.9]]))
    with pytest.raises(ValueError, match='takes no weight'):
        build()(x, torch.eye(2, 3), weight=torch.ones(2))
    with pytest.raises(ValueError, match=r'got -0.5 at \(sample 0, class 1\)'):
        build()(x, torch.tensor([[1.0, -0.5, 0.0], [0.0, 1.0, 0.0]]))


@pytest.mark.parametrize('scope', ['global', 'local'])
def test_distributed_scopes_against_one_process_on_the_concatenated_batch(scope, tmp_path):
    from cli_helpers import free_port, run_cmd
    from dist_two_way_worker import ROWS, fixed_data
    out = tmp_path / 'two_way'
    run_cmd([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
             f'--master_port={free_port()}', 'tests/dist_two_way_worker.py', scope, out],
            timeout=300)
    got = [json.loads((tmp_path / f'two_way.{r}.json').read_text()) for r in range(2)]
    logits, target = fixed_data()
    x, y = logits.numpy(), target.numpy()
    whole = torch.tensor(x, requires_grad=True)
    if scope == 'global':
        # every process: the loss of the whole batch; DDP's mean of the processes' gradients:
        # the whole batch's gradient
        expected = build()(whole, target)
        expected.backward()
        for r in range(2):
            assert got[r]['loss'] == pytest.approx(reference(x, y), rel=1e-10)
        mean_grad = np.concatenate([np.array(got[r]['grad']) for r in range(2)]) / 2
        np.testing.assert_allclose(mean_grad, whole.grad.numpy(), rtol=1e-9, atol=1e-12)
    else:
        # each process: the loss of its own rows, as one process computes it on them alone
        for r, rows in enumerate(ROWS):
            assert got[r]['loss'] == pytest.approx(reference(x[rows], y[rows]), rel=1e-10)
            part = torch.tensor(x[rows], requires_grad=True)
            build(batch='local')(part, target[rows]).backward()
            np.testing.assert_allclose(got[r]['grad'], part.grad.numpy(), rtol=1e-9)
        # and it differs from the global batch's loss (the class-wise term sees fewer rows)
        assert np.mean([g['loss'] for g in got]) != pytest.approx(reference(x, y), rel=1e-3)
