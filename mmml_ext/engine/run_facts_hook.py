"""``RunFactsHook``: move the run's facts between the Runner, the model, the metrics, files and checkpoints.

A run knows things that the model and the metrics, built from the config before
it starts, cannot: the statistics of the training set, the thresholds tuned on
validation, which evaluation is running and where its files go. This hook is
the one place that hands them over. Each fact is owned by its module in
:mod:`mmml_ext.run_facts` (file name, path rule, checkpoint entry).

- **Training class statistics.** Before a training run (so before the weights
  are initialised) it counts the Runner's own training dataset once, through
  resampling wrappers (:func:`~mmml_ext.run_facts.class_stats.compute`), gives
  them to every part of the model that needs them (class-balanced and
  distribution-balanced losses, the head's prior), writes
  ``<work_dir>/class_counts.json`` and stores them in every checkpoint. A test
  run reads them from the checkpoint it loads.
- **Tuned thresholds.** What ``TunedThresholdF1`` tunes at a validation goes to
  ``<work_dir>/thresholds.json`` and into the checkpoint of the weights it was
  tuned for (the checkpoint saved before that validation gets them added; a
  best checkpoint saved after it gets them directly). A test run of that
  checkpoint evaluates ``thresholds='tuned'`` metrics, and predicts with a
  ``thresholds='tuned'`` head, at exactly those thresholds, from any directory.
- **Test predictions.** After a test, the main process writes
  ``<work_dir>/test_predictions.npz``
  (:mod:`~mmml_ext.run_facts.test_predictions`): every test sample's scores
  and target once, in dataset order, with the thresholds and training counts
  the test used: the input of the comparison's statistics.
- **Unknown labels.** A training set whose metainfo says ``unknown_labels``
  (-1 target cells, e.g. a ``PartialLabelDataset``) with batch augments
  (Mixup, CutMix) in the data preprocessor is refused before training: they
  would mix -1 into meaningless targets. A validation or test set that hides
  labels is named in a warning.
- **Evaluation context.** Before each validation and test, every multi-label
  metric of the evaluator gets one shared
  :class:`~mmml_ext.evaluation.EvalContext`: the evaluation's tag
  (``val_epoch_3``, ``val_iter_500``, ``test``), the work dir, the class
  statistics, the thresholds of the weights under evaluation and the rows all
  metrics share; it is dropped when the evaluation ends.

Examples:
    >>> custom_hooks = [dict(type='RunFactsHook')]
"""
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop, IterBasedTrainLoop

from mmpretrain.registry import HOOKS

from ..datasets.partial_labels import PartialLabelDataset
from ..evaluation.base import BaseMultiLabelMetric
from ..evaluation.context import EvalContext
from ..models.heads.imbalance_head_mixin import ImbalanceHeadMixin
from ..models.losses.class_counts_mixin import NeedsClassCounts
from ..run_facts import class_stats as class_stats_file
from ..run_facts import eval_outputs, test_predictions
from ..run_facts import tuned_thresholds as thresholds_file
from ..run_facts.class_stats import ClassStats
from ..run_facts.tuned_thresholds import TunedThresholds
from .checkpoint import update_checkpoint_file


def _log(message: str, level: int = logging.INFO) -> None:
    print_log(f'RunFactsHook: {message}', logger='current', level=level)


