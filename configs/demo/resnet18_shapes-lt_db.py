# ResNet-18 on the built-in long-tailed shapes, distribution-balanced loss with
# the settings of the paper's VOC-MLT / COCO-MLT configs (focal, balance_param 2,
# init_bias 0.05, neg_scale 5, map alpha 0.1 / beta 10 / gamma 0.3).
_base_ = ['./resnet18_shapes-lt_bce.py']

model = dict(
    head=dict(
        loss=dict(
            _delete_=True,
            type='DistributionBalancedLoss',
            reweight=True,
            map_alpha=0.1,
            map_beta=10.0,
            map_gamma=0.3,
            init_bias=0.05,
            neg_scale=5.0,
            focal=True,
            gamma=2.0,
            balance_param=2.0)))
