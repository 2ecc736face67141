"""A test run's predictions: ``<work_dir>/test_predictions.npz``, written once, read by the comparison.

Every statistic of a comparison (bootstrap intervals, paired differences,
calibration, re-evaluation at other thresholds) starts from what the model
predicted on the test set. ``RunFactsHook`` writes it after each test, from the
rows the metrics gathered: every test sample once, in dataset order, also
under DDP (the main process writes). The file (numpy ``.npz``):

- ``scores``: (N, C) float32 probabilities;
- ``target``: (N, C) int8, 1 positive, 0 negative, -1 ignored, and
  :data:`DIFFICULT` (2) for a label seen only on difficult objects (VOC),
  which each metric reads by its ``difficult_as`` (:meth:`TestPredictions.target_as`);
- ``classes``: (C,) class names;
- ``sample_idx``: (N,) int64 dataset index of each row;
- ``thresholds``: (C,) float32, the validation-tuned thresholds the test's
  ``*_valtuned`` metric used, or empty;
- ``train_class_counts``: (C,) int64 training images per class (head /
  medium / tail groups, as the test's ``MeanAP`` had them), or empty;
- ``settings``: JSON, the settings the test's metrics used, by family
  (:data:`FAMILIES`): ``mAP`` (``difficult_as``, ``absent_classes``,
  ``group_bounds``, ``class_counts``), ``prf`` (the CP ... OF1 keys at the
  default threshold: ``difficult_as``, ``absent_classes``, ``thr``, ``topk``),
  ``prf_tuned`` (the ``*_valtuned`` keys: the same with ``thresholds``),
  ``subset`` (``difficult_as``, ``thr``, ``topk``) and ``calibration``
  (``difficult_as``, ``num_bins``). A statistic repeats them, so that its
  interval is about the very number the test logged.

A user can re-evaluate from it without running the model again
(:func:`read`, then :mod:`mmml_ext.functional`).
"""
import json
import os
import os.path as osp
import zipfile
import zlib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Dict, Optional, Sequence

import numpy as np

from ..functional.target_codes import read_difficult
from . import npz_blocks

#: The file in the work dir.
FILE_NAME = 'test_predictions.npz'
_KEYS = ('scores', 'target', 'classes', 'sample_idx', 'thresholds', 'train_class_counts')
#: The metric families whose settings the file keeps (see the module docstring).
FAMILIES = ('mAP', 'prf', 'prf_tuned', 'subset', 'calibration')



@dataclass
class TestPredictions:
    """What a test predicted, with what the comparison needs beside it (see the module)."""
    scores: np.ndarray
    target: np.ndarray
    classes: Sequence[str]
    sample_idx: np.ndarray
    thresholds: Optional[np.ndarray] = None
    train_class_counts: Optional[np.ndarray] = None
    settings: Dict[str, dict] = field(default_factory=dict)

    __test__ = False  # a data class, not a pytest test class

    def target_as(self, difficult_as: str = 'ignore') -> np.ndarray:
        """The target with labels only on difficult objects read as ``difficult_as``."""
        return read_difficult(self.target, difficult_as)

    def family(self, name: str) -> dict:
        """The test's settings of a metric family (empty: the metric was not in the test)."""
        return dict(self.settings.get(name) or {})

    def __post_init__(self) -> None:
        num, num_classes = self.scores.shape
        if self.target.shape != (num, num_classes):
            raise ValueError(f'target has shape {self.target.shape}, scores {self.scores.shape}')
        if self.classes is not None and len(self.classes) not in (0, num_classes):
            raise ValueError(f'{len(self.classes)} class names for {num_classes} classes')
        if len(self.sample_idx) != num:
            raise ValueError(f'{len(self.sample_idx)} sample indices for {num} rows')
        for name in ('thresholds', 'train_class_counts'):
            value = getattr(self, name)
            if value is not None and len(value) not in (0, num_classes):
                raise ValueError(f'{name} has {len(value)} entries for {num_classes} classes')
            if value is not None and len(value) == 0:
                setattr(self, name, None)


def path_in(work_dir: str) -> str:
    """``<work_dir>/test_predictions.npz``."""
    return osp.join(work_dir, FILE_NAME)


