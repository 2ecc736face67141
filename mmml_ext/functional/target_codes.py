"""The codes of a target cell, in one place: every package reads them from here.

A target cell is 1 (positive), 0 (negative: annotated as absent) or -1 (unknown:
not annotated, left out of every loss and metric). The evaluation keeps one more
code, :data:`DIFFICULT`, for a label seen only on difficult objects (VOC's
``gt_label_difficult``): each metric reads it as ignored, positive or negative by
its ``difficult_as``, and ``test_predictions.npz`` keeps it unread so that the
comparison can read it the same way. The rules are in docs/design.md, 'Target
codes'. This module imports nothing of the package, so any package may use it.
"""
from types import MappingProxyType

import numpy as np
import torch

#: An annotated positive.
POSITIVE = 1
#: An annotated negative.
NEGATIVE = 0
#: Not annotated: no loss, left out of the metrics.
UNKNOWN = -1
#: A label seen only on difficult objects (evaluation only), read by ``difficult_as``.
DIFFICULT = 2
#: The readings of :data:`DIFFICULT`, the first the default.
DIFFICULT_AS = ('ignore', 'positive', 'negative')
_DIFFICULT_VALUE = MappingProxyType(dict(ignore=UNKNOWN, positive=POSITIVE, negative=NEGATIVE))


def difficult_value(difficult_as: str) -> int:
    """The target code a label seen only on difficult objects takes under ``difficult_as``.

    Raises:
        ValueError: ``difficult_as`` is not one of :data:`DIFFICULT_AS`.
    """
    if difficult_as not in DIFFICULT_AS:
        raise ValueError(f'difficult_as must be one of {DIFFICULT_AS}, got {difficult_as!r}')
    return _DIFFICULT_VALUE[difficult_as]


def read_difficult(codes, difficult_as: str):
    """Target codes (a tensor or an array) with :data:`DIFFICULT` read by ``difficult_as``.

    Returns ``codes`` itself when it holds no :data:`DIFFICULT`, else a copy of the
    same type and dtype with 1 / 0 / -1 only.

    Examples:
        >>> import numpy as np
        >>> read_difficult(np.array([1, 2, 0], dtype=np.int8), 'positive').tolist()
        [1, 1, 0]
    """
    value = difficult_value(difficult_as)
    difficult = codes == DIFFICULT
    if not difficult.any():
        return codes
    if isinstance(codes, torch.Tensor):
        return codes.masked_fill(difficult, value)
    return np.where(difficult, np.asarray(value, dtype=codes.dtype), codes)
