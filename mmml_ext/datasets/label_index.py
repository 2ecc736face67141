"""A compact index of every image's labels, built in one pass over a dataset.

Resampling wrappers and samplers, class-balanced losses and frequency-group
metrics all need the same thing: which classes each image has, and which
images each class has. ``LabelIndex`` reads ``get_cat_ids`` once per image and
keeps the answer as CSR-style numpy arrays (offsets + class ids), a few bytes a
label, instead of Python lists that every dataloader worker would copy.
``LabelIndex.of(dataset)`` caches the index on the dataset, so every consumer
shares one pass.
"""
from array import array
from typing import Optional

import numpy as np

_CACHE_ATTR = '_mmml_label_index'


class LabelIndex:
    """Labels of N images as CSR arrays.

    Attributes:
        offsets (np.ndarray): (N + 1,) int64; image i's labels are
            ``labels[offsets[i]:offsets[i + 1]]``.
        labels (np.ndarray): Sorted, de-duplicated class ids per image, int64.
        num_classes (int): Number of classes.
    """

    def __init__(self, offsets: np.ndarray, labels: np.ndarray, num_classes: int) -> None:
        self.offsets, self.labels, self.num_classes = offsets, labels, num_classes
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            bad = int(labels.max()) if labels.max() >= num_classes else int(labels.min())
            image = int(np.searchsorted(offsets, np.flatnonzero(labels == bad)[0], side='right') - 1)
            raise ValueError(f'image {image} has label {bad}, outside [0, {num_classes})')

    @classmethod
    def build(cls, dataset, num_classes: Optional[int] = None) -> 'LabelIndex':
        """Read ``dataset.get_cat_ids(i)`` once for every image."""
        if not hasattr(dataset, 'get_cat_ids'):
            raise TypeError(f'{type(dataset).__name__} has no get_cat_ids(); its labels cannot '
                            'be indexed')
        if num_classes is None:
            classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
            if classes is None:
                raise ValueError('give num_classes: the dataset metainfo has no "classes"')
            num_classes = len(classes)
        # one pass, streamed into compact int64 buffers (no per-image objects kept)
        flat, lengths = array('q'), array('q')
        for i in range(len(dataset)):
            ids = dataset.get_cat_ids(i)
            if not isinstance(ids, list):
                ids = np.asarray(ids, dtype=np.int64).reshape(-1).tolist()
            flat.extend(ids)
            lengths.append(len(ids))
        flat_np = np.frombuffer(flat, dtype=np.int64) if flat else np.zeros(0, dtype=np.int64)
        images = np.repeat(np.arange(len(lengths), dtype=np.int64),
                           np.frombuffer(lengths, dtype=np.int64) if lengths else 0)
        bad = (flat_np < 0) | (flat_np >= num_classes)
        if bad.any():
            where = int(np.flatnonzero(bad)[0])
            raise ValueError(f'image {int(images[where])} has label {int(flat_np[where])}, '
                             f'outside [0, {num_classes})')
        # sort and de-duplicate each image's labels at once: unique (image, class) keys
        keys = np.unique(images * num_classes + flat_np)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys // num_classes, minlength=len(lengths)), out=offsets[1:])
        return cls(offsets, keys % num_classes, num_classes)

    @classmethod
    def of(cls, dataset, num_classes: Optional[int] = None) -> 'LabelIndex':
        """The dataset's index, built on first use and kept on the dataset."""
        index = getattr(dataset, _CACHE_ATTR, None)
        if index is None or len(index) != len(dataset):
            index = cls.build(dataset, num_classes)
            try:
                setattr(dataset, _CACHE_ATTR, index)
            except AttributeError:  # a dataset that takes no attributes: not cached
                pass
        return index

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def labels_per_image(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def image_of_label(self) -> np.ndarray:
        """For each entry of ``labels``, the image it belongs to."""
        return np.repeat(np.arange(len(self)), self.labels_per_image)

    def class_counts(self) -> np.ndarray:
        """Images per class, (C,) int64."""
        return np.bincount(self.labels, minlength=self.num_classes)

    def reduce_per_image(self, class_values: np.ndarray, how: str, empty: float) -> np.ndarray:
        """``how`` ('max', 'mean' or 'min') of ``class_values`` over each image's labels.

        Images without a label get ``empty``.
        """
        values = np.asarray(class_values, dtype=np.float64)[self.labels]
        counts = self.labels_per_image
        out = np.full(len(self), float(empty))
        has = counts > 0
        if not has.any():
            return out
        starts = self.offsets[:-1][has]
        if how == 'max':
            out[has] = np.maximum.reduceat(values, starts)
        elif how == 'min':
            out[has] = np.minimum.reduceat(values, starts)
        elif how == 'mean':
            out[has] = np.add.reduceat(values, starts) / counts[has]
        else:
            raise ValueError(f"how must be 'max', 'mean' or 'min', got {how!r}")
        return out

    def images_by_class(self):
        """(class offsets (C + 1,), image ids grouped by class): the transposed index."""
        order = np.argsort(self.labels, kind='stable')
        offsets = np.zeros(self.num_classes + 1, dtype=np.int64)
        np.cumsum(self.class_counts(), out=offsets[1:])
        return offsets, self.image_of_label[order]
