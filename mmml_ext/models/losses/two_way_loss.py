"""``TwoWayMultiLabelLoss``: the two-way loss of Kobayashi (CVPR 2023), on the global batch."""
import torch
from mmpretrain.registry import MODELS

from ...functional.two_way_loss import check_temperatures, gather_batch, two_way_loss
from .base import MultiLabelLoss

BATCH_SCOPES = ('global', 'local')


@MODELS.register_module()
class TwoWayMultiLabelLoss(MultiLabelLoss):
    """Two-way multi-label loss: positives ranked above negatives in each sample and in each
    class of the batch.

    l(S) = softplus(Tn log sum_n exp(x_n / Tn) + Tp log sum_p exp(-x_p / Tp)) over the
    positives p and negatives n of a set S; the loss is the mean of l over the batch's rows
    with a positive plus the mean of l over its columns with a positive
    (:mod:`mmml_ext.functional.two_way_loss`; docs/losses.md).

    Args:
        pos_temperature (float): Tp, the softness of the hardest positive. Defaults to 4
            (the paper's).
        neg_temperature (float): Tn, the softness of the hardest negative. Defaults to 1
            (the paper's).
        batch (str): What the class-wise term ranks in a distributed run: ``'global'``
            (every process's samples, gathered: the loss and, after DDP's mean over the
            processes, the gradient of one process on the whole batch; the loss does not
            change with the number of GPUs) or ``'local'`` (the process's own samples, no
            communication). Defaults to ``'global'``.
        reduction (str): ``'mean'`` only: the loss is a mean over rows and over columns by
            definition (mmpretrain's ``avg_factor`` is not used).
        loss_weight (float): Defaults to 1.

    Targets are binary: 1 positive, 0 negative, -1 unknown (neither; no loss, no
    gradient). A soft target (label smoothing, Mixup, CutMix) is a ValueError, since the
    loss has no reading of one; so is a per-sample ``weight``.

    Examples:
        >>> loss = dict(type='TwoWayMultiLabelLoss', pos_temperature=4.0, neg_temperature=1.0)
    """

    def __init__(self, pos_temperature: float = 4.0, neg_temperature: float = 1.0,
                 batch: str = 'global', reduction: str = 'mean', loss_weight: float = 1.0,
                 **kwargs) -> None:
        super().__init__(reduction, loss_weight, **kwargs)
        check_temperatures(pos_temperature, neg_temperature)
        if batch not in BATCH_SCOPES:
            raise ValueError(f'batch must be one of {BATCH_SCOPES}, got {batch!r}')
        if reduction != 'mean':
            raise ValueError(f"TwoWayMultiLabelLoss has reduction='mean' only (a mean over "
                             f"rows plus a mean over columns), got {reduction!r}")
        self.pos_temperature, self.neg_temperature = pos_temperature, neg_temperature
        self.batch = batch

    def forward(self, cls_score, label, weight=None, avg_factor=None, reduction_override=None,
                **kwargs) -> torch.Tensor:
        if weight is not None:
            raise ValueError('TwoWayMultiLabelLoss takes no weight: its class-wise term ranks '
                             'samples against each other, where a per-sample weight has no '
                             'reading')
        if reduction_override not in (None, 'mean'):
            raise ValueError(f"TwoWayMultiLabelLoss has reduction='mean' only, got "
                             f'reduction_override={reduction_override!r}')
        target, unknown = self.checked_target(cls_score, label)
        if not torch.compiler.is_compiling():
            # the targets are in [0, 1] here: t (1 - t) >= 0, > 0 at a soft one (one pass
            # and a dot product, where comparisons and bool masks took four passes)
            flat = target.reshape(-1)
            if bool(torch.dot(flat, 1.0 - flat) > 0):
                soft = (target != 0) & (target != 1)
                sample, cls = soft.nonzero()[0].tolist()
                raise ValueError(
                    'TwoWayMultiLabelLoss compares positives with negatives: targets must be '
                    f'1, 0 or -1 (unknown), got {target[sample, cls].item():g} at (sample '
                    f'{sample}, class {cls}) (soft targets come from label smoothing, Mixup '
                    'or CutMix)')
        world = 1
        if self.batch == 'global':
            cls_score, target, unknown, world = gather_batch(cls_score, target, unknown)
        loss = two_way_loss(cls_score, target, unknown, self.pos_temperature,
                            self.neg_temperature)
        if world > 1:  # the global loss's value; a gradient that DDP's mean over the
            # processes turns into the global batch's gradient
            loss = loss * world - loss.detach() * (world - 1)
        return self.loss_weight * loss
