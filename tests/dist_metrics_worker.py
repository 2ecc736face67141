"""Worker for test_metrics_distributed: evaluate fixed predictions under torchrun (gloo, CPU).

Each process takes its share of the samples exactly as mmengine's DefaultSampler
hands them out (padding the last round when the size does not divide), runs the
multi-label metrics through an mmengine Evaluator, and writes what it got (the
metrics, or the error it raised) to ``<out>.rank<r>.json``. Options:

- ``--shared``: all metrics share one evaluation context (as RunFactsHook does);
- ``--no-index``: the samples have no ``sample_idx`` (mmengine's order);
- ``--rich``: the data of :func:`rich_samples` (-1 cells, labels only on
  difficult objects, continuous scores) and :data:`RICH_CFGS`;
- ``--small-rounds``: exchange and write the rows in rounds of a few rows;
- ``--fail``: add a metric that fails on every process (a missing thresholds
  file), with ``out_dir`` next to ``<out>``;
- ``--classes-mismatch``: rank 1 evaluates one class more;
- ``--late``: rank 2 never starts evaluating (it exits once the others have written
  their results, or after 60 s);
- ``--die-in-exchange``: rank 2 stops answering in the exchange of the rows (and exits
  with 3 once the others have written their results, or after 60 s).
"""
import json
import os
import os.path as osp
import sys
import time

import torch
import torch.distributed as dist
from mmengine.dataset import DefaultSampler
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS

import mmml_ext  # noqa: F401
from mmml_ext.evaluation import EvalContext, sharded_rows

NUM_SAMPLES, NUM_CLASSES = 101, 9
METRIC_CFGS = [
    dict(type='MeanAP', class_counts=[400, 300, 120, 90, 50, 25, 15, 8, 3],
         items=('mAP', 'mAP_head', 'mAP_medium', 'mAP_tail', 'sample_mAP')),
    # rows only: per-sample AP where the rows are, no class AP (so no exchange of columns)
    dict(type='MeanAP', items=('sample_mAP', ), report=False, prefix='rows-only'),
    dict(type='MultiLabelPRF', items=('CP', 'CR', 'CF1', 'OP', 'OR', 'OF1', 'macro_F1')),
    dict(type='MultiLabelPRF', topk=3),
    dict(type='SubsetAccuracy', items=('subset_accuracy', 'hamming_accuracy', 'jaccard',
                                       'example_f1')),
    dict(type='MultiLabelRanking'),
    dict(type='TunedThresholdF1', save=False),
]
RICH_SAMPLES, RICH_CLASSES = 257, 23
RICH_CFGS = [
    dict(type='MeanAP', class_counts=[300 // (c + 1) for c in range(RICH_CLASSES)],
         items=('mAP', 'mAP_head', 'mAP_medium', 'mAP_tail', 'sample_mAP')),
    dict(type='MeanAP', items=('mAP', 'sample_mAP'), difficult_as='positive',
         prefix='difficult-positive'),
    dict(type='MultiLabelPRF', items=('CP', 'CR', 'CF1', 'OP', 'OR', 'OF1', 'macro_F1')),
    dict(type='MultiLabelPRF', topk=3, difficult_as='negative'),
    dict(type='MultiLabelPRF', thresholds=[0.1 + 0.03 * c for c in range(RICH_CLASSES)]),
    dict(type='SubsetAccuracy', items=('subset_accuracy', 'hamming_accuracy', 'hamming_loss',
                                       'jaccard', 'example_f1')),
    dict(type='SubsetAccuracy', topk=2, prefix='top2'),
    dict(type='MultiLabelRanking'),
    dict(type='TunedThresholdF1'),  # publishes its fit (thresholds.json beside <out>)
    dict(type='TunedThresholdF1', save=False, difficult_as='positive', prefix='tuned-pos'),
    dict(type='MultiLabelCalibration'),
    dict(type='MultiLabelCalibration', num_bins=7, difficult_as='negative', prefix='cal7'),
    dict(type='MultiLabelAUROC', difficult_as='negative', prefix='auroc'),
    dict(type='MultiLabelPrecisionAtRecall', min_recall=0.7, classwise=True, prefix='p_at_r'),
    dict(type='MultiLabelRecallAtPrecision', min_precision=0.5),
]


def fixed_samples(indexed: bool = True):
    g = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 8, (NUM_SAMPLES, NUM_CLASSES), generator=g).float() / 7
    onehot = torch.rand(NUM_SAMPLES, NUM_CLASSES, generator=g) < 0.3
    samples = [dict(pred_score=scores[i], gt_label=onehot[i].nonzero().flatten())
               for i in range(NUM_SAMPLES)]
    if indexed:
        for i, sample in enumerate(samples):
            sample['sample_idx'] = i
    return samples


