"""Calibration: reliability bins, ECE, class-wise ECE and Brier score, against independent references."""
import math

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS
from sklearn.metrics import brier_score_loss

import mmml_ext  # noqa: F401
import mmml_ext.functional.calibration as calibration_module
from mmml_ext.evaluation import MultiLabelCalibration
from mmml_ext.functional.calibration import calibration_errors, reliability_bins
from mmml_ext.functional.temperature_scaling import (apply_inverse_temperature,
                                                     fit_inverse_temperature)
from test_metrics_registry import make_samples

# --- independent references ---------------------------------------------------------------


def reference(scores, target, num_bins=15):
    """A direct transcription of the formulas, one cell at a time (the acc/conf form of ECE)."""
    s = np.asarray(scores, dtype=np.float32).astype(np.float64)  # the exact value of each score
    t = np.asarray(target)
    n_rows, n_classes = s.shape

    def table(cells):
        count, sum_p, sum_y = np.zeros(num_bins), np.zeros(num_bins), np.zeros(num_bins)
        for p, y in cells:
            m = min(int(math.floor(p * num_bins)), num_bins - 1)
            count[m] += 1
            sum_p[m] += p
            sum_y[m] += y
        return count, sum_p, sum_y

    def ece(cells):
        count, sum_p, sum_y = table(cells)
        n = count.sum()
        return sum(count[m] / n * abs(sum_y[m] / count[m] - sum_p[m] / count[m])
                   for m in range(num_bins) if count[m])

    cells = [(s[i, c], float(t[i, c] == 1)) for i in range(n_rows) for c in range(n_classes)
             if t[i, c] >= 0]
    per_class = []
    for c in range(n_classes):
        own = [(s[i, c], float(t[i, c] == 1)) for i in range(n_rows) if t[i, c] >= 0]
        if any(y == 1 for _, y in own):
            per_class.append(ece(own))
    count, sum_p, sum_y = table(cells)
    with np.errstate(invalid='ignore', divide='ignore'):
        bins = dict(count=count, confidence=sum_p / count, accuracy=sum_y / count)
    return dict(ECE=ece(cells),
                classwise_ECE=float(np.mean(per_class)) if per_class else float('nan'),
                brier=float(np.mean([(p - y) ** 2 for p, y in cells])), bins=bins)


def random_case(seed, n=50, c=6, ignored=0.15):
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(n, c, generator=g)
    # some scores exactly on bin edges and at 0 and 1
    edges = torch.randint(0, 11, (n, c), generator=g).float() / 10
    on_edge = torch.rand(n, c, generator=g) < 0.2
    scores = torch.where(on_edge, edges, scores)
    target = (torch.rand(n, c, generator=g) < scores).to(torch.int8)
    target[torch.rand(n, c, generator=g) < ignored] = -1
    target[3] = -1  # a sample with every label ignored
    target[:, 1] = torch.where(target[:, 1] == 1, torch.zeros_like(target[:, 1]), target[:, 1])
    return scores, target  # class 1 has no positive


# --- a hand-worked example ----------------------------------------------------------------

# scores [[0.9, 0.3, 1.0], [0.6, 0.1, 0.35]], target [[1, 0, 1], [0, -1, 1]], 4 bins
# [0, .25) [.25, .5) [.5, .75) [.75, 1]; the cell (1, 1) = 0.1 is ignored, n = 5:
#   bin 0: empty
#   bin 1: 0.3 (y 0), 0.35 (y 1): count 2, conf 0.325, acc 0.5, sum(y - p) = -0.3 + 0.65 = 0.35
#   bin 2: 0.6 (y 0):             count 1, conf 0.6,   acc 0,   sum(y - p) = -0.6
#   bin 3: 0.9 (y 1), 1.0 (y 1):  count 2, conf 0.95,  acc 1,   sum(y - p) = 0.1 + 0 = 0.1
#   ECE = (2 * 0.175 + 1 * 0.6 + 2 * 0.05) / 5 = (0.35 + 0.6 + 0.1) / 5 = 0.21
#   brier = (0.1^2 + 0.3^2 + 0^2 + 0.6^2 + 0.65^2) / 5 = (0.01 + 0.09 + 0 + 0.36 + 0.4225) / 5
#         = 0.8825 / 5 = 0.1765
#   class 0: 0.9 (y 1) bin 3, 0.6 (y 0) bin 2: (|0.1| + |-0.6|) / 2 = 0.35
#   class 1: only 0.3 (y 0): no positive, left out of the class mean
#   class 2: 1.0 (y 1) bin 3, 0.35 (y 1) bin 1: (|0| + |0.65|) / 2 = 0.325
#   classwise_ECE = (0.35 + 0.325) / 2 = 0.3375
HAND_SCORES = torch.tensor([[0.9, 0.3, 1.0], [0.6, 0.1, 0.35]])
HAND_TARGET = torch.tensor([[1, 0, 1], [0, -1, 1]], dtype=torch.int8)


