"""MultiLabelAUROC: equal to scikit-learn's roc_auc_score, with intervals from the comparison.

The 2- and 3-process equality (``==``) is in test_metrics_distributed.py (the
rich metric set has a MultiLabelAUROC); here one process against
scikit-learn, the kernels against materialised replicates, and the comparison
giving AUROC intervals and differences without knowing the metric.
"""
import json

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS
from sklearn import metrics as skm

import mmml_ext  # noqa: F401
from mmml_ext.experiments import compare_runs
from mmml_ext.functional.bootstrap import (bootstrap_indices, bootstrap_roc_auc,
                                           replicate_counts)
from mmml_ext.functional.roc_auc import roc_auc
from mmml_ext.run_facts import test_predictions


def reference_auroc(scores: np.ndarray, target: np.ndarray) -> np.ndarray:
    """scikit-learn per class over the non-ignored cells; NaN for a one-class column."""
    out = np.full(scores.shape[1], np.nan)
    for c in range(scores.shape[1]):
        keep = target[:, c] >= 0
        y = target[keep, c]
        if len(y) and 0 < y.sum() < len(y):
            out[c] = skm.roc_auc_score(y, scores[keep, c].astype(np.float64))
    return out


def random_data(seed: int, num: int = 120, classes: int = 7, ignored: float = 0.1):
    rng = np.random.default_rng(seed)
    target = (rng.random((num, classes)) < 0.3).astype(np.int8)
    target[rng.random((num, classes)) < ignored] = -1
    scores = np.clip(0.3 * (target == 1) + 0.8 * rng.random((num, classes)), 0, 1)
    scores[:, ::2] = scores[:, ::2].round(1)  # ties in every other class
    return scores.astype(np.float32), target


@pytest.mark.parametrize('seed', range(4))
def test_kernel_equals_sklearn_per_class(seed):
    scores, target = random_data(seed)
    target[:, 0] = 1  # no negative: no AUROC
    target[:, 1] = np.where(target[:, 1] == 1, 0, target[:, 1])  # no positive: none either
    got = roc_auc(torch.from_numpy(scores), torch.from_numpy(target)).numpy()
    np.testing.assert_allclose(got, reference_auroc(scores, target), rtol=0, atol=1e-12)
    assert np.isnan(got[:2]).all()


def test_replicates_equal_sklearn_on_materialised_replicates():
    scores, target = random_data(7, num=60, classes=5)
    indices = bootstrap_indices(60, 25, seed=2)
    got = bootstrap_roc_auc(torch.from_numpy(scores), torch.from_numpy(target),
                            replicate_counts(indices, 60), chunk_classes=2, chunk_replicates=7)
    for b, idx in enumerate(indices):
        np.testing.assert_allclose(got[b].numpy(), reference_auroc(scores[idx], target[idx]),
                                   rtol=0, atol=1e-12)
    ones = torch.ones((1, 60), dtype=torch.int32)
    point = bootstrap_roc_auc(torch.from_numpy(scores), torch.from_numpy(target), ones)[0]
    np.testing.assert_allclose(point.numpy(), reference_auroc(scores, target), atol=1e-12)


def evaluate(cfg: dict, scores: np.ndarray, target: np.ndarray) -> dict:
    samples = [dict(pred_score=torch.from_numpy(scores[i]), gt_score=torch.from_numpy(
        target[i].astype(np.float32)), sample_idx=i) for i in range(len(scores))]
    evaluator = Evaluator([METRICS.build(cfg)])
    evaluator.process(samples)
    return evaluator.evaluate(len(samples))


def test_metric_macro_and_micro_equal_sklearn():
    scores, target = random_data(3)
    target[:, 4] = np.where(target[:, 4] == 1, 0, target[:, 4])  # a class without a positive
    got = evaluate(dict(type='MultiLabelAUROC', items=('AUROC', 'AUROC_micro')), scores, target)
    per_class = reference_auroc(scores, target)
    assert got['multi-label/AUROC'] == pytest.approx(100 * np.nanmean(per_class), abs=1e-9)
    keep = target.ravel() >= 0
    micro = skm.roc_auc_score(target.ravel()[keep], scores.ravel()[keep].astype(np.float64))
    assert got['multi-label/AUROC_micro'] == pytest.approx(100 * micro, abs=1e-9)
    included = evaluate(dict(type='MultiLabelAUROC', absent_classes='include'), scores, target)
    assert included['multi-label/AUROC'] == pytest.approx(
        100 * np.nan_to_num(per_class).mean(), abs=1e-9)


