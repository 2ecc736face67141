"""Real-data formats on tiny files written by the tests: list files (text and CSV),
COCO with an image-id subset (COCO-MLT), VOC with an image-set list (VOC-MLT), and
the configs that use them."""
import copy
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import BaseDataset, pseudo_collate
from mmpretrain.models import ClsDataPreprocessor
from mmpretrain.registry import DATASETS

from mmml_ext.datasets import COCOMultiLabel, MultiLabelListDataset
from mmml_ext.evaluation import EvaluationRows
from mmml_ext.evaluation.ap_metrics import frequency_groups
from mmml_ext.run_facts import class_stats

REPO = Path(__file__).resolve().parents[1]
CLASSES = ['cat', 'dog', 'person']


def write_images(root: Path, names) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(path), np.full((8, 8, 3), 127, dtype=np.uint8))


def list_dataset(tmp_path, name, text, images=('a.png', 'b.png', 'c.png'), **kwargs):
    """A MultiLabelListDataset on ``text`` written to ``tmp_path / name``."""
    write_images(tmp_path / 'images', images)
    (tmp_path / name).write_text(text)
    return MultiLabelListDataset(ann_file=name, data_root=str(tmp_path), data_prefix='images',
                                 **kwargs)


def labels_of(dataset):
    return [np.asarray(dataset.get_data_info(i)['gt_label']).tolist()
            for i in range(len(dataset))]


# ------------------------------------------------------------------ text list
TEXT_LIST = """# image  labels
a.png dog,cat

b.png person
  # an indented comment
c.png
my photo.png cat,person
tab folder/d e.png\tcat,cat
no label.png\t
"""


def test_text_list_labels(tmp_path):
    write_images(tmp_path / 'images', ['my photo.png', 'tab folder/d e.png', 'no label.png'])
    dataset = list_dataset(tmp_path, 'train.txt', TEXT_LIST, classes=CLASSES)
    assert dataset.metainfo['classes'] == ('cat', 'dog', 'person')
    expected = [[0, 1], [2], [], [0, 2], [0], []]
    assert labels_of(dataset) == expected
    paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
    assert paths == [str(tmp_path / 'images' / name) for name in (
        'a.png', 'b.png', 'c.png', 'my photo.png', 'tab folder/d e.png', 'no label.png')]
    assert [dataset.get_cat_ids(i) for i in range(len(dataset))] == expected
    assert list(class_stats.compute(dataset).class_counts) == [3, 1, 2]


def test_text_list_classes_from_a_file_and_names_with_spaces(tmp_path):
    (tmp_path / 'classes.txt').write_text('traffic light\nstop sign\nperson\n')
    text = 'a.png\ttraffic light,person\nb.png\tstop sign\n'
    dataset = list_dataset(tmp_path, 'train.txt', text, classes=str(tmp_path / 'classes.txt'))
    assert dataset.metainfo['classes'] == ('traffic light', 'stop sign', 'person')
    assert labels_of(dataset) == [[0, 2], [1]]
    # without the tab, the line splits at its last space: the error says why
    with pytest.raises(ValueError, match=re.escape("train2.txt, line 1: unknown class 'light'")) \
            as info:
        list_dataset(tmp_path, 'train2.txt', 'a.png traffic light\n',
                     classes=str(tmp_path / 'classes.txt'))
    assert 'needs a tab' in str(info.value)


def test_text_list_needs_classes(tmp_path):
    with pytest.raises(ValueError, match='train.txt: a text list needs its classes'):
        list_dataset(tmp_path, 'train.txt', 'a.png cat\n')


# ------------------------------------------------------------------ CSV table
CSV_TABLE = """image,cat,"dog, small",person
a.png,1,1,0

b.png, 0 ,-1,1
c.png,0,0,-1
"""


CSV_SCORES = np.array([[1, 1, 0], [0, -1, 1], [0, 0, -1]], dtype=np.float32)