def test_hand_worked_example():
    values = calibration_errors(HAND_SCORES, HAND_TARGET, num_bins=4)
    assert values['ECE'] == pytest.approx(0.21, rel=1e-6)
    assert values['brier'] == pytest.approx(0.1765, rel=1e-6)
    assert values['classwise_ECE'] == pytest.approx(0.3375, rel=1e-6)
    bins = reliability_bins(HAND_SCORES, HAND_TARGET, num_bins=4)
    assert bins['count'].tolist() == [0, 2, 1, 2]
    np.testing.assert_allclose(bins['confidence'].numpy(), [np.nan, 0.325, 0.6, 0.95], rtol=1e-6)
    np.testing.assert_allclose(bins['accuracy'].numpy(), [np.nan, 0.5, 0.0, 1.0])
    assert bins['count'].dtype == torch.int64 and bins['accuracy'].dtype == torch.float64


# --- against the transcription and scikit-learn --------------------------------------------


@pytest.mark.parametrize('seed, num_bins', [(0, 15), (1, 10), (2, 5), (3, 1), (4, 37)])
def test_matches_the_formulas_on_random_data_with_ignored_cells(seed, num_bins):
    scores, target = random_case(seed)
    expected = reference(scores, target, num_bins)
    values = calibration_errors(scores, target, num_bins)
    for key in ('ECE', 'classwise_ECE', 'brier'):
        assert values[key] == pytest.approx(expected[key], rel=1e-9, abs=1e-12), key
    bins = reliability_bins(scores, target, num_bins)
    np.testing.assert_array_equal(bins['count'].numpy(), expected['bins']['count'])
    for key in ('confidence', 'accuracy'):
        np.testing.assert_allclose(bins[key].numpy(), expected['bins'][key], rtol=1e-12)
    # the default is 15 bins
    if num_bins == 15:
        assert calibration_errors(scores, target) == values


def test_brier_is_sklearns_on_the_non_ignored_cells():
    for seed in range(3):
        scores, target = random_case(seed, n=80, c=9)
        keep = (target >= 0).numpy()
        expected = brier_score_loss(target.numpy()[keep], scores.numpy()[keep].astype(np.float64))
        assert calibration_errors(scores, target)['brier'] == pytest.approx(expected, rel=1e-9)


def test_bool_target_and_float64_scores():
    scores, target = random_case(5, ignored=0.0)
    target[3] = 0
    expected = calibration_errors(scores, target)
    values = calibration_errors(scores.double(), target == 1)
    for key in expected:
        assert values[key] == pytest.approx(expected[key], rel=1e-12)


def test_large_input_crosses_row_blocks(monkeypatch):
    scores, target = random_case(6, n=300, c=7)
    whole = calibration_errors(scores, target)
    weights = torch.randint(0, 3, (4, 300))
    whole_weighted = calibration_errors(scores, target, weights=weights)
    monkeypatch.setattr(calibration_module, '_BLOCK_CELLS', 50)  # 7 rows a block
    assert calibration_errors(scores, target) == pytest.approx(whole, rel=1e-12)
    blocked = calibration_errors(scores, target, weights=weights)
    for key in ('ECE', 'brier'):
        torch.testing.assert_close(blocked[key], whole_weighted[key], rtol=1e-12, atol=0)


