"""Multi-label evaluation at scale: one process against W processes (torchrun, gloo, CPU).

    python tools/benchmarks/bench_scale.py --sizes 30000x2000,100000x9605 --procs 1,3
        [--positives-per-image 8] [--zipf 1.0] [--batch 256] [--ranking]
        [--anchor] [--anchor-sizes 30000x2000] [--anchor-mem-gb 16] [--timeout 3600]

For each size N x C and each number of processes W, a fresh run evaluates the
same sparse, OpenImages-like predictions through mmengine's ``Evaluator``:

- **data**: each image has max(1, Poisson(K)) distinct positive classes (K =
  ``--positives-per-image``, default 8), drawn Zipf-like (class c with weight
  1 / (c + 1) ** s, ``--zipf`` s = 1 by default, 0 for uniform). Scores are
  sigmoid(logit) with logit ~ N(-4, 1.5) for negatives and N(0.5, 1.5) for
  positives, float32 rounded to 3 decimals (ties; most negatives below 0.05).
  Every sample is generated from its own seed ``(--seed, sample index)``, so a
  process builds exactly its own samples (those ``DefaultSampler(shuffle=False)``
  gives its rank, the padding of the last round included) in batches of
  ``--batch``, never the full matrix, and every W sees identical predictions.
  The data samples are what mmpretrain's ``predict`` gives after ``to_dict``:
  ``pred_score`` (a (C,) float32 row view of the batch), ``gt_label`` (a
  LongTensor of indices), ``sample_idx``. Each batch is freed after ``process``.
- **ours**: :data:`OURS` (``MultiLabelRanking`` too with ``--ranking``: its
  double-precision (N, C) sorts cost several times the raw size of the
  predictions, so it is left out by default), sharing one ``EvalContext`` as
  ``RunFactsHook`` gives them. W = 1 runs in a plain child process (or under
  torchrun with ``--torchrun-single``), W > 1 under
  ``python -m torch.distributed.run --nproc_per_node W`` with gloo.
- **anchor** (``--anchor``): mmpretrain's ``MultiLabelMetric`` (macro and
  micro) and ``AveragePrecision`` on the same predictions in one process, at
  ``--anchor-sizes`` (default: every size but the largest). It runs in a child
  process under a memory guard (killed when its RSS passes ``--anchor-mem-gb``,
  default 80 % of the memory available at start); when it does not fit the
  line says ``fits: false``.

Each process measures its **extra peak RSS** of the evaluation phase: RSS
sampled every 5 ms from just before the first ``process`` call to the end of
``evaluate``, minus the RSS before the first call (one generated batch, B x C
float32, is alive inside the phase), and the wall time of the ``process`` calls
(generation excluded, reported apart) and of ``evaluate``. Each process runs
``--threads`` torch threads, 1 by default: the W runs then differ only in the
number of processes (with ``--threads 0``, the CPU cores divided by W; on a loaded machine
several threads per process can be much slower than one). Rank 0
collects every rank's figures (``all_gather_object``) and writes them with the
metric values.

Output, JSON lines: one per (size, W) with ``raw_mb`` (N x C x 5 bytes: float32
scores + int8 targets), the extra peak per rank and its max, the max over raw,
the seconds and the metric values; one per size and W > 1 comparing it with
W = 1 (``equal``: every metric value exactly ``==``, both NaN counting as equal;
``differ`` lists the others; ``mem_ratio`` = max extra of W / extra of 1;
``time_ratio`` = total seconds of W / of 1); and, with ``--anchor``, one per
anchor size (the anchor's figures and the ratios anchor / ours for time,
ours / anchor for memory).
"""
import argparse
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from measure import rss_mb, timed_with_peak

