"""The facts a run produces that later steps need, each with one owner module.

- :mod:`.class_stats`: the training set's images per class and number of
  images (``class_counts.json``);
- :mod:`.tuned_thresholds`: the thresholds tuned on validation
  (``thresholds.json``) and the rule that fills a class that could not be tuned;
- :mod:`.eval_outputs`: the names of evaluations (``val_epoch_3``, ``test``)
  and where their reports go;
- :mod:`.sweep_state`: a sweep's record of each of its runs (``sweep_run.json``).

Each module computes, writes and reads its fact, owns its file name and its
path rule (relative to the run's work dir) and its entry in a checkpoint's
``meta`` (:mod:`.checkpoint_meta`); every reader imports them from it.
``RunFactsHook`` moves the facts between the Runner, the model, the metrics,
the work dir and the checkpoints.
"""
from .class_stats import ClassStats
from .tuned_thresholds import ThresholdSource, TunedThresholds

__all__ = ['ClassStats', 'TunedThresholds', 'ThresholdSource']