# --- edge cases ------------------------------------------------------------------------------


def test_bin_edges_one_and_zero():
    # 4 bins: 0.0 -> bin 0, 0.25 -> bin 1 (left-closed), 0.5 -> bin 2, 1.0 -> bin 3 (closed at 1)
    scores = torch.tensor([[0.0, 0.25, 0.5, 1.0]])
    target = torch.tensor([[0, 0, 1, 1]])
    bins = reliability_bins(scores, target, num_bins=4)
    assert bins['count'].tolist() == [1, 1, 1, 1]
    assert bins['confidence'].tolist() == [0.0, 0.25, 0.5, 1.0]
    # a perfectly confident, correct prediction has no error at all
    values = calibration_errors(torch.tensor([[1.0, 0.0]]), torch.tensor([[1, 0]]))
    assert values == dict(ECE=0.0, classwise_ECE=0.0, brier=0.0)
    # one bin: ECE is |mean score - fraction positive|
    scores, target = random_case(7)
    keep = target >= 0
    gap = abs(float(scores[keep].double().mean()) - float((target[keep] == 1).double().mean()))
    assert calibration_errors(scores, target, num_bins=1)['ECE'] == pytest.approx(gap, rel=1e-9)


def test_empty_bins_are_nan_and_weigh_nothing():
    scores = torch.tensor([[0.05, 0.95], [0.02, 0.97]])
    target = torch.tensor([[0, 1], [0, 1]])
    bins = reliability_bins(scores, target)
    assert bins['count'].tolist() == [2] + [0] * 13 + [2]
    assert torch.isnan(bins['confidence'][1:14]).all() and torch.isnan(bins['accuracy'][1:14]).all()
    # (|0 - 0.035| * 2 + |1 - 0.96| * 2) / 4
    assert calibration_errors(scores, target)['ECE'] == pytest.approx(0.0375, rel=1e-6)


def test_no_positive_class_gives_nan_classwise_ece():
    scores = torch.tensor([[0.2, 0.7], [0.1, 0.4]])
    values = calibration_errors(scores, torch.tensor([[0, 0], [0, -1]]), num_bins=2)
    assert math.isnan(values['classwise_ECE'])
    # still an ECE and a Brier score: bins [0, .5): 0.2, 0.1, (0.4 ignored) [.5, 1]: 0.7
    assert values['ECE'] == pytest.approx((0.3 + 0.7) / 3, rel=1e-6)
    assert values['brier'] == pytest.approx((0.04 + 0.49 + 0.01) / 3, rel=1e-6)


def test_every_cell_ignored_raises():
    scores = torch.tensor([[0.2, 0.7]])
    target = torch.tensor([[-1, -1]])
    with pytest.raises(ValueError, match='every cell of the target is ignored'):
        calibration_errors(scores, target)
    with pytest.raises(ValueError, match='every cell of the target is ignored'):
        calibration_errors(scores, target, weights=torch.ones(2, 1))
    bins = reliability_bins(scores, target)  # descriptive: empty bins
    assert bins['count'].sum() == 0 and torch.isnan(bins['accuracy']).all()


# --- bootstrap weights ------------------------------------------------------------------------


