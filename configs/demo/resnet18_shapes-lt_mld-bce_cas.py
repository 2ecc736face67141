# The mld-bce demo with the class-aware sampler: each draw picks a class uniformly,
# then one of its images; an epoch keeps the dataset's length.
_base_ = ['./resnet18_shapes-lt_mld-bce.py']

train_dataloader = dict(sampler=dict(_delete_=True, type='ClassAwareSampler', num_sample_class=1))
