# VOC-MLT, the long-tailed split of the distribution-balanced loss paper (Wu et al.,
# ECCV 2020): 1,142 images of VOC2012 trainval, listed in the paper's
# appendix/VOCdevkit/longtail2012/img_id.txt (VOC2012 image ids, one a line: the
# image-set format of mmpretrain's VOC); tested on VOC2007 test (4,952 images), as the
# paper does. 224 px, the paper's size. Labels seen only on difficult objects are
# ignored by the metrics. Layout: docs/datasets.md.
dataset_type = 'VOC'
voc2012_root = 'data/VOC2012'  # VOC2012: JPEGImages/, Annotations/, ImageSets/Main/
voc2007_root = 'data/VOC2007'  # VOC2007 test
data_preprocessor = dict(
    num_classes=20,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
    to_onehot=True,
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackInputs',
         meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                    'flip_direction', 'gt_label_difficult')),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    # the paper's id list, copied to VOC2012/ImageSets/Main/longtail2012.txt
    dataset=dict(type=dataset_type, data_root=voc2012_root, split='trainval',
                 image_set_path='ImageSets/Main/longtail2012.txt', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=voc2007_root, split='test',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_dataloader = val_dataloader
# Head / medium / tail as the paper's shipped class split: head >= 100 training
# images, medium 20-99, tail < 20 (6 / 6 / 8 classes on VOC-MLT). MeanAP's rule is
# head > high, so high = 99 (its default, 100, would put the class with exactly 100
# images among the medium ones).
val_evaluator = [
    dict(type='MeanAP', group_bounds=(20, 99)),
    dict(type='MultiLabelPRF'),
    dict(type='MultiLabelPRF', topk=3),
    dict(type='SubsetAccuracy'),
    dict(type='TunedThresholdF1'),
]
test_evaluator = val_evaluator[:4]
