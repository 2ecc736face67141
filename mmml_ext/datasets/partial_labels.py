"""``PartialLabelDataset``: hide labels of a fully annotated training set by a published protocol.

The protocols (keep a fraction of the positive labels, or one positive per
image) are pure numpy in :mod:`mmml_ext.datasets.label_hiding`; this module
wraps a dataset with them: the hiding is drawn once, from a seed, in
``full_init``, kept as compact CSR arrays (cheap for dataloader workers to
copy), and applied to every image's ``gt_label`` / ``gt_score`` before the
wrapped dataset's pipeline runs. See docs/datasets.md.
"""
import copy
import logging
from typing import Optional, Union

import numpy as np
from mmengine.dataset import BaseDataset, RepeatDataset
from mmengine.logging import print_log

from mmpretrain.registry import DATASETS

from ..config_keys import refuse_unknown
from .balanced_dataset import RESAMPLING_WRAPPERS, original_dataset
from .label_hiding import (HidingSummary, check_hiding_args, hide_positives, observed_targets,
                           select, take_rows)
from .label_index import _CACHE_ATTR, LabelIndex


def _through_resampling(dataset):
    """(the data under resampling wrappers, index of it for each index of ``dataset`` or None).

    Copies of one image made by ``MultiLabelBalancedDataset``, mmengine's
    ``ClassBalancedDataset`` or ``RepeatDataset`` share one hiding.
    """
    index_map = None
    while isinstance(dataset, RESAMPLING_WRAPPERS):
        if hasattr(dataset, 'full_init'):
            dataset.full_init()
        if isinstance(dataset, RepeatDataset):
            inner = np.arange(len(dataset), dtype=np.int64) % len(dataset.dataset)
        else:
            inner = np.asarray(dataset.repeat_indices, dtype=np.int64)
        index_map = inner if index_map is None else inner[index_map]
        dataset = dataset.dataset
    return dataset, index_map


def _pipeline_owner(dataset):
    """The innermost dataset, through ``.dataset`` wrappers, that has a ``pipeline``."""
    while dataset is not None:
        if getattr(dataset, 'pipeline', None) is not None:
            return dataset
        dataset = getattr(dataset, 'dataset', None)
    return None


