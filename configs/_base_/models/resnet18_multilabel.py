# ResNet-18 with mmml_ext's linear multi-label head; binary cross-entropy by
# default (the loss configs under configs/demo/ swap the loss).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(3, ), style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='ImbalancedMultiLabelHead',
        num_classes=20,
        in_channels=512,
        # sigmoid BCE that gives unknown (-1) target cells no loss (docs/losses.md)
        loss=dict(type='MultiLabelBCELoss', unknown='ignore', loss_weight=1.0),
    ),
)
