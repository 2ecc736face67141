"""Run grids of experiments and compare them: ``tools/sweep.py``, ``tools/compare.py``."""
from .grid import RunSpec, plan_runs
from .report import Comparison, compare_runs, find_run_dirs
from .run_records import RunRecord, read_run
from .sweep_runner import LaunchOptions, execute_run

__all__ = ['RunSpec', 'plan_runs', 'Comparison', 'compare_runs', 'RunRecord', 'find_run_dirs',
           'read_run', 'LaunchOptions', 'execute_run']
