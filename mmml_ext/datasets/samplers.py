"""Class-balanced samplers that work under DDP: repeat factors drawn per epoch, and class-aware.

Both draw a fresh epoch from ``numpy.random.default_rng([seed, epoch])``: the
same (seed, epoch) gives the same order on every machine, a new epoch a new
order, and a resumed run re-creates the epoch it stopped in. The epoch's list
is padded by wrapping to a multiple of the world size, and rank r takes
positions r, r + W, ...: every rank gets a disjoint share of equal length.
``DistSamplerSeedHook`` (in the default runtime) calls ``set_epoch``.
"""
import logging
import math
from typing import Iterator, Optional

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.logging import print_log
from torch.utils.data import Sampler

from mmpretrain.registry import DATA_SAMPLERS

from ..config_keys import refuse_unknown
from .label_index import LabelIndex
from .repeat_factors import check_repeat_args, repeat_factors


class _EpochSampler(Sampler):
    """Shared part: seed, epoch, the rank's share of an epoch's index list.

    ``shuffle`` and ``round_up`` are mmengine's ``DefaultSampler`` keys, taken
    where they mean something, so that a sampler replacing mmpretrain's base
    sampler works without ``_delete_``: every epoch is padded to equal shares
    (``round_up=True``), and its order is random (``shuffle=True``).
    """

    def __init__(self, dataset, seed: Optional[int] = None, shuffle: bool = True,
                 round_up: bool = True) -> None:
        if not round_up:
            raise ValueError(f'{type(self).__name__} gives every process an equal share of '
                             'each epoch (round_up=True); round_up=False is not supported')
        self.shuffle = bool(shuffle)
        self.dataset = dataset
        self.rank, self.world_size = get_dist_info()
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0

    def epoch_length(self) -> int:
        raise NotImplementedError

    def epoch_indices(self, rng: np.random.Generator) -> np.ndarray:
        """The whole epoch's dataset indices, ``epoch_length()`` of them."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        indices = self.epoch_indices(rng)
        total = self.num_samples * self.world_size
        indices = np.resize(indices, total)  # wraps around to pad
        return iter(indices[self.rank::self.world_size].tolist())

    @property
    def num_samples(self) -> int:
        return math.ceil(self.epoch_length() / self.world_size)

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


@DATA_SAMPLERS.register_module()
class RepeatFactorSampler(_EpochSampler):
    """Repeat-factor sampling with stochastic rounding drawn anew each epoch.

    Image i appears floor(r_i) times plus once more with probability
    r_i - floor(r_i), so its expected count is exactly r_i (detectron2's way);
    the epoch is shuffled. Its length is fixed at round(sum_i r_i) per epoch
    (the draw is truncated or wrapped to it) so that schedulers see a constant
    epoch.

    Args:
        dataset: The training dataset (needs ``get_cat_ids``).
        oversample_thr (float): Fraction of images in (0, 1]; see
            :mod:`mmml_ext.datasets.repeat_factors`.
        image_factor (str): ``'max'``, ``'mean'`` or ``'min'``.
        repeat_rule (str): ``'sqrt'`` or ``'inverse'``.
        max_repeat (float): Cap of the ``'inverse'`` rule.
        seed (int, optional): Defaults to a seed shared by all ranks.
        shuffle (bool): Shuffle the epoch. With False the repeated images
            come in dataset order (the draw of repeats stays random).
            Defaults to True.
        round_up (bool): mmengine's key; only True (equal shares).

    Examples:
        >>> train_dataloader = dict(sampler=dict(type='RepeatFactorSampler', oversample_thr=0.1))
    """

    def __init__(self, dataset, oversample_thr: float, image_factor: str = 'max',
                 repeat_rule: str = 'sqrt', max_repeat: float = float('inf'),
                 seed: Optional[int] = None, shuffle: bool = True, round_up: bool = True,
                 **unexpected) -> None:
        refuse_unknown(self, unexpected)
        check_repeat_args(oversample_thr, image_factor, repeat_rule, max_repeat)
        super().__init__(dataset, seed, shuffle, round_up)
        self.factors = repeat_factors(LabelIndex.of(dataset), oversample_thr, image_factor,
                                      repeat_rule, max_repeat)

    def epoch_length(self) -> int:
        return max(1, int(round(self.factors.sum())))

    def epoch_indices(self, rng: np.random.Generator) -> np.ndarray:
        whole = np.floor(self.factors)
        copies = (whole + (rng.random(len(self.factors)) < self.factors - whole)).astype(np.int64)
        indices = np.repeat(np.arange(len(self.factors)), copies)
        if self.shuffle:
            return np.resize(rng.permutation(indices), self.epoch_length())
        # in dataset order: the draws cut or repeated to fit the epoch are chosen at random
        length = self.epoch_length()
        if len(indices) >= length:
            return indices[np.sort(rng.choice(len(indices), length, replace=False))]
        extra = rng.choice(len(indices), length - len(indices))
        return np.sort(np.concatenate([indices, indices[extra]]))


@DATA_SAMPLERS.register_module()
class ClassAwareSampler(_EpochSampler):
    """Pick a class uniformly, then an image of it (the DB loss / mmdet way).

    Each pick of a class draws ``num_sample_class`` images of it. Classes
    without images are skipped, with a warning.

    Args:
        dataset: The training dataset (needs ``get_cat_ids``).
        num_sample_class (int): Images drawn per class pick. Defaults to 1.
        length (int, optional): Images per epoch. Defaults to ``len(dataset)``.
        seed (int, optional): Defaults to a seed shared by all ranks.
        shuffle (bool): mmengine's key; only True (the draw is random).
        round_up (bool): mmengine's key; only True (equal shares).

    Examples:
        >>> train_dataloader = dict(sampler=dict(type='ClassAwareSampler'))
    """

    def __init__(self, dataset, num_sample_class: int = 1, length: Optional[int] = None,
                 seed: Optional[int] = None, shuffle: bool = True, round_up: bool = True,
                 **unexpected) -> None:
        refuse_unknown(self, unexpected)
        if not shuffle:
            raise ValueError('ClassAwareSampler draws a random class for every pick; '
                             'shuffle=False has no meaning for it')
        if not isinstance(num_sample_class, int) or num_sample_class < 1:
            raise ValueError(f'num_sample_class must be an int >= 1, got {num_sample_class!r}')
        if length is not None and (not isinstance(length, int) or length < 1):
            raise ValueError(f'length must be a positive int, got {length!r}')
        super().__init__(dataset, seed, shuffle, round_up)
        self.num_sample_class = num_sample_class
        self.length = len(dataset) if length is None else length
        index = LabelIndex.of(dataset)
        self.class_offsets, self.class_images = index.images_by_class()
        counts = np.diff(self.class_offsets)
        self.classes = np.flatnonzero(counts > 0)
        if len(self.classes) == 0:
            raise ValueError('no class has an image: nothing to sample')
        empty = np.flatnonzero(counts == 0)
        if len(empty):
            names = (getattr(dataset, 'metainfo', None) or {}).get('classes')
            shown = [names[c] for c in empty] if names else empty.tolist()
            print_log(f'ClassAwareSampler: {len(empty)} class(es) have no image and are skipped: '
                      f'{shown}', logger='current', level=logging.WARNING)

    def epoch_length(self) -> int:
        return self.length

    def epoch_indices(self, rng: np.random.Generator) -> np.ndarray:
        picks = math.ceil(self.length / self.num_sample_class)
        classes = np.repeat(rng.choice(self.classes, size=picks), self.num_sample_class)
        start = self.class_offsets[classes]
        count = self.class_offsets[classes + 1] - start
        chosen = start + (rng.random(len(classes)) * count).astype(np.int64)
        return self.class_images[chosen][:self.length]
