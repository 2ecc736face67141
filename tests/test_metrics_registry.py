"""The registered metrics on mmpretrain data samples: inputs, keys, reports, nothing lost."""
import csv
import json

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS
from mmpretrain.structures import DataSample
from sklearn import metrics as skm

import mmml_ext  # noqa: F401
from mmml_ext.evaluation import EvalContext
from mmml_ext.functional.thresholds import per_class_best_thresholds
from mmml_ext.run_facts import ClassStats, TunedThresholds


def make_samples(scores, labels=None, gt_scores=None, difficult=None):
    samples = []
    for i, score in enumerate(scores):
        sample = DataSample().set_pred_score(torch.as_tensor(score, dtype=torch.float32))
        if gt_scores is not None:
            sample.set_gt_score(torch.as_tensor(gt_scores[i]))
        else:
            sample.set_gt_label(labels[i])
        if difficult is not None:
            sample.set_metainfo(dict(gt_label_difficult=difficult[i]))
        sample.set_metainfo(dict(sample_idx=i))
        samples.append(sample.to_dict())
    return samples


def evaluate(metric_cfgs, samples, batch_size=3, dataset_meta=None):
    evaluator = Evaluator([METRICS.build(cfg) for cfg in metric_cfgs])
    if dataset_meta is not None:
        evaluator.dataset_meta = dataset_meta
    for start in range(0, len(samples), batch_size):
        evaluator.process(samples[start:start + batch_size])
    return evaluator.evaluate(len(samples))


def random_samples(seed=0, n=60, c=7):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, 5, (n, c), generator=g).float() / 4
    onehot = (torch.rand(n, c, generator=g) < 0.3).int()
    onehot[:, 0] |= (onehot.sum(1) == 0).int()
    labels = [row.nonzero().flatten().tolist() for row in onehot]
    return scores, onehot, labels


def test_values_match_sklearn_through_the_evaluator():
    scores, onehot, labels = random_samples()
    y, s = onehot.numpy(), scores.numpy()
    pred = (s >= 0.5).astype(int)
    result = evaluate([dict(type='MeanAP', items=('mAP', )),
                       dict(type='MultiLabelPRF', items=('CP', 'OF1', 'macro_F1')),
                       dict(type='SubsetAccuracy', items=('subset_accuracy', 'hamming_loss')),
                       dict(type='MultiLabelRanking', items=('lrap', 'coverage_error'))],
                      make_samples(scores, labels))
    assert result['multi-label/mAP'] == pytest.approx(100 * skm.average_precision_score(y, s))
    assert result['multi-label/CP'] == pytest.approx(
        100 * skm.precision_score(y, pred, average='macro', zero_division=0))
    assert result['multi-label/OF1'] == pytest.approx(100 * skm.f1_score(y, pred, average='micro'))
    assert result['multi-label/macro_F1'] == pytest.approx(
        100 * skm.f1_score(y, pred, average='macro', zero_division=0))
    assert result['multi-label/subset_accuracy'] == pytest.approx(100 * skm.accuracy_score(y, pred))
    assert result['multi-label/hamming_loss'] == pytest.approx(100 * skm.hamming_loss(y, pred))
    assert result['multi-label/lrap'] == pytest.approx(
        100 * skm.label_ranking_average_precision_score(y, s))
    assert result['multi-label/coverage_error'] == pytest.approx(skm.coverage_error(y, s))


def test_topk_keys_and_prefix():
    scores, _, labels = random_samples()
    result = evaluate([dict(type='MultiLabelPRF', topk=3, items=('CF1', )),
                       dict(type='MultiLabelPRF', prefix='val', items=('CF1', ))],
                      make_samples(scores, labels))
    assert set(result) == {'multi-label/CF1_top3', 'val/CF1'}


def test_gt_score_minus_one_is_ignored():
    scores = [[0.9, 0.9], [0.1, 0.9]]
    # sample 1 class 0 is ignored: without it, both samples are exact matches
    result = evaluate([dict(type='SubsetAccuracy')],
                      make_samples(scores, gt_scores=[[1, 1], [-1, 1]]))
    assert result['multi-label/subset_accuracy'] == 100.0
    result = evaluate([dict(type='SubsetAccuracy')],
                      make_samples(scores, gt_scores=[[1, 1], [1, 1]]))
    assert result['multi-label/subset_accuracy'] == 50.0


