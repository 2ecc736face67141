"""Class-balanced wrapper init: ``MultiLabelBalancedDataset`` against mmengine's ``ClassBalancedDataset``.

    python tools/benchmarks/bench_resampling.py [--sizes 200000,500000] [--thr 0.1]

On the same in-memory multi-label dataset (serialized like mmengine's datasets,
20 long-tailed classes, some images without labels), times building each
wrapper's repeat indices (each on a fresh, already initialised dataset),
measures the peak Python / numpy memory of that build (tracemalloc, in a
separate build) and the size of the indices kept, checks the indices are equal, and prints one JSON
line per size with the ratios (mmengine / ours).
"""
import argparse
import json
import sys
import time
import tracemalloc

import numpy as np
from mmengine.dataset import BaseDataset, ClassBalancedDataset

import mmml_ext  # noqa: F401
from mmml_ext.datasets import MultiLabelBalancedDataset


class SyntheticMultiLabel(BaseDataset):
    METAINFO = dict(classes=tuple(f'c{i}' for i in range(20)))

    def __init__(self, num: int, seed: int = 0):
        self.num, self.seed = num, seed
        super().__init__(ann_file='', lazy_init=False)

    def load_data_list(self):
        rng = np.random.default_rng(self.seed)
        hits = rng.random((self.num, 20)) < 0.4 * 0.78**np.arange(20)
        return [dict(gt_label=np.flatnonzero(row).tolist()) for row in hits]

    def get_cat_ids(self, idx):
        return self.get_data_info(idx)['gt_label']


def timed(build, dataset):
    start = time.perf_counter()
    wrapper = build(dataset)
    return wrapper, time.perf_counter() - start


def peak_mb(build, dataset) -> float:
    tracemalloc.start()
    build(dataset)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return peak


def indices_mb(indices, num_images: int) -> float:
    """Memory of the kept indices: a numpy array, or a list of int objects."""
    if isinstance(indices, np.ndarray):
        return indices.nbytes / 2**20
    return (sys.getsizeof(indices) + num_images * sys.getsizeof(num_images)) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='200000,500000')
    parser.add_argument('--thr', type=float, default=0.1)
    args = parser.parse_args()
    builders = dict(
        mmengine=lambda d: ClassBalancedDataset(d, args.thr),
        ours=lambda d: MultiLabelBalancedDataset(d, args.thr),
    )
    for num in (int(n) for n in args.sizes.split(',')):
        # a fresh dataset for every build: nothing is cached between them
        built = {name: timed(build, SyntheticMultiLabel(num)) for name, build in builders.items()}
        peaks = {name: peak_mb(build, SyntheticMultiLabel(num)) for name, build in builders.items()}
        (theirs, their_s), (ours, our_s) = built['mmengine'], built['ours']
        print(json.dumps(dict(
            samples=num, mmengine_s=round(their_s, 3), ours_s=round(our_s, 3),
            speedup=round(their_s / our_s, 2), mmengine_peak_mb=round(peaks['mmengine'], 1),
            ours_peak_mb=round(peaks['ours'], 1),
            mmengine_indices_mb=round(indices_mb(theirs.repeat_indices, num), 1),
            ours_indices_mb=round(indices_mb(ours.repeat_indices, num), 1),
            epoch_length=len(ours),
            identical_indices=bool(np.array_equal(ours.repeat_indices,
                                                  np.asarray(theirs.repeat_indices))))),
              flush=True)


if __name__ == '__main__':
    main()
