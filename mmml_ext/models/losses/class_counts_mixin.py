"""Class counts for the modules that need the training-set class frequencies.

Class-balanced and distribution-balanced losses, and the prior initialisation of
the head, need how many training images show each class. They take them from
the config (``class_counts=`` a list, or a JSON file from
``tools/class_counts.py``) or, with no manual step, from ``ClassCountsHook``,
which counts the training dataset before the first iteration and calls
:meth:`NeedsClassCounts.set_class_counts`.
"""
import json
from typing import List, Optional, Sequence, Union

from ...datasets.class_counts import load_class_counts


class NeedsClassCounts:
    """Mixin: holds ``class_counts`` and ``num_images``, set by config or hook."""

    def init_class_counts(self, class_counts: Union[str, Sequence[int], None],
                          num_images: Optional[int] = None) -> None:
        self.class_counts: Optional[List[int]] = None
        self.num_images = num_images
        if isinstance(class_counts, str) and num_images is None:
            with open(class_counts) as f:
                data = json.load(f)
            if isinstance(data, dict):
                self.num_images = data.get('num_images')
        if class_counts is not None:
            self.class_counts = load_class_counts(class_counts)

    def set_class_counts(self, class_counts: Sequence[int], num_images: Optional[int] = None) -> None:
        """Give the training class counts (called by ``ClassCountsHook``)."""
        self.class_counts = [int(n) for n in class_counts]
        if num_images is not None:
            self.num_images = int(num_images)
        self.on_class_counts()

    def needs_class_counts(self) -> bool:
        """Whether this module will use the counts (the head only with ``prior='counts'``)."""
        return True

    def on_class_counts(self) -> None:
        """Called after the counts change; subclasses rebuild what depends on them."""

    def require_class_counts(self, num_classes: int, need_num_images: bool = False) -> List[int]:
        """The counts, or a ValueError that says which config key gives them."""
        name = type(self).__name__
        if self.class_counts is None:
            raise ValueError(
                f'{name} needs the training class counts: set `class_counts=` in its config (a '
                'list, or the JSON file that tools/class_counts.py writes), or add '
                "`dict(type='ClassCountsHook')` to `custom_hooks` to count the training set")
        if len(self.class_counts) != num_classes:
            raise ValueError(f'{name}: class_counts has {len(self.class_counts)} entries for '
                             f'{num_classes} classes')
        if need_num_images and self.num_images is None:
            raise ValueError(f'{name} needs the number of training images: set `num_images=` '
                             "in its config, or add `dict(type='ClassCountsHook')` to "
                             '`custom_hooks`')
        return self.class_counts
