"""Find the training set's class counts from a Runner, once per dataset.

Used by ``ClassCountsHook`` (losses, head prior) and ``MultiLabelEvalHook``
(head / medium / tail mAP). The counts come from the training dataset's
``metainfo['train_class_counts']`` when it has them (the demo dataset), else
from one pass over its labels (``get_cat_ids``).
"""
import copy
from typing import List, Tuple

from mmpretrain.registry import DATASETS

from ..datasets.class_counts import count_class_images


def train_dataset(runner):
    """The Runner's training dataset, built from the config if not built yet."""
    loader = runner._train_dataloader
    if loader is None or isinstance(loader, dict):
        loader_cfg = loader or runner.cfg.get('train_dataloader')
        if loader_cfg is None:
            raise ValueError('the config has no train_dataloader')
        dataset = loader_cfg['dataset']
        return DATASETS.build(copy.deepcopy(dataset)) if isinstance(dataset, dict) else dataset
    return loader.dataset


def train_class_counts(runner) -> Tuple[List[int], int]:
    """(images per class, number of images) of the Runner's training set.

    A resampling wrapper is looked through: the counts are the original data's.
    """
    dataset = train_dataset(runner)
    while hasattr(dataset, 'dataset'):  # MultiLabelBalancedDataset, RepeatDataset, ...
        dataset = dataset.dataset
    meta = getattr(dataset, 'metainfo', {}) or {}
    if meta.get('train_class_counts') is not None and meta.get('train_num_images') is not None:
        return list(meta['train_class_counts']), int(meta['train_num_images'])
    return count_class_images(dataset), len(dataset)
