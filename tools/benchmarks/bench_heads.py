"""Time per image of the multi-label heads: linear, mmpretrain's CSRA and ML-Decoder.

    python tools/benchmarks/bench_heads.py [--classes 80,1000,9605] [--batch 32]
        [--in-channels 2048] [--size 7] [--steps 10] [--rounds 3] [--backbone]

For each number of classes, one process times every head on the same features (a
ResNet-50's last stage at 224 px by default: 2048 x 7 x 7): inference (forward, no
gradient, eval mode) and a training step (forward + backward), each the median over
``--steps`` steps after a warm-up, in ``--rounds`` rounds that take the heads in turn,
keeping each head's best round. The linear head is ``ImbalancedMultiLabelHead`` after
global average pooling (mmpretrain's ``MultiLabelLinearClsHead`` computes the same);
CSRA is mmpretrain's ``CSRAClsHead`` (one head, lam 0.1, its VOC config); ML-Decoder is
``MLDecoderHead`` with the paper's defaults. ``--backbone`` also times ResNet-50's forward
per image, for scale. Prints one JSON line: milliseconds per image, parameters, and the
ratios against the linear head.
"""
import argparse
import json
import statistics
import sys
import time
from typing import Callable, Dict

import torch
from mmpretrain.registry import MODELS

import mmml_ext  # noqa: F401  (registers the heads)


def per_image_ms(step: Callable[[], None], steps: int, batch: int) -> float:
    """Median milliseconds of one call of ``step``, per image of the batch."""
    times = []
    for i in range(steps + 2):
        start = time.perf_counter()
        step()
        if i >= 2:
            times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times) / batch


class Pooled(torch.nn.Module):
    """Global average pooling, then a head: the linear head as a model runs it."""

    def __init__(self, head: torch.nn.Module):
        super().__init__()
        self.head = head

    def forward(self, feats):
        return self.head((feats[-1].mean((2, 3)),))


def heads(num_classes: int, in_channels: int) -> Dict[str, torch.nn.Module]:
    build = MODELS.build
    return {
        'linear': Pooled(build(dict(type='ImbalancedMultiLabelHead', num_classes=num_classes,
                                    in_channels=in_channels))),
        'csra': build(dict(type='CSRAClsHead', num_classes=num_classes, in_channels=in_channels,
                           num_heads=1, lam=0.1)),
        'ml_decoder': build(dict(type='MLDecoderHead', num_classes=num_classes,
                                 in_channels=in_channels)),
    }


def forward_fn(head: torch.nn.Module) -> Callable:
    return head.forward if isinstance(head, Pooled) else head


def time_heads(num_classes: int, args) -> dict:
    torch.manual_seed(0)
    features = (torch.randn(args.batch, args.in_channels, args.size, args.size), )
    built = heads(num_classes, args.in_channels)
    best = {f'{name}_{mode}': float('inf') for name in built for mode in ('infer', 'train')}
    for _ in range(args.rounds):
        for name, head in built.items():
            fn = forward_fn(head)

            def infer():
                with torch.no_grad():
                    fn(features)

            def train():
                x = features[0].detach().requires_grad_()
                fn((x, )).sum().backward()

            head.eval()
            best[f'{name}_infer'] = min(best[f'{name}_infer'],
                                        per_image_ms(infer, args.steps, args.batch))
            head.train()
            best[f'{name}_train'] = min(best[f'{name}_train'],
                                        per_image_ms(train, args.steps, args.batch))
    out = {f'{key}_ms_per_image': round(value, 4) for key, value in best.items()}
    for name, head in built.items():
        out[f'{name}_params'] = sum(p.numel() for p in head.parameters())
    for mode in ('infer', 'train'):
        linear = best[f'linear_{mode}']
        for name in ('csra', 'ml_decoder'):
            out[f'{name}_extra_{mode}_ms_per_image'] = round(best[f'{name}_{mode}'] - linear, 4)
            out[f'{name}_vs_linear_{mode}'] = round(best[f'{name}_{mode}'] / linear, 2)
    return out


def backbone_ms(args) -> float:
    model = MODELS.build(dict(type='ResNet', depth=50))
    model.eval()  # mmpretrain's ResNet.train returns None, so not chained
    images = torch.randn(8, 3, 32 * args.size, 32 * args.size)

    def step():
        with torch.no_grad():
            model(images)

    return round(per_image_ms(step, max(2, args.steps // 3), len(images)), 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--classes', default='80,1000,9605')
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--in-channels', type=int, default=2048)
    parser.add_argument('--size', type=int, default=7, help='feature map height and width')
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--backbone', action='store_true',
                        help='also time ResNet-50 forward per image at 32 x size px')
    args = parser.parse_args()
    result = dict(batch=args.batch, features=[args.in_channels, args.size, args.size],
                  threads=torch.get_num_threads())
    if args.backbone:
        result['resnet50_infer_ms_per_image'] = backbone_ms(args)
    for num_classes in (int(c) for c in args.classes.split(',')):
        result[f'C={num_classes}'] = time_heads(num_classes, args)
        print(json.dumps({f'C={num_classes}': result[f'C={num_classes}']}), file=sys.stderr)
    print(json.dumps(result))


if __name__ == '__main__':
    main()
