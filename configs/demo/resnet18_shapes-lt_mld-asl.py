# The ML-Decoder demo with the asymmetric loss of the ASL paper (gamma_neg 4, gamma_pos 0,
# clip 0.05), the loss the ML-Decoder paper trains with.
_base_ = ['./resnet18_shapes-lt_mld-bce.py']

model = dict(
    head=dict(
        loss=dict(
            _delete_=True,
            type='MultiLabelAsymmetricLoss',
            gamma_pos=0.0,
            gamma_neg=4.0,
            clip=0.05,
        )))
