"""Every config snippet of README.md and docs/, pasted onto mmpretrain's own base configs, runs.

A user takes mmpretrain's bases (ResNet-18, the VOC dataset, the ImageNet schedule, the default
runtime), adds the lines the README and docs give for this plugin (``custom_imports``, the
hook, the head, the metrics) and then any other snippet of the docs. Each such config must
train, test and resume as it is, on a small VOC-format tree (or the list-file tree, or the
demo) made here; the only changes the test makes are sizes (batch, workers, epochs) and
``--data-root``, the documented way to read the data elsewhere.
"""
import ast
import copy
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import mmml_ext  # noqa: F401
from cli_helpers import REPO
from mmml_ext.engine.cli import set_data_root
from mmml_ext.run_facts import tuned_thresholds as thresholds_file

BASES = [f'mmpretrain::_base_/{part}' for part in (  # as a user writes them
    'models/resnet18.py', 'datasets/voc_bs16.py', 'schedules/imagenet_bs256.py',
    'default_runtime.py')]
DOCS = ['README.md', *sorted(str(p.relative_to(REPO)) for p in (REPO / 'docs').glob('*.md'))]
VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair',
               'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant',
               'sheep', 'sofa', 'train', 'tvmonitor')


def python_blocks():
    """(``file:line``, code) of every ```python block of the README and the docs."""
    for name in DOCS:
        text = (REPO / name).read_text()
        for match in re.finditer(r'```(?:python|py)\n(.*?)```', text, re.S):
            yield f'{name}:{text[:match.start()].count(chr(10)) + 1}', match.group(1)


def is_config(code: str) -> bool:
    """A config snippet: no import (an API example imports what it calls)."""
    return not any(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.walk(
        ast.parse(code)))


# a whole config (its own _base_, as docs/migrating.md's worked examples) is run by its own test
SNIPPETS = [(where, code) for where, code in python_blocks()
            if is_config(code) and '_base_' not in code]
FOUNDATION_MARKS = ('custom_imports = ', "type='ImbalancedMultiLabelHead'", 'val_evaluator = [')


def foundation():
    """The snippets every plugin config has: the import line, the head, the metrics."""
    chosen = []
    for mark in FOUNDATION_MARKS:
        found = [(where, code) for where, code in SNIPPETS if mark in code]
        assert found, f'no config snippet of the docs has {mark!r}'
        chosen.append(found[0])
    return chosen


def test_the_docs_have_config_snippets_and_the_rest_are_api_examples():
    assert len(SNIPPETS) >= 8
    config_keys = ('custom_imports', 'custom_hooks', 'model', 'train_dataloader',
                   'val_dataloader', 'test_dataloader', 'val_evaluator', 'test_evaluator', 'data',
                   'visualizer')
    for where, code in SNIPPETS:  # a config snippet sets config keys, and only those
        names = {target.id for node in ast.parse(code).body if isinstance(node, ast.Assign)
                 for target in node.targets}
        assert names and names <= set(config_keys), (where, names)


def write_image(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.random.default_rng(seed).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), image)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """A VOC-format tree (12 images, difficult objects) and a list-file tree, both of VOC's 20
    classes, every class in the training split."""
    root = tmp_path_factory.mktemp('data')
    voc, listed = root / 'VOC2007', root / 'my_dataset'
    rng = np.random.default_rng(0)
    ids = [f'{i:06d}' for i in range(12)]
    labels = [sorted({i % 20, (i + 7) % 20, int(rng.integers(20))}) for i in range(12)]
    labels[0] = sorted(set(labels[0]) | set(range(20)) - {c for row in labels[1:] for c in row})
    for i, (image_id, classes) in enumerate(zip(ids, labels)):
        write_image(voc / 'JPEGImages' / f'{image_id}.jpg', i)
        objects = ''.join(
            f'<object><name>{VOC_CLASSES[c]}</name><difficult>{int(j == 2)}</difficult></object>'
            for j, c in enumerate(classes))
        (voc / 'Annotations').mkdir(exist_ok=True)
        (voc / 'Annotations' / f'{image_id}.xml').write_text(
            f'<annotation><filename>{image_id}.jpg</filename>{objects}</annotation>')
        write_image(listed / 'images' / f'{image_id}.jpg', i)
    (voc / 'ImageSets' / 'Main').mkdir(parents=True)
    for split, part in (('trainval', ids), ('test', ids[::2])):
        (voc / 'ImageSets' / 'Main' / f'{split}.txt').write_text('\n'.join(part) + '\n')
    (listed / 'classes.txt').write_text('\n'.join(VOC_CLASSES) + '\n')
    for split, rows in (('train', range(12)), ('val', range(0, 12, 2))):
        (listed / f'{split}.txt').write_text(''.join(
            f'{ids[i]}.jpg {",".join(VOC_CLASSES[c] for c in labels[i])}\n' for i in rows))
    return dict(VOC=voc, MultiLabelListDataset=listed)