def test_csv_labels_and_unknown_cells(tmp_path):
    """A -1 cell is not annotated (docs/design.md, 'Target codes'): every image of a table
    with one carries gt_score, its row of 1 / 0 / -1, beside gt_label, its positives."""
    dataset = list_dataset(tmp_path, 'val.csv', '\ufeff' + CSV_TABLE)  # with Excel's BOM
    assert dataset.metainfo['classes'] == ('cat', 'dog, small', 'person')
    assert dataset.metainfo['unknown_labels'] is True
    infos = [dataset.get_data_info(i) for i in range(3)]
    for info, expected_labels, expected_score in zip(infos, [[0, 1], [2], []], CSV_SCORES):
        assert info['gt_label'].dtype == np.int64
        assert info['gt_label'].tolist() == expected_labels
        assert info['gt_score'].dtype == np.float32 and info['gt_score'].shape == (3, )
        np.testing.assert_array_equal(info['gt_score'], expected_score)
        # neither the old VOC-style field nor the stored column list reaches the pipeline
        assert 'gt_label_difficult' not in info and 'unknown_label' not in info
    assert [dataset.get_cat_ids(i) for i in range(3)] == [[0, 1], [2], []]
    assert list(class_stats.compute(dataset).class_counts) == [1, 1, 1]
    # a negative index reads the same entry
    np.testing.assert_array_equal(dataset.get_data_info(-1)['gt_score'], CSV_SCORES[2])
    # only the column lists are stored: the score vector is built on reading
    raw = [BaseDataset.get_data_info(dataset, i) for i in range(3)]  # the stored entries
    assert [entry['unknown_label'] for entry in raw] == [[], [1], [2]]
    assert all('gt_score' not in entry for entry in raw)


def test_a_row_of_negatives_and_unknowns_has_no_positive(tmp_path):
    text = 'image,cat,dog,person\na.png,-1,-1,-1\nb.png,1,1,1\n'
    dataset = list_dataset(tmp_path, 'train.csv', text, images=('a.png', 'b.png'))
    np.testing.assert_array_equal(dataset.get_data_info(0)['gt_score'], [-1, -1, -1])
    assert dataset.get_data_info(0)['gt_label'].tolist() == []
    np.testing.assert_array_equal(dataset.get_data_info(1)['gt_score'], [1, 1, 1])
    with pytest.raises(ValueError, match="line 2: image 'a.png' has no positive label"):
        list_dataset(tmp_path, 'train.csv', text, images=('a.png', 'b.png'), allow_empty=False)


def test_a_table_without_unknown_cells_is_unchanged(tmp_path):
    text = 'image,cat,dog,person\na.png,1,0,0\nb.png,0,1,1\nc.png,0,0,0\n'
    dataset = list_dataset(tmp_path, 'val.csv', text)
    assert 'unknown_labels' not in dataset.metainfo
    infos = [dataset.get_data_info(i) for i in range(3)]
    assert [info['gt_label'] for info in infos] == [[0], [1, 2], []]  # plain lists, as before
    assert all('gt_score' not in info and 'gt_label_difficult' not in info for info in infos)
    # a text list never has unknown cells
    listed = list_dataset(tmp_path, 'train.txt', 'a.png cat\nb.png\n', classes=CLASSES)
    assert 'unknown_labels' not in listed.metainfo
    assert [set(listed.get_data_info(i)) & {'gt_score', 'unknown_label'} for i in range(2)] == \
        [set(), set()]


def test_unknown_cells_reach_the_loss_and_the_metrics_as_unknown(tmp_path):
    # the default PackInputs: no meta_keys needed for the -1 cells
    dataset = list_dataset(tmp_path, 'val.csv', CSV_TABLE,
                           pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])
    packed = [dataset[i] for i in range(3)]
    for item, expected in zip(packed, CSV_SCORES):
        sample = item['data_samples']
        assert sample.gt_score.dtype == torch.float32
        np.testing.assert_array_equal(sample.gt_score.numpy(), expected)
    np.testing.assert_array_equal(packed[0]['data_samples'].gt_label.numpy(), [0, 1])
    # the data preprocessor keeps gt_score (it wins over gt_label): the -1 reach the head
    preprocessor = ClsDataPreprocessor(num_classes=3, to_onehot=True)
    batch = preprocessor(pseudo_collate(packed), training=True)
    scores = torch.stack([s.gt_score for s in batch['data_samples']])
    np.testing.assert_array_equal(scores.numpy(), CSV_SCORES)
    # ... and the metrics read them as ignored
    samples = [item['data_samples'].to_dict() for item in packed]
    for sample in samples:
        sample['pred_score'] = torch.full((3, ), 0.5)
    rows = EvaluationRows()
    rows.add('a metric', samples)
    rows.gather(len(samples))
    np.testing.assert_array_equal(rows.target('ignore').numpy(), CSV_SCORES.astype(np.int8))


