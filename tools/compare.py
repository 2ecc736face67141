"""Compare finished runs side by side: ``python tools/compare.py RUN_DIR [RUN_DIR ...] --out DIR``.

Reads each run's dumped config, scalar logs, test results and per-class
reports, and writes ``DIR/summary.csv`` (one row per run), ``DIR/summary.md``
and PNG plots (metric curves, precision / recall at fixed and tuned
thresholds, per-class AP by class sorted by training frequency, head / medium / tail
mAP); prints the table. A directory that is not a run stands for the runs in
it (a sweep's work root). Runs that lack some results are compared on what
they have; what they lack is said.

``--log-to mlflow[:EXPERIMENT] tensorboard[:DIR]`` also logs the report to those trackers
(docs/trackers.md): one MLflow run with the report as artifacts and the intervals and
differences as metrics, linked to the compared runs; a TensorBoard directory with one run
per setting (its HPARAMS tab is the table). The report on disk is written first; a tracker
that fails is named and the exit status is 1.
"""
import argparse

from rich.console import Console

from mmml_ext.experiments import compare_runs
from mmml_ext.experiments.tracker_export import log_comparison, log_lines, parse_log_target


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
    parser.add_argument('--log-to', nargs='+', default=[], metavar='TRACKER[:WHERE]',
                        help='also log the report to mlflow[:EXPERIMENT] (default experiment '
                        'Default) and / or tensorboard[:DIR] (default OUT/tensorboard)')
    parser.add_argument('--tracking-uri', help="MLflow's tracking store (default: MLflow's own, "
                        'MLFLOW_TRACKING_URI)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    console = Console()
    try:  # an unknown or missing tracker is named before the work
        targets = [parse_log_target(text, args.out) for text in args.log_to]
        comparison = compare_runs(args.runs, args.out, console=console, baseline=args.baseline,
                                  bootstrap=args.bootstrap, seed=args.seed)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f'compare: {error}')
    failed = False
    for failure, line in log_lines(log_comparison(comparison, targets, args.tracking_uri)):
        failed |= failure
        console.print(line, style='red' if failure else None, highlight=False, markup=False)
    if failed:
        raise SystemExit(1)


if __name__ == '__main__':
    main()
