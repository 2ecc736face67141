"""The metric kernels against scikit-learn and hand-worked examples (docs/metrics.md)."""
import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from mmml_ext.functional import (average_precision, confusion_counts, example_based_metrics,
                                 mean_average_precision, multilabel_confusion, multilabel_predict,
                                 precision_recall_f1)
from mmml_ext.functional.ranking import ranking_metrics
from mmml_ext.functional.thresholds import global_best_threshold, per_class_best_thresholds


def random_case(seed, n=400, c=15, levels=6, ignore=0.1):
    """Scores with many ties (few distinct values), targets with ignored cells."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, levels, (n, c), generator=g).float() / (levels - 1)
    target = (torch.rand(n, c, generator=g) < 0.25).to(torch.int8)
    target[torch.rand(n, c, generator=g) < ignore] = -1
    return scores, target


def valid_rows(target, c):
    return (target[:, c] >= 0).numpy()


# ----------------------------------------------------------------- AP
@pytest.mark.parametrize('seed', range(4))
def test_ap_equals_sklearn_with_ties_and_ignored_labels(seed):
    scores, target = random_case(seed)
    ap = average_precision(scores, target, chunk_size=4)
    for c in range(scores.shape[1]):
        keep = valid_rows(target, c)
        expected = skm.average_precision_score(target[keep, c].numpy(), scores[keep, c].numpy())
        assert ap[c].item() == pytest.approx(expected, abs=1e-12)


def test_ap_does_not_depend_on_sample_order():
    scores, target = random_case(7, ignore=0.0)
    order = torch.randperm(len(scores), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(average_precision(scores, target),
                               average_precision(scores[order], target[order]), rtol=0, atol=0)


def test_ap_hand_worked_tie_group():
    # one tie group holding a positive and a negative: both get its end precision
    scores = torch.tensor([[0.9], [0.5], [0.5], [0.1]])
    target = torch.tensor([[1], [1], [0], [1]])
    assert average_precision(scores, target).item() == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)


def test_class_without_positive_is_left_out_or_zero():
    scores = torch.tensor([[0.9, 0.2], [0.1, 0.8]])
    target = torch.tensor([[1, 0], [0, 0]])
    ap = average_precision(scores, target)
    assert ap[0] == 1 and torch.isnan(ap[1])
    with pytest.warns(UserWarning, match='left out of the mean: 1'):
        assert mean_average_precision(ap) == 1.0
    with pytest.warns(UserWarning, match='counted as AP 0: b'):
        assert mean_average_precision(ap, classes=['a', 'b'], empty_as_zero=True) == 0.5
    assert mean_average_precision(torch.tensor([0.5, 1.0], dtype=torch.float64)) == 0.75


# ----------------------------------------------------------------- predictions
def test_threshold_rule_is_greater_or_equal():
    scores = torch.tensor([[0.5, 0.4999, 1.0]])
    assert multilabel_predict(scores).tolist() == [[True, False, True]]
    assert multilabel_predict(scores, thr=1.0).tolist() == [[False, False, True]]


def test_topk_ties_go_to_the_lower_class_index():
    scores = torch.tensor([[0.5, 0.5, 0.5, 0.1], [0.2, 0.7, 0.7, 0.7]])
    assert multilabel_predict(scores, topk=2).int().tolist() == [[1, 1, 0, 0], [0, 1, 1, 0]]
    assert multilabel_predict(scores, topk=1).int().tolist() == [[1, 0, 0, 0], [0, 1, 0, 0]]


@pytest.mark.parametrize('cells_at_once', [7, 1 << 20])
def test_topk_with_many_ties_equals_a_stable_sort(monkeypatch, cells_at_once):
    from mmml_ext.functional import confusion
    monkeypatch.setattr(confusion, '_CELLS_AT_ONCE', cells_at_once)  # several blocks of rows
    g = torch.Generator().manual_seed(5)
    scores = torch.randint(0, 4, (40, 9), generator=g).float() / 4  # ties everywhere
    for k in (1, 3, 9):
        expected = torch.zeros(40, 9, dtype=torch.bool)
        for i, row in enumerate(scores.tolist()):  # highest first, ties to the lower index
            for c in sorted(range(9), key=lambda c: (-row[c], c))[:k]:
                expected[i, c] = True
        assert torch.equal(multilabel_predict(scores, topk=k), expected)


def test_low_precision_scores_are_compared_in_float32():
    scores = torch.tensor([[0.300049, 0.5]], dtype=torch.float16)  # 0.30004883 in float16
    as_float32 = scores.float()
    for thr in (0.3, 0.30004883, torch.tensor([0.30006, 0.5]), torch.tensor([0.3, 0.5])):
        assert torch.equal(multilabel_predict(scores, thr=thr), as_float32 >= thr)


def test_per_class_thresholds_and_the_zero_threshold():
    scores = torch.tensor([[0.0, 0.3, 0.7], [0.2, 0.9, 0.6]])
    thr = torch.tensor([0.0, 0.5, 0.65])
    assert multilabel_predict(scores, thr=thr).int().tolist() == [[1, 0, 1], [1, 1, 0]]
    assert multilabel_predict(scores, thr=0.0).all()  # score >= 0 predicts every label


def test_topk_with_invalid_cells_ranks_them_last():
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.1], [0.5, 0.5, 0.5, 0.5]])
    valid = torch.tensor([[False, True, True, True], [True, False, True, True]])
    got = multilabel_predict(scores, topk=2, valid=valid).int().tolist()
    assert got == [[0, 1, 1, 0], [1, 0, 1, 0]]


def test_topk_and_thr_together_follow_ml_gcn():
    scores = torch.tensor([[0.9, 0.4, 0.3, 0.8]])
    assert multilabel_predict(scores, thr=0.5, topk=3).int().tolist() == [[1, 0, 0, 1]]
    assert multilabel_predict(scores, thr=0.35, topk=2).int().tolist() == [[1, 0, 0, 1]]


# ----------------------------------------------------------------- P / R / F1
def sklearn_prf(pred, target):
    """CP, CR, CF1, OP, OR, OF1, macro_F1 from scikit-learn, ignored cells dropped."""
    per_p, per_r, per_f = [], [], []
    for c in range(target.shape[1]):
        keep = valid_rows(target, c)
        y, p = target[keep, c].numpy(), pred[keep, c].numpy()
        per_p.append(skm.precision_score(y, p, zero_division=0))
        per_r.append(skm.recall_score(y, p, zero_division=0))
        per_f.append(skm.f1_score(y, p, zero_division=0))
    cp, cr = np.mean(per_p), np.mean(per_r)
    keep = (target >= 0).numpy()
    y, p = target.numpy()[keep], pred.numpy()[keep]
    op = skm.precision_score(y, p, zero_division=0)
    orec = skm.recall_score(y, p, zero_division=0)
    return dict(CP=cp, CR=cr, CF1=2 * cp * cr / (cp + cr) if cp + cr else 0.0, OP=op, OR=orec,
                OF1=skm.f1_score(y, p, zero_division=0), macro_F1=np.mean(per_f))


@pytest.mark.parametrize('seed, thr, topk', [(0, 0.5, None), (1, 0.3, None), (2, None, 3),
                                             (3, 0.6, 2)])
def test_prf_equals_sklearn(seed, thr, topk):
    scores, target = random_case(seed)
    counts = multilabel_confusion(scores, target, thr=thr, topk=topk)
    ours = precision_recall_f1(counts['tp'], counts['fp'], counts['fn'])
    expected = sklearn_prf(multilabel_predict(scores, thr, topk).int(), target)
    assert ours == pytest.approx(expected, abs=1e-12)


def test_cf1_is_the_papers_not_the_mean_of_f1():
    # class 0: TP 2, FP 0, FN 1 -> P 1, R 2/3, F1 0.8; class 1: TP 1, FP 3, FN 0 -> P 1/4, R 1, F1 0.4
    r = precision_recall_f1(torch.tensor([2, 1]), torch.tensor([0, 3]), torch.tensor([1, 0]))
    cp, cr = (1 + 0.25) / 2, (2 / 3 + 1) / 2
    assert r['CF1'] == pytest.approx(2 * cp * cr / (cp + cr))
    assert r['macro_F1'] == pytest.approx(0.6)
    assert r['OP'] == pytest.approx(3 / 6) and r['OR'] == pytest.approx(3 / 4)


def test_zero_denominators_give_zero_without_patches():
    # nothing predicted, nothing true: every ratio is 0, no "Np := 1" patch
    r = precision_recall_f1(torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long),
                            torch.zeros(3, dtype=torch.long))
    assert all(value == 0 for value in r.values())


def test_ignored_cells_count_as_nothing():
    pred = torch.tensor([[True, True], [False, True]])
    target = torch.tensor([[1, -1], [-1, 0]])
    counts = confusion_counts(pred, target)
    assert counts['tp'].tolist() == [1, 0] and counts['fp'].tolist() == [0, 1]
    assert counts['fn'].tolist() == [0, 0] and counts['tn'].tolist() == [0, 0]


# ----------------------------------------------------------------- example-based
def test_hamming_accuracy_of_the_seed_examples():
    pred = torch.tensor([[1, 0, 0, 1, 0]]).bool()
    assert example_based_metrics(pred, torch.tensor([[1, 0, 0, 0, 0]]))['hamming_accuracy'] == \
        pytest.approx(0.8)
    pred = torch.tensor([[0, 0, 0, 1, 0, 0]]).bool()
    r = example_based_metrics(pred, torch.zeros(1, 6, dtype=torch.int8))
    assert r['hamming_accuracy'] == pytest.approx(5 / 6)
    assert r['hamming_loss'] == pytest.approx(1 / 6)


def test_subset_accuracy_of_the_seed_example():
    scores = torch.tensor([[0.1, 0.3, 0.6], [0.6, 0.6, 0.2]])
    target = torch.tensor([[1, 0, 1], [1, 1, 0]])
    assert example_based_metrics(multilabel_predict(scores), target)['subset_accuracy'] == 0.5


def test_subset_accuracy_ignores_ignored_cells_and_all_ignored_samples():
    pred = torch.tensor([[1, 1, 0], [0, 0, 0], [1, 0, 0]]).bool()
    target = torch.tensor([[1, -1, 0], [-1, -1, -1], [0, 0, 0]])
    r = example_based_metrics(pred, target)
    assert r['subset_accuracy'] == 0.5  # the all-ignored sample takes part in nothing
    assert r['hamming_accuracy'] == pytest.approx(4 / 5)


@pytest.mark.parametrize('seed', range(3))
def test_example_based_equal_sklearn(seed):
    scores, target = random_case(seed, ignore=0.0)
    pred = multilabel_predict(scores, thr=0.6)
    r = example_based_metrics(pred, target)
    y, p = target.numpy(), pred.int().numpy()
    assert r['subset_accuracy'] == pytest.approx(skm.accuracy_score(y, p))
    assert r['hamming_loss'] == pytest.approx(skm.hamming_loss(y, p))
    assert r['jaccard'] == pytest.approx(skm.jaccard_score(y, p, average='samples', zero_division=0))
    assert r['example_f1'] == pytest.approx(skm.f1_score(y, p, average='samples', zero_division=0))


# ----------------------------------------------------------------- ranking
@pytest.mark.parametrize('seed', range(3))
def test_ranking_metrics_equal_sklearn(seed):
    scores, target = random_case(seed, ignore=0.0)
    target[:3] = 0  # samples with no positive
    target[3:5] = 1  # and with no negative
    r = ranking_metrics(scores, target)
    y, s = target.numpy(), scores.numpy()
    assert r['lrap'] == pytest.approx(skm.label_ranking_average_precision_score(y, s), abs=1e-12)
    assert r['coverage_error'] == pytest.approx(skm.coverage_error(y, s), abs=1e-12)
    assert r['ranking_loss'] == pytest.approx(skm.label_ranking_loss(y, s), abs=1e-12)


def test_ranking_drops_ignored_labels():
    scores, target = random_case(5, c=6, ignore=0.0)
    target[:, 2] = -1
    kept = torch.tensor([0, 1, 3, 4, 5])
    assert ranking_metrics(scores, target) == pytest.approx(
        ranking_metrics(scores[:, kept], target[:, kept]))


def test_one_error_hand_worked():
    scores = torch.tensor([[0.9, 0.9, 0.1], [0.2, 0.8, 0.1], [0.5, 0.1, 0.1]])
    target = torch.tensor([[0, 1, 0], [0, 1, 0], [0, 0, 0]])
    # sample 0: tie at the top goes to class 0, not positive; sample 1: top is positive;
    # sample 2 has no positive and takes no part
    assert ranking_metrics(scores, target)['one_error'] == 0.5


# ----------------------------------------------------------------- thresholds
def brute_force_best(y, s):
    candidates = np.unique(s)
    f1 = [skm.f1_score(y, (s >= t).astype(int), zero_division=0) for t in candidates]
    best = max(f1)
    return max(t for t, f in zip(candidates, f1) if f == best), best


@pytest.mark.parametrize('seed', range(3))
def test_tuned_thresholds_equal_brute_force(seed):
    scores, target = random_case(seed, c=8)
    thr, f1 = per_class_best_thresholds(scores, target, chunk_size=3)
    for c in range(8):
        keep = valid_rows(target, c)
        t_ref, f_ref = brute_force_best(target[keep, c].numpy(), scores[keep, c].numpy())
        assert thr[c].item() == pytest.approx(t_ref) and f1[c].item() == pytest.approx(f_ref)
    keep = (target >= 0).numpy()
    t_ref, f_ref = brute_force_best(target.numpy()[keep], scores.numpy()[keep])
    assert global_best_threshold(scores, target) == pytest.approx((t_ref, f_ref))


def test_class_without_positive_has_no_tuned_threshold():
    thr, f1 = per_class_best_thresholds(torch.tensor([[0.9, 0.3], [0.2, 0.6]]),
                                        torch.tensor([[1, 0], [0, 0]]))
    assert thr[0].item() == pytest.approx(0.9) and torch.isnan(thr[1]) and f1[1] == 0


def test_tuning_with_every_label_ignored_is_a_clear_error():
    scores = torch.tensor([[0.9, 0.3], [0.2, 0.6]])
    with pytest.raises(ValueError, match=r'every label is ignored \(-1\)'):
        global_best_threshold(scores, torch.full((2, 2), -1, dtype=torch.int8))
    thr, _ = per_class_best_thresholds(scores, torch.tensor([[-1, 1], [-1, 0]]))
    assert torch.isnan(thr[0]) and thr[1] == pytest.approx(0.3)  # an all-ignored class: untuned


# ----------------------------------------------------------------- bad input
GOOD = torch.tensor([[0.2, 0.8], [0.6, 0.4]])
TARGET = torch.tensor([[0, 1], [1, 0]])


@pytest.mark.parametrize('scores, target, message', [
    (torch.tensor([[0.2, float('nan')], [0.6, 0.4]]), TARGET, 'NaN or infinite.*sample 0, class 1'),
    (torch.tensor([[0.2, 0.8], [float('inf'), 0.4]]), TARGET, 'NaN or infinite.*sample 1, class 0'),
    (torch.tensor([0.2, 0.8]), TARGET, r'shape \(N, C\)'),
    (GOOD, torch.tensor([[0, 1, 0], [1, 0, 0]]), 'does not match'),
    (GOOD, torch.tensor([[0, 2], [1, 0]]), 'sample 0, class 1 is 2'),
    (torch.zeros(0, 2), torch.zeros(0, 2), 'no sample'),
    (GOOD.long(), TARGET, 'floating point'),
])
def test_bad_inputs_name_the_problem(scores, target, message):
    for kernel in (average_precision, ranking_metrics, multilabel_confusion):
        with pytest.raises(ValueError, match=message):
            kernel(scores, target)


@pytest.mark.parametrize('kwargs, message', [
    (dict(thr=-0.5), r'thr must be a number in \[0, 1\]'), (dict(thr=1.5), 'thr must'),
    (dict(thr=float('nan')), 'thr must'),
    (dict(thr=torch.tensor([0.5, 0.2, 0.1])), r'thr must be a number or a \(2,\) tensor'),
    (dict(thr=torch.tensor([0.5, 1.25])), r'thr must lie in \[0, 1\]; class 1 has 1.25'),
    (dict(valid=torch.ones(2, 3, dtype=torch.bool), topk=1), 'valid must be a bool tensor'),
    (dict(topk=0), 'topk must be an int >= 1'), (dict(topk=3), 'larger than the number of classes'),
    (dict(topk=1.5), 'topk must'),
])
def test_bad_thr_and_topk(kwargs, message):
    with pytest.raises(ValueError, match=message):
        multilabel_predict(GOOD, **kwargs)


def test_target_codes_read_difficult_labels_alike_in_torch_and_numpy():
    from mmml_ext.functional.target_codes import DIFFICULT, read_difficult
    codes = np.array([[1, DIFFICULT, 0, -1]], dtype=np.int8)
    for difficult_as, expected in (('ignore', [[1, -1, 0, -1]]), ('positive', [[1, 1, 0, -1]]),
                                   ('negative', [[1, 0, 0, -1]])):
        as_array = read_difficult(codes, difficult_as)
        as_tensor = read_difficult(torch.from_numpy(codes), difficult_as)
        assert as_array.dtype == np.int8 and as_tensor.dtype == torch.int8
        assert as_array.tolist() == as_tensor.tolist() == expected
    plain = np.array([[1, 0, -1]], dtype=np.int8)
    assert read_difficult(plain, 'positive') is plain  # nothing to read: no copy
    with pytest.raises(ValueError, match=r"difficult_as must be one of .* got 'yes'"):
        read_difficult(plain, 'yes')


def test_the_top_k_rule_has_one_owner():
    """With top-k an ignored cell (-1) takes no place: the evaluation and the bootstrap both
    predict through functional.confusion.predictions_of_rule."""
    from mmml_ext.functional.confusion import predictions_of_rule
    scores = torch.tensor([[0.9, 0.8, 0.1], [0.2, 0.7, 0.6]])
    target = torch.tensor([[-1, 1, 0], [0, 1, 0]])
    # row 0: the ignored 0.9 is passed over, so top-2 are classes 1 and 2
    assert predictions_of_rule(scores, target, topk=2).int().tolist() == [[0, 1, 1], [0, 1, 1]]
    assert predictions_of_rule(scores, target, thr=0.5).int().tolist() == [[1, 1, 0], [0, 1, 1]]
