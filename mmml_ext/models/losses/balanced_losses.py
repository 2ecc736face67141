"""``ClassBalancedLoss`` and ``DistributionBalancedLoss``: losses that know class frequencies.

Both need the training images per class (and DB the number of training
images): from ``class_counts=`` / ``num_images=`` in the config, or from
``RunFactsHook`` before the first iteration. Formulas:
:mod:`mmml_ext.functional.balanced_losses` and docs/losses.md.
"""
from typing import Optional, Sequence, Union

import torch
from mmpretrain.registry import MODELS

from ...functional.balanced_losses import (distribution_balanced_from_terms,
                                           effective_number_weights, inverse_counts,
                                           prior_logit_bias)
from .base import MultiLabelLoss
from .class_counts_mixin import NeedsClassCounts


@MODELS.register_module()
class ClassBalancedLoss(MultiLabelLoss, NeedsClassCounts):
    """Effective-number class weights around an element-wise multi-label loss.

    w_c = (1 - beta) / (1 - beta^n_c), normalised to sum to C, multiplies the
    element-wise loss of class c, in the inner loss's precision (float64 for
    float64 logits, else float32).

    Args:
        loss (dict): Config of the inner loss, any of this package's
            multi-label losses or mmpretrain's ``CrossEntropyLoss(use_sigmoid=True)``.
            Defaults to ``MultiLabelFocalLoss(gamma=2, alpha=None)``.
        beta (float): In [0, 1); 0 gives equal weights, towards 1 inverse
            frequency. Defaults to 0.999.
        class_counts (list | str, optional): Training images per class, or a
            JSON file of them. Defaults to ``RunFactsHook``.
        reduction (str): ``'mean'``, ``'sum'`` or ``'none'``.
        loss_weight (float): Defaults to 1.
    """

    def __init__(self, loss: Optional[dict] = None, beta: float = 0.999,
                 class_counts: Union[str, Sequence[int], None] = None, reduction: str = 'mean',
                 loss_weight: float = 1.0, **kwargs) -> None:
        super().__init__(reduction, loss_weight, **kwargs)
        if not 0 <= beta < 1:
            raise ValueError(f'beta must be in [0, 1), got {beta!r}')
        self.beta = beta
        self.inner = MODELS.build(loss or dict(type='MultiLabelFocalLoss', gamma=2.0, alpha=None))
        self.init_class_counts(class_counts)
        self.register_buffer('class_weight', None, persistent=False)
        # float64 copy for float64 losses, off the module (not every device has float64)
        self._class_weight64: Optional[torch.Tensor] = None
        self.on_class_counts()

    def on_class_counts(self) -> None:
        if self.class_counts is not None:
            self._class_weight64 = effective_number_weights(self.class_counts, self.beta)
            self.class_weight = self._class_weight64.float()

    def elementwise(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """w_c times the inner element-wise loss, in float64 if that is float64, else float32."""
        self.require_class_counts(logits.shape[1])
        inner = self.inner(logits, target, reduction_override='none')
        if inner.dtype == torch.float64:
            weight = self._class_weight64
        else:
            weight, inner = self.class_weight, inner.float()
        return inner * weight.to(device=inner.device, dtype=inner.dtype)


@MODELS.register_module()
class DistributionBalancedLoss(MultiLabelLoss, NeedsClassCounts):
    """Distribution-balanced loss (Wu et al., ECCV 2020).

    Re-balanced weighting, ``sigmoid(map_beta (r - map_gamma)) + map_alpha``
    with r the class-level over instance-level sampling probability, and
    negative-tolerant regularisation (logits shifted by ``init_bias`` times
    the class prior's logit, negatives scaled by ``neg_scale``), on BCE or, with
    ``focal=True``, on ``balance_param * (1 - p_t)^gamma`` BCE. The defaults are
    the settings of the paper's VOC-MLT and COCO-MLT configs.

    Args:
        class_counts (list | str, optional): Training images per class, or a
            JSON file (which also gives ``num_images``). Defaults to
            ``RunFactsHook``.
        num_images (int, optional): Number of training images.
        reweight (bool): Use the re-balanced weighting. Defaults to True.
        map_alpha, map_beta, map_gamma (float): Smoothing map. Defaults to
            0.1, 10, 0.3.
        init_bias (float): Scale of the prior shift. Defaults to 0.05.
        neg_scale (float): Scale of negative logits. Defaults to 5.
        focal (bool): Focal modulation. Defaults to True.
        gamma (float): Focusing parameter. Defaults to 2.
        balance_param (float): Factor of the focal term. Defaults to 2.
        reduction (str): ``'mean'`` (sum over classes, mean over samples),
            ``'sum'`` or ``'none'``.
        loss_weight (float): Defaults to 1.
    """

    def __init__(self, class_counts: Union[str, Sequence[int], None] = None,
                 num_images: Optional[int] = None, reweight: bool = True, map_alpha: float = 0.1,
                 map_beta: float = 10.0, map_gamma: float = 0.3, init_bias: float = 0.05,
                 neg_scale: float = 5.0, focal: bool = True, gamma: float = 2.0,
                 balance_param: float = 2.0, reduction: str = 'mean',
                 loss_weight: float = 1.0, **kwargs) -> None:
        super().__init__(reduction, loss_weight, **kwargs)
        if not neg_scale > 0:
            raise ValueError(f'neg_scale must be > 0, got {neg_scale!r}')
        if not gamma >= 0:
            raise ValueError(f'gamma must be >= 0, got {gamma!r}')
        self.init_class_counts(class_counts, num_images)
        self.options = dict(reweight=reweight, map_alpha=map_alpha, map_beta=map_beta,
                            map_gamma=map_gamma, init_bias=init_bias, neg_scale=neg_scale,
                            focal=focal, gamma=gamma, balance_param=balance_param)
        # the class terms, formed once from the counts (not at every step)
        self.register_buffer('inv_counts', None, persistent=False)
        self.register_buffer('prior_logit', None, persistent=False)
        self.on_class_counts()

    def on_class_counts(self) -> None:
        if self.class_counts is not None and self.num_images is not None:
            self.inv_counts = inverse_counts(self.class_counts)
            self.prior_logit = prior_logit_bias(self.class_counts, self.num_images)

    def elementwise(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self.require_class_counts(logits.shape[1], need_num_images=True)
        return distribution_balanced_from_terms(
            logits, target, self.inv_counts.to(logits.device),
            self.prior_logit.to(logits.device), **self.options)
