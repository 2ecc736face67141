"""Which positive labels stay observed under the published partial-label protocols (pure numpy).

Labels are given as CSR arrays, as :class:`~mmml_ext.datasets.label_index.LabelIndex`
keeps them: image ``i``'s positive class ids are ``labels[offsets[i]:offsets[i + 1]]``.
:func:`hide_positives` returns a boolean mask over those flat labels, True where a
positive stays observed; everything here is vectorised over all labels (random
keys, one ``lexsort``, segment starts), with no Python loop per image, and needs
neither mmengine nor torch. :class:`~mmml_ext.datasets.partial_labels.PartialLabelDataset`
is the dataset wrapper built on it.

Protocols:

- ``single_positive=True`` (Cole et al., "Multi-Label Learning from Single
  Positive Labels", CVPR 2021): one positive per image, chosen uniformly among
  its positives; an image without positives keeps none.
- ``keep_ratio=r`` (the partial-label splits of Zhang et al., arXiv 2112.07368,
  e.g. COCO with 75 % or 40 % of the labels): ``round(r * P)`` of the P positive
  labels are kept (Python's ``round``, halves to even), at least one per image
  with positives: first one positive per image, chosen uniformly, then the rest
  of the quota drawn uniformly from the remaining positives. A quota below the
  number of images with positives keeps exactly one per image.

Examples:
    >>> import numpy as np
    >>> offsets = np.array([0, 3, 3, 5])        # image 0: 3 labels, 1: none, 2: 2
    >>> keep = hide_positives(offsets, single_positive=True, seed=0)
    >>> np.add.reduceat(keep, [0, 3]).tolist()  # one kept label per image with labels
    [1, 1]
    >>> int(hide_positives(offsets, keep_ratio=0.6, seed=0).sum())  # round(0.6 * 5)
    3
    >>> keep_quota(num_labels=5, images_with_labels=2, keep_ratio=0.2)  # 1 < 2 images
    2
"""
import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Optional, Tuple

import numpy as np

UNOBSERVED = ('unknown', 'negative')


def check_hiding_args(keep_ratio: Optional[float], single_positive: bool,
                      unobserved: str = 'unknown', seed: int = 0) -> None:
    """Raise a ValueError naming the first bad argument of a hiding protocol.

    Args:
        keep_ratio (float, optional): Fraction of positive labels kept, in (0, 1].
        single_positive (bool): Keep one positive per image.
        unobserved (str): ``'unknown'`` or ``'negative'``.
        seed (int): Seed of the draw, a non-negative int.

    Raises:
        ValueError: neither or both of ``keep_ratio`` and ``single_positive``,
            ``keep_ratio`` not a number in (0, 1], ``single_positive`` not a
            bool, ``unobserved`` not one of :data:`UNOBSERVED`, ``seed`` not a
            non-negative int.
    """
    if not isinstance(single_positive, (bool, np.bool_)):
        raise ValueError(f'single_positive must be True or False, got {single_positive!r}')
    if keep_ratio is None and not single_positive:
        raise ValueError('give exactly one of keep_ratio (a fraction of the positive labels '
                         'to keep) and single_positive=True (one positive per image); '
                         'neither was given')
    if keep_ratio is not None and single_positive:
        raise ValueError(f'give exactly one of keep_ratio and single_positive=True, not both '
                         f'(got keep_ratio={keep_ratio!r} and single_positive=True)')
    if keep_ratio is not None and (
            isinstance(keep_ratio, (bool, np.bool_)) or not isinstance(keep_ratio, Real)
            or not math.isfinite(keep_ratio) or not 0 < keep_ratio <= 1):
        raise ValueError(f'keep_ratio must be a number in (0, 1] (the fraction of positive '
                         f'labels kept), got {keep_ratio!r}')
    if not isinstance(unobserved, str) or unobserved not in UNOBSERVED:
        raise ValueError(f"unobserved must be 'unknown' (unobserved cells -1, ignored by the "
                         f"losses) or 'negative' (unobserved cells 0), got {unobserved!r}")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f'seed must be a non-negative int, got {seed!r}')


def keep_quota(num_labels: int, images_with_labels: int, keep_ratio: float) -> int:
    """Positive labels kept at ``keep_ratio``: ``round(keep_ratio * num_labels)``, at least
    one per image with labels (``images_with_labels``)."""
    return max(int(round(keep_ratio * num_labels)), int(images_with_labels))


def _checked_offsets(offsets) -> np.ndarray:
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1)
    if offsets.size == 0 or offsets[0] != 0 or (np.diff(offsets) < 0).any():
        raise ValueError('offsets must start at 0 and never decrease (CSR offsets of N + 1 '
                         'entries)')
    return offsets


def one_per_image(offsets, keys) -> np.ndarray:
    """Flat position of the smallest key of every image that has labels, in image order.

    With uniform random keys this picks one label per image uniformly.

    Args:
        offsets (np.ndarray): (N + 1,) CSR offsets.
        keys (np.ndarray): (P,) one key per flat label.

    Returns:
        np.ndarray: int64 positions, one per image with at least one label.
    """
    offsets = _checked_offsets(offsets)
    counts = np.diff(offsets)
    image = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    order = np.lexsort((np.asarray(keys), image))  # by image, then by key
    # sorting by image keeps every image's segment where it was: its start is its smallest key
    return order[offsets[:-1][counts > 0]].astype(np.int64)


