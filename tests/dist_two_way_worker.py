"""Worker for test_two_way_loss: the two-way loss of a batch split over processes (gloo).

Process r takes rows ``ROWS[r]`` of the fixed data below (batches of different sizes, unknown
cells on one process only), computes the loss with ``batch=<scope>`` and writes its value and
the gradient of its own logits to ``<out>.<rank>.json``.
"""
import json
import sys

import torch
import torch.distributed as dist
from mmpretrain.registry import MODELS

import mmml_ext  # noqa: F401

NUM_SAMPLES, NUM_CLASSES = 8, 5
ROWS = ([0, 1, 2], [3, 4, 5, 6, 7])


def fixed_data():
    g = torch.Generator().manual_seed(7)
    logits = torch.randn(NUM_SAMPLES, NUM_CLASSES, generator=g, dtype=torch.float64) * 2
    target = (torch.rand(NUM_SAMPLES, NUM_CLASSES, generator=g) < 0.35).double()
    target[1] = 0  # a sample without a positive
    target[:, 4] = 0  # a class without a positive
    target[5, 0], target[6, 2] = -1, -1  # unknown cells, on the second process only
    return logits, target


def main(scope: str, out: str) -> None:
    dist.init_process_group('gloo')
    rank = dist.get_rank()
    loss = MODELS.build(dict(type='TwoWayMultiLabelLoss', batch=scope))
    logits, target = fixed_data()
    mine = logits[ROWS[rank]].clone().requires_grad_(True)
    value = loss(mine, target[ROWS[rank]])
    value.backward()
    with open(f'{out}.{rank}.json', 'w') as f:
        json.dump(dict(loss=value.item(), grad=mine.grad.tolist()), f)
    dist.destroy_process_group()


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
