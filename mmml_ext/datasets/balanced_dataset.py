"""``MultiLabelBalancedDataset``: repeat images of rare classes (mmengine's ClassBalancedDataset, faster).

By default it gives exactly the indices of mmengine's ``ClassBalancedDataset``
(image i appears ceil(r_i) times, in order), but reads the labels in one pass
instead of two, keeps the indices as a numpy array (cheap for dataloader
workers to copy) and offers the mean / min image factor and an inverse-frequency
rule with a cap. See :mod:`mmml_ext.datasets.repeat_factors` and docs/resampling.md.
"""
import copy
from typing import Union

import numpy as np
from mmengine.dataset import BaseDataset, ClassBalancedDataset, RepeatDataset

from mmpretrain.registry import DATASETS

from ..config_keys import refuse_unknown
from .label_index import LabelIndex
from .repeat_factors import check_repeat_args, repeat_factors


@DATASETS.register_module()
class MultiLabelBalancedDataset:
    """Repeat-factor wrapper for class-balanced multi-label training.

    Args:
        dataset (BaseDataset | dict): The dataset, or its config.
        oversample_thr (float): Fraction of images in (0, 1]; classes rarer
            than this are oversampled.
        image_factor (str): ``'max'`` (mmengine's), ``'mean'`` or ``'min'`` of
            the class factors over an image's labels.
        repeat_rule (str): ``'sqrt'`` (LVIS, mmengine's) or ``'inverse'``.
        max_repeat (float): Cap of the ``'inverse'`` rule. Defaults to inf.
        lazy_init (bool): Defer building the indices. Defaults to False.

    Examples:
        >>> train_dataloader = dict(dataset=dict(
        ...     type='MultiLabelBalancedDataset', oversample_thr=0.1,
        ...     dataset=dict(type='LongTailedShapes', split='train')))
    """

    def __init__(self, dataset: Union[BaseDataset, dict], oversample_thr: float,
                 image_factor: str = 'max', repeat_rule: str = 'sqrt',
                 max_repeat: float = float('inf'), lazy_init: bool = False,
                 **unexpected) -> None:
        refuse_unknown(self, unexpected)
        check_repeat_args(oversample_thr, image_factor, repeat_rule, max_repeat)
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.oversample_thr = oversample_thr
        self.image_factor, self.repeat_rule, self.max_repeat = image_factor, repeat_rule, max_repeat
        self._metainfo = self.dataset.metainfo
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        self.repeat_factors = repeat_factors(LabelIndex.of(self.dataset), self.oversample_thr,
                                             self.image_factor, self.repeat_rule, self.max_repeat)
        copies = np.ceil(self.repeat_factors).astype(np.int64)
        self.repeat_indices = np.repeat(np.arange(len(self.dataset), dtype=np.int64), copies)
        self._fully_initialized = True

    def _ori_index(self, idx: int) -> int:
        self.full_init()
        return int(self.repeat_indices[idx])

    def get_cat_ids(self, idx: int):
        return self.dataset.get_cat_ids(self._ori_index(idx))

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(self._ori_index(idx))

    def __getitem__(self, idx: int):
        return self.dataset[self._ori_index(idx)]

    def __len__(self) -> int:
        self.full_init()
        return len(self.repeat_indices)


#: Wrappers that repeat or resample the images of the dataset they wrap.
RESAMPLING_WRAPPERS = (MultiLabelBalancedDataset, ClassBalancedDataset, RepeatDataset)


def original_dataset(dataset):
    """The dataset under any resampling wrappers (the images as they are), without
    initialising them."""
    while isinstance(dataset, RESAMPLING_WRAPPERS):
        dataset = dataset.dataset
    return dataset
