"""Hiding labels by the partial-label protocols: the numpy helpers of
``mmml_ext.datasets.label_hiding`` and the ``PartialLabelDataset`` wrapper, down to the
batch the data preprocessor hands the head (-1 cells unchanged, docs/design.md,
'Target codes')."""
import doctest
import importlib
import logging
import math
import pickle

import numpy as np
import pytest
import torch
from mmengine.dataset import BaseDataset, ClassBalancedDataset, RepeatDataset, pseudo_collate
from mmengine.logging import MMLogger
from mmpretrain.datasets import MultiLabelDataset
from mmpretrain.models import ClsDataPreprocessor
from mmpretrain.registry import DATASETS

import mmml_ext  # noqa: F401  (registers the datasets)
from mmml_ext.datasets import (LabelIndex, LongTailedShapes, MultiLabelBalancedDataset,
                               PartialLabelDataset)
from mmml_ext.datasets import partial_labels as partial_module
from mmml_ext.datasets.label_hiding import (HidingSummary, check_hiding_args, hide_positives,
                                            keep_quota, observed_targets, one_per_image, select,
                                            take_rows)
from mmml_ext.datasets.repeat_factors import repeat_factors


# ------------------------------------------------------------------ helpers
def random_csr(seed, num_images=300, num_classes=12, empty_fraction=0.2):
    """Random CSR labels: sorted distinct classes per image, some images without any."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(num_images):
        if rng.random() < empty_fraction:
            rows.append([])
        else:
            size = int(rng.integers(1, num_classes + 1))
            rows.append(sorted(rng.choice(num_classes, size=size, replace=False).tolist()))
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    labels = np.array([c for r in rows for c in r], dtype=np.int64)
    return rows, offsets, labels


def per_image(offsets, values):
    return [values[offsets[i]:offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]


def identical_images(num_images, labels_per_image):
    return np.arange(num_images + 1, dtype=np.int64) * labels_per_image


# -------------------------------------------------------------- single positive
@pytest.mark.parametrize('seed', [0, 1, 7])
def test_single_positive_keeps_one_per_image_with_positives(seed):
    rows, offsets, labels = random_csr(seed)
    keep = hide_positives(offsets, single_positive=True, seed=seed)
    assert keep.dtype == bool and keep.shape == labels.shape
    for i, row in enumerate(rows):
        assert keep[offsets[i]:offsets[i + 1]].sum() == (1 if row else 0)
    assert keep.sum() == sum(1 for row in rows if row)


# ------------------------------------------------------------------ keep ratio
@pytest.mark.parametrize('ratio', [0.05, 0.2, 0.4, 0.5, 0.75, 0.9, 1.0])
def test_keep_ratio_keeps_the_quota_at_least_one_per_image(ratio):
    rows, offsets, labels = random_csr(3, num_images=400)
    num_labels, with_labels = len(labels), sum(1 for row in rows if row)
    keep = hide_positives(offsets, keep_ratio=ratio, seed=11)
    expected = max(round(ratio * num_labels), with_labels)
    assert keep.sum() == expected == keep_quota(num_labels, with_labels, ratio)
    if round(ratio * num_labels) >= with_labels:  # the quota itself, exactly
        assert keep.sum() == round(ratio * num_labels)
    else:  # a quota below the images with labels: exactly one per image
        assert keep.sum() == with_labels
    new_offsets, kept = select(offsets, labels, keep)
    for row, kept_row in zip(rows, per_image(new_offsets, kept)):
        assert (len(kept_row) >= 1) == bool(row)  # at least one per image with positives
        assert set(kept_row) <= set(row)  # every kept label is one of the image's positives
        assert kept_row == sorted(kept_row)


def test_keep_ratio_one_keeps_everything_and_no_labels_keeps_nothing():
    _, offsets, labels = random_csr(4)
    assert hide_positives(offsets, keep_ratio=1.0, seed=0).all()
    empty = hide_positives([0, 0, 0], keep_ratio=0.5)
    assert empty.shape == (0, ) and empty.dtype == bool
    assert hide_positives([0], single_positive=True).shape == (0, )


def test_the_hiding_is_deterministic_for_a_seed_and_differs_for_another():
    _, offsets, _ = random_csr(5, num_images=500)
    for kwargs in (dict(single_positive=True), dict(keep_ratio=0.4)):
        first = hide_positives(offsets, seed=3, **kwargs)
        np.testing.assert_array_equal(first, hide_positives(offsets, seed=3, **kwargs))
        np.testing.assert_array_equal(first, hide_positives(offsets.tolist(), seed=3, **kwargs))
        other = hide_positives(offsets, seed=4, **kwargs)
        assert other.sum() == first.sum() and not np.array_equal(first, other)


# ------------------------------------------------------------------ uniformity
def chi_square(counts, expected):
    counts = np.asarray(counts, dtype=np.float64)
    return float(((counts - expected)**2 / expected).sum())


# chi-square, 2 degrees of freedom: P(X > 13.8) = 0.001
CHI2_2DOF_999 = 13.8


def test_single_positive_is_uniform_among_an_images_positives():
    num_images = 3000
    keep = hide_positives(identical_images(num_images, 3), single_positive=True, seed=0)
    counts = keep.reshape(num_images, 3).sum(0)
    assert counts.sum() == num_images
    assert np.abs(counts / num_images - 1 / 3).max() < 0.03, counts
    assert chi_square(counts, num_images / 3) < CHI2_2DOF_999, counts
    # across seeds too: one image with three positives, 3000 seeds
    picks = np.array([np.flatnonzero(hide_positives([0, 3], single_positive=True, seed=s))[0]
                      for s in range(3000)])
    counts = np.bincount(picks, minlength=3)
    assert np.abs(counts / 3000 - 1 / 3).max() < 0.03, counts
    assert chi_square(counts, 1000) < CHI2_2DOF_999, counts


def test_one_per_image_picks_the_smallest_key():
    offsets = np.array([0, 3, 3, 5])
    keys = np.array([0.5, 0.1, 0.9, 0.7, 0.2])
    assert one_per_image(offsets, keys).tolist() == [1, 4]


def test_keep_ratio_is_uniform_among_an_images_positives():
    num_images = 3000
    offsets = identical_images(num_images, 3)
    keep = hide_positives(offsets, keep_ratio=0.5, seed=1)  # round(4500) > 3000 images
    assert keep.sum() == 4500
    per_row = keep.reshape(num_images, 3)
    assert per_row.sum(1).min() == 1 and per_row.sum(1).max() <= 3
    counts = per_row.sum(0)  # each position kept with probability 1/2
    assert np.abs(counts / num_images - 0.5).max() < 0.03, counts
    assert chi_square(counts, 1500) < CHI2_2DOF_999, counts
    # the first-pass pick (the single kept label of images with one) is uniform too
    singles = per_row[per_row.sum(1) == 1].argmax(1)
    counts = np.bincount(singles, minlength=3)
    assert np.abs(counts / counts.sum() - 1 / 3).max() < 0.05, counts


# ------------------------------------------------------------ CSR helpers
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_select_and_take_rows_match_a_python_reference(seed):
    rows, offsets, labels = random_csr(seed, num_images=120, empty_fraction=0.3)
    rng = np.random.default_rng(seed + 100)
    mask = rng.random(len(labels)) < 0.4
    new_offsets, kept = select(offsets, labels, mask)
    flat_mask = per_image(offsets, mask.astype(np.int64))
    reference = [[c for c, m in zip(row, ms) if m] for row, ms in zip(rows, flat_mask)]
    assert new_offsets.dtype == np.int64 and len(new_offsets) == len(rows) + 1
    assert per_image(new_offsets, kept) == reference
    picks = rng.integers(0, len(rows), size=200)  # repeats allowed, any order
    for chosen in (picks, [], [len(rows) - 1, 0, 0]):
        got_offsets, got = take_rows(offsets, labels, chosen)
        assert len(got_offsets) == len(chosen) + 1
        assert per_image(got_offsets, got) == [rows[i] for i in chosen]
    with pytest.raises(ValueError, match='one entry per label'):
        select(offsets, labels, mask[:-1])
    with pytest.raises(ValueError, match='offsets must start at 0'):
        select([1, 2], labels[:1], mask[:1])
    with pytest.raises(ValueError, match='never decrease'):
        take_rows([0, 2, 1], labels[:2], [0])


def test_keep_quota_edge_cases():
    assert keep_quota(num_labels=5, images_with_labels=2, keep_ratio=0.2) == 2  # 1 < 2 images
    assert keep_quota(10, 1, 0.25) == 2  # round(2.5): halves to even
    assert keep_quota(6, 1, 0.25) == 2  # round(1.5)
    assert keep_quota(10, 3, 0.25) == 3  # the images with labels win
    assert keep_quota(7, 1, 1.0) == 7
    assert keep_quota(0, 0, 0.5) == 0
    assert isinstance(keep_quota(np.int64(9), np.int64(2), 0.5), int)


def test_observed_targets_and_summary():
    np.testing.assert_array_equal(observed_targets([0, 3], 4), [1, -1, -1, 1])
    np.testing.assert_array_equal(observed_targets([2], 3, 'negative'), [0, 0, 1])
    assert observed_targets([], 2).tolist() == [-1, -1]
    assert observed_targets([1], 2).dtype == np.float32
    with pytest.raises(ValueError, match='unobserved'):
        observed_targets([1], 2, 'ignore')
    offsets, labels = np.array([0, 2, 2, 5]), np.array([0, 1, 0, 2, 3])
    keep = np.array([True, False, False, True, True])
    summary = HidingSummary.count(offsets, labels, keep, 4)
    assert summary.kept.tolist() == [1, 0, 1, 1] and summary.total.tolist() == [2, 1, 1, 1]
    assert (summary.num_images, summary.images_with_positives) == (3, 2)
    assert (summary.kept_labels, summary.total_labels, summary.ratio) == (3, 5, 0.6)
    assert not summary.kept.flags.writeable and not summary.total.flags.writeable
    assert HidingSummary.count([0, 0], [], [], 2).ratio == 0.0


# ---------------------------------------------------------- argument checks
@pytest.mark.parametrize('kwargs, names', [
    (dict(keep_ratio=0), ['keep_ratio']),
    (dict(keep_ratio=1.5), ['keep_ratio']),
    (dict(keep_ratio=-0.2), ['keep_ratio']),
    (dict(keep_ratio=float('nan')), ['keep_ratio']),
    (dict(keep_ratio=float('inf')), ['keep_ratio']),
    (dict(keep_ratio=True), ['keep_ratio']),
    (dict(keep_ratio='0.5'), ['keep_ratio']),
    (dict(keep_ratio=0.5, single_positive=True), ['keep_ratio', 'single_positive']),
    (dict(), ['keep_ratio', 'single_positive']),
    (dict(single_positive='yes'), ['single_positive']),
    (dict(single_positive=True, unobserved='x'), ['unobserved']),
    (dict(single_positive=True, unobserved=None), ['unobserved']),
    (dict(single_positive=True, seed=-1), ['seed']),
    (dict(single_positive=True, seed=1.0), ['seed']),
    (dict(single_positive=True, seed=True), ['seed']),
])
def test_check_hiding_args_names_the_bad_argument(kwargs, names):
    kwargs = dict(dict(keep_ratio=None, single_positive=False), **kwargs)
    with pytest.raises(ValueError) as info:
        check_hiding_args(**kwargs)
    for name in names:
        assert name in str(info.value)
    if 'unobserved' not in kwargs:  # hide_positives checks the same way
        with pytest.raises(ValueError, match=names[0]):
            hide_positives([0, 2], **kwargs)


def test_check_hiding_args_accepts_numpy_numbers():
    check_hiding_args(np.float32(0.4), False, 'negative', np.int64(3))
    check_hiding_args(None, np.bool_(True), 'unknown', 0)
    check_hiding_args(1, False)  # keep everything


# ================================================================ the dataset
class Tiny(MultiLabelDataset):
    """Five images of known labels over five classes, rendered as 4x4 arrays."""
    METAINFO = dict(classes=('a', 'b', 'c', 'd', 'e'))
    LABELS = [[0, 1, 2], [], [3], [0, 4], [1, 2, 3, 4]]

    def __init__(self, labels=None, extra=None, **kwargs):
        self._labels = self.LABELS if labels is None else labels
        self._extra = extra or {}
        super().__init__(ann_file='', **kwargs)

    def load_data_list(self):
        return [dict(img=np.full((4, 4, 3), i, dtype=np.uint8), gt_label=list(row),
                     **self._extra) for i, row in enumerate(self._labels)]


def as_dict(results):
    """A pipeline step that is a plain function returning a dict."""
    return dict(results, seen=True)


@pytest.fixture(scope='module')
def shapes():
    return LongTailedShapes(split='train')  # 800 images, 20 classes: a quarter of a second


def full_labels(dataset):
    return [list(dataset.get_cat_ids(i)) for i in range(len(dataset))]


def check_hiding(partial, full, unobserved):
    """Every image: gt_label the kept positives (a subset of its positives); with 'unknown',
    gt_score 1 at them and -1 everywhere else, former negatives included."""
    num_classes = len(partial.metainfo['classes'])
    for i, positives in enumerate(full):
        kept = partial.get_cat_ids(i)
        assert set(kept) <= set(positives) and (bool(kept) or not positives)
        info = partial.get_data_info(i)
        assert info['gt_label'].dtype == np.int64 and info['gt_label'].tolist() == kept
        if unobserved == 'unknown':
            score = info['gt_score']
            assert score.dtype == np.float32 and score.shape == (num_classes, )
            expected = np.full(num_classes, -1.0, dtype=np.float32)
            expected[kept] = 1
            np.testing.assert_array_equal(score, expected)  # no negative stays known
        else:
            assert 'gt_score' not in info


@pytest.mark.parametrize('unobserved', ['unknown', 'negative'])
def test_tiny_dataset_keep_ratio(unobserved):
    tiny = Tiny(pipeline=[as_dict])
    partial = PartialLabelDataset(tiny, keep_ratio=0.5, unobserved=unobserved, seed=2)
    assert len(partial) == 5
    check_hiding(partial, Tiny.LABELS, unobserved)
    kept = full_labels(partial)
    assert sum(map(len, kept)) == 5  # round(0.5 * 10) = 5 >= 4 images with positives
    assert kept[1] == [] and kept[2] == [3]  # no positive: none kept; one: it is kept
    item = partial[0]
    assert item['seen'] and item['gt_label'].tolist() == kept[0]
    assert item['img'].shape == (4, 4, 3)
    if unobserved == 'unknown':
        np.testing.assert_array_equal(partial[1]['gt_score'], [-1] * 5)  # all unobserved
    assert partial.get_data_info(-1)['gt_label'].tolist() == kept[4]
    with pytest.raises(IndexError, match='out of range'):
        partial.get_data_info(5)


def test_tiny_dataset_single_positive_and_wrapped_targets():
    # a wrapped dataset's own gt_score and gt_label_difficult would leak hidden positives
    extra = dict(gt_score=np.ones(5, dtype=np.float32), gt_label_difficult=[4])
    tiny = Tiny(extra=extra)
    unknown = PartialLabelDataset(tiny, single_positive=True, seed=0)
    negative = PartialLabelDataset(tiny, single_positive=True, unobserved='negative', seed=0)
    check_hiding(unknown, Tiny.LABELS, 'unknown')
    check_hiding(negative, Tiny.LABELS, 'negative')
    assert [len(k) for k in full_labels(unknown)] == [1, 0, 1, 1, 1]
    assert full_labels(unknown) == full_labels(negative)  # the seed decides, not the mode
    for i in range(5):
        assert 'gt_label_difficult' not in unknown.get_data_info(i)
        assert 'gt_label_difficult' not in negative.get_data_info(i)


def test_shapes_keep_ratio_summary_and_metainfo(shapes):
    full = full_labels(shapes)
    partial = PartialLabelDataset(shapes, keep_ratio=0.75, seed=0)
    assert len(partial) == len(shapes) == 800
    check_hiding(partial, full, 'unknown')
    kept = full_labels(partial)
    summary = partial.hidden_summary
    total = np.bincount([c for row in full for c in row], minlength=20)
    kept_counts = np.bincount([c for row in kept for c in row], minlength=20)
    np.testing.assert_array_equal(summary.total, total)
    np.testing.assert_array_equal(summary.kept, kept_counts)
    assert summary.num_images == 800
    assert summary.images_with_positives == sum(1 for row in full if row)
    assert summary.total_labels == sum(map(len, full))
    assert summary.kept_labels == max(round(0.75 * summary.total_labels),
                                      summary.images_with_positives)
    assert summary.ratio == pytest.approx(summary.kept_labels / summary.total_labels)
    metainfo = partial.metainfo
    assert metainfo['classes'] == shapes.metainfo['classes']
    assert metainfo['train_class_counts'] == shapes.metainfo['train_class_counts']
    assert metainfo['unknown_labels'] is True
    assert metainfo['partial_labels'] == dict(protocol='keep_ratio', keep_ratio=0.75,
                                              single_positive=False, unobserved='unknown',
                                              seed=0)
    metainfo['classes'] = ()  # a copy
    assert partial.metainfo['classes']
    # the kept labels are indexed for the samplers and wrappers around it
    index = LabelIndex.of(partial)
    assert per_image(index.offsets, index.labels) == kept


def test_shapes_single_positive_negative(shapes):
    partial = PartialLabelDataset(shapes, single_positive=True, unobserved='negative', seed=5)
    check_hiding(partial, full_labels(shapes), 'negative')
    assert all(len(row) == 1 for row in full_labels(partial))
    assert partial.metainfo['unknown_labels'] is False
    assert partial.metainfo['partial_labels']['protocol'] == 'single_positive'
    assert partial.hidden_summary.kept_labels == 800


def test_the_same_seed_hides_the_same_labels(shapes):
    first = full_labels(PartialLabelDataset(shapes, keep_ratio=0.4, seed=1))
    assert first == full_labels(PartialLabelDataset(shapes, keep_ratio=0.4, seed=1))
    assert first != full_labels(PartialLabelDataset(shapes, keep_ratio=0.4, seed=2))
    partial = PartialLabelDataset(shapes, keep_ratio=0.4, seed=1)
    assert full_labels(pickle.loads(pickle.dumps(partial))) == first  # dataloader workers


@pytest.fixture
def logged(monkeypatch):
    messages = []

    def capture(msg, logger=None, level=logging.INFO):
        messages.append((level, msg))

    monkeypatch.setattr(partial_module, 'print_log', capture)
    return messages


def test_the_log_says_how_many_positives_were_kept(shapes, logged):
    partial = PartialLabelDataset(shapes, keep_ratio=0.75, seed=0)
    summary = partial.hidden_summary
    info = [msg for level, msg in logged if level == logging.INFO]
    assert len(info) == 1
    assert (f'kept {summary.kept_labels} of {summary.total_labels} positive labels'
            in info[0])
    assert 'keep_ratio=0.75, seed 0' in info[0] and 'unknown (-1' in info[0]
    assert not [msg for level, msg in logged if level == logging.WARNING]
    # a quota below the images with positives: one per image, and a warning says so
    logged.clear()
    partial = PartialLabelDataset(shapes, keep_ratio=0.1, unobserved='negative')
    assert partial.hidden_summary.kept_labels == 800
    assert 'kept 800 of' in logged[0][1] and 'negatives (0)' in logged[0][1]
    warnings = [msg for level, msg in logged if level == logging.WARNING]
    assert len(warnings) == 1 and 'one per image is kept' in warnings[0]


def test_lazy_init_hides_on_first_access(logged):
    partial = PartialLabelDataset(Tiny(), single_positive=True, lazy_init=True)
    assert not logged
    assert len(partial) == 5 and len(logged) == 1
    partial.full_init()  # idempotent
    assert len(logged) == 1


def test_a_test_mode_dataset_is_named_in_a_warning(logged):
    PartialLabelDataset(Tiny(test_mode=True), single_positive=True)
    assert any(level == logging.WARNING and 'test_mode=True' in msg for level, msg in logged)


def test_built_from_a_config(shapes):
    cfg = dict(type='PartialLabelDataset', keep_ratio=0.4, seed=1,
               dataset=dict(type='LongTailedShapes', split='train'))
    built = DATASETS.build(cfg)
    assert isinstance(built, PartialLabelDataset)
    assert full_labels(built) == full_labels(PartialLabelDataset(shapes, keep_ratio=0.4, seed=1))
    with pytest.raises(ValueError, match="no argument\\(s\\) \\['oversample_thr'\\]; its arguments"):
        DATASETS.build(dict(cfg, oversample_thr=0.1))


# ---------------------------------------------------------------- wrappers
def test_copies_made_by_repeat_dataset_share_one_hiding():
    tiny = Tiny()
    partial = PartialLabelDataset(RepeatDataset(tiny, times=3), keep_ratio=0.5, seed=4)
    assert len(partial) == 15
    kept = full_labels(partial)
    assert kept[:5] == kept[5:10] == kept[10:]
    # counted over the images of the original data
    summary = partial.hidden_summary
    assert (summary.num_images, summary.total_labels, summary.kept_labels) == (5, 10, 5)
    assert partial[7]['gt_label'].tolist() == kept[2]
    check_hiding(partial, Tiny.LABELS * 3, 'unknown')


@pytest.mark.parametrize('wrapper', ['ours', 'mmengine'])
def test_copies_made_by_a_balancing_wrapper_share_one_hiding(shapes, wrapper):
    kind = MultiLabelBalancedDataset if wrapper == 'ours' else ClassBalancedDataset
    balanced = kind(shapes, oversample_thr=0.1)
    partial = PartialLabelDataset(balanced, single_positive=True, seed=3)
    repeat = np.asarray(balanced.repeat_indices)
    assert len(partial) == len(repeat) > len(shapes)
    kept = full_labels(partial)
    first_copy = {}
    for i, original in enumerate(repeat.tolist()):
        assert kept[i] == kept[first_copy.setdefault(original, i)]
    assert partial.hidden_summary.num_images == len(shapes)
    assert partial.hidden_summary.kept_labels == len(shapes)


def test_a_balancing_wrapper_around_it_balances_on_the_observed_labels(shapes):
    partial = PartialLabelDataset(shapes, single_positive=True, seed=0)
    balanced = MultiLabelBalancedDataset(partial, oversample_thr=0.1)
    observed = LabelIndex(partial._kept_offsets, partial._kept_labels, 20)
    np.testing.assert_allclose(balanced.repeat_factors, repeat_factors(observed, 0.1))
    full = repeat_factors(LabelIndex.of(shapes), 0.1)
    assert not np.allclose(balanced.repeat_factors, full)
    assert balanced.metainfo['unknown_labels'] is True
    for i in (0, len(balanced) // 2, len(balanced) - 1):
        original = int(balanced.repeat_indices[i])
        assert balanced.get_cat_ids(i) == partial.get_cat_ids(original)
        np.testing.assert_array_equal(balanced.get_data_info(i)['gt_score'],
                                      partial.get_data_info(original)['gt_score'])
    item = balanced[len(balanced) - 1]
    assert item['gt_label'].tolist() == partial.get_cat_ids(int(balanced.repeat_indices[-1]))


# ------------------------------------------------------------------ errors
class NoCatIds:
    metainfo = dict(classes=('a', 'b'))
    pipeline = staticmethod(as_dict)

    def get_data_info(self, idx):
        return dict(gt_label=[0])

    def __len__(self):
        return 1


class NoClasses(BaseDataset):
    def __init__(self, **kwargs):
        super().__init__(ann_file='', **kwargs)

    def load_data_list(self):
        return [dict(gt_label=[0])]

    def get_cat_ids(self, idx):
        return [0]


def test_errors_name_what_is_missing():
    with pytest.raises(ValueError, match='needs a dataset with labels: NoCatIds has no '
                                         'get_cat_ids'):
        PartialLabelDataset(NoCatIds(), single_positive=True)
    with pytest.raises(ValueError, match='the metainfo of NoClasses has no "classes"'):
        PartialLabelDataset(NoClasses(), single_positive=True)
    with pytest.raises(ValueError, match='no image of Tiny has a positive label'):
        PartialLabelDataset(Tiny(labels=[[], []]), keep_ratio=0.5)
    with pytest.raises(ValueError, match="no argument\\(s\\) \\['keep_ratoi'\\]; its arguments"):
        PartialLabelDataset(Tiny(), keep_ratoi=0.5, single_positive=True)
    with pytest.raises(ValueError, match='keep_ratio must be a number in \\(0, 1\\]'):
        PartialLabelDataset(Tiny(), keep_ratio=0)
    with pytest.raises(ValueError, match='neither was given'):
        PartialLabelDataset(Tiny())
    with pytest.raises(ValueError, match='unobserved must be'):
        PartialLabelDataset(Tiny(), single_positive=True, unobserved='ignore')


# ------------------------------------------------------- to the head's batch
@pytest.mark.parametrize('unobserved', ['unknown', 'negative'])
def test_pack_inputs_and_the_data_preprocessor_keep_the_unknown_cells(unobserved):
    cfg = dict(type='LongTailedShapes', split='train', pipeline=[dict(type='PackInputs')])
    partial = PartialLabelDataset(cfg, keep_ratio=0.4, unobserved=unobserved, seed=0)
    batch = [partial[i] for i in range(6)]
    expected = np.zeros((6, 20), dtype=np.float32) if unobserved == 'negative' else \
        np.stack([partial.get_data_info(i)['gt_score'] for i in range(6)])
    for i in range(6):
        expected[i, partial.get_cat_ids(i)] = 1
    for i, item in enumerate(batch):
        sample = item['data_samples']
        assert sample.gt_label.tolist() == partial.get_cat_ids(i)
        if unobserved == 'unknown':
            np.testing.assert_array_equal(sample.gt_score.numpy(), expected[i])
        else:
            assert 'gt_score' not in sample
    preprocessor = ClsDataPreprocessor(num_classes=20, to_onehot=True)
    out = preprocessor(pseudo_collate(batch), training=True)
    scores = torch.stack([sample.gt_score for sample in out['data_samples']])
    np.testing.assert_array_equal(scores.numpy(), expected)
    if unobserved == 'unknown':
        assert (scores == -1).sum() == 6 * 20 - sum(len(partial.get_cat_ids(i)) for i in range(6))
    assert out['inputs'].shape == (6, 3, 64, 64)


# ---------------------------------------------------------- docstring examples
def test_the_docstring_examples_run():
    # the example builds a dataset, which logs: give the log a stream of its own first,
    # so that doctest does not read the log line as the example's output
    # (label_hiding's examples run in tests/test_docstring_examples.py)
    MMLogger.get_current_instance()
    module = importlib.import_module('mmml_ext.datasets.partial_labels')
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_the_docstring_numbers_are_the_computed_ones(shapes):
    """The example's (1382, 1842): round(0.75 * P), halves to even, with P the demo's positives."""
    total = sum(map(len, full_labels(shapes)))
    assert total == 1842
    assert round(0.75 * total) == 1382 and math.isclose(0.75 * total, 1381.5)
    assert PartialLabelDataset(shapes, keep_ratio=0.75).hidden_summary.kept_labels == 1382
