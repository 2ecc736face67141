"""OpenImagesMultiLabel and its parsers on small files in OpenImages' own formats."""
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.evaluator import Evaluator
from mmpretrain.registry import DATASETS, METRICS, MODELS
from mmpretrain.structures import DataSample
from PIL import Image
from sklearn.metrics import average_precision_score

import mmml_ext  # noqa: F401
from cli_helpers import REPO
from mmml_ext.datasets import LabelIndex, OpenImagesMultiLabel
from mmml_ext.datasets.openimages_files import (read_class_descriptions, read_classes,
                                                read_image_labels)
from mmml_ext.engine.cli import set_data_root
from mmml_ext.run_facts import class_stats

CONFIG = REPO / 'configs/openimages/resnet50_openimages-v6_asl.py'
HEADER = 'ImageID,Source,LabelName,Confidence\n'
DESCRIPTIONS = ('/m/cat,Cat\n'
                '/m/dog,Dog\n'
                '/m/0bus,"Bus, school"\n'
                '/m/tree,Tree\n'
                '/m/car,Car\n')
TRAINABLE = '/m/dog\n/m/car\n\n/m/cat\n/m/0bus\n'  # not /m/tree; a blank line
LABELS = (HEADER +                                   # line 1
          'img_b,verification,/m/cat,1\n'            # 2
          'img_b,verification,/m/dog,0\n'            # 3
          'img_b,verification,/m/tree,1\n'           # 4: not trainable, skipped
          'img_a,crowdsource-verification,/m/car,1\n'  # 5
          'img_b,verification,/m/cat,1\n'            # 6: the same as line 2
          'img_c,verification,/m/tree,0\n'           # 7: img_c has no trainable label
          'img_a,verification,/m/0bus,0\n'           # 8
          'img_d,verification,/m/dog,1\n')           # 9
# classes (trainable order): Dog, Car, Cat, "Bus, school"; images by first appearance
TRAINABLE_SCORES = {
    'img_b': [0, -1, 1, -1],
    'img_a': [-1, 1, -1, 0],
    'img_d': [1, -1, -1, -1],
}


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def write_images(folder: Path, ids) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image_id in enumerate(ids):
        pixels = np.full((12, 16, 3), 20 * i, dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f'{image_id}.jpg')


@pytest.fixture
def files(tmp_path):
    """A data root in OpenImages' layout: descriptions with the V6 header, a trainable list,
    a labels CSV and its images."""
    write(tmp_path, 'descriptions.csv', 'LabelName,DisplayName\n' + DESCRIPTIONS)
    write(tmp_path, 'trainable.txt', TRAINABLE)
    write(tmp_path, 'labels.csv', LABELS)
    write_images(tmp_path / 'images', ['img_a', 'img_b', 'img_c', 'img_d'])
    return dict(data_root=str(tmp_path), ann_file='labels.csv', class_file='descriptions.csv',
                trainable_file='trainable.txt', data_prefix='images')


def scores_of(dataset):
    return {dataset.get_data_info(i)['image_id']: dataset.get_data_info(i)['gt_score'].tolist()
            for i in range(len(dataset))}


# ----------------------------------------------------------------------------- parsers
def test_descriptions_with_and_without_header(tmp_path):
    with_header = read_class_descriptions(write(tmp_path, 'v6.csv',
                                                'LabelName,DisplayName\n' + DESCRIPTIONS))
    without = read_class_descriptions(write(tmp_path, 'old.csv', DESCRIPTIONS + '\n'))
    for classes in (with_header, without):
        assert classes.mids == ('/m/cat', '/m/dog', '/m/0bus', '/m/tree', '/m/car')
        assert classes.names == ('Cat', 'Dog', 'Bus, school', 'Tree', 'Car')
    trainable = read_classes(str(tmp_path / 'v6.csv'), write(tmp_path, 't.txt', TRAINABLE))
    assert trainable.mids == ('/m/dog', '/m/car', '/m/cat', '/m/0bus')  # the list's order
    assert trainable.names == ('Dog', 'Car', 'Cat', 'Bus, school')


