# Your own multi-label data from list files (mmml_ext.MultiLabelListDataset,
# docs/datasets.md): a text list ("path cat,dog" a line) or a CSV table
# ("image,cat,dog,..." header, 1 / 0 / -1 cells, columns mapped onto `classes` by
# name). Every split reads the same class file, so that all have one class order.
# Set data_root (or --data-root on the tools), the file names and num_classes
# (data_preprocessor and the model's head) for your data.
dataset_type = 'MultiLabelListDataset'
data_root = 'data/my_dataset'  # images/, classes.txt, train.txt, val.txt, test.txt
classes = 'classes.txt'  # in data_root: one class name a line, the same file for every split
data_preprocessor = dict(
    num_classes=20,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
    to_onehot=True,
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
    # the -1 (unknown) cells of a CSV table travel in gt_score, which PackInputs packs
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='train.txt',
                 data_prefix='images', classes=classes, pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='val.txt',
                 data_prefix='images', classes=classes, pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_dataloader = dict(
    batch_size=64,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='test.txt',
                 data_prefix='images', classes=classes, pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = [
    dict(type='MeanAP'),
    dict(type='MultiLabelPRF'),
    dict(type='MultiLabelPRF', topk=3),
    dict(type='SubsetAccuracy'),
    dict(type='TunedThresholdF1'),
]
# the test adds CP ... OF1 at the thresholds tuned on val.txt for the tested
# checkpoint (keys *_valtuned; left out, with a warning, when it has none)
test_evaluator = val_evaluator[:4] + [
    dict(type='MultiLabelPRF', thresholds='tuned', missing_thresholds='warn')
]