@pytest.mark.parametrize('difficult_as, expected_op', [('ignore', 100.0), ('positive', 100.0),
                                                        ('negative', 200 / 3)])
def test_difficult_labels(difficult_as, expected_op):
    # class 1 of sample 0 is only on difficult objects and is predicted
    scores = [[0.9, 0.8, 0.1], [0.1, 0.1, 0.7]]
    samples = make_samples(scores, labels=[[0], [2]], difficult=[[1], []])
    result = evaluate([dict(type='MultiLabelPRF', items=('OP', 'OR'), difficult_as=difficult_as)],
                      samples)
    assert result['multi-label/OP'] == pytest.approx(expected_op)
    assert result['multi-label/OR'] == 100.0


def evaluate_in(context, metric_cfgs, samples, dataset_meta=None):
    """Evaluate as under RunFactsHook: every metric gets the one ``context``."""
    evaluator = Evaluator([METRICS.build(cfg) for cfg in metric_cfgs])
    if dataset_meta is not None:
        evaluator.dataset_meta = dataset_meta
    for metric in evaluator.metrics:
        metric.set_eval_context(context)
    evaluator.process(samples)
    return evaluator.evaluate(len(samples))


def test_mean_ap_groups_from_counts_and_from_the_run(tmp_path):
    scores, onehot, labels = random_samples(c=6)
    counts = [500, 150, 60, 30, 10, 2]  # head: 0, 1; medium: 2, 3; tail: 4, 5
    ap = [skm.average_precision_score(onehot[:, c].numpy(), scores[:, c].numpy()) for c in range(6)]
    expected = {'mAP_head': np.mean(ap[:2]), 'mAP_medium': np.mean(ap[2:4]),
                'mAP_tail': np.mean(ap[4:])}
    samples = make_samples(scores, labels)
    results = [evaluate([dict(type='MeanAP', class_counts=counts)], samples),
               evaluate_in(EvalContext(class_stats=ClassStats(tuple(counts), 600)),
                           [dict(type='MeanAP')], samples)]
    for result in results:
        for key, value in expected.items():
            assert result[f'multi-label/{key}'] == pytest.approx(100 * value)
    result = evaluate([dict(type='MeanAP', class_counts=counts, group_bounds=(5, 40))], samples)
    assert result['multi-label/mAP_tail'] == pytest.approx(100 * ap[5])
    # no counts from anywhere: mAP only (the dataset's metainfo is no second route)
    meta = dict(classes=tuple('abcdef'), train_class_counts=counts)
    assert set(evaluate([dict(type='MeanAP')], samples, dataset_meta=meta)) == {'multi-label/mAP'}
    # counts for another number of classes are named
    with pytest.raises(ValueError, match='MeanAP: the training class counts have 5 entries for 6'):
        evaluate([dict(type='MeanAP', class_counts=counts[:5], out_dir=str(tmp_path))], samples)


def test_class_counts_from_a_file(tmp_path):
    path = tmp_path / 'counts.json'
    path.write_text(json.dumps(dict(class_counts=[300, 3])))
    scores = [[0.9, 0.2], [0.4, 0.8], [0.6, 0.1]]
    result = evaluate([dict(type='MeanAP', class_counts=str(path))],
                      make_samples(scores, labels=[[0], [1], [0]]))
    assert result['multi-label/mAP_head'] == 100.0 and result['multi-label/mAP_tail'] == 100.0


