"""Coverage of the bootstrap intervals: how often each 95 % interval method contains the truth.

    python tools/benchmarks/coverage_study.py --check-truth [--check-images 200000]
    python tools/benchmarks/coverage_study.py [--sizes 200x20,200x80,5000x20,5000x80]
        [--profiles balanced,long-tailed] [--sets 500] [--replicates 1000] [--seed 0]
        [--jackknife-rows 500] [--budget-s SECONDS] [--keys KEY[,KEY...]]
        [--out /tmp/coverage/results.json]
    python tools/benchmarks/coverage_study.py --seeds 1,2,3,5 [--sizes 200x20]
        [--profiles balanced,long-tailed] [--sets 500] [--replicates 1000]
        [--seed-tau-global 0.05] [--seed-tau-class 0.15] [--truth-draws 100000]
        [--budget-s SECONDS] [--out /tmp/coverage_seeds/results.json]

The comparisons of the project put a 95 % interval on every test metric (and on
the paired difference of two runs) by a bootstrap over the test images
(:mod:`mmml_ext.experiments.statistics`). An interval method is only as good as
its *coverage*: the share of test sets whose interval contains the true
(population) value, which should be 95 %. This script measures it, on
simulated test sets drawn from populations whose true metric values are known
in closed form (or by one-dimensional numerical integration), so no Monte Carlo
truth is needed (but for sample mAP, a mean over independent images, whose
truth is a Monte Carlo mean with a negligible error: below).

**Populations.** C classes, class c with prevalence pi_c; every label is an
independent Bernoulli(pi_c) draw (independent over images and classes). Two
frequency profiles:

- ``balanced``: pi_c = 0.15 for every class;
- ``long-tailed``: pi_c geometric from 0.40 (class 0) down to 0.02 (class C-1).
  Training counts (for head / medium / tail mAP) are ``round(2000 pi_c)``,
  i.e. 800 ... 40, with group bounds (100, 300): tail pi_c < 0.05, medium
  0.05 <= pi_c <= 0.15, head pi_c > 0.15, about a third of the classes each.
  The balanced profile has no training counts, so no group mAPs.

Model A has a latent score per cell: z ~ N(0, 1) for a negative and
N(d_c, 1) for a positive, where the separations d_c run linearly from 0.5
(weak) to 3.0 (strong) and are shuffled against the prevalences with a fixed
seed. The stored score is the float32 probability p = sigmoid(a z + b_c) with
the slope a = 2.0 and b_c = logit(pi_c) - a d_c / 2. This offset makes p equal
to the true posterior P(y = 1 | z) at the midpoint z = d_c / 2 (there the
posterior log-odds are logit(pi_c)); a classifier whose slope a equals d_c is
then perfectly calibrated. With one slope for all classes, weak classes
(d_c < 2) are over-confident and strong ones under-confident, and the pooled
ECE is 1.7 to 2.8 % (model A): neither 0 nor huge. (With a = 1.5 the over- and
under-confident classes cancel in the pooled bins and the ECE is 0.2 to 0.6 %,
below the noise of a sample ECE at N = 200.)

Model B is scored on the same images and labels:
z_B = d_B,c y + rho e_A + sqrt(1 - rho^2) e_B (e_A the noise of model A, e_B
fresh, both standard normal, rho = 0.7), with d_B,c = d_c + 0.3 on a fixed
random half of the classes and d_c on the others, and the same a and b_c. Its
marginal is model A's with d_B in place of d, so its truths are closed form
too, and the true difference of a metric is truth(B) - truth(A).

Per-class "tuned" thresholds (``CF1_tuned``, ``OF1_tuned``): each model's
population F1-optimal threshold of each class (float32, put in the
predictions' ``thresholds`` and in ``settings['prf_tuned']``), fixed for all
test sets, as thresholds tuned on a large validation set would be.

**Truths** (percent). With tpr_c(t) = 1 - Phi(t - d_c), fpr_c(t) = 1 - Phi(t)
at a threshold t on z (a probability threshold s is z > (logit(s) - b_c) / a):

- AP_c = integral of precision(t) d recall(t)
  = integral over t of pi tpr / (pi tpr + (1 - pi) fpr) phi(t - d) dt
  (the limit of scikit-learn's step-wise AP); mAP the mean over the classes,
  head / medium / tail mAP the mean over the group's classes
  (:func:`mmml_ext.evaluation.ap_metrics.frequency_groups`);
- AUROC_c = Phi(d_c / sqrt(2)), macro mean;
- precision at recall r and recall at precision p (r = p = 0.9,
  :data:`OPERATING_LEVEL`; torchmetrics' meaning, the class mean): the
  likelihood ratio phi(t - d) / phi(t) rises with t (d > 0), so tpr / fpr
  does and precision(t) = pi tpr / (pi tpr + (1 - pi) fpr) rises with t while
  recall falls. Precision at recall r is then the precision at the largest t
  with tpr(t) >= r, t = d + Phi^-1(1 - r), where tpr = r:
  pi r / (pi r + (1 - pi) fpr(t)). Recall at precision p is tpr at the
  smallest t with precision(t) >= p, the root t_p of
  log tpr(t) - log fpr(t) = logit(p) - logit(pi) (``brentq``; recall 1 where
  p <= pi). The sample statistics (the best of finitely many thresholds)
  tend to these values: a weak class whose precision reaches p only far in
  the tail (true recall near 0) keeps a small upward bias at finite N, the
  recall of a few top-scored positives;
- at a threshold (0.5, or the tuned one): P_c = pi tpr / (pi tpr + (1 - pi) fpr),
  R_c = tpr; CF1 = 2 CP CR / (CP + CR) with CP, CR the class means (the
  papers' CF1); OP = sum pi tpr / sum (pi tpr + (1 - pi) fpr),
  OR = sum pi tpr / sum pi, OF1 their harmonic mean;
- subset accuracy (exact match at 0.5) = prod_c [pi tpr + (1 - pi)(1 - fpr)];
- ECE (15 equal-width bins of p over all N C cells): per bin m,
  gap_m = sum_c E[(y - p) 1(p in m)] for class c's mixture, and
  ECE = sum_m |gap_m| / C;
- sample mAP (``MeanAP``'s ``sample_mAP``): E[AP_i | image i has a positive],
  AP_i the AP of one image's C labels ranked by their logits a z_c + b_c. It
  has no closed form (a ranking of C labels with other offsets), but the
  images are independent, so it is a plain mean over images: the Monte Carlo
  mean over :data:`SAMPLE_TRUTH_CELLS` cells of images drawn from the
  population (float64 logits, no ties, ranked by ``numpy.argsort`` and not by
  the project's kernel; model B on the same images and noise, so that the
  truth of B - A has a smaller error), with its standard error printed
  (about 0.02-0.03 points, far below the intervals' widths).

AP and ECE are integrated numerically (a 20,001-point trapezoid grid for AP,
256-node Gauss-Legendre per class and bin for ECE). ``--check-truth`` checks
every truth against one very large sample (``--check-images``, default 200,000)
computed through the project's metric function, with a bootstrap standard
error of that sample; the difference should be within about 0.2 points.

**The study.** For each setting (N images x C classes x profile), M test sets
(``--sets``; ``--budget-s`` stops a setting early) are drawn independently.
For each: the point estimate of every metric of A and B (a row of ones),
``--replicates`` bootstrap replicates (:func:`bootstrap_counts`, the same
counts for A and B: paired; B - A per replicate for the difference), and the
jackknife (leave-one-image-out) values for the BCa acceleration: all N rows
when N <= ``--jackknife-rows``, else that many randomly chosen leave-one-out
rows, with the acceleration scaled by sqrt(rows / N) (the sums of the
jackknife formula grow with the number of rows). Everything goes through one
call of the project's metric function per model and test set; the
predictions' settings are a test's five families (mAP, prf, prf_tuned,
subset, calibration) plus ``auroc``, ``precision_at_recall`` and
``recall_at_precision`` (:data:`RANKING_FAMILIES`; the seed mode has the
five alone). ``--keys`` (single-run mode) computes only the families that
declare the keys named, on the same test sets and replicates: their numbers
are those of the full study, at the cost of those families alone.

**Interval methods** (level 95 %, NaN replicates left out as the project does;
each a pure function of the (R,) replicates and the point estimate):

- ``percentile``: the 2.5 / 97.5 percentiles of the replicates (today's);
- ``basic``: [2 theta - q97.5, 2 theta - q2.5] (the reverse percentile);
- ``BC``: percentiles at Phi(2 z0 + z_alpha), z0 = Phi^-1(share of
  replicates below theta, ties counted half, kept within [1/(2R), 1 - 1/(2R)]);
- ``BCa``: percentiles at Phi(z0 + (z0 + z_alpha) / (1 - acc (z0 + z_alpha)))
  with the jackknife acceleration acc = sum d^3 / (6 (sum d^2)^1.5),
  d_i = mean of the leave-one-out values - the i-th;
- ``normal``: theta +- 1.96 sd(replicates);
- ``normal-bc``: the same around the bootstrap bias-corrected estimate
  2 theta - mean(replicates);
- ``logit-basic``: the basic interval on the scale logit(x / 100) (x clipped
  to [1e-6, 1 - 1e-6] first), transformed back; for a metric in [0, 100],
  so not for differences.

(Percentile, BC and BCa intervals do not change under a monotone transform,
so they have no logit variant.)

**Report.** Per (setting, model A / model B / difference B - A, metric,
method): the coverage with its Monte Carlo standard error sqrt(p (1 - p) / M),
the share of sets whose interval lies wholly above the truth (missed from
above) and wholly below it, and the mean width; per metric also the truth, the
bias of the point estimate (mean over the sets of estimate - truth) and that of
the bootstrap bias-corrected estimate 2 theta - mean(replicates) (the simplest
less biased AP estimate; it removes only part of the small-sample bias of AP,
see the results), its standard deviation over the sets against the mean
bootstrap standard error, and the share of NaN replicates. A metric whose replicates are NaN in more than
5 % of the replicates of a set (a tail group with no positive drawn) supports
no statement there (:data:`MIN_VALID_SHARE`); the share of such sets is
reported. A set whose point estimate is NaN has no interval and is left out
of that metric's coverage (the count of sets with an interval is given).
Written as JSON (``--out``) and as Markdown beside it (``.md``), also printed.

**Seed mode** (``--seeds S[,S...]``): the coverage of the intervals that put
seed-to-seed noise in (:mod:`mmml_ext.functional.seed_noise`), on populations
with a known seed effect. A training seed s changes a model's separations to
d_c + g_s + e_s,c, with a global "good / bad seed" shift g_s ~ N(0, tau_g^2)
(``--seed-tau-global``, 0.05) and a per-class shift e_s,c ~ N(0, tau_c^2)
(``--seed-tau-class``, 0.15); model B likewise around its own d_B,c, with its
own draws. The offsets b_c stay those of model A (the score mapping does not
change with the seed), and each seed's tuned thresholds are its own
population F1-optimal ones. At 200 x 20 this gives a population seed sd of
mAP of about 1.6 points, and 1.9 to 2.2 points between the runs on one test
set (the demo's seeds of one setting: 0.2 to 2.5). All runs, of both models, are
scored on the same images: run (m, s) has the latent noise
sqrt(rho) e_0 + sqrt(1 - rho) e_m,s, e_0 shared, so any two runs' noises have
correlation rho = 0.7 (as A and B above), and each run's marginal is that of
a fixed model with its seed's separations.

*Truths.* A setting's truth is E over seeds of the closed-form population
value of the seed's separations; the truth of the difference is
truth(B) - truth(A), that of the probability of improvement
P(truth_B(seed) > truth_A(seed')) over independent seeds (lower is better for
ECE; ties a half). Per class, AP, the F1-optimal threshold and the ECE bin
terms are tabulated on a grid of the separation (step 0.01, 8 seed sds beyond
both models' base separations, by the integrals above) and linearly
interpolated (:func:`seed_truths`; at the base separations it agrees with
:func:`truths` to 0.002 points); the expectation is the mean over
``--truth-draws`` (100,000) seed draws per model, whose Monte Carlo s.e.
(sd / sqrt(draws): at most about 0.01 points, 0.001 for the probability)
is reported and is far below the intervals' widths.

*Test sets.* For each test set, max(S) fresh seeds per model (a new study
trains new seeds), the point estimates and ``--replicates`` replicates of every
metric of each run (one call of the metric function per run, the same counts
for all runs); each S in ``--seeds`` uses the first S seeds of each model
(nested: the columns of S share test sets and are correlated, each is
unbiased). Per S, metric and target (A, B: the seed mean; B - A: the
difference of the seed means), three 95 % intervals:

- ``seed-covering``: the comparison's: :func:`setting_interval` with the
  metric's declared method (:func:`interval_methods`: logit-basic for the
  mAPs, percentile else), :func:`difference_interval` (B, A) for the
  difference: image interval of the seed mean, t (Welch) seed margin added
  margin by margin; with S = 1 it is the image interval alone;
- ``image-only``: the image interval of the seed mean's replicates alone
  (what the comparison did before);
- ``two-level``: in each replicate the S seeds of each model drawn with
  replacement and averaged, then the same method (percentile for B - A);

and, for S >= 2, the percentile interval of
:func:`bootstrap_probability_of_improvement` around
:func:`probability_of_improvement` (B beats A), as the comparison gives it.
Report (:func:`markdown_seeds`): per setting, target, metric and S the truth
(and its population seed sd), the bias and sd of the seed mean over the sets,
the RMS seed sd between the runs on a test set, and each interval's coverage,
Monte Carlo s.e., misses above / below and mean width.
"""
import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