#: The plugin's metrics, one evaluator sharing one evaluation context.
OURS = [
    dict(type='MeanAP', items=('mAP', ), report=False),
    dict(type='MultiLabelPRF'),
    dict(type='MultiLabelPRF', topk=3),
    dict(type='SubsetAccuracy', items=('subset_accuracy', 'hamming_accuracy', 'jaccard',
                                       'example_f1')),
    dict(type='TunedThresholdF1', save=False),
    dict(type='MultiLabelCalibration'),
]
#: Added with ``--ranking``.
RANKING = dict(type='MultiLabelRanking')
#: mmpretrain's own metrics, the anchor.
MMPRETRAIN = [dict(type='MultiLabelMetric', average='macro'),
              dict(type='MultiLabelMetric', average='micro'), dict(type='AveragePrecision')]

NEG_LOGIT, POS_LOGIT, LOGIT_SD = -4.0, 0.5, 1.5


# --- data ------------------------------------------------------------------------------------
def parse_size(size: str) -> Tuple[int, int]:
    num, classes = (int(v) for v in size.lower().split('x'))
    return num, classes


def class_cdf(classes: int, zipf: float) -> np.ndarray:
    """Cumulative class weights 1 / (c + 1) ** zipf, normalised (uniform for 0)."""
    weights = 1.0 / np.arange(1, classes + 1, dtype=np.float64) ** zipf
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def sample_labels(rng: np.random.Generator, cdf: np.ndarray, positives: float) -> np.ndarray:
    """max(1, Poisson(positives)) distinct classes drawn by ``cdf``, sorted."""
    classes = len(cdf)
    wanted = min(classes, max(1, int(rng.poisson(positives))))
    chosen: set = set()
    while len(chosen) < wanted:  # draw with replacement, top up the duplicates
        draws = np.searchsorted(cdf, rng.random(wanted - len(chosen)), side='right')
        chosen.update(np.minimum(draws, classes - 1).tolist())
    return np.fromiter(sorted(chosen), dtype=np.int64)


def make_samples(indices: Sequence[int], classes: int, cdf: np.ndarray, positives: float,
                 seed: int) -> List[dict]:
    """The data samples of ``indices``, each generated from the seed ``(seed, index)``."""
    logits = np.empty((len(indices), classes), dtype=np.float32)
    labels = []
    for row, index in enumerate(indices):
        rng = np.random.default_rng((seed, int(index)))
        positive = sample_labels(rng, cdf, positives)
        logits[row] = rng.standard_normal(classes, dtype=np.float32)
        logits[row] *= LOGIT_SD
        logits[row] += NEG_LOGIT
        logits[row, positive] += POS_LOGIT - NEG_LOGIT
        labels.append(positive)
    scores = 1.0 / (1.0 + np.exp(-logits))
    del logits
    scores = np.round(scores * 1000) / 1000
    block = torch.from_numpy(scores.astype(np.float32, copy=False))
    return [dict(pred_score=block[row], gt_label=torch.from_numpy(labels[row]),
                 sample_idx=int(index)) for row, index in enumerate(indices)]


# --- the worker (one process of a run) --------------------------------------------------------
def build_evaluator(which: str, ranking: bool):
    from mmengine.evaluator import Evaluator
    from mmpretrain.registry import METRICS

    import mmml_ext  # noqa: F401
    from mmml_ext.evaluation import EvalContext
    if which == 'anchor':
        return Evaluator([METRICS.build(cfg) for cfg in MMPRETRAIN]), None
    cfgs = OURS + ([RANKING] if ranking else [])
    evaluator = Evaluator([METRICS.build(cfg) for cfg in cfgs])
    context = EvalContext()  # one context for the evaluator, as RunFactsHook gives it
    for metric in evaluator.metrics:
        metric.set_eval_context(context)
    return evaluator, context


def plain_value(value) -> object:
    if isinstance(value, torch.Tensor):
        value = value.tolist() if value.numel() > 1 else value.item()
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    return float(value) if isinstance(value, (float, int, np.floating, np.integer)) else value


