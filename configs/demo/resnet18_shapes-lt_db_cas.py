# The db demo with the class-aware sampler: each draw picks a class uniformly,
# then one of its images (as the distribution-balanced loss paper trains).
_base_ = ['./resnet18_shapes-lt_db.py']

train_dataloader = dict(sampler=dict(_delete_=True, type='ClassAwareSampler', num_sample_class=1))
