"""The training epoch, for losses whose rule changes with it (SPLC, large loss modification).

Under an mmengine Runner the epoch is in the message hub: its
``RuntimeInfoHook`` (one of the default hooks) writes ``epoch`` (epochs done,
counted from 0) before every training epoch, and a resumed run restores it.
So such a loss needs no config edit and no hook of its own. Outside a Runner
(a notebook, a test) call :meth:`EpochAware.set_epoch`.
"""
import logging
from typing import Optional

from mmengine.logging import MessageHub, print_log


class EpochAware:
    """Mixin: :meth:`current_epoch` from :meth:`set_epoch` or the Runner's message hub."""

    _epoch: Optional[int] = None
    _warned_single_epoch = False

    def set_epoch(self, epoch: Optional[int]) -> None:
        """Fix the epoch (counted from 0); None goes back to the Runner's."""
        if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, int)
                                  or epoch < 0):
            raise ValueError(f'epoch must be an integer >= 0, got {epoch!r}')
        self._epoch = epoch

    def current_epoch(self, first_change: int) -> int:
        """The epoch, counted from 0.

        Args:
            first_change (int): The first epoch at which the loss changes, to
                warn once when the Runner's training never reaches it (an
                iteration-based loop counts one epoch).

        Raises:
            RuntimeError: outside a Runner, when :meth:`set_epoch` was not called.
        """
        if self._epoch is not None:
            return self._epoch
        hub = MessageHub.get_current_instance()
        epoch = hub.get_info('epoch')
        if epoch is None:
            raise RuntimeError(f'{type(self).__name__} changes with the training epoch and none '
                               'is known: train it under an mmengine Runner (its RuntimeInfoHook '
                               'gives the epoch) or call set_epoch(epoch) first')
        max_epochs = hub.get_info('max_epochs')
        if max_epochs is not None and max_epochs <= first_change and \
                not self._warned_single_epoch:
            self._warned_single_epoch = True
            print_log(f'{type(self).__name__}: training runs {max_epochs} epoch(s) and the loss '
                      f'changes from epoch {first_change} (counted from 0) on: it never will '
                      '(an iteration-based loop counts one epoch)', logger='current',
                      level=logging.WARNING)
        return int(epoch)
