"""The comparison's statistics: paired bootstrap intervals, seeds, differences, and what they say.

Reference values are recomputed here, independently: each replicate's test set is materialised
with the same drawn indices and scored with scikit-learn or plain numpy.
"""
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats
from sklearn import metrics as skm

import mmml_ext  # noqa: F401
from mmml_ext.experiments import compare_runs
from mmml_ext.experiments.statistics import verdict
from mmml_ext.functional.bootstrap import bootstrap_indices
from mmml_ext.run_facts import test_predictions
from seed_reference import shrunk_image_interval

N, C, B = 150, 6, 60
CLASSES = tuple('abcdef')
TRAIN_COUNTS = np.array([500, 200, 80, 40, 10, 3])  # head 0, 1; medium 2, 3; tail 4, 5


def labels(seed=0):
    target = (np.random.default_rng(seed).random((N, C)) < 0.3).astype(np.int8)
    target[:3] = 1  # every class has positives
    return target


def write_run(root: Path, name: str, scores, target, thresholds=None, sample_idx=None):
    run = root / name
    (run / '20260101_000000' / 'vis_data').mkdir(parents=True)
    if '_seed-' in name:  # as a sweep with --seeds records it
        setting, seed = name.rsplit('_seed-', 1)
        (run / 'sweep_run.json').write_text(json.dumps(dict(
            name=name, config='x.py', grid={}, cfg_options=[], seed=int(seed), setting=setting,
            stages={})))
    (run / '20260101_000000' / 'vis_data' / 'scalars.json').write_text(
        json.dumps({'multi-label/mAP': 50.0, 'step': 1}) + '\n')
    test_predictions.write(test_predictions.TestPredictions(
        scores.astype(np.float32), target, CLASSES,
        np.arange(N) if sample_idx is None else sample_idx,
        np.full(C, 0.4, np.float32) if thresholds is None else thresholds, TRAIN_COUNTS),
        str(run))
    return run


def scores_of(target, noise, seed):
    rng = np.random.default_rng(seed)
    return np.clip(0.5 * target + noise * rng.random(target.shape), 0, 1).round(2)


def papers_cf1(y, pred):
    present = y.sum(0) > 0  # the plugin's rule: classes without a positive left out
    p = skm.precision_score(y[:, present], pred[:, present], average='macro', zero_division=0)
    r = skm.recall_score(y[:, present], pred[:, present], average='macro', zero_division=0)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def independent_replicates(scores, target, indices):
    """mAP, tail mAP, CF1 at 0.5, subset accuracy and ECE of each materialised replicate."""
    out = {key: [] for key in ('mAP', 'mAP_tail', 'CF1', 'subset_accuracy', 'ECE')}
    scores = scores.astype(np.float32).astype(np.float64)  # the values the file keeps
    for idx in indices:
        s, y = scores[idx], target[idx]
        ap = [skm.average_precision_score(y[:, c], s[:, c]) if y[:, c].any() else np.nan
              for c in range(C)]
        out['mAP'].append(100 * np.nanmean(ap))
        out['mAP_tail'].append(100 * np.nanmean(ap[4:]) if not np.isnan(ap[4:]).all()
                               else np.nan)
        pred = (s >= 0.5).astype(int)
        out['CF1'].append(100 * papers_cf1(y, pred))
        out['subset_accuracy'].append(100 * np.mean((pred == y).all(axis=1)))
        bins = np.minimum((s.ravel() * 15).astype(int), 14)
        gaps = np.bincount(bins, weights=y.ravel() - s.ravel(), minlength=15)
        out['ECE'].append(100 * np.abs(gaps).sum() / s.size)
    return {key: np.array(value) for key, value in out.items()}


@pytest.fixture(scope='module')
def sweep_like(tmp_path_factory):
    """Two settings with three seeds each, one clearly better, and a copy of the baseline."""
    root = tmp_path_factory.mktemp('runs')
    target = labels()
    runs = dict(bce_seed_0=scores_of(target, 1.0, 1), bce_seed_1=scores_of(target, 1.02, 2),
                bce_seed_2=scores_of(target, 1.04, 5), asl_seed_0=scores_of(target, 0.45, 3),
                asl_seed_1=scores_of(target, 0.46, 4), asl_seed_2=scores_of(target, 0.47, 6))
    for name, scores in runs.items():
        write_run(root, name.replace('_seed_', '_seed-'), scores, target)
    shutil.copytree(root / 'bce_seed-0', root / 'copy')
    os.remove(root / 'copy' / 'sweep_run.json')  # a copy made by hand: a run of its own
    result = compare_runs([str(root)], str(root / 'report'), baseline='bce', bootstrap=B, seed=3)
    return dict(root=root, target=target, runs=runs, result=result)


