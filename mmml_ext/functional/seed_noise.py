"""Seeds inside the intervals: a setting's or a difference's interval widened by seed-to-seed noise.

A setting trained with S seeds and tested on one test set has S point estimates
``m_s`` and, from the paired bootstrap over the test images, S rows of
replicates ``m_s,b``. Two sources of error are independent:

- **the test images**: the interval of the seed mean over the image
  replicates (``mean_s m_s,b``), with the metric's declared method
  (:func:`~mmml_ext.functional.bootstrap.bootstrap_interval`), gives the lower
  and upper margins ``point - low`` and ``high - point``;
- **the seeds**: the seed mean's standard error ``sd / sqrt(S)`` (``sd`` the
  sample standard deviation of the ``m_s``), with Student's t quantile at S - 1
  degrees of freedom: ``h = t(S-1, 1 - alpha/2) sd / sqrt(S)``.

Each run's value on the test set also carries noise of its own: the images
that one model gets wrong and another gets right. The seeds' ``sd`` already
holds it (the runs differ by it on one test set), and so does the image interval
of the seed mean (each replicate moves each run by it). Counted once, in the
seeds' ``sd``: the image margins are shrunk to the noise that all runs share,
the variance of the seed mean's replicates ``V`` less the runs' own part
``q / S``, with ``q = sum_s var_b(m_s,b - mean_s' m_s',b) / (S - 1)`` (its
expectation is the own-noise variance of a run)::

    f = sqrt(max(V - q / S, 0) / V)

Image margins (times ``f``) and the seed margin are combined margin by margin
(the method of variance estimates recovery, MOVER: Zou and Donner, 2008)::

    low  = point - sqrt((f (point - low_images))^2 + h^2)
    high = point + sqrt((f (high_images - point))^2 + h^2)

so an asymmetric image interval (the logit interval of AP) keeps its shape and
a setting with seeds that agree is not widened. For the **difference** of two
settings A - B (independent trainings, the same test images): the image
interval is that of the paired difference of the seed means, shrunk by
``q_A / S_A + q_B / S_B``, and the seed term is Welch's:
``se^2 = sd_A^2 / S_A + sd_B^2 / S_B`` with the Welch-Satterthwaite degrees of
freedom. A side with one seed adds no seed term and keeps its own noise in the
image interval: its seed noise is not covered (the comparison says so). The
coverage study measured both forms: counting the own noise twice, differences
covered 97.5-99.9 % at 95 % nominal.

Why not resample the seeds in each replicate (a two-level bootstrap)? With the
usual 2 to 5 seeds, the bootstrap of a mean of S values covers like a normal
interval with the variance shrunk by (S - 1) / S: at S = 3 its seed part is
1.96 * 0.82 standard errors wide where the t quantile asks for 4.30. The
coverage study (``tools/benchmarks/coverage_study.py --seeds``) measures both.

**Probability of improvement** (Agarwal et al., "Deep Reinforcement Learning at
the Edge of the Statistical Precipice", NeurIPS 2021): the probability that a
run of A beats a run of B, ``P = mean_ij ([a_i > b_j] + [a_i = b_j] / 2)`` over
all pairs of their seeds' values (the Mann-Whitney statistic, scaled to [0, 1];
"beats" is "is lower" for a metric where lower is better). Its interval
resamples the seeds of each setting and the test images together.
"""
import math
from typing import Optional, Sequence, Tuple

import torch

from .bootstrap import bootstrap_interval


def _check_runs(points: torch.Tensor, replicates: torch.Tensor, name: str) -> None:
    if points.dim() != 1 or points.numel() == 0:
        raise ValueError(f'{name}: points must have shape (S,), one value per seed, got '
                         f'{tuple(points.shape)}')
    if replicates.dim() != 2 or replicates.shape[0] != points.shape[0]:
        raise ValueError(f'{name}: replicates must have shape (S, B) = ({points.shape[0]}, B), '
                         f'one row per seed, got {tuple(replicates.shape)}')


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f'level must be in (0, 1), got {level!r}')


