"""Datasets: the demo, COCO multi-label, list files, class-balanced resampling, class counting."""
from .balanced_dataset import MultiLabelBalancedDataset
from .class_counts import count_class_images, load_class_counts
from .coco_multilabel import COCOMultiLabel
from .label_index import LabelIndex
from .samplers import ClassAwareSampler, RepeatFactorSampler
from .long_tailed_shapes import LongTailedShapes
from .multilabel_list import MultiLabelListDataset
from .shape_rendering import CLASS_NAMES

__all__ = [
    'LongTailedShapes', 'COCOMultiLabel', 'MultiLabelListDataset', 'CLASS_NAMES',
    'count_class_images', 'load_class_counts', 'LabelIndex', 'MultiLabelBalancedDataset',
    'RepeatFactorSampler', 'ClassAwareSampler'
]
