"""Datasets: the demo, COCO multi-label, list files, class-balanced resampling."""
from .balanced_dataset import MultiLabelBalancedDataset
from .coco_multilabel import COCOMultiLabel
from .label_index import LabelIndex
from .samplers import ClassAwareSampler, RepeatFactorSampler
from .long_tailed_shapes import LongTailedShapes
from .multilabel_list import MultiLabelListDataset
from .openimages import OpenImagesMultiLabel
from .partial_labels import PartialLabelDataset
from .shape_rendering import CLASS_NAMES

__all__ = [
    'LongTailedShapes', 'COCOMultiLabel', 'MultiLabelListDataset', 'CLASS_NAMES',
    'LabelIndex', 'MultiLabelBalancedDataset',
    'RepeatFactorSampler', 'ClassAwareSampler', 'PartialLabelDataset', 'OpenImagesMultiLabel'
]
