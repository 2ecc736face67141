# The built-in long-tailed shapes with partial labels for training: one positive
# label kept per training image (Cole et al., CVPR 2021), every other cell
# unknown (-1, "not annotated"). The hiding is drawn once from seed 0, whatever
# the training seed; validation and test keep full labels, as in the papers.
# configs/demo/*partial-75* keep 75 % of the positives instead.
_base_ = ['./shapes_lt.py']

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='PartialLabelDataset',
        single_positive=True,
        unobserved='unknown',
        seed=0,
        dataset=dict(type='LongTailedShapes', split='train', pipeline={{_base_.train_pipeline}}),
    ))

# Head / medium / tail groups by the FULL training labels, so that every partial-label
# run and the full-label reference split the classes the same way (RunFactsHook would
# count the kept labels). These are LongTailedShapes' training counts (class_counts.json
# of a full-label run; tests/test_config_recipes.py checks them).
full_train_counts = [
    400, 314, 246, 193, 152, 119, 93, 73, 58, 45, 35, 28, 22, 17, 13, 11, 8, 6, 5, 4
]
val_evaluator = [
    dict(type='MeanAP', class_counts=full_train_counts),
    dict(type='MultiLabelPRF'),
    dict(type='SubsetAccuracy', items=('subset_accuracy', 'hamming_accuracy')),
    dict(type='TunedThresholdF1'),
    dict(type='MultiLabelCalibration'),
]
test_evaluator = [
    dict(type='MeanAP', class_counts=full_train_counts),
    dict(type='MultiLabelPRF'),
    dict(type='MultiLabelPRF', thresholds='tuned', missing_thresholds='warn'),
    dict(type='SubsetAccuracy', items=('subset_accuracy', 'hamming_accuracy')),
    dict(type='MultiLabelCalibration'),
]
