"""Datasets: the built-in long-tailed demo dataset."""
from .long_tailed_shapes import LongTailedShapes
from .shape_rendering import CLASS_NAMES

__all__ = ['LongTailedShapes', 'CLASS_NAMES']
