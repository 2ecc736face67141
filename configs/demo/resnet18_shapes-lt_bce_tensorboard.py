# The BCE demo with its results in TensorBoard as well (pip install -e .[trackers]):
#   tensorboard --logdir work_dirs/resnet18_shapes-lt_bce_tensorboard
# TrackerHook adds per-class AP / F1 / tuned threshold of every validation and test, the
# test metrics and the run settings to what mmengine logs there (docs/trackers.md).
_base_ = ['./resnet18_shapes-lt_bce.py']

visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
custom_hooks = [dict(type='RunFactsHook'), dict(type='TrackerHook')]
