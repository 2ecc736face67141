"""Count the training images of each class of a config, as a training run does.

    python tools/class_counts.py CONFIG [--work-dir DIR] [--data-root DIR] [--cfg-options ...]

It builds the config's training dataset, counts it through resampling wrappers
(the original images, each once) with the same function a training run uses,
and writes ``<work_dir>/class_counts.json`` (the work dir defaults to
``./work_dirs/<config name>``, as ``tools/train.py``), the file a training run
writes there too. ``MeanAP(class_counts=FILE)`` and the losses'
``class_counts=FILE`` read it.
"""
import argparse

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

import mmml_ext  # noqa: F401  (registers the datasets)
from mmml_ext.engine.cli import default_work_dir, set_data_root
from mmml_ext.run_facts import class_stats
from mmpretrain.registry import DATASETS


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Count training images per class')
    parser.add_argument('config', help='config whose train_dataloader.dataset is counted')
    parser.add_argument('--work-dir', help=f'where {class_stats.FILE_NAME} is written '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--data-root', help='read the data from this directory (as train.py)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, as key=value pairs')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.data_root:
        set_data_root(cfg, args.data_root, ('train_dataloader', ))
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.get('train_dataloader') is None:
        raise SystemExit(f'{args.config} has no train_dataloader to count')
    work_dir = args.work_dir or cfg.get('work_dir') or default_work_dir(args.config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    stats = class_stats.compute(DATASETS.build(cfg.train_dataloader.dataset))
    path = class_stats.write(stats, work_dir)
    print(f'{stats.num_images} images, {stats.num_classes} classes: {list(stats.class_counts)} '
          f'-> {path}')


if __name__ == '__main__':
    main()
