"""The multi-label evaluator against mmpretrain's, and mAP against scikit-learn / torchmetrics.

    python tools/benchmarks/bench_metrics.py [--sizes 20000x1000,40000x80] [--forms label,score]
        [--kernels map,sample_map] [--no-kernels] [--no-evaluator] [--threads 2]

For each size N x C, on the same predictions (scores rounded to 3 decimals, so
there are ties; about 5 % positives for 1,000 classes, 15 % for 80):

- **evaluator**: process + evaluate through mmengine's ``Evaluator``, batches
  of 256 data samples as a model's ``predict`` gives them, in both forms of
  ground truth that mmpretrain produces: ``label`` (``gt_label`` indices, the
  default preprocessor) and ``score`` (a one-hot float ``gt_score`` beside
  them, as ``to_onehot=True`` in mmpretrain's VOC configs or batch augments).
  Ours: ``MeanAP``, ``MultiLabelPRF`` at 0.5 and at top-3, ``SubsetAccuracy``,
  sharing one evaluation context as ``RunFactsHook`` gives them. mmpretrain's:
  ``MultiLabelMetric`` macro and micro, ``AveragePrecision``. Each runs in a
  child process of its own, which reports its time and its extra peak memory
  (RSS sampled every 5 ms, minus the RSS before it started, the data samples
  already built). ``--rounds`` alternates the two, keeping the best time of
  each (memory: the first run). The raw size of the predictions is
  N x C x 4 bytes of scores + N x C bytes of targets.
- **mAP kernels**: ours, ``sklearn.metrics.average_precision_score`` and
  torchmetrics' ``multilabel_average_precision`` (exact, ``thresholds=None``),
  and one ``torch.sort`` of the score matrix, the floor of any exact AP.
- **sample mAP kernel** (``sample_map``): ours
  (:func:`~mmml_ext.functional.average_precision.sample_average_precision`
  and :func:`~mmml_ext.functional.average_precision.sample_mean`) against
  ``sklearn.metrics.average_precision_score`` called on each row with a
  positive (the anchor), and, for information, scikit-learn's
  ``label_ranking_average_precision_score`` on all rows (equal to sample mAP
  when every row has a positive, as here; it loops over the rows too).

One JSON line per size and form with the absolute figures and the ratios
(anchor / ours for time, ours / anchor for memory, ours / raw). The mAP kernel
comparison needs scikit-learn and torchmetrics (``pip install torchmetrics``),
the sample mAP one scikit-learn only; ``--kernels`` picks them, ``--no-kernels``
skips both, ``--no-evaluator`` the evaluator timings.
"""
import argparse
import json
import multiprocessing as mp
import time
from typing import Dict, List, Tuple

import numpy as np
import torch

from measure import make_data, timed_with_peak

OURS = [dict(type='MeanAP', items=('mAP', ), report=False), dict(type='MultiLabelPRF'),
        dict(type='MultiLabelPRF', topk=3), dict(type='SubsetAccuracy')]
MMPRETRAIN = [dict(type='MultiLabelMetric', average='macro'),
              dict(type='MultiLabelMetric', average='micro'), dict(type='AveragePrecision')]


def data_samples(scores: torch.Tensor, target: torch.Tensor, form: str = 'label',
                 batch: int = 256) -> List[List[dict]]:
    """Batches of data samples as a model's predict returns them (row views of the scores);
    ``form='score'`` adds the one-hot float ``gt_score`` of ``to_onehot=True``."""
    batches = []
    for start in range(0, len(scores), batch):
        block = scores[start:start + batch].clone()
        onehot = target[start:start + batch].float() if form == 'score' else None
        samples = [dict(pred_score=row, gt_label=target[start + i].nonzero().flatten(),
                        sample_idx=start + i) for i, row in enumerate(block)]
        if onehot is not None:
            for sample, row in zip(samples, onehot):
                sample['gt_score'] = row
        batches.append(samples)
    return batches


def run_evaluator(which: str, num: int, classes: int, form: str, repeats: int, queue) -> None:
    """Child process: time process + evaluate, and its extra peak RSS."""
    torch.set_num_threads(2)
    from mmengine.evaluator import Evaluator
    from mmpretrain.registry import METRICS

    import mmml_ext  # noqa: F401
    from mmml_ext.evaluation import EvalContext
    batches = data_samples(*make_data(num, classes), form=form)
    cfgs = OURS if which == 'ours' else MMPRETRAIN
    times, peak = [], 0.0
    for repeat in range(repeats):
        evaluator = Evaluator([METRICS.build(cfg) for cfg in cfgs])
        if which == 'ours':  # one context for the evaluator, as RunFactsHook gives it
            context = EvalContext()
            for metric in evaluator.metrics:
                metric.set_eval_context(context)

        def evaluate(evaluator=evaluator) -> dict:
            for batch in batches:
                evaluator.process(batch)
            return evaluator.evaluate(num)

        seconds, extra, metrics = timed_with_peak(evaluate)
        times.append(seconds)
        if repeat == 0:
            peak = extra
        if which == 'ours':
            context.release()
            del context
        del evaluator, metrics
    queue.put(dict(seconds=min(times), extra_peak_mb=peak))


