"""MultiLabelInferencer: each rule's label sets, against numpy on the returned scores, and the
errors of a checkpoint, a rule or an input that does not fit.

The checkpoints here are an untrained demo model saved with chosen facts (class names, tuned
thresholds), so each rule can be checked quickly; tests/test_tools.py checks a trained run's
scores against what tools/test.py scored for the same images.
"""
import ast
import csv
import importlib.util
import json

import mmcv
import numpy as np
import pytest
import torch
from mmpretrain.apis import get_model

from cli_helpers import DEMO_BCE, REPO
from mmml_ext.apis import MultiLabelInferencer
from mmml_ext.apis.batch_prediction import expand_inputs
from mmml_ext.datasets import LongTailedShapes
from mmml_ext.run_facts import tuned_thresholds

CONFIG = str(REPO / DEMO_BCE)
NUM_CLASSES = 20


def save_checkpoint(path, num_classes=NUM_CLASSES, thresholds=None):
    torch.manual_seed(0)
    model = get_model(CONFIG, pretrained=False)
    state = model.state_dict()
    if num_classes != NUM_CLASSES:
        state['head.fc.weight'] = torch.zeros(num_classes, state['head.fc.weight'].shape[1])
        state['head.fc.bias'] = torch.zeros(num_classes)
    checkpoint = dict(state_dict=state, meta=dict(dataset_meta=dict(
        classes=list(LongTailedShapes.METAINFO['classes']))))
    if thresholds is not None:
        tuned_thresholds.to_checkpoint(checkpoint, thresholds)
    torch.save(checkpoint, path)
    return str(path)


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp('images')
    test_set = LongTailedShapes(split='test', pipeline=[])
    for index in range(5):
        mmcv.imwrite(test_set[index]['img'], str(folder / f'{index}.png'))
    (folder / 'notes.txt').write_text('not an image')
    return folder


@pytest.fixture(scope='module')
def tuned(tmp_path_factory):
    per_class = [0.3 + 0.02 * c for c in range(NUM_CLASSES)]
    per_class[3] = None  # not tuned (no positive): the global threshold fills it
    thresholds = tuned_thresholds.TunedThresholds(0.45, tuple(per_class), (), 'val_epoch_6', 150)
    return thresholds, save_checkpoint(tmp_path_factory.mktemp('ckpt') / 'epoch_6.pth',
                                       thresholds=thresholds)


def label_set(scores, thresholds):
    """The classes at or above their threshold, highest score first (numpy)."""
    chosen = np.flatnonzero(scores >= thresholds)
    return chosen[np.argsort(-scores[chosen], kind='stable')].tolist()


def test_tuned_thresholds_of_the_checkpoint_by_default(images, tuned):
    thresholds, checkpoint = tuned
    results = MultiLabelInferencer(CONFIG, checkpoint, device='cpu')(str(images), batch_size=2)
    assert len(results) == 5  # the folder's images, not its text file
    expected = np.array([0.45 if t is None else t for t in thresholds.per_class], np.float32)
    names = LongTailedShapes.METAINFO['classes']
    for result in results:
        scores = result['pred_scores']
        assert scores.shape == (NUM_CLASSES, ) and ((0 <= scores) & (scores <= 1)).all()
        assert result['pred_labels'] == label_set(scores, expected)
        assert result['pred_classes'] == [names[c] for c in result['pred_labels']]
        assert result['pred_label_scores'] == [float(scores[c]) for c in result['pred_labels']]
        assert result['rule'] == 'tuned thresholds (val_epoch_6)'