def test_intervals_equal_an_independent_recomputation(sweep_like):
    stats, target = sweep_like['result'].statistics, sweep_like['target']
    indices = bootstrap_indices(N, B, 3)  # the same draws the comparison made
    scores = sweep_like['runs']['asl_seed_0']
    reference = independent_replicates(scores, target, indices)
    point = independent_replicates(scores, target, [np.arange(N)])
    for metric, values in reference.items():
        got_point, low, high = stats.runs['asl_seed-0'][metric]
        assert got_point == pytest.approx(point[metric][0], abs=1e-9), metric
        expected = np.nanpercentile(values, [2.5, 97.5])
        if metric.startswith('mAP') and 0 < got_point < 100:  # MeanAP's logit-basic
            # a replicate on a bound is moved 1e-6 of the range inside (the documented rule)
            logit = lambda x: (lambda f: np.log(f) - np.log1p(-f))(  # noqa: E731
                np.clip(x, 1e-4, 100 - 1e-4) / 100)
            z_low, z_high = np.nanpercentile(logit(values), [2.5, 97.5])
            centre = logit(point[metric][0])
            expected = 100 / (1 + np.exp(-np.array([2 * centre - z_high, 2 * centre - z_low])))
        assert (low, high) == pytest.approx(tuple(expected), abs=1e-9), metric


def test_seeds_are_one_setting_with_mean_and_sd(sweep_like):
    stats, target = sweep_like['result'].statistics, sweep_like['target']
    asl = stats.settings['asl']
    assert asl.runs == ['asl_seed-0', 'asl_seed-1', 'asl_seed-2']
    points = [independent_replicates(sweep_like['runs'][f'asl_seed_{s}'], target,
                                     [np.arange(N)])['mAP'][0] for s in (0, 1, 2)]
    assert asl.point['mAP'] == pytest.approx(np.mean(points))
    assert asl.sd['mAP'] == pytest.approx(np.std(points, ddof=1))
    rows = {row['run']: row for row in sweep_like['result'].rows}
    assert rows['asl_seed-1']['setting'] == 'asl' and rows['asl_seed-1']['seeds'] == 3
    assert rows['asl_seed-1']['test_mAP_mean'] == pytest.approx(np.mean(points), abs=1e-4)


def test_differences_against_the_baseline(sweep_like):
    stats, target = sweep_like['result'].statistics, sweep_like['target']
    assert stats.baseline == 'bce'
    # a run compared with a copy of itself differs by exactly 0, with the interval [0, 0]
    copy = sweep_like['result'].statistics.runs['copy']['mAP']
    base0 = sweep_like['result'].statistics.runs['bce_seed-0']['mAP']
    assert copy == base0
    indices = bootstrap_indices(N, B, 3)
    per_run = {name: independent_replicates(scores, target, indices)['mAP']
               for name, scores in sweep_like['runs'].items()}
    asl = [per_run[f'asl_seed_{s}'] for s in range(3)]
    bce = [per_run[f'bce_seed_{s}'] for s in range(3)]
    diff = np.mean(asl, axis=0) - np.mean(bce, axis=0)
    image_low, image_high = np.percentile(diff, [2.5, 97.5])  # shrunk below, once the point is known
    # the seeds' part: Welch's t on the two settings' point estimates
    points = {name: independent_replicates(scores, target, [np.arange(N)])['mAP'][0]
              for name, scores in sweep_like['runs'].items()}
    a = np.array([points[f'asl_seed_{s}'] for s in range(3)])
    b = np.array([points[f'bce_seed_{s}'] for s in range(3)])
    va, vb = a.var(ddof=1) / 3, b.var(ddof=1) / 3
    df = (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 2)
    margin = scipy_stats.t.ppf(0.975, df) * np.sqrt(va + vb)
    expected = a.mean() - b.mean()
    image_low, image_high = shrunk_image_interval(expected, image_low, image_high, [asl, bce], diff)
    delta, low, high = stats.deltas['asl']['mAP']
    assert delta == pytest.approx(expected, abs=1e-9)
    assert low == pytest.approx(expected - np.hypot(expected - image_low, margin), abs=1e-9)
    assert high == pytest.approx(expected + np.hypot(image_high - expected, margin), abs=1e-9)
    assert low > 0 and verdict('mAP', low, high) == 'better'
    # every run of asl beats every run of bce: probability of improvement 1
    assert stats.improvement['asl']['mAP'][0] == 1.0
    markdown = (sweep_like['root'] / 'report' / 'summary.md').read_text()
    assert '## Against bce' in markdown
    assert f'{delta:+.1f} [{low:+.1f}, {high:+.1f}] better' in markdown
    csv_header = (sweep_like['root'] / 'report' / 'summary.csv').read_text().splitlines()[0]
    for column in ('test_mAP_ci_low', 'test_mAP_ci_high', 'test_mAP_mean', 'test_mAP_sd',
                   'delta_test_mAP', 'delta_test_mAP_ci_low', 'delta_test_mAP_ci_high',
                   'delta_test_ECE_ci_high'):
        assert column in csv_header.split(',')
    assert {'calibration.png', 'differences.png'} <= set(sweep_like['result'].plots)


