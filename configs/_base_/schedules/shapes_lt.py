# A short schedule that trains the demo on a laptop CPU in about a minute:
# AdamW, 20 warm-up iterations, then a cosine decay over all epochs.
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0),
]
train_cfg = dict(by_epoch=True, max_epochs=6, val_interval=2)
val_cfg = dict()
test_cfg = dict()
# The learning rate above was set for this total batch size; --auto-scale-lr
# rescales it for another number of processes or batch size.
auto_scale_lr = dict(base_batch_size=32)
