# Runtime settings shared by all configs; `custom_imports` registers mmml_ext.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmml_ext'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
)

# RunFactsHook counts the training set once (through resampling wrappers) for the
# losses, the head prior and head / medium / tail mAP; gives mmml_ext's metrics
# the evaluation context (name, work dir, shared rows); keeps class_counts.json
# and thresholds.json in the work dir and both facts in the checkpoints
custom_hooks = [dict(type='RunFactsHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py and tools/test.py switch to gloo on a machine without CUDA
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