def leaf_datasets(dataset):
    """The dataset configs under ``dataset`` that wrap nothing."""
    if not isinstance(dataset, dict):
        return []
    if isinstance(dataset.get('dataset'), dict):
        return leaf_datasets(dataset['dataset'])
    return [dataset]


def sized_for_a_test(cfg: Config, data: dict) -> None:
    """Small sizes, and the data root of the tree made here (``--data-root``)."""
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[field]
        loader.update(batch_size=4, num_workers=0, persistent_workers=False)
        for dataset in leaf_datasets(loader.dataset):
            if dataset.get('type') == 'LongTailedShapes':
                dataset['indices'] = 24
    roots = {data[d['type']] for field in ('train_dataloader', 'val_dataloader')
             for d in leaf_datasets(cfg[field].dataset) if d.get('type') in data}
    if roots:
        set_data_root(cfg, str(roots.pop()))
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.logger.interval = 1


def pasted_config(tmp_path: Path, snippet) -> Config:
    parts = [f'_base_ = {[str(p) for p in BASES]!r}']
    for where, code in foundation() + ([] if snippet in foundation() else [snippet]):
        parts.append(f'# {where}\n{code}')
    path = tmp_path / 'pasted.py'
    path.write_text('\n'.join(parts))
    return Config.fromfile(str(path))


def run(cfg: Config, work_dir: Path, **changes):
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = str(work_dir)
    cfg.merge_from_dict(changes)
    return Runner.from_cfg(cfg)


@pytest.mark.parametrize('snippet', SNIPPETS, ids=[where for where, _ in SNIPPETS])
def test_snippet_pasted_onto_mmpretrain_bases_trains_tests_and_resumes(snippet, data, tmp_path):
    cfg = pasted_config(tmp_path, snippet)
    sized_for_a_test(cfg, data)
    run(cfg, tmp_path).train()
    checkpoint = tmp_path / 'epoch_1.pth'
    assert checkpoint.is_file()
    tuned = thresholds_file.from_checkpoint(torch.load(checkpoint))
    assert tuned is not None and tuned.tuned_on == 'val_epoch_1'  # the docs' validation tunes
    metrics = run(cfg, tmp_path / 'test', load_from=str(checkpoint)).test()
    assert 'multi-label/mAP' in metrics
    assert 'multi-label/CF1_valtuned' in metrics  # the docs' test evaluator, from the checkpoint
    resumed = run(cfg, tmp_path, resume=True, train_cfg=dict(max_epochs=2))
    resumed.train()
    assert resumed.epoch == 2 and (tmp_path / 'epoch_2.pth').is_file()


def test_the_readme_config_pasted_whole_trains_validates_and_tests_on_another_split(data,
                                                                                   tmp_path):
    [code] = [code for where, code in python_blocks()
              if where.startswith('README.md') and code.startswith('_base_ = [')]
    path = tmp_path / 'my_config.py'
    path.write_text(code)  # pasted whole, onto mmpretrain's bases as it names them
    cfg = Config.fromfile(str(path))
    assert all(base.startswith('mmpretrain::') for base in ast.literal_eval(
        code.split('=', 1)[1].split(']', 1)[0] + ']'))
    # validation tunes on one split, the test reads another
    assert (cfg.val_dataloader.dataset.split, cfg.test_dataloader.dataset.split) == ('val', 'test')
    sized_for_a_test(cfg, data)
    run(cfg, tmp_path).train()
    checkpoint = tmp_path / 'epoch_1.pth'
    tuned = thresholds_file.from_checkpoint(torch.load(checkpoint))
    assert tuned is not None and tuned.tuned_on == 'val_epoch_1'
    metrics = run(cfg, tmp_path / 'test', load_from=str(checkpoint)).test()
    for key in ('mAP', 'CF1', 'OF1', 'CF1_valtuned', 'OF1_valtuned'):
        assert 0 <= metrics[f'multi-label/{key}'] <= 100, key
