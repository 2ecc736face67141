"""Sample mAP (``MeanAP``'s ``sample_mAP``): scikit-learn's AP per image, one definition everywhere.

The reference is scikit-learn's ``average_precision_score`` called on each row's
non-ignored cells (and, as a second one, ``label_ranking_average_precision_score``,
which equals it per row); the bootstrap is checked against the metric recomputed on
materialised replicates. The 2- and 3-process equality (``==``) is in
test_metrics_distributed.py (both metric sets there ask for ``sample_mAP``).
"""
import importlib
import json
import warnings

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS
from sklearn import metrics as skm

import mmml_ext  # noqa: F401
from mmml_ext.evaluation import EvalContext, MeanAP
from mmml_ext.evaluation.ap_metrics import sample_mean_average_precision
from mmml_ext.evaluation.interval_statistics import (ReplicateData, interval_holds_from,
                                                     interval_keys, interval_methods,
                                                     replicate_values)
from mmml_ext.experiments import compare_runs
from mmml_ext.functional.average_precision import sample_average_precision, sample_mean
from mmml_ext.functional.bootstrap import bootstrap_indices, replicate_counts
from mmml_ext.run_facts import test_predictions
from mmml_ext.run_facts.test_predictions import TestPredictions


def reference_rows(scores: np.ndarray, target: np.ndarray) -> np.ndarray:
    """scikit-learn's AP of each row over its non-ignored cells; NaN for a row with no positive."""
    out = np.full(len(scores), np.nan)
    for i in range(len(scores)):
        keep = target[i] >= 0
        y = target[i, keep]
        if y.sum() > 0:
            out[i] = skm.average_precision_score(y, scores[i, keep].astype(np.float64))
    return out


def reference_map(scores: np.ndarray, target: np.ndarray) -> float:
    """Sample mAP in percent: the mean of the rows' AP over the rows that have one."""
    rows = reference_rows(scores, target)
    return 100 * float(np.nanmean(rows)) if not np.isnan(rows).all() else float('nan')


def random_data(seed: int, num: int = 90, classes: int = 8, ignored: float = 0.12):
    """Scores with ties (every other class on a 0.1 grid), -1 cells, and the four edge rows:
    no positive, every evaluated cell positive, every cell ignored, one positive and the rest
    ignored."""
    rng = np.random.default_rng(seed)
    target = (rng.random((num, classes)) < 0.3).astype(np.int8)
    target[rng.random((num, classes)) < ignored] = -1
    scores = np.clip(0.3 * (target == 1) + 0.8 * rng.random((num, classes)), 0, 1)
    scores[:, ::2] = scores[:, ::2].round(1)
    scores[5] = 0.5  # one row with every score tied
    target[0] = 0
    target[1] = 1
    target[2] = -1
    target[3] = -1
    target[3, 4] = 1
    target[4, :3] = [1, 0, -1]
    return scores.astype(np.float32), target


# ---------------------------------------------------------------- the kernel

@pytest.mark.parametrize('seed', range(5))
def test_each_row_equals_sklearn(seed):
    scores, target = random_data(seed)
    got = sample_average_precision(torch.from_numpy(scores), torch.from_numpy(target)).numpy()
    expected = reference_rows(scores, target)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    # the edge rows: no positive and nothing evaluated have no AP; no negative has AP 1
    assert np.isnan(got[[0, 2]]).all() and got[1] == 1.0 and got[3] == 1.0
    # per row, AP is scikit-learn's LRAP of that row (which counts a row without positive as 1)
    for i in np.flatnonzero(~np.isnan(expected)):
        keep = target[i] >= 0
        lrap = skm.label_ranking_average_precision_score(target[i:i + 1, keep],
                                                         scores[i:i + 1, keep].astype(np.float64))
        assert got[i] == pytest.approx(lrap, abs=1e-12)


def test_the_mean_is_sklearns_samples_average_when_every_row_has_a_positive():
    scores, target = random_data(7)
    target[target < 0] = 0
    target[:, 0] = 1  # every row has a positive; sklearn's average='samples' counts none as 0
    got = sample_mean(sample_average_precision(torch.from_numpy(scores), torch.from_numpy(target)))
    assert float(got) == pytest.approx(skm.average_precision_score(
        target, scores.astype(np.float64), average='samples'), abs=1e-12)