@DATASETS.register_module()
class PartialLabelDataset:
    """Hide positive labels of a multi-label training set, as the partial-label papers do.

    After hiding, the only observed cells are the kept positives; every other
    cell (hidden positives and all negatives alike) is unobserved. Negatives
    cannot stay known while hidden positives become unknown: every -1 cell
    would then be a positive, a leak that a model learns at once. With
    ``unobserved='unknown'`` an unobserved cell is -1 ("not annotated",
    docs/design.md, 'Target codes'): every sample carries ``gt_score``, a (C,) float32 vector with
    1 at its kept positives and -1 elsewhere, and ``gt_label`` its kept
    positives; the plugin's losses give -1 cells no loss. With
    ``unobserved='negative'`` an unobserved cell is 0 (missing labels look like
    negatives, the setting of Hill / SPLC and of "assume negative"): samples
    carry only ``gt_label``, the kept positives, and a ``gt_score`` of the
    wrapped dataset is dropped.

    Protocols (exactly one):

    - ``single_positive=True``: one positive per image, chosen uniformly among
      its positives (Cole et al., CVPR 2021); images without positives keep none.
    - ``keep_ratio=r``: ``round(r * P)`` of the dataset's P positive labels are
      kept, chosen uniformly, with at least one per image that has positives (the
      COCO 75 % / 40 % splits of Zhang et al., arXiv 2112.07368): first one
      uniformly chosen positive per image, then the rest of the quota uniformly
      from the other positives. A quota below the number of images with
      positives keeps one per image, and the log gives the ratio reached.

    The hiding is drawn once in ``full_init`` from ``numpy.random.default_rng(seed)``:
    the same seed hides the same labels on every machine, process and dataloader
    worker, whatever the training seed. Copies of one image made by a resampling
    wrapper inside this one (``MultiLabelBalancedDataset``, mmengine's
    ``ClassBalancedDataset`` / ``RepeatDataset``) share one hiding. Put
    ``MultiLabelBalancedDataset`` (or ``ClassAwareSampler``) *around* this
    wrapper to balance on the observed labels, which is what a user of partial
    labels has. (mmengine's own wrappers take only an mmengine ``BaseDataset``,
    so they can only go inside this one.)

    A ``gt_label_difficult`` of the wrapped dataset (VOC's labels seen only on
    difficult objects) is dropped: it names positives, hidden ones included.

    **Training split only**: validation and test sets keep their full labels
    (use the plain dataset there), as in the papers.

    Args:
        dataset (BaseDataset | dict): A multi-label dataset (``get_cat_ids``
            giving an image's positives, ``get_data_info``, ``'classes'`` in its
            metainfo, a ``pipeline``), or its config.
        keep_ratio (float, optional): Fraction of the positive labels kept, in
            (0, 1].
        single_positive (bool): Keep one positive per image. Defaults to False.
        unobserved (str): ``'unknown'`` (-1, default) or ``'negative'`` (0).
        seed (int): Seed of the hiding. Defaults to 0.
        lazy_init (bool): Defer the hiding to the first access. Defaults to False.

    Attributes:
        metainfo (dict): The wrapped dataset's, with ``unknown_labels`` (True
            with ``unobserved='unknown'``: the targets hold -1 cells, which batch
            augments such as Mixup must not mix) and ``partial_labels`` (the
            protocol's settings).
        hidden_summary (HidingSummary): Kept and total positive labels per class
            (numpy arrays), counted over the images of the original data.

    Examples:
        In a config (the training split only; val / test keep full labels):

        >>> train_dataloader = dict(dataset=dict(
        ...     type='PartialLabelDataset', single_positive=True, unobserved='unknown', seed=0,
        ...     dataset=dict(type='LongTailedShapes', split='train')))

        In Python:

        >>> from mmml_ext.datasets import LongTailedShapes, PartialLabelDataset
        >>> full = LongTailedShapes(split='train')
        >>> train = PartialLabelDataset(full, keep_ratio=0.75)
        >>> summary = train.hidden_summary
        >>> summary.kept_labels, summary.total_labels  # round(0.75 * 1842), halves to even
        (1382, 1842)
        >>> full.get_cat_ids(0), train.get_cat_ids(0)  # positive 3 is hidden
        ([1, 2, 3, 11], [1, 2, 11])
        >>> train.get_data_info(0)['gt_score'][:4]  # the negative 0 is unknown too
        array([-1.,  1.,  1., -1.], dtype=float32)
        >>> train.metainfo['unknown_labels']
        True
    """

    def __init__(self, dataset: Union[BaseDataset, dict], keep_ratio: Optional[float] = None,
                 single_positive: bool = False, unobserved: str = 'unknown', seed: int = 0,
                 lazy_init: bool = False, **unexpected) -> None:
        refuse_unknown(self, unexpected)
        check_hiding_args(keep_ratio, single_positive, unobserved, seed)
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.keep_ratio = None if keep_ratio is None else float(keep_ratio)
        self.single_positive = bool(single_positive)
        self.unobserved = unobserved
        self.seed = int(seed)
        name = type(self.dataset).__name__
        # the labels are read under the resampling wrappers (mmengine's RepeatDataset has no
        # get_cat_ids), once per image of the original data
        data = original_dataset(self.dataset)
        if not hasattr(data, 'get_cat_ids'):
            name = type(data).__name__
            raise ValueError(f'PartialLabelDataset needs a dataset with labels: {name} has no '
                             'get_cat_ids() giving the positive labels of an image')
        metainfo = getattr(self.dataset, 'metainfo', None)
        if not isinstance(metainfo, dict) or metainfo.get('classes') is None or not len(
                metainfo['classes']):
            raise ValueError(f'PartialLabelDataset needs a dataset with labels: the metainfo of '
                             f'{name} has no "classes"')
        if not hasattr(self.dataset, 'get_data_info'):
            raise ValueError(f'PartialLabelDataset needs get_data_info() of the dataset, which '
                             f'{name} does not have')
        owner = _pipeline_owner(self.dataset)
        if owner is None:
            raise ValueError(f'PartialLabelDataset runs the pipeline of the dataset it wraps on '
                             f'the hidden labels, and {name} has none (a ConcatDataset: wrap '
                             'each of its datasets instead)')
        if getattr(owner, 'test_mode', False):
            print_log(f'PartialLabelDataset: the wrapped {type(owner).__name__} has '
                      'test_mode=True; hide labels of the training split only (validation and '
                      'test keep full labels)', logger='current', level=logging.WARNING)
        self.num_classes = len(metainfo['classes'])
        self._metainfo = copy.deepcopy(metainfo)
        self._metainfo['unknown_labels'] = unobserved == 'unknown'
        self._metainfo['partial_labels'] = dict(
            protocol='single_positive' if self.single_positive else 'keep_ratio',
            keep_ratio=self.keep_ratio, single_positive=self.single_positive,
            unobserved=unobserved, seed=self.seed)
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        """Draw the hiding once (idempotent)."""
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        data, index_map = _through_resampling(self.dataset)
        index = LabelIndex.of(data, self.num_classes)
        summary_name = type(data).__name__
        if index.labels.size == 0:
            raise ValueError(f'PartialLabelDataset needs a dataset with labels: no image of '
                             f'{summary_name} has a positive label')
        keep = hide_positives(index.offsets, self.keep_ratio, self.single_positive, self.seed)
        offsets, labels = select(index.offsets, index.labels, keep)
        self._summary = HidingSummary.count(index.offsets, index.labels, keep, self.num_classes)
        if index_map is not None:  # one row per index of the wrapped dataset
            offsets, labels = take_rows(offsets, labels, index_map)
        self._kept_offsets, self._kept_labels = offsets, labels
        # samplers and wrappers around this one read the kept labels without a pass
        setattr(self, _CACHE_ATTR, LabelIndex(offsets, labels, self.num_classes))
        self._fully_initialized = True
        self._log()

    def _log(self) -> None:
        summary = self._summary
        protocol = ('one positive per image (single_positive)' if self.single_positive else
                    f'keep_ratio={self.keep_ratio:g}')
        cells = ('unknown (-1, no loss)' if self.unobserved == 'unknown' else
                 'negatives (0)')
        print_log(f'PartialLabelDataset: {protocol}, seed {self.seed}: kept '
                  f'{summary.kept_labels} of {summary.total_labels} positive labels '
                  f'({100 * summary.ratio:.1f} %) over {summary.num_images} images '
                  f'({summary.images_with_positives} with a positive); the other cells are '
                  f'{cells}', logger='current')
        if self.keep_ratio is not None and summary.kept_labels > round(
                self.keep_ratio * summary.total_labels):
            print_log(f'PartialLabelDataset: keep_ratio={self.keep_ratio:g} would keep fewer '
                      f'positive labels than the {summary.images_with_positives} images that have '
                      f'one; one per image is kept, a ratio of {summary.ratio:.4f}',
                      logger='current', level=logging.WARNING)

    @property
    def hidden_summary(self) -> HidingSummary:
        """Kept / total positive labels per class (read-only numpy arrays) and image counts."""
        self.full_init()
        return self._summary

    def _index(self, idx: int) -> int:
        """``idx`` as a non-negative index (a negative one counts from the end)."""
        self.full_init()
        if not -len(self) <= idx < len(self):
            raise IndexError(f'index {idx} out of range for {len(self)} images')
        return int(idx) % len(self)

    def _kept(self, idx: int) -> np.ndarray:
        idx = self._index(idx)
        return self._kept_labels[self._kept_offsets[idx]:self._kept_offsets[idx + 1]]

    def get_cat_ids(self, idx: int) -> list:
        """The kept positive labels of image ``idx``."""
        return self._kept(idx).tolist()

    def get_data_info(self, idx: int) -> dict:
        """The wrapped dataset's info with ``gt_label`` the kept positives (int64), and
        ``gt_score`` set (``'unknown'``: 1 at them, -1 elsewhere) or removed (``'negative'``);
        a ``gt_label_difficult`` is removed (it would name hidden positives)."""
        idx = self._index(idx)
        kept = self._kept(idx)
        info = dict(self.dataset.get_data_info(idx))
        info['gt_label'] = kept.astype(np.int64)
        info.pop('gt_label_difficult', None)
        if self.unobserved == 'unknown':
            info['gt_score'] = observed_targets(kept, self.num_classes, 'unknown')
        else:
            info.pop('gt_score', None)
        return info

    def __getitem__(self, idx: int):
        """The wrapped dataset's pipeline on :meth:`get_data_info` (another image when the
        pipeline returns None in training, as mmengine's ``BaseDataset``)."""
        owner = _pipeline_owner(self.dataset)
        test_mode = getattr(owner, 'test_mode', False)
        tries = getattr(owner, 'max_refetch', 1000)
        for _ in range(tries + 1):
            data = owner.pipeline(self.get_data_info(idx))
            if data is not None:
                return data
            if test_mode:
                raise RuntimeError(f'the pipeline returned None for image {idx} in test mode')
            idx = int(np.random.randint(0, len(self)))
        raise RuntimeError(f'PartialLabelDataset: no valid image after {tries} re-fetches; '
                           'check the image paths and the pipeline')

    def __len__(self) -> int:
        self.full_init()
        return len(self._kept_offsets) - 1