@pytest.mark.parametrize('rule', ['thr', 'list', 'file', 'topk'])
def test_each_rule_gives_its_label_sets(images, tuned, tmp_path, rule):
    _, checkpoint = tuned
    per_class = np.linspace(0.2, 0.7, NUM_CLASSES).astype(np.float32)
    if rule == 'file':  # relative to the checkpoint's directory, the run's work dir
        path = tmp_path.parent / 'per_class.json'
        (path).write_text(json.dumps({'global': 0.5, 'per_class': per_class.tolist()}))
        kwargs, expected = dict(thr=str(path)), per_class
    elif rule == 'list':
        kwargs, expected = dict(thr=per_class.tolist()), per_class
    elif rule == 'thr':
        kwargs, expected = dict(thr=0.5), np.full(NUM_CLASSES, 0.5, np.float32)
    else:
        kwargs, expected = dict(topk=3), None
    inferencer = MultiLabelInferencer(CONFIG, checkpoint, device='cpu', **kwargs)
    array = mmcv.imread(str(images / '0.png'))  # an array input, as mmpretrain's
    for result in inferencer([str(images / '1.png'), array]):
        scores = result['pred_scores']
        if expected is None:
            assert result['pred_labels'] == np.argsort(-scores, kind='stable')[:3].tolist()
            assert result['rule'] == 'top-3'
        else:
            assert result['pred_labels'] == label_set(scores, expected)


def test_a_checkpoint_without_tuned_thresholds_asks_for_a_rule(images, tmp_path):
    checkpoint = save_checkpoint(tmp_path / 'untuned.pth')
    with pytest.raises(ValueError, match=r"no thresholds tuned on validation.*thr=0.5"):
        MultiLabelInferencer(CONFIG, checkpoint)
    result = MultiLabelInferencer(CONFIG, checkpoint, thr=0.5)(str(images / '0.png'))[0]
    assert result['rule'] == 'thr=0.5'


def test_what_does_not_fit_is_named(images, tuned, tmp_path):
    _, checkpoint = tuned
    with pytest.raises(ValueError, match='not both'):
        MultiLabelInferencer(CONFIG, checkpoint, thr=0.5, topk=3)
    with pytest.raises(ValueError, match='topk'):
        MultiLabelInferencer(CONFIG, checkpoint, topk=21)
    with pytest.raises(ValueError, match='thr has 3 thresholds for 20 classes'):
        MultiLabelInferencer(CONFIG, checkpoint, thr=[0.5, 0.5, 0.5])
    with pytest.raises(FileNotFoundError, match='no checkpoint'):
        MultiLabelInferencer(CONFIG, str(tmp_path / 'missing.pth'))
    other = save_checkpoint(tmp_path / 'other.pth', num_classes=7)
    with pytest.raises(ValueError, match=r'(?s)does not fit.*head\.fc\.weight'):
        MultiLabelInferencer(CONFIG, other, thr=0.5)
    with pytest.raises(ValueError, match='3 class names for a model of 20 classes'):
        MultiLabelInferencer(CONFIG, checkpoint, classes=['a', 'b', 'c'])
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match='holds no image'):
        MultiLabelInferencer(CONFIG, checkpoint)(str(empty))


