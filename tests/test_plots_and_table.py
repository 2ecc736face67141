"""The comparison's terminal table and figures: run names readable at any width, plots looked at.

Runs are faked as ``tools/train.py`` / ``tools/test.py`` leave them (scalars.json,
the test log, ``per_class/test.json``, the dumped config); the figures are read
back as images and checked pixel by pixel, and their matplotlib figures are
caught before they are closed to check titles, legends and ticks.
"""
import io
import json
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from mmengine.config import Config
from rich.console import Console

from mmml_ext.experiments import compare_runs, plots
from mmml_ext.experiments.summary import SPLITS, rich_table, summary_metrics

LONG_NAMES = [
    'resnet18_shapes-lt_bce',
    'resnet18_shapes-lt_asl_gamma_neg-4_clip-0.05',
    'resnet18_shapes-lt_cb-focal_cas_beta-0.9999',
    'resnet18_shapes-lt_db_cas_map_alpha-0.1_beta-10',
    'resnet18_shapes-lt_bce_rfs_oversample_thr-0.1',
    'resnet18_shapes-lt_focal_gamma-2',
    'resnet18_shapes-lt_asl_gamma_neg-2_clip-0.0',
    'resnet18_shapes-lt_cb-bce_beta-0.999',
    'resnet18_shapes-lt_ldam_max_m-0.5',
    'resnet18_shapes-lt_bce_lr-2e-3_wd-5e-4',
]
#: training images per class of the fake dataset (long-tailed; bounds 20 / 100)
TRAIN_COUNTS = [400, 260, 180, 120, 90, 70, 55, 40, 30, 24, 18, 14, 11, 8, 6, 5, 4, 3, 3, 2]
EPOCHS = 4
ITERS_PER_EPOCH = 12


def write_lines(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(json.dumps(row) + '\n' for row in rows))


def write_run(root: Path, name: str, val: dict, test: dict = None, classes: list = None,
              train_cfg: dict = None, tag: str = 'test') -> Path:
    """A run dir: validations {step: {metric: value}}, a test, a per-class report, a config."""
    run = root / name
    rows = [dict(lr=0.1, loss=1.0 / (1 + i), epoch=1 + i // ITERS_PER_EPOCH, iter=i + 1,
                 step=i + 1) for i in range(0, EPOCHS * ITERS_PER_EPOCH, 4)]
    rows += [{**{f'multi-label/{k}': v for k, v in metrics.items()}, 'step': step}
             for step, metrics in val.items()]
    write_lines(run / '20260101_000000' / 'vis_data' / 'scalars.json', rows)
    if test is not None:
        write_lines(run / '20260101_010000' / '20260101_010000.json',
                    [{**{f'multi-label/{k}': v for k, v in test.items()}, 'step': 0}])
    if classes is not None:
        (run / 'per_class').mkdir(parents=True, exist_ok=True)
        (run / 'per_class' / f'{tag}.json').write_text(json.dumps(dict(thr=0.5, classes=classes)))
    Config(dict(model=dict(head=dict(loss=dict(type='CrossEntropyLoss', use_sigmoid=True))),
                val_evaluator=[dict(type='MeanAP', group_bounds=(20, 100))],
                train_cfg=train_cfg or dict(type='EpochBasedTrainLoop', max_epochs=EPOCHS))
           ).dump(str(run / f'{name}.py'))
    return run


def fake_metrics(rng, quality: float, tuned: bool, test: bool) -> dict:
    """Metrics of an imbalanced run: high precision, low recall at 0.5 (CR <= 45 even tuned)."""
    values = {'mAP': 30 + 30 * quality, 'mAP_head': 65 + 20 * quality,
              'mAP_medium': 35 + 25 * quality, 'mAP_tail': 5 + 25 * quality,
              'CP': 55 + 25 * rng.random(), 'CR': 8 + 20 * quality, 'OP': 60 + 20 * rng.random(),
              'OR': 15 + 20 * quality}
    values['CF1'] = 2 * values['CP'] * values['CR'] / (values['CP'] + values['CR'])
    values['OF1'] = 2 * values['OP'] * values['OR'] / (values['OP'] + values['OR'])
    if tuned:
        suffix = '_valtuned' if test else '_tuned'
        cp, cr = values['CP'] - 15, values['CR'] + 15
        values.update({f'CP{suffix}': cp, f'CR{suffix}': cr,
                       f'CF1{suffix}': 2 * cp * cr / (cp + cr), f'OF1{suffix}': values['OF1'] + 5})
    return {k: round(float(v), 3) for k, v in values.items()}


