"""The comparison's figures of its statistics (matplotlib, PNG).

- ``calibration.png``: reliability diagrams, a panel per setting (its runs
  overlaid): the fraction of positives against the mean score in each of the
  15 score bins, with the diagonal of perfect calibration and each run's ECE;
- ``differences.png``: each setting's difference from the baseline with its
  95 % bootstrap interval, a panel per metric; a difference whose interval
  crosses 0 (the dashed line) is within noise. Beside the interval of a
  setting of several seeds, each seed's own difference from the baseline's
  mean (small crosses): the seed spread that the interval covers.

Each function returns the file name it wrote, or None when there is nothing
to draw.
"""
import math
from typing import List, Optional

import numpy as np

from .plots import _legend_outside, _note, _save, plt
from ..evaluation.interval_statistics import lower_is_better
from .statistics import ComparisonStatistics, verdict


def plot_calibration(stats: ComparisonStatistics, out_dir: str) -> Optional[str]:
    """Reliability diagrams: a panel per setting, its runs (seeds) overlaid."""
    if not stats.reliability:
        return None
    settings: List[str] = list(dict.fromkeys(stats.run_settings[run] for run in stats.reliability))
    cols = min(3, len(settings))
    rows = math.ceil(len(settings) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4 * rows), squeeze=False,
                             sharex=True, sharey=True)
    for ax, setting in zip(axes.flat, settings):
        ax.plot([0, 1], [0, 1], color='0.6', lw=1, ls='--', label='perfect calibration')
        runs = [run for run in stats.reliability if stats.run_settings[run] == setting]
        for i, run in enumerate(runs):
            bins = stats.reliability[run]
            filled = bins['count'] > 0
            ece = stats.runs.get(run, {}).get('ECE', (math.nan, ))[0]
            label = (run[len(setting):].lstrip('_') or run) + f' (ECE {ece:.1f})'
            ax.plot(bins['confidence'][filled], bins['accuracy'][filled], marker='o', ms=3,
                    lw=1.2, color=plt.get_cmap('tab10')(i % 10), label=label)
        ax.set(title=setting, xlim=(0, 1), ylim=(0, 1))
        ax.set_title(setting, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc='upper left')
    for ax in axes.flat[len(settings):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel('mean score in the bin')
    for ax in axes[:, 0]:
        ax.set_ylabel('fraction of positives')
    fig.suptitle('Reliability on the test set (15 score bins, non-ignored cells)')
    fig.tight_layout()
    return _save(fig, out_dir, 'calibration.png')


def _seed_differences(stats: ComparisonStatistics, setting: str, metric: str) -> List[float]:
    """Each seed of ``setting``: its value of ``metric`` less the baseline's mean over seeds."""
    points = stats.settings[setting].seed_points.get(metric)
    base = stats.settings[stats.baseline].point.get(metric)
    if points is None or base is None:
        return []
    return [float(v) - base for v in points]


def plot_differences(stats: ComparisonStatistics, out_dir: str) -> Optional[str]:
    """Differences from the baseline with their intervals, a panel per metric."""
    others = [s for s in stats.deltas if s != stats.baseline and stats.deltas[s]]
    if stats.baseline is None or not others:
        return None
    metrics = [m for m in dict.fromkeys(m for s in others for m in stats.deltas[s])]
    cols = min(4, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 0.45 * len(others) * rows + 1.6),
                             squeeze=False, sharey=True)
    colors = dict(better='tab:green', worse='tab:red')
    colors['within noise'] = '0.45'
    y = np.arange(len(others))
    for ax, metric in zip(axes.flat, metrics):
        for i, setting in enumerate(others):
            if metric not in stats.deltas[setting]:
                continue
            delta, low, high = stats.deltas[setting][metric]
            share = stats.valid.get((f'{setting} - {stats.baseline}', metric), 1.0)
            color = colors.get(verdict(metric, low, high, share), '0.75')
            ax.errorbar(delta, y[i], xerr=[[max(delta - low, 0)], [max(high - delta, 0)]],
                        fmt='o', ms=4, color=color, capsize=3)
            seeds = _seed_differences(stats, setting, metric)
            if len(seeds) > 1:  # the seeds' spread, just below the interval's row
                ax.scatter(seeds, np.full(len(seeds), y[i] + 0.25), marker='x', s=14,
                           color='0.3', lw=0.9, zorder=3)
        ax.axvline(0, color='0.3', lw=1, ls='--')
        lower = ' (lower is better)' if metric in lower_is_better() else ''
        ax.set_title(f'{metric}{lower}', fontsize=9)
        ax.grid(alpha=0.3, axis='x')
    for ax in axes.flat[len(metrics):]:
        ax.set_visible(False)
    axes[0, 0].set_yticks(y, others, fontsize=8)
    axes[0, 0].invert_yaxis()
    for ax in axes[-1]:
        ax.set_xlabel(f'difference from {stats.baseline} (points)', fontsize=8)
    handles = [plt.Line2D([], [], color=c, marker='o', ls='', label=v) for v, c in colors.items()]
    if any(len(stats.settings[s].runs) > 1 for s in others):
        handles.append(plt.Line2D([], [], color='0.3', marker='x', ls='',
                                  label="a seed: its value - the baseline's mean"))
    fig.suptitle(f'Against {stats.baseline}: paired bootstrap, {stats.num_replicates} '
                 'replicates, 95 % intervals')
    fig.tight_layout()
    _legend_outside(fig, handles, [h.get_label() for h in handles],
                    bbox_to_anchor=(1.0, 0.95))
    _note(fig, [f'{setting}: {len(stats.settings[setting].runs)} seed(s)'
                for setting in others if len(stats.settings[setting].runs) > 1])
    return _save(fig, out_dir, 'differences.png')


#: the statistics' figures, by file name
STATISTICS_PLOTS = {'calibration.png': plot_calibration, 'differences.png': plot_differences}