def rich_samples(num_classes: int = RICH_CLASSES):
    """Continuous scores (some tied), -1 cells in gt_score, labels only on difficult objects."""
    g = torch.Generator().manual_seed(1)
    scores = torch.rand(RICH_SAMPLES, num_classes, generator=g)
    scores[:, ::4] = (scores[:, ::4] * 20).round() / 20  # ties in every fourth class
    target = (torch.rand(RICH_SAMPLES, num_classes, generator=g) < 0.2).float()
    target[torch.rand(RICH_SAMPLES, num_classes, generator=g) < 0.05] = -1
    samples = []
    for i in range(RICH_SAMPLES):
        sample = dict(pred_score=scores[i], gt_score=target[i], sample_idx=i)
        if i % 5 == 0:
            sample['gt_label_difficult'] = torch.tensor([i % num_classes, (i + 3) % num_classes])
        samples.append(sample)
    return samples


def tuned_fit(context: EvalContext):
    """The thresholds and inverse temperatures the last TunedThresholdF1 fitted, or None."""
    tuned = context.produced_thresholds
    if tuned is None:
        return None
    return dict(global_thr=tuned.global_thr, per_class=list(tuned.per_class),
                inverse_temperature=list(tuned.inverse_temperature))


def wait_for_the_others(out_file: str, limit: float = 60.0) -> None:
    """Block until ranks 0 and 1 have written their results (or ``limit`` seconds).

    The absent rank waits for the others' verdict rather than a fixed time, so the test
    takes as long as the timeout and its diagnosis, however loaded the machine is.
    """
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and not all(
            osp.exists(f'{out_file}.rank{rank}.json') for rank in (0, 1)):
        time.sleep(0.2)


def main(out_file: str, options) -> None:
    dist.init_process_group('gloo')
    rank = dist.get_rank()
    if '--rich' in options:
        samples, cfgs = rich_samples(RICH_CLASSES + (rank == 1 and '--classes-mismatch' in
                                                     options)), list(RICH_CFGS)
    else:
        samples, cfgs = fixed_samples(indexed='--no-index' not in options), list(METRIC_CFGS)
    if '--small-rounds' in options:
        sharded_rows.EXCHANGE_CELLS = sharded_rows.WRITE_CELLS = 64
    if '--fail' in options:
        cfgs.append(dict(type='MultiLabelPRF', thresholds='no_such_thresholds.json',
                         out_dir=osp.dirname(out_file)))
    if '--die-in-exchange' in options and rank == 2:
        def stop(*args, **kwargs):
            wait_for_the_others(out_file)
            os._exit(3)
        sharded_rows.ShardedRows._exchange_columns = stop
    sampler = DefaultSampler(samples, shuffle=False)  # pads to a multiple of the world size
    evaluator = Evaluator([METRICS.build(cfg) for cfg in cfgs])
    context = None
    if '--shared' in options:
        context = EvalContext(work_dir=osp.dirname(out_file))  # as RunFactsHook gives it
        for metric in evaluator.metrics:
            metric.set_eval_context(context)
    indices = list(sampler)
    for start in range(0, len(indices), 4):
        evaluator.process([samples[i] for i in indices[start:start + 4]])
    if '--late' in options and rank == 2:
        wait_for_the_others(out_file)
        os._exit(0)
    result = dict(world_size=dist.get_world_size(), per_rank=len(indices))
    try:
        result['metrics'] = evaluator.evaluate(len(samples))
        if context is not None:  # whether the rows stayed spread over the processes
            result['sharded'] = context.rows.spread
            result['tuned'] = tuned_fit(context)
            if context.rows.spread:  # all rows are not here: reading them must refuse
                try:
                    context.rows.scores
                except RuntimeError as refused:
                    result['all_rows_refused'] = str(refused)
    except Exception as error:
        result['error'] = dict(type=type(error).__name__, message=str(error))
    with open(f'{out_file}.rank{rank}.json', 'w') as f:
        json.dump(result, f)
    if 'error' not in result:
        dist.destroy_process_group()
        return
    # After a failed exchange the process group cannot be torn down in step with the others
    # (a peer may be gone), and leaving it to the interpreter's exit can abort in gloo's
    # threads ("terminate called without an active exception"): the result is written, so
    # leave at once, as a process that reported its error.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2:])
