"""The paired-bootstrap kernels against the resampled data built explicitly.

The references materialise each replicate (``scores[idx]``, ``target[idx]``)
and compute the metric on it independently: scikit-learn's
``average_precision_score`` per class (ignored cells dropped first), explicit
counting, ``np.mean``, ``np.nanquantile``.
"""
import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from sklearn.metrics import average_precision_score

from mmml_ext.functional import average_precision
from mmml_ext.functional.example_based import example_terms, weighted_example_metrics
from mmml_ext.functional import bootstrap as bs
from mmml_ext.functional.bootstrap import (bootstrap_average_precision, bootstrap_confusion,
                                           bootstrap_indices, percentile_interval,
                                           replicate_counts)


def make_data(num=160, classes=7, seed=0, dtype=torch.float32):
    """Scores with many ties (one decimal, negatives, +0.0 and -0.0), ignored cells, a rare
    class (2 positives: absent from some replicates) and a class with no positive."""
    g = torch.Generator().manual_seed(seed)
    scores = (torch.randn(num, classes, generator=g) * 10).round() / 10
    scores[:10, 0] = 0.0
    scores[10:20, 0] = -0.0
    target = (torch.rand(num, classes, generator=g) < 0.3).to(torch.int8)
    target[torch.rand(num, classes, generator=g) < 0.1] = -1
    target[:, 0] = torch.where(torch.arange(num) % 3 == 0, 1, 0).to(torch.int8)
    target[:15, 0] = torch.tensor([1, 0, -1] * 5, dtype=torch.int8)  # ties across labels at 0
    target[:, 1] = 0
    target[[3, 50], 1] = 1  # rare
    target[:, 2] = torch.where(target[:, 2] == 1, 0, target[:, 2])  # no positive
    return scores.to(dtype), target


def sklearn_ap(scores, target, idx):
    """(C,) AP of the replicate drawing ``idx``, per class on its non-ignored cells."""
    s, t = scores[idx].double().numpy(), target[idx].numpy()
    out = []
    for c in range(s.shape[1]):
        keep = t[:, c] >= 0
        y = t[keep, c] == 1
        out.append(average_precision_score(y, s[keep, c]) if y.any() else math.nan)
    return np.array(out)


@pytest.fixture(scope='module')
def draws():
    scores, target = make_data()
    idx = bootstrap_indices(len(scores), num_replicates=25, seed=3)
    return scores, target, idx, replicate_counts(idx, len(scores))


# ------------------------------------------------------------------ indices and counts

def test_indices_are_default_rng_draws_and_deterministic():
    idx = bootstrap_indices(50, num_replicates=7, seed=11)
    assert idx.shape == (7, 50) and idx.dtype == np.int64
    expected = np.random.default_rng(11).integers(0, 50, size=(7, 50), dtype=np.int64)
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_array_equal(idx, bootstrap_indices(50, 7, 11))
    assert not np.array_equal(idx, bootstrap_indices(50, 7, 12))
    assert idx.min() >= 0 and idx.max() < 50
    assert bootstrap_indices(4).shape == (1000, 4)


def test_replicate_counts_match_per_row_bincount(monkeypatch):
    idx = bootstrap_indices(37, num_replicates=9, seed=1)
    expected = np.stack([np.bincount(row, minlength=37) for row in idx])
    counts = replicate_counts(idx, 37)
    assert counts.dtype == torch.int32 and counts.shape == (9, 37)
    np.testing.assert_array_equal(counts.numpy(), expected)
    assert (counts.sum(1) == 37).all()
    monkeypatch.setattr(bs, '_DRAWS_PER_BLOCK', 40)  # one replicate per block
    np.testing.assert_array_equal(replicate_counts(torch.from_numpy(idx), 37).numpy(), expected)
    # m-out-of-n draws: rows sum to M
    np.testing.assert_array_equal(replicate_counts(np.array([[2, 2, 0]]), 4).numpy(),
                                  [[1, 0, 2, 0]])


