"""Class-balanced resampling: mmengine parity, per-epoch samplers under DDP, bad input."""
import numpy as np
import pytest
from mmengine.dataset import BaseDataset, ClassBalancedDataset

import mmml_ext  # noqa: F401
from mmml_ext.datasets import (ClassAwareSampler, LabelIndex, LongTailedShapes,
                               MultiLabelBalancedDataset, RepeatFactorSampler)
from mmml_ext.datasets import samplers as samplers_module


class ToyMultiLabel(BaseDataset):
    """In-memory multi-label dataset; some images have no label."""
    METAINFO = dict(classes=tuple(f'c{i}' for i in range(12)))

    def __init__(self, labels, **kwargs):
        self._labels = labels
        super().__init__(ann_file='', **kwargs)

    def load_data_list(self):
        return [dict(gt_label=list(row)) for row in self._labels]

    def get_cat_ids(self, idx):
        return list(self.get_data_info(idx)['gt_label'])


def random_labels(seed, n=500, c=12):
    rng = np.random.default_rng(seed)
    probs = 0.5 * 0.7**np.arange(c)  # long-tailed
    rows = [list(np.flatnonzero(rng.random(c) < probs)) for _ in range(n)]
    rows[3] = []  # images without labels
    rows[10] = [5, 5, 1]  # a duplicated label counts once
    return rows


@pytest.mark.parametrize('seed, thr', [(0, 0.1), (1, 0.3), (2, 1.0), (3, 0.01)])
def test_indices_equal_mmengine_class_balanced_dataset(seed, thr):
    labels = random_labels(seed)
    ours = MultiLabelBalancedDataset(ToyMultiLabel(labels), oversample_thr=thr)
    theirs = ClassBalancedDataset(ToyMultiLabel(labels), oversample_thr=thr)
    assert isinstance(ours.repeat_indices, np.ndarray)
    np.testing.assert_array_equal(ours.repeat_indices, np.asarray(theirs.repeat_indices))
    assert len(ours) == len(theirs)
    assert ours.get_cat_ids(7) == theirs.get_cat_ids(7)


def test_image_factor_and_inverse_rule_closed_form():
    # class 0 in 4 of 8 images (f = 0.5), class 1 in 1 (f = 0.125); t = 0.5
    labels = [[0], [0], [0], [0, 1], [], [], [], []]
    dataset = ToyMultiLabel(labels)
    sqrt_max = MultiLabelBalancedDataset(dataset, 0.5).repeat_factors
    np.testing.assert_allclose(sqrt_max[:5], [1, 1, 1, 2, 1])  # sqrt(0.5 / 0.125) = 2
    mean = MultiLabelBalancedDataset(dataset, 0.5, image_factor='mean').repeat_factors
    assert mean[3] == pytest.approx(1.5)
    inverse = MultiLabelBalancedDataset(dataset, 0.5, repeat_rule='inverse', max_repeat=3)
    assert inverse.repeat_factors[3] == 3  # min(3, 0.5 / 0.125 = 4)
    assert list(inverse.repeat_indices).count(3) == 3


@pytest.mark.parametrize('thr', [0, 1.5, -0.1, 50])
def test_bad_oversample_thr(thr):
    with pytest.raises(ValueError, match='oversample_thr must be a fraction of images'):
        MultiLabelBalancedDataset(ToyMultiLabel([[0]]), oversample_thr=thr)
    with pytest.raises(ValueError, match='oversample_thr'):
        RepeatFactorSampler(ToyMultiLabel([[0]]), oversample_thr=thr, seed=0)


def test_lazy_init_reads_labels_once():
    calls = []

    class Counting(ToyMultiLabel):
        def get_cat_ids(self, idx):
            calls.append(idx)
            return super().get_cat_ids(idx)

    dataset = Counting(random_labels(4, n=50))
    wrapper = MultiLabelBalancedDataset(dataset, 0.2, lazy_init=True)
    assert not calls
    len(wrapper)
    RepeatFactorSampler(dataset, 0.2, seed=0)  # shares the index built by the wrapper
    assert len(calls) == 50


