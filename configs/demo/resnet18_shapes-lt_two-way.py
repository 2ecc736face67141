# ResNet-18 on the built-in long-tailed shapes, two-way multi-label loss with the paper's
# temperatures (Tp 4, Tn 1), ranked over the global batch in a distributed run.
_base_ = ['./resnet18_shapes-lt_bce.py']

model = dict(
    head=dict(
        loss=dict(
            _delete_=True,
            type='TwoWayMultiLabelLoss',
            pos_temperature=4.0,
            neg_temperature=1.0,
            batch='global',
        )))