def fake_classes(rng, quality: float, no_ap: int) -> list:
    """A per-class report; the ``no_ap`` rarest classes have no positive in the test set."""
    rows = []
    for c, count in enumerate(TRAIN_COUNTS):
        ap = float(np.clip(20 + 15 * np.log(count) * (0.5 + quality) + rng.normal(0, 8), 0, 100))
        rows.append(dict(class_name=f'class_{c:02d}', support=0 if c >= len(TRAIN_COUNTS) - no_ap
                         else 5, train_count=count,
                         ap=None if c >= len(TRAIN_COUNTS) - no_ap else round(ap, 2)))
    return rows


def realistic_runs(root: Path, names=LONG_NAMES, no_ap: int = 2, seed: int = 0) -> list:
    """Ten runs as a sweep leaves them: four validations, a test, a per-class report each.

    Runs at an even place have tuned thresholds; the others do not (older metrics).
    """
    rng = np.random.default_rng(seed)
    dirs = []
    for i, name in enumerate(names):
        quality = (i + 1) / (len(names) + 1)
        tuned = i % 2 == 0
        val = {e: fake_metrics(rng, quality * e / EPOCHS, tuned, test=False)
               for e in range(1, EPOCHS + 1)}
        dirs.append(write_run(root, name, val, fake_metrics(rng, quality, tuned, test=True),
                              fake_classes(rng, quality, no_ap)))
    return dirs


@pytest.fixture
def caught_figures(monkeypatch):
    """The figures the plots close, by file name: their titles, legends and ticks stay readable."""
    figures = {}
    save, close = plots._save, plots.plt.close

    def keep(fig, out_dir, name):
        figures[name] = fig
        return save(fig, out_dir, name)

    monkeypatch.setattr(plots, '_save', keep)
    monkeypatch.setattr(plots.plt, 'close', lambda fig=None: None)
    yield figures
    for fig in figures.values():
        close(fig)


def look_at(path: Path, min_size=(300, 400), max_size=(3000, 4000)) -> np.ndarray:
    """The PNG as RGB floats, checked: its size in range, and not blank."""
    image = mpimg.imread(str(path))[..., :3]
    height, width = image.shape[:2]
    assert min_size[0] <= height <= max_size[0] and min_size[1] <= width <= max_size[1], \
        f'{path.name} is {width}x{height}'
    assert image.std() > 0.05, f'{path.name} is blank'
    assert (image.min(axis=2) < 0.9).mean() > 0.01, f'{path.name} has almost nothing drawn'
    return image


def colored(image: np.ndarray) -> np.ndarray:
    """Pixels of a run's color: saturated, unlike the black text and the grey grid."""
    return (image.max(axis=2) - image.min(axis=2)) > 0.3


def right_edge_of_axes(image: np.ndarray) -> int:
    """The image column of the rightmost axes frame: a dark line over much of the height."""
    dark = (image.max(axis=2) < 0.35).mean(axis=0)
    frames = np.nonzero(dark > 0.3)[0]
    assert len(frames), 'no axes frame found'
    return int(frames.max())


def legend_texts(fig) -> list:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


# ---------------------------------------------------------------- the terminal table


def summary_rows(names, seed=0) -> list:
    """Summary rows as ``summary_row`` makes them, every metric of every split a number."""
    rng = np.random.default_rng(seed)
    return [dict(run=name, **{f'{s}_{m}': round(float(rng.uniform(0, 100)), 4)
                              for s in SPLITS for m in summary_metrics()}) for name in names]


