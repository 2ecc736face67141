# Single positive label per training image; Hill loss (Zhang et al. 2021) with the
# paper's defaults, unknown cells read as negatives (its setting).
_base_ = ['./resnet18_shapes-lt_partial-sp_bce-an.py']
model = dict(head=dict(loss=dict(_delete_=True, type='HillLoss', lamb=1.5, margin=1.0, gamma=2.0,
                                 unknown='negative')))
