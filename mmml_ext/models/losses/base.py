"""What every multi-label loss module shares: target conversion, weighting, reduction.

Subclasses implement :meth:`MultiLabelLoss.elementwise` on (N, C) logits and
float targets; the base class takes mmpretrain's loss call,
``forward(cls_score, label, weight=None, avg_factor=None, reduction_override=None)``,
turns index lists into one-hot targets, checks the targets (values in [0, 1];
-1 marks an unknown cell, "not annotated", which by default gets no loss and no
gradient; NaN, inf and any other value are a ValueError naming the first bad
cell), and reduces: ``mean`` is the sum over classes averaged over samples
(docs/losses.md). A loss that reads unknown cells another way (as negatives,
weak negatives, candidates for correction) overrides
:meth:`MultiLabelLoss.unknown_aware_loss`.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from ...functional.loss_reduction import check_reduction, weight_and_reduce
from ...functional.target_codes import UNKNOWN
from ...config_keys import refuse_unknown
from .mmpretrain_args import check_use_sigmoid


def as_multilabel_target(label, logits: torch.Tensor) -> torch.Tensor:
    """(N, C) float targets from a tensor of the logits' shape or N index lists."""
    num_samples, num_classes = logits.shape
    if isinstance(label, torch.Tensor) and label.shape == logits.shape:
        return label.to(device=logits.device, dtype=torch.float32)
    if isinstance(label, torch.Tensor) and label.dim() == 2:
        raise ValueError(f'label of shape {tuple(label.shape)} does not match the logits '
                         f'{tuple(logits.shape)}')
    rows: List = list(label)
    if len(rows) != num_samples:
        raise ValueError(f'{len(rows)} label lists for {num_samples} samples')
    target = torch.zeros(num_samples, num_classes, device=logits.device)
    for i, row in enumerate(rows):
        idx = torch.as_tensor(row, dtype=torch.long, device=logits.device).reshape(-1)
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= num_classes):
            raise ValueError(f'sample {i} has label index {idx.tolist()} outside '
                             f'[0, {num_classes})')
        target[i, idx] = 1
    return target


def check_target_values(target: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """The detailed check of (N, C) targets that are not all in [0, 1].

    Returns:
        tuple: the targets with unknown cells (-1) set to 0, and the (N, C)
        mask of unknown cells.

    Raises:
        ValueError: at the first NaN or infinite target, else at the first
            target outside [0, 1] that is not -1, naming its (sample, class).
    """
    finite = torch.isfinite(target)
    if not bool(finite.all()):
        sample, cls = (~finite).nonzero()[0].tolist()
        raise ValueError(f'targets must be finite numbers in [0, 1] (or -1 for unknown), got '
                         f'{target[sample, cls].item()} at (sample {sample}, class {cls})')
    ignored = target == UNKNOWN
    bad = ((target < 0) | (target > 1)) & ~ignored
    if bool(bad.any()):
        sample, cls = bad.nonzero()[0].tolist()
        value = target[sample, cls].item()
        hint = (' (a negative target other than -1 is what batch augments such as Mixup or '
                'CutMix make of unknown cells: they cannot be used with unknown labels)'
                if -1 < value < 0 else '')
        raise ValueError(f'targets must lie in [0, 1] (or be -1 for unknown), got '
                         f'{value} at (sample {sample}, class {cls}){hint}')
    return target.clamp(min=0), ignored


def traced_target_check(target: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """The target check without a branch on a value, for ``torch.compile``.

    :func:`check_target_values` reads values on the host (``bool()``) to branch and to
    name the first bad cell; under the compiler that would split the graph. Here the
    unknown mask is always formed (all False without an unknown cell, which leaves every
    loss as it is) and a bad value stops the step through ``torch._assert_async``.

    Returns:
        tuple: the targets with unknown cells (-1) set to 0, and the (N, C) mask of
        unknown cells.
    """
    unknown = target == UNKNOWN
    valid = ((target >= 0) & (target <= 1)) | unknown  # NaN compares False: invalid
    torch._assert_async(valid.all(), 'targets must be finite numbers in [0, 1] (or -1 for '
                        'unknown); run one step without torch.compile to see the first bad cell')
    return target.clamp(min=0), unknown


class MultiLabelLoss(nn.Module):
    """Base of the multi-label losses.

    Args:
        reduction (str): ``'mean'`` (sum over classes, mean over samples),
            ``'sum'`` or ``'none'``. Defaults to ``'mean'``.
        loss_weight (float): Factor of the loss. Defaults to 1.
        use_sigmoid (bool): mmpretrain's key, kept by a config that changes only
            ``type=``: True (what every loss here computes); False is refused,
            naming mmpretrain's softmax losses. Defaults to True.

    A subclass passes its unknown keyword arguments on (``**kwargs``), and any
    argument that no ``__init__`` of its class takes is a ValueError listing the
    ones they take.
    """

    def __init__(self, reduction: str = 'mean', loss_weight: float = 1.0,
                 use_sigmoid: bool = True, **unexpected) -> None:
        check_use_sigmoid(type(self), use_sigmoid)
        refuse_unknown(self, unexpected, hint='mmpretrain counterparts: docs/migrating.md')
        super().__init__()
        check_reduction(reduction)
        self.reduction = reduction
        self.loss_weight = loss_weight

    def elementwise(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(N, C) float32 loss of (N, C) logits and targets in [0, 1]."""
        raise NotImplementedError

    def unknown_aware_loss(self, logits: torch.Tensor, target: torch.Tensor,
                           unknown: Optional[torch.Tensor]) -> torch.Tensor:
        """(N, C) loss of targets in [0, 1] whose unknown cells (mask ``unknown``, or None
        when there are none) were set to 0: by default an unknown cell gets no loss and no
        gradient."""
        loss = self.elementwise(logits, target)
        return loss if unknown is None else loss.masked_fill(unknown, 0.0)

    @staticmethod
    def checked_target(cls_score: torch.Tensor, label: Union[torch.Tensor, Sequence]
                       ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """(targets in [0, 1] with unknown cells set to 0, the mask of unknown cells or None
        when there are none) of mmpretrain's ``label``, checked against ``cls_score``."""
        if cls_score.dim() != 2:
            raise ValueError(f'cls_score must have shape (N, C), got {tuple(cls_score.shape)}')
        target = as_multilabel_target(label, cls_score)
        if torch.compiler.is_compiling():
            return traced_target_check(target)
        if target.numel():
            low, high = torch.aminmax(target)  # one pass over the common case
            if not bool((low >= 0) & (high <= 1)):  # NaN compares False: caught here
                return check_target_values(target)
        return target, None

    def forward(self,
                cls_score: torch.Tensor,
                label: Union[torch.Tensor, Sequence],
                weight: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> torch.Tensor:
        reduction = reduction_override or self.reduction
        check_reduction(reduction)
        target, unknown = self.checked_target(cls_score, label)
        loss = self.unknown_aware_loss(cls_score, target, unknown)
        return self.loss_weight * weight_and_reduce(loss, weight, reduction, avg_factor)
