"""``LargeLossRejection``: BCE with unobserved labels as negatives, the largest losses modified.

Kim et al., CVPR 2022, "Large Loss Matters in Weakly Supervised Multi-Label
Classification"; formulas, schedule and defaults in
:mod:`mmml_ext.functional.large_loss` and docs/losses.md.

Unobserved cells are the unknown (-1) cells of the targets (a
``PartialLabelDataset`` with ``unobserved='unknown'`` gives them); 0 cells are
observed negatives and keep their BCE. The epoch comes from the Runner.
``mode='correct_permanent'`` remembers the corrected (image, class) cells by
the images' ``sample_idx``, which ``ImbalancedMultiLabelHead`` passes; under
torch.distributed every process gets every process's corrections at each
step, so the next epoch's sampler may send an image anywhere. The corrections
are part of the module's state: they are saved in checkpoints and restored on
``--resume``.
"""
import logging
from typing import Optional, Sequence, Union

import torch
from mmengine import dist
from mmengine.logging import print_log
from mmpretrain.registry import MODELS

from ...functional.large_loss import (DEFAULT_DELTA_REL, check_large_loss_args, large_loss,
                                      modification_rate)
from .base import MultiLabelLoss
from .training_epoch import EpochAware


@MODELS.register_module()
class LargeLossRejection(EpochAware, MultiLabelLoss):
    """Large loss rejection (LL-R) or correction (LL-Ct, LL-Cp) of unobserved labels.

    Args:
        mode (str): ``'reject'`` (LL-R: the largest unobserved losses get no
            loss), ``'correct'`` (LL-Ct: they are positives for the step) or
            ``'correct_permanent'`` (LL-Cp: positives for good).
            Defaults to ``'reject'``.
        delta_rel (float, optional): Growth of the modified share per epoch,
            in percent of a batch's cells (LL-Cp: the fixed share), as the
            paper's Delta_rel. Defaults to the paper's COCO settings: 0.4 for
            LL-R, 0.2 for LL-Ct and LL-Cp.
        reduction (str): ``'mean'`` (sum over classes, mean over samples),
            ``'sum'`` or ``'none'``. The paper's code averages over all cells:
            its loss is ``'mean'`` / C.
        loss_weight (float): Defaults to 1.

    Examples:
        >>> loss = dict(type='LargeLossRejection', mode='reject')             # LL-R
        >>> loss = dict(type='LargeLossRejection', mode='correct_permanent')  # LL-Cp
    """

    def __init__(self, mode: str = 'reject', delta_rel: Optional[float] = None,
                 reduction: str = 'mean', loss_weight: float = 1.0, **kwargs) -> None:
        super().__init__(reduction, loss_weight, **kwargs)
        if delta_rel is None and mode in DEFAULT_DELTA_REL:
            delta_rel = DEFAULT_DELTA_REL[mode]
        check_large_loss_args(mode, delta_rel)
        self.mode, self.delta_rel = mode, delta_rel
        #: sorted flat keys sample_idx * C + class of the cells corrected for good (LL-Cp)
        self.corrected = torch.zeros(0, dtype=torch.int64)
        self._num_classes: Optional[int] = None
        self._sample_idx: Optional[torch.Tensor] = None
        self._logged_epoch: Optional[int] = None

    @property
    def needs_sample_idx(self) -> bool:
        """Whether the head must pass the images' ``sample_idx`` (LL-Cp)."""
        return self.mode == 'correct_permanent'

    def forward(self, cls_score: torch.Tensor, label: Union[torch.Tensor, Sequence],
                weight: Optional[torch.Tensor] = None, avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                sample_idx: Optional[Sequence[int]] = None, **kwargs) -> torch.Tensor:
        """mmpretrain's loss call, plus the images' ``sample_idx`` for LL-Cp."""
        if self.needs_sample_idx:
            if sample_idx is None:
                raise ValueError(
                    "LargeLossRejection(mode='correct_permanent') remembers corrected labels by "
                    'image and needs their sample_idx: use it in ImbalancedMultiLabelHead '
                    '(which passes them), or call it with sample_idx=...')
            sample_idx = torch.as_tensor(sample_idx, dtype=torch.int64).reshape(-1)
            if len(sample_idx) != len(cls_score):
                raise ValueError(f'{len(sample_idx)} sample_idx for {len(cls_score)} samples')
        self._sample_idx = sample_idx
        try:
            return super().forward(cls_score, label, weight, avg_factor, reduction_override)
        finally:
            self._sample_idx = None

    def elementwise(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.unknown_aware_loss(logits, target, None)

    def unknown_aware_loss(self, logits: torch.Tensor, target: torch.Tensor,
                           unknown: Optional[torch.Tensor]) -> torch.Tensor:
        unobserved = torch.zeros_like(target, dtype=torch.bool) if unknown is None else unknown
        epoch = self.current_epoch(first_change=1)
        keys = None
        if self.needs_sample_idx:
            self._check_classes(logits.shape[1])
            keys = (self._sample_idx.to(logits.device)[:, None] * logits.shape[1]
                    + torch.arange(logits.shape[1], device=logits.device))
            if self.corrected.numel():
                done = torch.isin(keys, self.corrected.to(logits.device)) & unobserved
                target = torch.where(done, torch.ones_like(target), target)
                unobserved = unobserved & ~done
        rate = modification_rate(self.mode, epoch, self.delta_rel)
        loss, chosen = large_loss(logits, target, unobserved, self.mode, rate)
        if keys is not None and self.training:
            self._remember(keys[chosen].cpu(), epoch)
        return loss

    def _check_classes(self, num_classes: int) -> None:
        if self._num_classes is None:
            self._num_classes = num_classes
        elif self._num_classes != num_classes:
            raise ValueError(f'LargeLossRejection holds corrections for {self._num_classes} '
                             f'classes, got logits of {num_classes}')

    def _remember(self, new_keys: torch.Tensor, epoch: int) -> None:
        """Keep the cells corrected for good, from every process."""
        if dist.get_world_size() > 1:
            new_keys = torch.cat([k.reshape(-1) for k in dist.all_gather_object(new_keys)])
        if new_keys.numel():
            self.corrected = torch.unique(torch.cat([self.corrected, new_keys.long()]))
        if epoch != self._logged_epoch and epoch >= 1:
            self._logged_epoch = epoch
            print_log(f'LargeLossRejection: {self.corrected.numel()} unobserved labels corrected '
                      'to positive so far', logger='current', level=logging.INFO)

    def get_extra_state(self) -> dict:
        return dict(corrected=self.corrected.clone(),
                    num_classes=-1 if self._num_classes is None else self._num_classes)

    def set_extra_state(self, state) -> None:
        if not isinstance(state, dict) or 'corrected' not in state:
            raise ValueError('LargeLossRejection: the checkpoint holds no corrected labels '
                             f'state, got {type(state).__name__}')
        corrected = torch.as_tensor(state['corrected'], dtype=torch.int64).reshape(-1)
        self.corrected = torch.unique(corrected.cpu())
        num_classes = int(state.get('num_classes', -1))
        self._num_classes = None if num_classes < 0 else num_classes
