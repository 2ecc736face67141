"""Class counts for the modules that need the training-set class frequencies.

Class-balanced and distribution-balanced losses, and the prior initialisation of
the head, need how many training images show each class (and how many images
there are). They take them from the config (``class_counts=`` a list, or a
``class_counts.json``; ``num_images=``) or, with no manual step, from
``RunFactsHook``, which gives the statistics of the Runner's training set
before the weights are initialised through :meth:`NeedsClassCounts.provide_class_stats`.
The statistics themselves are owned by :mod:`mmml_ext.run_facts.class_stats`.
"""
from typing import List, Optional, Sequence, Union

from ...run_facts import class_stats
from ...run_facts.class_stats import ClassStats


class NeedsClassCounts:
    """Mixin: holds ``class_counts`` and ``num_images``, from the config or the run."""

    def init_class_counts(self, class_counts: Union[str, Sequence[int], None],
                          num_images: Optional[int] = None) -> None:
        self.class_counts: Optional[List[int]] = None
        self.num_images = None if num_images is None else int(num_images)
        if class_counts is not None:
            stats = class_stats.load(class_counts)
            self.class_counts = list(stats.class_counts)
            if self.num_images is None:
                self.num_images = stats.num_images

    def needs_class_counts(self) -> bool:
        """Whether this module will use the counts (the head only with ``prior='counts'``)."""
        return True

    def lacks_class_stats(self) -> bool:
        """Whether the config left anything for the run to provide."""
        return self.needs_class_counts() and (self.class_counts is None or self.num_images is None)

    def provide_class_stats(self, stats: ClassStats) -> None:
        """Fill what the config did not give from the run's statistics (``RunFactsHook``)."""
        if self.class_counts is None:
            self.class_counts = list(stats.class_counts)
        if self.num_images is None:
            self.num_images = stats.num_images
        self.on_class_counts()

    def on_class_counts(self) -> None:
        """Called after the counts change; subclasses rebuild what depends on them."""

    def require_class_counts(self, num_classes: int, need_num_images: bool = False) -> List[int]:
        """The counts, or a ValueError that says which config key gives them."""
        name = type(self).__name__
        if self.class_counts is None:
            raise ValueError(
                f'{name} needs the training class counts: set `class_counts=` in its config (a '
                'list, or a class_counts.json), or add '
                "`dict(type='RunFactsHook')` to `custom_hooks` to count the training set")
        if len(self.class_counts) != num_classes:
            raise ValueError(f'{name}: class_counts has {len(self.class_counts)} entries for '
                             f'{num_classes} classes')
        if need_num_images and self.num_images is None:
            raise ValueError(f'{name} needs the number of training images: set `num_images=` '
                             "in its config, or add `dict(type='RunFactsHook')` to "
                             '`custom_hooks`')
        return self.class_counts
