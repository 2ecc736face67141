# Single positive label per training image; weak assume negative (WAN, Cole et al.
# CVPR 2021): unknown cells are negatives weighted 1 / (C - 1).
_base_ = ['./resnet18_shapes-lt_partial-sp_bce-an.py']
model = dict(head=dict(loss=dict(_delete_=True, type='MultiLabelBCELoss', unknown='weak')))
