"""The rows of an evaluation on one process: every row here, in dataset order.

One of the two backends of :class:`~mmml_ext.evaluation.shared_rows.EvaluationRows`
(the other, :class:`~mmml_ext.evaluation.sharded_rows.ShardedRows`, spreads the
rows over processes). Both answer the same calls (row terms, row sums, class
terms, the global threshold, writing the rows, agreeing on an error), so that
nothing outside them asks where the rows are.
"""
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import torch

from ..functional.thresholds import global_best_threshold
from .row_batches import BatchRows

Terms = Dict[str, torch.Tensor]


class LocalRows:
    """All rows of an evaluation, on this process.

    Args:
        scores (torch.Tensor): (N, C) float32, dataset order.
        codes (torch.Tensor): (N, C) int8 target codes.
        sample_idx (np.ndarray, optional): The dataset index of each row.
    """
    #: the rows are all here: results need no other process
    spread = False

    def __init__(self, scores: torch.Tensor, codes: torch.Tensor,
                 sample_idx: Optional[np.ndarray]) -> None:
        self.scores, self.codes, self.sample_idx = scores, codes, sample_idx
        self.num_samples, self.num_classes = scores.shape

    def agree(self, compute: Callable[[], object], what: str):
        return compute()

    def agree_on(self, value, what: str):
        return value

    def shared_error(self, error: Optional[BaseException], name: str) -> Optional[BaseException]:
        return error

    @property
    def broken(self) -> bool:
        """Whether the processes can no longer exchange (never, on one)."""
        return False

    def row_terms(self, compute: Callable[[], Terms], what: str) -> Terms:
        return compute()

    def row_sums(self, compute: Callable[[], Terms], what: str) -> Terms:
        return compute()

    def class_terms(self, compute: Callable[[torch.Tensor, torch.Tensor], Terms],
                    what: str) -> Terms:
        return compute(self.scores, self.codes)

    def global_best_threshold(self, target: torch.Tensor, what: str) -> Tuple[float, float]:
        return global_best_threshold(self.scores, target, validate_args=False)

    def write(self, write: Callable[[np.ndarray, np.ndarray], object],
              read: Callable[[np.ndarray], np.ndarray] = lambda codes: codes):
        """``write(scores, target)`` with every row (``read`` maps the target codes)."""
        return write(self.scores.numpy(), read(self.codes.numpy()))

    def own_rows(self) -> BatchRows:
        """This process's rows: all of them."""
        return BatchRows(self.scores.numpy(), self.codes.numpy(), self.sample_idx)

    def release(self) -> None:
        self.scores = self.codes = None