def write(predictions: TestPredictions, work_dir: str) -> str:
    """Write to :func:`path_in` ``(work_dir)`` (atomically); returns the path."""
    os.makedirs(work_dir, exist_ok=True)
    path = path_in(work_dir)
    tmp = f'{path}.tmp{os.getpid()}.npz'
    empty = np.zeros(0)
    npz_blocks.savez(tmp, dict(
        scores=predictions.scores.astype(np.float32, copy=False),
        target=predictions.target.astype(np.int8, copy=False),
        classes=np.asarray(list(predictions.classes or []), dtype=str),
        sample_idx=np.asarray(predictions.sample_idx, dtype=np.int64),
        thresholds=empty if predictions.thresholds is None else
        np.asarray(predictions.thresholds, dtype=np.float32),
        train_class_counts=empty if predictions.train_class_counts is None else
        np.asarray(predictions.train_class_counts, dtype=np.int64),
        settings=np.asarray(json.dumps(predictions.settings or {}))))
    os.replace(tmp, path)
    return path


#: The dtype kinds each member may have (numpy ``dtype.kind``): what :func:`write` gives;
#: ``settings`` is the one member a file may lack (files before it).
_KINDS = MappingProxyType(dict(scores='f', target='i', classes='U', sample_idx='iu',
                               thresholds='f', train_class_counts='iuf',
                               settings='U'))  # empty optional members are float64
#: What reading a damaged archive or member raises: not a zip, a member cut short or
#: failing its checksum, an array header that does not match its bytes.
_DAMAGE = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


def read(path: str) -> TestPredictions:
    """Read a file written by :func:`write`.

    Raises:
        FileNotFoundError: there is no file.
        ValueError: the file cannot be used, naming it and the member at fault: not
            an npz archive (cut short, another format), a member missing, cut short
            or of another dtype than :func:`write` gives, a NaN or infinite score,
            or members whose shapes disagree. Never a ``zipfile`` or numpy error:
            a comparison reports the message and goes on with the other runs.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} does not exist: test runs with RunFactsHook write it')
    try:
        archive = np.load(path, allow_pickle=False)
    except _DAMAGE as error:
        raise ValueError(f'{path} cannot be read as a test predictions file (damaged or cut '
                         f'short: {type(error).__name__}: {error}); test the run again to '
                         'write it') from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f'{path} holds one array, not a test predictions file (an npz archive)')
    with archive as data:
        missing = [key for key in _KEYS if key not in data.files]
        if missing:
            raise ValueError(f'{path} is not a test predictions file: it lacks {missing}')
        members = {key: _member(path, data, key) for key in _KINDS if key in data.files}
    scores = members['scores']
    if scores.ndim != 2:
        raise ValueError(f"{path}: member 'scores' has shape {scores.shape}, not (N, C)")
    if not np.isfinite(scores).all():
        bad = np.argwhere(~np.isfinite(scores))
        sample, cls = bad[0].tolist()
        raise ValueError(f"{path}: member 'scores' has {len(bad)} NaN or infinite value(s), the "
                         f'first at (row {sample}, class {cls}); the model under test gave them')
    try:
        settings = json.loads(str(members['settings'])) if 'settings' in members else {}
        return TestPredictions(scores, members['target'], tuple(members['classes'].tolist()),
                               members['sample_idx'], members['thresholds'],
                               members['train_class_counts'], settings)
    except ValueError as error:  # json's errors are ValueErrors too
        raise ValueError(f'{path}: {error}') from error


def _member(path: str, data, key: str) -> np.ndarray:
    """One member, read whole; a damaged one or one of another dtype is a ValueError."""
    try:
        value = data[key]
    except _DAMAGE as error:
        raise ValueError(f'{path}: member {key!r} cannot be read (damaged or cut short: '
                         f'{type(error).__name__}: {error})') from error
    if value.dtype.kind not in _KINDS[key]:
        raise ValueError(f'{path}: member {key!r} has dtype {value.dtype}, not the documented '
                         'one (see mmml_ext.run_facts.test_predictions)')
    return value
