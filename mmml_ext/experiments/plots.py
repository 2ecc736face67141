"""The comparison's figures (matplotlib, PNG), one function per figure.

- ``curves.png``: validation mAP, tail mAP, CF1 and OF1 per epoch (or
  iteration), a line per run, one legend for the four panels;
- ``precision_recall.png``: CP against CR of each run at the fixed 0.5
  threshold and at tuned thresholds, with iso-F1 curves: where a loss sits on
  the precision / recall trade-off, and how much tuning moves it;
- ``per_class_ap.png``: a dot plot, each class's AP, classes sorted by their
  number of training images (head left, tail right), a marker per run: where
  a setting helps the tail;
- ``group_map.png``: head / medium / tail mAP per run.

The runs of one setting (a sweep's seeds) are drawn as one: their mean, with
their spread (the band or bar from the lowest to the highest seed, or each
seed as a small mark), and one legend entry per setting that says how many
seeds it averages. A setting keeps its color and marker in every figure; the
legends sit outside the axes. What a figure leaves out (a run without the
data, a class without AP) is said in the figure. Each function returns the
file name it wrote, or None when no run has the data (:data:`PLOT_NEEDS` says
what that is).
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use('Agg')  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..evaluation.ap_metrics import DEFAULT_GROUP_BOUNDS  # noqa: E402
from .run_records import RunRecord, config_group_bounds  # noqa: E402
from .summary import metric_value  # noqa: E402

CURVE_METRICS = (('mAP', 'mAP'), ('mAP_tail', 'tail mAP'), ('CF1', 'CF1 at 0.5'),
                 ('OF1', 'OF1 at 0.5'))
#: MeanAP's default ``group_bounds``: tail n < 20, medium 20 <= n <= 100, head n > 100
_MARKERS = ('o', 's', '^', 'D', 'v', 'P', 'X', '<', '>', '*')
#: classes on the per-class axis above which only some ticks are labelled
_MAX_LABELLED_CLASSES = 60


def _styles(records: Sequence[RunRecord]) -> Dict[str, Tuple[tuple, str]]:
    """Setting -> (color, marker), by the setting's place among all runs' settings, the same in
    every figure, whichever of its seeds a figure shows (look it up with :func:`_style`)."""
    names = list(dict.fromkeys(r.setting for r in records))
    colors = plt.get_cmap('tab10' if len(names) <= 10 else 'tab20')(np.arange(len(names)) % 20)
    return {name: (tuple(c), _MARKERS[i % len(_MARKERS)])
            for i, (name, c) in enumerate(zip(names, colors))}


def _style(styles: Dict[str, Tuple[tuple, str]], runs: Sequence[RunRecord]) -> Tuple[tuple, str]:
    """(color, marker) of the setting of ``runs``."""
    return styles[runs[0].setting]


def by_setting(records: Sequence[RunRecord]) -> List[Tuple[str, List[RunRecord]]]:
    """The runs grouped by setting (their seeds), settings in the order of their first run.

    A setting of one run is named by its run (the name a user gave or the sweep wrote); a
    setting of several runs by the setting's name.
    """
    groups: Dict[str, List[RunRecord]] = {}
    for record in records:
        groups.setdefault(record.setting, []).append(record)
    return [(runs[0].name if len(runs) == 1 else setting, runs) for setting, runs in groups.items()]


def _setting_label(name: str, runs: Sequence[RunRecord], said: Sequence[str] = ()) -> str:
    """The legend entry of a setting: its name, how many seeds its mean is of, and ``said``."""
    said = ([f'mean of {len(runs)} seeds'] if len(runs) > 1 else []) + list(said)
    return f'{name} ({"; ".join(said)})' if said else name


def _spread(values: Sequence[Optional[float]]) -> Optional[Tuple[float, float, float]]:
    """(mean, lowest, highest) of the values that exist; None when none does."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    return float(np.mean(present)), float(min(present)), float(max(present))


