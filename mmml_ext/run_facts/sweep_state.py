"""A sweep's record of one of its runs: ``<work_dir>/sweep_run.json``.

``tools/sweep.py`` writes it in every run directory it makes
(:class:`mmml_ext.experiments.sweep_runner.RunState`): the run's config, its grid
values, shared ``--cfg-options``, seed and setting, and the stages it finished.
The comparison reads the seed and setting from it (never guessed from a run's
name), and ``TrackerHook`` the grid values a tracker groups runs by. This module
owns the file's name and how it is read; a run made by hand has none.
"""
import json
import os.path as osp

#: The file in a run's work dir.
FILE_NAME = 'sweep_run.json'


def path_in(work_dir: str) -> str:
    """``<work_dir>/sweep_run.json``."""
    return osp.join(work_dir, FILE_NAME)


def read(work_dir: str) -> dict:
    """The sweep's record of the run in ``work_dir``; ``{}`` where no sweep made it.

    Raises:
        ValueError: the file is not JSON (``json.JSONDecodeError``).
    """
    path = path_in(work_dir)
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)
