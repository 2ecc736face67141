"""A batch of data samples as compact rows, and one dataset order for the rows of all processes.

:func:`batch_rows` converts a batch of mmpretrain data samples into (B, C)
arrays at once: float32 scores and int8 target codes (1 / 0 / -1, and
:data:`~mmml_ext.functional.target_codes.DIFFICULT`), checking each sample and
naming the first bad one. :func:`plan_rows` puts the rows of every process in
dataset order by sample index, each sample once (the sampler's padding dropped).
Both are pure functions of their arguments, used by the local rows
(:mod:`~mmml_ext.evaluation.shared_rows`) and the sharded ones
(:mod:`~mmml_ext.evaluation.sharded_rows`) alike.
"""
from typing import Any, List, NamedTuple, Optional, Sequence

import numpy as np
import torch

from ..functional.target_codes import DIFFICULT


class BatchRows(NamedTuple):
    """A batch's (B, C) float32 scores, int8 target codes and (B,) sample indices (or None)."""
    scores: np.ndarray
    target: np.ndarray
    sample_idx: Optional[np.ndarray]


def sample_name(sample: dict, index: int) -> str:
    """How an error names a sample: by its dataset index, else by its place in the batch."""
    if sample.get('sample_idx') is not None:
        return f'sample {sample["sample_idx"]}'
    return f'sample {index} of the batch'


def _as_tensor(value: Any) -> torch.Tensor:
    return value.detach() if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))


def _stack_rows(data_samples: Sequence[dict], key: str, what: str) -> torch.Tensor:
    """The samples' ``key`` rows stacked to (B, C); ValueError naming the first bad sample."""
    try:  # the common case: (C,) tensors of one length, stacked at once
        stacked = torch.stack([sample[key] for sample in data_samples])
        if stacked.dim() == 2:
            return stacked.detach()
    except (TypeError, RuntimeError):
        pass
    rows = []
    for i, sample in enumerate(data_samples):
        row = _as_tensor(sample[key])
        if row.dim() != 1:
            raise ValueError(f'{sample_name(sample, i)}: {key} must have shape (C,), got '
                             f'{tuple(row.shape)}')
        if rows and row.numel() != rows[0].numel():
            raise ValueError(f'{sample_name(sample, i)} has {row.numel()} {what}, '
                             f'{sample_name(data_samples[0], 0)} has {rows[0].numel()}')
        rows.append(row)
    return torch.stack(rows)


def batch_scores(data_samples: Sequence[dict]) -> np.ndarray:
    """(B, C) float32 scores of a batch; raises ValueError naming a bad sample."""
    for i, sample in enumerate(data_samples):
        if 'pred_score' not in sample:
            raise ValueError(f'{sample_name(sample, i)} has no pred_score; multi-label '
                             'metrics need the scores of a multi-label head')
    return _stack_rows(data_samples, 'pred_score', 'scores').to('cpu', torch.float32).numpy()


def _label_targets(data_samples: Sequence[dict], which: Sequence[int], key: str,
                   num_classes: int):
    """(sample rows, class indices) of the index lists ``key`` of the samples ``which``, checked."""
    flat = [_as_tensor(data_samples[i][key]).reshape(-1) for i in which]
    lengths = [len(row) for row in flat]
    if not sum(lengths):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    labels = torch.cat(flat).cpu().numpy().astype(np.int64)
    rows = np.repeat(np.asarray(which, dtype=np.int64), lengths)
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        where = int(np.flatnonzero(bad)[0])
        sample_i = int(rows[where])
        raise ValueError(f'{sample_name(data_samples[sample_i], sample_i)}: {key} has index '
                         f'{labels[where]}, outside [0, {num_classes}) for {num_classes} classes')
    return rows, labels