def test_per_class_report(tmp_path):
    scores = [[0.9, 0.2, 0.7], [0.4, 0.8, 0.1], [0.6, 0.1, 0.3]]
    metric = METRICS.build(dict(type='MeanAP', out_dir=str(tmp_path), class_counts=[5, 50, 500]))
    metric.dataset_meta = dict(classes=('cat', 'dog', 'eel'))
    metric.set_eval_context(EvalContext(tag='val_epoch_2', work_dir=str(tmp_path / 'not_here')))
    metric.process(None, make_samples(scores, labels=[[0], [1], [0, 2]]))
    metric.evaluate(3)
    rows = json.loads((tmp_path / 'per_class' / 'val_epoch_2.json').read_text())['classes']
    with open(tmp_path / 'per_class' / 'val_epoch_2.csv') as f:
        csv_rows = list(csv.DictReader(f))
    assert [r['class_name'] for r in rows] == [r['class_name'] for r in csv_rows] == ['cat', 'dog', 'eel']
    cat = rows[0]
    # cat: positives in samples 0 and 2, both predicted at 0.5, sample 1 not
    assert (cat['support'], cat['train_count'], cat['precision'], cat['recall']) == (2, 5, 100, 100)
    eel = rows[2]  # eel: positive in sample 2 (0.3, missed), predicted in sample 0 (0.7)
    assert (eel['precision'], eel['recall'], eel['f1']) == (0, 0, 0)
    assert eel['ap'] == pytest.approx(100 * skm.average_precision_score([0, 0, 1], [0.7, 0.1, 0.3]))
    assert float(csv_rows[2]['ap']) == pytest.approx(eel['ap'])


def test_tuned_thresholds_are_reported_and_handed_to_the_run(tmp_path):
    scores, onehot, labels = random_samples(seed=3)
    metric = METRICS.build(dict(type='TunedThresholdF1'))
    metric.dataset_meta = dict(classes=tuple('abcdefg'))
    context = EvalContext(tag='val_epoch_4', work_dir=str(tmp_path), iteration=40)
    metric.set_eval_context(context)
    metric.process(None, make_samples(scores, labels))
    result = metric.evaluate(len(scores))
    fixed = evaluate([dict(type='MultiLabelPRF', items=('CF1', 'OF1'))], make_samples(scores, labels))
    assert result['multi-label/OF1_tuned_global'] >= fixed['multi-label/OF1']
    saved = json.loads((tmp_path / 'thresholds.json').read_text())
    thr, _ = per_class_best_thresholds(scores, onehot)
    assert saved['per_class'] == pytest.approx(thr.tolist())
    assert saved['classes'] == list('abcdefg')
    assert saved['global'] == result['multi-label/thr_global']
    assert (saved['tuned_on'], saved['iter']) == ('val_epoch_4', 40)
    # the temperature scaling fitted on the same data: each class's NLL minimum (scipy)
    from test_calibration import reference_inverse_temperature
    expected = reference_inverse_temperature(scores.numpy(), onehot.numpy())
    assert saved['inverse_temperature'] == pytest.approx(expected.tolist(), rel=1e-5)
    assert context.produced_thresholds.to_dict() == saved  # what the hook puts in checkpoints
    pred = (scores >= thr.float()).numpy().astype(int)
    p = skm.precision_score(onehot.numpy(), pred, average='macro', zero_division=0)
    r = skm.recall_score(onehot.numpy(), pred, average='macro', zero_division=0)
    assert result['multi-label/CF1_tuned'] == pytest.approx(100 * 2 * p * r / (p + r))
    assert (result['multi-label/CP_tuned'], result['multi-label/CR_tuned']) == pytest.approx(
        (100 * p, 100 * r))


def test_a_zero_threshold_is_written_and_read_back(tmp_path):
    # every sample of class 0 is positive: the best F1 predicts all, down to the score 0.0
    scores = [[0.0, 0.9], [0.3, 0.1], [0.2, 0.8]]
    labels = [[0, 1], [0], [0, 1]]
    context = EvalContext(tag='val_epoch_1', work_dir=str(tmp_path))
    evaluate_in(context, [dict(type='TunedThresholdF1')], make_samples(scores, labels))
    assert context.produced_thresholds.per_class[0] == 0.0
    result = evaluate_in(EvalContext(work_dir=str(tmp_path)),
                         [dict(type='MultiLabelPRF', thresholds='thresholds.json', items=('CR', ))],
                         make_samples(scores, labels))
    assert result['multi-label/CR_valtuned'] == 100.0


@pytest.mark.parametrize('scores, where', [([[0.2, 1.5], [0.1, 0.3]], 'sample 0, class 1: 1.5'),
                                           ([[0.2, 0.5], [-2.0, 0.3]], 'sample 1, class 0: -2.0')])
