"""The collectives of a sharded evaluation, with a timeout that names the rank that did not answer.

A sharded evaluation (:mod:`mmml_ext.evaluation.sharded_rows`) moves rows
between processes with ``torch.distributed`` collectives on a gloo group of its
own, created for the evaluation beside the job's group (gloo carries CPU
tensors under an nccl job too, as mmengine's CPU collection does). The group
has a timeout: ``MMML_EVAL_TIMEOUT`` seconds (default 1800, torch's default).

Every step that may fail on one process only (a kernel on its rows, a check)
runs through :func:`agree`: each process reports success or its error, and all
raise the same error together, so that none waits forever in the next
collective. A collective that fails or times out (a process died or hangs) is
turned into :class:`EvaluationExchangeError`, naming the ranks that did not
reach a monitored barrier.
"""
import datetime
import os
from contextlib import contextmanager
from typing import Any, Callable, List, Optional, Sequence

import torch
import torch.distributed as dist

#: Environment variable: seconds a process waits for the others in an exchange.
TIMEOUT_ENV = 'MMML_EVAL_TIMEOUT'
DEFAULT_TIMEOUT_S = 1800.0
#: Error types kept when a process's error is raised by the others (others: RuntimeError).
KEPT_ERRORS = (ValueError, TypeError, RuntimeError, KeyError, IndexError, FileNotFoundError,
               MemoryError)


def _raise_if(error: Optional[Exception]) -> Callable[[], None]:
    def check() -> None:
        if error is not None:
            raise error
    return check


class EvaluationExchangeError(RuntimeError):
    """A process failed, or did not answer in time, during a sharded evaluation."""


def timeout_seconds() -> float:
    """The exchange timeout: ``MMML_EVAL_TIMEOUT`` seconds, else 1800."""
    value = os.environ.get(TIMEOUT_ENV)
    if value is None:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ValueError(f'{TIMEOUT_ENV} must be a number of seconds > 0, got {value!r}')
    return seconds


