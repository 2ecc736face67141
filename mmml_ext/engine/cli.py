"""Command-line plumbing shared by ``tools/train.py`` and ``tools/test.py``.

The flags follow mmpretrain's tools; what the two tools have in common (work
dir, launcher, dataloader defaults, ``--cfg-options``) lives here once, and the
Runner is built in one place, after the CPU-distributed setup.
"""
import argparse
import os
import os.path as osp
from typing import Optional, Sequence

import torch
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .distributed import setup_distributed


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--work-dir``, ``--cfg-options``, ``--launcher``, ``--local-rank``."""
    parser.add_argument('--work-dir', help='the directory for logs, checkpoints and results '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs merged into it; '
        'a list is written key="[a,b]" or key=a,b, with no white space')
    parser.add_argument('--data-root', help='read the data from this directory: sets data_root '
                        'of every dataset of the config (through dataset wrappers); for a config '
                        'whose splits read different roots, set each with --cfg-options '
                        '<split>_dataloader.dataset.data_root=DIR')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)


def load_config(args: argparse.Namespace,
                data_loaders: Sequence[str] = ('train_dataloader', 'val_dataloader',
                                               'test_dataloader')) -> Config:
    """Read ``args.config`` and apply the shared flags to it.

    ``data_loaders``: the dataloaders the tool uses, whose datasets
    ``--data-root`` moves.
    """
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if getattr(args, 'data_root', None):
        set_data_root(cfg, args.data_root, data_loaders)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir(args.config)
    return cfg


DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _with_data_root(dataset) -> list:
    """The dataset configs under ``dataset`` (through wrappers) that have a ``data_root``."""
    if not isinstance(dataset, dict):
        return []
    if 'data_root' in dataset:
        return [dataset]
    inner = dataset.get('dataset')
    found = _with_data_root(inner)
    for part in dataset.get('datasets') or []:
        found += _with_data_root(part)
    return found


def _leaves(dataset) -> list:
    """The dataset configs under ``dataset`` (through wrappers) that wrap nothing."""
    if not isinstance(dataset, dict):
        return []
    if isinstance(dataset.get('dataset'), dict) or dataset.get('datasets'):
        return _leaves(dataset.get('dataset')) + [
            leaf for part in dataset.get('datasets') or [] for leaf in _leaves(part)]
    return [dataset]


def set_data_root(cfg: Config, root: str, data_loaders: Sequence[str] = DATALOADERS) -> None:
    """Set ``data_root`` of every dataset of the ``data_loaders`` to ``root``.

    A config's ``data_root`` variable is expanded when the config is read, so
    ``--cfg-options data_root=DIR`` reaches no dataset; this sets the datasets'
    own keys. The paths of a dataset (``ann_file``, ``data_prefix``, and a
    ``MultiLabelListDataset``'s class file) are relative to its ``data_root``
    and follow it.

    Raises:
        SystemExit: No dataset takes a ``data_root``, a dataset of those
            loaders has none (its paths would stay where they are), or the
            datasets read different roots (one ``root`` cannot be right for
            all of them).
    """
    loaders = [(field, (cfg.get(field) or {}).get('dataset')) for field in data_loaders]
    datasets = [d for _, dataset in loaders for d in _with_data_root(dataset)]
    if not datasets:
        raise SystemExit('--data-root: no dataset of the config takes a data_root')
    without = sorted({f'{field} ({leaf.get("type")})' for field, dataset in loaders
                      for leaf in _leaves(dataset) if 'data_root' not in leaf})
    if without:
        raise SystemExit(f'--data-root: the datasets of {without} have no data_root to set; '
                         'give their paths with --cfg-options instead')
    roots = sorted({str(d['data_root']) for d in datasets})
    if len(roots) > 1:
        raise SystemExit(f'--data-root: the datasets of the config read different roots {roots}; '
                         'set each with --cfg-options train_dataloader.dataset.data_root=DIR '
                         'val_dataloader.dataset.data_root=DIR ...')
    for dataset in datasets:
        dataset['data_root'] = root
    cfg.data_root = root


def default_work_dir(config: str) -> str:
    """``./work_dirs/<config name>``: where a run of ``config`` writes unless told otherwise."""
    return osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])


def set_dataloader_defaults(cfg: Config, fields, pin_memory: bool = True,
                            persistent_workers: Optional[bool] = None) -> None:
    """Fill the dataloaders' defaults as mmpretrain's tools do.

    ``pin_memory`` only helps when batches go to a GPU, so it is turned on only
    when CUDA is available. ``persistent_workers`` is set only where a
    dataloader has workers.
    """
    for field in fields:
        if cfg.get(field) is None:
            continue
        loader = ConfigDict(collate_fn=dict(type='default_collate'))
        loader.update(cfg[field])
        loader.setdefault('pin_memory', pin_memory and torch.cuda.is_available())
        if not pin_memory:
            loader.pin_memory = False
        if persistent_workers is not None and loader.get('num_workers', 0) > 0:
            loader.setdefault('persistent_workers', persistent_workers)
            if not persistent_workers:
                loader.persistent_workers = False
        cfg[field] = loader


def build_runner(cfg: Config) -> Runner:
    """Set up the distributed environment (gloo on CPU), then build the Runner."""
    setup_distributed(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