def hide_positives(offsets, keep_ratio: Optional[float] = None, single_positive: bool = False,
                   seed: int = 0) -> np.ndarray:
    """Which positive labels stay observed: a boolean mask over the flat labels.

    Args:
        offsets (np.ndarray): (N + 1,) CSR offsets of the images' positive labels.
        keep_ratio (float, optional): Keep ``round(keep_ratio * P)`` of the P
            positives, at least one per image with positives.
        single_positive (bool): Keep one positive per image. Exactly one of
            ``keep_ratio`` and ``single_positive`` is given.
        seed (int): Seed of ``numpy.random.default_rng``; the same seed gives
            the same mask.

    Returns:
        np.ndarray: (P,) bool, True at the kept positives.

    Examples:
        >>> hide_positives([0, 2, 4], single_positive=True, seed=3).reshape(2, 2).sum(1).tolist()
        [1, 1]
    """
    check_hiding_args(keep_ratio, single_positive, seed=seed)
    offsets = _checked_offsets(offsets)
    num_labels = int(offsets[-1])
    keep = np.zeros(num_labels, dtype=bool)
    if num_labels == 0:
        return keep
    rng = np.random.default_rng(seed)
    first = one_per_image(offsets, rng.random(num_labels))
    keep[first] = True
    if single_positive:
        return keep
    extra = keep_quota(num_labels, len(first), keep_ratio) - len(first)
    if extra > 0:  # the rest of the quota: a uniform subset of the other positives
        rest = np.flatnonzero(~keep)
        keep[rng.choice(rest, size=extra, replace=False, shuffle=False)] = True
    return keep


def select(offsets, values, mask) -> Tuple[np.ndarray, np.ndarray]:
    """The CSR arrays of the entries where ``mask`` is True (same rows)."""
    offsets = _checked_offsets(offsets)
    mask = np.asarray(mask, dtype=bool).reshape(-1)
    values = np.asarray(values)
    if len(mask) != offsets[-1] or len(values) != offsets[-1]:
        raise ValueError(f'mask ({len(mask)}) and values ({len(values)}) must have one entry '
                         f'per label of the offsets ({int(offsets[-1])})')
    kept_before = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
    return kept_before[offsets], values[mask]


def take_rows(offsets, values, rows) -> Tuple[np.ndarray, np.ndarray]:
    """The CSR arrays of rows ``rows`` (in that order, repeats allowed)."""
    offsets = _checked_offsets(offsets)
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    counts = np.diff(offsets)[rows]
    new_offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(counts, out=new_offsets[1:])
    shift = np.repeat(offsets[:-1][rows] - new_offsets[:-1], counts)
    return new_offsets, np.asarray(values)[np.arange(new_offsets[-1], dtype=np.int64) + shift]


def observed_targets(kept, num_classes: int, unobserved: str = 'unknown') -> np.ndarray:
    """One image's (C,) float32 targets: 1 at the kept positives, -1 (``'unknown'``) or 0
    (``'negative'``) everywhere else.

    Examples:
        >>> observed_targets([2], 4).tolist()
        [-1.0, -1.0, 1.0, -1.0]
    """
    if unobserved not in UNOBSERVED:
        raise ValueError(f"unobserved must be one of {UNOBSERVED}, got {unobserved!r}")
    target = np.full(num_classes, -1.0 if unobserved == 'unknown' else 0.0, dtype=np.float32)
    target[np.asarray(kept, dtype=np.int64)] = 1.0
    return target


@dataclass(frozen=True)
class HidingSummary:
    """What a hiding kept, counted over the images of the original data.

    Attributes:
        kept (np.ndarray): (C,) int64, kept positive labels per class (read-only).
        total (np.ndarray): (C,) int64, positive labels per class before hiding
            (read-only).
        num_images (int): Images.
        images_with_positives (int): Images with at least one positive label.
    """
    kept: np.ndarray
    total: np.ndarray
    num_images: int
    images_with_positives: int

    @classmethod
    def count(cls, offsets, labels, keep, num_classes: int) -> 'HidingSummary':
        """Count a hiding ``keep`` of the CSR labels ``(offsets, labels)``."""
        offsets = _checked_offsets(offsets)
        labels = np.asarray(labels, dtype=np.int64)
        kept = np.bincount(labels[np.asarray(keep, dtype=bool)], minlength=num_classes)
        total = np.bincount(labels, minlength=num_classes)
        for array in (kept, total):
            array.setflags(write=False)
        return cls(kept, total, len(offsets) - 1, int((np.diff(offsets) > 0).sum()))

    @property
    def kept_labels(self) -> int:
        return int(self.kept.sum())

    @property
    def total_labels(self) -> int:
        return int(self.total.sum())

    @property
    def ratio(self) -> float:
        """Kept positive labels over all positive labels (0 when there are none)."""
        return self.kept_labels / self.total_labels if self.total_labels else 0.0
