# COCO-MLT, the long-tailed split of the distribution-balanced loss paper (Wu et al.,
# ECCV 2020): 1,909 images of COCO train2017, listed in the paper's
# appendix/coco/longtail2017/img_id.pkl (despite its name a text file, one image id a
# line: copy it as annotations/longtail2017_img_id.txt); tested on all 5,000 images of
# val2017, as the paper does (images with no object included: skip_empty=False).
# 224 px, the paper's size. Layout: docs/datasets.md.
dataset_type = 'COCOMultiLabel'
data_root = 'data/coco'  # annotations/, train2017/, val2017/
data_preprocessor = dict(
    num_classes=80,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
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
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/instances_train2017.json', data_prefix='train2017',
                 image_ids_file='annotations/longtail2017_img_id.txt', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/instances_val2017.json', data_prefix='val2017',
                 skip_empty=False, pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_dataloader = val_dataloader
# Head / medium / tail as the paper's shipped class split: head >= 100 training
# images, medium 20-99, tail < 20 (22 / 33 / 25 classes on COCO-MLT). MeanAP's rule
# is head > high, so high = 99 (its default, 100, would put the class with exactly
# 100 images among the medium ones).
val_evaluator = [
    dict(type='MeanAP', group_bounds=(20, 99)),
    dict(type='MultiLabelPRF'),
    dict(type='MultiLabelPRF', topk=3),
    dict(type='SubsetAccuracy'),
    dict(type='TunedThresholdF1'),
]
test_evaluator = val_evaluator[:4]
