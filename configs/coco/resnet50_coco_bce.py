# ResNet-50 (ImageNet-pretrained), binary cross-entropy: the baseline.
_base_ = [
    '../_base_/models/resnet50_multilabel.py',
    '../_base_/datasets/coco_multilabel.py',
    '../_base_/schedules/multilabel_adamw.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=80))