def test_weights_equal_the_explicitly_repeated_data():
    scores, target = random_case(8, n=40, c=5)
    g = torch.Generator().manual_seed(9)
    weights = torch.randint(0, 4, (6, 40), generator=g)
    weights[2] = 0  # a replicate that draws nothing
    weights[4] = 0
    weights[4, 3] = 5  # draws only sample 3, whose labels are all ignored
    values = calibration_errors(scores, target, num_bins=10, weights=weights)
    assert set(values) == {'ECE', 'brier'}
    for key in values:
        assert values[key].shape == (6, ) and values[key].dtype == torch.float64
    for b in range(6):
        if b in (2, 4):
            assert math.isnan(values['ECE'][b]) and math.isnan(values['brier'][b])
            continue
        repeat = weights[b].numpy()
        s = np.repeat(scores.numpy(), repeat, axis=0)
        t = np.repeat(target.numpy(), repeat, axis=0)
        expected = reference(s, t, 10)
        assert float(values['ECE'][b]) == pytest.approx(expected['ECE'], rel=1e-9)
        assert float(values['brier'][b]) == pytest.approx(expected['brier'], rel=1e-9)
        unweighted = calibration_errors(torch.from_numpy(s), torch.from_numpy(t), num_bins=10)
        assert float(values['ECE'][b]) == pytest.approx(unweighted['ECE'], rel=1e-9)
    # all ones: the point estimate; a scale does not change a replicate; float weights work
    ones = calibration_errors(scores, target, num_bins=10, weights=torch.ones(1, 40))
    point = calibration_errors(scores, target, num_bins=10)
    assert float(ones['ECE'][0]) == pytest.approx(point['ECE'], rel=1e-12)
    assert float(ones['brier'][0]) == pytest.approx(point['brier'], rel=1e-12)
    scaled = calibration_errors(scores, target, num_bins=10, weights=weights * 2.5)
    torch.testing.assert_close(scaled['ECE'], values['ECE'], equal_nan=True)
    torch.testing.assert_close(scaled['brier'], values['brier'], equal_nan=True)


# --- bad arguments --------------------------------------------------------------------------


@pytest.mark.parametrize('kwargs, message', [
    (dict(num_bins=0), 'num_bins must be an int >= 1, got 0'),
    (dict(num_bins=2.5), 'num_bins must be an int >= 1, got 2.5'),
    (dict(num_bins=True), 'num_bins must be an int >= 1, got True'),
    (dict(target=torch.zeros(2, 2)), r'target shape \(2, 2\) does not match the scores shape'),
    (dict(target=torch.full((2, 3), 2)), 'target values must be 1 .* sample 0, class 0 is 2'),
    (dict(scores=torch.tensor([[0.5, 1.5, 0.2], [0.1, 0.2, 0.3]])),
     'scores must be probabilities in \\[0, 1\\]'),
    (dict(scores=torch.tensor([[0.5, float('nan'), 0.2], [0.1, 0.2, 0.3]])), 'NaN or infinite'),
    (dict(scores=torch.rand(6)), r'scores must have shape \(N, C\)'),
    (dict(weights=torch.ones(3)), r'weights must have shape \(B, N\) = \(B, 2\)'),
    (dict(weights=torch.ones(3, 5)), r'weights must have shape \(B, N\) = \(B, 2\).*\(3, 5\)'),
    (dict(weights=torch.ones(0, 2)), 'weights holds no replicate'),
    (dict(weights=torch.tensor([[1.0, 1.0], [1.0, -1.0]])),
     'weights must be finite and non-negative .* replicate 1, sample 1 is -1.0'),
    (dict(weights=torch.tensor([[1.0, float('nan')]])), 'replicate 0, sample 1 is nan'),
])
def test_bad_arguments_name_the_problem(kwargs, message):
    args = {**dict(scores=HAND_SCORES, target=HAND_TARGET), **kwargs}
    with pytest.raises(ValueError, match=message):
        calibration_errors(**args)
    if 'weights' not in kwargs:
        with pytest.raises(ValueError, match=message):
            reliability_bins(**args)


def test_weights_must_be_a_tensor():
    with pytest.raises(TypeError, match='weights must be a torch.Tensor, got list'):
        calibration_errors(HAND_SCORES, HAND_TARGET, weights=[[1, 1]])


# --- the registered metric --------------------------------------------------------------------


def evaluate(metric_cfgs, samples, batch_size=4):
    evaluator = Evaluator([METRICS.build(cfg) for cfg in metric_cfgs])
    for start in range(0, len(samples), batch_size):
        evaluator.process(samples[start:start + batch_size])
    return evaluator.evaluate(len(samples))


