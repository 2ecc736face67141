# Single positive label per training image; BCE on the observed labels only
# (unknown cells ignored): with no observed negative, nothing stops all-positive scores.
_base_ = ['./resnet18_shapes-lt_partial-sp_bce-an.py']
model = dict(head=dict(loss=dict(_delete_=True, type='MultiLabelBCELoss', unknown='ignore')))
