"""One clear error for config keys a module does not take, read from its signature.

mmengine merges a config's dicts into its base's: a snippet that replaces the
base's loss, dataset or sampler with one of this package inherits the keys of the
replaced one (``data_root``, ``shuffle``, ``avg_non_ignore``, ...), and Python's
own ``unexpected keyword argument`` does not say why. The package's losses,
metrics, head, datasets and samplers take the unknown keys (``**unexpected``)
and hand them to :func:`refuse_unknown`, which names them, the module's own
arguments (from the signatures of its ``__init__`` methods, so no list is typed
by hand), and ``_delete_=True``.
"""
import inspect
from typing import List

# bases whose arguments a plugin class does not pass on through **kwargs
_FOREIGN = ('builtins', 'torch', 'mmengine', 'mmpretrain', 'mmcv')


def drop_leftover_delete(kwargs: dict) -> dict:
    """``kwargs`` without ``_delete_``, which mmengine leaves in a dict that had no base to replace."""
    kwargs.pop('_delete_', None)
    return kwargs


def init_arguments(cls: type) -> List[str]:
    """The keyword arguments the ``__init__`` methods of ``cls`` and its bases take.

    Bases from torch, mmengine, mmpretrain and mmcv are left out: a class of the
    package lists the arguments of theirs that it takes in its own signature.

    Examples:
        >>> class Base:
        ...     def __init__(self, reduction='mean', **unexpected): ...
        >>> class Loss(Base):
        ...     def __init__(self, gamma=2.0, **kwargs): ...
        >>> init_arguments(Loss)
        ['gamma', 'reduction']
    """
    names: List[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None or klass.__module__.split('.')[0] in _FOREIGN:
            continue
        for name, p in inspect.signature(init).parameters.items():
            if name != 'self' and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) \
                    and name not in names:
                names.append(name)
    return names


def refuse_unknown(owner: object, unexpected: dict, hint: str = '') -> None:
    """A ValueError for config keys ``owner`` (an instance or a class) does not take.

    ``_delete_`` is left alone: mmengine keeps it in a dict that had nothing to
    replace (a config without that key in its base), where it means nothing.

    Args:
        owner: The module being built (``self``) or its class.
        unexpected: The keyword arguments its signature did not name.
        hint: A sentence added to the message (where to find counterparts).
    """
    unexpected = {key: value for key, value in unexpected.items() if key != '_delete_'}
    if not unexpected:
        return
    cls = owner if isinstance(owner, type) else type(owner)
    name = cls.__name__
    raise ValueError(
        f'{name} has no argument(s) {sorted(unexpected)}; its arguments are '
        f'{init_arguments(cls)}. A key inherited from a base config (mmengine merges a '
        f"config's dict into its base's) is dropped by writing dict(_delete_=True, "
        f"type='{name}', ...) to replace the base's dict" + (f'; {hint}' if hint else ''))
