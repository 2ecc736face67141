"""Forward + backward time of the multi-label losses against mmpretrain's and BCE.

    python tools/benchmarks/bench_losses.py [--batch 256] [--classes 1000,9605] [--steps 30]
        [--rounds 5] [--losses focal]

For each number of classes, one process times a forward + backward step of
every loss on the same logits and targets: the median over ``--steps`` steps
after a warm-up, in ``--rounds`` rounds that take the losses in turn (so a
slow spell of the machine hits all of them), keeping each loss's best round.
It prints one JSON line: the milliseconds per step, and the ratios
the losses are judged by: ``asl_speedup`` (mmpretrain's AsymmetricLoss over
ours; goal >= 2), ``asl_vs_bce`` (ours over BCEWithLogits; goal <= 2),
``focal_speedup`` (mmpretrain's FocalLoss(gamma=2, alpha=0.25) over ours;
goal >= 1.5), ``focal_vs_bce`` and ``two_way_vs_bce`` (goal <= 2). ``--losses`` keeps the losses whose names
contain one of its comma-separated words (BCE is always kept); a ratio is
printed when both of its losses ran.
"""
import argparse
import json
import statistics
import time
from typing import Callable, Dict

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

import mmml_ext  # noqa: F401  (registers the losses)


def step_time_ms(loss_fn: Callable, logits: torch.Tensor, target: torch.Tensor, steps: int) -> float:
    """Median milliseconds of one forward + backward."""
    times = []
    for i in range(steps + 5):
        x = logits.detach().requires_grad_()
        start = time.perf_counter()
        loss_fn(x, target).backward()
        if i >= 5:
            times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def losses(num_classes: int) -> Dict[str, Callable]:
    counts = torch.logspace(3, 0, num_classes).round().long().tolist()
    build = MODELS.build
    return {
        'bce_with_logits': lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction='sum') / len(x),
        'mmpretrain_asl': build(dict(type='AsymmetricLoss', gamma_pos=0.0, gamma_neg=4.0, clip=0.05)),
        'ours_asl': build(dict(type='MultiLabelAsymmetricLoss', gamma_pos=0.0, gamma_neg=4.0, clip=0.05)),
        'ours_asl_weight_grad': build(dict(type='MultiLabelAsymmetricLoss', gamma_pos=0.0, gamma_neg=4.0,
                                           clip=0.05, detach_focal_weight=False)),
        'mmpretrain_focal': build(dict(type='FocalLoss', gamma=2.0, alpha=0.25)),
        'ours_focal': build(dict(type='MultiLabelFocalLoss', gamma=2.0, alpha=0.25)),
        'ours_cb_focal': build(dict(type='ClassBalancedLoss', class_counts=counts)),
        'ours_db': build(dict(type='DistributionBalancedLoss', class_counts=counts, num_images=2000)),
        'ours_two_way': build(dict(type='TwoWayMultiLabelLoss')),
    }


RATIOS = {  # name: (numerator, denominator)
    'asl_speedup': ('mmpretrain_asl', 'ours_asl'),
    'asl_vs_bce': ('ours_asl', 'bce_with_logits'),
    'focal_speedup': ('mmpretrain_focal', 'ours_focal'),
    'focal_vs_bce': ('ours_focal', 'bce_with_logits'),
    'two_way_vs_bce': ('ours_two_way', 'bce_with_logits'),
}


def selected(fns: Dict[str, Callable], words: str) -> Dict[str, Callable]:
    """The losses whose names contain one of the comma-separated ``words``, and BCE."""
    keep = [w for w in words.split(',') if w]
    return {name: fn for name, fn in fns.items()
            if not keep or name == 'bce_with_logits' or any(w in name for w in keep)}


def ratios(ms: Dict[str, float]) -> Dict[str, float]:
    return {name: round(ms[num] / ms[den], 2) for name, (num, den) in RATIOS.items()
            if num in ms and den in ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=256)
    parser.add_argument('--classes', default='1000,9605')
    parser.add_argument('--steps', type=int, default=30)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--losses', default='', help='e.g. focal or asl,focal (default: all)')
    args = parser.parse_args()
    torch.manual_seed(0)
    for num_classes in (int(c) for c in args.classes.split(',')):
        logits = torch.randn(args.batch, num_classes) * 3
        target = (torch.rand(args.batch, num_classes) < 0.05).float()
        fns = selected(losses(num_classes), args.losses)
        ms = {name: float('inf') for name in fns}
        for _ in range(args.rounds):
            for name, fn in fns.items():
                ms[name] = min(ms[name], step_time_ms(fn, logits, target, args.steps))
        print(json.dumps(dict(
            size=f'{args.batch}x{num_classes}', threads=torch.get_num_threads(),
            ms_per_step={k: round(v, 3) for k, v in ms.items()}, **ratios(ms))))


if __name__ == '__main__':
    main()