class Exchange:
    """A gloo group for one evaluation, and the collectives the sharded rows need.

    Args:
        timeout (float, optional): Seconds to wait for the other processes.
            Defaults to :func:`timeout_seconds`.
    """

    def __init__(self, timeout: Optional[float] = None) -> None:
        self.timeout = timeout_seconds() if timeout is None else timeout
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.group = None
        #: a collective failed: the group is not used again (saving falls back to each process)
        self.broken = False
        try:
            self.group = dist.new_group(backend='gloo',
                                        timeout=datetime.timedelta(seconds=self.timeout))
        except (RuntimeError, dist.DistError) as error:
            raise EvaluationExchangeError(
                f'rank {self.rank}: the processes could not meet to evaluate: {error}. '
                f'{self._missing_ranks()}') from error

    def close(self) -> None:
        if self.group is not None:
            dist.destroy_process_group(self.group)
            self.group = None

    # --- failures ----------------------------------------------------------------------
    @contextmanager
    def guard(self, what: str):
        """Turn a failed or timed-out collective into an error that names the missing ranks."""
        try:
            yield
        except EvaluationExchangeError:
            raise
        except (RuntimeError, dist.DistError) as error:
            self.broken = True
            raise EvaluationExchangeError(
                f'rank {self.rank}: {what} failed: {error}. {self._missing_ranks()}') from error

    def _missing_ranks(self) -> str:
        """Which ranks do not answer a monitored barrier, in words.

        The barrier runs on the job's group when it is gloo (a timed-out gloo
        group closes its connections), else on the evaluation's group.
        """
        group = None if dist.get_backend() == 'gloo' else self.group
        if group is None and dist.get_backend() != 'gloo':
            return (f'A process did not answer within the exchange timeout of {self.timeout:g} s '
                    f'({TIMEOUT_ENV}).')
        try:
            dist.monitored_barrier(group, timeout=datetime.timedelta(
                seconds=min(self.timeout, 30.0)), wait_all_ranks=True)
        except Exception as error:  # rank 0 names the ranks that did not arrive
            return (f'A process did not answer within the exchange timeout of {self.timeout:g} s '
                    f'({TIMEOUT_ENV}); the barrier reports: {error}')
        return 'Every rank still answers.'

    def agree(self, compute: Callable[[], Any], what: str) -> Any:
        """``compute()`` on every process; if it fails on any, all raise that error together.

        The error keeps its type (ValueError, ...) and names the rank it came
        from, so that every process fails at the same point of the evaluation.
        """
        try:
            result, status = compute(), None
        except Exception as error:  # reported to every process below
            result, status = None, (type(error).__name__, str(error))
            own_error = error
        statuses: List[Any] = [None] * self.world_size
        with self.guard(what):
            dist.all_gather_object(statuses, status, group=self.group)
        failed = [(rank, s) for rank, s in enumerate(statuses) if s is not None]
        if not failed:
            return result
        rank, (name, message) = failed[0]
        if status is not None and rank == self.rank:
            raise own_error
        error_type = next((cls for cls in KEPT_ERRORS if cls.__name__ == name), RuntimeError)
        raise error_type(f'{what} failed on rank {rank}: {message}')

    def shared_error(self, error: Optional[Exception], what: str) -> Optional[Exception]:
        """The first error of any process (None if none failed); every process gets it.

        After a failed collective (:attr:`broken`) each process keeps its own.
        """
        if self.broken or isinstance(error, EvaluationExchangeError):
            self.broken = True
            return error
        try:
            self.agree(_raise_if(error), what)
        except Exception as shared:
            return error if shared is error else shared
        return None

    # --- collectives -------------------------------------------------------------------
    def all_gather_object(self, value: Any, what: str) -> List[Any]:
        values: List[Any] = [None] * self.world_size
        with self.guard(what):
            dist.all_gather_object(values, value, group=self.group)
        return values

    def all_reduce_sum(self, tensor: torch.Tensor, what: str) -> torch.Tensor:
        """The elementwise sum over processes (in place); exact for integer tensors."""
        with self.guard(what):
            dist.all_reduce(tensor, group=self.group)
        return tensor

    def all_gather_rows(self, tensor: torch.Tensor, lengths: Sequence[int],
                        what: str) -> List[torch.Tensor]:
        """Every process's ``tensor`` (its first dimension ``lengths[rank]``), in rank order."""
        longest = max(lengths)
        if longest == 0:
            return [tensor[:0]] * self.world_size
        padded = tensor.new_zeros((longest, ) + tuple(tensor.shape[1:]))
        padded[:len(tensor)] = tensor
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        with self.guard(what):
            dist.all_gather(parts, padded, group=self.group)
        return [part[:length] for part, length in zip(parts, lengths)]

    def all_to_all(self, send: torch.Tensor, send_sizes: Sequence[int],
                   receive_sizes: Sequence[int], what: str) -> torch.Tensor:
        """1-D ``send`` cut by ``send_sizes`` (one part per rank); the parts received, in rank order."""
        receive = send.new_empty(sum(receive_sizes))
        with self.guard(what):
            dist.all_to_all_single(receive, send, list(receive_sizes), list(send_sizes),
                                   group=self.group)
        return receive

    def gather_rows(self, tensor: torch.Tensor, lengths: Sequence[int],
                    what: str) -> Optional[List[torch.Tensor]]:
        """Every process's ``tensor`` on rank 0 (None elsewhere), cut to ``lengths``."""
        longest = max(lengths)
        padded = tensor.new_zeros((longest, ) + tuple(tensor.shape[1:]))
        padded[:len(tensor)] = tensor
        parts = ([torch.empty_like(padded) for _ in range(self.world_size)]
                 if self.rank == 0 else None)
        with self.guard(what):
            dist.gather(padded, parts, dst=0, group=self.group)
        if parts is None:
            return None
        return [part[:length] for part, length in zip(parts, lengths)]