def shares(make, world_size, epoch=0):
    out = []
    for rank in range(world_size):
        samplers_module.get_dist_info = lambda r=rank: (r, world_size)
        try:
            sampler = make()
        finally:
            samplers_module.get_dist_info = _real_get_dist_info
        sampler.set_epoch(epoch)
        out.append(list(sampler))
        assert len(out[-1]) == len(sampler)
    return out


_real_get_dist_info = samplers_module.get_dist_info
SAMPLERS = {
    'repeat': lambda d: (lambda: RepeatFactorSampler(d, oversample_thr=0.2, seed=3)),
    'class_aware': lambda d: (lambda: ClassAwareSampler(d, num_sample_class=2, seed=3)),
}


@pytest.mark.parametrize('kind', list(SAMPLERS))
def test_two_ranks_get_disjoint_equal_shares_of_one_epoch(kind):
    dataset = ToyMultiLabel(random_labels(5, n=101))
    make = SAMPLERS[kind](dataset)
    (single, ) = shares(make, 1)
    rank0, rank1 = shares(make, 2)
    assert len(rank0) == len(rank1) == -(-len(single) // 2)
    # the two shares interleave back into the single-process epoch (plus wrap-around padding)
    merged = [i for pair in zip(rank0, rank1) for i in pair]
    assert merged[:len(single)] == single


@pytest.mark.parametrize('kind', list(SAMPLERS))
def test_deterministic_per_seed_and_epoch(kind):
    dataset = ToyMultiLabel(random_labels(6, n=80))
    make = SAMPLERS[kind](dataset)
    assert shares(make, 1, epoch=2) == shares(make, 1, epoch=2)
    assert shares(make, 1, epoch=2) != shares(make, 1, epoch=3)


def test_repeat_factor_sampler_meets_the_expected_factor():
    dataset = ToyMultiLabel([[0], [1], [1], [1], [1], [1], [1], [1], [1], [1]])
    sampler = RepeatFactorSampler(dataset, oversample_thr=0.4, seed=0)  # r(class 0) = 2
    assert sampler.factors[0] == pytest.approx(2.0)
    counts = np.zeros(10)
    for epoch in range(200):
        sampler.set_epoch(epoch)
        counts += np.bincount(list(sampler), minlength=10)
    assert counts[0] / 200 == pytest.approx(2.0, abs=0.15)


def test_fractional_factors_are_rounded_stochastically():
    dataset = ToyMultiLabel([[0]] + [[1]] * 15)
    sampler = RepeatFactorSampler(dataset, oversample_thr=0.1, seed=0)  # r(0) = sqrt(1.6)
    draws = []
    for epoch in range(300):
        sampler.set_epoch(epoch)
        draws.append(list(sampler).count(0))
    assert set(draws) >= {1, 2}  # never always rounded up
    assert np.mean(draws) == pytest.approx(np.sqrt(1.6), abs=0.1)


def test_class_aware_sampler_flattens_class_exposure():
    dataset = LongTailedShapes(split='train')
    index = LabelIndex.of(dataset)
    sampler = ClassAwareSampler(dataset, length=20000, seed=0)
    picked = np.asarray(list(sampler))
    seen = np.bincount(np.concatenate([index.labels[index.offsets[i]:index.offsets[i + 1]]
                                       for i in picked]), minlength=20)
    natural = index.class_counts()
    assert natural[0] / natural[-1] == 100
    # the tail is seen at least as often as one uniform class pick in 20 gives it
    assert seen[-1] >= 0.9 * len(picked) / 20
    assert seen.max() / seen[-1] < 10  # versus 100 without the sampler


def test_class_aware_sampler_skips_empty_classes_and_checks_args():
    dataset = ToyMultiLabel([[0], [2], [2, 0]])
    sampler = ClassAwareSampler(dataset, seed=0, length=30)
    assert set(sampler.classes.tolist()) == {0, 2}
    assert len(list(sampler)) == 30
    with pytest.raises(ValueError, match='num_sample_class'):
        ClassAwareSampler(dataset, num_sample_class=0, seed=0)
    with pytest.raises(ValueError, match='no class has an image'):
        ClassAwareSampler(ToyMultiLabel([[], []]), seed=0)


def test_samplers_take_mmengines_sampler_keys_where_they_mean_something():
    dataset = ToyMultiLabel([[0], [1], [1], [1], [1], [1], [1], [1], [1], [1]])
    shuffled = RepeatFactorSampler(dataset, oversample_thr=0.4, seed=0, shuffle=True,
                                   round_up=True)  # as merged from a base's DefaultSampler
    in_order = RepeatFactorSampler(dataset, oversample_thr=0.4, seed=0, shuffle=False)
    drawn = list(in_order)
    assert drawn == sorted(drawn) and sorted(list(shuffled)) == drawn  # same draw, no shuffle
    assert len(list(ClassAwareSampler(dataset, seed=0, shuffle=True, length=5))) == 5
    with pytest.raises(ValueError, match='shuffle=False has no meaning'):
        ClassAwareSampler(dataset, seed=0, shuffle=False)
    with pytest.raises(ValueError, match='round_up=False is not supported'):
        RepeatFactorSampler(dataset, oversample_thr=0.4, round_up=False)


@pytest.mark.parametrize('build', [
    lambda: RepeatFactorSampler(ToyMultiLabel([[0]]), oversample_thr=0.4, batch_size=2),
    lambda: MultiLabelBalancedDataset(dict(type='LongTailedShapes', split='train'),
                                      oversample_thr=0.1, data_root='data/VOC2007'),
])
def test_keys_inherited_from_a_base_are_named_with_the_remedy(build):
    with pytest.raises(ValueError, match=r"no argument\(s\) \['(batch_size|data_root)'\]; its "
                                         r"arguments are \[.*_delete_=True"):
        build()


def test_a_leftover_delete_key_means_nothing():
    dataset = MultiLabelBalancedDataset(dict(type='LongTailedShapes', split='train'),
                                        oversample_thr=0.1, _delete_=True)
    assert len(dataset) > 800


def test_label_index_closed_form():
    index = LabelIndex.build(ToyMultiLabel([[3, 1, 3], [], [0]]))
    assert index.offsets.tolist() == [0, 2, 2, 3] and index.labels.tolist() == [1, 3, 0]
    assert index.class_counts()[:4].tolist() == [1, 1, 0, 1]
    with pytest.raises(ValueError, match='image 1 has label 12'):
        LabelIndex.build(ToyMultiLabel([[0], [12]]))


@pytest.mark.parametrize('name', ['bce_rfs', 'asl_rfs', 'bce_cas', 'db_cas'])
def test_resampling_demo_configs_train(name, tmp_path):
    from mmengine.config import Config

    from cli_helpers import run_tool
    config = f'configs/demo/resnet18_shapes-lt_{name}.py'
    cfg = Config.fromfile(config)
    wrapped = cfg.train_dataloader.dataset.type == 'MultiLabelBalancedDataset'
    assert wrapped or cfg.train_dataloader.sampler.type == 'ClassAwareSampler'
    subset = ('train_dataloader.dataset.dataset.indices=64' if wrapped else
              'train_dataloader.dataset.indices=64')
    proc = run_tool('train.py', config, '--work-dir', tmp_path, '--no-validate', '--cfg-options',
                    'train_cfg.max_epochs=1', subset, 'train_dataloader.num_workers=0')
    assert 'Epoch(train) [1]' in proc.stdout + proc.stderr
    assert (tmp_path / 'epoch_1.pth').exists()


def test_repeat_factor_sampler_in_order_cuts_and_pads_at_random_places():
    dataset = ToyMultiLabel([[0]] + [[1]] * 15)  # r(0) = sqrt(1.6): the draw is 16 or 17 long
    sampler = RepeatFactorSampler(dataset, oversample_thr=0.1, seed=0, shuffle=False)
    epochs = []
    for epoch in range(60):
        sampler.set_epoch(epoch)
        drawn = list(sampler)
        assert drawn == sorted(drawn) and len(drawn) == sampler.epoch_length()
        epochs.append(np.bincount(drawn, minlength=16))
    counts = np.array(epochs)
    # the image cut (or repeated) to fit the epoch is not always the same one
    assert len({tuple(row) for row in counts}) > 3
    assert counts[:, 1:].mean(axis=0).min() > 0.8  # no image of class 1 is starved
