"""Test a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] ...``.

The flags are mmpretrain's. Metrics are logged and printed as a table; ``--out``
dumps the predictions (or, with ``--out-item metrics``, the metrics).
Distributed runs go through ``tools/dist_test.sh`` (torchrun) or
``tools/slurm_test.sh``; without CUDA they run on CPU with gloo.
"""
import argparse

import mmengine
from mmengine.dist import is_main_process
from mmengine.evaluator import DumpResults
from rich.console import Console
from rich.table import Table

import mmml_ext  # noqa: F401  (registers modules, makes checkpoint loading safe)
from mmml_ext.engine.cli import (add_common_args, build_runner, load_config,
                                 set_dataloader_defaults)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='file to write the predictions (or metrics) to')
    parser.add_argument('--out-item', choices=['metrics', 'pred'],
                        help='what --out holds; default: predictions')
    parser.add_argument('--amp', action='store_true', help='mixed precision test')
    parser.add_argument('--show-dir', help='directory to save visualized predictions to')
    parser.add_argument('--show', action='store_true',
                        help='display the predictions in a window')
    parser.add_argument('--interval', type=int, default=1,
                        help='visualize every this many samples')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='seconds each window is shown')
    parser.add_argument('--no-pin-memory', action='store_true',
                        help='disable pin_memory in the dataloader')
    add_common_args(parser)
    args = parser.parse_args()
    if args.out is None and args.out_item is not None:
        parser.error('--out-item needs --out')
    return args


def print_metrics(metrics: dict) -> None:
    table = Table(title='Test metrics')
    table.add_column('metric')
    table.add_column('value', justify='right')
    for key, value in metrics.items():
        table.add_row(key, f'{value:.4f}' if isinstance(value, float) else str(value))
    Console().print(table)


def main() -> None:
    args = parse_args()
    cfg = load_config(args, ('test_dataloader', ))
    cfg.load_from = args.checkpoint
    if args.amp:
        cfg.test_cfg.fp16 = True
    if args.show or args.show_dir is not None:
        vis = cfg.get('default_hooks', {}).get('visualization')
        if vis is None:
            raise SystemExit('--show / --show-dir need `default_hooks.visualization='
                             'dict(type="VisualizationHook")` in the config')
        vis.update(enable=True, show=args.show, wait_time=args.wait_time,
                   out_dir=args.show_dir, interval=args.interval)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # after --cfg-options, so that defaults follow e.g. a changed num_workers
    set_dataloader_defaults(cfg, ('test_dataloader', ), pin_memory=not args.no_pin_memory)

    runner = build_runner(cfg)
    if args.out and args.out_item in ('pred', None):
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    metrics = runner.test()
    if is_main_process():
        print_metrics(metrics)
        if args.out and args.out_item == 'metrics':
            mmengine.dump(metrics, args.out)


if __name__ == '__main__':
    main()
