# OpenImages V6 image-level labels (mmml_ext.OpenImagesMultiLabel), the 9,605 trainable
# classes: ImageNet-pretrained ResNet-50, asymmetric loss (gamma_neg 4, gamma_pos 0, clip
# 0.05, no gradient through the focusing weight), 224 px.
#
# Every image has human-verified positives (1) and verified negatives (0); every other
# class of the image is unknown (-1, never annotated). The -1 cells stay -1 from the
# dataset to the loss, which gives them no loss, and to the metrics, which leave them out.
# Files (docs/datasets.md says where to get them), under data_root:
#   oidv6-class-descriptions.csv, oidv6-classes-trainable.txt,
#   oidv6-train-annotations-human-imagelabels.csv, validation-annotations-human-imagelabels.csv,
#   test-annotations-human-imagelabels.csv, and the images as train/<ImageID>.jpg,
#   validation/<ImageID>.jpg, test/<ImageID>.jpg.
_base_ = [
    '../_base_/models/resnet50_multilabel.py',
    '../_base_/schedules/multilabel_adamw.py',
    '../_base_/default_runtime.py',
]
num_classes = 9605  # the lines of oidv6-classes-trainable.txt

dataset_type = 'OpenImagesMultiLabel'
data_root = 'data/openimages'
class_files = dict(class_file='oidv6-class-descriptions.csv',
                   trainable_file='oidv6-classes-trainable.txt')
data_preprocessor = dict(
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),  # gt_score (1 / 0 / -1) is packed as it is
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='oidv6-train-annotations-human-imagelabels.csv', data_prefix='train',
                 pipeline=train_pipeline, **class_files),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='validation-annotations-human-imagelabels.csv',
                 data_prefix='validation', pipeline=test_pipeline, test_mode=True, **class_files),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_dataloader = dict(
    batch_size=64,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='test-annotations-human-imagelabels.csv', data_prefix='test',
                 pipeline=test_pipeline, test_mode=True, **class_files),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
# The OpenImages protocol: the AP of a class ranks only its verified images (the -1 cells
# are left out by every metric of mmml_ext), and the mean is over the classes with a
# verified positive in the evaluated split: absent_classes='exclude' (the default, set
# here on purpose) leaves out, and names in a warning, the classes without one.
# Only 'mAP': the head / medium / tail split (20 / 100 training images) means little
# here, as every trainable class has at least 100 verified positives in training.
val_evaluator = [
    dict(type='MeanAP', items=('mAP', ), absent_classes='exclude'),
]
test_evaluator = val_evaluator

model = dict(
    head=dict(
        num_classes=num_classes,
        loss=dict(_delete_=True, type='MultiLabelAsymmetricLoss', gamma_neg=4.0,
                  gamma_pos=0.0, clip=0.05, detach_focal_weight=True)))
# 9,605 classes and millions of images: a few epochs (our choice for the size of the
# data, not a published setting); the cosine schedule follows max_epochs.
train_cfg = dict(max_epochs=5)
