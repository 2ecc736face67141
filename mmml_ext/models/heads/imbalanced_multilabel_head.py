"""``ImbalancedMultiLabelHead``: a linear multi-label head with a prior bias and tuned thresholds.

The counterpart of mmpretrain's ``MultiLabelLinearClsHead`` with the habits of
long-tailed multi-label training that all the plugin's heads share
(:mod:`.imbalance_head_mixin`):

- **Prior bias initialisation.** The classifier bias starts at
  b_c = -log((1 - pi_c) / pi_c), the logit of each class's prior pi_c, so the
  first predictions match the label frequencies instead of 0.5 everywhere (the
  initial loss of the many negatives no longer swamps training). pi comes from
  the training class counts (``prior='counts'``, from the config or
  ``RunFactsHook``) or is given as a list.
- **Per-class thresholds at predict time.** ``thresholds`` is one number, a
  list, ``'tuned'`` (the thresholds tuned on validation for the checkpoint
  under test, which ``RunFactsHook`` gives) or a thresholds file.
- **Any registered loss**, with unknown (-1) targets refused by a loss that
  would read them as numbers.
"""
from typing import Optional, Sequence, Union

import torch
from mmpretrain.models.heads import MultiLabelLinearClsHead
from mmpretrain.registry import MODELS

from ...config_keys import refuse_unknown
from ...run_facts.tuned_thresholds import ThresholdSpec
from .imbalance_head_mixin import ImbalanceHeadMixin, check_head_options


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
class ImbalancedMultiLabelHead(ImbalanceHeadMixin, MultiLabelLinearClsHead):
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
        check_head_options(num_classes, thresholds, thr, topk)
        super().__init__(num_classes=num_classes, in_channels=in_channels, loss=loss, thr=thr,
                         topk=topk, init_cfg=init_cfg)
        self.init_head_options(prior, class_counts, num_images, thresholds)

    def classifier_bias(self) -> torch.Tensor:
        return self.fc.bias