# ------------------------------------------------------------------ average precision

@pytest.mark.parametrize('dtype', [torch.float32, torch.float64, torch.float16])
def test_ap_equals_sklearn_on_materialised_replicates(draws, dtype):
    scores, target, idx, counts = draws
    scores = scores.to(dtype)
    ap = bootstrap_average_precision(scores, target, counts)
    assert ap.shape == (len(idx), scores.shape[1]) and ap.dtype == torch.float64
    for b in range(len(idx)):
        expected = sklearn_ap(scores, target, idx[b])
        np.testing.assert_allclose(ap[b].numpy(), expected, rtol=0, atol=1e-12, equal_nan=True)
    assert torch.isnan(ap[:, 2]).all()  # no positive at all
    rare_drawn = counts[:, [3, 50]].sum(1) > 0
    assert not rare_drawn.all(), 'the rare class should be missing from some replicate'
    np.testing.assert_array_equal(torch.isnan(ap[:, 1]).numpy(), (~rare_drawn).numpy())


def test_ap_without_ties_or_ignored_cells_equals_sklearn():
    g = torch.Generator().manual_seed(5)
    scores = torch.rand(300, 4, generator=g)
    target = (torch.rand(300, 4, generator=g) < 0.2).to(torch.int8)
    target[0] = 1
    idx = bootstrap_indices(300, 6, seed=0)
    ap = bootstrap_average_precision(scores, target, replicate_counts(idx, 300))
    for b in range(len(idx)):
        np.testing.assert_allclose(ap[b].numpy(), sklearn_ap(scores, target, idx[b]), rtol=0,
                                   atol=1e-12)


def test_ap_with_real_weights_equals_sklearn_sample_weight(draws):
    scores, target, _, _ = draws
    weights = torch.rand(3, len(scores), generator=torch.Generator().manual_seed(2)) + 0.25
    ap = bootstrap_average_precision(scores, target, weights)
    s, t = scores.double().numpy(), target.numpy()
    for b in range(3):
        for c in (0, 3, 4):
            keep = t[:, c] >= 0
            expected = average_precision_score(t[keep, c] == 1, s[keep, c],
                                               sample_weight=weights[b].numpy()[keep])
            assert abs(float(ap[b, c]) - expected) < 1e-12


def test_identity_replicate_is_the_point_estimate(draws):
    scores, target, _, _ = draws
    ones = torch.ones((2, len(scores)), dtype=torch.int32)
    ap = bootstrap_average_precision(scores, target, ones)
    point = average_precision(scores, target)
    for row in ap:
        torch.testing.assert_close(row, point, rtol=0, atol=1e-12, equal_nan=True)


def test_duplicates_are_tied_with_themselves():
    scores = torch.tensor([[0.9], [0.5], [0.5], [0.1]])
    target = torch.tensor([[1], [1], [0], [1]], dtype=torch.int8)
    counts = torch.tensor([[2, 0, 1, 1], [0, 3, 0, 0], [0, 0, 4, 0]])
    ap = bootstrap_average_precision(scores, target, counts)
    assert ap[0, 0].item() == pytest.approx((2 * 1 + 1 * 3 / 4) / 3, abs=1e-15)
    assert ap[1, 0].item() == 1.0
    assert math.isnan(ap[2, 0].item())


def test_chunking_does_not_change_the_result(draws, monkeypatch):
    scores, target, _, counts = draws
    reference = bootstrap_average_precision(scores, target, counts)
    for chunk_classes, chunk_replicates in [(1, 1), (2, 3), (3, None), (None, 4), (100, 1000)]:
        got = bootstrap_average_precision(scores, target, counts, chunk_classes=chunk_classes,
                                          chunk_replicates=chunk_replicates)
        torch.testing.assert_close(got, reference, rtol=0, atol=1e-15, equal_nan=True)
    monkeypatch.setattr(bs, 'CHUNK_BYTES', 1)  # default replicate chunks of one
    torch.testing.assert_close(bootstrap_average_precision(scores, target, counts), reference,
                               rtol=0, atol=1e-15, equal_nan=True)
    # float64 sums (float counts) give the same numbers
    torch.testing.assert_close(bootstrap_average_precision(scores, target, counts.double()),
                               reference, rtol=0, atol=1e-15, equal_nan=True)