def _legend_outside(ax_or_fig, handles=None, labels=None, **kwargs):
    """A legend right of the axes (or of the figure's panels), one column up to 16 entries."""
    if handles is None:
        handles, labels = ax_or_fig.get_legend_handles_labels()
    kwargs = dict(dict(loc='upper left', bbox_to_anchor=(1.01, 1), borderaxespad=0,
                       fontsize=8, ncol=1 if len(handles) <= 16 else 2), **kwargs)
    return ax_or_fig.legend(handles, labels, **kwargs)


def _note(fig, lines: Sequence[str]) -> None:
    """Small grey text under the axes: what the figure leaves out, and why."""
    if lines:
        fig.text(0.01, -0.01, '\n'.join(lines), ha='left', va='top', fontsize=8, color='0.35',
                 wrap=True)


def _spread_note(records: Sequence[RunRecord], how: str) -> List[str]:
    """The note that says how a setting's seeds are drawn, when some setting has several."""
    if all(len(runs) == 1 for _, runs in by_setting(records)):
        return []
    return [f'a setting of several seeds: the mean of its seeds; {how}']


def _left_out(names: Sequence[str], why: str) -> List[str]:
    """A note naming the runs a figure leaves out (none: no note)."""
    if not names:
        return []
    return [f'not shown ({why}): {", ".join(names)}']


def _save(fig, out_dir: str, name: str) -> str:
    """Write ``name`` with everything drawn outside the axes (legends, notes) included."""
    fig.savefig(osp.join(out_dir, name), dpi=110, bbox_inches='tight', pad_inches=0.15,
                facecolor='white')
    plt.close(fig)
    return name


def step_unit(record: RunRecord) -> Optional[str]:
    """``epoch`` or ``iteration``: what the steps of a run's validations count; None if unknown.

    mmengine's ``LoggerHook`` logs validation metrics at the epoch unless
    ``log_metric_by_epoch=False`` (then at the iteration), so the config's
    logger decides first; then its training loop, else the per-class report's
    tag (``val_epoch_<n>`` / ``val_iter_<n>``), else the training log (an
    epoch-based loop logs the epoch of each step).
    """
    logger = {}
    if record.config is not None:
        logger = (record.config.get('default_hooks') or {}).get('logger') or {}
    if logger.get('log_metric_by_epoch') is False:
        return 'iteration'
    train_cfg = (record.config.get('train_cfg') or {}) if record.config is not None else {}
    loop = str(train_cfg.get('type', ''))
    if 'IterBased' in loop or train_cfg.get('by_epoch') is False or (
            'max_iters' in train_cfg and 'max_epochs' not in train_cfg):
        return 'iteration'
    if 'EpochBased' in loop or train_cfg.get('by_epoch') is True or 'max_epochs' in train_cfg:
        return 'epoch'
    if record.per_class_source.startswith('val_iter_'):
        return 'iteration'
    if record.per_class_source.startswith('val_epoch_'):
        return 'epoch'
    if record.train_loss:
        return 'epoch' if any(e is not None for e, _, _ in record.train_loss) else 'iteration'
    return None


def _run_length(record: RunRecord) -> float:
    """A run's planned epochs (iterations): ``max_epochs`` (``max_iters``), else its last step."""
    train_cfg = (record.config.get('train_cfg') or {}) if record.config is not None else {}
    planned = train_cfg.get('max_iters' if step_unit(record) == 'iteration' else 'max_epochs')
    return float(planned) if planned else float(max(max(record.val), 1))


