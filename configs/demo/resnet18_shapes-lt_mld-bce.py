# ResNet-18 on the built-in long-tailed shapes with the ML-Decoder head (Ridnik et al.,
# WACV 2023) and binary cross-entropy: group queries cross-attend to the 2 x 2 feature map
# (the backbone's last stage at 64 px), so there is no global pooling (neck=None). The
# paper's decoder: width 768, 8 heads, a 2048-wide feed-forward layer, dropout 0.1, fixed
# queries; 100 groups, which at 20 classes is one query per class.
_base_ = ['./resnet18_shapes-lt_bce.py']

model = dict(
    neck=None,
    head=dict(
        _delete_=True,
        type='MLDecoderHead',
        num_classes=20,
        in_channels=512,
        num_groups=100,
        embed_dims=768,
        num_heads=8,
        feedforward_channels=2048,
        drop_rate=0.1,
        loss=dict(type='MultiLabelBCELoss', unknown='ignore'),
    ))
