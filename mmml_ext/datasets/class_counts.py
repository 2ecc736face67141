"""Count the training images of each class, for class-frequency-aware metrics and losses."""
import json
from typing import List, Optional, Sequence, Union

from .label_index import LabelIndex


def count_class_images(dataset, num_classes: Optional[int] = None) -> List[int]:
    """Images per class of a dataset with ``get_cat_ids`` (one pass, shared).

    Args:
        dataset: An mmpretrain-style dataset: ``len(dataset)`` and
            ``dataset.get_cat_ids(i)``.
        num_classes (int, optional): Defaults to ``len(dataset.metainfo['classes'])``.

    Returns:
        list[int]: The number of images that have each class (an image with a
        class twice counts once).
    """
    return LabelIndex.of(dataset, num_classes).class_counts().tolist()


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
