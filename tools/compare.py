"""Compare finished runs side by side: ``python tools/compare.py RUN_DIR [RUN_DIR ...] --out DIR``.

Reads each run's dumped config, scalar logs, test results and per-class
reports, and writes ``DIR/summary.csv`` (one row per run), ``DIR/summary.md``
and PNG plots (metric curves, precision / recall at fixed and tuned
thresholds, per-class AP by class sorted by training frequency, head / medium / tail
mAP); prints the table. A directory that is not a run stands for the runs in
it (a sweep's work root). Runs that lack some results are compared on what
they have; what they lack is said.
"""
import argparse

from rich.console import Console

from mmml_ext.experiments import compare_runs


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Compare multi-label experiments')
    parser.add_argument('runs', nargs='+', help='run work dirs, or directories of them')
    parser.add_argument('--out', required=True, help='directory of the report')
    parser.add_argument('--baseline', help='a run (or setting: runs that differ only by '
                        '_seed-<s>) to compare every setting with: paired differences and '
                        'their 95 %% intervals')
    parser.add_argument('--bootstrap', type=int, default=1000,
                        help='bootstrap replicates of the test intervals (0: none)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the resampling')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        compare_runs(args.runs, args.out, console=Console(), baseline=args.baseline,
                     bootstrap=args.bootstrap, seed=args.seed)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f'compare: {error}')


if __name__ == '__main__':
    main()