@HOOKS.register_module()
class RunFactsHook(Hook):
    """Give the model and the metrics the run's facts; keep them in the work dir and checkpoints.

    See the module docstring for what it does at each step. It takes no
    arguments; where a fact is given in the config (``class_counts=`` of a
    loss or of ``MeanAP``, ``thresholds=[...]``) the config wins.
    """
    priority = 'VERY_HIGH'  # before weight initialisation and before the other hooks' epochs

    def __init__(self) -> None:
        #: statistics of this run's training set, or of the loaded checkpoint's
        self.class_stats: Optional[ClassStats] = None
        #: thresholds stored in the loaded checkpoint (those of its weights)
        self.loaded_thresholds: Optional[TunedThresholds] = None
        #: thresholds of this run's latest validation
        self.latest_thresholds: Optional[TunedThresholds] = None
        #: (epoch, iter) of the loaded checkpoint's weights (its meta), (0, 0) without one
        self.loaded_step = (0, 0)
        #: the classes the loaded checkpoint was trained on (mmengine's dataset_meta), if known
        self.loaded_classes: Sequence[str] = ()
        self.training = False
        self._contexts: Dict[str, EvalContext] = {}
        self._looked_for_stats = False
        self._warned_hidden = set()

    # --- training class statistics -----------------------------------------------------
    def before_run(self, runner) -> None:
        # Runner.train builds its loops before this call; Runner.test / val do not build
        # a training loop, and their weights come from a checkpoint
        self.training = isinstance(getattr(runner, '_train_loop', None), BaseLoop)
        if not self.training:
            return
        self._refuse_tuned_in_validation(runner)
        _refuse_mixing_unknown_labels(runner)
        self._looked_for_stats = True
        needing = [m for m in _model(runner).modules()
                   if isinstance(m, NeedsClassCounts) and m.lacks_class_stats()]
        try:
            self.class_stats = class_stats_file.compute(runner.train_dataloader.dataset)
        except Exception as error:
            names = sorted({type(m).__name__ for m in needing})
            if needing:
                raise ValueError(f'{names} need the training class counts, and the training '
                                 f'set cannot be counted: {error}. Give class_counts= in '
                                 'their config instead') from error
            _log(f'the training set cannot be counted ({type(error).__name__}: {error}): no '
                 f'{class_stats_file.FILE_NAME}, no head / medium / tail groups',
                 logging.WARNING)
            return
        stats = self.class_stats
        val_loop = getattr(runner, '_val_loop', None)
        if isinstance(val_loop, BaseLoop):  # built by Runner.train: check before training
            _check_split_classes(stats.classes, 'val', val_loop.dataloader.dataset)
        for module in needing:
            module.provide_class_stats(stats)
        if is_main_process():
            path = class_stats_file.write(stats, runner.work_dir)
            given = f', given to {sorted({type(m).__name__ for m in needing})}' if needing else ''
            _log(f'training set: {stats.num_images} images, {stats.num_classes} classes'
                 f'{given}; written to {path}')

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        stats = class_stats_file.from_checkpoint(checkpoint)
        if stats is not None and not self.training:
            self.class_stats = stats
        # the loaded weights' thresholds; a training run (resumed or fine-tuned) only pairs
        # thresholds it tunes itself with the checkpoints it saves
        self.loaded_thresholds = thresholds_file.from_checkpoint(checkpoint)
        meta = checkpoint.get('meta') or {}
        self.loaded_step = (int(meta.get('epoch') or 0), int(meta.get('iter') or 0))
        self.loaded_classes = tuple((meta.get('dataset_meta') or {}).get('classes') or ())

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.class_stats is not None:
            class_stats_file.to_checkpoint(checkpoint, self.class_stats)
        tuned = self.latest_thresholds
        if tuned is not None and tuned.iter == checkpoint.get('meta', {}).get('iter'):
            thresholds_file.to_checkpoint(checkpoint, tuned)  # a best checkpoint after validation

    # --- evaluation context ------------------------------------------------------------
    def before_val_epoch(self, runner) -> None:
        self._begin(runner, 'val', runner.val_evaluator)

    def before_test_epoch(self, runner) -> None:
        self._begin(runner, 'test', runner.test_evaluator)

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        context = self._end('val', runner.val_evaluator)
        tuned = None if context is None else context.produced_thresholds
        if tuned is not None and self.training:
            self.latest_thresholds = tuned
            self._add_to_saved_checkpoint(runner, tuned)

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        context = self._contexts.get('test')
        rows = None if context is None else context.rows
        if rows is not None and rows.holds_all:  # the main process, or all of a sharded test
            def write(scores, target) -> str:
                return test_predictions.write(
                    self._test_predictions(runner, context, scores, target), runner.work_dir)

            path = rows.write(write)  # the target codes as kept (difficult unread)
            if path is not None:
                _log(f'test predictions written to {path}')
        elif is_main_process() and not _multilabel_metrics(runner.test_evaluator):
            _log(f'no {test_predictions.FILE_NAME}: the test evaluator has no metric of '
                 'mmml_ext, whose rows it is made of', logging.WARNING)
        self._end('test', runner.test_evaluator)

    def _test_predictions(self, runner, context: EvalContext, scores, target):
        """The test's rows (arrays, or blocks from the processes that hold them), with the
        settings its metrics used (each metric says its own)."""
        rows = context.rows
        settings = {}
        for metric in _multilabel_metrics(runner.test_evaluator):
            found = metric.statistics_settings(rows.num_classes)
            if found is not None and found[0] not in settings:
                settings[found[0]] = found[1]
        tuned = (settings.get('prf_tuned') or {}).get('thresholds')
        counts = (settings.get('mAP') or {}).get('class_counts')
        if counts is None and context.class_stats is not None:
            counts = list(context.class_stats.class_counts)
        return test_predictions.TestPredictions(
            scores, target,
            tuple((runner.test_evaluator.dataset_meta or {}).get('classes') or ()),
            rows.sample_idx, None if tuned is None else np.asarray(tuned, np.float32),
            None if counts is None else np.asarray(counts), settings)

    def _begin(self, runner, split: str, evaluator) -> None:
        loop = getattr(runner, 'val_loop' if split == 'val' else 'test_loop', None)
        dataset = getattr(getattr(loop, 'dataloader', None), 'dataset', None)
        if split not in self._warned_hidden and _hides_labels(dataset):
            self._warned_hidden.add(split)
            _log(f'the {split} dataset is a PartialLabelDataset: it is evaluated on hidden '
                 'labels, while the papers hide labels of the training split only',
                 logging.WARNING)
        metrics = _multilabel_metrics(evaluator)
        stats = self._stats_for_evaluation(metrics)
        # a checkpoint without statistics still names its classes (mmengine's dataset_meta)
        _check_split_classes(stats.classes if stats is not None else
                             () if self.training else self.loaded_classes, split, dataset)
        if self.training:
            by_epoch = not isinstance(runner.train_loop, IterBasedTrainLoop)
            epoch, iteration = runner.epoch, runner.iter
        else:  # a checkpoint's weights: their step, from its meta. runner.epoch / iter would
            # build the training loop, its dataloader and its dataset (parsed for nothing,
            # and absent where only the test split is)
            by_epoch, (epoch, iteration) = True, self.loaded_step
        context = EvalContext(
            tag=eval_outputs.eval_tag(split, by_epoch, epoch, iteration),
            work_dir=runner.work_dir, iteration=iteration,
            class_stats=stats,
            # the weights under evaluation are a checkpoint's only when not training
            tuned_thresholds=None if self.training else self.loaded_thresholds)
        if not self.training:
            context.weights, context.no_thresholds_because = self._describe_weights(runner)
            if self.loaded_thresholds is not None and any(
                    getattr(getattr(m, 'thresholds', None), 'is_tuned', False) for m in metrics):
                _log(f'{split}: {context.weights or "the loaded weights"} at the thresholds '
                     f'tuned at {self.loaded_thresholds.tuned_on or "?"} (carried by the '
                     'checkpoint)')
        for metric in metrics:
            metric.set_eval_context(context)
        self._contexts[split] = context
        for metric in metrics:
            missing = getattr(metric, 'thresholds_missing', lambda: None)()
            if missing is not None and metric.missing_thresholds == 'error':
                raise ValueError(
                    f'{type(metric).__name__}(thresholds={metric.thresholds.spec!r}) in the '
                    f'{split} evaluator: {missing}. Give missing_thresholds=\'warn\' to leave '
                    'its keys out instead')
        self._give_head_thresholds(runner, context)

    def _describe_weights(self, runner) -> Tuple[Optional[str], Optional[str]]:
        """(``checkpoint PATH (epoch E)``, why it has no tuned thresholds) of the loaded
        weights; the cause is known when its run tuned thresholds at another evaluation (its
        ``thresholds.json`` beside it): that epoch was not validated."""
        path = (getattr(runner, 'cfg', None) or {}).get('load_from')
        if not path:
            return None, None
        epoch, iteration = self.loaded_step
        step = f'epoch {epoch}' if epoch else f'iteration {iteration}'
        weights = f'checkpoint {path} ({step})'
        if self.loaded_thresholds is not None:
            return weights, None
        beside_path = thresholds_file.path_in(osp.dirname(str(path)))
        try:
            beside = thresholds_file.read(beside_path)
        except (OSError, ValueError):
            return weights, None
        return weights, (f'its {step} was not validated, while its run tuned thresholds at '
                         f'{beside.tuned_on} ({beside_path}): '
                         'test the checkpoint of a validated epoch, or validate at this one '
                         '(train_cfg.val_interval)')

    def _end(self, split: str, evaluator) -> Optional[EvalContext]:
        context = self._contexts.pop(split, None)
        if context is not None:
            context.release()
            for metric in _multilabel_metrics(evaluator):
                metric.set_eval_context(None)
        return context

    def _stats_for_evaluation(self, metrics: List[BaseMultiLabelMetric]):
        """The class statistics: this run's training set's, or the loaded checkpoint's. An
        evaluation of a checkpoint never builds the training set (it may not be there, and
        its annotations can take minutes to parse): without statistics in the checkpoint,
        the metrics that use them say so once."""
        if self.class_stats is not None or self._looked_for_stats:
            return self.class_stats
        if not any(metric.uses_class_stats() for metric in metrics):
            return None
        self._looked_for_stats = True
        _log('the checkpoint holds no training class statistics (saved without RunFactsHook): '
             'no head / medium / tail mAP and no train_count in the per-class report; give the '
             'metric class_counts= to have them (the training set is not read by a test)',
             logging.WARNING)
        return None

    def _give_head_thresholds(self, runner, context: EvalContext) -> None:
        """Resolve a head's ``thresholds='tuned'`` or file for this evaluation."""
        for head in _model(runner).modules():
            source = getattr(head, 'threshold_source', None)
            if not isinstance(head, ImbalanceHeadMixin) or source is None \
                    or not source.needs_run():
                continue
            try:
                thresholds = source.resolve(head.num_classes, context.work_dir,
                                            context.tuned_thresholds)
            except FileNotFoundError:
                if not self.training:
                    raise
                thresholds = None  # the first validation writes it
            head.set_thresholds(thresholds)

    def _refuse_tuned_in_validation(self, runner) -> None:
        loop = runner._val_loop if isinstance(getattr(runner, '_val_loop', None), BaseLoop) \
            else None
        for metric in ([] if loop is None else _multilabel_metrics(loop.evaluator)):
            source = getattr(metric, 'thresholds', None)
            if source is not None and source.is_tuned:
                raise ValueError(
                    f"{type(metric).__name__}(thresholds='tuned') is in the val_evaluator: a "
                    'validation while training tunes the thresholds (TunedThresholdF1); '
                    "thresholds='tuned' belongs in the test_evaluator")

    # --- tuned thresholds into the checkpoint of their weights -------------------------
    def _add_to_saved_checkpoint(self, runner, tuned: TunedThresholds) -> None:
        """Add ``tuned`` to the checkpoint saved right before the validation, if it holds
        the weights they were tuned for (same training iteration)."""
        if not is_main_process():
            return
        path = runner.message_hub.get_info('last_ckpt')
        if not path or not osp.isfile(path):
            return

        def add(checkpoint: dict) -> bool:
            if checkpoint.get('meta', {}).get('iter') != tuned.iter:
                return False
            thresholds_file.to_checkpoint(checkpoint, tuned)
            return True

        try:
            added = update_checkpoint_file(path, add)
        except Exception as error:  # the run goes on; thresholds.json still holds them
            _log(f'could not add the thresholds tuned at {tuned.tuned_on} to {path} '
                 f'({type(error).__name__}: {error}); a test of it will have none',
                 logging.WARNING)
            return
        if added:
            _log(f'thresholds tuned at {tuned.tuned_on} added to {path}')