def printed(renderable, width: int) -> list:
    console = Console(file=io.StringIO(), width=width)
    console.print(renderable)
    return console.file.getvalue().splitlines()


@pytest.mark.parametrize('width', [80, 100, 160])
def test_terminal_table_shows_every_run_name_whole_and_fits_the_width(width):
    rows = summary_rows(LONG_NAMES)
    lines = printed(rich_table(rows, width=width), width)
    assert max(len(line) for line in lines) <= width
    for row in rows:
        holding = [line for line in lines if row['run'] in line.split()]
        assert len(holding) == 1, f'{row["run"]} is not whole on one line at width {width}'
        # its test mAP is shown, on its line (a table) or right below it (a block)
        after = lines[lines.index(holding[0]):lines.index(holding[0]) + 2]
        assert f'{row["test_mAP"]:.1f}' in ' '.join(after)


def test_wide_terminal_table_shows_every_metric_and_narrow_one_says_what_it_left_out():
    rows = summary_rows(LONG_NAMES[:3])
    wide = printed(rich_table(rows, width=160), 160)
    line = next(line for line in wide if rows[1]['run'] in line)
    for metric in ('mAP', 'mAP_head', 'CR', 'CF1_tuned', 'OF1_tuned'):
        assert f'{rows[1][f"test_{metric}"]:.1f}' in line
    narrow = printed(rich_table(rows, width=80), 80)
    assert 'not shown at this width' in ' '.join(narrow)
    assert not any('not shown' in line for line in wide)


@pytest.mark.parametrize('width', [48, 56])
def test_very_narrow_console_gets_one_block_per_run(width):
    rows = summary_rows(['run_a', 'resnet18_shapes-lt_cb-focal_cas_beta-0.9999'])
    lines = printed(rich_table(rows, split='last', width=width), width)
    assert max(len(line) for line in lines) <= width
    for row in rows:  # the name alone on its line, all its numbers below
        start = lines.index(row['run'])
        block = ' '.join(lines[start + 1:start + 6])
        for metric in ('mAP', 'mAP_tail', 'CF1', 'OF1_tuned'):
            assert f'{row[f"last_{metric}"]:.1f}' in block


def test_compare_prints_names_whole_on_a_piped_console(tmp_path):
    realistic_runs(tmp_path / 'runs', no_ap=0)
    console = Console(file=io.StringIO(), width=80)  # what rich gives a pipe
    compare_runs([str(tmp_path / 'runs')], str(tmp_path / 'report'), console=console)
    lines = console.file.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    for name in LONG_NAMES:
        assert any(name in line.split() for line in lines), name


def test_compare_says_why_a_plot_is_missing(tmp_path):
    write_run(tmp_path / 'runs', 'only_val', {1: {'mAP': 30.0}, 2: {'mAP': 35.0}})
    console = Console(file=io.StringIO(), width=120)
    result = compare_runs([str(tmp_path / 'runs')], str(tmp_path / 'report'), console=console)
    assert result.plots == ['curves.png']
    out = console.file.getvalue()
    for name in ('precision_recall.png', 'per_class_ap.png', 'group_map.png'):
        assert f'No {name}: no run has' in out


# ---------------------------------------------------------------- the figures