def test_ap_is_deterministic_for_a_seed(draws):
    scores, target, _, _ = draws
    runs = [bootstrap_average_precision(scores, target, replicate_counts(
        bootstrap_indices(len(scores), 5, seed=9), len(scores))) for _ in range(2)]
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0, equal_nan=True)


def test_ap_accepts_bool_target():
    scores, target = make_data(num=60, classes=3, seed=4)
    target = target.clamp(min=0).bool()
    idx = bootstrap_indices(60, 4, seed=1)
    ap = bootstrap_average_precision(scores, target, replicate_counts(idx, 60))
    for b in range(4):
        np.testing.assert_allclose(ap[b].numpy(), sklearn_ap(scores, target.to(torch.int8),
                                                             idx[b]),
                                   rtol=0, atol=1e-12, equal_nan=True)


# ------------------------------------------------------------------ confusion and means

def test_confusion_equals_counting_on_materialised_replicates(draws):
    scores, target, idx, counts = draws
    pred = scores >= 0.3
    got = bootstrap_confusion(pred, target, counts)
    assert set(got) == {'tp', 'fp', 'fn'}
    for b in range(len(idx)):
        p, t = pred[idx[b]].numpy(), target[idx[b]].numpy()
        expected = dict(tp=(p & (t == 1)).sum(0), fp=(p & (t == 0)).sum(0),
                        fn=(~p & (t == 1)).sum(0))
        for key, value in expected.items():
            assert got[key].dtype == torch.float64 and got[key].shape == counts.shape[:1] + (7, )
            np.testing.assert_array_equal(got[key][b].numpy(), value.astype(np.float64))


def test_confusion_chunks(draws, monkeypatch):
    scores, target, _, counts = draws
    pred = scores >= 0.0
    reference = bootstrap_confusion(pred, target, counts)
    monkeypatch.setattr(bs, 'CHUNK_BYTES', 1)
    got = bootstrap_confusion(pred, target.clamp(min=0).bool(), counts)
    plain = bootstrap_confusion(pred, target.clamp(min=0), counts)
    for key in reference:
        torch.testing.assert_close(got[key], plain[key], rtol=0, atol=0)
    assert (reference['tp'] <= plain['tp']).all()  # ignored cells counted as negatives: no more


def test_example_metrics_equal_sklearn_on_materialised_replicates(draws):
    scores, target, idx, counts = draws
    target = target.clone()
    target[5] = -1  # a sample with no label that counts: in no mean
    pred = scores >= 0.0
    got = weighted_example_metrics(example_terms(pred, target), counts)
    for b in range(len(idx)):
        rows = [i for i in idx[b] if (target[i] >= 0).any()]
        y, p = target[rows].clamp(min=0).numpy(), pred[rows].numpy()
        valid = (target[rows] >= 0).numpy()
        p = p & valid  # an ignored cell is neither predicted nor true
        assert float(got['subset_accuracy'][b]) == pytest.approx(skm.accuracy_score(y, p),
                                                                 abs=1e-12)
        assert float(got['jaccard'][b]) == pytest.approx(
            skm.jaccard_score(y, p, average='samples', zero_division=0), abs=1e-12)
        assert float(got['example_f1'][b]) == pytest.approx(
            skm.f1_score(y, p, average='samples', zero_division=0), abs=1e-12)
        wrong = ((p != y) & valid).sum()
        assert float(got['hamming_accuracy'][b]) == pytest.approx(1 - wrong / valid.sum(),
                                                                  abs=1e-12)
    nothing = weighted_example_metrics(example_terms(pred, target),
                                       torch.zeros((1, len(pred)), dtype=torch.int32))
    assert all(math.isnan(float(value[0])) for value in nothing.values())


