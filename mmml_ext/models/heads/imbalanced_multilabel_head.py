"""``ImbalancedMultiLabelHead``: a linear multi-label head with a prior bias and tuned thresholds.

Two habits of long-tailed multi-label training, in one head:

- **Prior bias initialisation.** The classifier bias starts at
  b_c = -log((1 - pi_c) / pi_c), the logit of each class's prior pi_c, so the
  first predictions match the label frequencies instead of 0.5 everywhere (the
  initial loss of the many negatives no longer swamps training). pi comes from
  the training class counts (``prior='counts'``, from the config or
  ``RunFactsHook``) or is given as a list.
- **Per-class thresholds at predict time.** ``thresholds`` is one number, a
  list, ``'tuned'`` (the thresholds tuned on validation for the checkpoint
  under test, which ``RunFactsHook`` gives) or a thresholds file, so
  ``pred_label`` follows thresholds tuned on validation data. Predictions come
  from :func:`mmml_ext.functional.multilabel_predict`, the rule every metric
  uses.

Any registered loss works (``MultiLabelAsymmetricLoss``, ``MultiLabelFocalLoss``,
``ClassBalancedLoss``, ``DistributionBalancedLoss``, mmpretrain's losses). Unknown
(-1, "not annotated") targets reach the loss unchanged; only the plugin's losses
know what they are, so with any other loss they are an error, not a silent
negative-target loss. A loss that remembers labels per image (large loss
correction) gets the images' ``sample_idx``.
"""
import logging
from typing import List, Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from mmpretrain.models.heads import MultiLabelLinearClsHead
from mmpretrain.models.losses import CrossEntropyLoss
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ...config_keys import refuse_unknown
from ...functional import multilabel_predict
from ...functional.balanced_losses import prior_logit_bias
from ...functional.checks import check_thr, check_topk
from ...run_facts.tuned_thresholds import ThresholdSource, ThresholdSpec
from ..losses.base import MultiLabelLoss
from ..losses.class_counts_mixin import NeedsClassCounts


def refuse_mmpretrain_head_args(num_classes: Optional[int], in_channels: Optional[int],
                                unexpected: dict) -> None:
    """ValueErrors for the arguments of mmpretrain's heads that this linear head has no use for."""
    csra = sorted(key for key in ('num_heads', 'lam') if key in unexpected)
    if csra:
        raise ValueError(
            f"ImbalancedMultiLabelHead got {csra}, arguments of mmpretrain's CSRAClsHead (class-"
            'specific residual attention on the feature map), which it does not implement: '
            "keep type='CSRAClsHead' and swap its loss for a loss of mmml_ext "
            '(docs/migrating.md)')
    if num_classes is None or in_channels is None:
        missing = [name for name, value in (('num_classes', num_classes),
                                            ('in_channels', in_channels)) if value is None]
        raise ValueError(
            f'ImbalancedMultiLabelHead needs {missing}: it is a linear head, the counterpart of '
            "mmpretrain's MultiLabelLinearClsHead. mmpretrain's MultiLabelClsHead has no layer "
            '(the backbone gives the logits): keep it and swap its loss for a loss of mmml_ext '
            '(docs/migrating.md)')