def test_ten_runs_figures_are_drawn_and_readable(tmp_path, caught_figures):
    realistic_runs(tmp_path / 'runs')
    result = compare_runs([str(tmp_path / 'runs')], str(tmp_path / 'report'))
    assert set(result.plots) == {'curves.png', 'precision_recall.png', 'per_class_ap.png',
                                 'group_map.png'}
    images = {name: look_at(tmp_path / 'report' / name) for name in result.plots}
    # every run is named in every legend, whole
    for name, fig in caught_figures.items():
        texts = ' '.join(legend_texts(fig))
        assert all(run in texts for run in LONG_NAMES), name

    # precision / recall: the points sit at CR <= 45, the left half of the axes; the legend is
    # right of the axes, so the image right of the axes' frame holds the runs' colors, and the
    # axes' right half none
    pr = images['precision_recall.png']
    edge = right_edge_of_axes(pr)
    assert colored(pr[:, edge + 3:]).sum() > 100, 'no legend right of the axes'
    assert edge < 0.8 * pr.shape[1]
    ax = caught_figures['precision_recall.png'].axes[0]
    assert ax.get_legend() is not None
    assert ax.get_legend().get_bbox_to_anchor().x0 >= ax.bbox.x1  # outside the axes
    labels = legend_texts(caught_figures['precision_recall.png'])
    untuned = [n for i, n in enumerate(LONG_NAMES) if i % 2 == 1]
    assert sorted(lbl for lbl in labels if lbl.endswith('(no tuned thresholds)')) == sorted(
        f'{n} (no tuned thresholds)' for n in untuned)
    assert 'open: tuned thresholds' in ax.get_title()

    # curves: integer epoch ticks, 'epoch' on the x axis, one legend for the four panels
    fig = caught_figures['curves.png']
    assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in fig.axes)
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        assert set(range(1, EPOCHS + 1)) <= set(int(t) for t in ticks)
    assert [ax.get_xlabel() for ax in fig.axes[2:]] == ['epoch', 'epoch']
    curves = images['curves.png']
    assert colored(curves[:, right_edge_of_axes(curves) + 3:]).sum() > 100  # the legend, right

    # per-class AP: one dot per run and class that has an AP, two classes without
    fig = caught_figures['per_class_ap.png']
    ax = fig.axes[0]
    dots = sum(len(c.get_offsets()) for c in ax.collections)
    assert dots == len(LONG_NAMES) * (len(TRAIN_COUNTS) - 2)
    assert f'2 of {len(TRAIN_COUNTS)} classes have no AP' in ax.get_title()
    assert len(ax.get_xticklabels()) == len(TRAIN_COUNTS) - 2
    assert ax.get_xticklabels()[0].get_text() == f'class_00 ({TRAIN_COUNTS[0]})'
    assert colored(images['per_class_ap.png']).sum() > 1000  # the dots

    # group mAP: three groups with bars in the runs' colors
    fig = caught_figures['group_map.png']
    # the fake configs' MeanAP bounds (20, 100)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [
        'head (> 100)', 'medium (20 to 100)', 'tail (< 20)']
    assert colored(images['group_map.png']).sum() > 1000


def test_per_class_ap_is_drawn_when_one_class_has_no_ap(tmp_path, caught_figures):
    classes = [dict(class_name='cat', train_count=50, ap=80.0),
               dict(class_name='dog', train_count=12, ap=35.0),
               dict(class_name='newt', train_count=1, ap=None)]  # no positive in the test set
    write_run(tmp_path / 'runs', 'small_real_data', {1: {'mAP': 57.5}}, {'mAP': 57.5}, classes)
    result = compare_runs([str(tmp_path / 'runs')], str(tmp_path / 'report'))
    assert 'per_class_ap.png' in result.plots
    look_at(tmp_path / 'report' / 'per_class_ap.png')
    ax = caught_figures['per_class_ap.png'].axes[0]
    assert sorted(ap for c in ax.collections for _, ap in c.get_offsets()) == [35.0, 80.0]
    assert '1 of 3 classes have no AP' in ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == ['cat (50)', 'dog (12)']


def test_per_class_ap_legend_says_which_run_lacks_how_many(tmp_path, caught_figures):
    tested = [dict(class_name='cat', train_count=50, ap=80.0),
              dict(class_name='dog', train_count=12, ap=None)]
    validated = [dict(class_name='cat', train_count=50, ap=70.0),
                 dict(class_name='dog', train_count=12, ap=20.0)]
    write_run(tmp_path / 'runs', 'run_tested', {1: {'mAP': 80.0}}, {'mAP': 80.0}, tested)
    write_run(tmp_path / 'runs', 'run_validated', {1: {'mAP': 45.0}}, None, validated,
              tag='val_epoch_1')
    compare_runs([str(tmp_path / 'runs')], str(tmp_path / 'report'))
    look_at(tmp_path / 'report' / 'per_class_ap.png')
    fig = caught_figures['per_class_ap.png']
    assert legend_texts(fig) == ['run_tested (test; 1 of 2 classes without AP)',
                                 'run_validated (val_epoch_1)']
    assert '0 to 1 of 2 classes have no AP' in fig.axes[0].get_title()
    # dog has an AP in one run: it stays on the axis
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ['cat (50)', 'dog (12)']


