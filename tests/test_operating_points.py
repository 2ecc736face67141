"""Precision at a fixed recall and recall at a fixed precision: a direct transcription of the
definition on scikit-learn's precision-recall curve, the replicates, the metrics, the comparison.

The 2- and 3-process equality (``==``) is in test_metrics_distributed.py (the
rich metric set has both metrics, one of them class-wise).
"""
import json

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS
from sklearn.metrics import precision_recall_curve

import mmml_ext  # noqa: F401
from mmml_ext.experiments import compare_runs
from mmml_ext.functional.bootstrap import (bootstrap_indices, bootstrap_operating_point,
                                           replicate_counts)
from mmml_ext.functional.operating_points import STATISTICS, operating_point
from mmml_ext.run_facts import test_predictions


def transcription(y: np.ndarray, s: np.ndarray, statistic: str, level: float):
    """torchmetrics' rule on scikit-learn's curve: the best (value, other, threshold) among the
    points that meet the level; (0, NaN) when none does, (NaN, NaN) without a positive."""
    keep = y >= 0
    y, s = y[keep], s[keep].astype(np.float64)
    if y.sum() == 0:
        return np.nan, np.nan
    precision, recall, thresholds = precision_recall_curve(y, s)
    points = zip(precision[:-1], recall[:-1], thresholds)  # the last point has no threshold
    if statistic == 'precision_at_recall':
        candidates = [(p, r, t) for p, r, t in points if r >= level]
    else:
        candidates = [(r, p, t) for p, r, t in points if p >= level]
    if not candidates:
        return 0.0, np.nan
    best = max(candidates)
    return best[0], best[2]


def random_case(rng):
    num, classes = int(rng.integers(2, 60)), int(rng.integers(1, 6))
    target = (rng.random((num, classes)) < rng.random()).astype(np.int8)
    target[rng.random((num, classes)) < 0.1] = -1
    scores = rng.random((num, classes)).round(int(rng.integers(1, 3))).astype(np.float32)
    return scores, target


@pytest.mark.parametrize('statistic', STATISTICS)
def test_points_and_replicates_equal_the_transcription(statistic):
    rng = np.random.default_rng(0)
    for case in range(25):
        scores, target = random_case(rng)
        level = float(rng.choice([0.0, 0.3, 0.5, 0.9, 1.0, rng.random()]))
        value, threshold = operating_point(torch.from_numpy(scores), torch.from_numpy(target),
                                           statistic, level)
        for c in range(scores.shape[1]):
            expected = transcription(target[:, c], scores[:, c], statistic, level)
            np.testing.assert_allclose([value[c], threshold[c]], expected, atol=1e-12)
        num = len(scores)
        indices = bootstrap_indices(num, 12, case)
        got = bootstrap_operating_point(torch.from_numpy(scores), torch.from_numpy(target),
                                        replicate_counts(indices, num), statistic, level,
                                        chunk_classes=2, chunk_replicates=5)
        for b, idx in enumerate(indices):
            expected = [transcription(target[idx, c], scores[idx, c], statistic, level)[0]
                        for c in range(scores.shape[1])]
            np.testing.assert_allclose(got[b].numpy(), expected, atol=1e-12)


def test_levels_and_statistics_are_checked():
    scores, target = torch.rand(4, 2), torch.ones(4, 2)
    with pytest.raises(ValueError, match=r'the fixed recall must be a number in \[0, 1\]'):
        operating_point(scores, target, 'precision_at_recall', 1.5)
    with pytest.raises(ValueError, match='statistic must be one of'):
        operating_point(scores, target, 'f1_at_recall', 0.5)
    with pytest.raises(ValueError, match=r'min_precision must be a number in \[0, 1\]'):
        METRICS.build(dict(type='MultiLabelRecallAtPrecision', min_precision=-0.1))


def test_metrics_report_class_means_and_thresholds():
    rng = np.random.default_rng(4)
    target = (rng.random((90, 4)) < 0.3).astype(np.int8)
    target[:, 3] = 0  # no positive: left out of the mean
    scores = np.clip(0.4 * target + 0.7 * rng.random(target.shape), 0, 1).astype(np.float32)
    samples = [dict(pred_score=torch.from_numpy(scores[i]), gt_label=torch.from_numpy(
        np.flatnonzero(target[i]))) for i in range(90)]
    evaluator = Evaluator([METRICS.build(dict(type='MultiLabelPrecisionAtRecall', min_recall=0.8,
                                              classwise=True)),
                           METRICS.build(dict(type='MultiLabelRecallAtPrecision',
                                              min_precision=0.6))])
    evaluator.dataset_meta = dict(classes=('a', 'b', 'c', 'd'))
    evaluator.process(samples)
    got = evaluator.evaluate(90)
    expected = [transcription(target[:, c], scores[:, c], 'precision_at_recall', 0.8)
                for c in range(3)]
    assert got['multi-label/precision_at_recall'] == pytest.approx(
        100 * np.mean([e[0] for e in expected]), abs=1e-9)
    for name, (value, threshold) in zip('abc', expected):
        assert got[f'multi-label/precision_at_recall/{name}'] == pytest.approx(100 * value)
        assert got[f'multi-label/threshold_at_recall/{name}'] == pytest.approx(threshold)
    recall = [transcription(target[:, c], scores[:, c], 'recall_at_precision', 0.6)[0]
              for c in range(3)]
    assert got['multi-label/recall_at_precision'] == pytest.approx(100 * np.mean(recall),
                                                                   abs=1e-9)


def test_the_comparison_gives_their_intervals(tmp_path):
    rng = np.random.default_rng(1)
    target = (rng.random((70, 3)) < 0.35).astype(np.int8)
    target[:2] = 1
    scores = np.clip(0.4 * target + 0.7 * rng.random(target.shape), 0, 1).astype(np.float32)
    run = tmp_path / 'run'
    (run / '20260101_000000' / 'vis_data').mkdir(parents=True)
    (run / '20260101_000000' / 'vis_data' / 'scalars.json').write_text(
        json.dumps({'multi-label/mAP': 50.0, 'step': 1}) + '\n')
    test_predictions.write(test_predictions.TestPredictions(
        scores, target, tuple('abc'), np.arange(70), None, None,
        dict(precision_at_recall=dict(level=0.75, absent_classes='exclude'))), str(run))
    result = compare_runs([str(run)], str(tmp_path / 'report'), bootstrap=30, seed=2)
    point, low, high = result.statistics.runs['run']['precision_at_recall']
    replicates = [100 * np.nanmean([transcription(target[idx, c], scores[idx, c],
                                                  'precision_at_recall', 0.75)[0]
                                    for c in range(3)]) for idx in bootstrap_indices(70, 30, 2)]
    assert (low, high) == pytest.approx(tuple(np.percentile(replicates, [2.5, 97.5])), abs=1e-9)
    assert 'recall_at_precision' not in result.statistics.runs['run']  # not in the test