def own_noise(replicates: torch.Tensor) -> Tuple[float, float]:
    """Each run's own image noise and the seed mean's image variance, from paired replicates.

    Args:
        replicates (Tensor): (S, B) the seeds' replicates on the same image draws
            (draws where a run is NaN are left out).

    Returns:
        tuple[float, float]: ``(q / S, V)``: the runs' own share of the seed
        mean's replicate variance (0 for one seed) and that variance ``V``.
    """
    values = replicates.double()
    values = values[:, torch.isfinite(values).all(dim=0)]
    if values.shape[1] < 2:
        return 0.0, math.nan
    mean = values.mean(dim=0)
    total = _replicate_variance(mean)
    runs = values.shape[0]
    if runs < 2:
        return 0.0, total
    own = float((values - mean).var(dim=1, unbiased=True).sum()) / (runs - 1)
    return own / runs, total


def _replicate_variance(values: torch.Tensor) -> float:
    """The sample variance of the finite replicates (NaN with fewer than two)."""
    finite = values[torch.isfinite(values)]
    return float(finite.var(unbiased=True)) if finite.numel() > 1 else math.nan


def _shrink(point: float, low: float, high: float, own: float, total: float
            ) -> Tuple[float, float]:
    """The image interval's margins times ``sqrt(max(total - own, 0) / total)``."""
    if not own > 0 or not total > 0:
        return low, high
    factor = math.sqrt(max(total - own, 0.0) / total)
    return point - factor * (point - low), point + factor * (high - point)


def seed_term(points: Sequence[torch.Tensor]) -> Tuple[float, float]:
    """The seed part of the standard error of a mean (one setting) or a difference (two).

    Args:
        points (Sequence[Tensor]): Each side's (S,) point estimates, one per seed.

    Returns:
        tuple[float, float]: ``(se, df)``: ``sqrt(sum sd^2 / S)`` over the sides
        with S >= 2, and the Welch-Satterthwaite degrees of freedom
        (``nan`` when no side has two seeds or every sd is 0).
    """
    variances, dfs = [], []
    for values in points:
        num = values.numel()
        if num >= 2:
            variances.append(float(values.double().var(unbiased=True)) / num)
            dfs.append(num - 1)
    total = sum(variances)
    if not variances or not total > 0:
        return (0.0 if variances else math.nan), math.nan
    df = total ** 2 / sum(v ** 2 / d for v, d in zip(variances, dfs))
    return math.sqrt(total), df


def seed_margin(points: Sequence[torch.Tensor], level: float = 0.95) -> float:
    """``t(df, 1 - alpha/2) * se`` of :func:`seed_term`; 0 when no side has two seeds or every sd is 0."""
    _check_level(level)
    se, df = seed_term(points)
    if math.isnan(se) or se == 0:
        return 0.0
    from scipy.stats import t  # only the seed statistics need it
    return float(t.ppf(0.5 + level / 2, df)) * se


def with_seed_margin(point: float, low: float, high: float, margin: float,
                     bounds: Optional[Tuple[float, float]] = None) -> Tuple[float, float]:
    """MOVER: each side's image margin and the seed margin added in quadrature, kept in ``bounds``."""
    low = point - math.hypot(point - low, margin)
    high = point + math.hypot(high - point, margin)
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return low, high


def setting_interval(points: torch.Tensor, replicates: torch.Tensor, method: str = 'percentile',
                     level: float = 0.95, bounds: Optional[Tuple[float, float]] = (0.0, 100.0)
                     ) -> Tuple[float, float, float]:
    """A setting's mean over its seeds and its interval, test images and seeds covered.

    Args:
        points (Tensor): (S,) the seeds' point estimates.
        replicates (Tensor): (S, B) their bootstrap replicates (the same image draws).
        method (str): The image interval's method (``bootstrap_interval``).
        level (float): Nominal coverage. Defaults to 0.95.
        bounds (tuple, optional): The metric's range. Defaults to (0, 100).

    Returns:
        tuple[float, float, float]: ``(mean, low, high)``; with one seed, the
        image interval alone.

    Examples:
        >>> import torch
        >>> from mmml_ext.functional.seed_noise import setting_interval
        >>> points = torch.tensor([60.0, 62.0, 64.0])
        >>> replicates = points[:, None] + torch.linspace(-1, 1, 101)
        >>> mean, low, high = setting_interval(points, replicates)
        >>> round(mean, 1), low < 62.0 - 4.9, high > 62.0 + 4.9  # t(2) * 2 / sqrt(3) = 4.97
        (62.0, True, True)
    """
    _check_runs(points, replicates, 'setting_interval')
    point = float(points.double().mean())
    low, high = bootstrap_interval(torch.tensor(point, dtype=torch.float64),
                                   replicates.double().mean(dim=0), method, level)
    low, high = _shrink(point, float(low), float(high), *own_noise(replicates))
    return (point, *with_seed_margin(point, low, high, seed_margin([points], level), bounds))