def test_group_map_names_a_group_without_class(tmp_path, caught_figures):
    # a small training set: no class above 100 images, so no head mAP
    for name, tail in (('run_one', 10.0), ('run_two', 20.0)):
        write_run(tmp_path / 'runs', name, {1: {'mAP': 40.0}},
                  {'mAP': 40.0, 'mAP_medium': 50.0, 'mAP_tail': tail})
    result = compare_runs([str(tmp_path / 'runs')], str(tmp_path / 'report'))
    assert 'group_map.png' in result.plots
    look_at(tmp_path / 'report' / 'group_map.png')
    ax = caught_figures['group_map.png'].axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        'head (> 100)\n(no class)', 'medium (20 to 100)', 'tail (< 20)']
    assert sorted(p.get_height() for p in ax.patches) == [10.0, 20.0, 50.0, 50.0]


def test_precision_recall_without_tuned_thresholds_promises_no_open_markers(
        tmp_path, caught_figures):
    write_run(tmp_path / 'runs', 'old_metrics', {1: {'mAP': 40.0, 'CP': 70.0, 'CR': 20.0}})
    compare_runs([str(tmp_path / 'runs')], str(tmp_path / 'report'))
    look_at(tmp_path / 'report' / 'precision_recall.png')
    ax = caught_figures['precision_recall.png'].axes[0]
    assert 'open' not in ax.get_title()
    assert legend_texts(ax.figure) == ['old_metrics (no tuned thresholds)']
    assert [tuple(c.get_offsets()[0]) for c in ax.collections] == [(20.0, 70.0)]


def test_curves_of_an_iteration_based_run_say_iteration(tmp_path, caught_figures):
    val = {500: {'mAP': 20.0}, 1000: {'mAP': 30.0}, 1500: {'mAP': 33.0}}
    write_run(tmp_path / 'runs', 'by_iter', val,
              train_cfg=dict(type='IterBasedTrainLoop', max_iters=1500, val_interval=500))
    compare_runs([str(tmp_path / 'runs')], str(tmp_path / 'report'))
    look_at(tmp_path / 'report' / 'curves.png')
    fig = caught_figures['curves.png']
    assert [ax.get_xlabel() for ax in fig.axes[2:]] == ['iteration', 'iteration']
    ax = fig.axes[0]
    assert [tuple(xy) for xy in ax.lines[0].get_xydata()] == [(500, 20.0), (1000, 30.0),
                                                              (1500, 33.0)]


def test_curves_of_epoch_and_iteration_runs_together_show_progress(tmp_path, caught_figures):
    write_run(tmp_path / 'runs', 'a_by_epoch', {1: {'mAP': 20.0}, 2: {'mAP': 30.0}})
    write_run(tmp_path / 'runs', 'b_by_iter', {500: {'mAP': 25.0}, 1000: {'mAP': 35.0}},
              train_cfg=dict(type='IterBasedTrainLoop', max_iters=2000))
    compare_runs([str(tmp_path / 'runs')], str(tmp_path / 'report'))
    look_at(tmp_path / 'report' / 'curves.png')
    fig = caught_figures['curves.png']
    assert fig.axes[2].get_xlabel().startswith('training progress (%')
    # epochs 1, 2 of EPOCHS; iterations 500, 1000 of 2000
    by_epoch, by_iter = fig.axes[0].lines
    assert list(by_epoch.get_xdata()) == [100 * 1 / EPOCHS, 100 * 2 / EPOCHS]
    assert list(by_iter.get_xdata()) == [25.0, 50.0]
    assert legend_texts(fig) == ['a_by_epoch (by epoch)', 'b_by_iter (by iteration)']


