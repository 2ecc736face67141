"""Load mmengine / mmpretrain checkpoints safely on torch >= 2.6.

torch >= 2.6 unpickles checkpoints with ``weights_only=True`` by default: only
allowlisted globals may be built, so a checkpoint cannot run code. mmengine
0.10.x checkpoints carry a few globals that are not on torch's own list (message
hub history buffers, numpy scalars and arrays), so ``resume``, ``load_from`` and
``tools/test.py CONFIG CKPT`` fail on a checkpoint the same stack has just
written. Importing :mod:`mmml_ext` calls :func:`register_checkpoint_globals`,
which allowlists exactly those globals, and replaces mmengine's loader of local
files with :func:`load_from_local_safely`, which always passes
``weights_only=True`` (so no environment switch can turn the check off) and
refuses any other global with a message that names it.

The allowlist, found by reading real checkpoints of this stack:

- ``mmengine.logging.history_buffer.HistoryBuffer`` and its statistics methods,
  which a buffer's state refers to as ``getattr(HistoryBuffer, 'mean')``; so
  ``builtins.getattr`` is allowlisted as :func:`history_buffer_getattr`, which
  resolves only those names;
- ``numpy.ndarray``, ``numpy.dtype``, every class of ``numpy.dtypes``, and
  numpy's array and scalar rebuild functions, under their numpy 2 names and
  their numpy 1 names (``numpy.core.multiarray.*``), so that checkpoints written
  with either load.

Tensors, optimizer and scheduler state (dicts, lists, numbers, strings) are
already on torch's own list.
"""
import os
import os.path as osp
import pickle
import re
from typing import Any, Callable, List, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

SafeGlobal = Union[Callable, Tuple[Callable, str]]

#: The statistics methods that a pickled HistoryBuffer refers to by getattr.
HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs a global that is not on the allowlist."""


def history_buffer_getattr(obj: Any, name: str) -> Callable:
    """``getattr`` restricted to what a pickled ``HistoryBuffer`` asks for.

    A buffer's state holds its statistics methods, which pickle stores as
    ``getattr(HistoryBuffer, 'min')``. Allowlisting the real ``getattr`` would
    let a checkpoint read any attribute of any allowlisted object; this one
    resolves only ``HistoryBuffer.<method>``.
    """
    if obj is HistoryBuffer and name in HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    owner = getattr(obj, '__qualname__', type(obj).__qualname__)
    raise UnsafeCheckpointError(
        f'the checkpoint asks for attribute {name!r} of {owner}; only '
        f'HistoryBuffer.{{{",".join(HISTORY_BUFFER_METHODS)}}} are allowed')


def _numpy_globals() -> List[SafeGlobal]:
    """numpy's globals in checkpoints, under the names numpy 1 and 2 pickle."""
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    found: List[SafeGlobal] = [np.ndarray, np.dtype]
    for func in (multiarray._reconstruct, multiarray.scalar):
        for module in ('numpy._core.multiarray', 'numpy.core.multiarray'):
            found.append((func, f'{module}.{func.__name__}'))
    found.extend(getattr(np.dtypes, name) for name in np.dtypes.__all__)
    return found


def checkpoint_safe_globals() -> List[SafeGlobal]:
    """Every global that mmml_ext allowlists for ``weights_only`` loading."""
    return [
        HistoryBuffer,
        (history_buffer_getattr, 'builtins.getattr'),
        *_numpy_globals(),
    ]


def _refusal_message(filename: str, error: Exception) -> str:
    """Say why ``filename`` was refused, without torch's advice to turn the check off."""
    text = str(error)
    match = re.search(r'GLOBAL (\S+)', text)
    if match:
        reason = (f'it needs the global {match.group(1)!r}, which is not on the allowlist '
                  'of checkpoint globals (training state, message hub buffers, numpy '
                  'scalars and arrays, optimizer and scheduler state)')
    else:
        match = re.search(r'WeightsUnpickler error:\s*(.+?)\s*(?:\n\n|$)', text, re.S)
        reason = match.group(1) if match else text
    return (f'Refused to load checkpoint {filename!r}: {reason}. Nothing from the file '
            'was run. Load only checkpoints you trust; if what it needs is plain data, '
            'allowlist it with torch.serialization.add_safe_globals.')


def load_from_local_safely(filename: str, map_location: Any = None, mmap: bool = False) -> Any:
    """Load a local checkpoint with ``weights_only=True``, refusing foreign globals.

    Registered as mmengine's loader of local paths (the ``''`` scheme of
    :class:`mmengine.runner.CheckpointLoader`), so ``load_from``, ``resume``
    and ``load_checkpoint`` all come here.

    Args:
        filename (str): Path of the checkpoint file.
        map_location: Same as :func:`torch.load`.
        mmap (bool): Map the tensors from the file instead of reading them
            into memory (:func:`torch.load`'s ``mmap``). Defaults to False.

    Returns:
        The unpickled checkpoint.

    Raises:
        FileNotFoundError: ``filename`` is not a file.
        UnsafeCheckpointError: The checkpoint needs a global that is not on
            the allowlist. Nothing from the file has run.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        raise UnsafeCheckpointError(_refusal_message(filename, error)) from error


def update_checkpoint_file(filename: str, update: Callable[[dict], bool]) -> bool:
    """Load a local checkpoint safely, let ``update`` change it, and write it back atomically.

    Args:
        filename (str): Path of the checkpoint.
        update (callable): Changes the checkpoint dict in place; returns
            whether it changed anything (nothing is written otherwise).

    Returns:
        bool: Whether the file was rewritten.
    """
    checkpoint = load_from_local_safely(filename, map_location='cpu', mmap=True)
    if not update(checkpoint):
        return False
    tmp = f'{filename}.tmp{os.getpid()}'
    torch.save(checkpoint, tmp)
    os.replace(tmp, filename)
    return True


def register_checkpoint_globals() -> None:
    """Allowlist :func:`checkpoint_safe_globals` and install the safe loader.

    Called when :mod:`mmml_ext` is imported; calling it again is harmless.
    """
    if not hasattr(torch.serialization, 'add_safe_globals'):
        raise RuntimeError('mmml_ext needs torch >= 2.4 for safe checkpoint '
                           f'loading; found torch {torch.__version__}')
    torch.serialization.add_safe_globals(checkpoint_safe_globals())
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local_safely, force=True)
