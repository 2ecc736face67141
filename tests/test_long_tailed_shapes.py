"""The built-in demo dataset: deterministic, long-tailed as specified, labels drawn."""
import numpy as np
import pytest

from mmml_ext.datasets import CLASS_NAMES, LongTailedShapes
from mmml_ext.datasets.shape_rendering import CLASS_SPECS


def label_matrix(dataset) -> np.ndarray:
    labels = np.zeros((len(dataset), len(CLASS_NAMES)), dtype=bool)
    for i in range(len(dataset)):
        labels[i, dataset.get_cat_ids(i)] = True
    return labels


def test_same_seed_same_data_other_seed_other_data():
    a, b = LongTailedShapes(seed=3), LongTailedShapes(seed=3)
    np.testing.assert_array_equal(label_matrix(a), label_matrix(b))
    for i in (0, 17, 799):
        np.testing.assert_array_equal(a[i]['img'], b[i]['img'])
        np.testing.assert_array_equal(a.get_data_info(i)['img'], a.get_data_info(i)['img'])
    c = LongTailedShapes(seed=4)
    assert not np.array_equal(label_matrix(a), label_matrix(c))
    assert not np.array_equal(a.get_data_info(0)['img'], c.get_data_info(0)['img'])


def test_train_counts_follow_the_exponential_profile_and_match_labels():
    train = LongTailedShapes(split='train')
    labels = label_matrix(train)
    # closed form of the profile: 0.5 * 800 * 100 ** (-c / 19), rounded
    expected = np.round(400 * 100.0**(-np.arange(20) / 19)).astype(int)
    np.testing.assert_array_equal(labels.sum(0), expected)
    assert train.metainfo['train_class_counts'] == tuple(expected)
    assert expected[0] / expected[-1] == 100
    # head (> 100 images), medium (20-100) and tail (< 20) groups all exist
    assert (expected > 100).sum() == 6
    assert ((expected >= 20) & (expected <= 100)).sum() == 7
    assert (expected < 20).sum() == 7
    # several labels per image, never none
    assert labels.sum(1).min() >= 1
    assert labels.sum(1).mean() > 2


@pytest.mark.parametrize('split', ['val', 'test'])
def test_eval_splits_are_balanced_and_carry_train_counts(split):
    dataset = LongTailedShapes(split=split)
    assert len(dataset) == 200
    np.testing.assert_array_equal(label_matrix(dataset).sum(0), np.full(20, 30))
    assert dataset.metainfo['train_class_counts'] == LongTailedShapes().metainfo['train_class_counts']
    assert dataset.metainfo['classes'] == CLASS_NAMES


def test_splits_differ():
    assert not np.array_equal(label_matrix(LongTailedShapes(split='val')),
                              label_matrix(LongTailedShapes(split='test')))


def test_every_label_is_drawn_in_its_colour():
    dataset = LongTailedShapes(split='val', img_size=64)
    for i in range(40):
        info = dataset.get_data_info(i)
        img = info['img'].astype(int)
        assert img.shape == (64, 64, 3) and info['img'].dtype == np.uint8
        for label in info['gt_label']:
            colour = np.asarray(CLASS_SPECS[label][3])
            near = (np.abs(img - colour).max(axis=2) <= 25).sum()
            assert near >= 6, f'image {i}: class {CLASS_NAMES[label]} not drawn ({near} px)'


def test_pipeline_output_is_packed_for_mmpretrain():
    dataset = LongTailedShapes(split='test', pipeline=[dict(type='PackInputs')])
    item = dataset[5]
    assert tuple(item['inputs'].shape) == (3, 64, 64)
    assert sorted(item['data_samples'].gt_label.tolist()) == sorted(dataset.get_cat_ids(5))


def test_indices_subset_keeps_the_images():
    full = LongTailedShapes(split='test')
    subset = LongTailedShapes(split='test', indices=[7, 3])
    np.testing.assert_array_equal(subset.get_data_info(0)['img'], full.get_data_info(7)['img'])
    assert subset.get_cat_ids(1) == full.get_cat_ids(3)


@pytest.mark.parametrize('kwargs, message', [
    (dict(split='dev'), 'split'),
    (dict(imbalance_ratio=0.5), 'imbalance_ratio'),
    (dict(head_fraction=0), 'head_fraction'),
    (dict(eval_fraction=1.5), 'eval_fraction'),
    (dict(num_train=0), 'num_train'),
    (dict(img_size=8), 'img_size'),
    (dict(num_train=100, head_fraction=0.01, imbalance_ratio=100), 'cannot cover'),
])
def test_bad_arguments_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LongTailedShapes(**kwargs)
