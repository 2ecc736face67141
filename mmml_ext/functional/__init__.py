"""Pure torch kernels of the multi-label metrics: no mmengine, no registry.

Vectorised over samples and classes; usable on any (N, C) scores and targets
(1 positive, 0 negative, -1 ignored). The registered metrics in
:mod:`mmml_ext.evaluation` are thin adapters over these functions.
"""
from .average_precision import average_precision, mean_average_precision
from .confusion import confusion_counts, multilabel_confusion, multilabel_predict, topk_mask
from .example_based import example_based_metrics
from .prf import per_class_prf, precision_recall_f1

__all__ = [
    'average_precision', 'mean_average_precision', 'confusion_counts', 'multilabel_confusion',
    'multilabel_predict', 'topk_mask', 'example_based_metrics', 'per_class_prf',
    'precision_recall_f1'
]
