# ResNet-18 on the built-in long-tailed shapes, class-balanced focal loss:
# effective-number weights (beta 0.999) around a focal loss (gamma 2); the class
# counts come from the training set through RunFactsHook.
_base_ = ['./resnet18_shapes-lt_bce.py']

model = dict(
    head=dict(
        prior='counts',
        loss=dict(
            _delete_=True,
            type='ClassBalancedLoss',
            beta=0.999,
            loss=dict(type='MultiLabelFocalLoss', gamma=2.0, alpha=None))))
