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
  checkpoint of the same weights);
- ``weights`` (and ``no_thresholds_because``): the checkpoint under evaluation, named
  in messages (and why it carries no tuned thresholds, when the run knows).

What the metrics produce for the run (the per-class report, the tuned
thresholds) is written through the context, into one directory: the metric's
``out_dir``, else the work dir. A metric used without the hook gets a context
of its own with no work dir.
"""
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.dist import get_rank, is_main_process
from mmengine.logging import print_log

from ..functional.target_codes import read_difficult
from ..run_facts import eval_outputs, npz_blocks, tuned_thresholds
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
    #: the weights under evaluation, for messages: ``checkpoint work_dirs/x/epoch_1.pth
    #: (epoch 1)``; None while training (the weights being trained)
    weights: Optional[str] = None
    #: why no thresholds were tuned for those weights, when the run knows it
    no_thresholds_because: Optional[str] = None
    #: per-class columns other metrics add to the report (e.g. AUROC's ``auroc``)
    report_columns: Dict[str, List[Optional[float]]] = field(default_factory=dict)
    #: the report as written in this evaluation: (out_dir, header, rows)
    _report: Optional[tuple] = field(default=None, repr=False)

    def output_dir(self, out_dir: Optional[str] = None) -> Optional[str]:
        """The metric's ``out_dir`` if given, else the work dir, else None."""
        return eval_outputs.output_dir(out_dir, self.work_dir)

    def write_report(self, out_dir: Optional[str], header: dict,
                     rows: Sequence[dict]) -> Optional[str]:
        """Write the per-class report of this evaluation (on the main process); None when
        there is no directory."""
        self._report = (out_dir, dict(header), [dict(row) for row in rows])
        return self._write_report()

    def add_report_column(self, name: str, values: Sequence[Optional[float]]) -> None:
        """Add a per-class column to this evaluation's report, whichever metric of the
        evaluator runs first: kept for the report to come, or written into the one that is
        already there."""
        self.report_columns[name] = [None if v is None or v != v else float(v) for v in values]
        if self._report is not None:
            self._write_report()

    def _write_report(self) -> Optional[str]:
        out_dir, header, rows = self._report
        directory = self.output_dir(out_dir)
        if directory is None:
            return None
        if not is_main_process():
            return directory
        for name, values in self.report_columns.items():
            if len(values) == len(rows):  # a metric of other classes has no column here
                for row, value in zip(rows, values):
                    row[name] = value
        return eval_outputs.write_report(directory, self.tag, header, rows)

    def publish_thresholds(self, out_dir: Optional[str],
                           thresholds: TunedThresholds) -> Optional[str]:
        """Record tuned thresholds for the run (and its checkpoint); write the file (on the
        main process) if there is a directory."""
        self.produced_thresholds = thresholds
        directory = self.output_dir(out_dir)
        if directory is None or not is_main_process():
            return directory
        return tuned_thresholds.write(thresholds, directory)

    def save_predictions(self, out_dir: Optional[str], classes: Sequence[str]) -> str:
        """Save the evaluated predictions once (after a metric failed), in dataset order; returns the path.

        They go to the evaluation's directory, or to the current directory when
        there is none: they must not be lost. Across processes every process
        calls this and the main one writes the file, the rows coming to it in
        blocks from the processes that hold them.
        """
        if self.saved_predictions is None:
            directory = self.output_dir(out_dir) or '.'
            path = eval_outputs.failure_dump_path(directory, self.tag)
            rows = self.rows
            extras = dict(classes=np.asarray(list(classes or []), dtype=str),
                          sample_idx=np.asarray([] if rows.sample_idx is None else
                                                rows.sample_idx))
            if rows.exchange_broken:  # each process keeps its own
                self.saved_predictions = self.save_local_rows(out_dir, classes)
                return self.saved_predictions
            path = rows.agree_on(path, 'naming the file')  # the main process's (a time stamp)
            if is_main_process():
                os.makedirs(directory, exist_ok=True)
            rows.write(lambda scores, target: npz_blocks.savez(
                path, dict(scores=scores, target=target, **extras)), 'ignore')
            print_log(f'predictions of {self.tag} saved to {path}', logger='current')
            self.saved_predictions = path
        return self.saved_predictions

    def save_local_rows(self, out_dir: Optional[str], classes: Sequence[str]) -> str:
        """Save this process's rows as they are, when the processes cannot write one file; the path.

        ``predictions_<tag>_<time>_rank<r>.npz``: one file per process, its rows
        in the order it evaluated them, with their sample indices (the rows
        could not be put in order, or a process stopped answering).
        """
        directory = self.output_dir(out_dir) or '.'
        base = eval_outputs.failure_dump_path(directory, self.tag)
        path = f'{base[:-len(".npz")]}_rank{get_rank()}.npz'
        own = self.rows.own_rows()
        scores, sample_idx = own.scores, own.sample_idx
        target = read_difficult(own.target, 'ignore')
        os.makedirs(directory, exist_ok=True)
        np.savez(path, scores=scores, target=target,
                 classes=np.asarray(list(classes or []), dtype=str),
                 sample_idx=np.asarray([] if sample_idx is None else sample_idx))
        print_log(f'predictions of {self.tag} on this process saved to {path}', logger='current')
        return path

    def release(self) -> None:
        """End of the evaluation: drop the rows."""
        self.rows.release()