def worker(args: argparse.Namespace) -> None:
    """One process: build its own samples, process them, evaluate; rank 0 writes the result."""
    import torch.distributed as dist
    from mmengine.dataset import DefaultSampler
    torch.set_num_threads(args.threads)
    distributed = 'WORLD_SIZE' in os.environ
    if distributed:
        dist.init_process_group('gloo')
    rank = dist.get_rank() if distributed else 0
    num, classes = parse_size(args.size)
    cdf = class_cdf(classes, args.zipf)
    indices = list(DefaultSampler(range(num), shuffle=False, seed=0))  # this rank's, padded
    evaluator, context = build_evaluator(args.worker, args.ranking)
    seconds = dict(generate=0.0, process=0.0, evaluate=0.0)

    def evaluate() -> dict:
        for start in range(0, len(indices), args.batch):
            begin = time.perf_counter()
            samples = make_samples(indices[start:start + args.batch], classes, cdf,
                                   args.positives_per_image, args.seed)
            middle = time.perf_counter()
            evaluator.process(samples)
            seconds['process'] += time.perf_counter() - middle
            seconds['generate'] += middle - begin
            del samples
        begin = time.perf_counter()
        values = evaluator.evaluate(num)
        seconds['evaluate'] = time.perf_counter() - begin
        return values

    report: Dict[str, object] = dict(rank=rank, samples=len(indices), threads=args.threads,
                                     base_rss_mb=rss_mb())
    try:
        _, extra, metrics = timed_with_peak(evaluate)
        report.update(extra_peak_mb=extra, fits=True, **{f'{k}_s': v for k, v in seconds.items()})
    except (MemoryError, RuntimeError) as error:  # torch: "DefaultCPUAllocator: can't allocate"
        out_of_memory = isinstance(error, MemoryError) or 'alloc' in str(error).lower()
        if distributed or not out_of_memory:
            raise
        metrics, report = {}, dict(report, fits=False, error=f'{type(error).__name__}: {error}')
    if context is not None:
        context.release()
    reports = [report]
    if distributed:
        reports = [None] * dist.get_world_size()
        dist.all_gather_object(reports, report)
    if rank == 0:
        with open(args.out, 'w') as f:
            json.dump(dict(metrics={k: plain_value(v) for k, v in metrics.items()},
                           ranks=reports), f)
    if distributed:
        dist.destroy_process_group()


# --- the parent ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def available_mb() -> float:
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemAvailable:'):
                return int(line.split()[1]) / 1024
    return math.inf


def child_rss_mb(pid: int) -> float:
    try:
        with open(f'/proc/{pid}/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20
    except (OSError, IndexError, ValueError):
        return 0.0


def launch(cmd: List[str], env: Dict[str, str], log: str, timeout: float, cwd: str,
           mem_limit_mb: Optional[float] = None) -> Tuple[int, float, Optional[str]]:
    """Run ``cmd`` in a session of its own: (return code, seconds, why it was stopped or None).

    It runs in ``cwd`` (mmengine's CPU gather makes a ``.dist_test`` folder in the
    current directory). With ``mem_limit_mb``, the child's RSS is watched and the
    child killed past it.
    """
    start = time.perf_counter()
    with open(log, 'w') as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=cwd)
    stopped = [None]

    def watch() -> None:
        while proc.poll() is None:
            if mem_limit_mb is not None and child_rss_mb(proc.pid) > mem_limit_mb:
                stopped[0] = f'RSS passed the guard of {mem_limit_mb:.0f} MB'
            elif time.perf_counter() - start > timeout:
                stopped[0] = f'timeout of {timeout:.0f} s'
            if stopped[0] is not None:
                os.killpg(proc.pid, signal.SIGKILL)
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    code = proc.wait()
    watcher.join()
    return code, time.perf_counter() - start, stopped[0]