@pytest.mark.parametrize('metric', ['MultiLabelPRF', 'TunedThresholdF1', 'MeanAP'])
def test_logits_as_scores_are_refused(tmp_path, metric, scores, where):
    with pytest.raises(ValueError, match=f'probabilities in \\[0, 1\\].*{where}.*sigmoid'):
        evaluate_in(EvalContext(work_dir=str(tmp_path)), [dict(type=metric)],
                    make_samples(scores, labels=[[0], [1]]))
    assert len(list(tmp_path.glob('predictions_*.npz'))) == 1  # saved first


def test_val_tuned_thresholds_are_applied_from_the_work_dir(tmp_path):
    # thresholds.json written by hand: class 1 has no tuned threshold -> the global one
    (tmp_path / 'thresholds.json').write_text(json.dumps(
        {'global': 0.3, 'per_class': [0.8, None, 0.1], 'classes': ['a', 'b', 'c']}))
    scores = [[0.9, 0.35, 0.05], [0.7, 0.2, 0.2], [0.85, 0.4, 0.15]]
    labels = [[0, 1], [0], [2]]
    # by hand at (0.8, 0.3, 0.1): predictions {0,1}, {2}, {0,1,2}
    pred = np.array([[1, 1, 0], [0, 0, 1], [1, 1, 1]])
    y = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 1]])
    tuned = TunedThresholds(0.3, (0.8, None, 0.1))
    for spec, context in (('thresholds.json', EvalContext(work_dir=str(tmp_path))),
                          ('tuned', EvalContext(tuned_thresholds=tuned))):
        result = evaluate_in(context, [dict(type='MultiLabelPRF', thresholds=spec,
                                            items=('CP', 'CR', 'OF1'))],
                             make_samples(scores, labels))
        assert set(result) == {'multi-label/CP_valtuned', 'multi-label/CR_valtuned',
                               'multi-label/OF1_valtuned'}
        assert result['multi-label/CP_valtuned'] == pytest.approx(
            100 * skm.precision_score(y, pred, average='macro', zero_division=0))
        assert result['multi-label/CR_valtuned'] == pytest.approx(
            100 * skm.recall_score(y, pred, average='macro', zero_division=0))
        assert result['multi-label/OF1_valtuned'] == pytest.approx(
            100 * skm.f1_score(y, pred, average='micro'))
    # a list works too, and with top-k both rules apply (ML-GCN)
    both = evaluate([dict(type='SubsetAccuracy', thresholds=[0.8, 0.3, 0.1], topk=2)],
                    make_samples(scores, labels))
    assert set(both) == {'multi-label/subset_accuracy_perclass_top2'}
    assert both['multi-label/subset_accuracy_perclass_top2'] == pytest.approx(100 / 3)


@pytest.mark.parametrize('cfg, message', [
    (dict(thresholds=[0.5, 1.5]), r'thresholds\[1\] must be a number in \[0, 1\]'),
    (dict(thresholds=dict(a=1)), 'thresholds must be a number'),
    (dict(thresholds=[0.5], thr=0.5), 'thr or thresholds'),
])
def test_bad_per_class_thresholds_are_named(cfg, message):
    with pytest.raises(ValueError, match=message):
        METRICS.build(dict(type='MultiLabelPRF', **cfg))


def test_thresholds_for_another_number_of_classes_are_named(tmp_path):
    with pytest.raises(ValueError, match='thresholds has 2 thresholds for 3 classes'):
        evaluate_in(EvalContext(work_dir=str(tmp_path)),
                    [dict(type='MultiLabelPRF', thresholds=[0.5, 0.5])],
                    make_samples([[0.9, 0.1, 0.2]], [[0]]))
    tuned = TunedThresholds(0.3, (0.8, 0.1))
    with pytest.raises(ValueError, match=r'tuned thresholds \(val_epoch_2\) are for 2 classes'):
        evaluate_in(EvalContext(work_dir=str(tmp_path),
                                tuned_thresholds=TunedThresholds(0.3, (0.8, 0.1),
                                                                 tuned_on='val_epoch_2')),
                    [dict(type='MultiLabelPRF', thresholds='tuned')],
                    make_samples([[0.9, 0.1, 0.2]], [[0]]))
    assert tuned.values().tolist() == pytest.approx([0.8, 0.1])