@pytest.mark.parametrize('text, message', [
    ('/m/cat,Cat\n/m/dog,Dog\n/m/cat,Kitten\n',
     r'd\.csv, line 3: LabelName \'/m/cat\' is described again \(first on line 1\)'),
    ('LabelName,DisplayName\n/m/cat,Cat\n/m/dog,\n', r'd\.csv, line 3: empty DisplayName'),
    ('/m/cat,Cat\n,Dog\n', r'd\.csv, line 2: empty LabelName'),
    ('/m/cat,Cat\n/m/dog,Dog,extra\n', r'd\.csv, line 2: 3 cells'),
    ('LabelName,DisplayName\n', r'd\.csv: no class description'),
])
def test_bad_descriptions_name_file_and_line(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_class_descriptions(write(tmp_path, 'd.csv', text))


def test_bad_trainable_list_names_file_and_line(tmp_path):
    described = str(write(tmp_path, 'd.csv', DESCRIPTIONS))
    with pytest.raises(ValueError, match=r"t\.txt, line 3: '/m/zebra' is not a LabelName of "
                                         r'.*d\.csv'):
        read_classes(described, write(tmp_path, 't.txt', '/m/cat\n\n/m/zebra\n'))
    with pytest.raises(ValueError, match=r"t\.txt, line 2: '/m/cat' is listed again \(first on "
                                         'line 1\\)'):
        read_classes(described, write(tmp_path, 't.txt', '/m/cat\n/m/cat\n'))


def test_labels_csr_and_summary(files):
    root = Path(files['data_root'])
    classes = read_classes(str(root / 'descriptions.csv'), str(root / 'trainable.txt'))
    labels = read_image_labels(str(root / 'labels.csv'), classes)
    assert [labels.image_id(i) for i in range(len(labels))] == ['img_b', 'img_a', 'img_d']
    assert labels.offsets.tolist() == [0, 2, 4, 5]
    assert labels.offsets.dtype == np.int64 and labels.values.dtype == np.int8
    assert labels.classes.tolist() == [0, 2, 1, 3, 0]  # ascending within an image
    assert labels.values.tolist() == [0, 1, 1, 0, 1]
    assert labels.first_lines.tolist() == [2, 5, 9]
    summary = labels.summary
    assert (summary.rows, summary.skipped_rows, summary.duplicate_rows,
            summary.unlabelled_images) == (8, 2, 1, 1)


def test_labels_in_small_blocks_and_any_row_order_match_a_plain_reading(tmp_path, monkeypatch):
    """Images scattered over the file, blank lines, duplicates, blocks smaller than the file:
    the same table as a dict-of-dicts reading, row by row."""
    from mmml_ext.datasets import openimages_files
    monkeypatch.setattr(openimages_files, 'BLOCK_ROWS', 64)
    rng = np.random.default_rng(0)
    mids = [f'/m/{i:03d}' for i in range(30)]
    classes = read_classes(write(tmp_path, 'd.csv', ''.join(f'{m},N{m}\n' for m in mids)),
                           write(tmp_path, 't.txt', '\n'.join(mids[::-3])))
    rows = []
    for _ in range(700):
        image, c = f'i{rng.integers(90)}', int(rng.integers(30))
        rows.append(f'{image},verification,{mids[c]},{(c * 7 + len(image)) % 2}\n')
        if rng.random() < 0.02:
            rows.append('\n')
    labels = read_image_labels(write(tmp_path, 'l.csv', HEADER + ''.join(rows)), classes)
    index = {mid: i for i, mid in enumerate(classes.mids)}
    expected, first_line = {}, {}
    for line, row in enumerate(rows, 2):
        if row == '\n':
            continue
        image, _, mid, value = row.strip().split(',')
        first_line.setdefault(image, line)
        if mid in index:
            expected.setdefault(image, np.full(len(index), -1.0))[index[mid]] = int(value)
    order = [image for image in first_line if image in expected]
    assert [labels.image_id(i) for i in range(len(labels))] == order
    for i, image in enumerate(order):
        assert labels.scores(i).tolist() == expected[image].tolist()
        assert labels.first_lines[i] == first_line[image]
    assert labels.summary.unlabelled_images == len(first_line) - len(order)


def test_ascii_ids_are_bytes_and_others_str(tmp_path, monkeypatch):
    from mmml_ext.datasets import openimages_files
    monkeypatch.setattr(openimages_files, 'BLOCK_ROWS', 2)
    classes = read_classes(write(tmp_path, 'd.csv', DESCRIPTIONS))
    ascii_only = read_image_labels(write(tmp_path, 'a.csv', LABELS), classes)
    assert ascii_only.image_ids.dtype.kind == 'S' and ascii_only.image_id(0) == 'img_b'
    text = (HEADER + 'a1,v,/m/cat,1\na2,v,/m/dog,1\nbild_ä,v,/m/cat,0\n'  # ä in the 2nd block
            'a1,v,/m/dog,0\nbild_ä,v,/m/car,1\n')
    labels = read_image_labels(write(tmp_path, 'u.csv', text), classes)
    assert labels.image_ids.dtype.kind == 'U'
    assert [labels.image_id(i) for i in range(3)] == ['a1', 'a2', 'bild_ä']
    assert labels.scores(0).tolist() == [1, 0, -1, -1, -1]
    assert labels.scores(2).tolist() == [0, -1, -1, -1, 1]


@pytest.mark.parametrize('text, message', [
    ('ImageID,Source,LabelName,Score\n', 'labels.csv, line 1: the header is '
     '"ImageID,Source,LabelName,Score", expected "ImageID,Source,LabelName,Confidence"'),
    ('', 'labels.csv: the file is empty'),
    (HEADER + 'a,verification,/m/cat,1\na,verification,/m/dog\n',
     r'labels.csv, line 3: 3 cells \[.a., .verification., ./m/dog.\], expected 4'),
    (HEADER + 'a,verification,/m/cat,1\n\nb,verification,/m/dog,0.7\n',
     r"labels.csv, line 4: Confidence '0.7'; a human-verified label is 1 \(present\) or 0"),
    (HEADER + 'a,verification,/m/cat,1\n,verification,/m/dog,1\n',
     'labels.csv, line 3: empty ImageID'),
    (HEADER + 'a,verification,/m/cat,1\na,verification,/m/zebra,1\n',
     r"labels.csv, line 3: LabelName '/m/zebra' is not in the class descriptions .*d.csv"),
    (HEADER + 'a,"multi\nline",/m/cat,1\nb,verification,/m/dog,2\n',  # the line count shifts
     "labels.csv, line 4: Confidence '2'"),
    (HEADER + 'b,verification,/m/cat,1\na,verification,/m/car,0\nb,verification,/m/cat,0\n',
     'labels.csv, lines 2 and 4: image b and class /m/cat are given Confidence 1 on line 2 '
     'and 0 on line 4'),
])
def test_bad_labels_name_file_and_line(tmp_path, text, message):
    classes = read_classes(write(tmp_path, 'd.csv', DESCRIPTIONS))
    with pytest.raises(ValueError, match=message):
        read_image_labels(write(tmp_path, 'labels.csv', text), classes)


# ----------------------------------------------------------------------------- dataset
def test_dataset_targets_classes_and_cat_ids(files):
    dataset = OpenImagesMultiLabel(**files)
    assert dataset.metainfo['classes'] == ('Dog', 'Car', 'Cat', 'Bus, school')
    assert dataset.metainfo['mids'] == ('/m/dog', '/m/car', '/m/cat', '/m/0bus')
    assert dataset.metainfo['unknown_labels'] is True
    assert len(dataset) == 3
    assert scores_of(dataset) == TRAINABLE_SCORES  # img_c (no trainable label) is left out
    info = dataset.get_data_info(1)
    assert info['img_path'] == str(Path(files['data_root']) / 'images' / 'img_a.jpg')
    assert info['gt_score'].dtype == np.float32 and info['gt_label'].dtype == np.int64
    assert info['gt_label'].tolist() == [1] and info['sample_idx'] == 1
    assert [dataset.get_cat_ids(i) for i in range(3)] == [[2], [1], [0]]
    assert dataset.get_data_info(-1)['image_id'] == 'img_d'
    with pytest.raises(IndexError):
        dataset.get_data_info(3)


def test_every_described_class_without_a_trainable_list(files, tmp_path):
    write(tmp_path, 'old.csv', DESCRIPTIONS)  # class-descriptions.csv: no header
    dataset = OpenImagesMultiLabel(**dict(files, class_file='old.csv', trainable_file=None))
    assert dataset.metainfo['classes'] == ('Cat', 'Dog', 'Bus, school', 'Tree', 'Car')
    assert scores_of(dataset) == {'img_b': [1, 0, -1, 1, -1], 'img_a': [-1, -1, 0, -1, 1],
                                  'img_c': [-1, -1, -1, 0, -1], 'img_d': [-1, 1, -1, -1, -1]}


def test_label_index_and_class_counts_need_no_pass(files, monkeypatch):
    dataset = OpenImagesMultiLabel(**files)
    monkeypatch.setattr(OpenImagesMultiLabel, 'get_cat_ids', None)  # a pass would fail
    index = LabelIndex.of(dataset, 4)
    assert index is LabelIndex.of(dataset)
    assert index.offsets.tolist() == [0, 1, 2, 3] and index.labels.tolist() == [2, 1, 0]
    assert class_stats.compute(dataset).class_counts == (1, 1, 1, 0)


def test_subsets(files):
    dataset = OpenImagesMultiLabel(**files, indices=2)
    assert list(scores_of(dataset)) == ['img_b', 'img_a']
    assert LabelIndex.of(dataset).labels.tolist() == [2, 1]
    full = OpenImagesMultiLabel(**files, lazy_init=True)
    subset = full.get_subset([2, 0])
    assert list(scores_of(subset)) == ['img_d', 'img_b'] and len(full) == 3
    full.get_subset_(-1)
    assert list(scores_of(full)) == ['img_d'] and LabelIndex.of(full).labels.tolist() == [0]


def test_missing_image_names_the_line_and_the_count(files):
    root = Path(files['data_root'])
    (root / 'images' / 'img_a.jpg').unlink()
    (root / 'images' / 'img_d.jpg').unlink()
    with pytest.raises(ValueError, match=r"labels.csv, line 5: image '.*images/img_a.jpg' does "
                                         r'not exist \(2 of the 3 images of the file are '
                                         'missing'):
        OpenImagesMultiLabel(**files)
    assert len(OpenImagesMultiLabel(**files, check_images=False)) == 3
    with pytest.raises(ValueError, match="cannot list the image directory '.*nowhere'"):
        OpenImagesMultiLabel(**dict(files, data_prefix='nowhere'))


def test_images_are_found_with_non_ascii_ids_too(files):
    root = Path(files['data_root'])
    write(root, 'labels.csv', LABELS + 'bild_ä,verification,/m/cat,1\n')
    with pytest.raises(ValueError, match="line 10: image '.*bild_ä.jpg' does not exist"):
        OpenImagesMultiLabel(**files)
    write_images(root / 'images', ['bild_ä'])
    dataset = OpenImagesMultiLabel(**files)
    assert dataset.get_data_info(3)['img_path'].endswith('images/bild_ä.jpg')


def test_unknown_keys_and_foreign_classes_are_refused(files):
    with pytest.raises(ValueError, match=r"OpenImagesMultiLabel has no argument\(s\) "
                                         r"\['classes'\]; its arguments are \['ann_file', "):
        OpenImagesMultiLabel(**files, classes=['a'])
    with pytest.raises(ValueError, match='metainfo classes \\(1 names\\) are not the 4 classes'):
        OpenImagesMultiLabel(**files, metainfo=dict(classes=['a']))
    OpenImagesMultiLabel(**files, _delete_=True)  # left by mmengine in a merged config


def test_built_from_a_config_through_a_real_pipeline_keeps_unknown_cells(files):
    pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(8, 8)),
                dict(type='PackInputs')]
    dataset = DATASETS.build(dict(type='OpenImagesMultiLabel', pipeline=pipeline, **files))
    for i, (image_id, expected) in enumerate(TRAINABLE_SCORES.items()):
        packed = dataset[i]
        sample = packed['data_samples']
        assert packed['inputs'].shape == (3, 8, 8)
        assert sample.img_path.endswith(f'{image_id}.jpg')
        assert sample.gt_score.tolist() == expected  # -1 cells are kept as they are
        assert sample.gt_label.tolist() == [c for c, v in enumerate(expected) if v == 1]


