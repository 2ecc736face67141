"""Decision thresholds tuned on the validation set: their file, their checkpoint entry, their fill rule.

``TunedThresholdF1`` tunes, at each validation, one global threshold and one
threshold per class. This module is the one owner of that fact:

- :class:`TunedThresholds` holds them, with the evaluation they were tuned on
  and the number of training iterations done by then (which pairs them with the
  checkpoint of the same weights); :meth:`TunedThresholds.values` applies the
  one fill rule: a class that could not be tuned (no positive) takes the global
  threshold;
- :func:`write` / :func:`read` keep the latest ones in
  ``<work_dir>/thresholds.json`` (:data:`FILE_NAME`, :func:`path_in`);
- :func:`to_checkpoint` / :func:`from_checkpoint` keep them in the meta of the
  checkpoint of the weights they were tuned for;
- :class:`ThresholdSource` reads what a config gives as ``thresholds`` (to the
  head and to the metrics alike): a number, a per-class list, ``'tuned'`` (the
  thresholds of the checkpoint under evaluation) or a file (a relative path is
  relative to the work dir).

The file::

    {"global": 0.42, "per_class": [0.31, null, ...], "classes": ["cat", ...],
     "tuned_on": "val_epoch_6", "iter": 150, "objective": "F1",
     "inverse_temperature": [0.71, null, ...]}
"""
import math
import os.path as osp
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import torch

from ..functional.checks import check_thr
from . import checkpoint_meta
from .json_file import read_json, write_json

#: The file in the work dir (the latest validation's thresholds).
FILE_NAME = 'thresholds.json'
#: The name of the fact in a checkpoint's meta.
META_NAME = 'tuned_thresholds'
#: The ``thresholds`` value that means "the thresholds tuned for these weights".
TUNED = 'tuned'

ThresholdSpec = Union[float, Sequence[float], str, None]


def _threshold(value, where: str) -> float:
    check_thr(value, name=where)
    return float(value)


@dataclass(frozen=True)
class TunedThresholds:
    """A global threshold and per-class thresholds tuned on a validation set.

    Attributes:
        global_thr (float): The one threshold for all classes that maximises
            the objective.
        per_class (tuple): One threshold per class, None for a class that
            could not be tuned (no positive in the validation data).
        classes (tuple[str]): Class names, or empty when unknown.
        tuned_on (str): The evaluation they come from (``val_epoch_6``).
        iter (int, optional): Training iterations done when they were tuned;
            a checkpoint with the same ``meta['iter']`` holds the same weights.
        objective (str): What they maximise. Defaults to ``'F1'``.
        inverse_temperature (tuple): Per-class temperature scaling fitted on
            the same validation data (:mod:`mmml_ext.functional.temperature_scaling`),
            None for a class it could not fit; empty when none was fitted.
            The thresholds stay on the scale of the model's own scores.
    """
    global_thr: float
    per_class: Tuple[Optional[float], ...]
    classes: Tuple[str, ...] = ()
    tuned_on: str = ''
    iter: Optional[int] = None
    objective: str = 'F1'
    inverse_temperature: Tuple[Optional[float], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, 'global_thr', _threshold(self.global_thr, 'the global threshold'))
        per_class = tuple(None if t is None else _threshold(t, f'the threshold of class {c}')
                          for c, t in enumerate(self.per_class))
        if not per_class:
            raise ValueError('tuned thresholds need at least one class')
        if self.classes and len(self.classes) != len(per_class):
            raise ValueError(f'{len(self.classes)} class names for {len(per_class)} thresholds')
        object.__setattr__(self, 'per_class', per_class)
        object.__setattr__(self, 'classes', tuple(str(c) for c in self.classes))
        scales = tuple(None if a is None else float(a) for a in self.inverse_temperature)
        if scales and len(scales) != len(per_class):
            raise ValueError(f'{len(scales)} inverse temperatures for {len(per_class)} thresholds')
        if any(a is not None and not (math.isfinite(a) and a > 0) for a in scales):
            raise ValueError(f'inverse temperatures must be positive numbers, got {list(scales)}')
        object.__setattr__(self, 'inverse_temperature', scales)

    @classmethod
    def from_tensors(cls, global_thr: float, per_class: torch.Tensor,
                     inverse_temperature: Optional[torch.Tensor] = None,
                     **kwargs) -> 'TunedThresholds':
        """From a tuner's output: (C,) thresholds (and inverse temperatures) with NaN for a
        class it could not tune."""
        def listed(values):
            return tuple(None if math.isnan(v) else v for v in values.tolist())
        return cls(float(global_thr), listed(per_class),
                   inverse_temperature=() if inverse_temperature is None
                   else listed(inverse_temperature), **kwargs)

    @property
    def calibrated(self) -> bool:
        """Whether a temperature scaling was fitted with the thresholds."""
        return bool(self.inverse_temperature)

    @property
    def num_classes(self) -> int:
        return len(self.per_class)

    def inverse_temperatures(self, num_classes: Optional[int] = None,
                             user: str = 'thresholds') -> torch.Tensor:
        """(C,) float64; 1 (no change) for a class that could not be fitted or when none was."""
        self._check_classes(num_classes, user)
        return torch.tensor([1.0 if a is None else a for a in self.inverse_temperature]
                            or [1.0] * self.num_classes, dtype=torch.float64)

    def _check_classes(self, num_classes: Optional[int], user: str) -> None:
        if num_classes is not None and num_classes != self.num_classes:
            raise ValueError(f'{user}: the tuned thresholds ({self.tuned_on or "?"}) are for '
                             f'{self.num_classes} classes, the scores have {num_classes}')

    def values(self, num_classes: Optional[int] = None, user: str = 'thresholds') -> torch.Tensor:
        """(C,) float32 thresholds; a class that could not be tuned takes the global threshold."""
        self._check_classes(num_classes, user)
        return torch.tensor([self.global_thr if t is None else t for t in self.per_class],
                            dtype=torch.float32)

    def to_dict(self) -> dict:
        data = {'global': self.global_thr, 'per_class': list(self.per_class),
                'classes': list(self.classes), 'tuned_on': self.tuned_on, 'iter': self.iter,
                'objective': self.objective}
        if self.inverse_temperature:
            data['inverse_temperature'] = list(self.inverse_temperature)
        return data

    @classmethod
    def from_dict(cls, data, source: str) -> 'TunedThresholds':
        if not isinstance(data, dict) or 'per_class' not in data or 'global' not in data:
            raise ValueError(f'{source} is not a thresholds file: it needs "global" and '
                             '"per_class" (as TunedThresholdF1 writes)')
        try:
            return cls(data['global'], tuple(data['per_class']), tuple(data.get('classes') or ()),
                       str(data.get('tuned_on') or ''), data.get('iter'),
                       str(data.get('objective') or 'F1'),
                       tuple(data.get('inverse_temperature') or ()))
        except (TypeError, ValueError) as error:
            raise ValueError(f'{source}: {error}') from error