for _name in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_name, '1')  # before numpy / torch load their thread pools

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy import optimize, special, stats  # noqa: E402

from mmml_ext.evaluation.ap_metrics import frequency_groups  # noqa: E402
from mmml_ext.functional.bootstrap import bootstrap_counts  # noqa: E402
from mmml_ext.run_facts.test_predictions import TestPredictions  # noqa: E402

from mmml_ext.evaluation.interval_statistics import (interval_methods,  # noqa: E402
                                                      lower_is_better, replicate_values)
from mmml_ext.functional.bootstrap import bootstrap_interval  # noqa: E402
from mmml_ext.functional.seed_noise import (  # noqa: E402
    bootstrap_probability_of_improvement, difference_interval, probability_of_improvement,
    setting_interval)

LEVEL = 0.95
#: below this share of non-NaN replicates an interval supports no statement (as the project)
MIN_VALID_SHARE = 0.95
PROFILES = ('balanced', 'long-tailed')
SLOPE = 2.0
RHO = 0.7
DELTA = 0.3
SEPARATION_RANGE = (0.5, 3.0)
LONG_TAIL_RANGE = (0.40, 0.02)
BALANCED_PREVALENCE = 0.15
TRAIN_IMAGES = 2000  # training counts: round(TRAIN_IMAGES * pi_c)
GROUP_BOUNDS = (100, 300)
NUM_BINS = 15
LOGIT_EPS = 1e-6
TARGETS = ('A', 'B', 'B-A')
#: the fixed recall of ``precision_at_recall`` and the fixed precision of ``recall_at_precision``
OPERATING_LEVEL = 0.9
#: the families the single-run mode adds to a test's settings, as ``MultiLabelAUROC`` and the
#: operating-point metrics write them (:meth:`statistics_settings`; ``difficult_as`` left to
#: its default, the target has no difficult label); the seed mode keeps the five of a test
#: without them
RANKING_FAMILIES = {
    'auroc': dict(absent_classes='exclude'),
    'precision_at_recall': dict(level=OPERATING_LEVEL, absent_classes='exclude'),
    'recall_at_precision': dict(level=OPERATING_LEVEL, absent_classes='exclude')}


# ---------------------------------------------------------------- populations and truths

@dataclass
class Population:
    """One simulated population (see the module docstring).

    Attributes:
        profile (str): ``balanced`` or ``long-tailed``.
        prevalence (np.ndarray): (C,) pi_c.
        separation (dict): Model ``A`` / ``B`` -> (C,) d_c of that model.
        offset (np.ndarray): (C,) b_c, shared by both models.
        thresholds (dict): Model -> (C,) float32 population F1-optimal thresholds.
        train_class_counts (np.ndarray, optional): (C,) int64 training counts
            (long-tailed only).
        slope (float): a.
        rho (float): Correlation of the two models' noise.
    """
    profile: str
    prevalence: np.ndarray
    separation: Dict[str, np.ndarray]
    offset: np.ndarray
    thresholds: Dict[str, np.ndarray] = field(default_factory=dict)
    train_class_counts: Optional[np.ndarray] = None
    slope: float = SLOPE
    rho: float = RHO

    @property
    def num_classes(self) -> int:
        return len(self.prevalence)

    def describe(self) -> dict:
        """The population's parameters, for the JSON."""
        return dict(profile=self.profile, classes=self.num_classes, slope=self.slope,
                    rho=self.rho, group_bounds=list(GROUP_BOUNDS),
                    prevalence=self.prevalence.round(5).tolist(),
                    separation_A=self.separation['A'].round(5).tolist(),
                    separation_B=self.separation['B'].round(5).tolist(),
                    offset=self.offset.round(5).tolist(),
                    thresholds_A=[float(v) for v in self.thresholds['A']],
                    thresholds_B=[float(v) for v in self.thresholds['B']],
                    train_class_counts=None if self.train_class_counts is None else
                    self.train_class_counts.tolist())


def make_population(profile: str, num_classes: int, seed: int = 0) -> Population:
    """The population of a profile at C classes; ``seed`` fixes the shuffles.

    Args:
        profile (str): ``balanced`` or ``long-tailed``.
        num_classes (int): C.
        seed (int): Seed of the shuffle of the separations and of the classes
            that model B improves.

    Returns:
        Population: With both models' F1-optimal thresholds.
    """
    if profile not in PROFILES:
        raise ValueError(f'profile must be one of {PROFILES}, got {profile!r}')
    rng = np.random.default_rng([seed, num_classes, PROFILES.index(profile)])
    if profile == 'balanced':
        prevalence = np.full(num_classes, BALANCED_PREVALENCE)
        train_counts = None
    else:
        prevalence = np.geomspace(*LONG_TAIL_RANGE, num_classes)
        train_counts = np.round(prevalence * TRAIN_IMAGES).astype(np.int64)
    separation_a = rng.permutation(np.linspace(*SEPARATION_RANGE, num_classes))
    improved = rng.permutation(num_classes) < num_classes // 2
    separation_b = separation_a + DELTA * improved
    offset = special.logit(prevalence) - SLOPE * separation_a / 2
    pop = Population(profile, prevalence, dict(A=separation_a, B=separation_b), offset,
                     train_class_counts=train_counts)
    for model in ('A', 'B'):
        pop.thresholds[model] = f1_optimal_thresholds(pop, pop.separation[model])
    return pop


def z_threshold(pop: Population, probability) -> np.ndarray:
    """(C,) the latent threshold t_c where p = sigmoid(a z + b_c) reaches ``probability``."""
    probability = np.asarray(probability, dtype=np.float64)
    return (special.logit(probability) - pop.offset) / pop.slope


