# The bce demo with class-balanced resampling: images of rare classes repeated
# ceil(r) times per epoch, r = max(1, sqrt(0.1 / f(c))) (mmengine's rule, one pass).
_base_ = ['./resnet18_shapes-lt_bce.py']

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='MultiLabelBalancedDataset',
        oversample_thr=0.1,
        dataset={{_base_.train_dataloader.dataset}}))
