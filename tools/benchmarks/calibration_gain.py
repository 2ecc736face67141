"""What the temperature scaling fitted on validation does to the test scores of finished runs.

    python tools/benchmarks/calibration_gain.py RUN_DIR [RUN_DIR ...] [--bootstrap 1000]

For each run: its ``test_predictions.npz`` (the model's own test scores) and the
inverse temperatures that ``TunedThresholdF1`` fitted on validation for the
tested checkpoint (``thresholds.json`` of the run, written at the validation of
those weights; :mod:`mmml_ext.functional.temperature_scaling`). Prints ECE,
class-wise ECE and Brier score (percent, :func:`calibration_errors`, 15 bins)
of the raw and of the calibrated test scores, and the change of ECE and Brier
with the 95 % percentile interval of a paired bootstrap over the test images
(the same resampled images for both). Averages over the runs given, per
setting (runs named ``<setting>_seed-<s>``).
"""
import argparse
import os.path as osp
import re
from collections import defaultdict

import numpy as np
import torch

from mmml_ext.functional.bootstrap import bootstrap_counts, percentile_interval
from mmml_ext.functional.calibration import calibration_errors
from mmml_ext.functional.temperature_scaling import apply_inverse_temperature
from mmml_ext.run_facts import test_predictions, tuned_thresholds


def run_values(run: str, replicates: int) -> dict:
    predictions = test_predictions.read(test_predictions.path_in(run))
    tuned = tuned_thresholds.read(tuned_thresholds.path_in(run))
    if not tuned.calibrated:
        raise ValueError(f'{run}: its thresholds.json has no inverse_temperature (a run '
                         'validated before temperature scaling existed)')
    raw = torch.from_numpy(predictions.scores)
    target = torch.from_numpy(predictions.target.astype(np.int64))
    calibrated = apply_inverse_temperature(raw, tuned.inverse_temperatures())
    counts = bootstrap_counts(len(raw), replicates, seed=0)
    out = {}
    for name, scores in (('raw', raw), ('calibrated', calibrated)):
        point = calibration_errors(scores, target)
        out[name] = {key: 100 * float(value) for key, value in point.items()}
        out[f'{name}_replicates'] = {key: 100 * values for key, values in calibration_errors(
            scores, target, weights=counts).items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+')
    parser.add_argument('--bootstrap', type=int, default=1000)
    args = parser.parse_args()
    settings = defaultdict(list)
    for run in args.runs:
        name = re.sub(r'_seed-\d+$', '', osp.basename(osp.normpath(run)))
        settings[name].append(run_values(run, args.bootstrap))
    print('| setting | runs | ECE raw -> calibrated | change [95 %] | class-wise ECE | '
          'Brier raw -> calibrated | change [95 %] |')
    print('|---|---:|---|---|---|---|---|')
    for name, runs in settings.items():
        def mean(kind, key):
            return float(np.mean([r[kind][key] for r in runs]))

        cells = []
        for key in ('ECE', 'brier'):
            diff = torch.stack([r['calibrated_replicates'][key] - r['raw_replicates'][key]
                                for r in runs]).mean(0)
            low, high = (float(v) for v in percentile_interval(diff))
            cells.append((f'{mean("raw", key):.1f} -> {mean("calibrated", key):.1f}',
                          f'{mean("calibrated", key) - mean("raw", key):+.1f} '
                          f'[{low:+.1f}, {high:+.1f}]'))
        print(f'| {name} | {len(runs)} | {cells[0][0]} | {cells[0][1]} | '
              f'{mean("raw", "classwise_ECE"):.1f} -> {mean("calibrated", "classwise_ECE"):.1f}'
              f' | {cells[1][0]} | {cells[1][1]} |')


if __name__ == '__main__':
    main()