def plot_curves(records: Sequence[RunRecord], out_dir: str) -> Optional[str]:
    """Validation metrics per epoch (or iteration), a line per run, one legend for the panels.

    Runs by epoch and runs by iteration together are drawn against their
    progress (percent of the run's planned epochs or iterations) instead.
    """
    shown = [r for r in records if r.val]
    if not shown:
        return None
    styles = _styles(records)
    units = {r.name: step_unit(r) for r in shown}
    known = {u for u in units.values() if u}
    mixed = len(known) > 1
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    handles, labels = [], []
    for name, runs in by_setting(shown):
        color, marker = _style(styles, runs)
        line = None
        for ax, (metric, _) in zip(axes.flat, CURVE_METRICS):
            at: Dict[float, List[Optional[float]]] = {}  # step -> the seeds' values
            for record in runs:
                scale = 100 / _run_length(record) if mixed else 1
                for step, values in record.val.items():
                    at.setdefault(step * scale, []).append(metric_value(values, metric, 'val'))
            points = [(step, _spread(at[step])) for step in sorted(at)]
            points = [(step, spread) for step, spread in points if spread is not None]
            if not points:
                continue
            steps, spreads = zip(*points)
            means, lows, highs = zip(*spreads)
            line, = ax.plot(steps, means, marker=marker, ms=4, lw=1.2, color=color)
            if len(runs) > 1:  # the seeds' spread: lowest to highest
                ax.fill_between(steps, lows, highs, color=color, alpha=0.18, lw=0)
        if line is not None:
            unit = f'by {units[runs[0].name] or "unknown step"}' if mixed else ''
            handles.append(line)
            labels.append(_setting_label(name, runs, [unit] if unit else []))
    for ax, (metric, title) in zip(axes.flat, CURVE_METRICS):
        ax.set_title(f'validation {title}')
        ax.set_ylabel('%')
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if not ax.lines:
            ax.text(0.5, 0.5, f'no run logged {metric}', transform=ax.transAxes, ha='center',
                    va='center', color='0.4')
            ax.set_yticks([])
    drawn = [x for ax in axes.flat for line in ax.lines for x in line.get_xdata()]
    if drawn and max(drawn) - min(drawn) < 1:  # one evaluation: integer ticks around it
        axes[0][0].set_xlim(min(drawn) - 1, max(drawn) + 1)
    xlabel = ("training progress (% of each run's epochs or iterations)" if mixed else
              known.pop() if known else 'evaluation step (epoch or iteration)')
    for ax in axes[1]:
        ax.set_xlabel(xlabel)
        ax.tick_params(labelbottom=True)
    fig.tight_layout()
    _legend_outside(fig, handles, labels, bbox_to_anchor=(1.0, 0.97))
    _note(fig, _spread_note(shown, 'the band spans its lowest to highest seed') +
          _left_out([r.name for r in records if not r.val], 'no validation metrics'))
    return _save(fig, out_dir, 'curves.png')


def _pr_points(record: RunRecord):
    """((CR, CP) at 0.5, (CR, CP) tuned or None, split) from test, else last validation."""
    values, split = record.final_values()
    fixed = (metric_value(values, 'CR', split), metric_value(values, 'CP', split))
    tuned = (metric_value(values, 'CR_tuned', split), metric_value(values, 'CP_tuned', split))
    if None in fixed:
        return None
    return fixed, (None if None in tuned else tuned), split


def plot_precision_recall(records: Sequence[RunRecord], out_dir: str) -> Optional[str]:
    """CP vs CR at 0.5 (filled) and at tuned thresholds (open), with iso-F1 lines."""
    points = {r.name: _pr_points(r) for r in records}
    if all(p is None for p in points.values()):
        return None
    styles = _styles(records)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    recall = np.linspace(0.01, 100, 400)
    for f1 in (20, 40, 60, 80):
        with np.errstate(divide='ignore', invalid='ignore'):
            precision = f1 * recall / (2 * recall - f1)
        keep = (precision > 0) & (precision <= 100)
        ax.plot(recall[keep], precision[keep], color='0.85', lw=0.8, zorder=0)
        ax.annotate(f'F1={f1}', (recall[keep][-1], precision[keep][-1]), fontsize=7, color='0.5',
                    xytext=(-2, 3), textcoords='offset points', ha='right', va='bottom',
                    bbox=dict(fc='white', ec='none', pad=0.5))
    any_tuned = False
    for name, runs in by_setting(records):
        mine = [points[r.name] for r in runs if points[r.name] is not None]
        if not mine:
            continue
        color, marker = _style(styles, runs)
        fixed = tuple(np.mean([p[0] for p in mine], axis=0))
        tuned = [p[1] for p in mine if p[1] is not None]
        tuned = tuple(np.mean(tuned, axis=0)) if tuned else None
        label = _setting_label(name, runs, [] if tuned is not None else ['no tuned thresholds'])
        ax.scatter(*fixed, color=color, marker=marker, s=45, label=label, zorder=3)
        if len(mine) > 1:  # each seed, small and pale, around the mean
            ax.scatter(*zip(*[p[0] for p in mine]), color=color, marker=marker, s=12,
                       alpha=0.45, zorder=2)
        if tuned is not None:
            any_tuned = True
            ax.scatter(*tuned, facecolors='none', edgecolors=color, marker=marker, s=70,
                       linewidths=1.3, zorder=3)
            ax.annotate('', tuned, fixed, arrowprops=dict(arrowstyle='->', color=color, lw=0.8))
    splits = sorted({p[2] for p in points.values() if p is not None})
    how = 'filled: threshold 0.5; open: tuned thresholds' if any_tuned else 'at threshold 0.5'
    ax.set(xlim=(0, 100), ylim=(0, 100), xlabel='CR (%)', ylabel='CP (%)',
           title=f'Precision / recall ({" and ".join(splits)})\n{how}')
    ax.grid(alpha=0.3)
    fig.tight_layout()  # the axes keep their size: the legend widens the image
    _legend_outside(ax)
    _note(fig, _spread_note([r for r in records if points[r.name] is not None],
                            'the small marks: its seeds at 0.5') +
          _left_out([r.name for r in records if points[r.name] is None], 'no CP / CR'))
    return _save(fig, out_dir, 'precision_recall.png')