def test_one_failing_plot_does_not_stop_the_others(tmp_path, monkeypatch):
    from mmml_ext.experiments import plots
    from mmml_ext.experiments.run_records import RunRecord

    def broken(records, out_dir):
        raise RuntimeError('a broken figure')

    monkeypatch.setitem(plots.PLOTS, 'curves.png', broken)
    record = RunRecord('run', str(tmp_path), val={1: {'multi-label/mAP': 50.0},
                                                  2: {'multi-label/mAP': 60.0}})
    failures = {}
    written = plots.plot_all([record], str(tmp_path), failures)
    assert failures == {'curves.png': 'RuntimeError: a broken figure'}
    assert 'curves.png' not in written


def test_step_unit_follows_how_mmengine_logged_the_metrics():
    from mmengine.config import Config
    from mmml_ext.experiments.plots import step_unit
    from mmml_ext.experiments.run_records import RunRecord
    by_iter = Config(dict(train_cfg=dict(by_epoch=True, max_epochs=3),
                          default_hooks=dict(logger=dict(log_metric_by_epoch=False))))
    by_epoch = Config(dict(train_cfg=dict(by_epoch=True, max_epochs=3)))
    assert step_unit(RunRecord('a', '.', config=by_iter)) == 'iteration'
    assert step_unit(RunRecord('b', '.', config=by_epoch)) == 'epoch'


@pytest.mark.parametrize('width', [120, 48])
def test_a_run_without_a_test_shows_its_last_validation_marked(width):
    rows = summary_rows(['tested', 'untested'])
    for key in list(rows[1]):
        if key.startswith('test_'):
            rows[1][key] = ''  # as summary_row leaves a run that was never tested
    lines = printed(rich_table(rows, width=width), width)
    text = ' '.join(' '.join(lines).split())
    assert '(val): not tested, its last validation' in text
    at = next(i for i, line in enumerate(lines) if 'untested (val)' in line)
    shown = ' '.join(lines[at:at + 2])
    assert f'{rows[1]["last_mAP"]:.1f}' in shown and '–' not in shown.split()[2:3]
    tested = next(line for line in lines if line.split()[:1] == ['tested'])
    assert '(val)' not in tested


def test_curves_of_a_single_validation_have_integer_ticks(tmp_path, monkeypatch):
    from mmml_ext.experiments import plots
    from mmml_ext.experiments.run_records import read_run
    run = write_run(tmp_path, 'once', {2: dict(mAP=40.0, mAP_tail=10.0, CF1=30.0, OF1=35.0)})
    figures = []
    real_close = plots.plt.close
    monkeypatch.setattr(plots.plt, 'close', lambda fig=None: figures.append(fig) or
                        real_close(fig))
    assert plots.plot_curves([read_run(str(run))], str(tmp_path)) == 'curves.png'
    [figure] = [f for f in figures if f is not None]
    for ax in figure.axes[:4]:
        low, high = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if low <= t <= high]
        assert 2 in ticks and all(float(t).is_integer() for t in ticks), ticks


def test_what_several_runs_lack_is_said_once_naming_them():
    from mmml_ext.experiments.report import missing_lines
    missing = dict(a=['test lacks CP_top3 OF1_top3', 'no dumped config'],
                   b=['test lacks CP_top3 OF1_top3'], c=[])
    assert missing_lines(missing) == ['test lacks CP_top3 OF1_top3: 2 runs (a, b)',
                                      'a: no dumped config']
    # a part that holds '; ' itself stays one part
    assert missing_lines(dict(d=['x.json:3 is not JSON; skipped'])) == [
        'd: x.json:3 is not JSON; skipped']