def batch_targets(data_samples: Sequence[dict], num_classes: int) -> np.ndarray:
    """(B, C) int8 target codes of a batch (1, 0, -1, :data:`DIFFICULT`); ValueError naming a bad sample."""
    target = np.zeros((len(data_samples), num_classes), dtype=np.int8)
    with_score = [i for i, s in enumerate(data_samples) if 'gt_score' in s]
    with_label = [i for i, s in enumerate(data_samples) if 'gt_score' not in s]
    for i in with_label:
        if 'gt_label' not in data_samples[i]:
            raise ValueError(f'{sample_name(data_samples[i], i)} has neither gt_score nor '
                             'gt_label')
    if with_score:
        chosen = [data_samples[i] for i in with_score]
        scores = _stack_rows(chosen, 'gt_score', 'gt_score entries')
        if scores.shape[1] != num_classes:
            raise ValueError(f'{sample_name(chosen[0], with_score[0])}: gt_score has '
                             f'{scores.shape[1]} entries, the scores have {num_classes} classes')
        codes = scores.to('cpu', torch.int8)
        low, high = torch.aminmax(codes)
        if low < -1 or high > 1 or not torch.equal(codes.to(scores.dtype), scores.cpu()):
            bad = (scores != 1) & (scores != 0) & (scores != -1)
            row, cls = bad.nonzero()[0].tolist()
            raise ValueError(f'{sample_name(chosen[row], with_score[row])}: gt_score values '
                             f'must be 1, 0 or -1 (ignored), got {scores[row, cls].item()} at '
                             f'class {cls}')
        if len(with_score) == len(data_samples):
            target = codes.numpy()
        else:
            target[with_score] = codes.numpy()
    if with_label:
        rows, labels = _label_targets(data_samples, with_label, 'gt_label', num_classes)
        target[rows, labels] = 1
    difficult = [i for i, s in enumerate(data_samples)
                 if s.get('gt_label_difficult') is not None]
    if difficult:
        rows, labels = _label_targets(data_samples, difficult, 'gt_label_difficult', num_classes)
        only_difficult = target[rows, labels] != 1
        target[rows[only_difficult], labels[only_difficult]] = DIFFICULT
    return target


def batch_rows(data_samples: Sequence[dict]) -> BatchRows:
    """A batch of data samples (dicts) as compact arrays."""
    scores = batch_scores(data_samples)
    idx = [s.get('sample_idx') for s in data_samples]
    sample_idx = None if any(i is None for i in idx) else np.asarray(idx, dtype=np.int64)
    return BatchRows(scores, batch_targets(data_samples, scores.shape[1]), sample_idx)


def _kept_rows(keys: np.ndarray, size: int) -> np.ndarray:
    """Source row of each kept sample: each key once (the first), in key order, at most ``size``."""
    _, first = np.unique(keys, return_index=True)
    return first[:size]


class RowPlan(NamedTuple):
    """Where each process's rows go: ``positions[rank][j]`` is the dataset-order position of
    its j-th row (-1: padding, dropped); ``sample_idx`` the (N,) keys in that order."""
    positions: List[np.ndarray]
    sample_idx: np.ndarray

    @property
    def num_samples(self) -> int:
        return len(self.sample_idx)


def plan_rows(indices: Sequence[Optional[np.ndarray]], counts: Sequence[int], size: int,
              world_size: int) -> RowPlan:
    """One order for the rows of all processes: by sample index, each sample once.

    Args:
        indices: Each process's sample indices (None where a process has
            none), in the order of its rows.
        counts: Each process's number of rows.
        size: The size of the evaluated dataset.
        world_size: The number of processes.

    The sampler pads the last round by repeating samples; a repeated index is
    kept once. Without indices, or when they do not name one sample each (a
    ConcatDataset restarts them), rows take mmengine's order: the j-th row of
    process r is sample j * W + r.

    Raises:
        ValueError: No row at all, or more rows than the sampler can give
            for ``size`` samples (rows repeated beyond its padding).
    """
    total = int(sum(counts))
    if total == 0:
        raise ValueError('no sample was evaluated: the dataloader gave no sample, or '
                         'process() was never called')
    padded = -(-size // world_size) * world_size
    if total > padded:
        shown = ', '.join(f'rank {r}: {c}' for r, c in enumerate(counts))
        raise ValueError(f'{total} rows were evaluated for a dataset of {size} samples, more '
                         f'than the {padded} its sampler gives with padding ({shown}): samples '
                         'repeat beyond the padding (a sampler that repeats indices, or '
                         'process() called twice per batch)')
    keys = None
    if all(idx is not None for idx, count in zip(indices, counts) if count):
        keys = np.concatenate([np.asarray(idx, np.int64) for idx, count in zip(indices, counts)
                               if count])
        if len(np.unique(keys)) < min(size, len(keys)):
            keys = None  # not one index per sample (a ConcatDataset restarts them)
    if keys is None:  # mmengine's order: the j-th row of process r is sample j * W + r
        keys = np.concatenate([np.arange(count) * world_size + rank
                               for rank, count in enumerate(counts)])
    kept = _kept_rows(keys, size)
    destination = np.full(len(keys), -1, dtype=np.int64)
    destination[kept] = np.arange(len(kept))
    return RowPlan(np.split(destination, np.cumsum(counts)[:-1]), keys[kept])
