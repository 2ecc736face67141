"""Worker for test_partial_losses: LL-Cp corrections shared by every process (torchrun, gloo).

Each process computes the permanent-correction loss on its own batch of the fixed
data below (rows ``rank::world_size``) and writes the corrections it holds
afterwards to ``<out>.<rank>.json``.
"""
import json
import sys

import torch
import torch.distributed as dist
from mmpretrain.registry import MODELS

import mmml_ext  # noqa: F401

NUM_SAMPLES, NUM_CLASSES = 12, 7


def fixed_data():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(NUM_SAMPLES, NUM_CLASSES, generator=g) * 3
    target = torch.full((NUM_SAMPLES, NUM_CLASSES), -1.0)
    target[torch.arange(NUM_SAMPLES), torch.arange(NUM_SAMPLES) % NUM_CLASSES] = 1.0
    return logits, target


def main(out: str) -> None:
    dist.init_process_group('gloo')
    rank, world = dist.get_rank(), dist.get_world_size()
    loss = MODELS.build(dict(type='LargeLossRejection', mode='correct_permanent',
                             delta_rel=10.0))
    loss.set_epoch(1)
    logits, target = fixed_data()
    rows = list(range(rank, NUM_SAMPLES, world))
    loss(logits[rows], target[rows], sample_idx=rows)
    with open(f'{out}.{rank}.json', 'w') as f:
        json.dump(loss.corrected.tolist(), f)
    dist.destroy_process_group()


if __name__ == '__main__':
    main(sys.argv[1])
