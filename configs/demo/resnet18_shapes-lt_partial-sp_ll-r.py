# Single positive label per training image; large loss rejection (LL-R, Kim et al.
# CVPR 2022): unknown cells as negatives, the largest of their losses rejected at a
# rate growing by 0.4 % of the batch's cells per epoch.
_base_ = ['./resnet18_shapes-lt_partial-sp_bce-an.py']
model = dict(head=dict(loss=dict(_delete_=True, type='LargeLossRejection', mode='reject',
                                 delta_rel=0.4)))
