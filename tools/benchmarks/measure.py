"""The predictions and the measurements (time, extra peak memory) shared by the benchmark scripts
beside this file."""
import os
import threading
import time
from typing import Tuple

import torch

PAGE = os.sysconf('SC_PAGE_SIZE')


def make_data(num: int, classes: int, seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """(N, C) scores rounded to 3 decimals (so there are ties) and boolean targets: about 5 %
    positives for more than 100 classes, 15 % otherwise, every class with a positive."""
    g = torch.Generator().manual_seed(seed)
    rate = 0.05 if classes > 100 else 0.15
    scores = (torch.rand(num, classes, generator=g) * 1000).round() / 1000
    target = torch.rand(num, classes, generator=g) < rate
    target[torch.randint(0, num, (classes, ), generator=g), torch.arange(classes)] = True
    return scores, target


def rss_mb() -> float:
    """The process's resident memory now, in MB."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def timed_with_peak(fn):
    """(seconds, extra peak RSS in MB, result) of ``fn()``: RSS sampled every 5 ms, minus the
    RSS before the call."""
    base = rss_mb()
    highest = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            highest[0] = max(highest[0], rss_mb())
            time.sleep(0.005)

    watcher = threading.Thread(target=sample)
    watcher.start()
    start = time.perf_counter()
    try:
        out = fn()
    finally:
        seconds = time.perf_counter() - start
        done.set()
        watcher.join()
    return seconds, max(highest[0], rss_mb()) - base, out