def path_in(work_dir: str) -> str:
    """``<work_dir>/thresholds.json``."""
    return osp.join(work_dir, FILE_NAME)


def write(thresholds: TunedThresholds, work_dir: str) -> str:
    """Write to :func:`path_in` ``(work_dir)`` (atomically); returns the path."""
    return write_json(path_in(work_dir), thresholds.to_dict())


def read(path: str) -> TunedThresholds:
    """Read a thresholds file."""
    data = read_json(path, 'evaluate the validation set with TunedThresholdF1 first '
                     f'(RunFactsHook writes <work_dir>/{FILE_NAME})')
    return TunedThresholds.from_dict(data, path)


def to_checkpoint(checkpoint: dict, thresholds: TunedThresholds) -> None:
    """Store ``thresholds`` in ``checkpoint['meta']``."""
    checkpoint_meta.put_fact(checkpoint, META_NAME, thresholds.to_dict())


def from_checkpoint(checkpoint: dict) -> Optional[TunedThresholds]:
    """The thresholds stored in a checkpoint, or None."""
    data = checkpoint_meta.get_fact(checkpoint, META_NAME)
    return None if data is None else TunedThresholds.from_dict(data, 'the checkpoint meta')


class ThresholdSource:
    """What a config gives as ``thresholds``, for the head and the metrics alike.

    - a number, or a list of one number per class: fixed thresholds in [0, 1];
    - ``'tuned'``: the thresholds tuned on validation for the weights under
      evaluation, from the loaded checkpoint (``RunFactsHook`` provides them);
    - any other string: a thresholds file; a relative path is relative to the
      work dir, read at each evaluation.

    Args:
        spec: One of the above.
        name (str): The config key, for error messages.
    """

    def __init__(self, spec: ThresholdSpec, name: str = 'thresholds') -> None:
        self.name = name
        if isinstance(spec, str):
            if not spec:
                raise ValueError(f'{name} must not be an empty string')
        elif isinstance(spec, (int, float)) and not isinstance(spec, bool):
            spec = _threshold(spec, name)
        elif isinstance(spec, (list, tuple)):
            spec = tuple(_threshold(t, f'{name}[{c}]') for c, t in enumerate(spec))
            if not spec:
                raise ValueError(f'{name} must not be an empty list')
        else:
            raise ValueError(f"{name} must be a number in [0, 1], a list of per-class thresholds, "
                             f"'{TUNED}' or a thresholds file, got {spec!r}")
        self.spec = spec

    @property
    def is_tuned(self) -> bool:
        return self.spec == TUNED

    @property
    def is_file(self) -> bool:
        return isinstance(self.spec, str) and not self.is_tuned

    def needs_run(self) -> bool:
        """Whether resolving needs the run: its tuned thresholds or its work dir."""
        return self.is_tuned or (self.is_file and not osp.isabs(self.spec))

    def file_path(self, work_dir: Optional[str]) -> Optional[str]:
        """The thresholds file, a relative one joined to ``work_dir``; None if not a file."""
        if not self.is_file:
            return None
        if osp.isabs(self.spec):
            return self.spec
        if work_dir is None:
            raise ValueError(f'{self.name}={self.spec!r} is relative to the work dir, which is '
                             "not known here: add dict(type='RunFactsHook') to custom_hooks or "
                             'give an absolute path')
        return osp.join(work_dir, self.spec)

    def resolve(self, num_classes: int, work_dir: Optional[str] = None,
                tuned: Optional[TunedThresholds] = None) -> Optional[torch.Tensor]:
        """(C,) float32 thresholds, or None for ``'tuned'`` when none were tuned for these weights.

        Raises:
            ValueError: A list or file for another number of classes.
            FileNotFoundError: The thresholds file does not exist.
        """
        if self.is_tuned:
            return None if tuned is None else tuned.values(num_classes, self.name)
        if self.is_file:
            return read(self.file_path(work_dir)).values(num_classes, self.name)
        if isinstance(self.spec, float):
            return torch.full((num_classes, ), self.spec, dtype=torch.float32)
        if len(self.spec) != num_classes:
            raise ValueError(f'{self.name} has {len(self.spec)} thresholds for {num_classes} '
                             'classes')
        return torch.tensor(self.spec, dtype=torch.float32)

    def __repr__(self) -> str:
        return f'ThresholdSource({self.spec!r})'