def test_csv_columns_are_mapped_onto_the_classes_by_name(tmp_path):
    # the same classes as CSV_TABLE's header, in another order: columns follow the names
    dataset = list_dataset(tmp_path, 'val.csv', CSV_TABLE,
                           classes=['person', 'cat', 'dog, small'])
    assert dataset.metainfo['classes'] == ('person', 'cat', 'dog, small')
    assert labels_of(dataset) == [[1, 2], [0], []]  # a: cat, dog | b: person | c: none
    scores = np.stack([dataset.get_data_info(i)['gt_score'] for i in range(3)])
    np.testing.assert_array_equal(scores, CSV_SCORES[:, [2, 0, 1]])  # columns by name
    # a header typo names the closest class, a class without a column is named too
    typo = CSV_TABLE.replace('person', 'persn')
    with pytest.raises(ValueError, match=re.escape(
            "val.csv, line 1: the header names 'persn' (did you mean 'person'?), which is not "
            'one of the 3 classes given')):
        list_dataset(tmp_path, 'val.csv', typo, classes=['cat', 'dog, small', 'person'])
    with pytest.raises(ValueError, match=re.escape(
            "val.csv, line 1: the header has no column for the classes ['bird']")):
        list_dataset(tmp_path, 'val.csv', CSV_TABLE,
                     classes=['cat', 'dog, small', 'person', 'bird'])
    with pytest.raises(ValueError, match="the header names 'person'"):
        list_dataset(tmp_path, 'val.csv', CSV_TABLE, metainfo=dict(classes=['cat', 'dog, small']))


def test_a_class_file_is_relative_to_data_root(tmp_path, monkeypatch):
    (tmp_path / 'classes.txt').write_text('person\ncat\ndog, small\n')
    dataset = list_dataset(tmp_path, 'val.csv', CSV_TABLE, classes='classes.txt')
    assert dataset.metainfo['classes'] == ('person', 'cat', 'dog, small')
    # an older config's path from the working directory is still read (with a warning)
    monkeypatch.chdir(tmp_path.parent)
    old = f'{tmp_path.name}/classes.txt'
    assert list_dataset(tmp_path, 'val.csv', CSV_TABLE, classes=old).metainfo['classes'][0] == \
        'person'
    with pytest.raises(FileNotFoundError, match=r"classes file .*missing.txt' does not exist "
                                                r'\(a relative classes path is relative to '
                                                'data_root'):
        list_dataset(tmp_path, 'val.csv', CSV_TABLE, classes='missing.txt')


def test_splits_with_other_classes_are_refused_by_the_run(tmp_path):
    from mmml_ext.run_facts.class_stats import ClassStats
    stats = ClassStats((1, 1, 1), 3, ('cat', 'dog, small', 'person'))
    swapped = CSV_TABLE.replace('image,cat,"dog, small"', 'image,"dog, small",cat')
    val = list_dataset(tmp_path, 'val.csv', swapped)  # no classes=: the header's order
    with pytest.raises(ValueError, match=re.escape(
            "the classes of the val set (val.csv) are not the training set's (the same names in "
            "another order): class 0 is 'dog, small' in the val set (val.csv) and 'cat' in "
            'training')):
        stats.check_classes(val.metainfo['classes'], f'the val set ({Path(val.ann_file).name})')