# ----------------------------------------------------------------------------- the config
def v6_tree(root: Path):
    """A data root with the V6 file names of the config (the fixture's classes)."""
    write(root, 'oidv6-class-descriptions.csv', 'LabelName,DisplayName\n' + DESCRIPTIONS)
    write(root, 'oidv6-classes-trainable.txt', TRAINABLE)
    for name, folder in (('oidv6-train-annotations-human-imagelabels.csv', 'train'),
                         ('validation-annotations-human-imagelabels.csv', 'validation'),
                         ('test-annotations-human-imagelabels.csv', 'test')):
        write(root, name, LABELS)
        write_images(root / folder, ['img_a', 'img_b', 'img_c', 'img_d'])


def test_config_reads_the_v6_files_and_its_loss_takes_unknown_cells(tmp_path):
    cfg = Config.fromfile(str(CONFIG))
    assert cfg.model.head.num_classes == cfg.data_preprocessor.num_classes == 9605
    assert cfg.model.head.loss.type == 'MultiLabelAsymmetricLoss'
    v6_tree(tmp_path)
    set_data_root(cfg, str(tmp_path))  # --data-root moves every file of every split
    datasets = [DATASETS.build(cfg[field].dataset)
                for field in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    for dataset in datasets:
        assert dataset.metainfo['classes'] == ('Dog', 'Car', 'Cat', 'Bus, school')
        assert scores_of(dataset) == TRAINABLE_SCORES
    # the model of the config (sized for the fixture's 4 classes), on a packed batch
    cfg.model.head.num_classes = cfg.data_preprocessor.num_classes = 4
    cfg.model.backbone.init_cfg = None
    cfg.model.data_preprocessor = dict(cfg.data_preprocessor, type='ClsDataPreprocessor')
    model = MODELS.build(cfg.model)
    batch = model.data_preprocessor(pseudo_collate([datasets[0][i] for i in range(3)]), True)
    assert batch['data_samples'][0].gt_score.tolist() == TRAINABLE_SCORES['img_b']
    losses = model(**batch, mode='loss')
    assert all(torch.isfinite(v).all() for v in losses.values())


def test_config_mean_ap_leaves_out_unknown_cells_and_classes_without_a_positive(tmp_path):
    rng = np.random.default_rng(0)
    n, c = 40, 5
    mids = [f'/m/c{k}' for k in range(c)]
    write(tmp_path, 'oidv6-class-descriptions.csv',
          'LabelName,DisplayName\n' + ''.join(f'{m},Class {m[-1]}\n' for m in mids))
    target = rng.choice([1, 0, -1], size=(n, c), p=[0.3, 0.3, 0.4])
    target[:, 4] = np.where(target[:, 4] == 1, 0, target[:, 4])  # class 4: no verified positive
    target[0, :4] = 1
    scores = rng.random((n, c)).astype(np.float32)
    scores[target == -1] = 1.0  # unknown cells scored highest: counted as negatives, AP drops
    with open(tmp_path / 'test.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['ImageID', 'Source', 'LabelName', 'Confidence'])
        for i in range(n):
            writer.writerows([f'im{i:02d}', 'verification', mids[k], int(target[i, k])]
                             for k in range(c) if target[i, k] >= 0)
    dataset = OpenImagesMultiLabel(ann_file='test.csv', class_file='oidv6-class-descriptions.csv',
                                   data_root=str(tmp_path), check_images=False)
    order = [int(dataset.get_data_info(i)['image_id'][2:]) for i in range(len(dataset))]
    samples = []
    for i, row in enumerate(order):
        info = dataset.get_data_info(i)
        assert info['gt_score'].tolist() == target[row].tolist()
        sample = DataSample().set_pred_score(torch.from_numpy(scores[row]))
        sample.set_gt_score(torch.from_numpy(info['gt_score']))
        sample.set_metainfo(dict(sample_idx=i))
        samples.append(sample.to_dict())

    cfg = Config.fromfile(str(CONFIG))
    evaluator = Evaluator([METRICS.build(metric) for metric in cfg.test_evaluator])
    evaluator.dataset_meta = dataset.metainfo
    evaluator.process(samples)
    result = evaluator.evaluate(len(samples))

    verified = [(target[:, k] >= 0) for k in range(c)]
    aps = [average_precision_score(target[v, k], scores[v, k]) for k, v in enumerate(verified)
           if (target[v, k] == 1).any()]
    assert len(aps) == 4  # class 4 is left out
    assert result['multi-label/mAP'] == pytest.approx(100 * np.mean(aps), abs=1e-4)
    as_negative = np.mean([average_precision_score(target[:, k] == 1, scores[:, k])
                           for k in range(4)])
    assert abs(100 * as_negative - result['multi-label/mAP']) > 1  # the -1 cells mattered


def test_a_checkpoint_tests_on_a_machine_with_only_the_test_split(tmp_path):
    """tools/test.py with --data-root at a tree that holds the class files and the test split
    only: the training annotations are never read (they are not there), and the statistics and
    the weights' step come from the checkpoint."""
    from cli_helpers import run_tool
    root = tmp_path / 'oid'
    write(root, 'oidv6-class-descriptions.csv', 'LabelName,DisplayName\n' + DESCRIPTIONS)
    write(root, 'oidv6-classes-trainable.txt', TRAINABLE)
    write(root, 'test-annotations-human-imagelabels.csv', LABELS)
    write_images(root / 'test', ['img_a', 'img_b', 'img_c', 'img_d'])
    small = ['model.head.num_classes=4', 'data_preprocessor.num_classes=4',
             'model.backbone.init_cfg=None', 'test_dataloader.num_workers=0',
             'test_dataloader.batch_size=2']
    cfg = Config.fromfile(str(CONFIG))
    cfg.merge_from_dict({k: (None if v == 'None' else int(v)) for k, v in
                         (o.split('=') for o in small[:3])})
    cfg.model.data_preprocessor = dict(cfg.data_preprocessor, type='ClsDataPreprocessor')
    checkpoint = dict(state_dict=MODELS.build(cfg.model).state_dict(),
                      meta=dict(epoch=3, iter=12))
    class_stats.to_checkpoint(checkpoint, class_stats.ClassStats(
        (50, 40, 30, 20), 100, ('Dog', 'Car', 'Cat', 'Bus, school')))
    torch.save(checkpoint, tmp_path / 'epoch_3.pth')
    proc = run_tool('test.py', CONFIG, tmp_path / 'epoch_3.pth', '--data-root', root,
                    '--work-dir', tmp_path / 'work', '--cfg-options', *small)
    assert 'multi-label/mAP' in proc.stdout
    log = proc.stdout + proc.stderr
    assert 'oidv6-train-annotations' in log  # in the printed config, and nowhere else:
    assert 'No such file' not in log and 'cannot be counted' not in log
    rows = json.loads((tmp_path / 'work' / 'per_class' / 'test.json').read_text())['classes']
    assert [r['train_count'] for r in rows] == [50, 40, 30, 20]  # from the checkpoint
    # Car (img_a) and Cat (img_b) have verified positives and no verified negative: AP 100
    # whatever the model, counted in a warning with their share of the mean (2 of 3 classes)
    assert [r['negatives'] for r in rows] == [1, 0, 0, 1]
    assert '2 class(es) have no evaluated negative' in log
    assert 'carry 66.7 of its' in log and 'Car, Cat' in log
