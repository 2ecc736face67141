"""One row per run: what it trained with, and its metrics; as CSV, Markdown and a rich table.

Values per run (percent, as logged):

- ``last_<metric>``: the last validation;
- ``best_<metric>``: the validation with the best mAP (``best_epoch``), all
  metrics of that one evaluation (the checkpoint one would pick), not each
  metric's own maximum;
- ``test_<metric>``: the test run of the last checkpoint.

``*_tuned`` keys are validation numbers at thresholds tuned on that same
validation data (optimistic); ``*_valtuned`` keys are test numbers at those
validation-tuned thresholds (honest).
"""
import csv
import io
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from rich import box
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from ..evaluation.interval_statistics import interval_keys
from ..evaluation.prf_metrics import VALTUNED_SUFFIX
from ..evaluation.threshold_tuning import TUNED_SUFFIX
from .run_records import RunRecord
from .statistics import ComparisonStatistics, statistics_columns, statistics_markdown
from .verdicts import lead_markdown

#: The files of a comparison.
SUMMARY_CSV = 'summary.csv'
SUMMARY_MD = 'summary.md'

#: the metrics of the demo's evaluators, always columns (a run without one is ``missing`` it);
#: test rows read ``*_valtuned`` where validation rows read ``*_tuned``
CORE_METRICS = ('mAP', 'mAP_head', 'mAP_medium', 'mAP_tail', 'CP', 'CR', 'CF1', 'OP', 'OR', 'OF1',
                'CP_top3', 'CR_top3', 'CF1_top3', 'OP_top3', 'OR_top3', 'OF1_top3',
                'subset_accuracy', 'CP_tuned', 'CR_tuned', 'CF1_tuned', 'OF1_tuned')
SPLITS = ('best', 'last', 'test')
DESCRIPTION = ('run', 'config', 'loss', 'loss_params', 'resampling', 'epochs', 'best_epoch')
#: the readable table: (column title, metric)
TABLE_COLUMNS = (('mAP', 'mAP'), ('head', 'mAP_head'), ('medium', 'mAP_medium'),
                 ('tail', 'mAP_tail'), ('CP', 'CP'), ('CR', 'CR'), ('CF1', 'CF1'), ('OP', 'OP'),
                 ('OR', 'OR'), ('OF1', 'OF1'), ('CF1 top3', 'CF1_top3'),
                 ('OF1 top3', 'OF1_top3'), ('subset acc', 'subset_accuracy'),
                 ('CF1 tuned', 'CF1_tuned'), ('OF1 tuned', 'OF1_tuned'))
#: the terminal table, narrower: (column title, metric), in the order shown
TERMINAL_COLUMNS = (('mAP', 'mAP'), ('head', 'mAP_head'), ('med.', 'mAP_medium'),
                    ('tail', 'mAP_tail'), ('CP', 'CP'), ('CR', 'CR'), ('CF1', 'CF1'),
                    ('OF1', 'OF1'), ('CF1 tun.', 'CF1_tuned'), ('OF1 tun.', 'OF1_tuned'))
#: the terminal metrics, most important first: a narrow console shows the first ones
TERMINAL_PRIORITY = ('mAP', 'mAP_tail', 'CF1', 'OF1', 'CF1_tuned', 'mAP_head', 'mAP_medium',
                     'CP', 'CR', 'OF1_tuned')
#: fewer metrics than this beside the run names: one block per run instead of a table
MIN_TERMINAL_COLUMNS = 3
_IGNORED_PARAMS = ('type', 'loss_weight', 'reduction', 'use_sigmoid')


def summary_metrics() -> Tuple[str, ...]:
    """The summary's metrics: the core ones, then every other key a registered metric gives an
    interval (``INTERVAL_KEYS``: ``ECE``, ``AUROC``, ...), so a new metric has its columns
    without an edit here. Those others are optional: a run whose config does not evaluate
    them is not ``missing`` them."""
    return CORE_METRICS + tuple(key for key in interval_keys() if key not in CORE_METRICS)


def logged_name(metric: str, split: str) -> str:
    """The key a metric is logged under: test runs report ``*_valtuned`` for ``*_tuned``."""
    if split == 'test' and metric.endswith(TUNED_SUFFIX):
        return metric[:-len(TUNED_SUFFIX)] + VALTUNED_SUFFIX
    return metric


def metric_value(values: Dict[str, float], metric: str, split: str) -> Optional[float]:
    """A metric from logged keys: ``multi-label/<metric>``, else any ``<prefix>/<metric>``."""
    metric = logged_name(metric, split)
    if f'multi-label/{metric}' in values:
        return values[f'multi-label/{metric}']
    return next((v for k, v in values.items() if k.rsplit('/', 1)[-1] == metric), None)


def describe_params(cfg: dict) -> str:
    """``gamma_neg=4, clip=0.05``; a nested loss as ``loss=Type(...)``."""
    parts = []
    for key, value in cfg.items():
        if key in _IGNORED_PARAMS:
            continue
        if isinstance(value, dict) and 'type' in value:
            value = f'{value["type"]}({describe_params(value)})'
        parts.append(f'{key}={value}')
    return ', '.join(parts)


