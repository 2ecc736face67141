"""The shared part of the multi-label metrics: collect rows, compute, lose nothing.

Each metric subclasses :class:`BaseMultiLabelMetric` and implements
:meth:`~BaseMultiLabelMetric.compute` on stacked (N, C) scores and targets. The
base class stores compact per-sample rows (see
:mod:`mmml_ext.evaluation.sample_results`), validates ``items``, and, if
computing fails, first writes the gathered predictions to the output directory
and then raises an error that says where they are.
"""
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from ..functional.checks import check_scores
from .sample_results import DIFFICULT_AS, batch_results, derived, release_batch_cache, stack_results


class BaseMultiLabelMetric(BaseMetric):
    """Base of the multi-label metrics.

    Args:
        items (Sequence[str], optional): Keys to report, a subset of
            ``ALL_ITEMS``. Defaults to ``DEFAULT_ITEMS``.
        difficult_as (str): What a label seen only on difficult objects (VOC's
            ``gt_label_difficult``) counts as: ``'ignore'`` (default),
            ``'positive'`` or ``'negative'``.
        out_dir (str, optional): Where reports and, after a failure, the
            predictions are written. Defaults to the work dir, which
            ``MultiLabelEvalHook`` provides; without it, the current directory.
        collect_device (str): ``'cpu'`` or ``'gpu'``, for gathering results
            across processes. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the keys. Defaults to
            ``'multi-label'``.
        collect_dir (str, optional): Directory for gathering on CPU.
    """
    default_prefix = 'multi-label'
    ALL_ITEMS: Sequence[str] = ()
    DEFAULT_ITEMS: Sequence[str] = ()

    def __init__(self,
                 items: Optional[Sequence[str]] = None,
                 difficult_as: str = 'ignore',
                 out_dir: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        items = tuple(self.DEFAULT_ITEMS if items is None else items)
        if isinstance(items, str) or not items:
            raise ValueError(f'items must be a non-empty sequence of names, got {items!r}')
        unknown = [item for item in items if item not in self.ALL_ITEMS]
        if unknown:
            raise ValueError(f'{type(self).__name__} has no item(s) {unknown}; '
                             f'choose from {list(self.ALL_ITEMS)}')
        if difficult_as not in DIFFICULT_AS:
            raise ValueError(f'difficult_as must be one of {DIFFICULT_AS}, got {difficult_as!r}')
        self.items = items
        self.difficult_as = difficult_as
        self.out_dir = out_dir
        #: the Runner's work dir and the name of this evaluation, e.g. 'val_epoch_3'
        #: (set by MultiLabelEvalHook)
        self.work_dir: Optional[str] = None
        self.eval_tag = 'eval'
        self._stacked = None

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each sample's scores (float32) and target (int8) rows."""
        self.results.extend(batch_results(data_samples, self.difficult_as))

    def compute(self, scores: torch.Tensor, target: torch.Tensor) -> Dict[str, float]:
        """The metric values from (N, C) scores and int8 targets; keys from ``items``.

        The scores are already checked (finite, (N, C)); kernels may be called
        with ``validate_args=False``.
        """
        raise NotImplementedError

    def shared(self, key, compute):
        """A value derived from the evaluated rows, computed once for all metrics."""
        return derived(self._stacked, key, compute)

    def compute_metrics(self, results: List) -> Dict[str, float]:
        release_batch_cache()
        self._stacked = stacked = stack_results(results)
        scores, target = stacked.scores, stacked.target
        try:
            if not stacked.checked:
                check_scores(scores)
                stacked.checked = True
            return self.compute(scores, target)
        except Exception as error:
            path = self.save_predictions(scores, target)
            message = (f'{type(self).__name__} failed: {error}. The {len(scores)} gathered '
                       f'predictions were saved first, to {path} (numpy .npz: scores, '
                       'target, classes)')
            try:
                new_error = type(error)(message)
            except Exception:
                new_error = RuntimeError(message)
            raise new_error from error
        finally:
            self._stacked = None

    def output_dir(self, fallback: Optional[str] = '.') -> Optional[str]:
        """``out_dir``, else the work dir from the hook, else ``fallback``."""
        if self.out_dir is not None:
            return self.out_dir
        return self.work_dir if self.work_dir is not None else fallback

    def save_predictions(self, scores: torch.Tensor, target: torch.Tensor) -> str:
        out_dir = self.output_dir()
        os.makedirs(out_dir, exist_ok=True)
        stamp = time.strftime('%Y%m%d_%H%M%S')
        path = osp.join(out_dir, f'predictions_{self.eval_tag}_{type(self).__name__}_{stamp}.npz')
        classes = np.asarray((self.dataset_meta or {}).get('classes') or [], dtype=str)
        np.savez(path, scores=scores.numpy(), target=target.numpy(), classes=classes)
        print_log(f'{type(self).__name__}: predictions saved to {path}', logger='current')
        return path

    @property
    def class_names(self) -> Optional[Sequence[str]]:
        return (self.dataset_meta or {}).get('classes')


def percent(values: Dict[str, float], items: Sequence[str]) -> Dict[str, float]:
    """The chosen items as percentages, the convention of mmpretrain's metrics."""
    return {item: values[item] * 100.0 for item in items}
