# The built-in long-tailed multi-label demo dataset (mmml_ext.LongTailedShapes):
# 20 classes, 800 long-tailed training images, balanced val / test splits of
# 200, 64 px, rendered from the seed on the fly (no download, no files).
dataset_type = 'LongTailedShapes'
data_preprocessor = dict(
    num_classes=20,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    # the dataset renders BGR images, like OpenMMLab's image loading
    to_rgb=True,
)

train_pipeline = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    dataset=dict(type=dataset_type, split='train', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=1,
    dataset=dict(type=dataset_type, split='val', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_dataloader = dict(
    batch_size=64,
    num_workers=1,
    dataset=dict(type=dataset_type, split='test', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)

# mmml_ext's metrics (docs/metrics.md). MeanAP gives head / medium / tail mAP from
# the training set's class counts (RunFactsHook) and writes a per-class report;
# the thresholds are tuned on the validation set only (tuning on test is
# optimistic) and travel in the checkpoint: the test evaluator reports CP, CR,
# CF1, OP, OR, OF1 at 0.5 and, as *_valtuned, at the thresholds tuned for the
# tested checkpoint (thresholds='tuned').
val_evaluator = [
    dict(type='MeanAP'),
    dict(type='MultiLabelPRF'),
    dict(type='MultiLabelPRF', topk=3),
    dict(type='SubsetAccuracy', items=('subset_accuracy', 'hamming_accuracy')),
    dict(type='TunedThresholdF1'),
    dict(type='MultiLabelCalibration'),
]
test_evaluator = [
    dict(type='MeanAP'),
    dict(type='MultiLabelPRF'),
    dict(type='MultiLabelPRF', topk=3),
    dict(type='MultiLabelPRF', thresholds='tuned', missing_thresholds='warn'),
    dict(type='SubsetAccuracy',
         items=('subset_accuracy', 'hamming_accuracy', 'jaccard', 'example_f1')),
    dict(type='MultiLabelRanking'),
    dict(type='MultiLabelCalibration'),
]