def test_the_metric_reports_the_kernel_in_percent():
    scores, target = random_case(10, n=30, c=5)
    samples = make_samples(scores, gt_scores=target)
    result = evaluate([dict(type='MultiLabelCalibration'),
                       dict(type='MultiLabelCalibration', num_bins=10, items=('ECE', ),
                            prefix='calib10')], samples)
    expected = calibration_errors(scores, target)
    assert set(result) == {'multi-label/ECE', 'multi-label/classwise_ECE', 'multi-label/brier',
                           'calib10/ECE'}
    for key, value in expected.items():
        assert result[f'multi-label/{key}'] == pytest.approx(100 * value, rel=1e-12)
    assert result['calib10/ECE'] == pytest.approx(
        100 * calibration_errors(scores, target, 10)['ECE'], rel=1e-12)
    assert result['calib10/ECE'] != pytest.approx(result['multi-label/ECE'])  # bins matter


def test_the_metric_reads_gt_label_and_difficult_labels():
    scores = [[0.9, 0.8, 0.1], [0.2, 0.3, 0.7], [0.6, 0.1, 0.4]]
    labels = [[0], [2], [0, 2]]
    difficult = [[1], [], []]  # class 1 of sample 0 is only on difficult objects
    samples = make_samples(scores, labels=labels, difficult=difficult)
    for difficult_as, code in (('ignore', -1), ('negative', 0), ('positive', 1)):
        target = torch.tensor([[1, code, 0], [0, 0, 1], [1, 0, 1]])
        result = evaluate([dict(type='MultiLabelCalibration', difficult_as=difficult_as,
                                num_bins=5)], samples)
        expected = calibration_errors(torch.tensor(scores), target, 5)
        for key, value in expected.items():
            assert result[f'multi-label/{key}'] == pytest.approx(100 * value, rel=1e-12)


def test_the_metric_names_classes_left_out_of_classwise_ece(monkeypatch):
    messages = []
    monkeypatch.setattr('mmml_ext.evaluation.base.print_log',
                        lambda message, **kwargs: messages.append(message))
    scores, target = random_case(11, n=20, c=4)  # class 1 has no positive
    result = evaluate([dict(type='MultiLabelCalibration')], make_samples(scores, gt_scores=target))
    assert result['multi-label/classwise_ECE'] == pytest.approx(
        100 * reference(scores, target)['classwise_ECE'], rel=1e-9)
    assert messages == ['MultiLabelCalibration: 1 class(es) have no positive in the evaluated '
                        'data and are left out of classwise_ECE: 1']
    messages.clear()
    result = evaluate([dict(type='MultiLabelCalibration')],
                      make_samples([[0.2, 0.7]], gt_scores=[[0, 0]]))
    assert math.isnan(result['multi-label/classwise_ECE'])
    assert result['multi-label/ECE'] == pytest.approx(100 * (0.2 + 0.7) / 2, rel=1e-6)
    assert messages == ['MultiLabelCalibration: no class has a positive in the evaluated data: '
                        'classwise_ECE is NaN']
    messages.clear()
    evaluate([dict(type='MultiLabelCalibration', items=('ECE', 'brier'))],
             make_samples([[0.2, 0.7]], gt_scores=[[0, 0]]))
    assert messages == []


def test_the_metric_with_every_cell_ignored_saves_the_predictions(tmp_path):
    metric = METRICS.build(dict(type='MultiLabelCalibration', out_dir=str(tmp_path)))
    metric.process(None, make_samples([[0.2, 0.7]], gt_scores=[[-1, -1]]))
    with pytest.raises(ValueError, match='every cell of the target is ignored.*saved first'):
        metric.evaluate(1)
    assert len(list(tmp_path.glob('predictions_*.npz'))) == 1


@pytest.mark.parametrize('cfg, message', [
    (dict(num_bins=0), 'num_bins must be an int >= 1, got 0'),
    (dict(num_bins='15'), "num_bins must be an int >= 1, got '15'"),
    (dict(items=('ECE', 'mce')), r"MultiLabelCalibration has no item\(s\) \['mce'\]"),
    (dict(items=()), 'items must be a non-empty sequence of names'),
])
def test_the_metric_refuses_bad_arguments(cfg, message):
    with pytest.raises(ValueError, match=message):
        METRICS.build(dict(type='MultiLabelCalibration', **cfg))


