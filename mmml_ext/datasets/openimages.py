"""OpenImages image-level labels as a multi-label dataset, read from the official files.

OpenImages annotates each image with human-verified labels of two kinds:
positives (present) and verified negatives (absent); every other class of the
image was never looked at, which is "unknown", not "negative" (docs/design.md,
'Target codes').
A list of dicts with a 9,605-long target per image would take gigabytes for the
training split, and mmpretrain's ``MultiLabelDataset`` has no unknown cell.
:class:`OpenImagesMultiLabel` keeps the verified cells as CSR arrays
(:mod:`mmml_ext.datasets.openimages_files` parses the files) and builds each
sample on demand, with ``gt_score`` 1 / 0 / -1 that the plugin's losses and
metrics read. See docs/datasets.md.
"""
import copy
import os
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset.base_dataset import force_full_init
from mmengine.fileio import join_path
from mmengine.logging import print_log
from mmengine.utils import is_abs
from mmpretrain.datasets import BaseDataset
from mmpretrain.datasets.base_dataset import expanduser
from mmpretrain.registry import DATASETS

from ..config_keys import refuse_unknown
from .label_index import _CACHE_ATTR, LabelIndex
from .openimages_files import ImageLabels, read_classes, read_image_labels


def _rooted(path: Optional[str], data_root: str) -> Optional[str]:
    """``path`` joined to ``data_root`` unless absolute (the rule of ``ann_file``)."""
    if path is None:
        return None
    path = expanduser(path)
    return join_path(data_root, path) if data_root and not is_abs(path) else path


def _positions(indices: Union[int, Sequence[int]], size: int) -> np.ndarray:
    """Rows chosen by mmengine's ``indices``: the first (last) n for an int n >= 0 (< 0),
    else the listed indices, negative ones from the end."""
    if isinstance(indices, (int, np.integer)):
        n = int(indices)
        return np.arange(min(n, size)) if n >= 0 else np.arange(max(size + n, 0), size)
    positions = np.asarray(indices, dtype=np.int64).reshape(-1)
    if positions.size and (positions.min() < -size or positions.max() >= size):
        raise IndexError(f'indices out of range for {size} images: {indices!r}')
    return np.where(positions < 0, positions + size, positions)


