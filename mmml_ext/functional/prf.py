"""Precision, recall and F1 of multi-label predictions, per class and overall.

From per-class counts TP_c, FP_c, FN_c (a zero denominator gives 0):

    P_c = TP_c / (TP_c + FP_c)         R_c = TP_c / (TP_c + FN_c)
    CP  = mean_c P_c                   CR  = mean_c R_c
    CF1 = 2 CP CR / (CP + CR)          (the papers' CF1: ML-GCN, mmcls 0.x)
    OP  = sum TP / sum (TP + FP)       OR  = sum TP / sum (TP + FN)
    OF1 = 2 OP OR / (OP + OR)
    macro_F1 = mean_c 2 P_c R_c / (P_c + R_c)   (a different number from CF1)

Every class enters the means, also one with no positive (its R_c is 0),
unless ``present`` says which classes to average over (the registered metrics
leave out the classes with no positive in the evaluated data by default).
"""
from typing import Dict, Optional

import torch


def safe_divide(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """``num / den`` in float64, 0 where ``den`` is 0."""
    num, den = num.double(), den.double()
    return torch.where(den > 0, num / den.clamp(min=1e-300), torch.zeros_like(num))


def harmonic_f1(precision: torch.Tensor, recall: torch.Tensor) -> torch.Tensor:
    """2PR / (P + R), 0 where both are 0."""
    return safe_divide(2 * precision * recall, precision + recall)


def per_class_prf(tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Per-class precision, recall and F1 (float64 (C,) tensors, fractions)."""
    precision = safe_divide(tp, tp + fp)
    recall = safe_divide(tp, tp + fn)
    return dict(precision=precision, recall=recall, f1=harmonic_f1(precision, recall))


def batched_precision_recall_f1(tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor,
                                present: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
    """:func:`precision_recall_f1` of many count sets at once (e.g. bootstrap replicates).

    Args:
        tp, fp, fn (torch.Tensor): (..., C) counts.
        present (torch.Tensor, optional): (..., C) or (C,) bool, the classes
            that enter the class means. Defaults to all classes.

    Returns:
        dict: the same keys, each a (...) float64 tensor of fractions; the class
        means are NaN where ``present`` selects no class.
    """
    shapes = {tuple(t.shape) for t in (tp, fp, fn)}
    if len(shapes) != 1 or len(next(iter(shapes))) < 1:
        raise ValueError(f'tp, fp and fn must be tensors of one shape (..., C), got '
                         f'{sorted(shapes)}')
    per_class = per_class_prf(tp, fp, fn)
    weight = torch.ones_like(per_class['precision']) if present is None else \
        present.to(torch.float64).expand_as(per_class['precision'])
    num = weight.sum(dim=-1)
    means = {key: torch.where(num > 0, (value * weight).sum(dim=-1) / num.clamp(min=1),
                              torch.full_like(num, float('nan')))
             for key, value in per_class.items()}  # NaN over no class
    cp, cr = means['precision'], means['recall']
    op = safe_divide(tp.sum(dim=-1), (tp + fp).sum(dim=-1))
    orec = safe_divide(tp.sum(dim=-1), (tp + fn).sum(dim=-1))
    cf1 = torch.where(torch.isnan(cp), cp, harmonic_f1(cp, cr))
    return dict(CP=cp, CR=cr, CF1=cf1, OP=op, OR=orec, OF1=harmonic_f1(op, orec),
                macro_F1=means['f1'])


def precision_recall_f1(tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor,
                        present: Optional[torch.Tensor] = None) -> Dict[str, float]:
    """CP, CR, CF1, OP, OR, OF1 and macro_F1 from per-class counts, as fractions.

    Args:
        tp, fp, fn (torch.Tensor): (C,) counts, e.g. from
            :func:`mmml_ext.functional.confusion_counts`.
        present (torch.Tensor, optional): (C,) bool, the classes that enter
            the class means (CP, CR, CF1, macro_F1); the overall numbers
            always pool every class. Defaults to all classes.

    Returns:
        dict: ``CP``, ``CR``, ``CF1``, ``OP``, ``OR``, ``OF1``, ``macro_F1``,
        floats in [0, 1]; the class means are NaN when ``present`` selects no
        class.

    Examples:
        >>> tp, fp, fn = torch.tensor([2, 0]), torch.tensor([0, 1]), torch.tensor([1, 1])
        >>> {k: round(v, 4) for k, v in precision_recall_f1(tp, fp, fn).items()}
        {'CP': 0.5, 'CR': 0.3333, 'CF1': 0.4, 'OP': 0.6667, 'OR': 0.5, 'OF1': 0.5714, 'macro_F1': 0.4}
    """
    shapes = {tuple(t.shape) for t in (tp, fp, fn)}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise ValueError(f'tp, fp and fn must be 1-D tensors of one shape, got {sorted(shapes)}')
    result = batched_precision_recall_f1(tp, fp, fn, present)
    return {key: float(value) for key, value in result.items()}