def test_missing_thresholds_say_how_to_make_them(tmp_path):
    context = EvalContext(work_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match='TunedThresholdF1'):
        evaluate_in(context, [dict(type='MultiLabelPRF', thresholds='thresholds.json')],
                    make_samples([[0.9, 0.1]], [[0]]))
    # nothing lost: the predictions were saved before the error
    assert len(list(tmp_path.glob('predictions_*.npz'))) == 1
    with pytest.raises(ValueError, match='no thresholds were tuned for the weights'):
        evaluate_in(EvalContext(work_dir=str(tmp_path)),
                    [dict(type='MultiLabelPRF', thresholds='tuned')],
                    make_samples([[0.9, 0.1]], [[0]]))
    # or, when asked, a warning and no keys, beside the other metrics' values
    for spec in ('thresholds.json', 'tuned'):
        result = evaluate_in(EvalContext(work_dir=str(tmp_path / 'elsewhere')),
                             [dict(type='MultiLabelPRF', thresholds=spec,
                                   missing_thresholds='warn'),
                              dict(type='MultiLabelPRF', items=('OF1', ))],
                             make_samples([[0.9, 0.1]], [[0]]))
        assert result == {'multi-label/OF1': 100.0}


def test_failed_computation_saves_the_predictions_first(tmp_path):
    scores = [[0.9, float('nan')], [0.4, 0.8], [0.6, 0.1]]
    metric = METRICS.build(dict(type='MeanAP', out_dir=str(tmp_path)))
    metric.process(None, make_samples(scores, labels=[[0], [1], [0]]))
    with pytest.raises(ValueError, match='NaN or infinite') as info:
        metric.evaluate(3)
    saved = list(tmp_path.glob('predictions_*.npz'))
    assert len(saved) == 1 and str(saved[0]) in str(info.value)
    data = np.load(saved[0])
    np.testing.assert_array_equal(data['scores'], np.asarray(scores, dtype=np.float32))
    np.testing.assert_array_equal(data['target'], [[1, 0], [0, 1], [1, 0]])
    np.testing.assert_array_equal(data['sample_idx'], [0, 1, 2])


@pytest.mark.parametrize('cfg, samples, message', [
    (dict(type='MultiLabelPRF'), make_samples([[0.1, 0.9]], labels=[[2]]),
     'sample 0: gt_label has index 2, outside'),
    (dict(type='MultiLabelPRF'), make_samples([[0.1, 0.9]], gt_scores=[[0.5, 1]]),
     'gt_score values must be 1, 0 or -1'),
    (dict(type='MultiLabelPRF'), [dict(pred_score=torch.tensor([0.1, 0.9]),
                                       gt_score=torch.tensor([0., 1., 0.]), sample_idx=0)],
     'sample 0: gt_score has 3 entries, the scores have 2 classes'),
    (dict(type='MultiLabelPRF'), [dict(gt_label=torch.tensor([0]))], 'has no pred_score'),
    (dict(type='MultiLabelPRF'), [dict(pred_score=torch.ones(2, 2), gt_label=torch.tensor([0]))],
     r'pred_score must have shape \(C,\)'),
    (dict(type='MultiLabelPRF'), make_samples([[0.1, 0.9], [0.1, 0.9, 0.3]], labels=[[0], [1]]),
     'sample 1 has 3 scores, sample 0 has 2'),
])
def test_bad_samples_name_the_problem(cfg, samples, message):
    metric = METRICS.build(cfg)
    with pytest.raises(ValueError, match=message):
        metric.process(None, samples)


def test_batches_with_other_numbers_of_classes_name_the_sample():
    metric = METRICS.build(dict(type='MeanAP'))
    metric.process(None, make_samples([[0.1, 0.9], [0.2, 0.3]], labels=[[0], [1]]))
    later = make_samples([[0.1, 0.9, 0.5]], labels=[[0]])
    later[0]['sample_idx'] = 7
    with pytest.raises(ValueError, match='sample 7 has 3 scores, the samples evaluated before it '
                                         'have 2'):
        metric.process(None, later)


def test_class_names_must_match_the_scores():
    metric = METRICS.build(dict(type='MultiLabelPRF'))
    metric.dataset_meta = dict(classes=('cat', 'dog'))
    with pytest.raises(ValueError, match=r"names 2 classes \(dataset_meta\['classes'\]\) but "
                                         'the scores have 3'):
        metric.process(None, make_samples([[0.1, 0.9, 0.5]], labels=[[0]]))


