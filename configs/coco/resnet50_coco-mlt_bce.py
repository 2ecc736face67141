# ResNet-50 (ImageNet-pretrained) on COCO-MLT (1,909 long-tailed train2017 images,
# tested on val2017), binary cross-entropy and plain sampling: the baseline.
_base_ = [
    '../_base_/models/resnet50_multilabel.py',
    '../_base_/datasets/coco-mlt.py',
    '../_base_/schedules/multilabel_adamw.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=80))