def load_tool():
    spec = importlib.util.spec_from_file_location('predict_tool', REPO / 'tools' / 'predict.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_inputs_expand_to_image_paths(images, tmp_path):
    (tmp_path / 'list.txt').write_text(f'# two images\n{images}/1.png\n\nsub/9.png\n')
    paths = expand_inputs([str(images), str(images / '[34].png'), str(tmp_path / 'list.txt'),
                           'missing.jpg'])
    assert paths == [*(str(images / f'{i}.png') for i in range(5)), str(images / '3.png'),
                     str(images / '4.png'), str(images / '1.png'), str(tmp_path / 'sub/9.png'),
                     'missing.jpg']
    with pytest.raises(ValueError, match='matches no file'):
        expand_inputs([str(images / '*.jpg')])


def test_predict_tool_writes_every_readable_image_and_counts_the_rest(images, tuned, tmp_path,
                                                                      capsys):
    thresholds, checkpoint = tuned
    (tmp_path / 'broken.png').write_bytes(b'\x89PNG cut short')
    out = tmp_path / 'out' / 'labels.csv'
    load_tool().main([CONFIG, checkpoint, str(images), str(tmp_path / 'broken.png'),
                      str(tmp_path / 'gone.jpg'), '--out', str(out), '--all-scores',
                      '--batch-size', '2', '--num-workers', '0'])
    err = capsys.readouterr().err
    assert 'broken.png: not a readable image' in err and 'gone.jpg' in err
    assert '5 images written' in err and '2 skipped' in err
    with open(out) as f:
        rows = list(csv.DictReader(f))
    names = LongTailedShapes.METAINFO['classes']
    expected = MultiLabelInferencer(CONFIG, checkpoint)([str(images / f'{i}.png')
                                                        for i in range(5)])
    assert [row['image'] for row in rows] == [str(images / f'{i}.png') for i in range(5)]
    for row, result in zip(rows, expected):
        assert row['labels'] == ';'.join(result['pred_classes'])
        np.testing.assert_allclose([float(row[n]) for n in names], result['pred_scores'],
                                   atol=1e-6)
    out = tmp_path / 'labels.jsonl'
    load_tool().main([CONFIG, checkpoint, str(images), '--out', str(out), '--topk', '2',
                      '--num-workers', '1'])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [len(line['labels']) for line in lines] == [2] * 5
    assert lines[0]['label_indices'] == expected[0]['pred_scores'].argsort()[::-1][:2].tolist()


def test_predict_tool_strict_stops_and_leaves_no_file(images, tuned, tmp_path):
    _, checkpoint = tuned
    (tmp_path / 'broken.png').write_bytes(b'not an image')
    out = tmp_path / 'labels.csv'
    with pytest.raises(SystemExit, match=r'broken\.png: not a readable image'):
        load_tool().main([CONFIG, checkpoint, str(images), str(tmp_path / 'broken.png'),
                          '--out', str(out), '--strict', '--num-workers', '0'])
    assert not out.exists() and not list(tmp_path.glob('.labels.csv.*'))
    with pytest.raises(SystemExit, match='the extension chooses the format'):
        load_tool().main([CONFIG, checkpoint, str(images), '--out', str(tmp_path / 'x.txt')])


def test_calibrated_scores_keep_the_tuned_label_sets(images, tmp_path):
    scale = [0.5 + 0.1 * c for c in range(NUM_CLASSES)]
    scale[2] = None  # not fitted: its scores stay as they are
    thresholds = tuned_thresholds.TunedThresholds(
        0.4, tuple(0.2 + 0.03 * c for c in range(NUM_CLASSES)), (), 'val_epoch_2', 50,
        inverse_temperature=tuple(scale))
    checkpoint = save_checkpoint(tmp_path / 'calibrated.pth', thresholds=thresholds)
    paths = [str(images / f'{i}.png') for i in range(5)]
    calibrated = MultiLabelInferencer(CONFIG, checkpoint)(paths)
    raw = MultiLabelInferencer(CONFIG, checkpoint, calibrated=False)(paths)
    a = np.array([1.0 if s is None else s for s in scale])
    for cal, own in zip(calibrated, raw):
        assert cal['calibrated'] and not own['calibrated']
        p = np.clip(own['pred_scores'].astype(np.float64), 1e-7, 1 - 1e-7)
        np.testing.assert_allclose(cal['pred_scores'], 1 / (1 + (p / (1 - p)) ** -a), rtol=1e-5)
        assert sorted(cal['pred_labels']) == sorted(own['pred_labels'])  # the same sets
    # a threshold the user gives applies to the scores returned
    for result in MultiLabelInferencer(CONFIG, checkpoint, thr=0.5)(paths):
        assert result['pred_labels'] == label_set(result['pred_scores'],
                                                  np.full(NUM_CLASSES, 0.5, np.float32))


# --- ONNX export ---------------------------------------------------------------------------

def load_script(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """A calibrated checkpoint exported through tools/export.py, and its inferencer."""
    folder = tmp_path_factory.mktemp('export')
    thresholds = tuned_thresholds.TunedThresholds(
        0.4, tuple(0.15 + 0.02 * c for c in range(NUM_CLASSES)), (), 'val_epoch_6', 150,
        inverse_temperature=tuple(0.6 + 0.05 * c for c in range(NUM_CLASSES)))
    checkpoint = save_checkpoint(folder / 'epoch_6.pth', thresholds=thresholds)
    load_script(REPO / 'tools' / 'export.py').main([CONFIG, checkpoint, '--out',
                                                   str(folder / 'model.onnx')])
    return folder / 'model.onnx', MultiLabelInferencer(CONFIG, checkpoint)


def test_the_onnx_graph_gives_the_inferencers_scores_and_sets(images, exported):
    import onnxruntime
    model, inferencer = exported
    sidecar = json.loads(model.with_suffix('.json').read_text())
    assert sidecar['classes'] == list(LongTailedShapes.METAINFO['classes'])
    assert sidecar['output']['calibrated'] and sidecar['rule'] == 'tuned thresholds (val_epoch_6)'
    assert sidecar['preprocessing']['channel_order'] == 'RGB'  # the demo's to_rgb=True
    paths = [str(images / f'{i}.png') for i in range(5)]
    expected = inferencer(paths)
    session = onnxruntime.InferenceSession(str(model), providers=['CPUExecutionProvider'])
    pixels = np.stack([mmcv.imread(p)[..., ::-1].transpose(2, 0, 1) for p in paths])
    scores = session.run(None, {'image': pixels.astype(np.float32)})[0]  # a dynamic batch of 5
    np.testing.assert_allclose(scores, [r['pred_scores'] for r in expected], atol=1e-4)
    # the sidecar's thresholds are on the scale of the scores: the same sets
    for row, result in zip(scores, expected):
        assert sorted(np.flatnonzero(row >= np.array(sidecar['thresholds'])).tolist()) == \
            sorted(result['pred_labels'])
    # the standalone predictor (onnxruntime, numpy, Pillow) gives the same sets
    predictor = REPO / 'tools' / 'deploy' / 'onnx_predict.py'
    imported = {alias.name.split('.')[0] for node in ast.walk(ast.parse(predictor.read_text()))
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split('.')[0] for node in ast.walk(ast.parse(predictor.read_text()))
                 if isinstance(node, ast.ImportFrom)}
    assert imported <= {'argparse', 'json', 'sys', 'numpy', 'onnxruntime', 'PIL'}
    found = list(load_script(predictor).predict(str(model), paths, batch_size=2))
    assert [labels for _, labels, _, _ in found] == [r['pred_classes'] for r in expected]


def test_an_export_that_a_client_could_not_repeat_is_refused(tuned, tmp_path):
    from mmml_ext.apis.onnx_export import export_onnx, preprocessing_of
    _, checkpoint = tuned
    with pytest.raises(ValueError, match='top-k rule is not a threshold'):
        export_onnx(MultiLabelInferencer(CONFIG, checkpoint, topk=2), str(tmp_path / 'm.onnx'))
    with pytest.raises(ValueError, match='RandomFlip, which the sidecar cannot describe'):
        preprocessing_of([dict(type='RandomFlip', prob=0.5)], True, [0] * 3, [1] * 3)
    steps = preprocessing_of([dict(type='ResizeEdge', scale=256), dict(type='CenterCrop',
                              crop_size=224), dict(type='PackInputs')], False, [1, 2, 3],
                             [4, 5, 6])
    assert steps['resize'] == dict(edge='short', length=256)
    assert (steps['center_crop'], steps['channel_order']) == ([224, 224], 'BGR')
    inferencer = MultiLabelInferencer(CONFIG, checkpoint)
    inferencer.model.head = torch.nn.Linear(2, 2)  # a head without sigmoid scores
    with pytest.raises(ValueError, match='not a multi-label head'):
        export_onnx(inferencer, str(tmp_path / 'm.onnx'))
    assert not list(tmp_path.iterdir())  # nothing half-written