@pytest.mark.parametrize('cfg, message', [
    (dict(type='MultiLabelPRF', items=('CP', 'F2')), r"no item\(s\) \['F2'\]"),
    (dict(type='MeanAP', items=('CP', )), r"no item\(s\) \['CP'\]"),
    (dict(type='MultiLabelPRF', thr=1.5), r'thr must be a number in \[0, 1\]'),
    (dict(type='MultiLabelPRF', thr=-0.1), r'thr must be a number in \[0, 1\]'),
    (dict(type='SubsetAccuracy', topk=0), 'topk must be'),
    (dict(type='SubsetAccuracy', topk=(1, 5)), r'topk must be an int >= 1, got \(1, 5\)'),
    (dict(type='MultiLabelPRF', difficult_as='maybe'), 'difficult_as must be'),
    (dict(type='MeanAP', group_bounds=(100, 20)), 'group_bounds'),
    (dict(type='MultiLabelPRF', missing_thresholds='ignore'), 'missing_thresholds must be'),
])
def test_bad_arguments_name_the_problem(cfg, message):
    with pytest.raises(ValueError, match=message):
        METRICS.build(cfg)


def test_no_sample_at_all():
    metric = METRICS.build(dict(type='SubsetAccuracy'))
    with pytest.raises(ValueError, match='no sample was evaluated'):
        metric.evaluate(0)


def test_topk_larger_than_classes_is_caught_at_compute(tmp_path):
    metric = METRICS.build(dict(type='MultiLabelPRF', topk=5, out_dir=str(tmp_path)))
    metric.process(None, make_samples([[0.1, 0.9]], labels=[[1]]))
    with pytest.raises(ValueError, match='topk=5 is larger than the number of classes'):
        metric.evaluate(1)


def test_non_default_thresholds_are_in_the_key():
    scores, _, labels = random_samples()
    samples = make_samples(scores, labels)
    result = evaluate([dict(type='MultiLabelPRF', items=('CF1', )),
                       dict(type='MultiLabelPRF', thr=0.3, items=('CF1', )),
                       dict(type='MultiLabelPRF', thr=0.5, items=('OF1', )),
                       dict(type='MultiLabelPRF', topk=3, items=('CF1', )),
                       dict(type='MultiLabelPRF', thr=0.3, topk=3, items=('CF1', )),
                       dict(type='SubsetAccuracy', thr=0.125)], samples)
    assert set(result) == {'multi-label/CF1', 'multi-label/CF1_thr-0.30', 'multi-label/OF1',
                           'multi-label/CF1_top3', 'multi-label/CF1_thr-0.30_top3',
                           'multi-label/subset_accuracy_thr-0.125'}
    y, s = np.array([[int(c in row) for c in range(7)] for row in labels]), scores.numpy()
    assert result['multi-label/CF1_thr-0.30'] == pytest.approx(100 * _papers_cf1(y, s >= 0.3))
    assert result['multi-label/CF1'] == pytest.approx(100 * _papers_cf1(y, s >= 0.5))


def _papers_cf1(y, pred):
    p = skm.precision_score(y, pred.astype(int), average='macro', zero_division=0)
    r = skm.recall_score(y, pred.astype(int), average='macro', zero_division=0)
    return 2 * p * r / (p + r)


def test_topk_gives_ignored_labels_no_place():
    # sample 0: class 0 (0.9) is ignored; top-2 among the rest is classes 1 and 2
    scores = [[0.9, 0.8, 0.7, 0.1]]
    samples = make_samples(scores, gt_scores=[[-1, 1, 1, 0]])
    result = evaluate([dict(type='MultiLabelPRF', topk=2, items=('OR', 'OP')),
                       dict(type='MultiLabelRanking', items=('one_error', ))], samples)
    assert result['multi-label/OR_top2'] == 100.0 and result['multi-label/OP_top2'] == 100.0
    assert result['multi-label/one_error'] == 0.0  # the same rule: ignored labels rank last