def test_verdicts_follow_the_intervals():
    assert verdict('mAP', 0.1, 2.0) == 'better' and verdict('mAP', -2.0, -0.1) == 'worse'
    assert verdict('mAP', -0.1, 2.0) == 'within noise' and verdict('mAP', 0.0, 0.0) == \
        'within noise'
    assert verdict('ECE', -2.0, -0.1) == 'better' and verdict('ECE', 0.1, 1.0) == 'worse'
    assert verdict('mAP', 0.1, 2.0, valid_share=0.5) == 'too few replicates'


def test_a_grid_value_ending_in_seed_is_no_training_seed(tmp_path):
    target = labels()
    for name in ('data_seed-1', 'data_seed-2'):  # e.g. --grid train_dataloader.dataset.seed=1,2
        write_run(tmp_path, name, scores_of(target, 1.0, 1), target)
        os.remove(tmp_path / name / 'sweep_run.json')  # no seed recorded: two settings
    result = compare_runs([str(tmp_path)], str(tmp_path / 'report'), bootstrap=10)
    assert sorted(result.statistics.settings) == ['data_seed-1', 'data_seed-2']


def test_bad_input_is_named_and_the_report_still_written(tmp_path, capsys):
    target = labels()
    write_run(tmp_path, 'a_first', scores_of(target, 1.0, 1), target)  # the reference: first
    other = labels(seed=5)
    write_run(tmp_path, 'other_labels', scores_of(other, 1.0, 1), other)
    shortened = write_run(tmp_path, 'fewer', scores_of(target, 1.0, 1), target)
    preds = test_predictions.read(test_predictions.path_in(str(shortened)))
    test_predictions.write(test_predictions.TestPredictions(
        preds.scores[:100], preds.target[:100], CLASSES, np.arange(100)), str(shortened))
    no_predictions = write_run(tmp_path, 'no_file', scores_of(target, 1.0, 1), target)
    os.remove(test_predictions.path_in(str(no_predictions)))
    result = compare_runs([str(tmp_path)], str(tmp_path / 'report'), baseline='nothing',
                          bootstrap=20)
    notes = ' '.join(result.statistics.notes)
    assert 'fewer was tested on another test set than a_first (100 images x 6 classes' in notes
    assert 'other_labels was tested on another test set than a_first (other images or ' \
        'labels)' in notes
    assert 'no_file: no test_predictions.npz' in notes
    assert "--baseline nothing names no compared run or setting" in notes
    assert set(result.statistics.runs) == {'a_first'}
    markdown = (tmp_path / 'report' / 'summary.md').read_text()
    assert 'Not in the statistics:' in markdown and 'no_file: no test_predictions.npz' in markdown
    assert (tmp_path / 'report' / 'summary.csv').is_file()


def test_a_setting_interval_covers_its_seeds(sweep_like):
    """The setting's interval: the image interval of the seed mean, widened margin by margin by
    Student's t on the seeds' standard error; one seed: the image interval alone, said so."""
    stats, target = sweep_like['result'].statistics, sweep_like['target']
    indices = bootstrap_indices(N, B, 3)
    per_run = [independent_replicates(sweep_like['runs'][f'asl_seed_{s}'], target, indices)['ECE']
               for s in range(3)]
    points = np.array([independent_replicates(sweep_like['runs'][f'asl_seed_{s}'], target,
                                              [np.arange(N)])['ECE'][0] for s in range(3)])
    seed_mean = np.mean(per_run, axis=0)
    mean = points.mean()
    image_low, image_high = shrunk_image_interval(  # ECE: percentile
        mean, *np.percentile(seed_mean, [2.5, 97.5]), [per_run], seed_mean)
    margin = scipy_stats.t.ppf(0.975, 2) * points.std(ddof=1) / np.sqrt(3)
    low, high = stats.settings['asl'].interval('ECE')
    assert low == pytest.approx(mean - np.hypot(mean - image_low, margin), abs=1e-9)
    assert high == pytest.approx(mean + np.hypot(image_high - mean, margin), abs=1e-9)
    assert high - low > image_high - image_low
    copy = stats.settings['copy']
    assert not copy.covers_seeds
    assert copy.interval('ECE') == pytest.approx(stats.runs['copy']['ECE'][1:], abs=1e-12)
    markdown = (sweep_like['root'] / 'report' / 'summary.md').read_text()
    assert '| copy | 1, images only |' in markdown
    assert 'Probability that a run of each setting beats a run of bce' in markdown
    row = {r['run']: r for r in sweep_like['result'].rows}['asl_seed-0']
    assert row['test_ECE_mean_ci_low'] == pytest.approx(low, abs=1e-4)
    assert row['improvement_test_mAP'] == 1.0