def test_format_follows_the_suffix_unless_given(tmp_path):
    dataset = list_dataset(tmp_path, 'val.txt', CSV_TABLE, ann_format='csv')
    assert labels_of(dataset) == [[0, 1], [2], []]
    with pytest.raises(ValueError, match='ann_format must be one of'):
        list_dataset(tmp_path, 'val.txt', CSV_TABLE, ann_format='tsv')


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize('name, text, kwargs, message', [
    ('train.txt', 'a.png cat\n\nb.png dgo\n', {}, "line 3: unknown class 'dgo'"),
    ('train.txt', 'a.png cat,,dog\n', {}, 'line 1: empty class name'),
    ('train.txt', 'a.png cat\nmy photo.png\n', {},
     "line 2: unknown class 'photo.png' \\(it looks like a path"),
    ('train.txt', 'a.png cat, dog\n', {}, 'line 1: write the labels without spaces'),
    ('train.txt', '# header\na.png cat\nmissing.png dog\n', {},
     "line 3: image '.*missing.png' does not exist"),
    ('train.txt', 'a.png cat\nb.png\n', dict(allow_empty=False),
     "line 2: image 'b.png' has no positive label"),
    ('train.txt', 'a.png cat\nb.png dog\na.png person\n', {},
     "line 3: image 'a.png' is listed again \\(first on line 1\\)"),
    ('val.csv', 'image,cat,dog,person\na.png,1,0,0\nb.png,1,yes,0\n', {},
     "line 3: the cell of class 'dog' is 'yes'"),
    ('val.csv', 'image,cat,dog,person\na.png,1,0,0\nb.png,1,,0\n', {},
     "line 3: the cell of class 'dog' is ''"),
    ('val.csv', 'image,cat,dog,person\n\na.png,1,0\n', {},
     'line 3: 3 columns, the header has 4'),
    ('val.csv', 'image,cat,dog,person\na.png,1,0,0\nb.png,0,-1,0\n', dict(allow_empty=False),
     "line 3: image 'b.png' has no positive label"),
    ('val.csv', 'image,cat,dog,person\na.png,1,0,0\nmissing.png,0,1,0\n', {},
     "line 3: image '.*missing.png' does not exist"),
    ('val.csv', 'a.png,1,0,0\n', {}, 'line 1: the header must be "image,<class 1>'),
    ('val.csv', 'image,cat,cat\n', {}, "line 1: class 'cat' is given twice"),
])
def test_bad_input_names_file_and_line(tmp_path, name, text, kwargs, message):
    kwargs = dict(kwargs)
    if name.endswith('.txt'):
        kwargs['classes'] = CLASSES
    with pytest.raises(ValueError, match=re.escape(name) + ', ' + message):
        list_dataset(tmp_path, name, text, **kwargs)


def test_missing_image_check_can_be_turned_off(tmp_path):
    dataset = list_dataset(tmp_path, 'train.txt', 'a.png cat\nmissing.png dog\n',
                           classes=CLASSES, check_images=False)
    assert labels_of(dataset) == [[0], [1]]
    assert dataset.get_data_info(1)['img_path'] == str(tmp_path / 'images' / 'missing.png')


def test_bad_class_lists(tmp_path):
    with pytest.raises(ValueError, match="classes: class 1 ' dog' has leading or trailing"):
        list_dataset(tmp_path, 'train.txt', 'a.png cat\n', classes=['cat', ' dog'])
    with pytest.raises(ValueError, match="'a,b' holds a comma"):
        list_dataset(tmp_path, 'train.txt', 'a.png cat\n', classes=['cat', 'a,b'])


# ------------------------------------------------------- COCO: image-id subset
COCO = dict(
    images=[dict(id=i, file_name=f'{i:012d}.jpg') for i in (5, 7, 9, 11)],
    categories=[dict(id=18, name='dog'), dict(id=1, name='person'), dict(id=3, name='car')],
    annotations=[dict(id=1, image_id=5, category_id=18), dict(id=2, image_id=7, category_id=1),
                 dict(id=3, image_id=7, category_id=3), dict(id=4, image_id=11, category_id=18)],
)


def coco_root(tmp_path, ids_text, split='train2017'):
    (tmp_path / 'annotations').mkdir(exist_ok=True)
    (tmp_path / 'annotations' / f'instances_{split}.json').write_text(json.dumps(COCO))
    (tmp_path / 'annotations' / 'longtail2017_img_id.txt').write_text(ids_text)
    return dict(data_root=str(tmp_path), ann_file=f'annotations/instances_{split}.json',
                data_prefix=split, image_ids_file='annotations/longtail2017_img_id.txt')


