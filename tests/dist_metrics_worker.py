"""Worker for test_metrics_distributed: evaluate fixed predictions under torchrun (gloo, CPU).

Each process takes its share of the samples exactly as mmengine's DefaultSampler
hands them out (padding the last round when the size does not divide), runs the
multi-label metrics through an mmengine Evaluator, and rank 0 writes the metrics
to the JSON file given as the first argument. Options: ``--shared`` gives all
metrics one evaluation context (as RunFactsHook does), ``--no-index`` drops the
samples' ``sample_idx`` (rows are then ordered as mmengine orders results).
"""
import json
import sys

import torch
import torch.distributed as dist
from mmengine.dataset import DefaultSampler
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS

import mmml_ext  # noqa: F401
from mmml_ext.evaluation import EvalContext

NUM_SAMPLES, NUM_CLASSES = 101, 9
METRIC_CFGS = [
    dict(type='MeanAP', class_counts=[400, 300, 120, 90, 50, 25, 15, 8, 3]),
    dict(type='MultiLabelPRF', items=('CP', 'CR', 'CF1', 'OP', 'OR', 'OF1', 'macro_F1')),
    dict(type='MultiLabelPRF', topk=3),
    dict(type='SubsetAccuracy', items=('subset_accuracy', 'hamming_accuracy', 'jaccard',
                                       'example_f1')),
    dict(type='MultiLabelRanking'),
    dict(type='TunedThresholdF1', save=False),
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


def main(out_file: str, options) -> None:
    dist.init_process_group('gloo')
    samples = fixed_samples(indexed='--no-index' not in options)
    sampler = DefaultSampler(samples, shuffle=False)  # pads to a multiple of the world size
    evaluator = Evaluator([METRICS.build(cfg) for cfg in METRIC_CFGS])
    if '--shared' in options:
        context = EvalContext()
        for metric in evaluator.metrics:
            metric.set_eval_context(context)
    indices = list(sampler)
    for start in range(0, len(indices), 4):
        evaluator.process([samples[i] for i in indices[start:start + 4]])
    metrics = evaluator.evaluate(NUM_SAMPLES)
    if dist.get_rank() == 0:
        with open(out_file, 'w') as f:
            json.dump(dict(metrics=metrics, world_size=dist.get_world_size(),
                           per_rank=len(indices)), f)
    dist.destroy_process_group()


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2:])
