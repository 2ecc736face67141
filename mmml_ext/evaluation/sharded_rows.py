"""The rows of an evaluation spread over processes: each owns its rows and a slice of the classes.

Under DDP no process gathers every prediction. After the evaluation loop each
process holds the rows it evaluated; :class:`ShardedRows` agrees on one order
of the samples (dataset order, the sampler's padding dropped by sample index,
:func:`~mmml_ext.evaluation.row_batches.plan_rows`) and then gives the
metrics three kinds of results, all equal to those of one process:

- **row terms** (one value per sample: exact match, LRAP, ...), computed on
  each process's rows and put together in dataset order;
- **row sums** (per-class integer counts: TP / FP / FN at any threshold or
  top-k), computed on each process's rows and summed;
- **class terms** (AP, best thresholds, calibration tables of a class),
  computed by the process that owns the class: the first time one is needed,
  the rows are exchanged (all-to-all in blocks of rows) so that each process
  holds every row of its slice of the classes, in dataset order.

Memory per process: its own rows plus its slice of the classes (about 2 / W
of the predictions for W processes) and the working memory of a slice.
"""
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch

from ..run_facts.npz_blocks import BlockArray
from ..functional.thresholds import counts_at, pick_global_threshold, positive_candidates
from .exchange import Exchange
from .row_batches import BatchRows, RowPlan, plan_rows

#: Cells sent per process and round of the exchange (64 MB of float32 scores).
EXCHANGE_CELLS = 1 << 24
#: Cells of a block of rows written to a predictions file (16 MB of float32 scores).
WRITE_CELLS = 1 << 22

Terms = Dict[str, torch.Tensor]


