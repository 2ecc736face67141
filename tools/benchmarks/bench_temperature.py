"""The temperature fit that TunedThresholdF1 adds to a validation, against the threshold tuning.

    python tools/benchmarks/bench_temperature.py [--sizes 40000x80,20000x1000] [--rounds 3]

On the same scores (rounded to 3 decimals, so there are ties; 15 % positives for 80 classes,
5 % for 1,000): :func:`fit_inverse_temperature` and :func:`per_class_best_thresholds` (the
metric's anchor, the work it already did), the best of ``--rounds`` each; one JSON line per
size with the seconds and the ratio fit / tuning.
"""
import argparse
import json
import time

import torch

from mmml_ext.functional.temperature_scaling import fit_inverse_temperature
from mmml_ext.functional.thresholds import per_class_best_thresholds


def best_time(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='40000x80,20000x1000')
    parser.add_argument('--rounds', type=int, default=3)
    args = parser.parse_args()
    for size in args.sizes.split(','):
        num, classes = (int(v) for v in size.split('x'))
        generator = torch.Generator().manual_seed(0)
        target = (torch.rand(num, classes, generator=generator)
                  < (0.15 if classes <= 100 else 0.05)).long()
        noise = torch.randn(num, classes, generator=generator)
        scores = (torch.sigmoid(2 * target - 1 + 1.5 * noise) * 1000).round() / 1000
        tuning = best_time(lambda: per_class_best_thresholds(scores, target), args.rounds)
        fit = best_time(lambda: fit_inverse_temperature(scores, target), args.rounds)
        print(json.dumps(dict(size=size, tuning_s=round(tuning, 3), fit_s=round(fit, 3),
                              fit_over_tuning=round(fit / tuning, 2))))


if __name__ == '__main__':
    main()
