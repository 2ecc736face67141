"""Give the losses and the head the training class counts before the first iteration."""
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import BaseLoop

from mmpretrain.registry import HOOKS

from ..models.losses.class_counts_mixin import NeedsClassCounts
from .train_class_counts import train_class_counts


@HOOKS.register_module()
class ClassCountsHook(Hook):
    """Set ``class_counts`` / ``num_images`` on every model part that needs them.

    Before a training run (so before the weights are initialised), every
    module of the model that needs class frequencies (``ClassBalancedLoss``,
    ``DistributionBalancedLoss``, ``ImbalancedMultiLabelHead(prior='counts')``)
    and has none from its config gets them from the training set: its
    metainfo's ``train_class_counts``, or one pass over its labels.

    Examples:
        >>> custom_hooks = [dict(type='ClassCountsHook')]
    """
    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        if not isinstance(getattr(runner, '_train_loop', None), BaseLoop):
            return  # testing or validating only: the weights come from a checkpoint
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        needing = [m for m in model.modules()
                   if isinstance(m, NeedsClassCounts) and m.needs_class_counts()
                   and (m.class_counts is None or m.num_images is None)]
        if not needing:
            return
        counts, num_images = train_class_counts(runner)
        for module in needing:
            if module.class_counts is None:
                module.set_class_counts(counts, num_images)
            else:  # counts from the config: only the number of images is missing
                module.set_class_counts(module.class_counts, num_images)
        print_log(f'ClassCountsHook: training class counts ({num_images} images, '
                  f'{len(counts)} classes) given to '
                  f'{sorted({type(m).__name__ for m in needing})}', logger='current')
