# ResNet-50 (ImageNet-pretrained) on VOC-MLT (1,142 long-tailed VOC2012 images,
# tested on VOC2007 test), binary cross-entropy and plain sampling: the baseline.
_base_ = [
    '../_base_/models/resnet50_multilabel.py',
    '../_base_/datasets/voc-mlt.py',
    '../_base_/schedules/multilabel_adamw.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=20))