def run(which: str, size: str, procs: int, args: argparse.Namespace, tmp: str,
        mem_limit_mb: Optional[float] = None) -> dict:
    """One fresh run of ``which`` ('ours' or 'anchor') at ``size`` on ``procs`` processes."""
    tag = f'{which}_{size}_{procs}'
    out, log = os.path.join(tmp, f'{tag}.json'), os.path.join(tmp, f'{tag}.log')
    threads = args.threads or max(1, (os.cpu_count() or 1) // procs)
    worker_args = [os.path.abspath(__file__), '--worker', which, '--size', size, '--out', out,
                   '--positives-per-image', str(args.positives_per_image), '--zipf',
                   str(args.zipf), '--batch', str(args.batch), '--seed', str(args.seed),
                   '--threads', str(threads)] + (['--ranking'] if args.ranking else [])
    if procs > 1 or args.torchrun_single and which == 'ours':
        cmd = [sys.executable, '-m', 'torch.distributed.run', '--nnodes', '1',
               '--nproc_per_node', str(procs), '--master_addr', '127.0.0.1',
               '--master_port', str(free_port())] + worker_args
    else:
        cmd = [sys.executable] + worker_args
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get('PYTHONPATH')])))
    code, wall, stopped = launch(cmd, env, log, args.timeout, tmp, mem_limit_mb)
    if code == 0 and os.path.exists(out):
        with open(out) as f:
            result = json.load(f)
        result.update(wall_s=wall, threads=threads)
        return result
    with open(log) as f:
        tail = f.read()[-3000:]
    why = stopped or (f'killed by signal {-code} (out of memory?)' if code < 0 else
                      f'exit code {code}')
    if which == 'anchor':
        return dict(fits=False, error=why, wall_s=wall, log_tail=tail[-500:])
    sys.stderr.write(f'--- {tag} failed ({why}); log tail:\n{tail}\n')
    return dict(failed=why, wall_s=wall)


