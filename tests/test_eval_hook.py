"""MultiLabelEvalHook and the class-count tool give metrics what only the Runner knows."""
import json
from types import SimpleNamespace

import numpy as np
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS

import mmml_ext  # noqa: F401
from cli_helpers import DEMO_BCE, run_tool
from mmml_ext.datasets import LongTailedShapes
from mmml_ext.engine import MultiLabelEvalHook

DEMO_COUNTS = list(np.round(400 * 100.0**(-np.arange(20) / 19)).astype(int))


def fake_runner(tmp_path, evaluator, train_dataset_cfg):
    return SimpleNamespace(
        work_dir=str(tmp_path), epoch=3, iter=30, cfg=Config(dict(train_cfg=dict(by_epoch=True))),
        val_evaluator=evaluator, test_evaluator=evaluator,
        _train_dataloader=dict(dataset=train_dataset_cfg))


def test_hook_sets_work_dir_tag_and_counts_the_training_set(tmp_path):
    mean_ap = METRICS.build(dict(type='MeanAP'))
    prf = METRICS.build(dict(type='MultiLabelPRF', out_dir='/elsewhere'))
    runner = fake_runner(tmp_path, Evaluator([mean_ap, prf]),
                         dict(type='LongTailedShapes', split='train'))
    hook = MultiLabelEvalHook()
    hook.before_val_epoch(runner)
    assert mean_ap.eval_tag == prf.eval_tag == 'val_epoch_3'
    assert mean_ap.output_dir() == str(tmp_path)
    assert prf.output_dir() == '/elsewhere'  # an explicit out_dir wins
    assert mean_ap.train_class_counts() == DEMO_COUNTS
    hook.before_test_epoch(runner)
    assert mean_ap.eval_tag == 'test'


def test_hook_without_a_training_set_leaves_groups_out(tmp_path):
    mean_ap = METRICS.build(dict(type='MeanAP'))
    runner = fake_runner(tmp_path, Evaluator([mean_ap]), None)
    runner.cfg = Config(dict())
    MultiLabelEvalHook().before_test_epoch(runner)
    assert mean_ap.train_class_counts() is None


def test_metainfo_counts_are_used_without_counting(tmp_path):
    mean_ap = METRICS.build(dict(type='MeanAP'))
    mean_ap.dataset_meta = LongTailedShapes(split='val').metainfo
    runner = fake_runner(tmp_path, Evaluator([mean_ap]), dict(type='NoSuchDataset'))
    MultiLabelEvalHook().before_val_epoch(runner)  # would fail to build, and need not
    assert mean_ap.train_class_counts() == DEMO_COUNTS


def test_class_counts_tool(tmp_path):
    out = tmp_path / 'counts.json'
    run_tool('class_counts.py', DEMO_BCE, '--out', out)
    data = json.loads(out.read_text())
    assert data['class_counts'] == DEMO_COUNTS and data['num_images'] == 800
    assert data['classes'][0] == 'solid_disc'