# ------------------------------------------------------------------ intervals

def test_percentile_interval_equals_nanquantile():
    g = torch.Generator().manual_seed(0)
    replicates = torch.randn(1000, 3, generator=g, dtype=torch.float64)
    replicates[::7, 1] = float('nan')
    replicates[:, 2] = float('nan')
    low, high = percentile_interval(replicates)
    expected = np.nanquantile(replicates[:, :2].numpy(), [0.025, 0.975], axis=0)
    np.testing.assert_allclose(low[:2].numpy(), expected[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(high[:2].numpy(), expected[1], rtol=0, atol=1e-12)
    assert math.isnan(low[2].item()) and math.isnan(high[2].item())
    low, high = percentile_interval(replicates[:, 0], level=0.5)
    assert low.dim() == 0
    assert low.item() == pytest.approx(np.quantile(replicates[:, 0].numpy(), 0.25), abs=1e-12)
    assert high.item() == pytest.approx(np.quantile(replicates[:, 0].numpy(), 0.75), abs=1e-12)


# ------------------------------------------------------------------ bad arguments

def _ap_args(**change):
    scores = torch.tensor([[0.1, 0.2], [0.3, 0.3], [0.5, 0.1], [0.5, 0.9], [0.0, 0.4], [1.0, 0.4]])
    target = torch.tensor([[1, 0], [0, 1], [-1, 0], [1, 1], [0, 0], [0, 1]], dtype=torch.int8)
    args = dict(scores=scores, target=target, counts=torch.ones((2, 6), dtype=torch.int32))
    args.update(change)
    return args


@pytest.mark.parametrize('call, match', [
    (lambda: bootstrap_indices(0), 'num_samples must be an int >= 1'),
    (lambda: bootstrap_indices(5, 0), 'num_replicates must be an int >= 1'),
    (lambda: bootstrap_indices(5, 2.5), 'num_replicates must be an int >= 1'),
    (lambda: bootstrap_indices(5, 2, seed=-1), 'seed must be an int >= 0'),
    (lambda: replicate_counts(np.array([0, 1]), 3), r'indices must have shape \(B, M\)'),
    (lambda: replicate_counts(np.array([[0, 3]]), 3), r'indices must lie in \[0, 3\).*draw 1 is 3'),
    (lambda: replicate_counts(np.array([[0.0, 1.0]]), 3), 'indices must be integers'),
    (lambda: bootstrap_average_precision(**_ap_args(counts=torch.ones(2, 5))),
     r'counts must have shape \(B, N\) = \(B, 6\)'),
    (lambda: bootstrap_average_precision(**_ap_args(counts=torch.ones(0, 6))),
     'counts holds no replicate'),
    (lambda: bootstrap_average_precision(**_ap_args(counts=-torch.ones(2, 6, dtype=torch.int32))),
     'counts must be finite and non-negative.*replicate 0, sample 0 is -1'),
    (lambda: bootstrap_average_precision(**_ap_args(counts=torch.full((1, 6), float('nan')))),
     'counts must be finite and non-negative'),
    (lambda: bootstrap_average_precision(**_ap_args(target=torch.full((6, 2), 2))),
     'target values must be 1'),
    (lambda: bootstrap_average_precision(**_ap_args(target=torch.ones(5, 2))),
     'target shape'),
    (lambda: bootstrap_average_precision(**_ap_args(scores=torch.full((6, 2), float('nan')))),
     'NaN'),
    (lambda: bootstrap_average_precision(**_ap_args(), chunk_classes=0),
     'chunk_classes must be an int >= 1'),
    (lambda: bootstrap_average_precision(**_ap_args(), chunk_replicates=1.5),
     'chunk_replicates must be an int >= 1'),
    (lambda: bootstrap_confusion(torch.ones(6, 2), torch.ones(6, 2), torch.ones(1, 6)),
     r'pred must be an \(N, C\) bool tensor'),
    (lambda: bootstrap_confusion(torch.ones(6, 2).bool(), torch.ones(6, 3), torch.ones(1, 6)),
     'target shape'),
    (lambda: bootstrap_confusion(torch.ones(6, 2).bool(), torch.ones(6, 2), torch.ones(1, 5)),
     r'counts must have shape \(B, N\) = \(B, 6\)'),
    (lambda: percentile_interval(torch.ones(5), level=1.0), r'level must be a number in \(0, 1\)'),
    (lambda: percentile_interval(torch.ones(5), level=0), r'level must be a number in \(0, 1\)'),
    (lambda: percentile_interval(torch.ones(5), level=float('nan')), 'level must be a number'),
    (lambda: percentile_interval(torch.ones(0, 3)), r'replicates must have shape \(B, \.\.\.\)'),
])
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_docstring_examples():
    import doctest
    result = doctest.testmod(bs, extraglobs=dict(torch=torch), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_large_counts_are_added_exactly(draws):
    scores, target, _, counts = draws
    assert bs._sum_dtype(counts) == torch.float32
    big = counts.to(torch.int64)
    big[0, 5] = 2**22  # max * N >= 2**24, but every row sums below: float32 still exact
    assert bs._sum_dtype(big) == torch.float32
    big[1, 7] = 2**24 + 1  # float32 would round: float64
    assert bs._sum_dtype(big) == torch.float64
    ap = bootstrap_average_precision(scores, target, big)
    s, t = scores.double().numpy(), target.numpy()
    for b in (0, 1, 2):
        for c in (0, 3, 6):
            keep = t[:, c] >= 0
            expected = average_precision_score(t[keep, c] == 1, s[keep, c],
                                               sample_weight=big[b].numpy()[keep])
            assert abs(float(ap[b, c]) - expected) < 1e-12


def test_basic_and_logit_intervals_reflect_the_percentiles_about_the_point():
    g = torch.Generator().manual_seed(3)
    replicates = 60 + 3 * torch.randn(999, 4, generator=g, dtype=torch.float64)
    replicates[::7, 3] = float('nan')  # left out, as by the percentile interval
    point = torch.tensor([58.0, 60.0, 62.0, 61.0], dtype=torch.float64)
    q_low, q_high = (np.nanpercentile(replicates.numpy(), q, axis=0) for q in (2.5, 97.5))
    low, high = bs.bootstrap_interval(point, replicates, 'basic')
    np.testing.assert_allclose(low.numpy(), 2 * point.numpy() - q_high, atol=1e-9)
    np.testing.assert_allclose(high.numpy(), 2 * point.numpy() - q_low, atol=1e-9)
    logit = lambda x: np.log(x / 100) - np.log1p(-x / 100)  # noqa: E731
    expit = lambda x: 100 / (1 + np.exp(-x))  # noqa: E731
    z = logit(replicates.numpy())
    z_low, z_high = (np.nanpercentile(z, q, axis=0) for q in (2.5, 97.5))
    low, high = bs.bootstrap_interval(point, replicates, 'logit-basic')
    np.testing.assert_allclose(low.numpy(), expit(2 * logit(point.numpy()) - z_high), atol=1e-9)
    np.testing.assert_allclose(high.numpy(), expit(2 * logit(point.numpy()) - z_low), atol=1e-9)
    near_one = torch.tensor([99.9]), torch.full((50, 1), 99.99, dtype=torch.float64)
    low, high = bs.bootstrap_interval(*near_one, 'logit-basic')
    assert 0 < low.item() <= high.item() < 100  # the logit scale keeps it inside (0, 100)
    perfect = torch.tensor([100.0]), torch.full((50, 1), 100.0, dtype=torch.float64)
    assert [v.item() for v in bs.bootstrap_interval(*perfect, 'logit-basic')] == [100.0, 100.0]
    with pytest.raises(ValueError, match='method must be one of'):
        bs.bootstrap_interval(point, replicates, 'bca')
