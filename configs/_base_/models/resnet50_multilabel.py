# ImageNet-pretrained ResNet-50 with mmml_ext's multi-label head (BCE by default).
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        style='pytorch',
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/resnet/'
            'resnet50_8xb32_in1k_20210831-ea4938fc.pth',
            prefix='backbone')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='ImbalancedMultiLabelHead',
        num_classes=80,
        in_channels=2048,
        # sigmoid BCE that gives unknown (-1) target cells no loss (docs/losses.md)
        loss=dict(type='MultiLabelBCELoss', unknown='ignore', loss_weight=1.0),
    ),
)