def _group_bounds(records: Sequence[RunRecord]) -> Optional[Tuple[float, float]]:
    """``MeanAP``'s ``group_bounds`` in the runs' configs (default where unset); None if differing."""
    found = {config_group_bounds(r.config) for r in records if r.config is not None}
    found.discard(None)
    if len(found) > 1:
        return None
    return found.pop() if found else DEFAULT_GROUP_BOUNDS


def _class_order(usable: Sequence[RunRecord]) -> List[Tuple[str, Optional[int]]]:
    """(class name, training images) of every class with an AP in some run, most images first."""
    rows = [row for record in usable for row in record.per_class]
    counts: Dict[str, Optional[int]] = {
        str(row.get('class_name')): None for row in rows if row.get('ap') is not None}
    for row in rows:  # a run without counts takes them from another run
        name = str(row.get('class_name'))
        if name in counts and counts[name] is None:
            counts[name] = row.get('train_count')
    unknown = [n for n, c in counts.items() if c is None]
    known = sorted((n for n, c in counts.items() if c is not None), key=lambda n: -counts[n])
    return [(n, counts[n]) for n in known + unknown]


def _mark_groups(ax, classes: Sequence[Tuple[str, Optional[int]]],
                 bounds: Tuple[float, float]) -> None:
    """Dashed lines between head, medium and tail classes, and the groups named on top."""
    low, high = bounds
    group = ['?' if c is None else 'head' if c > high else 'tail' if c < low else 'medium'
             for _, c in classes]
    start = 0
    for i in range(1, len(group) + 1):
        if i == len(group) or group[i] != group[start]:
            if group[start] != '?':
                ax.text((start + i - 1) / 2, 1.01, group[start], transform=ax.get_xaxis_transform(),
                        ha='center', va='bottom', fontsize=8, color='0.3')
            if i < len(group):
                ax.axvline(i - 0.5, color='0.5', ls='--', lw=0.8)
            start = i


def _class_aps(runs: Sequence[RunRecord]) -> Dict[str, Optional[Tuple[float, float, float]]]:
    """Class name -> (mean, lowest, highest) AP over the runs (seeds) that have one; None when
    no run has an AP for the class."""
    found: Dict[str, List[Optional[float]]] = {}
    for record in runs:
        for row in record.per_class:
            found.setdefault(str(row.get('class_name')), []).append(row.get('ap'))
    return {name: _spread(values) for name, values in found.items()}