def f1_optimal_thresholds(pop: Population, separation: np.ndarray) -> np.ndarray:
    """(C,) float32 probability thresholds that maximise each class's population F1."""
    t = np.linspace(-4.0, 8.0, 12001)[None, :]
    pi, d = pop.prevalence[:, None], separation[:, None]
    tpr, fpr = stats.norm.sf(t - d), stats.norm.sf(t)
    f1 = 2 * pi * tpr / (pi * tpr + (1 - pi) * fpr + pi)  # 2 TP / (2 TP + FP + FN)
    best = t[0, np.argmax(f1, axis=1)]
    return special.expit(pop.slope * best + pop.offset).astype(np.float32)


def true_average_precision(prevalence: np.ndarray, separation: np.ndarray) -> np.ndarray:
    """(C,) population AP: integral of precision(t) phi(t - d) dt (trapezoid, 20,001 points)."""
    u = np.linspace(-10.0, 10.0, 20001)[None, :]  # t - d
    pi, d = prevalence[:, None], separation[:, None]
    t = u + d
    log_ratio = stats.norm.logsf(t) - stats.norm.logsf(u)  # log(fpr / tpr), stable far out
    precision = 1.0 / (1.0 + (1 - pi) / pi * np.exp(log_ratio))
    return np.trapezoid(precision * stats.norm.pdf(u), u, axis=1)


def true_precision_at_recall(prevalence: np.ndarray, separation: np.ndarray,
                             recall: float = OPERATING_LEVEL) -> np.ndarray:
    """(C,) population precision at recall r: precision rises with the threshold t, recall
    falls, so it is the precision at the largest t with tpr(t) >= r, t = d + Phi^-1(1 - r),
    where tpr = r: pi r / (pi r + (1 - pi) fpr(t))."""
    fpr = stats.norm.sf(separation + stats.norm.isf(recall))
    return prevalence * recall / (prevalence * recall + (1 - prevalence) * fpr)


def true_recall_at_precision(prevalence: np.ndarray, separation: np.ndarray,
                             precision: float = OPERATING_LEVEL) -> np.ndarray:
    """(C,) population recall at precision p: tpr at the smallest threshold whose precision
    reaches p, the root t_p of log tpr(t) - log fpr(t) = logit(p) - logit(pi_c) (brentq;
    the left side rises from 0 to infinity for d > 0); 1 where p <= pi_c (every threshold
    reaches p), 0 where d <= 0 < logit(p) - logit(pi_c) (none does)."""
    recall = np.ones(len(prevalence))
    for c, (pi, d) in enumerate(zip(prevalence, separation)):
        odds = special.logit(precision) - special.logit(pi)
        if odds <= 0:
            continue
        if d <= 0:
            recall[c] = 0.0
            continue

        def gap(t: float) -> float:
            return float(stats.norm.logsf(t - d) - stats.norm.logsf(t)) - odds

        high = 1.0
        while gap(high) <= 0:
            high *= 2
        recall[c] = stats.norm.sf(optimize.brentq(gap, -10.0, high, xtol=1e-12) - d)
    return recall


def true_prf(prevalence: np.ndarray, tpr: np.ndarray, fpr: np.ndarray) -> Dict[str, float]:
    """CF1 and OF1 (fractions) of per-class population rates at a threshold."""
    predicted = prevalence * tpr + (1 - prevalence) * fpr
    precision = np.where(predicted > 0, prevalence * tpr / np.maximum(predicted, 1e-300), 0.0)
    cp, cr = precision.mean(), tpr.mean()
    op = (prevalence * tpr).sum() / predicted.sum()
    orec = (prevalence * tpr).sum() / prevalence.sum()
    return dict(CF1=2 * cp * cr / (cp + cr), OF1=2 * op * orec / (op + orec))


def true_ece(pop: Population, separation: np.ndarray, num_bins: int = NUM_BINS) -> float:
    """Population ECE (fraction) over all cells: sum over bins of |sum_c E[(y - p) 1(bin)]| / C.

    Gauss-Legendre (256 nodes) over each class's z-interval of each bin, clipped
    to 12 standard deviations beyond both components.
    """
    nodes, weights = np.polynomial.legendre.leggauss(256)
    edges = z_threshold(pop, np.linspace(0.0, 1.0, num_bins + 1)[:, None]).T  # (C, M + 1)
    d = separation[:, None]
    low_end, high_end = np.minimum(0.0, d) - 12.0, np.maximum(0.0, d) + 12.0
    low = np.clip(edges[:, :-1], low_end, high_end)  # (C, M)
    high = np.clip(edges[:, 1:], low_end, high_end)
    half = (high - low)[..., None] / 2
    z = half * nodes + (high + low)[..., None] / 2  # (C, M, K)
    pi, b = pop.prevalence[:, None, None], pop.offset[:, None, None]
    p = special.expit(pop.slope * z + b)
    integrand = pi * stats.norm.pdf(z - d[..., None]) * (1 - p) \
        - (1 - pi) * stats.norm.pdf(z) * p
    gap = (integrand * weights * half).sum(axis=2)  # (C, M)
    return float(np.abs(gap.sum(axis=0)).sum() / pop.num_classes)


#: cells (images x classes) of the Monte Carlo truth of sample mAP
SAMPLE_TRUTH_CELLS = 40_000_000
#: (population, model) -> (truth, s.e.) of sample mAP (percent): computed once per process
_SAMPLE_TRUTHS: Dict[Tuple[str, int, int, str], Tuple[float, float]] = {}