def test_metrics_of_one_context_keep_the_rows_once():
    scores, onehot, labels = random_samples()
    context = EvalContext()
    prf, subset = METRICS.build(dict(type='MultiLabelPRF')), METRICS.build(dict(type='SubsetAccuracy'))
    evaluator = Evaluator([prf, subset])
    for metric in evaluator.metrics:
        metric.set_eval_context(context)
    samples = make_samples(scores, labels)
    for start in range(0, len(samples), 8):
        evaluator.process(samples[start:start + 8])
    assert context.rows.num_batches == -(-len(samples) // 8)  # kept once, not once per metric
    result = evaluator.evaluate(len(samples))
    np.testing.assert_array_equal(context.rows.scores.numpy(), scores.numpy())
    np.testing.assert_array_equal(context.rows.target().numpy(), onehot.numpy())
    alone = evaluate([dict(type='MultiLabelPRF'), dict(type='SubsetAccuracy')], samples)
    assert result == alone


def test_rows_are_ordered_by_sample_index():
    scores, onehot, labels = random_samples(n=10)
    samples = make_samples(scores, labels)
    shuffled = [samples[i] for i in (3, 0, 7, 1, 9, 2, 8, 4, 6, 5)]
    context = EvalContext()
    metric = METRICS.build(dict(type='MultiLabelPRF'))
    metric.set_eval_context(context)
    metric.process(None, shuffled)
    metric.evaluate(10)
    np.testing.assert_array_equal(context.rows.sample_idx, np.arange(10))
    np.testing.assert_array_equal(context.rows.scores.numpy(), scores.numpy())


def test_rows_repeated_beyond_the_samplers_padding_are_an_error():
    scores, onehot, labels = random_samples(n=10)
    samples = make_samples(scores, labels)
    metric = METRICS.build(dict(type='MultiLabelPRF'))
    metric.process(None, samples + samples[:2])  # one process pads nothing: 12 rows for 10
    with pytest.raises(ValueError, match='12 rows were evaluated for a dataset of 10 samples'):
        metric.evaluate(10)


def test_repeated_sample_indices_do_not_drop_samples():
    # a ConcatDataset restarts sample_idx for each part: the indices do not name samples
    scores, onehot, labels = random_samples(n=8)
    samples = make_samples(scores, labels)
    for i, sample in enumerate(samples):
        sample['sample_idx'] = i % 4
    context = EvalContext()
    metric = METRICS.build(dict(type='MultiLabelPRF'))
    metric.set_eval_context(context)
    metric.process(None, samples)
    metric.evaluate(8)
    np.testing.assert_array_equal(context.rows.scores.numpy(), scores.numpy())  # all 8, in order


def test_classes_without_positives_follow_one_rule_in_every_class_mean():
    scores, onehot, labels = random_samples(seed=4, c=6)
    onehot[:, 5] = 0  # class 5 has no positive in the evaluated data
    labels = [row.nonzero().flatten().tolist() for row in onehot]
    samples = make_samples(scores, labels)
    y, s = onehot.numpy(), scores.numpy()
    pred = (s >= 0.5).astype(int)
    assert pred[:, 5].any()  # predicted anyway: a false alarm that CP could count
    present, every = [0, 1, 2, 3, 4], list(range(6))
    ap = [skm.average_precision_score(y[:, c], s[:, c]) for c in present]
    tuned = per_class_best_thresholds(scores, onehot)[0]
    tuned_pred = (scores >= torch.where(torch.isnan(tuned), 1.0, tuned).float()).numpy()
    for rule, classes, map_value in (('exclude', present, np.mean(ap)),
                                     ('include', every, np.sum(ap) / 6)):
        result = evaluate([dict(type='MultiLabelPRF', items=('CP', 'CR', 'macro_F1', 'OP'),
                                absent_classes=rule),
                           dict(type='MeanAP', items=('mAP', ), absent_classes=rule),
                           dict(type='TunedThresholdF1', items=('CR_tuned', ), save=False,
                                absent_classes=rule)], samples)
        kwargs = dict(labels=classes, average='macro', zero_division=0)
        assert result['multi-label/CP'] == pytest.approx(100 * skm.precision_score(y, pred, **kwargs))
        assert result['multi-label/CR'] == pytest.approx(100 * skm.recall_score(y, pred, **kwargs))
        assert result['multi-label/macro_F1'] == pytest.approx(100 * skm.f1_score(y, pred, **kwargs))
        assert result['multi-label/OP'] == pytest.approx(  # pooled numbers keep every class
            100 * skm.precision_score(y, pred, average='micro'))
        assert result['multi-label/mAP'] == pytest.approx(100 * map_value)
        assert result['multi-label/CR_tuned'] == pytest.approx(
            100 * skm.recall_score(y, tuned_pred, **kwargs))
    with pytest.raises(ValueError, match="absent_classes must be one of \\('exclude', 'include'\\)"):
        METRICS.build(dict(type='MeanAP', absent_classes='zero'))
    with pytest.raises(ValueError, match="empty_as_zero=True is absent_classes='include'"):
        METRICS.build(dict(type='MeanAP', empty_as_zero=True))


def test_no_positive_at_all_gives_nan_class_means_and_no_tuned_keys(tmp_path):
    samples = make_samples([[0.9, 0.1], [0.2, 0.6]], gt_scores=[[0, 0], [0, -1]])
    result = evaluate([dict(type='MultiLabelPRF', items=('CP', 'CR', 'CF1', 'OP')),
                       dict(type='TunedThresholdF1', out_dir=str(tmp_path))], samples)
    assert all(np.isnan(result[f'multi-label/{k}']) for k in ('CP', 'CR', 'CF1'))
    assert result['multi-label/OP'] == 0.0  # one false alarm, no hit: pooled numbers stay
    assert not any('tuned' in key for key in result)  # nothing to tune; the run goes on
    assert not (tmp_path / 'thresholds.json').exists()



def test_a_class_with_no_evaluated_negative_is_counted_and_reported(tmp_path, monkeypatch):
    """OpenImages' case: a class with verified positives and no verified negative has AP 100
    whatever the scores; the warning counts it and says its share of the mean, the report shows
    its negatives (0)."""
    messages = []
    monkeypatch.setattr('mmml_ext.evaluation.base.print_log',
                        lambda message, **kwargs: messages.append(message))
    scores = [[0.1, 0.9, 0.2], [0.2, 0.3, 0.8], [0.3, 0.6, 0.1], [0.9, 0.4, 0.7]]
    gt = [[1, 1, 0], [1, 0, 1], [1, 0, -1], [1, -1, 0]]  # cat: every evaluated cell positive
    metric = METRICS.build(dict(type='MeanAP', out_dir=str(tmp_path)))
    metric.dataset_meta = dict(classes=('cat', 'dog', 'eel'))
    metric.set_eval_context(EvalContext(tag='test', work_dir=str(tmp_path)))
    metric.process(None, make_samples(scores, gt_scores=gt))
    result = metric.evaluate(4)
    ap = [100.0, 100 * skm.average_precision_score([1, 0, 0], [0.9, 0.3, 0.6]),
          100 * skm.average_precision_score([0, 1, 0], [0.2, 0.8, 0.7])]
    assert result['multi-label/mAP'] == pytest.approx(np.mean(ap))
    warning = [m for m in messages if 'no evaluated negative' in m]
    assert len(warning) == 1
    assert warning[0].startswith('MeanAP: 1 class(es) have no evaluated negative')
    assert f'carry {100 / 3:.1f} of its {np.mean(ap):.1f} points' in warning[0]
    assert warning[0].endswith(': cat')
    rows = json.loads((tmp_path / 'per_class' / 'test.json').read_text())['classes']
    assert [(r['support'], r['negatives']) for r in rows] == [(4, 0), (1, 2), (1, 2)]


def test_evaluation_rows_cache_keys_name_their_owner():
    """A derived result is cached under a key that starts with its owner (a metric class or a
    kernel function), so that two metrics never read each other's value by accident."""
    from mmml_ext.evaluation.shared_rows import EvaluationRows
    rows = EvaluationRows()
    metric = METRICS.build(dict(type='MeanAP'))
    rows.add(metric, make_samples([[0.9, 0.1], [0.2, 0.7]], labels=[[0], [1]]))
    rows.gather(2)
    with pytest.raises(TypeError, match='starts with its owner'):
        rows.row_sums('counts', lambda: {}, 'counting')
    assert rows.num_samples == 2 and not rows.spread
    assert rows.scores.shape == (2, 2)  # one process: every row is here
