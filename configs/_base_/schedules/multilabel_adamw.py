# Fine-tuning schedule of the VOC / COCO configs: AdamW, lr 1e-4 for a total batch
# of 32 (--auto-scale-lr rescales it), one warm-up epoch, cosine decay, 30 epochs.
# The cosine runs from epoch 0 (under the warm-up in the first epoch), so that any
# max_epochs >= 1 works (a 1-epoch smoke run too).
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0),
]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=32)