@pytest.mark.parametrize('dtype', [torch.float64, torch.float16])
def test_other_score_dtypes_and_a_bool_target(dtype):
    scores, target = random_data(11)
    target[target < 0] = 0  # a bool target has no ignored cell
    typed = torch.from_numpy(scores).to(dtype)
    got = sample_average_precision(typed, torch.from_numpy(target).bool())
    expected = reference_rows(typed.double().numpy(), target)
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-12)


def test_order_of_classes_and_of_samples_does_not_matter():
    scores, target = random_data(3, num=70, classes=9)
    s, t = torch.from_numpy(scores), torch.from_numpy(target)
    ap = sample_average_precision(s, t)
    columns = torch.randperm(9, generator=torch.Generator().manual_seed(0))
    again = sample_average_precision(s[:, columns], t[:, columns])
    assert torch.equal(torch.nan_to_num(again, -1), torch.nan_to_num(ap, -1))  # bit for bit
    rows = torch.randperm(70, generator=torch.Generator().manual_seed(1))
    shuffled = sample_average_precision(s[rows], t[rows])
    assert torch.equal(torch.nan_to_num(shuffled, -1), torch.nan_to_num(ap[rows], -1))
    assert float(sample_mean(shuffled)) == pytest.approx(float(sample_mean(ap)), rel=1e-15)


@pytest.mark.parametrize('chunk_size', [1, 4, 1000])
def test_chunks_of_rows_give_the_same_bits(chunk_size):
    scores, target = random_data(4)
    s, t = torch.from_numpy(scores), torch.from_numpy(target)
    whole = sample_average_precision(s, t)
    assert torch.equal(torch.nan_to_num(sample_average_precision(s, t, chunk_size), -1),
                       torch.nan_to_num(whole, -1))


def test_the_mean_leaves_out_rows_without_ap_and_weights_them():
    ap = torch.tensor([0.5, float('nan'), 1.0, 0.25], dtype=torch.float64)
    assert float(sample_mean(ap)) == pytest.approx(1.75 / 3)
    counts = torch.tensor([[2, 3, 0, 1], [0, 4, 0, 0], [1, 1, 1, 1]])
    got = sample_mean(ap, counts)
    assert float(got[0]) == pytest.approx(1.25 / 3) and np.isnan(float(got[1]))
    assert float(got[2]) == pytest.approx(float(sample_mean(ap)), abs=1e-15)
    assert float(sample_mean(ap, torch.tensor([2.0, 0.0, 0.0, 2.0]))) == pytest.approx(0.375)
    assert np.isnan(float(sample_mean(torch.full((3, ), float('nan'), dtype=torch.float64))))


def test_replicates_are_weighted_in_blocks_with_the_same_result(monkeypatch):
    scores, target = random_data(13, num=50)
    ap = sample_average_precision(torch.from_numpy(scores), torch.from_numpy(target))
    counts = replicate_counts(bootstrap_indices(50, 11, seed=0), 50)
    whole = sample_mean(ap, counts)
    kernels = importlib.import_module('mmml_ext.functional.bootstrap')  # replicate_sums' blocks
    monkeypatch.setattr(kernels, 'CHUNK_BYTES', 8 * 50 * 3)  # blocks of 3 replicates
    np.testing.assert_allclose(sample_mean(ap, counts).numpy(), whole.numpy(), rtol=1e-15)


