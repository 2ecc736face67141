"""The training set's class statistics: images per class and number of images.

Class-balanced and distribution-balanced losses, the prior bias of the head and
head / medium / tail mAP all need them. This module is their one owner:

- :func:`compute` counts them from the dataset a run trains on, looking through
  resampling wrappers (``MultiLabelBalancedDataset``, mmengine's
  ``ClassBalancedDataset`` and ``RepeatDataset``) to the original data, so
  repeated images are not counted twice;
- :func:`write` / :func:`read` keep them in ``<work_dir>/class_counts.json``
  (:data:`FILE_NAME`, :func:`path_in`);
- :func:`to_checkpoint` / :func:`from_checkpoint` keep them in a checkpoint's
  meta, so a test run knows the training statistics of the checkpoint it tests;
- :func:`load` reads what a config gives (``class_counts=[...]`` or a file).

The file::

    {"classes": ["cat", "dog", ...], "class_counts": [400, 12, ...], "num_images": 800}
"""
import os.path as osp
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

from ..datasets.balanced_dataset import original_dataset
from ..datasets.label_index import LabelIndex
from . import checkpoint_meta
from .json_file import read_json, write_json

#: The file in the work dir.
FILE_NAME = 'class_counts.json'
#: The name of the fact in a checkpoint's meta.
META_NAME = 'class_stats'

ClassCountsSource = Union[str, Sequence[int]]


@dataclass(frozen=True)
class ClassStats:
    """Training images per class, and the number of training images.

    Attributes:
        class_counts (tuple[int]): Images that show each class (an image with
            a class twice counts once).
        num_images (int, optional): Number of training images; None when only
            the counts were given.
        classes (tuple[str]): Class names, or empty when unknown.
    """
    class_counts: Tuple[int, ...]
    num_images: Optional[int] = None
    classes: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        counts = tuple(int(n) for n in self.class_counts)
        if not counts or any(n < 0 for n in counts):
            raise ValueError(f'class counts must be a non-empty list of numbers >= 0, got '
                             f'{list(self.class_counts)}')
        if self.num_images is not None and int(self.num_images) < max(counts):
            raise ValueError(f'num_images={self.num_images} is smaller than the largest class '
                             f'count {max(counts)}')
        if self.classes and len(self.classes) != len(counts):
            raise ValueError(f'{len(self.classes)} class names for {len(counts)} class counts')
        object.__setattr__(self, 'class_counts', counts)
        object.__setattr__(self, 'classes', tuple(str(c) for c in self.classes))
        if self.num_images is not None:
            object.__setattr__(self, 'num_images', int(self.num_images))

    @property
    def num_classes(self) -> int:
        return len(self.class_counts)

    def check_num_classes(self, num_classes: int, user: str) -> None:
        """Raise a ValueError naming ``user`` when the counts are for another number of classes."""
        if self.num_classes != num_classes:
            raise ValueError(f'{user}: the training class counts have {self.num_classes} '
                             f'entries for {num_classes} classes')

    def check_classes(self, classes: Sequence[str], user: str) -> None:
        """Raise a ValueError naming ``user`` when ``classes`` are not the training set's,
        in the same order (a split of the same run with other or reordered columns)."""
        check_same_classes(self.classes, classes, user)

    def to_dict(self) -> dict:
        return dict(classes=list(self.classes), class_counts=list(self.class_counts),
                    num_images=self.num_images)

    @classmethod
    def from_dict(cls, data, source: str) -> 'ClassStats':
        """Statistics from a dict of :meth:`to_dict` (or a plain list of counts)."""
        if isinstance(data, (list, tuple)):
            return cls(tuple(data))
        if not isinstance(data, dict) or 'class_counts' not in data:
            raise ValueError(f'{source} holds no class statistics: it needs "class_counts" (as '
                             'tools/class_counts.py and training runs write)')
        try:
            return cls(tuple(data['class_counts']), data.get('num_images'),
                       tuple(data.get('classes') or ()))
        except (TypeError, ValueError) as error:
            raise ValueError(f'{source}: {error}') from error


def compute(dataset) -> ClassStats:
    """Count the statistics of a training dataset, through resampling wrappers.

    Args:
        dataset: An mmpretrain-style dataset (``get_cat_ids``, ``metainfo``),
            possibly wrapped by a resampling wrapper.

    Returns:
        ClassStats: The original data's counts (one pass, shared with the
        samplers and wrappers through :class:`LabelIndex`).
    """
    data = original_dataset(dataset)
    classes = tuple((getattr(data, 'metainfo', None) or {}).get('classes') or ())
    index = LabelIndex.of(data, len(classes) or None)
    return ClassStats(tuple(index.class_counts().tolist()), len(index), classes)


def path_in(work_dir: str) -> str:
    """``<work_dir>/class_counts.json``."""
    return osp.join(work_dir, FILE_NAME)


def write(stats: ClassStats, work_dir: str) -> str:
    """Write ``stats`` to :func:`path_in` ``(work_dir)``; returns the path."""
    return write_json(path_in(work_dir), stats.to_dict())


def read(path: str) -> ClassStats:
    """Read a file written by :func:`write` (or a JSON list of counts)."""
    data = read_json(path, f'training runs write <work_dir>/{FILE_NAME}, and so does '
                     'tools/class_counts.py')
    return ClassStats.from_dict(data, path)


def load(source: ClassCountsSource) -> ClassStats:
    """What a config gives as ``class_counts``: a list of counts, or a file to :func:`read`."""
    if isinstance(source, str):
        return read(source)
    if isinstance(source, dict) or not hasattr(source, '__len__'):
        raise ValueError('class_counts must be a list of training images per class or the path '
                         f'of a {FILE_NAME} file, got {source!r}')
    return ClassStats(tuple(source))


def check_same_classes(train: Sequence[str], classes: Sequence[str], user: str) -> None:
    """Raise a ValueError naming ``user`` when ``classes`` are not ``train`` (the training
    set's classes), in the same order; nothing to check when either is empty."""
    classes, train = tuple(str(c) for c in classes), tuple(str(c) for c in train)
    if not train or not classes or classes == train:
        return
    if len(classes) != len(train):
        difference = f'{user} has {len(classes)} classes, the training set {len(train)}'
    else:
        i = next(i for i, (a, b) in enumerate(zip(classes, train)) if a != b)
        difference = f'class {i} is {classes[i]!r} in {user} and {train[i]!r} in training'
    unknown = sorted(set(classes) - set(train))
    order = ' (the same names in another order)' if set(classes) == set(train) else (
        f'; names the training set lacks: {unknown[:5]}' if unknown else '')
    raise ValueError(f'the classes of {user} are not the training set\'s{order}: '
                     f'{difference}. Every split of a run needs the same classes in the '
                     'same order: give each dataset the same classes= (a CSV table\'s '
                     'columns are then mapped by name)')


def to_checkpoint(checkpoint: dict, stats: ClassStats) -> None:
    """Store ``stats`` in ``checkpoint['meta']``."""
    checkpoint_meta.put_fact(checkpoint, META_NAME, stats.to_dict())


def from_checkpoint(checkpoint: dict) -> Optional[ClassStats]:
    """The statistics stored in a checkpoint, or None."""
    data = checkpoint_meta.get_fact(checkpoint, META_NAME)
    return None if data is None else ClassStats.from_dict(data, 'the checkpoint meta')