def true_sample_map(pop: Population, model: str, seed: int = 0,
                    cells: int = SAMPLE_TRUTH_CELLS) -> Tuple[float, float]:
    """Population sample mAP of ``model`` (percent) and its Monte Carlo standard error.

    The mean of AP_i over images with a positive, for images drawn from the
    population in blocks (labels and latent noise from one generator per
    population, so model A and B see the same images); each image's AP from its
    own ranking: the precision at each positive's rank, averaged over its
    positives (continuous logits: no ties).
    """
    key = (pop.profile, pop.num_classes, seed, model)
    if key in _SAMPLE_TRUTHS:
        return _SAMPLE_TRUTHS[key]
    c = pop.num_classes
    rows = max(1, cells // c)
    block = max(1, min(rows, 2_000_000 // c))
    rng = np.random.default_rng([seed, c, PROFILES.index(pop.profile), 4242])
    total = total_sq = 0.0
    count = 0
    rank = np.arange(1, c + 1, dtype=np.float64)
    for start in range(0, rows, block):
        n = min(block, rows - start)
        positive = rng.random((n, c)) < pop.prevalence
        logit = pop.slope * (pop.separation[model] * positive + rng.standard_normal((n, c))) \
            + pop.offset
        order = np.argsort(-logit, axis=1)
        ranked = np.take_along_axis(positive, order, axis=1)
        hits = np.cumsum(ranked, axis=1)
        n_pos = hits[:, -1]
        has = n_pos > 0
        ap = (ranked * hits / rank).sum(axis=1)[has] / n_pos[has]
        total += float(ap.sum())
        total_sq += float((ap * ap).sum())
        count += int(has.sum())
    mean = total / count
    se = math.sqrt(max(total_sq / count - mean * mean, 0.0) / count)
    _SAMPLE_TRUTHS[key] = (100 * mean, 100 * se)
    print(f'  {pop.profile} C={c} model {model}: sample mAP truth {100 * mean:.4f} (Monte Carlo '
          f's.e. {100 * se:.4f}, {count} images with a positive)', file=sys.stderr, flush=True)
    return _SAMPLE_TRUTHS[key]


def truths(pop: Population, model: str) -> Dict[str, float]:
    """Every metric's population value for ``model`` (``A`` or ``B``), in percent.

    Returns:
        dict: The keys the metric function gives in the single-run mode (group
        mAPs only for a profile with training counts, each group that has a
        class): the seed mode's keys and the operating points.
    """
    d, pi = pop.separation[model], pop.prevalence
    ap = true_average_precision(pi, d)
    out = dict(mAP=ap.mean())
    if pop.train_class_counts is not None:
        for group, mask in frequency_groups(pop.train_class_counts.tolist(),
                                            GROUP_BOUNDS).items():
            mask = mask.numpy()
            if mask.any():
                out[f'mAP_{group}'] = ap[mask].mean()
    for suffix, thr in (('', np.full(pop.num_classes, 0.5, dtype=np.float32)),
                        ('_tuned', pop.thresholds[model])):
        t = z_threshold(pop, thr.astype(np.float64))
        prf = true_prf(pi, stats.norm.sf(t - d), stats.norm.sf(t))
        out[f'CF1{suffix}'], out[f'OF1{suffix}'] = prf['CF1'], prf['OF1']
        if not suffix:
            tpr, fpr = stats.norm.sf(t - d), stats.norm.sf(t)
            out['subset_accuracy'] = np.prod(pi * tpr + (1 - pi) * (1 - fpr))
    out['ECE'] = true_ece(pop, d)
    out['AUROC'] = stats.norm.cdf(d / math.sqrt(2)).mean()
    out['precision_at_recall'] = true_precision_at_recall(pi, d).mean()
    out['recall_at_precision'] = true_recall_at_precision(pi, d).mean()
    out = {key: 100 * float(value) for key, value in out.items()}
    out['sample_mAP'] = true_sample_map(pop, model)[0]  # percent already
    return out


# ---------------------------------------------------------------- test sets

def draw_test_set(pop: Population, num: int, rng: np.random.Generator
                  ) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """N images: (N, C) int8 target and each model's (N, C) float32 scores."""
    c = pop.num_classes
    positive = rng.random((num, c)) < pop.prevalence
    noise_a = rng.standard_normal((num, c))
    noise_b = pop.rho * noise_a + math.sqrt(1 - pop.rho**2) * rng.standard_normal((num, c))
    scores = {}
    for model, noise in (('A', noise_a), ('B', noise_b)):
        z = pop.separation[model] * positive + noise
        scores[model] = special.expit(pop.slope * z + pop.offset).astype(np.float32)
    return positive.astype(np.int8), scores


def make_predictions(pop: Population, scores: np.ndarray, target: np.ndarray,
                     model: str, thresholds: Optional[np.ndarray] = None,
                     ranking: bool = False) -> TestPredictions:
    """The project's test predictions of one model on one test set (settings as a test has);
    ``thresholds`` (C,) float32 replaces the model's tuned thresholds (one seed's own);
    ``ranking`` adds the families of :data:`RANKING_FAMILIES` (the single-run mode's)."""
    thresholds = pop.thresholds[model] if thresholds is None else thresholds
    settings = {'mAP': dict(absent_classes='exclude'), 'prf': dict(thr=0.5),
                'prf_tuned': dict(thresholds=[float(v) for v in thresholds]),
                'subset': dict(thr=0.5), 'calibration': dict(num_bins=NUM_BINS)}
    if ranking:
        settings.update({family: dict(value) for family, value in RANKING_FAMILIES.items()})
    return TestPredictions(scores, target, tuple(f'class{c}' for c in range(pop.num_classes)),
                           np.arange(len(scores), dtype=np.int64), thresholds,
                           pop.train_class_counts, settings)


def jackknife_counts(num: int, rows: int, rng: np.random.Generator) -> Tuple[torch.Tensor, int]:
    """(rows, N) leave-one-out counts (ones, one zero per row): every image when
    ``rows >= N``, else ``rows`` images drawn without replacement; and how many rows."""
    rows = min(rows, num)
    left_out = np.arange(num) if rows == num else np.sort(rng.choice(num, rows, replace=False))
    counts = torch.ones((rows, num), dtype=torch.int32)
    counts[torch.arange(rows), torch.from_numpy(left_out)] = 0
    return counts, rows


# ---------------------------------------------------------------- interval methods

def _finite(replicates: np.ndarray) -> np.ndarray:
    return replicates[np.isfinite(replicates)]


_NAN = (math.nan, math.nan)


def percentile_interval(replicates: np.ndarray, point: float, accel: float = 0.0,
                        level: float = LEVEL) -> Tuple[float, float]:
    """The (1 - level) / 2 and (1 + level) / 2 quantiles of the replicates (linear
    interpolation, as the project); NaN without a finite replicate."""
    r = _finite(replicates)
    if not r.size:
        return _NAN
    low, high = np.quantile(r, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def basic_interval(replicates: np.ndarray, point: float, accel: float = 0.0,
                   level: float = LEVEL) -> Tuple[float, float]:
    """Reverse percentile: [2 theta - q_high, 2 theta - q_low]."""
    low, high = percentile_interval(replicates, point, level=level)
    return float(2 * point - high), float(2 * point - low)


def _bias_z0(r: np.ndarray, point: float) -> float:
    share = (np.count_nonzero(r < point) + 0.5 * np.count_nonzero(r == point)) / r.size
    share = min(max(share, 0.5 / r.size), 1 - 0.5 / r.size)
    return float(stats.norm.ppf(share))


def bca_interval(replicates: np.ndarray, point: float, accel: float = 0.0,
                 level: float = LEVEL) -> Tuple[float, float]:
    """BCa: the quantiles at Phi(z0 + (z0 + z) / (1 - accel (z0 + z))), z = Phi^-1 of the
    two tail levels, z0 = Phi^-1(share of replicates below ``point``, ties half)."""
    r = _finite(replicates)
    if not r.size or not math.isfinite(point):
        return _NAN
    z0 = _bias_z0(r, point)
    accel = 0.0 if not math.isfinite(accel) else accel
    levels = []
    for z in stats.norm.ppf([(1 - level) / 2, (1 + level) / 2]):
        denominator = 1 - accel * (z0 + z)
        shifted = z0 + (z0 + z) / denominator if denominator > 0 else math.copysign(
            math.inf, z)
        levels.append(float(stats.norm.cdf(shifted)))
    low, high = np.quantile(r, levels)
    return float(low), float(high)


def bc_interval(replicates: np.ndarray, point: float, accel: float = 0.0,
                level: float = LEVEL) -> Tuple[float, float]:
    """Bias-corrected percentile: BCa without acceleration."""
    return bca_interval(replicates, point, 0.0, level)


def normal_interval(replicates: np.ndarray, point: float, accel: float = 0.0,
                    level: float = LEVEL) -> Tuple[float, float]:
    """theta +- z sd(replicates)."""
    r = _finite(replicates)
    if r.size < 2:
        return _NAN
    half = float(stats.norm.ppf((1 + level) / 2)) * float(np.std(r, ddof=1))
    return float(point - half), float(point + half)


def normal_bc_interval(replicates: np.ndarray, point: float, accel: float = 0.0,
                       level: float = LEVEL) -> Tuple[float, float]:
    """Bias-corrected normal: (2 theta - mean of the replicates) +- z sd(replicates)."""
    r = _finite(replicates)
    if r.size < 2:
        return _NAN
    return normal_interval(r, float(2 * point - r.mean()), level=level)


def _logit(percent: np.ndarray) -> np.ndarray:
    return special.logit(np.clip(np.asarray(percent, dtype=np.float64) / 100, LOGIT_EPS,
                                 1 - LOGIT_EPS))


def logit_basic_interval(replicates: np.ndarray, point: float, accel: float = 0.0,
                         level: float = LEVEL) -> Tuple[float, float]:
    """The basic interval of logit(x / 100), transformed back (for a metric in [0, 100])."""
    if not math.isfinite(point):
        return _NAN
    low, high = basic_interval(_logit(replicates), float(_logit(point)), level=level)
    return 100 * float(special.expit(low)), 100 * float(special.expit(high))


#: name -> (function, whether it applies to a difference)
METHODS: Dict[str, Tuple[Callable[..., Tuple[float, float]], bool]] = {
    'percentile': (percentile_interval, True),
    'basic': (basic_interval, True),
    'BC': (bc_interval, True),
    'BCa': (bca_interval, True),
    'normal': (normal_interval, True),
    'normal-bc': (normal_bc_interval, True),
    'logit-basic': (logit_basic_interval, False),
}


def jackknife_acceleration(values: np.ndarray, num: int) -> float:
    """acc = sum d^3 / (6 (sum d^2)^1.5), d_i = mean - value_i over the finite leave-one-out
    values; scaled by sqrt(rows / N) when only ``rows`` of the N leave-one-out values were
    computed. NaN with fewer than 3 values."""
    v = _finite(values)
    if v.size < 3:
        return math.nan
    d = v.mean() - v
    s2 = float(np.sum(d * d))
    if s2 <= 0:
        return 0.0
    return float(np.sum(d**3)) / (6 * s2**1.5) * math.sqrt(v.size / num)


# ---------------------------------------------------------------- the study

def _to_numpy(values: Dict[str, torch.Tensor]) -> Dict[str, np.ndarray]:
    return {key: value.numpy() for key, value in values.items()}


def one_test_set(pop: Population, num: int, replicates: int, jack_rows: int,
                 rng: np.random.Generator, metrics: Optional[Sequence[str]] = None
                 ) -> Dict[str, Dict[str, dict]]:
    """Point estimate, replicates and jackknife acceleration of every metric (or of
    ``metrics``), per target.

    Returns:
        dict: target (``A``, ``B``, ``B-A``) -> metric -> dict(point, replicates
        (R,), accel).
    """
    target, scores = draw_test_set(pop, num, rng)
    counts = bootstrap_counts(num, replicates, int(rng.integers(0, 2**31 - 1)))
    jack, rows = jackknife_counts(num, jack_rows, rng)
    everything = torch.cat([torch.ones((1, num), dtype=torch.int32), counts, jack])
    del counts, jack
    values = {}
    for model in ('A', 'B'):
        predictions = make_predictions(pop, scores[model], target, model, ranking=True)
        values[model] = _to_numpy(replicate_values(predictions, everything, GROUP_BOUNDS,
                                                   keys=metrics))
    keys = [m for m in values['A'] if m in values['B'] and (metrics is None or m in metrics)]
    values['B-A'] = {key: values['B'][key] - values['A'][key] for key in keys}
    out = {}
    for name, table in values.items():
        out[name] = {}
        for key in keys:
            v = table[key]
            out[name][key] = dict(point=float(v[0]), replicates=v[1:replicates + 1],
                                  accel=jackknife_acceleration(v[replicates + 1:], num))
    return out


class Tally:
    """Per target, metric and method: the intervals of every set, and the summaries."""

    def __init__(self) -> None:
        self.rows: Dict[Tuple[str, str], Dict[str, list]] = {}

    def add(self, target: str, metric: str, point: float, replicates: np.ndarray,
            accel: float) -> None:
        row = self.rows.setdefault((target, metric), dict(point=[], boot_mean=[], boot_sd=[],
                                                          nan_share=[], accel=[],
                                                          intervals={}))
        finite = _finite(replicates)
        row['point'].append(point)
        row['boot_mean'].append(float(finite.mean()) if finite.size else math.nan)
        row['boot_sd'].append(float(finite.std(ddof=1)) if finite.size > 1 else math.nan)
        row['nan_share'].append(1 - finite.size / replicates.size)
        row['accel'].append(accel)
        for method, (fn, for_difference) in METHODS.items():
            if target == 'B-A' and not for_difference:
                continue
            interval = fn(replicates, point, accel) if math.isfinite(point) else _NAN
            row['intervals'].setdefault(method, []).append(interval)

    def summary(self, truth: Dict[str, Dict[str, float]]) -> Dict[str, Dict[str, dict]]:
        """target -> metric -> summary (see the module docstring)."""
        out: Dict[str, Dict[str, dict]] = {}
        for (target, metric), row in self.rows.items():
            true = truth[target][metric]
            point = np.array(row['point'])
            nan_share = np.array(row['nan_share'])
            entry = dict(truth=true, sets=len(point),
                         bias=_nanmean(point - true), sd_point=_nanstd(point),
                         bias_corrected_bias=_nanmean(2 * point - np.array(row['boot_mean'])
                                                      - true),
                         mean_boot_sd=_nanmean(np.array(row['boot_sd'])),
                         mean_boot_bias=_nanmean(np.array(row['boot_mean']) - point),
                         mean_accel=_nanmean(np.array(row['accel'])),
                         nan_replicate_share=float(nan_share.mean()),
                         no_statement_share=float(np.mean(nan_share > 1 - MIN_VALID_SHARE)),
                         methods={})
            for method, intervals in row['intervals'].items():
                bounds = np.array(intervals, dtype=np.float64).reshape(-1, 2)
                ok = np.isfinite(bounds).all(axis=1)
                low, high = bounds[ok, 0], bounds[ok, 1]
                m = int(ok.sum())
                if m == 0:
                    entry['methods'][method] = dict(sets=0)
                    continue
                coverage = float(np.mean((low <= true) & (true <= high)))
                entry['methods'][method] = dict(
                    sets=m, coverage=coverage, mc_se=math.sqrt(coverage * (1 - coverage) / m),
                    above=float(np.mean(low > true)), below=float(np.mean(high < true)),
                    width=float(np.mean(high - low)))
            out.setdefault(target, {})[metric] = entry
        return out


def _nanmean(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else math.nan


def _nanstd(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.std(ddof=1)) if values.size > 1 else math.nan


def population_truths(pop: Population) -> Dict[str, Dict[str, float]]:
    """target -> metric -> truth (percent), B - A included."""
    true = {model: truths(pop, model) for model in ('A', 'B')}
    true['B-A'] = {key: true['B'][key] - true['A'][key] for key in true['A']}
    return true


def _progress_stops(label: str, done: int, sets: int, start: float,
                    budget_s: Optional[float]) -> bool:
    """Print the progress of a setting now and then; whether its time budget is spent."""
    elapsed = time.perf_counter() - start
    if done in (1, 10) or done % max(1, sets // 10) == 0:
        print(f'  {label}: {done}/{sets} sets, {elapsed:.0f} s', file=sys.stderr, flush=True)
    if budget_s is not None and elapsed > budget_s and done < sets:
        print(f'  {label}: budget of {budget_s:.0f} s spent after {done} sets', file=sys.stderr,
              flush=True)
        return True
    return False


def run_setting(profile: str, num: int, classes: int, sets: int, replicates: int,
                jack_rows: int, seed: int, budget_s: Optional[float],
                metrics: Optional[Sequence[str]] = None) -> dict:
    """The study of one setting (of ``metrics`` only, if given); stops after ``budget_s``
    seconds if given."""
    pop = make_population(profile, classes, seed)
    true = population_truths(pop)
    tally = Tally()
    skipped: List[str] = []
    start = time.perf_counter()
    done = 0
    for index in range(sets):
        rng = np.random.default_rng([seed, num, classes, PROFILES.index(profile), index])
        result = one_test_set(pop, num, replicates, jack_rows, rng, metrics)
        for target, table in result.items():
            for metric, value in table.items():
                if metric not in true[target]:
                    if metric not in skipped:
                        skipped.append(metric)
                    continue
                tally.add(target, metric, value['point'], value['replicates'], value['accel'])
        done += 1
        if _progress_stops(f'{profile} {num}x{classes}', done, sets, start, budget_s):
            break
    seconds = time.perf_counter() - start
    return dict(profile=profile, images=num, classes=classes, sets=done, replicates=replicates,
                jackknife_rows=min(jack_rows, num), seconds=seconds,
                seconds_per_set=seconds / max(done, 1), skipped_metrics=skipped,
                population=pop.describe(), truth=true, summary=tally.summary(true))


# ---------------------------------------------------------------- seed noise (--seeds)

#: sd of a seed's global shift g_s of every class's separation (model-wide "good / bad seed")
SEED_TAU_GLOBAL = 0.05
#: sd of a seed's per-class shift e_s,c of the separation
SEED_TAU_CLASS = 0.15
#: seed draws per model for the truths of the seed mode
TRUTH_DRAWS = 100_000
#: step of the separation grid of the per-class tables of the seed mode
TABLE_STEP = 0.01
#: the intervals of the seed mode: with the seed margin, the image part alone, two-level bootstrap
SEED_INTERVALS = ('seed-covering', 'image-only', 'two-level')
IMPROVEMENT = 'P(B>A)'


@dataclass
class SeedTables:
    """Per class, population quantities as functions of a seed's separation d.

    On one uniform grid of d, linearly interpolated (:meth:`at`); computed by
    the same integrals as :func:`truths` (:func:`seed_tables`).

    Attributes:
        grid (np.ndarray): (G,) separations, step :data:`TABLE_STEP`.
        ap (np.ndarray): (C, G) AP (fraction).
        z_tuned (np.ndarray): (C, G) the F1-optimal latent threshold (the grid
            argmax of :func:`f1_optimal_thresholds`).
        ece_gaps (np.ndarray): (C, G, M) E[(y - p) 1(p in bin m)] of the class.
    """
    grid: np.ndarray
    ap: np.ndarray
    z_tuned: np.ndarray
    ece_gaps: np.ndarray

    def at(self, table: np.ndarray, separation: np.ndarray) -> np.ndarray:
        """``table`` (C, G[, M]) at the separations (..., C): (..., C[, M])."""
        grid = self.grid
        step = grid[1] - grid[0]
        pos = (np.clip(separation, grid[0], grid[-1]) - grid[0]) / step
        index = np.minimum(np.floor(pos).astype(np.int64), grid.size - 2)
        weight = pos - index
        classes = np.arange(table.shape[0])
        low, high = table[classes, index], table[classes, index + 1]
        if table.ndim == 3:
            weight = weight[..., None]
        return low + weight * (high - low)


def _f1_optimal_z(prevalence: float, separation: np.ndarray) -> np.ndarray:
    """(G,) the latent threshold maximising one class's population F1, per separation
    (the grid and argmax of :func:`f1_optimal_thresholds`)."""
    t = np.linspace(-4.0, 8.0, 12001)[None, :]
    tpr, fpr = stats.norm.sf(t - separation[:, None]), stats.norm.sf(t)
    f1 = 2 * prevalence * tpr / (prevalence * tpr + (1 - prevalence) * fpr + prevalence)
    return t[0, np.argmax(f1, axis=1)]


def _ece_class_gaps(pop: Population, cls: int, separation: np.ndarray,
                    num_bins: int = NUM_BINS) -> np.ndarray:
    """(G, M) E[(y - p) 1(p in bin m)] of class ``cls`` per separation (the quadrature of
    :func:`true_ece`)."""
    nodes, weights = np.polynomial.legendre.leggauss(256)
    edges = (special.logit(np.linspace(0.0, 1.0, num_bins + 1)) - pop.offset[cls]) / pop.slope
    d = separation[:, None]
    low_end, high_end = np.minimum(0.0, d) - 12.0, np.maximum(0.0, d) + 12.0
    low = np.clip(edges[None, :-1], low_end, high_end)  # (G, M)
    high = np.clip(edges[None, 1:], low_end, high_end)
    half = (high - low)[..., None] / 2
    z = half * nodes + (high + low)[..., None] / 2  # (G, M, K)
    pi = pop.prevalence[cls]
    p = special.expit(pop.slope * z + pop.offset[cls])
    integrand = pi * stats.norm.pdf(z - d[..., None]) * (1 - p) - (1 - pi) * stats.norm.pdf(z) * p
    return (integrand * weights * half).sum(axis=2)


def seed_tables(pop: Population, tau_global: float, tau_class: float) -> SeedTables:
    """The tables over separations within 8 seed sds of both models' base separations."""
    spread = 8 * math.hypot(tau_global, tau_class)
    low = min(pop.separation['A'].min(), pop.separation['B'].min()) - spread
    high = max(pop.separation['A'].max(), pop.separation['B'].max()) + spread
    grid = np.arange(math.floor(low / TABLE_STEP) - 1, math.ceil(high / TABLE_STEP) + 2) \
        * TABLE_STEP
    ap, z_tuned, gaps, cache = [], [], [], {}
    for cls, pi in enumerate(pop.prevalence):
        if float(pi) not in cache:  # AP and the F1-optimal threshold depend on pi and d only
            cache[float(pi)] = (true_average_precision(np.full(grid.size, pi), grid),
                                _f1_optimal_z(float(pi), grid))
        ap.append(cache[float(pi)][0])
        z_tuned.append(cache[float(pi)][1])
        gaps.append(_ece_class_gaps(pop, cls, grid))
    return SeedTables(grid, np.stack(ap), np.stack(z_tuned), np.stack(gaps))


def seed_thresholds(pop: Population, tables: SeedTables, separation: np.ndarray) -> np.ndarray:
    """(..., C) float32 probability thresholds, F1-optimal for each seed's separations."""
    z = tables.at(tables.z_tuned, separation)
    return special.expit(pop.slope * z + pop.offset).astype(np.float32)


def seed_truths(pop: Population, tables: SeedTables, separation: np.ndarray,
                chunk: int = 5000) -> Dict[str, np.ndarray]:
    """Every metric's population value (percent) of each seed's separations (K, C): key -> (K,)
    (the keys of :func:`truths`)."""
    separation = np.atleast_2d(separation)
    parts: Dict[str, List[np.ndarray]] = {}
    pi = pop.prevalence
    groups = {} if pop.train_class_counts is None else {
        group: mask.numpy() for group, mask in
        frequency_groups(pop.train_class_counts.tolist(), GROUP_BOUNDS).items() if mask.any()}
    t_half = z_threshold(pop, np.full(pop.num_classes, 0.5, dtype=np.float32).astype(np.float64))
    for start in range(0, separation.shape[0], chunk):
        d = separation[start:start + chunk]
        out = {}
        ap = tables.at(tables.ap, d)
        out['mAP'] = ap.mean(axis=1)
        for group, mask in groups.items():
            out[f'mAP_{group}'] = ap[:, mask].mean(axis=1)
        t_tuned = z_threshold(pop, seed_thresholds(pop, tables, d).astype(np.float64))
        for suffix, t in (('', t_half[None, :]), ('_tuned', t_tuned)):
            tpr, fpr = stats.norm.sf(t - d), stats.norm.sf(t) + 0 * d
            predicted = pi * tpr + (1 - pi) * fpr
            precision = np.where(predicted > 0, pi * tpr / np.maximum(predicted, 1e-300), 0.0)
            cp, cr = precision.mean(axis=1), tpr.mean(axis=1)
            op = (pi * tpr).sum(axis=1) / predicted.sum(axis=1)
            orec = (pi * tpr).sum(axis=1) / pi.sum()
            out[f'CF1{suffix}'] = 2 * cp * cr / (cp + cr)
            out[f'OF1{suffix}'] = 2 * op * orec / (op + orec)
            if not suffix:
                out['subset_accuracy'] = np.prod(pi * tpr + (1 - pi) * (1 - fpr), axis=1)
        gaps = tables.at(tables.ece_gaps, d)  # (k, C, M)
        out['ECE'] = np.abs(gaps.sum(axis=1)).sum(axis=1) / pop.num_classes
        out['AUROC'] = stats.norm.cdf(d / math.sqrt(2)).mean(axis=1)
        for key, value in out.items():
            parts.setdefault(key, []).append(100 * value)
    return {key: np.concatenate(value) for key, value in parts.items()}


def draw_seed_separations(pop: Population, model: str, runs: int, tau_global: float,
                          tau_class: float, rng: np.random.Generator) -> np.ndarray:
    """(runs, C) separations of ``runs`` seeds: d_c + g_s + e_s,c."""
    return (pop.separation[model] + tau_global * rng.standard_normal((runs, 1))
            + tau_class * rng.standard_normal((runs, pop.num_classes)))


def _improvement_truth(better: np.ndarray, worse: np.ndarray, lower: bool) -> float:
    """P(a draw of ``better`` beats a draw of ``worse``), ties a half, over all pairs."""
    if lower:
        better, worse = -better, -worse
    worse = np.sort(worse)
    below = np.searchsorted(worse, better, side='left')
    not_above = np.searchsorted(worse, better, side='right')
    return float(np.mean(below + not_above) / (2 * worse.size))


def seed_population_truths(pop: Population, tables: SeedTables, tau_global: float,
                           tau_class: float, draws: int, seed: int) -> dict:
    """The truths of the seed mode (percent; ``P(B>A)`` a fraction) and their Monte Carlo s.e.

    Returns:
        dict: ``truth`` / ``se`` target -> key -> value; ``seed_sd`` model -> key -> the sd
        of the population value over seeds; ``base_check`` model -> largest
        |table value - :func:`truths`| (points) at the base separations.
    """
    rng = np.random.default_rng([seed, pop.num_classes, PROFILES.index(pop.profile), 77])
    lower = set(lower_is_better())
    values = {model: seed_truths(pop, tables, draw_seed_separations(
        pop, model, draws, tau_global, tau_class, rng)) for model in ('A', 'B')}
    keys = list(values['A'])
    truth: Dict[str, Dict[str, float]] = {t: {} for t in ('A', 'B', 'B-A', IMPROVEMENT)}
    se: Dict[str, Dict[str, float]] = {t: {} for t in truth}
    seed_sd: Dict[str, Dict[str, float]] = {'A': {}, 'B': {}}
    for key in keys:
        for model in ('A', 'B'):
            v = values[model][key]
            truth[model][key] = float(v.mean())
            seed_sd[model][key] = float(v.std(ddof=1))
            se[model][key] = seed_sd[model][key] / math.sqrt(draws)
        truth['B-A'][key] = truth['B'][key] - truth['A'][key]
        se['B-A'][key] = math.hypot(se['A'][key], se['B'][key])
        truth[IMPROVEMENT][key] = _improvement_truth(values['B'][key], values['A'][key],
                                                     key in lower)
        batches = [_improvement_truth(b, a, key in lower) for b, a in
                   zip(np.array_split(values['B'][key], 10), np.array_split(values['A'][key], 10))]
        se[IMPROVEMENT][key] = float(np.std(batches, ddof=1) / math.sqrt(10))
    base_check = {}
    for model in ('A', 'B'):
        exact = truths(pop, model)
        table = seed_truths(pop, tables, pop.separation[model][None, :])
        base_check[model] = max(abs(float(table[k][0]) - exact[k]) for k in table)
    return dict(truth=truth, se=se, seed_sd=seed_sd, base_check=base_check)


def one_seed_test_set(pop: Population, tables: SeedTables, num: int, runs: int, replicates: int,
                      tau_global: float, tau_class: float, rng: np.random.Generator
                      ) -> Dict[str, List[Dict[str, np.ndarray]]]:
    """``runs`` fresh seeds per model scored on one test set: model -> per seed, key -> (R + 1,)
    values (row 0 the point estimate, then the replicates; the same counts for every run).

    The latent noise of run (m, s) is sqrt(rho) e_0 + sqrt(1 - rho) e_m,s with e_0 shared by
    every run: any two runs' noises have correlation rho, each is standard normal.
    """
    c = pop.num_classes
    separations = {model: draw_seed_separations(pop, model, runs, tau_global, tau_class, rng)
                   for model in ('A', 'B')}
    positive = rng.random((num, c)) < pop.prevalence
    target = positive.astype(np.int8)
    shared = math.sqrt(pop.rho) * rng.standard_normal((num, c))
    counts = torch.cat([torch.ones((1, num), dtype=torch.int32),
                        bootstrap_counts(num, replicates, int(rng.integers(0, 2**31 - 1)))])
    values = {}
    for model in ('A', 'B'):
        values[model] = []
        for d in separations[model]:
            z = d * positive + shared + math.sqrt(1 - pop.rho) * rng.standard_normal((num, c))
            scores = special.expit(pop.slope * z + pop.offset).astype(np.float32)
            predictions = make_predictions(pop, scores, target, model,
                                           seed_thresholds(pop, tables, d))
            values[model].append(_to_numpy(replicate_values(predictions, counts, GROUP_BOUNDS)))
    return values


def _interval_pair(low, high) -> Tuple[float, float]:
    return float(low), float(high)


class SeedTally:
    """Per (S, target, metric): the seed means, seed sds and every interval of each set."""

    def __init__(self) -> None:
        self.rows: Dict[Tuple[int, str, str], Dict[str, list]] = {}

    def _row(self, runs: int, target: str, metric: str) -> Dict[str, list]:
        return self.rows.setdefault((runs, target, metric),
                                    dict(point=[], seed_sd=[], nan_share=[], intervals={}))

    def add(self, values: Dict[str, List[Dict[str, np.ndarray]]], runs_list: Sequence[int],
            keys: Sequence[str], rng: np.random.Generator) -> None:
        """The intervals of one test set, for each S (the first S seeds of each model)."""
        methods = interval_methods()
        lower = set(lower_is_better())
        generator = torch.Generator().manual_seed(int(rng.integers(0, 2**31 - 1)))
        for runs in runs_list:
            for key in keys:
                points, reps, twos, images = {}, {}, {}, {}
                for model in ('A', 'B'):
                    stack = torch.from_numpy(np.stack([values[model][s][key]
                                                       for s in range(runs)]))
                    points[model], reps[model] = stack[:, 0], stack[:, 1:]
                    num = reps[model].shape[1]
                    drawn = torch.from_numpy(rng.integers(0, runs, size=(num, runs)))
                    twos[model] = reps[model][drawn, torch.arange(num)[:, None]].mean(dim=1)
                    images[model] = reps[model].mean(dim=0)
                ok = bool(torch.isfinite(points['A']).all() and torch.isfinite(points['B']).all())
                method = methods.get(key, 'percentile')
                for model in ('A', 'B'):
                    row = self._row(runs, model, key)
                    mean = float(points[model].mean())
                    row['point'].append(mean)
                    row['seed_sd'].append(float(points[model].std()) if runs > 1 else math.nan)
                    finite = torch.isfinite(images[model])
                    row['nan_share'].append(1 - float(finite.double().mean()))
                    if not ok:
                        intervals = {name: _NAN for name in SEED_INTERVALS}
                    else:
                        point = torch.tensor(mean, dtype=torch.float64)
                        intervals = {
                            'seed-covering': setting_interval(points[model], reps[model], method,
                                                              LEVEL)[1:],
                            'image-only': _interval_pair(*bootstrap_interval(
                                point, images[model], method, LEVEL)),
                            'two-level': _interval_pair(*bootstrap_interval(
                                point, twos[model], method, LEVEL))}
                    for name, interval in intervals.items():
                        row['intervals'].setdefault(name, []).append(interval)
                row = self._row(runs, 'B-A', key)
                delta = float(points['B'].mean() - points['A'].mean())
                row['point'].append(delta)
                row['seed_sd'].append(math.nan)
                diff = images['B'] - images['A']
                row['nan_share'].append(1 - float(torch.isfinite(diff).double().mean()))
                if not ok:
                    intervals = {name: _NAN for name in SEED_INTERVALS}
                else:
                    point = torch.tensor(delta, dtype=torch.float64)
                    intervals = {
                        'seed-covering': difference_interval(points['B'], reps['B'], points['A'],
                                                             reps['A'], LEVEL)[1:],
                        'image-only': _interval_pair(*bootstrap_interval(
                            point, diff, 'percentile', LEVEL)),
                        'two-level': _interval_pair(*bootstrap_interval(
                            point, twos['B'] - twos['A'], 'percentile', LEVEL))}
                for name, interval in intervals.items():
                    row['intervals'].setdefault(name, []).append(interval)
                if runs < 2:  # the comparison gives no probability of improvement for 1 seed
                    continue
                row = self._row(runs, IMPROVEMENT, key)
                if ok:
                    prob = float(probability_of_improvement(points['B'], points['A'],
                                                            key in lower))
                    boot = bootstrap_probability_of_improvement(reps['B'], reps['A'],
                                                                key in lower, generator)
                    interval = _interval_pair(*bootstrap_interval(
                        torch.tensor(prob, dtype=torch.float64), boot, 'percentile', LEVEL))
                else:
                    prob, interval = math.nan, _NAN
                row['point'].append(prob)
                row['seed_sd'].append(math.nan)
                row['nan_share'].append(0.0)
                row['intervals'].setdefault('bootstrap', []).append(interval)

    def summary(self, truth: Dict[str, Dict[str, float]]) -> List[dict]:
        """One entry per (S, target, metric) (see :func:`markdown_seeds`)."""
        out = []
        for (runs, target, metric), row in self.rows.items():
            true = truth[target][metric]
            point = np.array(row['point'])
            nan_share = np.array(row['nan_share'])
            seed_sd = np.array(row['seed_sd'])
            entry = dict(seeds=runs, target=target, metric=metric, truth=true, sets=len(point),
                         bias=_nanmean(point - true), sd_point=_nanstd(point),
                         rms_seed_sd=math.sqrt(_nanmean(seed_sd**2)) if runs > 1 else math.nan,
                         nan_replicate_share=float(nan_share.mean()),
                         no_statement_share=float(np.mean(nan_share > 1 - MIN_VALID_SHARE)),
                         intervals={name: _coverage_stats(intervals, true)
                                    for name, intervals in row['intervals'].items()})
            out.append(entry)
        return out


def _coverage_stats(intervals: Sequence[Tuple[float, float]], true: float) -> dict:
    """Coverage, its Monte Carlo s.e., the shares missed above / below, the mean width."""
    bounds = np.array(intervals, dtype=np.float64).reshape(-1, 2)
    ok = np.isfinite(bounds).all(axis=1)
    low, high = bounds[ok, 0], bounds[ok, 1]
    m = int(ok.sum())
    if m == 0:
        return dict(sets=0)
    coverage = float(np.mean((low <= true) & (true <= high)))
    return dict(sets=m, coverage=coverage, mc_se=math.sqrt(coverage * (1 - coverage) / m),
                above=float(np.mean(low > true)), below=float(np.mean(high < true)),
                width=float(np.mean(high - low)))


def run_seed_setting(profile: str, num: int, classes: int, runs_list: Sequence[int], sets: int,
                     replicates: int, seed: int, budget_s: Optional[float], tau_global: float,
                     tau_class: float, draws: int) -> dict:
    """The seed study of one setting (``--seeds``); stops after ``budget_s`` seconds if given."""
    pop = make_population(profile, classes, seed)
    start = time.perf_counter()
    tables = seed_tables(pop, tau_global, tau_class)
    truth = seed_population_truths(pop, tables, tau_global, tau_class, draws, seed)
    truth_seconds = time.perf_counter() - start
    print(f'  {profile} {num}x{classes}: truths from {draws} seed draws per model in '
          f'{truth_seconds:.0f} s; table vs closed form at the base separations: '
          f'{max(truth["base_check"].values()):.4f} points', file=sys.stderr, flush=True)
    tally = SeedTally()
    runs = max(runs_list)
    start = time.perf_counter()
    done = 0
    keys: Optional[List[str]] = None
    skipped: List[str] = []
    for index in range(sets):
        rng = np.random.default_rng([seed, num, classes, PROFILES.index(profile), index, 77])
        values = one_seed_test_set(pop, tables, num, runs, replicates, tau_global, tau_class,
                                   rng)
        if keys is None:
            found = [k for k in values['A'][0] if k in values['B'][0]]
            keys = [k for k in found if k in truth['truth']['A']]
            skipped = [k for k in found if k not in keys]
        tally.add(values, runs_list, keys, rng)
        done += 1
        if _progress_stops(f'{profile} {num}x{classes} seeds', done, sets, start, budget_s):
            break
    seconds = time.perf_counter() - start
    return dict(mode='seeds', profile=profile, images=num, classes=classes, sets=done,
                replicates=replicates, seeds=list(runs_list), tau_global=tau_global,
                tau_class=tau_class, rho=pop.rho, truth_draws=draws, truth_seconds=truth_seconds,
                seconds=seconds, seconds_per_set=seconds / max(done, 1), skipped_metrics=skipped,
                population=pop.describe(), truth=truth, summary=tally.summary(truth['truth']))


# ---------------------------------------------------------------- the truth check

def check_truth(classes_list: Sequence[int], profiles: Sequence[str], num: int, seed: int,
                se_replicates: int = 30) -> List[dict]:
    """Every truth against one sample of ``num`` images through the metric function,
    with the sample's bootstrap standard error (``se_replicates`` replicates)."""
    rows = []
    for profile in profiles:
        for classes in classes_list:
            pop = make_population(profile, classes, seed)
            true = population_truths(pop)
            rng = np.random.default_rng([seed, 999, classes, PROFILES.index(profile)])
            start = time.perf_counter()
            target, scores = draw_test_set(pop, num, rng)
            counts = torch.cat([torch.ones((1, num), dtype=torch.int32),
                                bootstrap_counts(num, se_replicates, seed)])
            sample = {}
            for model in ('A', 'B'):
                sample[model] = _to_numpy(replicate_values(
                    make_predictions(pop, scores[model], target, model, ranking=True), counts,
                    GROUP_BOUNDS))
            keys = [k for k in sample['A'] if k in sample['B']]
            sample['B-A'] = {k: sample['B'][k] - sample['A'][k] for k in keys}
            print(f'\n{profile}, {classes} classes, {num} images '
                  f'({time.perf_counter() - start:.0f} s)')
            print(f'{"target":6} {"metric":19} {"truth":>9} {"sample":>9} {"diff":>8} '
                  f'{"boot se":>8}  verdict')
            for target in TARGETS:
                for key in keys:
                    if key not in true[target]:
                        print(f'{target:6} {key:19} no truth: skipped')
                        continue
                    value = sample[target][key]
                    diff = float(value[0]) - true[target][key]
                    se = float(np.nanstd(value[1:], ddof=1))
                    ok = abs(diff) <= max(0.2, 3 * se)
                    print(f'{target:6} {key:19} {true[target][key]:9.4f} {value[0]:9.4f} '
                          f'{diff:+8.4f} {se:8.4f}  {"ok" if ok else "MISMATCH"}')
                    rows.append(dict(profile=profile, classes=classes, images=num,
                                     target=target, metric=key, truth=true[target][key],
                                     sample=float(value[0]), diff=diff, boot_se=se, ok=ok))
                missing = [k for k in true[target] if k not in keys]
                if missing:
                    print(f'{target:6} not returned by the metric function: {missing}')
    return rows


# ---------------------------------------------------------------- report

def _cell(stat: dict) -> str:
    if not stat or stat.get('sets', 0) == 0:
        return '–'
    return (f'{100 * stat["coverage"]:.1f} ± {100 * stat["mc_se"]:.1f} '
            f'(↑{100 * stat["above"]:.1f} ↓{100 * stat["below"]:.1f}) w {stat["width"]:.2f}')


def markdown(results: Sequence[dict]) -> List[str]:
    """One section per setting, one table per target (A, B, B - A)."""
    methods = list(METHODS)
    lines = ['# Coverage of 95 % bootstrap intervals', '',
             'Cell: coverage ± Monte Carlo s.e. (% of test sets whose interval contains the '
             'truth), (↑ % of sets whose interval lies wholly above the truth, ↓ wholly '
             'below), w mean width (points). bias: mean (estimate − truth), then the same '
             'for the bootstrap bias-corrected estimate 2 θ̂ − mean(θ*); sd: sd of the '
             'estimate over the sets / mean bootstrap sd; NaN: mean share of NaN replicates, '
             'and share of sets with more than 5 % NaN replicates (no statement).', '']
    for res in results:
        lines += [f'## {res["profile"]}, N = {res["images"]}, C = {res["classes"]}: '
                  f'{res["sets"]} sets x {res["replicates"]} replicates '
                  f'(jackknife {res["jackknife_rows"]} rows; {res["seconds"]:.0f} s, '
                  f'{res["seconds_per_set"]:.2f} s / set)', '']
        if res['skipped_metrics']:
            lines += [f'No truth, skipped: {res["skipped_metrics"]}', '']
        for target in TARGETS:
            table = res['summary'].get(target, {})
            title = {'A': 'Model A', 'B': 'Model B', 'B-A': 'Difference B − A (paired)'}[target]
            lines += [f'### {title}', '',
                      '| metric | truth | bias / corrected | sd / boot sd | NaN | sets | '
                      + ' | '.join(methods) + ' |',
                      '|---|---:|---:|---:|---:|---:|' + '---|' * len(methods)]
            for metric, entry in table.items():
                nan = f'{100 * entry["nan_replicate_share"]:.1f} % / ' \
                      f'{100 * entry["no_statement_share"]:.0f} %' \
                    if entry['nan_replicate_share'] > 0 else '0'
                sets = {entry['methods'][m].get('sets', 0) for m in entry['methods']}
                cells = [_cell(entry['methods'].get(m, {})) for m in methods]
                lines.append(f'| {metric} | {entry["truth"]:.3f} | {entry["bias"]:+.3f} / '
                             f'{entry["bias_corrected_bias"]:+.3f} | '
                             f'{entry["sd_point"]:.3f} / {entry["mean_boot_sd"]:.3f} | {nan} | '
                             f'{"/".join(str(s) for s in sorted(sets))} | '
                             + ' | '.join(cells) + ' |')
            lines.append('')
    return lines


def markdown_seeds(results: Sequence[dict]) -> List[str]:
    """The seed mode: one section per setting, one table per target (A, B, B - A, P(B>A))."""
    lines = ['# Coverage of 95 % intervals with seed-to-seed noise (--seeds)', '',
             'Cell: coverage ± Monte Carlo s.e. (% of test sets whose interval contains the '
             'truth, the mean over seeds of the population value), (↑ % of sets whose interval '
             'lies wholly above the truth, ↓ wholly below), w mean width (points; for '
             f'{IMPROVEMENT}, a probability). seed-covering: the comparison\'s interval '
             '(image interval of the seed mean, t / Welch seed margin added by MOVER); '
             'image-only: the image interval of the seed mean alone; two-level: the seeds '
             'resampled with replacement in every image replicate. S = 1 has no seed margin. '
             'bias: mean (seed mean − truth); sd: sd of the seed mean over the sets; '
             'seed sd: RMS over the sets of the sd of the S point estimates on the test set '
             '(population seed sd beside the truth).', '']
    for res in results:
        truth = res['truth']
        lines += [f'## {res["profile"]}, N = {res["images"]}, C = {res["classes"]}: '
                  f'{res["sets"]} sets x {res["replicates"]} replicates, S in {res["seeds"]} '
                  f'(the first S of {max(res["seeds"])} fresh seeds per model and set); '
                  f'{res["seconds"]:.0f} s, {res["seconds_per_set"]:.2f} s / set', '',
                  f'Seed effect: tau_global = {res["tau_global"]}, tau_class = '
                  f'{res["tau_class"]}, noise correlation between runs {res["rho"]}. Truths from '
                  f'{res["truth_draws"]} seed draws per model: largest Monte Carlo s.e. '
                  f'{max(v for t in ("A", "B", "B-A") for v in truth["se"][t].values()):.4f} '
                  f'points ({IMPROVEMENT}: '
                  f'{max(truth["se"][IMPROVEMENT].values()):.4f}); tables vs closed form at the '
                  f'base separations: {max(truth["base_check"].values()):.4f} points.', '']
        if res['skipped_metrics']:
            lines += [f'No truth, skipped: {res["skipped_metrics"]}', '']
        for target in ('A', 'B', 'B-A', IMPROVEMENT):
            entries = [e for e in res['summary'] if e['target'] == target]
            if not entries:
                continue
            names = list(SEED_INTERVALS) if target != IMPROVEMENT else ['bootstrap']
            title = {'A': 'Model A', 'B': 'Model B', 'B-A': 'Difference B − A',
                     IMPROVEMENT: 'Probability that a run of B beats a run of A'}[target]
            lines += [f'### {title}', '',
                      '| metric | S | truth | bias | sd | seed sd | sets | ' + ' | '.join(names)
                      + ' |', '|---|---:|---:|---:|---:|---:|---:|' + '---|' * len(names)]
            entries.sort(key=lambda e: (list(truth['truth'][target]).index(e['metric']),
                                        e['seeds']))
            for e in entries:
                if target in ('A', 'B'):
                    true = f'{e["truth"]:.3f} (sd {truth["seed_sd"][target][e["metric"]]:.2f})'
                else:
                    true = f'{e["truth"]:.3f}'
                seed_sd = f'{e["rms_seed_sd"]:.2f}' if math.isfinite(e['rms_seed_sd']) else '–'
                sets = {s.get('sets', 0) for s in e['intervals'].values()}
                nan = f' ({100 * e["no_statement_share"]:.0f} % no statement)' \
                    if e['no_statement_share'] > 0 else ''
                lines.append(f'| {e["metric"]} | {e["seeds"]} | {true} | {e["bias"]:+.3f} | '
                             f'{e["sd_point"]:.3f} | {seed_sd} | '
                             f'{"/".join(str(s) for s in sorted(sets))}{nan} | '
                             + ' | '.join(_cell(e['intervals'].get(n, {})) for n in names)
                             + ' |')
            lines.append('')
    return lines


def _parse_sizes(text: str) -> List[Tuple[int, int]]:
    sizes = []
    for part in text.split(','):
        num, classes = (int(v) for v in part.lower().split('x'))
        sizes.append((num, classes))
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='200x20,200x80,5000x20,5000x80',
                        help='comma-separated NxC (images x classes)')
    parser.add_argument('--profiles', default=','.join(PROFILES))
    parser.add_argument('--sets', type=int, default=500, help='test sets per setting (M)')
    parser.add_argument('--replicates', type=int, default=1000, help='bootstrap replicates (B)')
    parser.add_argument('--jackknife-rows', type=int, default=500,
                        help='leave-one-out rows of the BCa acceleration (all N when N is '
                             'at most this, else a random subset, scaled)')
    parser.add_argument('--budget-s', type=float, default=None,
                        help='stop a setting after this many seconds (fewer sets)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--keys', default=None,
                        help='comma-separated keys (e.g. sample_mAP): only the families that '
                             'declare them are computed (the same test sets and replicates)')
    parser.add_argument('--out', default=None, help='results JSON (and Markdown beside it)')
    parser.add_argument('--check-truth', action='store_true',
                        help='check the truths against one large sample, then stop')
    parser.add_argument('--check-images', type=int, default=200_000)
    parser.add_argument('--seeds', default=None,
                        help='seed mode: comma-separated numbers of seeds per setting S '
                             '(e.g. 1,2,3,5): coverage of the intervals with seed noise')
    parser.add_argument('--seed-tau-global', type=float, default=SEED_TAU_GLOBAL,
                        help='seed mode: sd of a seed\'s shift of every class\'s separation')
    parser.add_argument('--seed-tau-class', type=float, default=SEED_TAU_CLASS,
                        help='seed mode: sd of a seed\'s shift of one class\'s separation')
    parser.add_argument('--truth-draws', type=int, default=TRUTH_DRAWS,
                        help='seed mode: seed draws per model for the truths')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    profiles = [p.strip() for p in args.profiles.split(',') if p.strip()]
    sizes = _parse_sizes(args.sizes)
    print(f'metric function: {replicate_values.__module__}.{replicate_values.__name__}',
          flush=True)
    if args.check_truth:
        classes_list = sorted({c for _, c in sizes})
        rows = check_truth(classes_list, profiles, args.check_images, args.seed)
        bad = [r for r in rows if not r['ok']]
        print(f'\n{len(rows) - len(bad)} of {len(rows)} truths agree with the sample '
              f'(|diff| <= max(0.2, 3 boot se)); largest |diff| '
              f'{max(abs(r["diff"]) for r in rows):.4f}')
        if args.out:
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            with open(args.out, 'w') as f:
                json.dump(dict(check=rows), f, indent=1)
        return
    if args.seeds:
        runs_list = sorted({int(v) for v in args.seeds.split(',') if v.strip()})
        if runs_list[0] < 1:
            parser.error('--seeds: every S must be at least 1')

        def run(profile, num, classes):
            return run_seed_setting(profile, num, classes, runs_list, args.sets, args.replicates,
                                    args.seed, args.budget_s, args.seed_tau_global,
                                    args.seed_tau_class, args.truth_draws)
        label, tables = f' seeds {runs_list}', markdown_seeds
    else:
        def run(profile, num, classes):
            return run_setting(profile, num, classes, args.sets, args.replicates,
                               args.jackknife_rows, args.seed, args.budget_s,
                               None if args.keys is None else args.keys.split(','))
        label, tables = '', markdown
    results = []
    for num, classes in sizes:
        for profile in profiles:
            res = run(profile, num, classes)
            results.append(res)
            print(f'{profile} {num}x{classes}{label}: {res["sets"]} sets in '
                  f'{res["seconds"]:.0f} s ({res["seconds_per_set"]:.2f} s / set)', flush=True)
            if args.out:  # after every setting, so that a stopped run keeps what it did
                os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
                with open(args.out, 'w') as f:
                    json.dump(dict(args=vars(args), results=results), f, indent=1)
                with open(os.path.splitext(args.out)[0] + '.md', 'w') as f:
                    f.write('\n'.join(tables(results)) + '\n')
    print('\n'.join(tables(results)))

if __name__ == '__main__':
    main()