def describe_run(record: RunRecord) -> Dict[str, object]:
    """Config facts of a run: loss and its parameters, resampling, epochs."""
    row = dict(run=record.name, config='', loss='', loss_params='', resampling='', epochs='')
    cfg = record.config
    if cfg is None:
        return row
    row['config'] = osp.basename(cfg.filename or '')
    loss = cfg.get('model', {}).get('head', {}).get('loss')
    if isinstance(loss, dict):
        row['loss'], row['loss_params'] = loss.get('type', ''), describe_params(loss)
    loader = cfg.get('train_dataloader') or {}
    dataset, sampler = loader.get('dataset') or {}, loader.get('sampler') or {}
    resampling = []
    if isinstance(dataset, dict) and 'dataset' in dataset:  # a dataset wrapper
        wrapper = {key: value for key, value in dataset.items() if key != 'dataset'}
        resampling.append(f'{dataset.get("type")}({describe_params(wrapper)})')
    if isinstance(sampler, dict) and sampler.get('type') not in (None, 'DefaultSampler'):
        resampling.append(f'{sampler["type"]}({describe_params(sampler)})')
    row['resampling'] = ' + '.join(resampling) or 'none'
    row['epochs'] = (cfg.get('train_cfg') or {}).get('max_epochs', '')
    return row


def summary_row(record: RunRecord) -> Dict[str, object]:
    """One CSV row of a run; empty cells for what it did not log, named in ``missing``."""
    return summary_row_and_missing(record)[0]


def summary_row_and_missing(record: RunRecord) -> Tuple[Dict[str, object], List[str]]:
    """(:func:`summary_row`, what the run lacks one part per fact): what could not be read
    (its notes), then, per split, the core metrics that split did not log (``test lacks
    CP_top3 OF1_top3``); the row's ``missing`` cell joins the parts with ``'; '``."""
    row = describe_run(record)
    best_epoch = None
    if record.val:
        scored = [(metric_value(v, 'mAP', 'val'), e) for e, v in record.val.items()]
        scored = [(m, e) for m, e in scored if m is not None]
        best_epoch = max(scored)[1] if scored else None
    row['best_epoch'] = best_epoch if best_epoch is not None else ''
    sources = dict(best=record.val.get(best_epoch, {}),
                   last=record.val[max(record.val)] if record.val else {}, test=record.test)
    missing = list(record.notes)
    for split in SPLITS:
        lacking = []
        for metric in summary_metrics():
            value = metric_value(sources[split], metric, split)
            row[f'{split}_{metric}'] = '' if value is None else round(value, 4)
            optional = metric not in CORE_METRICS  # only some configs evaluate it
            lacking += [logged_name(metric, split)] if (value is None and sources[split]
                                                        and not optional) else []
        if lacking and split != 'best':
            missing.append(f'{split} lacks {" ".join(lacking)}')
    row['missing'] = '; '.join(missing)
    return row, missing


def columns() -> List[str]:
    return [*DESCRIPTION, *(f'{s}_{m}' for s in SPLITS for m in summary_metrics()),
            *statistics_columns(), 'missing']


def write_csv(rows: Sequence[dict], path: str) -> None:
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=columns())
        writer.writeheader()
        writer.writerows(rows)


def _cell(value) -> str:
    return f'{value:.1f}' if isinstance(value, float) else ('–' if value == '' else str(value))


def markdown_table(rows: Sequence[dict], split: str) -> str:
    """A Markdown table of one split (``test``, ``last`` or ``best``)."""
    head = ['run', 'loss', 'resampling', *(title for title, _ in TABLE_COLUMNS)]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * 3 + '---:|' * len(TABLE_COLUMNS)]
    for row in rows:
        cells = [row['run'], row['loss'] or '–', row['resampling'] or '–',
                 *(_cell(row[f'{split}_{metric}']) for _, metric in TABLE_COLUMNS)]
        lines.append('| ' + ' | '.join(str(c) for c in cells) + ' |')
    return '\n'.join(lines)


def write_markdown(rows: Sequence[dict], path: str, plots: Sequence[str] = (),
                   stats: Optional[ComparisonStatistics] = None) -> None:
    """``summary.md``: one row per setting with its verdict against the baseline, the
    statistics in full, then the runs and one table per split that any run has."""
    parts = ['# Experiment comparison', '',
             'Values in percent. *tuned*: in the validation tables at thresholds tuned on that '
             'same validation data (optimistic); in the test table at the thresholds tuned on '
             'validation for the tested checkpoint (`*_valtuned`, honest). *best*: the '
             'validation with the best mAP.', '', '## Runs', '',
             '| run | config | loss | parameters | resampling | epochs | best epoch | missing |',
             '|---|---|---|---|---|---:|---:|---|']
    for row in rows:
        parts.append('| ' + ' | '.join(_cell(row[k]).replace('|', '/') for k in (
            'run', 'config', 'loss', 'loss_params', 'resampling', 'epochs', 'best_epoch',
            'missing')) + ' |')
    titles = dict(test='Test (last checkpoint)', last='Validation, last evaluation',
                  best='Validation, best-mAP evaluation')
    runs = parts[parts.index('## Runs'):]
    parts = parts[:parts.index('## Runs')]
    if stats is not None and stats.settings:  # the answer first, then how it was reached
        parts += lead_markdown(stats)[1:] + statistics_markdown(stats) + ['']
    parts += runs
    for split in ('test', 'last', 'best'):
        if any(row[f'{split}_mAP'] != '' for row in rows):
            parts += ['', f'## {titles[split]}', '', markdown_table(rows, split)]
    if plots:
        parts += ['', '## Plots', '']
        parts += [f'![{osp.splitext(p)[0]}]({p})' for p in plots]
    with open(path, 'w') as f:
        f.write('\n'.join(parts) + '\n')