def difference_interval(points_a: torch.Tensor, replicates_a: torch.Tensor,
                        points_b: torch.Tensor, replicates_b: torch.Tensor,
                        level: float = 0.95) -> Tuple[float, float, float]:
    """The difference of two settings' seed means (A - B) and its interval.

    The image part is the percentile interval of the paired replicates' difference,
    its margins shrunk to the noise all runs share (:func:`own_noise`); the seed
    part is Welch's (:func:`seed_margin` of both sides).

    Returns:
        tuple[float, float, float]: ``(difference, low, high)``.
    """
    _check_runs(points_a, replicates_a, 'difference_interval (A)')
    _check_runs(points_b, replicates_b, 'difference_interval (B)')
    if replicates_a.shape[1] != replicates_b.shape[1]:
        raise ValueError(f'difference_interval: A has {replicates_a.shape[1]} replicates, B '
                         f'{replicates_b.shape[1]}; a paired difference needs the same draws')
    delta = float(points_a.double().mean() - points_b.double().mean())
    diff = replicates_a.double().mean(dim=0) - replicates_b.double().mean(dim=0)
    low, high = bootstrap_interval(torch.tensor(delta, dtype=torch.float64), diff, 'percentile',
                                   level)
    own = own_noise(replicates_a)[0] + own_noise(replicates_b)[0]
    low, high = _shrink(delta, float(low), float(high), own, _replicate_variance(diff))
    margin = seed_margin([points_a, points_b], level)
    return (delta, *with_seed_margin(delta, low, high, margin))


def probability_of_improvement(a: torch.Tensor, b: torch.Tensor,
                               lower_is_better: bool = False) -> torch.Tensor:
    """P(a run of A beats a run of B): the mean over all seed pairs, ties counting a half.

    Args:
        a (Tensor): (..., S_A) values of A's seeds.
        b (Tensor): (..., S_B) values of B's seeds (the same leading shape).
        lower_is_better (bool): A beats B when it is lower.

    Returns:
        Tensor: (...) in [0, 1]; NaN where a value is NaN.

    Examples:
        >>> import torch
        >>> from mmml_ext.functional.seed_noise import probability_of_improvement
        >>> float(probability_of_improvement(torch.tensor([3., 5.]), torch.tensor([4., 5.])))
        0.625
    """
    if lower_is_better:
        a, b = -a, -b
    a, b = a.double().unsqueeze(-1), b.double().unsqueeze(-2)
    wins = (a > b).double() + 0.5 * (a == b).double()
    result = wins.mean(dim=(-2, -1))
    nan = torch.isnan(a).any(dim=(-2, -1)) | torch.isnan(b).any(dim=(-2, -1))
    return result.masked_fill(nan, math.nan)


def bootstrap_probability_of_improvement(replicates_a: torch.Tensor, replicates_b: torch.Tensor,
                                         lower_is_better: bool = False,
                                         generator: Optional[torch.Generator] = None
                                         ) -> torch.Tensor:
    """Replicates of :func:`probability_of_improvement`: in replicate b, the seeds of each side
    drawn with replacement and compared on that replicate's test images.

    Args:
        replicates_a (Tensor): (S_A, B) A's seeds' replicates.
        replicates_b (Tensor): (S_B, B) B's, on the same image draws.
        lower_is_better (bool): A beats B when it is lower.
        generator (torch.Generator, optional): For the seed draws.

    Returns:
        Tensor: (B,) replicates.
    """
    if replicates_a.dim() != 2 or replicates_b.dim() != 2 or \
            replicates_a.shape[1] != replicates_b.shape[1]:
        raise ValueError('bootstrap_probability_of_improvement: replicates must have shapes '
                         f'(S_A, B) and (S_B, B), got {tuple(replicates_a.shape)} and '
                         f'{tuple(replicates_b.shape)}')
    num = replicates_a.shape[1]

    def drawn(values: torch.Tensor) -> torch.Tensor:
        seeds = torch.randint(values.shape[0], (num, values.shape[0]), generator=generator)
        return values.t().gather(1, seeds)  # (B, S): replicate b's resampled seeds

    return probability_of_improvement(drawn(replicates_a), drawn(replicates_b), lower_is_better)