def test_the_metric_is_registered_and_exported():
    assert METRICS.get('MultiLabelCalibration') is MultiLabelCalibration
    assert MultiLabelCalibration.ALL_ITEMS == ('ECE', 'classwise_ECE', 'brier')
    assert METRICS.build(dict(type='MultiLabelCalibration')).num_bins == 15


# --- temperature scaling -------------------------------------------------------------------

def reference_inverse_temperature(scores, target):
    """Each class's NLL, transcribed, minimised by scipy's bounded scalar search."""
    from scipy.optimize import minimize_scalar
    out = []
    for c in range(scores.shape[1]):
        keep = target[:, c] >= 0
        p = np.clip(scores[keep, c].astype(np.float64), 1e-7, 1 - 1e-7)
        z, y = np.log(p / (1 - p)), (target[keep, c] == 1).astype(np.float64)
        out.append(minimize_scalar(lambda a: np.sum(np.logaddexp(0, a * z) - y * a * z),
                                   bounds=(0.01, 100), method='bounded',
                                   options=dict(xatol=1e-9)).x)
    return np.array(out)


def test_temperature_minimises_each_class_nll(monkeypatch):
    rng = np.random.default_rng(3)
    target = (rng.random((300, 6)) < 0.3).astype(np.int64)
    # over- and under-confident classes: the true logit times 3 ... times 0.3
    logits = (2 * target - 1) * rng.gamma(2, 1, target.shape) * np.array([3, 2, 1, .6, .4, .3])
    scores = (1 / (1 + np.exp(-logits + rng.normal(0, 1.5, target.shape)))).astype(np.float32)
    target[rng.random(target.shape) < 0.1] = -1  # ignored cells take no part
    monkeypatch.setattr('mmml_ext.functional.temperature_scaling._BLOCK_CELLS', 600)  # 2 a block
    got = fit_inverse_temperature(torch.from_numpy(scores), torch.from_numpy(target))
    np.testing.assert_allclose(got.numpy(), reference_inverse_temperature(scores, target),
                               rtol=1e-6)
    calibrated = apply_inverse_temperature(torch.from_numpy(scores), got).numpy()
    assert calibrated.dtype == np.float32
    p = np.clip(scores.astype(np.float64), 1e-7, 1 - 1e-7)
    np.testing.assert_allclose(calibrated, 1 / (1 + np.exp(-got.numpy() * np.log(p / (1 - p)))),
                               rtol=1e-6)
    # the order of the scores of each class is kept (float32 may round two into a tie)
    order = np.argsort(scores, 0, kind='stable')
    assert (np.diff(np.take_along_axis(calibrated, order, 0), axis=0) >= 0).all()


def test_temperature_edge_cases():
    scores = torch.tensor([[0.9, 0.2, 0.7], [0.1, 0.3, 0.4], [0.8, 0.4, 0.3], [0.2, 0.1, 0.1]])
    target = torch.tensor([[1, 0, 1], [0, 0, 0], [1, 0, 1], [0, 0, 0]])  # class 2 overlaps
    a = fit_inverse_temperature(scores, target)
    assert a[0] == 100.0  # positives all above negatives: the NLL falls without end, capped
    assert math.isnan(a[1])  # no positive: nothing to fit
    assert 0.01 < a[2] < 100
    assert torch.equal(apply_inverse_temperature(scores, a)[:, 1], scores[:, 1])  # NaN: as is
    with pytest.raises(ValueError, match='2 inverse temperatures for 3 classes'):
        apply_inverse_temperature(scores, a[:2])
    with pytest.raises(ValueError, match='one shape'):
        fit_inverse_temperature(scores, target[:2])
    assert float(a[2]) == pytest.approx(reference_inverse_temperature(
        scores.numpy()[:, 2:], target.numpy()[:, 2:])[0], rel=1e-6)