def test_the_comparison_gives_auroc_intervals_it_does_not_name(tmp_path):
    num, seeds = 80, {'a': 0.9, 'b': 0.4}
    rng = np.random.default_rng(0)
    target = (rng.random((num, 5)) < 0.3).astype(np.int8)
    target[:2], target[2:4] = 1, 0
    runs = {}
    for name, noise in seeds.items():
        scores = np.clip(0.5 * target + noise * rng.random(target.shape), 0, 1).astype(np.float32)
        runs[name] = scores
        run = tmp_path / name
        (run / '20260101_000000' / 'vis_data').mkdir(parents=True)
        (run / '20260101_000000' / 'vis_data' / 'scalars.json').write_text(
            json.dumps({'multi-label/mAP': 50.0, 'step': 1}) + '\n')
        test_predictions.write(test_predictions.TestPredictions(
            scores, target, tuple('abcde'), np.arange(num), None, None,
            dict(auroc=dict(difficult_as='ignore', absent_classes='exclude'))), str(run))
    result = compare_runs([str(tmp_path)], str(tmp_path / 'report'), baseline='a', bootstrap=40,
                          seed=1)
    indices = bootstrap_indices(num, 40, 1)
    replicates = {name: np.array([100 * np.nanmean(reference_auroc(s[idx], target[idx]))
                                  for idx in indices]) for name, s in runs.items()}
    point, low, high = result.statistics.runs['b']['AUROC']
    assert point == pytest.approx(100 * np.nanmean(reference_auroc(runs['b'], target)), abs=1e-9)
    assert (low, high) == pytest.approx(tuple(np.percentile(replicates['b'], [2.5, 97.5])),
                                        abs=1e-9)
    delta, low, high = result.statistics.deltas['b']['AUROC']
    assert (low, high) == pytest.approx(
        tuple(np.percentile(replicates['b'] - replicates['a'], [2.5, 97.5])), abs=1e-9)
    header = (tmp_path / 'report' / 'summary.csv').read_text().splitlines()[0].split(',')
    assert 'delta_test_AUROC_ci_low' in header
    # its logged values have columns too, and a run that does not evaluate it is not 'missing' it
    assert {'best_AUROC', 'last_AUROC', 'test_AUROC'} <= set(header)
    assert not any('AUROC' in row['missing'] for row in result.rows)
    assert 'AUROC' in (tmp_path / 'report' / 'summary.md').read_text()


@pytest.mark.parametrize('auroc_first', [True, False])
def test_per_class_auroc_joins_the_report_whichever_metric_runs_first(tmp_path, auroc_first):
    from mmml_ext.evaluation.context import EvalContext
    from mmml_ext.run_facts import eval_outputs
    scores, target = random_data(5)
    cfgs = [dict(type='MultiLabelAUROC', prefix='auroc'), dict(type='MeanAP')]
    evaluator = Evaluator([METRICS.build(cfg) for cfg in (cfgs if auroc_first else cfgs[::-1])])
    context = EvalContext(tag='val_epoch_1', work_dir=str(tmp_path))  # as RunFactsHook gives it
    for metric in evaluator.metrics:
        metric.set_eval_context(context)
    evaluator.process([dict(pred_score=torch.from_numpy(scores[i]), gt_score=torch.from_numpy(
        target[i].astype(np.float32)), sample_idx=i) for i in range(len(scores))])
    evaluator.evaluate(len(scores))
    report = eval_outputs.read_report(eval_outputs.report_paths(str(tmp_path),
                                                                'val_epoch_1')['json'])
    got = np.array([np.nan if row['auroc'] is None else row['auroc']
                    for row in report['classes']])
    np.testing.assert_allclose(got, 100 * reference_auroc(scores, target), atol=1e-9)
    assert all(row['ap'] is not None for row in report['classes'])  # MeanAP's columns stay
    with open(eval_outputs.report_paths(str(tmp_path), 'val_epoch_1')['csv']) as f:
        assert 'auroc' in f.readline().strip().split(',')  # the CSV has the column too