def class_bounds(num_classes: int, world_size: int) -> List[int]:
    """Class slice boundaries: rank r owns ``[bounds[r], bounds[r + 1])``."""
    return [rank * num_classes // world_size for rank in range(world_size + 1)]


class ShardedRows:
    """One process's part of a sharded evaluation (see the module docstring).

    Built by every process at once (it is collective).

    Args:
        exchange (Exchange): The evaluation's process group.
        local (BatchRows, optional): This process's rows, None if it
            evaluated no sample.
        size (int): The size of the evaluated dataset.
    """

    #: the rows are spread over processes: every process computes, with the others
    spread = True

    def __init__(self, exchange: Exchange, local: Optional[BatchRows], size: int) -> None:
        self.exchange = exchange
        rank, world_size = exchange.rank, exchange.world_size
        meta = exchange.all_gather_object(
            None if local is None else (local.scores.shape[1], len(local.scores), local.sample_idx),
            'sharing the sample indices')
        classes = {r: m[0] for r, m in enumerate(meta) if m is not None}
        if len(set(classes.values())) > 1:
            shown = ', '.join(f'rank {r}: {c}' for r, c in classes.items())
            raise ValueError(f'processes evaluated different numbers of classes ({shown})')
        if not classes:
            raise ValueError('no sample was evaluated: the dataloader gave no sample, or '
                             'process() was never called')
        self.num_classes = next(iter(classes.values()))
        self.plan: RowPlan = plan_rows([None if m is None else m[2] for m in meta],
                                       [0 if m is None else m[1] for m in meta], size, world_size)
        kept = self.plan.positions[rank] >= 0
        if local is None:
            local = BatchRows(np.zeros((0, self.num_classes), np.float32),
                              np.zeros((0, self.num_classes), np.int8), None)
        elif not kept.all():  # the sampler's padding: dropped here once
            local = BatchRows(local.scores[kept], local.target[kept], None)
        self.scores = torch.from_numpy(local.scores)
        self.codes = torch.from_numpy(local.target)
        self.positions = [pos[pos >= 0] for pos in self.plan.positions]  # kept rows of each rank
        self.counts = [len(pos) for pos in self.positions]
        self.num_samples = self.plan.num_samples
        self.bounds = class_bounds(self.num_classes, world_size)
        self.widths = [self.bounds[r + 1] - self.bounds[r] for r in range(world_size)]
        self._owned: Optional[Tuple[torch.Tensor, torch.Tensor]] = None

    @property
    def class_slice(self) -> slice:
        """The classes this process owns."""
        return slice(self.bounds[self.exchange.rank], self.bounds[self.exchange.rank + 1])

    @property
    def sample_idx(self) -> Optional[np.ndarray]:
        """The dataset index of each row of all processes, in dataset order."""
        return self.plan.sample_idx

    @property
    def broken(self) -> bool:
        """Whether a process stopped answering (each then keeps its own rows)."""
        return self.exchange.broken

    def agree(self, compute: Callable[[], object], what: str):
        return self.exchange.agree(compute, what)

    def shared_error(self, error: Optional[BaseException], name: str) -> Optional[BaseException]:
        """An error raised on any process, raised by all."""
        return self.exchange.shared_error(error, name)

    def own_rows(self) -> BatchRows:
        """This process's rows (the sampler's padding dropped), with their sample indices."""
        sample_idx = self.plan.sample_idx
        return BatchRows(self.scores.numpy(), self.codes.numpy(),
                         None if sample_idx is None else
                         sample_idx[self.positions[self.exchange.rank]])

    # --- the three kinds of results ----------------------------------------------------
    def row_terms(self, compute: Callable[[], Terms], what: str) -> Terms:
        """``compute()`` on this process's rows ((n, ...) tensors), put in dataset order."""
        local = self.agree(compute, what)
        result = {}
        for name, tensor in sorted(local.items()):
            parts = self.exchange.all_gather_rows(tensor, self.counts, what)
            whole = tensor.new_empty((self.num_samples, ) + tuple(tensor.shape[1:]))
            for positions, part in zip(self.positions, parts):
                whole[torch.from_numpy(positions)] = part
            result[name] = whole
        return result

    def row_sums(self, compute: Callable[[], Terms], what: str) -> Terms:
        """``compute()`` on this process's rows (integer tensors), summed over processes."""
        local = self.agree(compute, what)
        return {name: self.exchange.all_reduce_sum(tensor.clone(), what)
                for name, tensor in sorted(local.items())}

    def class_terms(self, compute: Callable[[torch.Tensor, torch.Tensor], Terms],
                    what: str) -> Terms:
        """``compute(scores, codes)`` on the owned classes ((c, ...) tensors), in class order."""
        scores, codes = self.owned()
        local = self.agree(lambda: compute(scores, codes), what)
        return {name: torch.cat(self.exchange.all_gather_rows(tensor, self.widths, what))
                for name, tensor in sorted(local.items())}

    def global_best_threshold(self, target: torch.Tensor, what: str) -> Tuple[float, float]:
        """The one threshold maximising OF1 over all cells: candidates gathered, counts summed.

        ``target`` is this process's target under the metric's reading.
        """
        mine = self.agree(lambda: positive_candidates(self.scores, target), what)
        lengths = self.exchange.all_gather_object(len(mine), what)
        every = self.exchange.all_gather_rows(mine, lengths, what)
        candidates = torch.unique(torch.cat(every)).flip(0)
        counts = self.agree(lambda: counts_at(self.scores, target, candidates), what)
        tp = self.exchange.all_reduce_sum(counts[0], what)
        counted = self.exchange.all_reduce_sum(counts[1], what)
        counted_somewhere = self.exchange.all_reduce_sum(torch.tensor(
            [int(len(target) > 0 and bool(target.max() >= 0))]), what)
        if int(counted_somewhere) == 0:
            raise ValueError('every label is ignored (-1): there is nothing to tune a threshold on')
        return pick_global_threshold(candidates, tp, counted)

    # --- the exchange ------------------------------------------------------------------
    def owned(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """(N, c) scores and codes of the owned classes, every row, in dataset order."""
        if self._owned is None:
            self._owned = (self._exchange_columns(self.scores, 'scores'),
                           self._exchange_columns(self.codes, 'targets'))
        return self._owned

    def _exchange_columns(self, local: torch.Tensor, what: str) -> torch.Tensor:
        """All-to-all in rounds of rows: each process sends every other its slice of a block."""
        rank, world_size = self.exchange.rank, self.exchange.world_size
        width = self.widths[rank]
        owned = local.new_empty((self.num_samples, width))
        step = max(1, EXCHANGE_CELLS // max(1, self.num_classes))
        rounds = -(-max(self.counts) // step)
        for start in range(0, rounds * step, step):
            block = local[start:start + step]
            send = torch.cat([block[:, self.bounds[d]:self.bounds[d + 1]].reshape(-1)
                              for d in range(world_size)])
            rows_from = [max(0, min(step, count - start)) for count in self.counts]
            received = self.exchange.all_to_all(
                send, [len(block) * w for w in self.widths], [n * width for n in rows_from],
                f'exchanging the {what}')
            del send
            offset = 0
            for source, n in enumerate(rows_from):
                if n:
                    positions = torch.from_numpy(self.positions[source][start:start + n])
                    owned[positions] = received[offset:offset + n * width].view(n, width)
                    offset += n * width
        return owned

    def blocks(self, which: str) -> Iterator[Optional[np.ndarray]]:
        """Row blocks of all classes in dataset order on rank 0 (None elsewhere); collective.

        ``which`` is ``'scores'`` or ``'codes'``. Every process must iterate to the end.
        """
        owned = self.owned()[0 if which == 'scores' else 1]
        step = max(1, WRITE_CELLS // max(1, self.num_classes))
        for start in range(0, self.num_samples, step):
            part = owned[start:start + step].t().contiguous()
            parts = self.exchange.gather_rows(part, self.widths, f'writing the {which}')
            yield None if parts is None else torch.cat(parts).t().contiguous().numpy()

    def write(self, write: Callable[[BlockArray, BlockArray], object],
              read: Callable[[np.ndarray], np.ndarray] = lambda codes: codes):
        """Call ``write(scores, target)`` on rank 0 with the rows of all processes in blocks.

        ``read`` maps each block of target codes. Every process calls this
        (the blocks are gathered from the owners of the classes as rank 0
        writes them, scores first); it returns what ``write`` returns on rank
        0, None elsewhere. The file name, if ``write`` makes one, must be the
        same on every process (:meth:`agree_on`).
        """
        shape = (self.num_samples, self.num_classes)
        if self.exchange.rank != 0:
            for which in ('scores', 'codes'):
                for _ in self.blocks(which):
                    pass
            return None
        return write(BlockArray(shape, np.float32, lambda: self.blocks('scores')),
                     BlockArray(shape, np.int8, lambda: (read(codes) for codes in
                                                         self.blocks('codes'))))

    def agree_on(self, value, what: str):
        """Rank 0's ``value`` on every process."""
        return self.exchange.all_gather_object(value, what)[0]

    def release(self) -> None:
        self.scores = self.codes = None
        self._owned = None
        self.exchange.close()

