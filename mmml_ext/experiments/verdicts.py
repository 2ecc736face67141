"""The answer first: one row per setting, its mean over seeds, interval, and verdict against the baseline.

A sweep asks "which setting is better, and how sure". ``summary.md`` and the terminal lead
with this table (:func:`lead_markdown`, :func:`lead_table`); the per-run tables follow.
Values come from :class:`~.statistics.ComparisonStatistics`: nothing is computed here.
"""
import math
from typing import List, Optional, Tuple

from rich.console import Group
from rich.text import Text

from .statistics import ComparisonStatistics, verdict

#: the lead table's metrics: ranking, the honest F1 (thresholds tuned on validation), the tail
LEAD_METRICS = (('mAP', 'mAP'), ('CF1 tuned', 'CF1_tuned'), ('tail mAP', 'mAP_tail'))


def _number(value: float, sign: bool = False) -> str:
    return '–' if value is None or math.isnan(value) else (f'{value:+.1f}' if sign
                                                           else f'{value:.1f}')


def mean_cell(stats: ComparisonStatistics, setting: str, metric: str) -> str:
    """``62.4 [60.1, 64.9]`` (the setting's interval, where it supports a statement at this
    test size), else ``62.4 sd 2.1`` (the seeds' spread), ``62.4`` for one seed."""
    group = stats.settings[setting]
    if metric not in group.point:
        return '–'
    point, sd = group.point[metric], group.sd[metric]
    if metric not in stats.no_statement():
        low, high = group.interval(metric)
        return f'{_number(point)} [{_number(low)}, {_number(high)}]'
    return _number(point) + ('' if math.isnan(sd) else f' sd {sd:.1f}')


def delta_cell(stats: ComparisonStatistics, setting: str, metric: str) -> Tuple[str, str]:
    """(``+11.6 [+8.1, +14.9]``, verdict) of ``setting`` against the baseline; ('baseline',
    '') for the baseline itself, ('–', '') without one."""
    if setting == stats.baseline:
        return 'baseline', ''
    if stats.baseline is None:
        return '–', ''
    found = stats.deltas.get(setting, {}).get(metric)
    if found is None:
        return '–', ''
    delta, low, high = found
    share = stats.valid.get((f'{setting} - {stats.baseline}', metric), 1.0)
    return (f'{_number(delta, True)} [{_number(low, True)}, {_number(high, True)}]',
            verdict(metric, low, high, share))


def _seeds(stats: ComparisonStatistics, setting: str) -> str:
    group = stats.settings[setting]
    return str(len(group.runs)) if group.covers_seeds else '1 (images only)'


def _caption(stats: ComparisonStatistics) -> str:
    if stats.baseline is None:
        return ('No baseline: give --baseline SETTING for the differences and their verdicts.')
    return (f'Against {stats.baseline}: the difference of the seed means with its 95 % interval '
            '(test images and seeds); better / worse only when the interval excludes 0.')


def lead_markdown(stats: ComparisonStatistics) -> List[str]:
    """The first section of ``summary.md``: one row per setting."""
    metrics = [(t, m) for t, m in LEAD_METRICS
               if any(m in s.point for s in stats.settings.values())]
    title = (f'## Verdict against {stats.baseline}' if stats.baseline is not None
             else '## Settings')
    head = ['setting', 'seeds']
    for name, _ in metrics:
        head += [name] + ([f'{name} vs baseline'] if stats.baseline is not None else [])
    lines = ['', title, '', _caption(stats) + ' Mean over seeds, with its interval where it '
             'holds at this test size, else the seeds\' sd.', '',
             '| ' + ' | '.join(head) + ' |', '|---|---:|' + '---:|' * (len(head) - 2)]
    for setting in stats.settings:
        cells = [setting, _seeds(stats, setting)]
        for _, metric in metrics:
            cells.append(mean_cell(stats, setting, metric))
            if stats.baseline is not None:
                delta, said = delta_cell(stats, setting, metric)
                cells.append(f'{delta} **{said}**' if said else delta)
        lines.append('| ' + ' | '.join(cells) + ' |')
    return lines


def lead_table(stats: ComparisonStatistics) -> Optional[Group]:
    """The terminal's settings block (None without settings): per setting its name on a line
    of its own (whole, at any width), then one line per lead metric with the mean and the
    difference from the baseline with its verdict, aligned."""
    if not stats.settings:
        return None
    metrics = [(t, m) for t, m in LEAD_METRICS
               if any(m in s.point for s in stats.settings.values())]
    cells = {(setting, metric): (mean_cell(stats, setting, metric),
                                 delta_cell(stats, setting, metric))
             for setting in stats.settings for _, metric in metrics}
    name_width = max(len(name) for name, _ in metrics)
    mean_width = max(len(mean) for mean, _ in cells.values())
    delta_width = max(len(delta) for _, (delta, _) in cells.values())
    styles = {'better': 'green', 'worse': 'red'}
    parts = [Text('Settings (test, percent; mean over seeds)', style='italic')]
    header = f'  {"":<{name_width}}  {"mean":>{mean_width}}'
    if stats.baseline is not None:
        header += f'  {"difference":>{delta_width}} verdict'
    parts.append(Text(header, style='dim', no_wrap=True, overflow='crop'))
    for setting in stats.settings:
        parts.append(Text.assemble((setting, 'bold'), f'  seeds: {_seeds(stats, setting)}',
                                   overflow='fold'))
        for name, metric in metrics:
            mean, (delta, said) = cells[(setting, metric)]
            line = f'  {name:<{name_width}}  {mean:>{mean_width}}'
            if stats.baseline is not None:
                line += f'  {delta:>{delta_width}} '
            parts.append(Text.assemble(line, (said, styles.get(said, '')), no_wrap=True,
                                       overflow='crop'))
    parts.append(Text(_caption(stats), style='dim'))
    return Group(*parts)
