# Single positive label per training image; ASL with the ASL paper's settings, unknown
# cells masked (no loss): only the observed positives train it.
_base_ = ['./resnet18_shapes-lt_partial-sp_bce-an.py']
model = dict(head=dict(loss=dict(_delete_=True, type='MultiLabelAsymmetricLoss', gamma_pos=0.0,
                                 gamma_neg=4.0, clip=0.05)))
