"""Seeds inside the intervals (functional.seed_noise), against hand-worked values, scipy's t
and scikit-learn's ROC AUC (the probability of improvement is the Mann-Whitney statistic)."""
import math

import numpy as np
import pytest
import torch
from scipy import stats as scipy_stats
from sklearn.metrics import roc_auc_score

from seed_reference import shrunk_image_interval

from mmml_ext.functional.bootstrap import bootstrap_interval
from mmml_ext.functional.seed_noise import (bootstrap_probability_of_improvement,
                                            difference_interval, own_noise,
                                            probability_of_improvement,
                                            seed_margin, seed_term, setting_interval,
                                            with_seed_margin)


def test_seed_term_is_welch_by_hand():
    # a: var 1 over 3 seeds, b: var 2 over 2 seeds -> se^2 = 1/3 + 1, df = (4/3)^2 / (1/18 + 1)
    se, df = seed_term([torch.tensor([1., 2., 3.]), torch.tensor([2., 4.])])
    assert se == pytest.approx(math.sqrt(4 / 3))
    assert df == pytest.approx(32 / 19)
    margin = seed_margin([torch.tensor([1., 2., 3.]), torch.tensor([2., 4.])], 0.9)
    assert margin == pytest.approx(scipy_stats.t.ppf(0.95, 32 / 19) * math.sqrt(4 / 3))


def test_one_seed_or_equal_seeds_add_no_margin():
    assert math.isnan(seed_term([torch.tensor([3.])])[0])
    assert seed_margin([torch.tensor([3.])]) == 0.0
    assert seed_term([torch.tensor([3., 3.])])[0] == 0.0
    # a side of one seed adds nothing; the other's term stands alone (df = S - 1)
    se, df = seed_term([torch.tensor([1., 2., 3.]), torch.tensor([7.])])
    assert (se, df) == (pytest.approx(math.sqrt(1 / 3)), pytest.approx(2.0))


def test_mover_adds_margins_in_quadrature_and_keeps_bounds():
    assert with_seed_margin(10.0, 7.0, 14.0, 3.0) == pytest.approx((10 - math.hypot(3, 3),
                                                                   10 + 5.0))
    assert with_seed_margin(99.0, 98.0, 99.5, 4.0, (0.0, 100.0))[1] == 100.0


def test_setting_interval_is_the_transcribed_formula():
    rng = np.random.default_rng(0)
    points = torch.tensor([61.6, 64.4, 66.5], dtype=torch.float64)
    shared, own = rng.normal(0, 1.5, 500), rng.normal(0, 0.8, (3, 500))
    replicates = points[:, None] + torch.from_numpy(shared + own)
    mean, low, high = setting_interval(points, replicates, 'percentile')
    seed_mean = replicates.mean(dim=0).numpy()
    image_low, image_high = shrunk_image_interval(mean, *np.percentile(seed_mean, [2.5, 97.5]),
                                                   [replicates.numpy()], seed_mean)
    margin = scipy_stats.t.ppf(0.975, 2) * np.std(points.numpy(), ddof=1) / np.sqrt(3)
    assert mean == pytest.approx(points.mean().item())
    assert low == pytest.approx(mean - np.hypot(mean - image_low, margin))
    assert high == pytest.approx(mean + np.hypot(image_high - mean, margin))
    # one seed: the image interval with the metric's method, unchanged
    one = setting_interval(points[:1], replicates[:1], 'logit-basic')
    expected = bootstrap_interval(points[0], replicates[0], 'logit-basic')
    assert one[1:] == pytest.approx((float(expected[0]), float(expected[1])))


def test_own_noise_recovers_the_runs_own_variance():
    # replicates = shared image noise (sd 2) + each run's own (sd 1), 5 runs:
    # q / S = 1 / 5, V = 4 + 1 / 5
    rng = np.random.default_rng(5)
    replicates = torch.from_numpy(rng.normal(0, 2, 200_000) + rng.normal(0, 1, (5, 200_000)))
    own, total = own_noise(replicates)
    assert own == pytest.approx(0.2, rel=0.02)
    assert total == pytest.approx(4.2, rel=0.02)
    assert own_noise(replicates[:1])[0] == 0.0  # one run: nothing to tell apart
    # runs that move together on every draw have no noise of their own
    assert own_noise(torch.stack([replicates[0], replicates[0] + 3]))[0] == pytest.approx(0.0)


def test_difference_interval_pairs_images_and_welch_on_seeds():
    rng = np.random.default_rng(1)
    common = rng.normal(0, 1, 400)  # the same image draws move both settings
    a_points, b_points = torch.tensor([60., 62., 63.]), torch.tensor([55., 58.])
    a = a_points[:, None].double() + torch.from_numpy(common + rng.normal(0, .4, (3, 400)))
    b = b_points[:, None].double() + torch.from_numpy(0.5 * common + rng.normal(0, .4, (2, 400)))
    delta, low, high = difference_interval(a_points, a, b_points, b)
    diff = (a.mean(0) - b.mean(0)).numpy()
    image_low, image_high = shrunk_image_interval(delta, *np.percentile(diff, [2.5, 97.5]),
                                                   [a.numpy(), b.numpy()], diff)
    va, vb = a_points.var().item() / 3, b_points.var().item() / 2
    df = (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 1)
    margin = scipy_stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert delta == pytest.approx(a_points.mean().item() - b_points.mean().item())
    assert image_high - image_low < np.subtract(*np.percentile(diff, [97.5, 2.5]))
    assert low == pytest.approx(delta - np.hypot(delta - image_low, margin))
    assert high == pytest.approx(delta + np.hypot(image_high - delta, margin))
    with pytest.raises(ValueError, match='same draws'):
        difference_interval(a_points, a, b_points, b[:, :10])
    with pytest.raises(ValueError, match=r'one row per seed'):
        difference_interval(a_points, a[:2], b_points, b)


@pytest.mark.parametrize('lower', [False, True])
def test_probability_of_improvement_is_the_mann_whitney_auc(lower):
    rng = np.random.default_rng(2)
    for _ in range(20):
        a = rng.integers(0, 5, rng.integers(1, 6)).astype(float)  # ties on purpose
        b = rng.integers(0, 5, rng.integers(1, 6)).astype(float)
        sign = -1 if lower else 1
        labels = np.r_[np.ones(len(a)), np.zeros(len(b))]
        if len(set(labels)) < 2:
            continue
        expected = roc_auc_score(labels, sign * np.r_[a, b])
        got = probability_of_improvement(torch.tensor(a), torch.tensor(b), lower)
        assert float(got) == pytest.approx(expected)


def test_bootstrap_probability_of_improvement_resamples_each_side():
    rng = np.random.default_rng(3)
    a = torch.from_numpy(rng.normal(1, 1, (3, 50)))
    b = torch.from_numpy(rng.normal(0, 1, (2, 50)))
    got = bootstrap_probability_of_improvement(a, b, generator=torch.Generator().manual_seed(7))
    # the documented draws: A's seeds for every replicate, then B's
    g = torch.Generator().manual_seed(7)
    seeds_a = torch.randint(3, (50, 3), generator=g)
    seeds_b = torch.randint(2, (50, 2), generator=g)
    for r in range(50):
        xa, xb = a[seeds_a[r], r].numpy(), b[seeds_b[r], r].numpy()
        wins = (xa[:, None] > xb[None]).mean() + 0.5 * (xa[:, None] == xb[None]).mean()
        assert float(got[r]) == pytest.approx(wins)
    with pytest.raises(ValueError, match=r'\(S_A, B\)'):
        bootstrap_probability_of_improvement(a, b[:, :3])
