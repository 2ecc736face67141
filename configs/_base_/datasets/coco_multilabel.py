# MS-COCO 2014 as multi-label classification (mmml_ext.COCOMultiLabel, the
# ML-GCN / ASL protocol): train2014 for training, val2014 for validation and
# test, 448 px. Point data_root at the COCO root (annotations/, train2014/, val2014/).
dataset_type = 'COCOMultiLabel'
data_root = 'data/coco'
data_preprocessor = dict(
    num_classes=80,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=448, crop_ratio_range=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(448, 448)),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/instances_train2014.json', data_prefix='train2014',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/instances_val2014.json', data_prefix='val2014',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='MeanAP'),
    dict(type='MultiLabelPRF'),
    dict(type='MultiLabelPRF', topk=3),
    dict(type='SubsetAccuracy'),
    dict(type='TunedThresholdF1'),
]
test_evaluator = val_evaluator[:4]
