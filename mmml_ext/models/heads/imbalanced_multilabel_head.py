"""``ImbalancedMultiLabelHead``: a linear multi-label head with a prior bias and tuned thresholds.

Two habits of long-tailed multi-label training, in one head:

- **Prior bias initialisation.** The classifier bias starts at
  b_c = -log((1 - pi_c) / pi_c), the logit of each class's prior pi_c, so the
  first predictions match the label frequencies instead of 0.5 everywhere (the
  initial loss of the many negatives no longer swamps training). pi comes from
  the training class counts (``prior='counts'``, from the config or
  ``ClassCountsHook``) or is given as a list.
- **Per-class thresholds at predict time.** ``thresholds`` is one threshold, a
  list, or the ``thresholds.json`` that ``TunedThresholdF1`` writes on the
  validation set (classes it could not tune use its global threshold), so
  ``pred_label`` follows thresholds tuned on validation data.

Any registered loss works (``MultiLabelAsymmetricLoss``, ``MultiLabelFocalLoss``,
``ClassBalancedLoss``, ``DistributionBalancedLoss``, mmpretrain's losses).
"""
import json
from typing import List, Optional, Sequence, Union

import torch
from mmpretrain.models.heads import MultiLabelLinearClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ...functional.balanced_losses import prior_logit_bias
from ..losses.class_counts_mixin import NeedsClassCounts

Thresholds = Union[float, Sequence[float], str, None]


def load_thresholds(thresholds: Thresholds, num_classes: int) -> Optional[torch.Tensor]:
    """(C,) thresholds from a number, a list, or a ``thresholds.json`` file."""
    if thresholds is None:
        return None
    source = 'thresholds'
    if isinstance(thresholds, str):
        source = thresholds
        with open(thresholds) as f:
            data = json.load(f)
        if not isinstance(data, dict) or 'per_class' not in data or 'global' not in data:
            raise ValueError(f'{thresholds} is not a thresholds file: it needs "global" and '
                             '"per_class" (as TunedThresholdF1 writes)')
        thresholds = [data['global'] if t is None else t for t in data['per_class']]
    if isinstance(thresholds, (int, float)):
        thresholds = [float(thresholds)] * num_classes
    values = torch.as_tensor([float(t) for t in thresholds], dtype=torch.float32)
    if values.numel() != num_classes:
        raise ValueError(f'{source} has {values.numel()} thresholds for {num_classes} classes')
    if bool(((values <= 0) | (values > 1)).any()):
        raise ValueError(f'{source}: thresholds must lie in (0, 1], got {values.tolist()}')
    return values


@MODELS.register_module()
class ImbalancedMultiLabelHead(MultiLabelLinearClsHead, NeedsClassCounts):
    """Linear multi-label head with prior bias initialisation and per-class thresholds.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Input feature channels.
        loss (dict): Any registered multi-label loss. Defaults to
            ``MultiLabelAsymmetricLoss()``.
        prior (str | Sequence[float], optional): ``'counts'`` to initialise
            the bias from the training class counts, a list of class priors
            pi_c in (0, 1), or None for no prior. Defaults to None.
        class_counts (list | str, optional): Training images per class (or a
            JSON file) for ``prior='counts'``. Defaults to ``ClassCountsHook``.
        num_images (int, optional): Number of training images, same source.
        thresholds (float | list | str, optional): Per-class thresholds of
            ``pred_label``: one number, a list, or a ``thresholds.json``.
            Defaults to None: ``thr`` / ``topk`` as in mmpretrain.
        thr, topk: mmpretrain's, used without ``thresholds``.
        init_cfg (dict): Defaults to a normal init of the linear layer.

    Examples:
        >>> head = dict(type='ImbalancedMultiLabelHead', num_classes=20, in_channels=512,
        ...             loss=dict(type='MultiLabelAsymmetricLoss'), prior='counts',
        ...             thresholds='work_dirs/exp/thresholds.json')
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 loss: dict = dict(type='MultiLabelAsymmetricLoss'),
                 prior: Union[str, Sequence[float], None] = None,
                 class_counts: Union[str, Sequence[int], None] = None,
                 num_images: Optional[int] = None,
                 thresholds: Thresholds = None,
                 thr: Optional[float] = None,
                 topk: Optional[int] = None,
                 init_cfg: Optional[dict] = dict(type='Normal', layer='Linear', std=0.01)):
        super().__init__(num_classes=num_classes, in_channels=in_channels, loss=loss, thr=thr,
                         topk=topk, init_cfg=init_cfg)
        if isinstance(prior, str) and prior != 'counts':
            raise ValueError(f"prior must be 'counts', a list of class priors or None, got {prior!r}")
        if prior is not None and not isinstance(prior, str):
            prior = [float(p) for p in prior]
            if len(prior) != num_classes or not all(0 < p < 1 for p in prior):
                raise ValueError(f'prior must hold {num_classes} class priors in (0, 1), '
                                 f'got {prior}')
        self.prior = prior
        self.init_class_counts(class_counts, num_images)
        self.register_buffer('thresholds', load_thresholds(thresholds, num_classes),
                             persistent=False)

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

    def _get_predictions(self, cls_score: torch.Tensor,
                         data_samples: Optional[List[DataSample]]) -> List[DataSample]:
        if self.thresholds is None:
            return super()._get_predictions(cls_score, data_samples)
        pred_scores = torch.sigmoid(cls_score)
        positive = pred_scores >= self.thresholds.to(pred_scores.device)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(cls_score.size(0))]
        for data_sample, score, mask in zip(data_samples, pred_scores, positive):
            data_sample.set_pred_score(score).set_pred_label(mask.nonzero().flatten())
        return data_samples