def test_coco_image_ids_keep_the_listed_images_in_file_order(tmp_path):
    dataset = COCOMultiLabel(**coco_root(tmp_path, '11\n# a comment\n\n5\n7\n'))
    names = [Path(dataset.get_data_info(i)['img_path']).name for i in range(len(dataset))]
    assert names == ['000000000011.jpg', '000000000005.jpg', '000000000007.jpg']
    # classes by ascending category id: person (1), car (3), dog (18)
    assert labels_of(dataset) == [[2], [2], [0, 1]]
    assert list(class_stats.compute(dataset).class_counts) == [1, 1, 2]


def test_coco_listed_image_without_object(tmp_path):
    assert len(COCOMultiLabel(**coco_root(tmp_path, '9\n5\n'))) == 1  # skip_empty drops 9
    dataset = COCOMultiLabel(**coco_root(tmp_path, '9\n5\n'), skip_empty=False)
    assert labels_of(dataset) == [[], [2]]


@pytest.mark.parametrize('ids, message', [
    ('5\n7\n42\n', 'longtail2017_img_id.txt, line 3: image id 42 is not in .*instances'),
    ('5\n7\n\n5\n', 'longtail2017_img_id.txt, line 4: image id 5 is listed again '
                    r'\(first on line 1\)'),
    ('5\nseven\n', "longtail2017_img_id.txt, line 2: 'seven' is not an image id"),
])
def test_coco_bad_image_ids_name_file_and_line(tmp_path, ids, message):
    with pytest.raises(ValueError, match=message):
        COCOMultiLabel(**coco_root(tmp_path, ids))


def test_coco_image_ids_file_is_never_unpickled(tmp_path):
    kwargs = coco_root(tmp_path, '')
    (tmp_path / 'annotations' / 'longtail2017_img_id.txt').write_bytes(
        b'\x80\x04\x95\x0b\x00\x00\x00\x00\x00\x00\x00]\x94(K\x05K\x07e.')  # pickle of [5, 7]
    with pytest.raises(ValueError, match='line 1: this looks like a Python pickle'):
        COCOMultiLabel(**kwargs)


# ------------------------------------------------------- VOC: image-set subset
VOC_XML = """<annotation><filename>{id}.jpg</filename>{objects}</annotation>"""
VOC_OBJECT = '<object><name>{name}</name><difficult>{difficult}</difficult></object>'
VOC_IMAGES = {  # VOC2007 classes: cat 7, dog 11, person 14
    '2008_000001': [('cat', 0), ('person', 1)],
    '2008_000002': [('dog', 0)],
    '2010_000003': [('person', 0), ('dog', 1), ('dog', 0)],
}


def voc_root(root: Path, ids_in_set) -> Path:
    for image_id, objects in VOC_IMAGES.items():
        write_images(root / 'JPEGImages', [f'{image_id}.jpg'])
        xml = VOC_XML.format(id=image_id, objects=''.join(
            VOC_OBJECT.format(name=name, difficult=difficult) for name, difficult in objects))
        (root / 'Annotations').mkdir(exist_ok=True)
        (root / 'Annotations' / f'{image_id}.xml').write_text(xml)
    (root / 'ImageSets' / 'Main').mkdir(parents=True, exist_ok=True)
    (root / 'ImageSets' / 'Main' / 'longtail2012.txt').write_text('\n'.join(ids_in_set) + '\n')
    (root / 'ImageSets' / 'Main' / 'test.txt').write_text('\n'.join(VOC_IMAGES) + '\n')
    return root


def build(dataset_cfg, **changes):
    cfg = copy.deepcopy(dict(dataset_cfg))
    cfg.update(changes, pipeline=[])
    return DATASETS.build(cfg)


