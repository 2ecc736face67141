"""Compare finished runs: read each run dir, write summary.csv / summary.md and plots.

The library side of ``tools/compare.py`` (and of the end of ``tools/sweep.py``).
"""
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from rich.console import Console

from .plots import PLOT_NEEDS, PLOTS, plot_all
from .run_records import RunRecord, is_run_dir, read_run
from .statistics import ComparisonStatistics, compare_statistics, statistics_cells
from .statistics_plots import STATISTICS_PLOTS
from .summary import (SUMMARY_CSV, SUMMARY_MD, rich_table, summary_row_and_missing, write_csv,
                      write_markdown)
from .verdicts import lead_table


@dataclass
class Comparison:
    """What ``compare_runs`` read and wrote."""
    records: List[RunRecord]
    rows: List[dict]
    out_dir: str
    plots: List[str]
    notes: List[str] = field(default_factory=list)
    statistics: Optional[ComparisonStatistics] = None


def is_comparison_dir(path: str) -> bool:
    """Whether ``path`` holds a comparison written by :func:`compare_runs`."""
    return osp.isfile(osp.join(path, SUMMARY_CSV))


def find_run_dirs(paths: Sequence[str]) -> Tuple[List[str], List[str]]:
    """The run dirs among ``paths``, and notes on what was skipped.

    A directory that is not a run stands for the run dirs in it (a sweep's
    work root), sorted by name; a comparison directory (such as the sweep's
    own ``comparison/``) is skipped with a note.
    """
    found, notes = [], []
    for path in paths:
        if not osp.isdir(path):
            raise FileNotFoundError(f'{path} is not a directory')
        if is_run_dir(path):
            found.append(path)
        elif is_comparison_dir(path):
            notes.append(f'{path} is a comparison, not a run: skipped')
        else:
            inner = sorted(osp.join(path, d) for d in os.listdir(path)
                           if is_run_dir(osp.join(path, d)))
            if not inner:
                raise ValueError(f'{path} is neither a run dir (no logs, no sweep state) nor a '
                                 'directory of run dirs')
            found.extend(inner)
    if not found:
        raise ValueError(f'no run dir among {list(paths)}')
    return found, notes


def missing_lines(missing: Dict[str, List[str]]) -> List[str]:
    """What runs lack (run -> its parts, from ``summary_row_and_missing``), a line per fact:
    one that several runs share (``test lacks CP_top3 ...``: a metric their evaluators did
    not have) is said once, with the runs named."""
    runs_of: Dict[str, List[str]] = {}
    for run, parts in missing.items():
        for part in parts:
            runs_of.setdefault(part, []).append(run)
    return [f'{runs[0]}: {part}' if len(runs) == 1 else f'{part}: {len(runs)} runs '
            f'({", ".join(runs)})' for part, runs in runs_of.items()]


def compare_runs(paths: Sequence[str], out_dir: str, console: Optional[Console] = None,
                 baseline: Optional[str] = None, bootstrap: int = 1000,
                 seed: int = 0) -> Comparison:
    """Compare run dirs (or directories of run dirs) and write the report to ``out_dir``.

    Args:
        paths (Sequence[str]): Run dirs; a directory that is not a run stands
            for the run dirs in it (a sweep's work root).
        out_dir (str): Where ``summary.csv``, ``summary.md`` and the PNG plots go.
            A directory holding ``summary.csv`` among ``paths`` is skipped.
        console (rich.console.Console, optional): Where the table and the notes
            about missing data are printed. Defaults to none (quiet).
        baseline (str, optional): A run or setting to compare every setting
            with (paired differences and their intervals).
        bootstrap (int): Bootstrap replicates of the test intervals; 0 for
            none. Defaults to 1,000.
        seed (int): Seed of the resampling. Defaults to 0.

    Returns:
        Comparison: The records, the summary rows and the plot file names.

    Examples:
        >>> compare_runs(['work_dirs/sweep'], 'work_dirs/sweep/comparison')  # doctest: +SKIP
    """
    run_dirs, notes = find_run_dirs(list(paths))
    names = [os.path.basename(os.path.normpath(d)) for d in run_dirs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f'runs with the same name {twice}: rows would be ambiguous')
    records = [read_run(d) for d in run_dirs]
    stats = compare_statistics(records, baseline, bootstrap, seed) if bootstrap > 0 else None
    if stats is None and baseline is not None:
        notes.append(f'--baseline {baseline} needs the bootstrap (--bootstrap > 0)')
    rows, missing = [], {}
    for record in records:
        if stats is not None:
            record.intervals = stats.runs.get(record.name, {})
        row, missing[record.name] = summary_row_and_missing(record)
        rows.append(dict(row, **statistics_cells(record, stats)))
    os.makedirs(out_dir, exist_ok=True)
    write_csv(rows, os.path.join(out_dir, SUMMARY_CSV))
    failures = {}
    plots = plot_all(records, out_dir, failures)
    for name, plot in STATISTICS_PLOTS.items():
        if stats is None:
            continue
        try:
            written = plot(stats, out_dir)
        except Exception as error:  # the tables and other figures still matter
            failures[name] = f'{type(error).__name__}: {error}'
            continue
        plots += [written] if written else []
    write_markdown(rows, os.path.join(out_dir, SUMMARY_MD), plots, stats)
    if console is not None:
        for note in notes + (stats.notes if stats is not None else []):
            console.print(f'[yellow]{note}[/]', highlight=False)
        console.print(rich_table(rows, width=console.width))  # names whole at any width
        lead = lead_table(stats) if stats is not None else None
        if lead is not None:  # the answer last, where the eye lands when the tool ends
            console.print(lead)
        for line in missing_lines(missing):
            console.print(line, style='yellow', highlight=False, markup=False)
        console.print(f'Report: {out_dir}/{SUMMARY_CSV}, {SUMMARY_MD}, {", ".join(plots)}')
        for name in PLOTS:
            if name in failures:
                console.print(f'[red]No {name}[/]: drawing it failed ({failures[name]})',
                              highlight=False)
            elif name not in plots:
                console.print(f'[yellow]No {name}[/]: no run has {PLOT_NEEDS[name]}',
                              highlight=False)
    return Comparison(records, rows, out_dir, plots, notes, stats)