def plot_per_class_ap(records: Sequence[RunRecord], out_dir: str) -> Optional[str]:
    """A dot plot of per-class AP, classes sorted by training images, a marker per run.

    A class with no AP (no positive in the evaluated set: ``ap`` is null in the
    per-class report) has no dot; how many there are is said in the title (and
    in a run's legend entry when runs differ). A class with no AP in any run is
    left off the axis.
    """
    usable = [r for r in records if any(row.get('ap') is not None for row in r.per_class)]
    if not usable:
        return None
    styles = _styles(records)
    classes = _class_order(usable)
    position = {name: i for i, (name, _) in enumerate(classes)}
    n = len(classes)
    settings = by_setting(usable)
    fig, ax = plt.subplots(figsize=(min(24, max(9, 0.28 * n + 4)), 5.5))
    width = 0.7 if len(settings) > 1 else 0.0
    offsets = np.linspace(-width / 2, width / 2, len(settings)) if len(settings) > 1 else [0.0]
    aps = {name: _class_aps(runs) for name, runs in settings}
    no_ap = {name: sum(a is None for a in aps[name].values()) for name, _ in settings}
    same_missing = len(set(no_ap.values())) == 1
    sources = {r.per_class_source for r in usable}
    for (name, runs), offset in zip(settings, offsets):
        color, marker = _style(styles, runs)
        shown = [(position[c], spread) for c, spread in aps[name].items() if spread is not None]
        x = [i + offset for i, _ in shown]
        said = [] if len(sources) == 1 else sorted({r.per_class_source for r in runs})
        if no_ap[name] and not same_missing:
            said.append(f'{no_ap[name]} of {len(aps[name])} classes without AP')
        ax.scatter(x, [spread[0] for _, spread in shown], color=color, marker=marker, s=28,
                   alpha=0.85, label=_setting_label(name, runs, said), zorder=3)
        if len(runs) > 1:  # the seeds' spread of each class: lowest to highest
            ax.vlines(x, [spread[1] for _, spread in shown], [spread[2] for _, spread in shown],
                      color=color, lw=1, alpha=0.5, zorder=2)
    for i in range(1, n, 2):  # a band every other class, to tell the columns apart
        ax.axvspan(i - 0.5, i + 0.5, color='0.95', zorder=0)
    bounds = _group_bounds(usable)
    if bounds is not None and any(c is not None for _, c in classes):
        _mark_groups(ax, classes, bounds)
    labels = [f'{name} ({"?" if count is None else count})' for name, count in classes]
    step = 1 if n <= _MAX_LABELLED_CLASSES else int(np.ceil(n / _MAX_LABELLED_CLASSES))
    ax.set_xticks(range(0, n, step), labels[::step], rotation=90, fontsize=7)
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(-2, 102)
    source = f' ({sources.pop()} report)' if len(sources) == 1 else ''
    title = f'Per-class AP{source}, classes by training images (most first)'
    if any(no_ap.values()):
        counted = max(len(r.per_class) for r in usable)
        many = (str(max(no_ap.values())) if same_missing else
                f'{min(no_ap.values())} to {max(no_ap.values())}')
        title += (f'\n{many} of {counted} classes have no AP (no positive in the evaluated set): '
                  'no dot' + ('' if same_missing else ', see the legend'))
    ax.set(xlabel='class (training images)', ylabel='AP (%)')
    ax.set_title(title, pad=16)
    ax.grid(alpha=0.3, axis='y')
    fig.tight_layout()
    _legend_outside(ax)
    _note(fig, _spread_note(usable, 'the line through a dot spans its lowest to highest seed') +
          _left_out([r.name for r in records if r not in usable], 'no per-class AP'))
    return _save(fig, out_dir, 'per_class_ap.png')


