# ResNet-18 on the built-in long-tailed shapes, binary cross-entropy.
_base_ = [
    '../_base_/models/resnet18_multilabel.py',
    '../_base_/datasets/shapes_lt.py',
    '../_base_/schedules/shapes_lt.py',
    '../_base_/default_runtime.py',
]
