"""Run configs times a grid of settings, one after the other, then compare them.

    python tools/sweep.py CONFIG [CONFIG ...] --work-root DIR
        [--grid KEY=V1,V2 ...] [--seeds S1,S2 ...] [--cfg-options KEY=VALUE ...]
        [--launcher {none,pytorch,slurm}] [--gpus N] [--partition P] [--amp]
        [--baseline SETTING] [--log-to mlflow[:EXP] tensorboard[:DIR]]

Each run trains in ``DIR/<config name>[_<key>-<value>...]`` and then tests
its last checkpoint there (``_seed-<s>`` added with ``--seeds``). Running the same command again skips finished
runs, resumes an interrupted one from its last checkpoint, and starts the
rest; ``--dry-run`` lists the plan. The sweep ends with the comparison of
all its runs (``tools/compare.py``) in ``DIR/comparison``: with ``--baseline SETTING``,
each setting's difference from it, with its interval and verdict, first.
"""
import argparse
import os.path as osp
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from mmml_ext.experiments import LaunchOptions, compare_runs, execute_run, plan_runs
from mmml_ext.experiments.grid import parse_seeds
from mmml_ext.experiments.tracker_export import log_comparison, log_lines, parse_log_target


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Run a grid of multi-label experiments')
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument('--work-root', required=True, help='directory of the run dirs')
    parser.add_argument('--grid', nargs='+', default=[], metavar='KEY=V1,V2',
                        help='settings to vary; every combination runs with every config '
                        '(commas inside [] or quotes stay in one value)')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='settings for every run, as in tools/train.py (not in run names)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                        help='none: one process per run; pytorch: torchrun with --gpus '
                        'processes; slurm: srun on --partition with --gpus tasks')
    parser.add_argument('--gpus', type=int, default=1, help='processes per run (pytorch, slurm)')
    parser.add_argument('--partition', help='slurm partition')
    parser.add_argument('--port', type=int, default=29500, help='first torchrun port')
    parser.add_argument('--amp', action='store_true', help='mixed precision training (CUDA)')
    parser.add_argument('--no-test', action='store_true', help='train only')
    parser.add_argument('--seeds', metavar='S1,S2', help='run every setting once per training '
                        'seed (randomness.seed), in <run>_seed-<s>; the comparison groups them')
    parser.add_argument('--baseline', help='a setting (or run) the comparison at the end '
                        'compares every setting with: differences, their intervals and verdicts, '
                        'as tools/compare.py --baseline')
    parser.add_argument('--log-to', nargs='+', default=[], metavar='TRACKER[:WHERE]',
                        help='also log the comparison to mlflow[:EXPERIMENT] and / or '
                        'tensorboard[:DIR], as tools/compare.py does')
    parser.add_argument('--tracking-uri', help="MLflow's tracking store of --log-to mlflow")
    parser.add_argument('--dry-run', action='store_true', help='print the plan and stop')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    console = Console()
    try:
        runs = plan_runs(args.configs, args.grid, args.cfg_options, parse_seeds(args.seeds))
        launch = LaunchOptions(args.launcher, args.gpus, args.partition, args.port, args.amp,
                               test=not args.no_test, tools_dir=osp.dirname(osp.abspath(__file__)))
        comparison_dir = osp.join(args.work_root, 'comparison')
        targets = [parse_log_target(text, comparison_dir) for text in args.log_to]
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f'sweep: {error}')
    console.print(f'{len(runs)} run(s) in {args.work_root}'
                  + (f', all with {" ".join(args.cfg_options)}' if args.cfg_options else '') + ':')
    for spec in runs:
        grid = ' '.join(f'{k}={v}' for k, v in spec.grid.items())
        console.print(f'  {spec.name}  [dim]{spec.config} {grid}[/]')
    if args.dry_run:
        return
    outcomes = []
    start = time.perf_counter()
    with Progress(TextColumn('{task.description}'), BarColumn(), TextColumn('{task.fields[now]}'),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task('sweep', total=len(runs), now='')
        for i, spec in enumerate(runs, 1):
            progress.update(task, description=f'[{i}/{len(runs)}] {spec.name}')
            try:
                outcome = execute_run(spec, args.work_root, launch,
                                      lambda text: progress.update(task, now=text))
            except ValueError as error:  # a run dir made with other settings
                raise SystemExit(f'sweep: {error}')
            outcomes.append(outcome)
            style = dict(done='green', skipped='dim', failed='red')[outcome.status]
            progress.console.print(f'[{style}]{outcome.status:>7}[/] {spec.name} '
                                   f'{outcome.message if outcome.status != "failed" else ""}')
            if outcome.status == 'failed':
                progress.console.print(outcome.message, markup=False)
            progress.advance(task)
    console.print(f'sweep took {time.perf_counter() - start:.0f} s')
    comparison = compare_runs([o.work_dir for o in outcomes if osp.isdir(o.work_dir)],
                              comparison_dir, console=console, baseline=args.baseline)
    for failure, line in log_lines(log_comparison(comparison, targets, args.tracking_uri)):
        console.print(line, style='red' if failure else None, highlight=False, markup=False)
    failed = [o.spec.name for o in outcomes if o.status == 'failed']
    if failed:
        raise SystemExit(f'sweep: {len(failed)} run(s) failed: {", ".join(failed)}')


if __name__ == '__main__':
    main()
