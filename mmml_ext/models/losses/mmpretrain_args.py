"""mmpretrain's loss arguments on the plugin's losses: honoured, or refused with the replacement.

A config written for mmpretrain keeps its loss arguments when only ``type=`` is
changed (mmengine merges a child config's dict into the base's), so
``dict(type='CrossEntropyLoss', use_sigmoid=True)`` becomes
``dict(type='MultiLabelBCELoss', use_sigmoid=True)``. Every loss of the plugin
therefore takes ``use_sigmoid=True`` (what it computes anyway) and refuses
``use_sigmoid=False`` (mmpretrain's softmax losses, for single-label tasks)
naming mmpretrain's loss for that case; any other unknown argument is a
ValueError that lists the valid ones (docs/migrating.md).
"""
import functools
import inspect
from typing import Callable, Dict, List


def _parameters(init: Callable) -> List[str]:
    return [name for name, p in inspect.signature(init).parameters.items()
            if name != 'self' and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _takes_any_keyword(init: Callable) -> bool:
    return any(p.kind == p.VAR_KEYWORD for p in inspect.signature(init).parameters.values())


def check_mmpretrain_args(cls: type, init: Callable, kwargs: Dict) -> None:
    """Take ``use_sigmoid`` out of ``kwargs``; ValueError for False and for unknown arguments."""
    if 'use_sigmoid' in kwargs and 'use_sigmoid' not in _parameters(init):
        use_sigmoid = kwargs.pop('use_sigmoid')
        if use_sigmoid is not True:
            raise ValueError(
                f'{cls.__name__}(use_sigmoid={use_sigmoid!r}): the losses of mmml_ext are '
                'multi-label, one sigmoid per class (use_sigmoid=True, which may be left out); '
                "use_sigmoid=False is mmpretrain's softmax loss for single-label tasks: keep "
                "mmpretrain's CrossEntropyLoss or AsymmetricLoss(use_sigmoid=False) for those")
    if _takes_any_keyword(init):
        return
    unknown = sorted(set(kwargs) - set(_parameters(init)))
    if unknown:
        raise ValueError(f'{cls.__name__} has no argument(s) {unknown}; its arguments are '
                         f'{_parameters(init)} (mmpretrain counterparts: docs/migrating.md)')


def checks_mmpretrain_args(init: Callable) -> Callable:
    """Wrap a loss's ``__init__`` with :func:`check_mmpretrain_args`."""

    @functools.wraps(init)
    def checked(self, *args, **kwargs):
        check_mmpretrain_args(type(self), init, kwargs)
        init(self, *args, **kwargs)

    checked.__wrapped_init__ = init
    return checked
