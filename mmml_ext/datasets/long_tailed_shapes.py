"""A built-in long-tailed multi-label dataset, so the plugin runs with no download.

``LongTailedShapes`` draws 20 classes of coloured shapes (see
:mod:`mmml_ext.datasets.shape_rendering`), several per image. The training split
is long-tailed: class ``c`` appears in exactly

    n_c = round(head_fraction * num_train * imbalance_ratio ** (-c / (C - 1)))

images, an exponential profile from the head class (index 0) down to the tail
class, ``imbalance_ratio`` times rarer, as in the long-tailed VOC-MLT / COCO-MLT
splits. With the defaults (800 training images, ratio 100) the classes fall into
the usual groups: 6 head classes (> 100 images), 7 medium (20-100) and 7 tail
(< 20). The val and test splits are balanced (every class in
``eval_fraction * num_eval`` images), the usual protocol for long-tailed
benchmarks, so tail classes get enough positives to be measured.

Labels come from ``numpy.random.default_rng([seed, split])`` and each image from
a generator seeded by ``(seed, split, image index)``: the same seed gives the same
dataset on every machine, rendered on the fly.
"""
from typing import List, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset as MMEngineBaseDataset
from mmpretrain.datasets import MultiLabelDataset
from mmpretrain.registry import DATASETS

from ..config_keys import drop_leftover_delete

from .shape_rendering import CLASS_NAMES, render_image

SPLITS = ('train', 'val', 'test')


def long_tailed_counts(num_images: int, num_classes: int, head_fraction: float,
                       imbalance_ratio: float) -> np.ndarray:
    """Images per class for an exponential long-tailed profile, head first."""
    exponent = np.arange(num_classes) / max(num_classes - 1, 1)
    counts = head_fraction * num_images * float(imbalance_ratio)**(-exponent)
    return np.maximum(np.round(counts), 1).astype(np.int64)


def sample_label_matrix(counts: Sequence[int], num_images: int,
                        rng: np.random.Generator) -> np.ndarray:
    """A ``(num_images, C)`` boolean label matrix with exact column sums.

    Class ``c`` is given to ``counts[c]`` images drawn uniformly without
    replacement. An image left with no label then takes one from an image that
    has two or more, so every image shows at least one object and the class
    counts stay exact.
    """
    counts = np.asarray(counts)
    if counts.sum() < num_images:
        raise ValueError(f'{counts.sum()} labels cannot cover {num_images} images '
                         'with at least one label each; raise the class fractions')
    ranks = rng.random((num_images, len(counts))).argsort(axis=0).argsort(axis=0)
    labels = ranks < counts[None, :]
    for empty in np.flatnonzero(~labels.any(axis=1)):
        donors = np.flatnonzero(labels.sum(axis=1) >= 2)
        donor = rng.choice(donors)
        label = rng.choice(np.flatnonzero(labels[donor]))
        labels[donor, label] = False
        labels[empty, label] = True
    return labels


@DATASETS.register_module()
class LongTailedShapes(MultiLabelDataset):
    """Long-tailed multi-label shapes, rendered on the fly from a seed.

    Args:
        split (str): ``'train'`` (long-tailed), ``'val'`` or ``'test'``
            (balanced). Defaults to ``'train'``.
        num_train (int): Images in the training split. Defaults to 800.
        num_eval (int): Images in each of the val and test splits.
            Defaults to 200.
        imbalance_ratio (float): Head-class count over tail-class count in the
            training split. Defaults to 100.
        head_fraction (float): Fraction of training images that show the head
            class. Defaults to 0.5.
        eval_fraction (float): Fraction of val / test images that show each
            class. Defaults to 0.15.
        img_size (int): Image height and width in pixels. Defaults to 64.
        seed (int): Seed of labels and images. Defaults to 0.
        **kwargs: Passed to :class:`mmpretrain.datasets.BaseDataset`
            (``pipeline``, ``indices``, ``test_mode``, ``lazy_init``, ...).

    The metainfo holds ``classes``, ``train_class_counts`` (the number of
    training images of each class) and ``train_num_images``, which
    class-balanced losses, samplers, prior initialisation and head / medium /
    tail metrics need. Every split carries them.

    Examples:
        >>> from mmml_ext.datasets import LongTailedShapes
        >>> train = LongTailedShapes(split='train')
        >>> len(train), len(train.CLASSES)
        (800, 20)
        >>> train.metainfo['train_class_counts'][:3]
        (400, 314, 246)
        >>> train[0]['img'].shape
        (64, 64, 3)
    """

    METAINFO = dict(classes=CLASS_NAMES)

    def __init__(self,
                 split: str = 'train',
                 num_train: int = 800,
                 num_eval: int = 200,
                 imbalance_ratio: float = 100.,
                 head_fraction: float = 0.5,
                 eval_fraction: float = 0.15,
                 img_size: int = 64,
                 seed: int = 0,
                 metainfo: Optional[dict] = None,
                 **kwargs):
        drop_leftover_delete(kwargs)
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        for name, value in (('num_train', num_train), ('num_eval', num_eval),
                            ('img_size', img_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be a positive int, got {value!r}')
        if not imbalance_ratio >= 1:
            raise ValueError(f'imbalance_ratio must be >= 1, got {imbalance_ratio!r}')
        for name, value in (('head_fraction', head_fraction), ('eval_fraction', eval_fraction)):
            if not 0 < value <= 1:
                raise ValueError(f'{name} must be in (0, 1], got {value!r}')
        if img_size < 24:
            raise ValueError(f'img_size must be at least 24 pixels, got {img_size}')
        self.split = split
        self.img_size = img_size
        self.seed = seed
        self.imbalance_ratio = imbalance_ratio

        num_classes = len(CLASS_NAMES)
        train_counts = long_tailed_counts(num_train, num_classes, head_fraction,
                                          imbalance_ratio)
        if split == 'train':
            counts, num_images = train_counts, num_train
        else:
            eval_count = max(1, round(eval_fraction * num_eval))
            counts, num_images = np.full(num_classes, eval_count), num_eval
        rng = np.random.default_rng([seed, SPLITS.index(split)])
        self._label_matrix = sample_label_matrix(counts, num_images, rng)

        metainfo = dict(metainfo or {})
        metainfo.setdefault('train_class_counts', tuple(int(n) for n in train_counts))
        metainfo.setdefault('train_num_images', num_train)
        super().__init__(ann_file='', metainfo=metainfo, **kwargs)

    def load_data_list(self) -> List[dict]:
        """One entry per image: its index (the render seed) and label indices."""
        return [
            dict(img_index=i, gt_label=[int(c) for c in np.flatnonzero(row)])
            for i, row in enumerate(self._label_matrix)
        ]

    def get_data_info(self, idx: int) -> dict:
        """The entry of image ``idx`` with its pixels rendered into ``img``."""
        info = super().get_data_info(idx)
        rng = np.random.default_rng([self.seed, SPLITS.index(self.split), info['img_index']])
        info['img'] = render_image(info['gt_label'], rng, self.img_size)
        info['img_shape'] = info['ori_shape'] = (self.img_size, self.img_size)
        return info

    def get_cat_ids(self, idx: int) -> List[int]:
        """Label indices of image ``idx``, read without rendering it."""
        return list(MMEngineBaseDataset.get_data_info(self, idx)['gt_label'])

    def extra_repr(self) -> List[str]:
        counts = self.metainfo['train_class_counts']
        return [
            f'Split: \t{self.split}',
            f'Seed: \t{self.seed}',
            f'Train class counts (head..tail): \t{counts[0]}..{counts[-1]}',
        ]
