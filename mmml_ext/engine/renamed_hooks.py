"""The names of the hooks that ``RunFactsHook`` replaced, kept only to say so.

``ClassCountsHook`` (class counts for the losses and the head) and
``MultiLabelEvalHook`` (work dir, evaluation name and class counts for the
metrics) each found the run's facts their own way; ``RunFactsHook`` is now the
one hook for all of them. A config that still names either gets an error that
says what to write instead.
"""
from mmengine.hooks import Hook

from mmpretrain.registry import HOOKS

_MESSAGE = ("{name} was replaced by RunFactsHook, which gives the losses, the head and the "
            "metrics the run's class statistics, tuned thresholds and evaluation context: "
            "write custom_hooks = [dict(type='RunFactsHook')] (once, instead of "
            "ClassCountsHook and MultiLabelEvalHook)")


class _RenamedHook(Hook):

    def __init__(self, *args, **kwargs) -> None:
        raise ValueError(_MESSAGE.format(name=type(self).__name__))


@HOOKS.register_module()
class ClassCountsHook(_RenamedHook):
    """Replaced by ``RunFactsHook``; building it raises a ValueError that says so."""


@HOOKS.register_module()
class MultiLabelEvalHook(_RenamedHook):
    """Replaced by ``RunFactsHook``; building it raises a ValueError that says so."""
