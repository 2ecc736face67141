# ResNet-18 on the built-in long-tailed shapes, asymmetric loss with the ASL
# paper's settings (gamma_neg 4, gamma_pos 0, clip 0.05), fused.
_base_ = ['./resnet18_shapes-lt_bce.py']

model = dict(
    head=dict(
        loss=dict(
            _delete_=True,
            type='MultiLabelAsymmetricLoss',
            gamma_pos=0.0,
            gamma_neg=4.0,
            clip=0.05,
        )))