# ------------------------------------------------------------------ configs
def test_voc_mlt_configs(tmp_path):
    for name in ('bce', 'db'):
        cfg = Config.fromfile(str(REPO / f'configs/voc/resnet50_voc-mlt_{name}.py'))
        train, val = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
        assert (train.type, train.data_root, train.image_set_path) == (
            'VOC', 'data/VOC2012', 'ImageSets/Main/longtail2012.txt')
        assert (val.type, val.data_root, val.split) == ('VOC', 'data/VOC2007', 'test')
        assert cfg.test_dataloader.dataset == val
        assert cfg.model.head.num_classes == 20 and cfg.data_preprocessor.num_classes == 20
        assert cfg.val_evaluator[0] == dict(type='MeanAP', group_bounds=(20, 99))
    assert cfg.model.head.loss.type == 'DistributionBalancedLoss'
    assert (cfg.model.head.loss.neg_scale, cfg.model.head.loss.map_gamma) == (5.0, 0.3)
    assert cfg.train_dataloader.sampler == dict(type='ClassAwareSampler', num_sample_class=3,
                                                length=3875)

    # the train set is mmpretrain's VOC reading the id list, in the list's order
    root = voc_root(tmp_path / 'VOC2012', ['2010_000003', '2008_000001'])
    dataset = build(train, data_root=str(root))
    assert type(dataset).__name__ == 'VOC' and len(dataset) == 2
    assert [Path(dataset.get_data_info(i)['img_path']).name for i in range(2)] == [
        '2010_000003.jpg', '2008_000001.jpg']
    assert [sorted(labels) for labels in labels_of(dataset)] == [[11, 14], [7]]
    # mmpretrain marks a class difficult when any of its objects is; the metrics ignore it
    # only where it is not also a positive (dog in the first image stays positive)
    assert [dataset.get_data_info(i)['gt_label_difficult'] for i in range(2)] == [[11], [14]]
    counts = class_stats.compute(dataset).class_counts
    assert counts[7] == 1 and counts[14] == 1
    assert len(build(val, data_root=str(root))) == 3


def test_coco_mlt_configs(tmp_path):
    for name in ('bce', 'db'):
        cfg = Config.fromfile(str(REPO / f'configs/coco/resnet50_coco-mlt_{name}.py'))
        train, val = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
        assert (train.type, train.ann_file, train.data_prefix, train.image_ids_file) == (
            'COCOMultiLabel', 'annotations/instances_train2017.json', 'train2017',
            'annotations/longtail2017_img_id.txt')
        assert (val.type, val.ann_file, val.data_prefix, val.skip_empty) == (
            'COCOMultiLabel', 'annotations/instances_val2017.json', 'val2017', False)
        assert 'image_ids_file' not in val
        assert cfg.model.head.num_classes == 80 and cfg.data_preprocessor.num_classes == 80
        assert cfg.val_evaluator[0] == dict(type='MeanAP', group_bounds=(20, 99))
    assert cfg.model.head.loss.type == 'DistributionBalancedLoss'
    assert (cfg.model.head.loss.neg_scale, cfg.model.head.loss.map_gamma) == (2.0, 0.2)
    assert cfg.train_dataloader.sampler == dict(type='ClassAwareSampler', num_sample_class=3,
                                                length=22560)
    assert cfg.train_cfg.max_epochs == 8

    coco_root(tmp_path, '11\n7\n')
    (tmp_path / 'annotations' / 'instances_val2017.json').write_text(json.dumps(COCO))
    dataset = build(train, data_root=str(tmp_path))
    assert type(dataset) is COCOMultiLabel and labels_of(dataset) == [[2], [0, 1]]
    assert len(build(val, data_root=str(tmp_path))) == 4  # every val image, empty ones too


def test_list_template_config(tmp_path):
    cfg = Config.fromfile(str(REPO / 'configs/_base_/datasets/multilabel_list.py'))
    train = cfg.train_dataloader.dataset
    assert train.type == 'MultiLabelListDataset'
    assert cfg.test_pipeline[-1] == dict(type='PackInputs')  # gt_score needs no meta key
    write_images(tmp_path / 'images', ['a.png'])
    (tmp_path / 'classes.txt').write_text('cat\ndog\n')
    (tmp_path / 'train.txt').write_text('a.png dog\n')
    dataset = build(train, data_root=str(tmp_path), classes=str(tmp_path / 'classes.txt'))
    assert type(dataset) is MultiLabelListDataset and labels_of(dataset) == [[1]]


def test_paper_groups_with_group_bounds_20_99():
    """The DB paper's split: head >= 100 training images, medium 20-99, tail < 20."""
    groups = frequency_groups([100, 99, 20, 19, 101, 0], (20, 99))
    assert groups['head'].tolist() == [True, False, False, False, True, False]
    assert groups['medium'].tolist() == [False, True, True, False, False, False]
    assert groups['tail'].tolist() == [False, False, False, True, False, True]
