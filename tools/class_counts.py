"""Count the training images of each class and write them to a JSON file.

    python tools/class_counts.py CONFIG [--out FILE] [--cfg-options KEY=VALUE ...]

The file (``{"classes": [...], "class_counts": [...]}``) can be given to
``MeanAP(class_counts=FILE)`` for head / medium / tail mAP, and to the losses
and samplers that need class frequencies, so the training set is read once.
"""
import argparse
import json
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

import mmml_ext  # noqa: F401  (registers the datasets)
from mmml_ext.datasets import count_class_images
from mmpretrain.registry import DATASETS


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Count training images per class')
    parser.add_argument('config', help='config whose train_dataloader.dataset is counted')
    parser.add_argument('--out', default='class_counts.json', help='JSON file to write')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, as key=value pairs')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.get('train_dataloader') is None:
        raise SystemExit(f'{args.config} has no train_dataloader to count')
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    counts = count_class_images(dataset)
    classes = list(dataset.metainfo.get('classes') or [])
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(dict(config=args.config, num_images=len(dataset), classes=classes,
                       class_counts=counts), f, indent=1)
    print(f'{len(dataset)} images, {len(counts)} classes: {counts} -> {args.out}')


if __name__ == '__main__':
    main()
