# ResNet-50 on VOC-MLT, distribution-balanced loss with the paper's VOC-MLT settings:
# focal (gamma 2, balance_param 2), negative-tolerant regularisation (init_bias 0.05,
# neg_scale 5), re-balanced weighting with the map alpha 0.1, beta 10, gamma 0.3.
# Class counts come from the training subset (RunFactsHook). Sampling as the paper:
# class-aware, 3 images per class pick, an epoch of max class count x classes / 4 =
# 775 x 20 / 4 = 3,875 images, 8 epochs.
_base_ = ['./resnet50_voc-mlt_bce.py']
model = dict(
    head=dict(
        loss=dict(_delete_=True, type='DistributionBalancedLoss', reweight=True, map_alpha=0.1,
                  map_beta=10.0, map_gamma=0.3, init_bias=0.05, neg_scale=5.0, focal=True,
                  gamma=2.0, balance_param=2.0)))
train_dataloader = dict(
    sampler=dict(_delete_=True, type='ClassAwareSampler', num_sample_class=3, length=3875))
train_cfg = dict(max_epochs=8)