def plot_group_map(records: Sequence[RunRecord], out_dir: str) -> Optional[str]:
    """Head / medium / tail mAP per run (test, else last validation); the groups a run has.

    A group with no class in it (a small training set may have no head class)
    has no bar, and the axis says which groups no run has. The groups' bounds
    come from the configs' ``MeanAP`` (its default where unset), when the runs agree.
    """
    groups = ('mAP_head', 'mAP_medium', 'mAP_tail')
    bars = []  # (setting, its runs with a group mAP, the seeds' values per group)
    for name, runs in by_setting(records):
        seeds = []
        for record in runs:
            values, split = record.final_values()
            row = [metric_value(values, g, split) for g in groups]
            if any(v is not None for v in row):
                seeds.append((record, row))
        if seeds:
            bars.append((name, [r for r, _ in seeds], [[row[j] for _, row in seeds]
                                                      for j in range(len(groups))]))
    if not bars:
        return None
    styles = _styles(records)
    fig, ax = plt.subplots(figsize=(max(7, 0.5 * len(bars) + 5), 5))
    x = np.arange(len(groups))
    width = 0.8 / len(bars)
    any_interval = False
    for i, (name, runs, per_group) in enumerate(bars):
        spreads = [_spread(values) for values in per_group]
        present = [j for j, spread in enumerate(spreads) if spread is not None]
        heights = [spreads[j][0] for j in present]
        place = x[present] + (i - (len(bars) - 1) / 2) * width
        spans = [runs[0].intervals.get(groups[j]) for j in present]
        yerr = None
        if len(runs) == 1 and spans and all(span is not None for span in spans):
            any_interval = True  # one run: the test's 95 % intervals
            yerr = [[max(h - span[1], 0) for h, span in zip(heights, spans)],
                    [max(span[2] - h, 0) for h, span in zip(heights, spans)]]
        ax.bar(place, heights, width, color=_style(styles, runs)[0],
               label=_setting_label(name, runs), yerr=yerr, capsize=2,
               error_kw=dict(lw=0.8, ecolor='0.2'))
        if len(runs) > 1:  # each seed a small dot on its setting's bar
            seeds = [(p, v) for p, j in zip(place, present) for v in per_group[j] if v is not None]
            ax.scatter(*zip(*seeds), color='0.15', s=8, zorder=3)
    bounds = _group_bounds(records)
    rules = ('', '', '') if bounds is None else (
        f' (> {bounds[1]:g})', f' ({bounds[0]:g} to {bounds[1]:g})', f' (< {bounds[0]:g})')
    labels = [g + rule + ('' if any(v is not None for _, _, per_group in bars
                                    for v in per_group[j]) else '\n(no class)')
              for j, (g, rule) in enumerate(zip(('head', 'medium', 'tail'), rules))]
    ax.set_xticks(x, labels)
    ax.set(ylabel='mAP (%)', title='mAP by class frequency group', ylim=(0, 100),
           xlabel='group (training images per class)' if bounds else 'group')
    ax.grid(alpha=0.3, axis='y')
    fig.tight_layout()
    _legend_outside(ax)
    shown = [r for _, runs, _ in bars for r in runs]
    drawn = {r.name for r in shown}
    bars_note = ['error bars: 95 % paired-bootstrap intervals of the test (a setting of one '
                 'run)'] if any_interval else []
    _note(fig, bars_note + _spread_note(shown, 'the dots on its bar are its seeds') +
          _left_out([r.name for r in records if r.name not in drawn],
                    'no head / medium / tail mAP'))
    return _save(fig, out_dir, 'group_map.png')


#: every figure, by file name
PLOTS = {'curves.png': plot_curves, 'precision_recall.png': plot_precision_recall,
         'per_class_ap.png': plot_per_class_ap, 'group_map.png': plot_group_map}

#: what a figure needs from at least one run, said when no run has it
PLOT_NEEDS = {
    'curves.png': 'validation metrics (scalars.json)',
    'precision_recall.png': 'CP and CR (MultiLabelPRF)',
    'per_class_ap.png': 'a per-class report with an AP (MeanAP, per_class/*.json)',
    'group_map.png': 'head / medium / tail mAP (MeanAP with training class counts)',
}


def plot_all(records: Sequence[RunRecord], out_dir: str,
             failures: Optional[Dict[str, str]] = None) -> List[str]:
    """Every figure that the runs have data for; the file names written.

    A figure that fails to draw does not stop the others: its error goes to
    ``failures`` (file name -> message) and its figure is closed.
    """
    names = []
    for name, plot in PLOTS.items():
        try:
            names.append(plot(records, out_dir))
        except Exception as error:  # the comparison's tables and other plots still matter
            plt.close('all')
            if failures is not None:
                failures[name] = f'{type(error).__name__}: {error}'
    return [name for name in names if name]