def _refuse_mixing_unknown_labels(runner) -> None:
    """ValueError when batch augments would mix unknown (-1) target cells into numbers."""
    metainfo = getattr(runner.train_dataloader.dataset, 'metainfo', None) or {}
    preprocessor = getattr(_model(runner), 'data_preprocessor', None)
    if metainfo.get('unknown_labels') and getattr(preprocessor, 'batch_augments', None):
        raise ValueError(
            'the training set has unknown (-1) labels and model.data_preprocessor.batch_augments '
            '(Mixup, CutMix) would mix them into meaningless targets: remove batch_augments '
            'from the config for partial labels')


def _hides_labels(dataset) -> bool:
    """Whether ``dataset`` (or a dataset it wraps) is a :class:`PartialLabelDataset`."""
    while dataset is not None:
        if isinstance(dataset, PartialLabelDataset):
            return True
        dataset = getattr(dataset, 'dataset', None)
    return False


def _check_split_classes(train: Sequence[str], split: str, dataset) -> None:
    """The evaluated split must have the training set's classes, in its order."""
    classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
    source = getattr(dataset, 'ann_file', '') or type(dataset).__name__
    if classes:
        class_stats_file.check_same_classes(train, classes, f'the {split} set ({source})')


def _model(runner):
    return runner.model.module if is_model_wrapper(runner.model) else runner.model


def _multilabel_metrics(evaluator) -> List[BaseMultiLabelMetric]:
    return [m for m in getattr(evaluator, 'metrics', []) if isinstance(m, BaseMultiLabelMetric)]
