"""The comparison's figures (matplotlib, PNG), one function per figure.

- ``curves.png``: validation mAP, tail mAP, CF1 and OF1 per epoch, a line per run;
- ``precision_recall.png``: CP against CR of each run at the fixed 0.5
  threshold and at tuned thresholds, with iso-F1 curves: where a loss sits on
  the precision / recall trade-off, and how much tuning moves it;
- ``per_class_ap.png``: each class's AP against its number of training
  images, a series per run: where a setting helps the tail;
- ``group_map.png``: head / medium / tail mAP per run.

Each function returns the file name it wrote, or None when no run has the data.
"""
import os.path as osp
from typing import List, Optional, Sequence

import matplotlib

matplotlib.use('Agg')  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .run_records import RunRecord  # noqa: E402
from .summary import metric_value  # noqa: E402

CURVE_METRICS = (('mAP', 'mAP'), ('mAP_tail', 'tail mAP'), ('CF1', 'CF1 at 0.5'),
                 ('OF1', 'OF1 at 0.5'))


def _colors(n: int):
    return plt.get_cmap('tab10' if n <= 10 else 'tab20')(np.arange(n) % 20)


def _save(fig, out_dir: str, name: str) -> str:
    fig.tight_layout()
    fig.savefig(osp.join(out_dir, name), dpi=110)
    plt.close(fig)
    return name


def plot_curves(records: Sequence[RunRecord], out_dir: str) -> Optional[str]:
    """Validation metrics per epoch, a line per run."""
    if not any(r.val for r in records):
        return None
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for record, color in zip(records, _colors(len(records))):
        epochs = sorted(record.val)
        for ax, (metric, _) in zip(axes.flat, CURVE_METRICS):
            points = [(e, metric_value(record.val[e], metric, 'val')) for e in epochs]
            points = [(e, v) for e, v in points if v is not None]
            if points:
                ax.plot(*zip(*points), marker='o', ms=3, color=color, label=record.name)
    for ax, (_, title) in zip(axes.flat, CURVE_METRICS):
        ax.set_title(f'validation {title}')
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel('epoch')
    axes[0, 0].legend(fontsize=7)
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
    points = [(r, _pr_points(r)) for r in records]
    points = [(r, p) for r, p in points if p is not None]
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    recall = np.linspace(0.01, 100, 400)
    for f1 in (20, 40, 60, 80):
        with np.errstate(divide='ignore', invalid='ignore'):
            precision = f1 * recall / (2 * recall - f1)
        keep = (precision > 0) & (precision <= 100)
        ax.plot(recall[keep], precision[keep], color='0.85', lw=0.8, zorder=0)
        ax.annotate(f'F1={f1}', (recall[keep][-1], precision[keep][-1]), fontsize=7, color='0.6')
    for (record, (fixed, tuned, split)), color in zip(points, _colors(len(points))):
        ax.scatter(*fixed, color=color, s=40, label=record.name, zorder=3)
        if tuned is not None:
            ax.scatter(*tuned, facecolors='none', edgecolors=color, s=60, zorder=3)
            ax.annotate('', tuned, fixed, arrowprops=dict(arrowstyle='->', color=color, lw=0.8))
    splits = sorted({p[2] for _, p in points})
    ax.set(xlim=(0, 100), ylim=(0, 100), xlabel='CR (%)', ylabel='CP (%)',
           title=f'Precision / recall ({" and ".join(splits)}): filled at 0.5, open at '
           'tuned thresholds')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc='lower left')
    return _save(fig, out_dir, 'precision_recall.png')


def plot_per_class_ap(records: Sequence[RunRecord], out_dir: str) -> Optional[str]:
    """Per-class AP against training images per class, a series per run."""
    usable = [r for r in records if r.per_class and all(
        row.get('train_count') is not None and row.get('ap') is not None for row in r.per_class)]
    if not usable:
        return None
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for record, color in zip(usable, _colors(len(usable))):
        counts = np.array([row['train_count'] for row in record.per_class], dtype=float)
        ap = np.array([row['ap'] for row in record.per_class], dtype=float)
        order = np.argsort(counts, kind='stable')
        ax.plot(counts[order], ap[order], marker='o', ms=3, lw=1, color=color,
                label=f'{record.name} ({record.per_class_source})')
    ax.set_xscale('log')
    ax.set(xlabel='training images of the class (log)', ylabel='AP (%)',
           title='Per-class AP against training frequency')
    ax.grid(alpha=0.3, which='both')
    ax.legend(fontsize=7)
    return _save(fig, out_dir, 'per_class_ap.png')


def plot_group_map(records: Sequence[RunRecord], out_dir: str) -> Optional[str]:
    """Head / medium / tail mAP per run (test, else last validation); the groups a run has.

    A group with no class in it (a small training set may have no head class)
    has no bar, and the axis says which groups no run has.
    """
    groups = ('mAP_head', 'mAP_medium', 'mAP_tail')
    bars = []
    for record in records:
        values, split = record.final_values()
        row = [metric_value(values, g, split) for g in groups]
        if any(v is not None for v in row):
            bars.append((record.name, row))
    if not bars:
        return None
    fig, ax = plt.subplots(figsize=(max(7, 0.9 * len(bars) + 3), 5))
    x = np.arange(len(groups))
    width = 0.8 / len(bars)
    for i, ((name, row), color) in enumerate(zip(bars, _colors(len(bars)))):
        present = [j for j, v in enumerate(row) if v is not None]
        ax.bar(x[present] + (i - (len(bars) - 1) / 2) * width, [row[j] for j in present], width,
               color=color, label=name)
    labels = [g if any(row[j] is not None for _, row in bars) else f'{g}\n(no class)'
              for j, g in enumerate(('head', 'medium', 'tail'))]
    ax.set_xticks(x, labels)
    ax.set(ylabel='mAP (%)', title='mAP by class frequency group', ylim=(0, 100))
    ax.grid(alpha=0.3, axis='y')
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, out_dir, 'group_map.png')


#: every figure, by file name
PLOTS = {'curves.png': plot_curves, 'precision_recall.png': plot_precision_recall,
         'per_class_ap.png': plot_per_class_ap, 'group_map.png': plot_group_map}


def plot_all(records: Sequence[RunRecord], out_dir: str) -> List[str]:
    """Every figure that the runs have data for; the file names written."""
    names = [plot(records, out_dir) for plot in PLOTS.values()]
    return [name for name in names if name]
