"""Write an ``.npz`` whose large arrays arrive in blocks of rows and are never whole in memory.

A sharded evaluation has no process that holds every prediction, yet the
predictions file (``test_predictions.npz``, or the one saved after a metric
failed) is one file in dataset order, written by one process. numpy's ``.npz``
is a zip of ``.npy`` members; each member is written here as its header and
then its rows, block after block, so the file reads back with ``np.load``.
"""
import zipfile
from typing import Callable, Dict, Iterable, NamedTuple, Tuple, Union

import numpy as np


class BlockArray(NamedTuple):
    """An array given by its shape, dtype and its rows in blocks (a fresh iterator per call)."""
    shape: Tuple[int, ...]
    dtype: np.dtype
    blocks: Callable[[], Iterable[np.ndarray]]

    def astype(self, dtype, copy: bool = False) -> 'BlockArray':
        if np.dtype(dtype) != np.dtype(self.dtype):
            raise ValueError(f'blocks of {np.dtype(self.dtype)} cannot be written as '
                             f'{np.dtype(dtype)}')
        return self


def savez(path: str, arrays: Dict[str, Union[np.ndarray, BlockArray]]) -> None:
    """Write ``arrays`` to ``path`` as an uncompressed ``.npz`` (zip64), as ``np.savez`` would.

    Raises:
        ValueError: The blocks of an array do not add up to its shape.
    """
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, value in arrays.items():
            with archive.open(f'{name}.npy', 'w', force_zip64=True) as member:
                if not isinstance(value, BlockArray):
                    np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
                    continue
                dtype = np.dtype(value.dtype)
                np.lib.format.write_array_header_2_0(member, dict(
                    descr=np.lib.format.dtype_to_descr(dtype), fortran_order=False,
                    shape=tuple(value.shape)))
                rows = 0
                for block in value.blocks():
                    block = np.ascontiguousarray(block, dtype=dtype)
                    if block.shape[1:] != tuple(value.shape[1:]):
                        raise ValueError(f'{name}: a block of shape {block.shape} for an array '
                                         f'of shape {tuple(value.shape)}')
                    member.write(block.tobytes())
                    rows += len(block)
                if rows != value.shape[0]:
                    raise ValueError(f'{name}: the blocks hold {rows} rows, the array '
                                     f'{value.shape[0]}')
