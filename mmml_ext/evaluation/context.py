"""What one evaluation knows beyond its data samples: its name, its directory, the run's facts.

Metrics are built before training and see only their data samples. An
:class:`EvalContext` carries the rest for one evaluation, and
``RunFactsHook`` gives one to every metric of the evaluator through one setter
(``metric.set_eval_context``):

- ``tag`` (``val_epoch_3``, ``test``) and ``work_dir``: names and place of the
  files the evaluation writes (:mod:`mmml_ext.run_facts.eval_outputs`);
- ``class_stats``: the training class statistics (head / medium / tail mAP);
- ``tuned_thresholds``: the thresholds tuned for the weights under evaluation
  (``thresholds='tuned'``), known when the weights come from a checkpoint;
- ``rows``: the shared :class:`EvaluationRows`;
- ``iteration``: training iterations done (pairs tuned thresholds with the
  checkpoint of the same weights).

What the metrics produce for the run (the per-class report, the tuned
thresholds) is written through the context, into one directory: the metric's
``out_dir``, else the work dir. A metric used without the hook gets a context
of its own with no work dir.
"""
import os
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
from mmengine.logging import print_log

from ..run_facts import eval_outputs, tuned_thresholds
from ..run_facts.class_stats import ClassStats
from ..run_facts.tuned_thresholds import TunedThresholds
from .shared_rows import EvaluationRows


@dataclass
class EvalContext:
    """The context of one evaluation (see the module docstring)."""
    tag: str = 'eval'
    work_dir: Optional[str] = None
    iteration: Optional[int] = None
    class_stats: Optional[ClassStats] = None
    tuned_thresholds: Optional[TunedThresholds] = None
    rows: EvaluationRows = field(default_factory=EvaluationRows)
    #: the thresholds a TunedThresholdF1 tuned in this evaluation
    produced_thresholds: Optional[TunedThresholds] = None
    #: where the predictions were saved after a metric failed
    saved_predictions: Optional[str] = None

    def output_dir(self, out_dir: Optional[str] = None) -> Optional[str]:
        """The metric's ``out_dir`` if given, else the work dir, else None."""
        return eval_outputs.output_dir(out_dir, self.work_dir)

    def write_report(self, out_dir: Optional[str], header: dict,
                     rows: Sequence[dict]) -> Optional[str]:
        """Write the per-class report of this evaluation; None when there is no directory."""
        directory = self.output_dir(out_dir)
        if directory is None:
            return None
        return eval_outputs.write_report(directory, self.tag, header, rows)

    def publish_thresholds(self, out_dir: Optional[str],
                           thresholds: TunedThresholds) -> Optional[str]:
        """Record tuned thresholds for the run (and its checkpoint); write the file if there is a directory."""
        self.produced_thresholds = thresholds
        directory = self.output_dir(out_dir)
        return None if directory is None else tuned_thresholds.write(thresholds, directory)

    def save_predictions(self, out_dir: Optional[str], classes: Sequence[str]) -> str:
        """Save the gathered predictions once (after a metric failed); returns the path.

        They go to the evaluation's directory, or to the current directory when
        there is none: they must not be lost.
        """
        if self.saved_predictions is None:
            directory = self.output_dir(out_dir) or '.'
            path = eval_outputs.failure_dump_path(directory, self.tag)
            os.makedirs(directory, exist_ok=True)
            rows = self.rows
            np.savez(path, scores=rows.scores.numpy(), target=rows.target('ignore').numpy(),
                     classes=np.asarray(list(classes or []), dtype=str),
                     sample_idx=np.asarray([] if rows.sample_idx is None else rows.sample_idx))
            print_log(f'predictions of {self.tag} saved to {path}', logger='current')
            self.saved_predictions = path
        return self.saved_predictions

    def release(self) -> None:
        """End of the evaluation: drop the rows."""
        self.rows.release()