def test_a_settings_seeds_are_drawn_as_one_mean_with_their_spread(tmp_path, caught_figures):
    """Two settings of two seeds: one legend entry per setting in every figure, the points at
    the seeds' mean (recomputed here from the faked values) and the spread from the lowest to
    the highest seed."""
    rng = np.random.default_rng(4)
    root, made = tmp_path / 'runs', {}
    for setting, quality in (('bce', 0.3), ('asl', 0.6)):
        for seed in (0, 1):
            name = f'{setting}_seed-{seed}'
            val = {e: fake_metrics(rng, quality * e / EPOCHS, True, test=False)
                   for e in range(1, EPOCHS + 1)}
            test, classes = fake_metrics(rng, quality, True, test=True), fake_classes(rng, quality, 2)
            run = write_run(root, name, val, test, classes)
            (run / 'sweep_run.json').write_text(json.dumps(dict(
                name=name, config=f'{name}.py', grid={}, cfg_options=[], seed=seed,
                setting=setting, stages={})))
            made[name] = dict(val=val, test=test, classes=classes)
    result = compare_runs([str(root)], str(tmp_path / 'report'))
    assert {'curves.png', 'precision_recall.png', 'per_class_ap.png', 'group_map.png'} <= set(
        result.plots)
    for name, fig in caught_figures.items():
        assert legend_texts(fig) == ['asl (mean of 2 seeds)', 'bce (mean of 2 seeds)'], name

    # the runs are read in name order: asl first
    # curves: the line is the seeds' mean at each epoch, the band their range
    ax = caught_figures['curves.png'].axes[0]  # validation mAP
    for line, band, setting in zip(ax.lines, ax.collections, ('asl', 'bce')):
        seeds = [[made[f'{setting}_seed-{s}']['val'][e]['mAP'] for s in (0, 1)]
                 for e in range(1, EPOCHS + 1)]
        assert list(line.get_xdata()) == list(range(1, EPOCHS + 1))
        assert line.get_ydata() == pytest.approx([np.mean(v) for v in seeds])
        outline = band.get_paths()[0].vertices[:, 1]
        assert min(outline) == pytest.approx(min(map(min, seeds)))
        assert max(outline) == pytest.approx(max(map(max, seeds)))

    # precision / recall: the filled marker at the seeds' mean CR, CP; each seed a small mark
    ax = caught_figures['precision_recall.png'].axes[0]
    offsets = [c.get_offsets() for c in ax.collections]
    asl = [made[f'asl_seed-{s}']['test'] for s in (0, 1)]
    assert list(offsets[0][0]) == pytest.approx([np.mean([t['CR'] for t in asl]),
                                           np.mean([t['CP'] for t in asl])])
    np.testing.assert_allclose(sorted(map(tuple, offsets[1])),
                               sorted((t['CR'], t['CP']) for t in asl))

    # per-class AP: a dot per class at the seeds' mean, a line from the lowest to the highest
    ax = caught_figures['per_class_ap.png'].axes[0]
    aps = [[made[f'asl_seed-{s}']['classes'][c]['ap'] for s in (0, 1)]
           for c in range(len(TRAIN_COUNTS) - 2)]
    dots, spread = ax.collections[:2]  # asl's dots, then its spread lines
    assert list(dots.get_offsets()[:, 1]) == pytest.approx([np.mean(a) for a in aps])
    segments = spread.get_segments()
    np.testing.assert_allclose([s[:, 1] for s in segments], [(min(a), max(a)) for a in aps])

    # group mAP: bars at the seeds' mean, each seed a dot
    ax = caught_figures['group_map.png'].axes[0]
    heights = [p.get_height() for p in ax.patches]
    tests = {g: [[made[f'{setting}_seed-{s}']['test'][f'mAP_{g}'] for s in (0, 1)]
                 for setting in ('bce', 'asl')] for g in ('head', 'medium', 'tail')}
    assert heights == pytest.approx([np.mean(tests[g][i]) for i in (1, 0)
                                     for g in ('head', 'medium', 'tail')])
    seed_dots = sorted(y for c in ax.collections for _, y in c.get_offsets())
    assert seed_dots == pytest.approx(sorted(v for g in tests.values() for pair in g
                                             for v in pair))