@DATASETS.register_module()
class OpenImagesMultiLabel(BaseDataset):
    """OpenImages image-level labels: positives, verified negatives and unknown cells.

    Reads the official files: ``ann_file``, a human-verified image-level
    labels CSV (``ImageID,Source,LabelName,Confidence``, Confidence 1 =
    present, 0 = verified absent); ``class_file``, the class descriptions
    (``LabelName,DisplayName``, with or without the V6 header); and
    optionally ``trainable_file``, one MID a line. The classes are the
    trainable ones in that file's order (else every described class, in the
    descriptions' order); a label row of a described class that is not
    trainable is skipped (counted in the log), as is customary for
    OpenImages, and an image left without a row is left out.

    Each sample has ``img_path`` (``<data_prefix>/<ImageID>.jpg``),
    ``image_id``, ``gt_label`` (the positive class indices, int64) and
    ``gt_score``, a (C,) float32 vector: 1 at the positives, 0 at the verified
    negatives, -1 (unknown) elsewhere. The -1 cells reach the plugin's losses,
    which give them no loss, and its metrics, which leave them out
    (docs/design.md, 'Target codes'). Images are in the order of their first row in ``ann_file``.

    The labels stay in CSR arrays (a few bytes a verified cell), and samples
    are built on demand: no list of dicts is made. ``get_cat_ids`` gives the
    positives, and the positives' :class:`~mmml_ext.datasets.LabelIndex` is
    made at load, so that samplers, resampling wrappers and class counts need
    no pass over the data.

    Every problem of the files is a ValueError naming the file and line; see
    :mod:`mmml_ext.datasets.openimages_files`. With ``check_images=True``,
    the image directory is listed once at load and an image missing from it
    is an error naming the first missing image, the line where it first
    appears in ``ann_file`` and the number missing.

    Args:
        ann_file (str): The image-level labels CSV, relative to ``data_root``
            unless absolute.
        class_file (str): The class descriptions CSV, relative to
            ``data_root`` unless absolute.
        trainable_file (str, optional): The trainable classes list, relative to
            ``data_root`` unless absolute. Defaults to None (every described
            class).
        data_root (str): Root of the files and the images. Defaults to ''.
        data_prefix (str | dict): The image directory, relative to
            ``data_root``. Defaults to ''.
        check_images (bool): Check at load that every image is in the image
            directory (local files). Defaults to True.
        pipeline (Sequence): The pipeline. Defaults to ().
        test_mode (bool): As mmpretrain's datasets. Defaults to False.
        metainfo (dict, optional): Extra meta information; ``classes``, if
            given, must be the files' classes.
        indices (int | Sequence[int], optional): Keep the first n images (an
            int) or the listed ones, as mmengine's datasets. Defaults to None.
        lazy_init (bool): Read the labels on first use. Defaults to False.
        max_refetch (int): As mmengine's datasets. Defaults to 1000.

    Attributes:
        metainfo (dict): ``classes`` (display names, in class order),
            ``mids`` (the classes' MIDs) and ``unknown_labels=True`` (the
            targets hold -1 cells, which batch augments such as Mixup must
            not mix).
        labels (ImageLabels): The CSR table, with the read's ``summary``.

    Examples:
        In a config (OpenImages V6, the 9,605 trainable classes):

        >>> train = dict(
        ...     type='OpenImagesMultiLabel', data_root='data/openimages',
        ...     ann_file='oidv6-train-annotations-human-imagelabels.csv',
        ...     class_file='oidv6-class-descriptions.csv',
        ...     trainable_file='oidv6-classes-trainable.txt', data_prefix='train',
        ...     pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])
        >>> test = dict(train, ann_file='test-annotations-human-imagelabels.csv',
        ...             data_prefix='test', test_mode=True)
    """

    def __init__(self,
                 ann_file: str,
                 class_file: str,
                 trainable_file: Optional[str] = None,
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 check_images: bool = True,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 metainfo: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 lazy_init: bool = False,
                 max_refetch: int = 1000,
                 **kwargs):
        refuse_unknown(self, kwargs)
        if not ann_file or not class_file:
            raise ValueError('OpenImagesMultiLabel needs ann_file (the image-level labels CSV) '
                             'and class_file (the class descriptions CSV)')
        self.class_file = _rooted(class_file, data_root)
        self.trainable_file = _rooted(trainable_file, data_root)
        self.class_list = read_classes(self.class_file, self.trainable_file)
        names = tuple(self.class_list.names)
        metainfo = dict(metainfo or {})
        given = metainfo.get('classes')
        if given is not None and tuple(given) != names:
            raise ValueError(f'OpenImagesMultiLabel: metainfo classes ({len(given)} names) are '
                             f'not the {len(names)} classes of {self.class_file}'
                             f'{" and " + self.trainable_file if self.trainable_file else ""}; '
                             'the classes come from the files (choose them with trainable_file)')
        metainfo.update(classes=names, mids=tuple(self.class_list.mids), unknown_labels=True)
        self.check_images = check_images
        self._labels: Optional[ImageLabels] = None
        super().__init__(ann_file=ann_file, metainfo=metainfo, data_root=data_root,
                         data_prefix=data_prefix, indices=indices, serialize_data=False,
                         pipeline=pipeline, test_mode=test_mode, lazy_init=lazy_init,
                         max_refetch=max_refetch)

    # ------------------------------------------------------------------ loading
    def full_init(self) -> None:
        """Read the labels CSV into CSR arrays and check the images (once)."""
        if self._fully_initialized:
            return
        labels = read_image_labels(self.ann_file, self.class_list)
        summary = labels.summary
        print_log(f'OpenImagesMultiLabel: {self.ann_file}: {len(labels)} images, '
                  f'{int(np.count_nonzero(labels.values == 1))} positive and '
                  f'{int(np.count_nonzero(labels.values == 0))} verified negative labels over '
                  f'{len(self.class_list)} classes; {summary.skipped_rows} of {summary.rows} rows '
                  f'skipped (classes not trainable), {summary.unlabelled_images} image(s) with no '
                  f'label of these classes left out, {summary.duplicate_rows} repeated row(s) '
                  'dropped',
                  logger='current')
        if self._indices is not None:
            labels = labels.select(_positions(self._indices, len(labels)))
        if self.check_images:
            self._check_images(labels)
        self._set_labels(labels)
        self._fully_initialized = True

    def load_data_list(self) -> List[dict]:
        """Not used: the samples are built on demand from CSR arrays (:meth:`get_data_info`)."""
        raise NotImplementedError('OpenImagesMultiLabel keeps its labels as CSR arrays and has '
                                  'no data list; use get_data_info(i)')

    def _set_labels(self, labels: ImageLabels) -> None:
        self._labels = labels
        offsets, positives = self._labels.positive_index()
        # samplers, wrappers and class counts read the positives without a pass
        setattr(self, _CACHE_ATTR, LabelIndex(offsets, positives, len(self.class_list)))

    def _check_images(self, labels: ImageLabels) -> None:
        """One listing of the image directory; the first missing image is an error."""
        folder = self.img_prefix or '.'
        as_bytes = labels.image_ids.dtype.kind == 'S'  # ASCII ImageIDs are kept as bytes
        try:
            with os.scandir(folder) as entries:
                present = {entry.name[:-4].encode() if as_bytes else entry.name[:-4]
                           for entry in entries if entry.name.endswith('.jpg')}
        except OSError as error:
            raise ValueError(f'OpenImagesMultiLabel: cannot list the image directory {folder!r} '
                             f'({error}); check data_root and data_prefix, or pass '
                             'check_images=False (images on remote storage)') from None
        found = np.fromiter(map(present.__contains__, labels.image_ids.tolist()), dtype=bool,
                            count=len(labels))
        if not found.all():
            first = int(np.argmin(found))
            missing = len(labels) - int(np.count_nonzero(found))
            raise ValueError(
                f'{self.ann_file}, line {int(labels.first_lines[first])}: image '
                f'{join_path(folder, labels.image_id(first) + ".jpg")!r} does not exist '
                f'({missing} of the {len(labels)} images of the file are missing from '
                f'{folder!r}); check data_root and data_prefix, or pass check_images=False')

    # ------------------------------------------------------------------ access
    @property
    def labels(self) -> ImageLabels:
        """The CSR table of the verified cells (read on first use)."""
        self.full_init()
        return self._labels

    def _index(self, idx: int) -> int:
        size = len(self)
        if not -size <= idx < size:
            raise IndexError(f'index {idx} out of range for {size} images')
        return int(idx) % size

    @force_full_init
    def __len__(self) -> int:
        return len(self._labels)

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """Image ``idx``: ``img_path``, ``image_id``, ``gt_label`` (positives, int64),
        ``gt_score`` ((C,) float32: 1 / 0 / -1) and ``sample_idx``."""
        idx = self._index(idx)
        labels = self._labels
        image_id = labels.image_id(idx)
        prefix = self.img_prefix
        return dict(img_path=join_path(prefix, f'{image_id}.jpg') if prefix else f'{image_id}.jpg',
                    image_id=image_id, gt_label=labels.positives(idx),
                    gt_score=labels.scores(idx), sample_idx=idx)

    @force_full_init
    def get_cat_ids(self, idx: int) -> List[int]:
        """The positive class indices of image ``idx`` (what samplers balance)."""
        index = getattr(self, _CACHE_ATTR)
        idx = self._index(idx)
        return index.labels[index.offsets[idx]:index.offsets[idx + 1]].tolist()

    @force_full_init
    def get_subset_(self, indices: Union[int, Sequence[int]]) -> None:
        """Keep the images ``indices`` (as mmengine's ``get_subset_``)."""
        self._set_labels(self._labels.select(_positions(indices, len(self))))

    @force_full_init
    def get_subset(self, indices: Union[int, Sequence[int]]) -> 'OpenImagesMultiLabel':
        """A copy with the images ``indices`` (as mmengine's ``get_subset``)."""
        subset = copy.copy(self)
        subset._metainfo = copy.deepcopy(self._metainfo)
        subset.pipeline = copy.deepcopy(self.pipeline)
        subset._set_labels(self._labels.select(_positions(indices, len(self))))
        return subset

    def extra_repr(self) -> List[str]:
        return [
            f'Annotation file: \t{self.ann_file}',
            f'Class file: \t{self.class_file}',
            f'Trainable classes: \t{self.trainable_file}',
            f'Prefix of images: \t{self.img_prefix}',
        ]
