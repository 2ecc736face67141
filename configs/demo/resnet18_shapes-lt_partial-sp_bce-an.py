# Single positive label per training image; BCE that assumes every unknown label
# negative (AN, Cole et al. CVPR 2021): the baseline of the partial-label papers.
_base_ = [
    '../_base_/models/resnet18_multilabel.py',
    '../_base_/datasets/shapes_lt_single_positive.py',
    '../_base_/schedules/shapes_lt.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(loss=dict(_delete_=True, type='MultiLabelBCELoss', unknown='negative')))
