"""Datasets: the built-in long-tailed demo dataset, COCO multi-label, and class counting."""
from .class_counts import count_class_images, load_class_counts
from .coco_multilabel import COCOMultiLabel
from .long_tailed_shapes import LongTailedShapes
from .shape_rendering import CLASS_NAMES

__all__ = [
    'LongTailedShapes', 'COCOMultiLabel', 'CLASS_NAMES', 'count_class_images', 'load_class_counts'
]