@MODELS.register_module()
class ImbalancedMultiLabelHead(MultiLabelLinearClsHead, NeedsClassCounts):
    """Linear multi-label head with prior bias initialisation and per-class thresholds.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Input feature channels.
        loss (dict): Any registered multi-label loss. Defaults to
            ``MultiLabelBCELoss()``, the counterpart of mmpretrain's default
            ``CrossEntropyLoss(use_sigmoid=True)``.
        prior (str | Sequence[float], optional): ``'counts'`` to initialise
            the bias from the training class counts, a list of class priors
            pi_c in (0, 1), or None for no prior. Defaults to None.
        class_counts (list | str, optional): Training images per class (or a
            ``class_counts.json``) for ``prior='counts'``. Defaults to ``RunFactsHook``.
        num_images (int, optional): Number of training images, same source.
        thresholds (float | list | str, optional): Per-class thresholds of
            ``pred_label``: one number, a list, ``'tuned'`` (the thresholds
            tuned on validation for the checkpoint under test) or a
            thresholds file (a relative path is relative to the work dir).
            Not with ``thr``; with ``topk``, a label must be in the top k and
            reach its threshold. Defaults to None: ``thr`` / ``topk``.
        thr (float, optional): Threshold in [0, 1] of ``pred_label``.
            Defaults to None (0.5 when ``topk`` and ``thresholds`` are None).
        topk (int, optional): Labels predicted per sample; with ``thr``, a
            label must be in the top k and reach ``thr`` (the ML-GCN rule).
        init_cfg (dict): Defaults to a normal init of the linear layer.

    Examples:
        >>> head = dict(type='ImbalancedMultiLabelHead', num_classes=20, in_channels=512,
        ...             loss=dict(type='MultiLabelAsymmetricLoss'), prior='counts',
        ...             thresholds='tuned')
    """

    def __init__(self,
                 num_classes: Optional[int] = None,
                 in_channels: Optional[int] = None,
                 loss: dict = dict(type='MultiLabelBCELoss'),
                 prior: Union[str, Sequence[float], None] = None,
                 class_counts: Union[str, Sequence[int], None] = None,
                 num_images: Optional[int] = None,
                 thresholds: ThresholdSpec = None,
                 thr: Optional[float] = None,
                 topk: Optional[int] = None,
                 init_cfg: Optional[dict] = dict(type='Normal', layer='Linear', std=0.01),
                 **unexpected):
        refuse_mmpretrain_head_args(num_classes, in_channels, unexpected)
        refuse_unknown(self, unexpected)
        check_thr(thr, name='thr')
        check_topk(topk, num_classes)
        if thresholds is not None and thr is not None:
            raise ValueError('give thr or thresholds, not both: thresholds sets the threshold '
                             'of every class')
        super().__init__(num_classes=num_classes, in_channels=in_channels, loss=loss, thr=thr,
                         topk=topk, init_cfg=init_cfg)
        if isinstance(self.loss_module, CrossEntropyLoss) and not self.loss_module.use_sigmoid:
            raise ValueError(
                'ImbalancedMultiLabelHead got a softmax CrossEntropyLoss (use_sigmoid=False), a '
                'single-label loss: use CrossEntropyLoss(use_sigmoid=True) or a multi-label loss '
                "of this plugin. Inherited from a base config's head? Write "
                "head=dict(_delete_=True, type='ImbalancedMultiLabelHead', ...)")
        if isinstance(prior, str) and prior != 'counts':
            raise ValueError(f"prior must be 'counts', a list of class priors or None, got {prior!r}")
        if prior is not None and not isinstance(prior, str):
            prior = [float(p) for p in prior]
            if len(prior) != num_classes or not all(0 < p < 1 for p in prior):
                raise ValueError(f'prior must hold {num_classes} class priors in (0, 1), '
                                 f'got {prior}')
        self.prior = prior
        self.init_class_counts(class_counts, num_images)
        self.threshold_source = None if thresholds is None else ThresholdSource(thresholds)
        fixed = None
        if self.threshold_source is not None:
            self.thr = None  # mmpretrain's default 0.5 does not apply
            if not self.threshold_source.needs_run():
                fixed = self.threshold_source.resolve(num_classes)
        self.register_buffer('class_thresholds', fixed, persistent=False)
        self._told_no_thresholds = False

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
            with torch.no_grad():
                self.fc.bias.copy_(self.prior_bias().to(self.fc.bias.device))

    def set_thresholds(self, thresholds: Optional[torch.Tensor]) -> None:
        """Give the (C,) thresholds of ``thresholds='tuned'`` or a relative file
        (``RunFactsHook`` calls this before each evaluation); None until known."""
        if thresholds is not None:
            check_thr(thresholds, self.num_classes, name='thresholds')
            thresholds = thresholds.to(self.fc.weight.device, torch.float32)
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
                    print_log(f'ImbalancedMultiLabelHead: thresholds={self.threshold_source.spec!r}'
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