def main_split(rows: Sequence[dict]) -> str:
    """The split of the terminal table: test when any run was tested, else last validation."""
    return 'test' if any(row['test_mAP'] != '' for row in rows) else 'last'


#: marks a run shown by its last validation in a table of tests (it has no test)
UNTESTED_MARK = ' (val)'


def row_split(row: dict, split: str) -> Tuple[str, str]:
    """(split, mark) a row is shown by: in a table of tests, a run without a test shows its
    last validation, its name marked (the documented rule: test, else last validation)."""
    if split == 'test' and row['test_mAP'] == '' and row['last_mAP'] != '':
        return 'last', UNTESTED_MARK
    return split, ''


def _fits(table: Table, width: int) -> bool:
    """Whether ``table`` renders at its natural width (nothing squeezed) in ``width`` columns."""
    wide = Console(width=10 * width, file=io.StringIO(), color_system=None)  # not clamped
    return Measurement.get(wide, wide.options, table).maximum <= width


def _horizontal_table(rows: Sequence[dict], split: str, shown: Sequence[Tuple[str, str]],
                      title: str) -> Table:
    """One line per run: the whole name, then the ``shown`` (title, metric) columns."""
    left_out = [title_ for title_, metric in TERMINAL_COLUMNS if (title_, metric) not in shown]
    caption = f'not shown at this width: {", ".join(left_out)}' if left_out else None
    table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column('run', no_wrap=True)
    for title_, _ in shown:
        table.add_column(title_, justify='right', no_wrap=True)
    for row in rows:
        own, mark = row_split(row, split)
        table.add_row(row['run'] + mark, *(_cell(row[f'{own}_{metric}']) for _, metric in shown))
    return table


def _vertical_blocks(rows: Sequence[dict], split: str, title: str, width: int) -> Group:
    """One block per run: its name on a line, then ``title value`` pairs packed to ``width``."""
    splits = [row_split(row, split) for row in rows]
    items = [[f'{t} {_cell(row[f"{own}_{m}"])}' for t, m in TERMINAL_COLUMNS]
             for row, (own, _) in zip(rows, splits)]
    cell = max(len(item) for run in items for item in run) + 3
    per_line = max(1, (width - 2) // cell)
    parts = [Text(title, style='italic', justify='left')]
    for row, run, (_, mark) in zip(rows, items, splits):
        parts.append(Text(row['run'] + mark, style='bold', overflow='fold', no_wrap=False))
        for start in range(0, len(run), per_line):
            line = ''.join(item.ljust(cell) for item in run[start:start + per_line])
            parts.append(Text('  ' + line.rstrip(), no_wrap=True, overflow='crop'))
    return Group(*parts)


def rich_table(rows: Sequence[dict], split: Optional[str] = None,
               width: int = 80) -> RenderableType:
    """The terminal table of a comparison, laid out for a console ``width`` columns wide.

    The run name is always shown whole, on one line. The metric columns
    (:data:`TERMINAL_COLUMNS`) that fit beside it are shown, the least
    important first left out (:data:`TERMINAL_PRIORITY`) and named in the
    caption; when fewer than :data:`MIN_TERMINAL_COLUMNS` fit, the runs are
    shown as blocks instead: the name on its own line, the metrics below it.

    Args:
        rows (Sequence[dict]): Rows of :func:`summary_row`.
        split (str, optional): ``test``, ``last`` or ``best``. Defaults to
            :func:`main_split`.
        width (int): The console's width (``Console.width``; rich uses 80
            when the output is piped). Defaults to 80.

    Returns:
        rich.console.RenderableType: A ``Table``, or a ``Group`` of run blocks.
    """
    split = split or main_split(rows)
    name = dict(test='test', last='last validation', best='best-mAP validation')[split]
    title = f'Runs compared ({name}, percent; all columns in summary.md)'
    if any(row_split(row, split)[1] for row in rows):
        title += f'; {UNTESTED_MARK.strip()}: not tested, its last validation'
    for count in range(len(TERMINAL_PRIORITY), MIN_TERMINAL_COLUMNS - 1, -1):
        kept = set(TERMINAL_PRIORITY[:count])
        shown = [(t, m) for t, m in TERMINAL_COLUMNS if m in kept]
        table = _horizontal_table(rows, split, shown, title)
        if _fits(table, width):
            return table
    return _vertical_blocks(rows, split, title, width)
