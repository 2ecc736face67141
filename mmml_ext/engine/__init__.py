"""Runtime pieces under the Runner: safe checkpoint loading, CPU distributed setup."""
from .checkpoint import (UnsafeCheckpointError, checkpoint_safe_globals,
                         load_from_local_safely, register_checkpoint_globals)
from .class_counts_hook import ClassCountsHook
from .distributed import export_slurm_env, setup_distributed
from .eval_hook import MultiLabelEvalHook

__all__ = [
    'UnsafeCheckpointError', 'checkpoint_safe_globals', 'load_from_local_safely',
    'register_checkpoint_globals', 'export_slurm_env', 'setup_distributed',
    'MultiLabelEvalHook', 'ClassCountsHook'
]
