"""Bootstrap mAP: the vectorised kernel against scikit-learn on every materialised replicate.

    python tools/benchmarks/bench_bootstrap.py [--sizes 40000x80,5000x1000] [--replicates 1000]
                                               [--loop-replicates 10]

For each size N x C, on the same predictions (scores rounded to 3 decimals, so
there are ties; about 15 % positives for 80 classes, 5 % for 1,000, every class
with a positive) and the same replicates (:func:`bootstrap_indices`, seed 0):

- **ours**: :func:`bootstrap_average_precision` of all replicates at once (AP of
  every class in every replicate; each class ranked once), then mAP per
  replicate (classes with no positive drawn left out). Best of ``--repeats``;
  the extra peak RSS of the first run is sampled every 5 ms.
- **sklearn loop**: per replicate, the resampled data materialised
  (``scores[idx]``, ``target[idx]``) and ``average_precision_score`` called per
  class; timed on the first ``--loop-replicates`` replicates and scaled to all.

One JSON line per size with the absolute times, the ratio (sklearn loop / ours),
the largest difference of per-replicate mAP (and per-class AP) between the two
on the replicates the loop computed, and the 95 % percentile interval of mAP of
both on those same replicates (and of ours on all replicates).
"""
import argparse
import json
import math
import time

import numpy as np
import torch

from mmml_ext.functional.bootstrap import (bootstrap_average_precision, bootstrap_indices,
                                           percentile_interval, replicate_counts)
from measure import make_data, timed_with_peak



def sklearn_loop(scores: np.ndarray, target: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """(R, C) AP of each replicate's materialised data, one sklearn call per class."""
    from sklearn.metrics import average_precision_score
    out = np.full((len(indices), scores.shape[1]), math.nan)
    for b, idx in enumerate(indices):
        s, t = scores[idx], target[idx]
        for c in range(scores.shape[1]):
            y = t[:, c] == 1
            if y.any():
                out[b, c] = average_precision_score(y, s[:, c])
    return out


def run(num: int, classes: int, replicates: int, loop_replicates: int, repeats: int) -> dict:
    scores, target = make_data(num, classes)
    target = target.to(torch.int8)
    indices = bootstrap_indices(num, replicates, seed=0)
    counts_s, _, counts = timed_with_peak(lambda: replicate_counts(indices, num))
    times, peak, ap = [], 0.0, None
    for repeat in range(repeats):
        seconds, extra, ap = timed_with_peak(
            lambda: bootstrap_average_precision(scores, target, counts))
        times.append(seconds)
        if repeat == 0:
            peak = extra
        del extra
    ours_map = torch.nanmean(ap, dim=1)  # (B,) mAP of each replicate
    loop = min(loop_replicates, replicates)
    start = time.perf_counter()
    sk_ap = sklearn_loop(scores.numpy(), target.numpy(), indices[:loop])
    loop_s = time.perf_counter() - start
    sk_map = np.nanmean(sk_ap, axis=1)
    sklearn_s = loop_s * replicates / loop
    ours_s = min(times)
    ap_diff = np.abs(ap[:loop].numpy() - sk_ap)
    same_nan = bool((np.isnan(ap[:loop].numpy()) == np.isnan(sk_ap)).all())
    ours_low, ours_high = percentile_interval(ours_map[:loop])
    sk_low, sk_high = np.percentile(sk_map, [2.5, 97.5])
    all_low, all_high = percentile_interval(ours_map)
    return dict(
        size=f'{num}x{classes}', replicates=replicates, ours_s=ours_s,
        ours_extra_peak_mb=peak, raw_mb=num * classes * 5 / 2**20,
        counts_mb=counts.numel() * counts.element_size() / 2**20, replicate_counts_s=counts_s,
        sklearn_loop_replicates=loop, sklearn_loop_measured_s=loop_s,
        sklearn_loop_scaled_s=sklearn_s, speedup=sklearn_s / ours_s,
        map_max_abs_diff=float(np.max(np.abs(ours_map[:loop].numpy() - sk_map))),
        ap_max_abs_diff=float(np.nanmax(ap_diff)), same_nan_cells=same_nan,
        map_point=float(torch.nanmean(bootstrap_average_precision(
            scores, target, torch.ones((1, num), dtype=torch.int32)))),
        map_ci95_ours_on_loop=[float(ours_low), float(ours_high)],
        map_ci95_sklearn_on_loop=[float(sk_low), float(sk_high)],
        map_ci95_ours_all=[float(all_low), float(all_high)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='40000x80,5000x1000')
    parser.add_argument('--replicates', type=int, default=1000)
    parser.add_argument('--loop-replicates', type=int, default=10,
                        help='replicates the sklearn loop computes (its time is scaled)')
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for size in args.sizes.split(','):
        num, classes = (int(v) for v in size.split('x'))
        line = run(num, classes, args.replicates, args.loop_replicates, args.repeats)
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) and k != 'map_max_abs_diff'
                              and k != 'ap_max_abs_diff' else
                              [round(x, 6) for x in v] if isinstance(v, list) else v)
                          for k, v in line.items()}), flush=True)


if __name__ == '__main__':
    main()
