"""What the plugin's multi-label heads share, whatever computes their logits.

A head of this plugin (the linear ``ImbalancedMultiLabelHead``, the cross-attention
``MLDecoderHead``) differs from mmpretrain's in three habits of long-tailed training, which
live here once:

- **Prior bias initialisation**: the classifier bias starts at b_c = logit(pi_c), the
  class priors, from the training class counts (``prior='counts'``) or a list.
- **Per-class thresholds at predict time**: ``thresholds`` is one number, a list,
  ``'tuned'`` (tuned on validation for the checkpoint under test; ``RunFactsHook`` calls
  :meth:`ImbalanceHeadMixin.set_thresholds`) or a file; predictions follow
  :func:`mmml_ext.functional.multilabel_predict`, the rule every metric uses.
- **The -1 rule**: unknown target cells reach the plugin's losses unchanged; any other loss
  refuses them; a loss that remembers labels per image gets the images' ``sample_idx``.

A head lists the mixin first among its bases, checks its options with
:func:`check_head_options` before building its layers, calls :meth:`init_head_options`
after, and names its classifier bias in :meth:`classifier_bias`.
"""
import logging
from typing import List, Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from mmpretrain.models.losses import CrossEntropyLoss
from mmpretrain.structures import DataSample

from ...functional import multilabel_predict
from ...functional.balanced_losses import prior_logit_bias
from ...functional.checks import check_thr, check_topk
from ...run_facts.tuned_thresholds import ThresholdSource, ThresholdSpec
from ..losses.base import MultiLabelLoss
from ..losses.class_counts_mixin import NeedsClassCounts


def check_head_options(num_classes: int, thresholds: ThresholdSpec, thr: Optional[float],
                       topk: Optional[int]) -> None:
    """ValueErrors for a head's prediction options, before any layer is built."""
    check_thr(thr, name='thr')
    check_topk(topk, num_classes)
    if thresholds is not None and thr is not None:
        raise ValueError('give thr or thresholds, not both: thresholds sets the threshold '
                         'of every class')


class ImbalanceHeadMixin(NeedsClassCounts):
    """Prior bias, per-class thresholds and the -1 rule of a multi-label head
    (an mmpretrain ``MultiLabelClsHead``, listed after this mixin)."""

    def init_head_options(self, prior: Union[str, Sequence[float], None],
                          class_counts: Union[str, Sequence[int], None],
                          num_images: Optional[int], thresholds: ThresholdSpec) -> None:
        """Check the loss and the prior; keep the prior, the class counts and the thresholds."""
        name = type(self).__name__
        if isinstance(self.loss_module, CrossEntropyLoss) and not self.loss_module.use_sigmoid:
            raise ValueError(
                f'{name} got a softmax CrossEntropyLoss (use_sigmoid=False), a single-label '
                'loss: use CrossEntropyLoss(use_sigmoid=True) or a multi-label loss of this '
                "plugin. Inherited from a base config's head? Write "
                f"head=dict(_delete_=True, type='{name}', ...)")
        if isinstance(prior, str) and prior != 'counts':
            raise ValueError(f"prior must be 'counts', a list of class priors or None, got {prior!r}")
        if prior is not None and not isinstance(prior, str):
            prior = [float(p) for p in prior]
            if len(prior) != self.num_classes or not all(0 < p < 1 for p in prior):
                raise ValueError(f'prior must hold {self.num_classes} class priors in (0, 1), '
                                 f'got {prior}')
        self.prior = prior
        self.init_class_counts(class_counts, num_images)
        self.threshold_source = None if thresholds is None else ThresholdSource(thresholds)
        fixed = None
        if self.threshold_source is not None:
            self.thr = None  # mmpretrain's default 0.5 does not apply
            if not self.threshold_source.needs_run():
                fixed = self.threshold_source.resolve(self.num_classes)
        self.register_buffer('class_thresholds', fixed, persistent=False)
        self._told_no_thresholds = False

    def classifier_bias(self) -> torch.Tensor:
        """The (C,) bias parameter of the logits, which the prior initialises."""
        raise NotImplementedError

    def needs_class_counts(self) -> bool:
        return self.prior == 'counts'

    def prior_bias(self) -> torch.Tensor:
        """b_c = logit(pi_c) of the configured prior."""
        if self.prior == 'counts':
            counts = self.require_class_counts(self.num_classes, need_num_images=True)
            return prior_logit_bias(counts, self.num_images)
        return torch.logit(torch.tensor(self.prior, dtype=torch.float64)).float()

    def init_weights(self) -> None:
        super().init_weights()
        if self.prior is not None:
            bias = self.classifier_bias()
            with torch.no_grad():
                bias.copy_(self.prior_bias().to(bias.device))

    def set_thresholds(self, thresholds: Optional[torch.Tensor]) -> None:
        """Give the (C,) thresholds of ``thresholds='tuned'`` or a relative file
        (``RunFactsHook`` calls this before each evaluation); None until known."""
        if thresholds is not None:
            check_thr(thresholds, self.num_classes, name='thresholds')
            thresholds = thresholds.to(self.classifier_bias().device, torch.float32)
        self.class_thresholds = thresholds

    def _get_loss(self, cls_score: torch.Tensor, data_samples: List[DataSample], **kwargs):
        """mmpretrain's loss of a batch (targets from ``gt_score``, which may hold unknown -1
        cells, or ``gt_label``), refusing -1 for a loss that would read it as a number, and
        with the images' ``sample_idx`` for a loss that needs them."""
        if not isinstance(self.loss_module, MultiLabelLoss) and 'gt_score' in data_samples[0] \
                and bool((torch.stack([s.gt_score for s in data_samples]) == -1).any()):
            raise ValueError(
                f'the targets hold unknown (-1) cells and {type(self.loss_module).__name__} '
                'would read them as numbers (a wrong loss): use a loss of mmml_ext, which masks '
                "them (MultiLabelBCELoss(unknown='ignore') is binary cross-entropy)")
        if getattr(self.loss_module, 'needs_sample_idx', False):
            if any('sample_idx' not in sample for sample in data_samples):
                raise ValueError(f'{type(self.loss_module).__name__} needs the sample_idx of '
                                 "each training image: keep 'sample_idx' in the meta_keys of "
                                 "the training pipeline's PackInputs (its default)")
            kwargs['sample_idx'] = [sample.sample_idx for sample in data_samples]
        return super()._get_loss(cls_score, data_samples, **kwargs)

    def _get_predictions(self, cls_score: torch.Tensor,
                         data_samples: Optional[List[DataSample]]) -> List[DataSample]:
        pred_scores = torch.sigmoid(cls_score)
        thr = self.thr
        if self.threshold_source is not None:
            thr = self.class_thresholds
            if thr is None:
                if not self._told_no_thresholds:
                    self._told_no_thresholds = True
                    print_log(f'{type(self).__name__}: thresholds={self.threshold_source.spec!r}'
                              ' are not known (RunFactsHook gives them to a test of a '
                              'checkpoint that has them); pred_label uses 0.5 until they are',
                              logger='current', level=logging.WARNING)
                thr = 0.5 if self.topk is None else None
        positive = multilabel_predict(pred_scores, thr, self.topk, validate_args=False)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(cls_score.size(0))]
        rows, labels = positive.nonzero(as_tuple=True)
        per_sample = labels.split(torch.bincount(rows, minlength=len(positive)).tolist())
        for data_sample, score, label in zip(data_samples, pred_scores, per_sample):
            data_sample.set_pred_score(score).set_pred_label(label)
        return data_samples
