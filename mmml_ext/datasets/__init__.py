"""Datasets: the built-in long-tailed demo dataset, and class counting."""
from .class_counts import count_class_images
from .long_tailed_shapes import LongTailedShapes
from .shape_rendering import CLASS_NAMES

__all__ = ['LongTailedShapes', 'CLASS_NAMES', 'count_class_images']
