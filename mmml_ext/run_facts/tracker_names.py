"""The names a run's values take in an experiment tracker, shared by the run and the comparison.

``TrackerHook`` (:mod:`mmml_ext.engine.tracker_hook`) sends a run's per-class values and
settings to the trackers while it trains and tests; ``tools/compare.py --log-to``
(:mod:`mmml_ext.experiments.tracker_export`) later logs the comparison of runs and links it
to those very runs by the parameter named here. Both take their names from this module.
"""
import re

#: prefix of the run settings in MLflow's params (``mmml_ext.loss``, ``mmml_ext.seed``, ...)
PARAM_PREFIX = 'mmml_ext.'
#: the run setting holding the run's name (its work dir's base name), the comparison's key
RUN_KEY = 'run'


def tag_safe(name: str) -> str:
    """A name as one level of a tracker's metric name: letters, digits, ``_-.`` and spaces
    kept, anything else (a ``/`` would open a group) replaced by ``_``.

    Examples:
        >>> tag_safe('tri/angle')
        'tri_angle'
    """
    return re.sub(r'[^\w\-. ]', '_', name)


def param_name(key: str) -> str:
    """The MLflow param of a run setting: ``mmml_ext.<key>``."""
    return PARAM_PREFIX + key
