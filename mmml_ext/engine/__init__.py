"""Runtime pieces under the Runner: safe checkpoint loading, CPU distributed setup, the run-facts and tracker hooks."""
from .checkpoint import (UnsafeCheckpointError, checkpoint_safe_globals,
                         load_from_local_safely, register_checkpoint_globals,
                         update_checkpoint_file)
from .distributed import export_slurm_env, setup_distributed
from .renamed_hooks import ClassCountsHook, MultiLabelEvalHook
from .run_facts_hook import RunFactsHook
from .tracker_hook import TrackerHook

__all__ = [
    'UnsafeCheckpointError', 'checkpoint_safe_globals', 'load_from_local_safely',
    'register_checkpoint_globals', 'update_checkpoint_file', 'export_slurm_env',
    'setup_distributed', 'RunFactsHook', 'TrackerHook', 'ClassCountsHook', 'MultiLabelEvalHook'
]
