"""Train a model from a config: ``python tools/train.py CONFIG [--work-dir DIR] ...``.

The flags are mmpretrain's. Distributed runs go through ``tools/dist_train.sh``
(torchrun) or ``tools/slurm_train.sh``; without CUDA they run on CPU with gloo.
"""
import argparse

import torch

import mmml_ext  # noqa: F401  (registers modules, makes checkpoint loading safe)
from mmml_ext.engine.cli import (add_common_args, build_runner, load_config,
                                 set_dataloader_defaults)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a multi-label classifier')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint; without a path, from the latest '
        'checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision training (needs CUDA)')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by the actual total batch size '
                        'over auto_scale_lr.base_batch_size')
    parser.add_argument('--no-pin-memory', action='store_true',
                        help='disable pin_memory in the dataloaders')
    parser.add_argument('--no-persistent-workers', action='store_true',
                        help='disable persistent_workers in the dataloaders')
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args, ('train_dataloader', 'val_dataloader'))

    if args.amp:
        if not torch.cuda.is_available():
            raise SystemExit('--amp needs a CUDA device (mmengine\'s AmpOptimWrapper); '
                             'this machine has none, so train without --amp')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise SystemExit('--auto-scale-lr needs `auto_scale_lr = dict(base_batch_size=...)` '
                             'in the config')
        cfg.auto_scale_lr.enable = True
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # after --cfg-options, so that defaults follow e.g. a changed num_workers,
    # and --no-validate wins over options given for validation
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    set_dataloader_defaults(cfg, ('train_dataloader', 'val_dataloader', 'test_dataloader'),
                            pin_memory=not args.no_pin_memory,
                            persistent_workers=not args.no_persistent_workers)

    runner = build_runner(cfg)
    runner.train()


if __name__ == '__main__':
    main()