def test_intervals_the_coverage_study_did_not_verify_say_no_statement(sweep_like):
    stats = sweep_like['result'].statistics
    assert stats.num_images == N  # 150: below every size the study verified
    assert {'mAP', 'CF1', 'OF1', 'ECE', 'subset_accuracy'} <= set(stats.no_statement())
    markdown = (sweep_like['root'] / 'report' / 'summary.md').read_text()
    assert '*no statement*: on simulated populations' in markdown
    low, high = stats.settings['asl'].interval('mAP')
    assert f'[{low:.1f}, {high:.1f}] sd' in markdown and ' no statement |' in markdown
    row = {r['run']: r for r in sweep_like['result'].rows}['asl_seed-0']
    assert 'mAP' in row['no_statement'].split()
    # by the declarations: OF1 and AUROC held from 200 images, CF1, mAP and precision at recall
    # from 5,000; recall at precision and subset accuracy at no size
    for num, flagged, held in ((250, {'CF1', 'mAP', 'ECE', 'precision_at_recall'},
                                {'OF1', 'OF1_tuned', 'AUROC'}),
                               (5000, {'recall_at_precision', 'subset_accuracy'},
                                {'CF1', 'mAP', 'ECE', 'AUROC', 'precision_at_recall'})):
        stats.num_images = num
        found = set(stats.no_statement())
        assert flagged <= found and not held & found, num
    stats.num_images = N


def test_summary_md_and_the_terminal_lead_with_each_settings_verdict(sweep_like, capsys):
    from rich.console import Console
    from mmml_ext.experiments.verdicts import lead_table
    root = sweep_like['root']
    lines = (root / 'report' / 'summary.md').read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith('## '))
    assert lines[first] == '## Verdict against bce'
    rows = {row['run']: row for row in sweep_like['result'].rows}
    asl = rows['asl_seed-0']
    delta, low, high = (float(asl[f'delta_test_mAP{s}']) for s in ('', '_ci_low', '_ci_high'))
    said = 'better' if low > 0 else 'worse' if high < 0 else 'within noise'
    row = next(line for line in lines[first:] if line.startswith('| asl |'))
    assert f'{delta:+.1f} [{low:+.1f}, {high:+.1f}] **{said}**' in row
    assert row.split(' | ')[1] == '3'  # seeds
    base_row = next(line for line in lines[first:] if line.startswith('| bce |'))
    assert 'baseline' in base_row
    # the terminal: the setting's name whole on its line, then its metrics at 80 columns
    console = Console(width=80, file=None, color_system=None)
    console.print(lead_table(sweep_like['result'].statistics))
    printed = capsys.readouterr().out.splitlines()
    at = printed.index('asl  seeds: 3')
    assert printed[at + 1].split()[0] == 'mAP'
    assert printed[at + 1].endswith(f'{delta:+.1f} [{low:+.1f}, {high:+.1f}] {said}')


def test_differences_plot_shows_each_seed_beside_the_interval(sweep_like, tmp_path, monkeypatch):
    from mmml_ext.experiments import statistics_plots
    caught = {}
    monkeypatch.setattr(statistics_plots, '_save', lambda fig, out, name: caught.setdefault(
        name, fig) and name)
    stats, target = sweep_like['result'].statistics, sweep_like['target']
    assert statistics_plots.plot_differences(stats, str(tmp_path)) == 'differences.png'
    fig = caught['differences.png']
    ax = next(ax for ax in fig.axes if ax.get_title() == 'mAP')
    crosses = [c for c in ax.collections if len(c.get_offsets()) == 3]
    assert len(crosses) == 1, 'one row of seed marks for the one other setting'

    def map_of(name):
        return independent_replicates(sweep_like['runs'][name], target, [np.arange(N)])['mAP'][0]

    base_mean = np.mean([map_of(f'bce_seed_{s}') for s in (0, 1, 2)])
    expected = sorted(map_of(f'asl_seed_{s}') - base_mean for s in (0, 1, 2))
    assert sorted(crosses[0].get_offsets()[:, 0]) == pytest.approx(expected, abs=1e-6)
    delta, low, high = stats.deltas['asl']['mAP']
    assert low <= np.mean(expected) <= high  # the mean difference sits inside its interval
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "a seed: its value - the baseline's mean" in legend
    statistics_plots.plt.close(fig)