def measure(which: str, num: int, classes: int, form: str, repeats: int) -> Dict[str, float]:
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    proc = ctx.Process(target=run_evaluator, args=(which, num, classes, form, repeats, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def best_time(fn, repeats: int) -> Tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def map_kernels(num: int, classes: int, repeats: int) -> Dict[str, float]:
    from sklearn.metrics import average_precision_score
    from torchmetrics.functional.classification import multilabel_average_precision

    from mmml_ext.functional import average_precision, mean_average_precision
    scores, target = make_data(num, classes)
    target8 = target.to(torch.int8)
    ours_s, ours = best_time(lambda: mean_average_precision(average_precision(scores, target8)),
                             repeats)
    sort_s, _ = best_time(lambda: torch.sort(scores, dim=0), repeats)
    sk_s, sk = best_time(lambda: average_precision_score(target.numpy(), scores.numpy(),
                                                         average='macro'), 1)
    tm_s, tm = best_time(lambda: multilabel_average_precision(
        scores, target.long(), num_labels=classes, average='macro', thresholds=None), 1)
    return dict(map_ours_s=ours_s, map_sklearn_s=sk_s, map_torchmetrics_s=tm_s, sort_s=sort_s,
                map_vs_sort=ours_s / sort_s, sklearn_speedup=sk_s / ours_s,
                torchmetrics_speedup=tm_s / ours_s, map_max_abs_diff_vs_sklearn=abs(ours - sk),
                map_abs_diff_vs_torchmetrics=abs(ours - float(tm)))


def best_wall_and_cpu(fn, repeats: int) -> Tuple[float, float, object]:
    """The best wall and CPU seconds (all threads of the process) of ``fn()`` over ``repeats``
    calls, and its result: on a shared machine the CPU seconds move less than the wall."""
    wall, cpu, out = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu), out


def sample_map_kernels(num: int, classes: int, repeats: int) -> Dict[str, float]:
    """Sample mAP: ours against scikit-learn's AP called row by row (and its LRAP)."""
    from sklearn.metrics import average_precision_score, label_ranking_average_precision_score

    from mmml_ext.functional.average_precision import sample_average_precision, sample_mean
    scores, target = make_data(num, classes)
    target8 = target.to(torch.int8)
    ours_s, ours_cpu, ours = best_wall_and_cpu(
        lambda: float(sample_mean(sample_average_precision(scores, target8))), repeats)
    y, x = target.numpy(), scores.numpy()

    def per_row() -> float:
        return float(np.mean([average_precision_score(y[i], x[i]) for i in range(num)
                              if y[i].any()]))

    sk_s, sk_cpu, sk = best_wall_and_cpu(per_row, 1)
    lrap_s, lrap_cpu, lrap = best_wall_and_cpu(
        lambda: label_ranking_average_precision_score(y, x), 1)
    every_row_positive = bool(y.any(axis=1).all())
    return dict(sample_map_ours_s=ours_s, sample_map_sklearn_rows_s=sk_s,
                sample_map_sklearn_speedup=sk_s / ours_s, sample_map_ours_cpu_s=ours_cpu,
                sample_map_sklearn_rows_cpu_s=sk_cpu,
                sample_map_sklearn_cpu_speedup=sk_cpu / ours_cpu,
                sample_map_abs_diff_vs_sklearn=abs(ours - sk), sample_map_sklearn_lrap_s=lrap_s,
                sample_map_lrap_speedup=lrap_s / ours_s,
                sample_map_lrap_cpu_speedup=lrap_cpu / ours_cpu,
                sample_map_abs_diff_vs_lrap=abs(ours - lrap) if every_row_positive else None)


def kernel_timings(kernels, num: int, classes: int, repeats: int) -> dict:
    """The timings of the chosen kernels (``map``, ``sample_map``) on N x C data."""
    line = {}
    if 'map' in kernels:
        line.update(map_kernels(num, classes, repeats))
    if 'sample_map' in kernels:
        line.update(sample_map_kernels(num, classes, repeats))
    return line


def print_line(line: dict) -> None:
    """One JSON line, floats to 4 decimals."""
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in line.items()}),
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='20000x1000,40000x80')
    parser.add_argument('--forms', default='label,score',
                        help='ground truth forms: label (gt_label), score (one-hot gt_score too)')
    parser.add_argument('--kernels', default='map,sample_map',
                        help='kernel comparisons: map (needs torchmetrics), sample_map')
    parser.add_argument('--no-kernels', action='store_true', help='skip the kernel timings')
    parser.add_argument('--no-evaluator', action='store_true',
                        help='skip the evaluator timings (kernels only)')
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2,
                        help='torch threads of the kernel timings (the evaluators use 2)')
    parser.add_argument('--rounds', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kernels = [] if args.no_kernels else [k for k in args.kernels.split(',') if k]
    unknown = set(kernels) - {'map', 'sample_map'}
    if unknown:
        parser.error(f'--kernels: unknown {sorted(unknown)}; choose from map, sample_map')
    for size in args.sizes.split(','):
        num, classes = (int(v) for v in size.split('x'))
        if args.no_evaluator:
            print_line(dict(size=size, **kernel_timings(kernels, num, classes, args.repeats)))
            continue
        for form in args.forms.split(','):
            runs = {'mmpretrain': [], 'ours': []}
            for _ in range(args.rounds):
                for which in runs:
                    runs[which].append(measure(which, num, classes, form, args.repeats))
            anchor, ours = (dict(seconds=min(r['seconds'] for r in runs[w]),
                                 extra_peak_mb=runs[w][0]['extra_peak_mb']) for w in runs)
            raw_mb = num * classes * 5 / 2**20
            line = dict(size=size, form=form, anchor_s=anchor['seconds'], ours_s=ours['seconds'],
                        speedup=anchor['seconds'] / ours['seconds'],
                        anchor_extra_peak_mb=anchor['extra_peak_mb'],
                        ours_extra_peak_mb=ours['extra_peak_mb'],
                        memory_ratio=ours['extra_peak_mb'] / max(anchor['extra_peak_mb'], 1e-9),
                        raw_mb=raw_mb, ours_extra_over_raw=ours['extra_peak_mb'] / raw_mb)
            if form == args.forms.split(',')[0]:
                line.update(kernel_timings(kernels, num, classes, args.repeats))
            print_line(line)


if __name__ == '__main__':
    main()