@pytest.mark.parametrize('call, match', [
    (lambda: sample_average_precision(torch.tensor([[0.1, float('nan')]]), torch.tensor([[1, 0]])),
     'scores has 1 NaN or infinite value'),
    (lambda: sample_average_precision(torch.rand(3, 2), torch.ones(3, 3)),
     r'target shape \(3, 3\) does not match the scores shape \(3, 2\)'),
    (lambda: sample_average_precision(torch.rand(2, 2), torch.tensor([[1, 2], [0, 0]])),
     'sample 0, class 1 is 2'),
    (lambda: sample_average_precision(torch.rand(3), torch.ones(3)), r'shape \(N, C\)'),
    (lambda: sample_average_precision(torch.rand(0, 4), torch.ones(0, 4)), 'holds no sample'),
    (lambda: sample_average_precision(torch.rand(2, 2), torch.ones(2, 2), chunk_size=0),
     'chunk_size must be an int >= 1'),
    (lambda: sample_mean(torch.tensor([1, 0])), r'values must be an \(N,\) floating point'),
    (lambda: sample_mean(torch.rand(3, 2)), r'values must be an \(N,\) floating point'),
    (lambda: sample_mean(torch.rand(3), torch.ones(2, 4)), r'weights must have shape \(B, N\)'),
    (lambda: sample_mean(torch.rand(3), torch.tensor([1.0, -1.0, 0.0])),
     'weights must be finite and non-negative'),
    (lambda: sample_mean(torch.rand(3), torch.tensor([[1.0, float('nan'), 0.0]])),
     'weights must be finite and non-negative'),
])
def test_bad_input_is_a_value_error_that_names_it(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------- the metric

def samples_of(scores: np.ndarray, target: np.ndarray, difficult=None):
    samples = []
    for i in range(len(scores)):
        sample = dict(pred_score=torch.from_numpy(scores[i]),
                      gt_score=torch.from_numpy(target[i].astype(np.float32)), sample_idx=i)
        if difficult is not None and difficult[i]:
            sample['gt_label_difficult'] = torch.tensor(difficult[i])
        samples.append(sample)
    return samples


def evaluate(cfgs, samples, context=None):
    evaluator = Evaluator([METRICS.build(cfg) for cfg in cfgs])
    for metric in evaluator.metrics if context is not None else ():
        metric.set_eval_context(context)
    for start in range(0, len(samples), 7):
        evaluator.process(samples[start:start + 7])
    return evaluator.evaluate(len(samples))


def test_the_metric_equals_sklearn_per_row_beside_the_class_map():
    scores, target = random_data(1)
    got = evaluate([dict(type='MeanAP', items=('mAP', 'sample_mAP'), report=False)],
                   samples_of(scores, target))
    assert list(got) == ['multi-label/mAP', 'multi-label/sample_mAP']
    assert got['multi-label/sample_mAP'] == pytest.approx(reference_map(scores, target), abs=1e-9)
    per_class = [skm.average_precision_score(target[target[:, c] >= 0, c],
                                             scores[target[:, c] >= 0, c].astype(np.float64))
                 for c in range(target.shape[1])]
    assert got['multi-label/mAP'] == pytest.approx(100 * np.mean(per_class), abs=1e-9)


def test_defaults_keys_and_prefix():
    scores, target = random_data(2)
    samples = samples_of(scores, target)
    assert 'multi-label/sample_mAP' not in evaluate([dict(type='MeanAP', report=False)], samples)
    alone = evaluate([dict(type='MeanAP', items=('sample_mAP', ), report=False, prefix='val')],
                     samples)
    assert list(alone) == ['val/sample_mAP']
    assert alone['val/sample_mAP'] == pytest.approx(reference_map(scores, target), abs=1e-9)
    # with another metric in one context (as RunFactsHook gives them), the same number
    shared = evaluate([dict(type='MultiLabelRanking', items=('lrap', )),
                       dict(type='MeanAP', items=('sample_mAP', ), report=False)],
                      samples, EvalContext())
    assert shared['multi-label/sample_mAP'] == alone['val/sample_mAP']


def test_sample_map_alone_ranks_no_class(monkeypatch):
    """Without a class key or the report, the per-class AP (a column exchange under DDP) is
    not computed."""
    from mmml_ext.evaluation.shared_rows import EvaluationRows
    monkeypatch.setattr(EvaluationRows, 'average_precision', lambda *a, **k: pytest.fail(
        'the class AP was computed for sample_mAP alone'))
    scores, target = random_data(6)
    got = evaluate([dict(type='MeanAP', items=('sample_mAP', ), report=False)],
                   samples_of(scores, target))
    assert got['multi-label/sample_mAP'] == pytest.approx(reference_map(scores, target), abs=1e-9)


@pytest.mark.parametrize('difficult_as', ['ignore', 'positive', 'negative'])
def test_difficult_labels_are_read_by_the_metrics_rule(difficult_as):
    scores, target = random_data(8)
    target[target < 0] = 0
    difficult = [[c for c in range(8) if target[i, c] == 0][:1] if i % 3 == 0 else []
                 for i in range(len(target))]
    read = target.copy()
    for i, labels in enumerate(difficult):
        read[i, labels] = dict(ignore=-1, positive=1, negative=0)[difficult_as]
    got = evaluate([dict(type='MeanAP', items=('sample_mAP', ), report=False,
                         difficult_as=difficult_as)], samples_of(scores, target, difficult))
    assert got['multi-label/sample_mAP'] == pytest.approx(reference_map(scores, read), abs=1e-9)


def test_rows_without_positive_or_negative_are_named_in_warnings(monkeypatch):
    messages = []
    monkeypatch.setattr('mmml_ext.evaluation.base.print_log',
                        lambda message, **kwargs: messages.append(message))
    scores = np.array([[0.9, 0.1, 0.4], [0.2, 0.3, 0.8], [0.5, 0.6, 0.7], [0.1, 0.2, 0.3]],
                      np.float32)
    target = np.array([[1, 0, 0], [0, 0, 0], [1, 1, -1], [0, 1, 0]], np.int8)
    got = evaluate([dict(type='MeanAP', items=('sample_mAP', ), report=False)],
                   samples_of(scores, target))
    rows = [1.0, 1.0, skm.average_precision_score([0, 1, 0], [0.1, 0.2, 0.3])]
    assert got['multi-label/sample_mAP'] == pytest.approx(100 * np.mean(rows))
    assert any('1 of 4 sample(s) have no positive' in m and 'left out of sample_mAP' in m
               for m in messages)
    carried = f'carry {100 / 3:.1f} of sample_mAP\'s {100 * np.mean(rows):.1f} points'
    assert any('1 sample(s) have no evaluated negative' in m and carried in m for m in messages)


def test_no_positive_anywhere_gives_nan():
    scores, target = random_data(9)
    target[target == 1] = 0
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        got = evaluate([dict(type='MeanAP', items=('sample_mAP', ), report=False)],
                       samples_of(scores, target))
    assert np.isnan(got['multi-label/sample_mAP'])


def test_bad_scores_are_named_and_the_predictions_saved(tmp_path):
    scores, target = random_data(10, num=6)
    scores[2, 1] = 1.5
    metric = METRICS.build(dict(type='MeanAP', items=('sample_mAP', ), report=False,
                                out_dir=str(tmp_path)))
    metric.process(None, samples_of(scores, target))
    with pytest.raises(ValueError, match=r'probabilities in \[0, 1\].*sample 2, class 1') as info:
        metric.evaluate(6)
    assert 'saved first' in str(info.value)
    with pytest.raises(ValueError, match=r"no item\(s\) \['sample_map'\]"):
        METRICS.build(dict(type='MeanAP', items=('sample_map', )))


# ---------------------------------------------------------------- bootstrap and comparison

def test_every_replicate_equals_the_metric_on_its_resampled_rows():
    scores, target = random_data(12, num=60)
    indices = bootstrap_indices(60, 30, seed=4)
    counts = replicate_counts(indices, 60)
    ones = torch.ones((1, 60), dtype=torch.int32)
    predictions = TestPredictions(scores, target, tuple('abcdefgh'), np.arange(60),
                                  settings=dict(mAP=dict(difficult_as='ignore')))
    values = MeanAP.replicate_values('mAP', predictions.family('mAP'),
                                     ReplicateData(predictions, torch.cat([ones, counts])))
    got = values['sample_mAP']
    # the point: the metric through the evaluator, to rounding
    point = evaluate([dict(type='MeanAP', items=('sample_mAP', ), report=False)],
                     samples_of(scores, target))['multi-label/sample_mAP']
    assert 100 * float(got[0]) == pytest.approx(point, abs=1e-12)
    for b, idx in enumerate(indices):  # each replicate: the resampled rows, scored again
        direct = reference_map(scores[idx], target[idx])
        assert 100 * float(got[b + 1]) == pytest.approx(direct, abs=1e-9)
        again = sample_mean_average_precision(torch.from_numpy(scores[idx]),
                                              torch.from_numpy(target[idx]))
        assert float(got[b + 1]) == pytest.approx(float(again), abs=1e-14)
    # and through the comparison's entry point, in percent
    every = replicate_values(predictions, counts)
    np.testing.assert_allclose(every['sample_mAP'].numpy(), 100 * got[1:].numpy(), rtol=1e-14)
    # keys: only the family that declares them (the mAP family, all its keys), the same values
    only = replicate_values(predictions, counts, keys=('sample_mAP', ))
    assert set(only) == set(MeanAP.INTERVAL_KEYS['mAP']) & set(every) and len(only) < len(every)
    for key, value in only.items():
        np.testing.assert_array_equal(value.numpy(), every[key].numpy(), err_msg=key)


def write_run(root, name, scores, target, settings=None):
    run = root / name
    (run / '20260101_000000' / 'vis_data').mkdir(parents=True)
    (run / '20260101_000000' / 'vis_data' / 'scalars.json').write_text(
        json.dumps({'multi-label/mAP': 50.0, 'step': 1}) + '\n')
    test_predictions.write(test_predictions.TestPredictions(
        scores, target, tuple('abcdef'), np.arange(len(scores)), None, None, settings or {}),
        str(run))


def test_the_comparison_gives_sample_map_intervals_with_a_statement_from_200_images(tmp_path):
    num = 120
    rng = np.random.default_rng(0)
    target = (rng.random((num, 6)) < 0.3).astype(np.int8)
    target[rng.random((num, 6)) < 0.1] = -1
    target[:2] = 1
    runs = {name: np.clip(0.3 * (target == 1) + noise * rng.random(target.shape), 0, 1)
            .round(2).astype(np.float32) for name, noise in (('a', 0.9), ('b', 0.6))}
    for name, scores in runs.items():
        # run b's test had MeanAP with difficult_as='positive': there is no difficult label, so
        # the same numbers; run a's file has no settings (the metric's defaults)
        write_run(tmp_path, name, scores, target,
                  dict(mAP=dict(difficult_as='positive')) if name == 'b' else None)
    result = compare_runs([str(tmp_path)], str(tmp_path / 'report'), baseline='a', bootstrap=40,
                          seed=1)
    stats = result.statistics
    indices = bootstrap_indices(num, 40, 1)
    replicates = {name: np.array([reference_map(s[idx], target[idx]) for idx in indices])
                  for name, s in runs.items()}
    for name, scores in runs.items():
        point, low, high = stats.runs[name]['sample_mAP']
        assert point == pytest.approx(reference_map(scores, target), abs=1e-9)
        assert (low, high) == pytest.approx(tuple(np.percentile(replicates[name], [2.5, 97.5])),
                                            abs=1e-9)  # the percentile interval
    delta, low, high = stats.deltas['b']['sample_mAP']
    assert (low, high) == pytest.approx(
        tuple(np.percentile(replicates['b'] - replicates['a'], [2.5, 97.5])), abs=1e-9)
    # declared by MeanAP: the percentile interval, found holding by the coverage study from 200
    # test images; below, its single-setting interval is marked as making no statement
    assert 'sample_mAP' in interval_keys() and interval_methods()['sample_mAP'] == 'percentile'
    assert interval_holds_from()['sample_mAP'] == 200
    assert 'sample_mAP' in stats.no_statement()
    stats.num_images = 250
    assert 'sample_mAP' not in stats.no_statement() and 'mAP' in stats.no_statement()
    stats.num_images = num
    header = (tmp_path / 'report' / 'summary.csv').read_text().splitlines()[0].split(',')
    assert {'test_sample_mAP_ci_low', 'delta_test_sample_mAP_ci_high'} <= set(header)
    assert not any('sample_mAP' in row['missing'] for row in result.rows)
    markdown = (tmp_path / 'report' / 'summary.md').read_text()
    cells = [[cell.strip() for cell in line.strip().strip('|').split('|')]
             for line in markdown.splitlines() if line.startswith('|')]
    column = next(row for row in cells if row[:2] == ['setting', 'seeds'] and
                  'sample_mAP' in row).index('sample_mAP')
    row = next(row for row in cells if row[:2] == ['b', '1, images only'])
    assert row[column].endswith(' no statement')
