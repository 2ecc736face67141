"""Count the training images of each class, for class-frequency-aware metrics and losses."""
import json
from typing import List, Optional, Sequence, Union

import numpy as np


def count_class_images(dataset, num_classes: Optional[int] = None) -> List[int]:
    """Images per class of a dataset with ``get_cat_ids`` (one pass over its labels).

    Args:
        dataset: An mmpretrain-style dataset: ``len(dataset)`` and
            ``dataset.get_cat_ids(i)``.
        num_classes (int, optional): Defaults to ``len(dataset.metainfo['classes'])``.

    Returns:
        list[int]: The number of images that have each class (an image with a
        class twice counts once).
    """
    if num_classes is None:
        classes = getattr(dataset, 'metainfo', {}).get('classes')
        if classes is None:
            raise ValueError('give num_classes: the dataset metainfo has no "classes"')
        num_classes = len(classes)
    if not hasattr(dataset, 'get_cat_ids'):
        raise TypeError(f'{type(dataset).__name__} has no get_cat_ids(); cannot count classes')
    labels = [np.unique(np.asarray(dataset.get_cat_ids(i), dtype=np.int64))
              for i in range(len(dataset))]
    flat = np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64)
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        raise ValueError(f'label index {int(flat.max()) if flat.max() >= num_classes else int(flat.min())} '
                         f'outside [0, {num_classes})')
    return np.bincount(flat, minlength=num_classes).tolist()


def load_class_counts(source: Union[str, Sequence[int]]) -> List[int]:
    """Class counts from a list, or from a JSON file (a list, or a dict holding
    ``class_counts`` or ``train_class_counts``)."""
    if isinstance(source, str):
        with open(source) as f:
            data = json.load(f)
        if isinstance(data, dict):
            key = next((k for k in ('class_counts', 'train_class_counts') if k in data), None)
            if key is None:
                raise ValueError(f'{source} has no "class_counts" list')
            data = data[key]
        source = data
    counts = [int(n) for n in source]
    if any(n < 0 for n in counts):
        raise ValueError(f'class counts must be >= 0, got {counts}')
    return counts
