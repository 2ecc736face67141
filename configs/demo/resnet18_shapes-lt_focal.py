# ResNet-18 on the built-in long-tailed shapes, sigmoid focal loss (gamma 2,
# alpha 0.25), with the classifier bias initialised at the class priors.
_base_ = ['./resnet18_shapes-lt_bce.py']

model = dict(
    head=dict(
        prior='counts',
        loss=dict(_delete_=True, type='MultiLabelFocalLoss', gamma=2.0, alpha=0.25)))