def summary(result: dict) -> Dict[str, object]:
    """Extra peak and seconds over the ranks of one run."""
    ranks = [r for r in result['ranks'] if r.get('fits', True)]
    extra = [r['extra_peak_mb'] for r in ranks]
    seconds = dict(generate=max(r['generate_s'] for r in ranks),
                   process=max(r['process_s'] for r in ranks),
                   evaluate=max(r['evaluate_s'] for r in ranks),
                   total=max(r['process_s'] + r['evaluate_s'] for r in ranks))
    return dict(extra_peak_mb=extra, extra_peak_mb_max=max(extra), seconds=seconds,
                base_rss_mb=[r['base_rss_mb'] for r in ranks],
                samples_per_rank=[r['samples'] for r in ranks])


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def rounded(value: object) -> object:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, list):
        return [rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


def emit(line: dict) -> None:
    print(json.dumps(line), flush=True)


def main() -> None:
    hidden = argparse.SUPPRESS
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='30000x2000,100000x9605', help='N x C, comma-separated')
    parser.add_argument('--procs', default='1,3', help='numbers of processes, comma-separated')
    parser.add_argument('--positives-per-image', type=float, default=8.0,
                        help='K: each image has max(1, Poisson(K)) positive classes')
    parser.add_argument('--zipf', type=float, default=1.0,
                        help='class weights 1 / (c + 1) ** zipf; 0 for uniform')
    parser.add_argument('--batch', type=int, default=256, help='data samples per process call')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads per process; 0: CPU cores // W (default: 1)')
    parser.add_argument('--ranking', action='store_true', help='add MultiLabelRanking')
    parser.add_argument('--torchrun-single', action='store_true',
                        help='run W = 1 under torchrun too (default: a plain child process)')
    parser.add_argument('--anchor', action='store_true', help="run mmpretrain's metrics too")
    parser.add_argument('--anchor-sizes', default=None,
                        help='sizes for the anchor (default: every size but the largest)')
    parser.add_argument('--anchor-mem-gb', type=float, default=None,
                        help="kill the anchor past this RSS (default: 80 %% of what is available)")
    parser.add_argument('--timeout', type=float, default=3600, help='seconds per run')
    parser.add_argument('--worker', choices=('ours', 'anchor'), help=hidden)
    parser.add_argument('--size', help=hidden)
    parser.add_argument('--out', help=hidden)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    sizes = args.sizes.split(',')
    procs = [int(p) for p in args.procs.split(',')]
    if args.anchor_sizes is not None:
        anchor_sizes = set(args.anchor_sizes.split(','))
    elif len(sizes) > 1:
        largest = max(sizes, key=lambda s: math.prod(parse_size(s)))
        anchor_sizes = set(sizes) - {largest}
    else:
        anchor_sizes = set(sizes)
    mem_limit_mb = (args.anchor_mem_gb * 1024 if args.anchor_mem_gb is not None else
                    0.8 * available_mb())
    with tempfile.TemporaryDirectory(prefix='bench_scale_') as tmp:
        for size in sizes:
            num, classes = parse_size(size)
            raw_mb = num * classes * 5 / 2**20
            runs: Dict[int, dict] = {}
            for count in procs:
                result = run('ours', size, count, args, tmp)
                line = dict(size=size, N=num, C=classes, procs=count, raw_mb=raw_mb,
                            ranking=args.ranking, wall_s=result['wall_s'])
                if 'failed' in result:
                    emit(rounded(dict(line, failed=result['failed'])))
                    continue
                stats = summary(result)
                runs[count] = dict(stats, metrics=result['metrics'])
                line.update(threads=result['threads'], **stats,
                            extra_over_raw=stats['extra_peak_mb_max'] / raw_mb,
                            metrics=result['metrics'])
                emit(rounded(line))
            if 1 in runs:
                one = runs[1]
                for count, other in runs.items():
                    if count == 1:
                        continue
                    keys = sorted(set(one['metrics']) | set(other['metrics']))
                    differ = {k: dict(procs_1=one['metrics'].get(k),
                                      **{f'procs_{count}': other['metrics'].get(k)})
                              for k in keys
                              if not same(one['metrics'].get(k), other['metrics'].get(k))}
                    for k, pair in differ.items():
                        a, b = pair.values()
                        if isinstance(a, float) and isinstance(b, float):
                            pair['diff'] = b - a
                    emit(dict(size=size, compare=f'{count} vs 1', procs=count,
                              equal=not differ, differ=differ,
                              mem_ratio=round(other['extra_peak_mb_max'] /
                                              max(one['extra_peak_mb_max'], 1e-9), 4),
                              time_ratio=round(other['seconds']['total'] /
                                               max(one['seconds']['total'], 1e-9), 4)))
            if args.anchor and size in anchor_sizes:
                result = run('anchor', size, 1, args, tmp, mem_limit_mb)
                line = dict(size=size, N=num, C=classes, anchor='mmpretrain', procs=1,
                            raw_mb=raw_mb, mem_guard_mb=mem_limit_mb, wall_s=result['wall_s'])
                rank = result.get('ranks', [{}])[0]
                if not result.get('fits', True) or not rank.get('fits', False):
                    emit(rounded(dict(line, fits=False,
                                      error=result.get('error') or rank.get('error'))))
                    continue
                stats = summary(result)
                line.update(fits=True, extra_peak_mb=stats['extra_peak_mb_max'],
                            extra_over_raw=stats['extra_peak_mb_max'] / raw_mb,
                            seconds=stats['seconds'], metrics=result['metrics'])
                ours = runs.get(1)
                if ours is not None:
                    line.update(
                        speedup=stats['seconds']['total'] / max(ours['seconds']['total'], 1e-9),
                        memory_ratio=ours['extra_peak_mb_max'] /
                        max(stats['extra_peak_mb_max'], 1e-9),
                        map_ours=ours['metrics'].get('multi-label/mAP'))
                emit(rounded(line))


if __name__ == '__main__':
    main()
