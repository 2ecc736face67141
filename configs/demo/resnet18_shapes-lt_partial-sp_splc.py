# Single positive label per training image; self-paced loss correction (SPLC, Zhang
# et al. 2021): from the second epoch a negative scored above 0.6 is a positive.
_base_ = ['./resnet18_shapes-lt_partial-sp_bce-an.py']
model = dict(head=dict(loss=dict(_delete_=True, type='SPLCLoss', tau=0.6, change_epoch=1,
                                 margin=1.0, gamma=2.0, unknown='negative')))
