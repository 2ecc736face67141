"""The evaluation context's names and files: what an evaluation is called and where it writes.

Each evaluation of a run has a tag: ``val_epoch_<n>`` or ``val_iter_<n>`` for a
validation (after n epochs or iterations of training), ``test`` for a test.
Files of an evaluation go to one directory: the metric's ``out_dir`` when it
has one, else the run's work dir (:func:`output_dir`):

- ``per_class/<tag>.json`` and ``.csv``: the per-class report
  (:func:`write_report`, :func:`list_reports`, :func:`read_report`);
- ``predictions_<tag>_<time>.npz``: the predictions, saved when a metric fails
  (:func:`failure_dump_path`).

``RunFactsHook`` makes the tags; the experiment readers parse them here.
"""
import csv
import glob
import json
import os
import os.path as osp
import re
import time
from typing import Dict, List, NamedTuple, Optional, Sequence

#: The tag of a test.
TEST_TAG = 'test'
#: The directory of per-class reports.
REPORT_DIR = 'per_class'
_TAG = re.compile(r'^val_(epoch|iter)_(\d+)$')


class ParsedTag(NamedTuple):
    """A tag taken apart: split ``val`` / ``test``, unit ``epoch`` / ``iter`` and step (val only)."""
    split: str
    unit: Optional[str] = None
    step: Optional[int] = None


def eval_tag(split: str, by_epoch: bool = True, epoch: int = 0, iteration: int = 0) -> str:
    """``test``, ``val_epoch_<epoch>`` or ``val_iter_<iteration>``."""
    if split == 'test':
        return TEST_TAG
    if split != 'val':
        raise ValueError(f"split must be 'val' or 'test', got {split!r}")
    return f'val_epoch_{epoch}' if by_epoch else f'val_iter_{iteration}'


def parse_tag(tag: str) -> Optional[ParsedTag]:
    """The parts of a tag made by :func:`eval_tag`; None for any other name."""
    if tag == TEST_TAG:
        return ParsedTag('test')
    match = _TAG.match(tag)
    return ParsedTag('val', match.group(1), int(match.group(2))) if match else None


def output_dir(out_dir: Optional[str], work_dir: Optional[str]) -> Optional[str]:
    """Where an evaluation's files go: ``out_dir`` if given, else the work dir (or None)."""
    return out_dir if out_dir is not None else work_dir


def report_paths(directory: str, tag: str) -> Dict[str, str]:
    """``{'json': .../per_class/<tag>.json, 'csv': .../per_class/<tag>.csv}``."""
    base = osp.join(directory, REPORT_DIR, tag)
    return dict(json=base + '.json', csv=base + '.csv')


def write_report(directory: str, tag: str, header: dict, rows: Sequence[dict]) -> str:
    """Write a per-class report (JSON with ``header`` and ``classes``, and CSV); returns the JSON path."""
    paths = report_paths(directory, tag)
    os.makedirs(osp.dirname(paths['json']), exist_ok=True)
    with open(paths['json'], 'w') as f:
        json.dump(dict(header, classes=list(rows)), f, indent=1)
    with open(paths['csv'], 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
    return paths['json']


def read_report(path: str) -> dict:
    """A report written by :func:`write_report` (``classes``: one row per class)."""
    with open(path) as f:
        return json.load(f)


def list_reports(work_dir: str) -> Dict[str, str]:
    """Tag -> JSON path of the per-class reports in ``work_dir``; validations in training order, then test."""
    found = {}
    for path in glob.glob(osp.join(work_dir, REPORT_DIR, '*.json')):
        tag = osp.splitext(osp.basename(path))[0]
        parsed = parse_tag(tag)
        if parsed is not None:
            found[tag] = (parsed, path)
    order = sorted(found, key=lambda t: (found[t][0].split == 'test', found[t][0].step or 0))
    return {tag: found[tag][1] for tag in order}


def final_report(work_dir: str) -> Optional[str]:
    """The tag of the report that stands for a run: its test's, else its last validation's."""
    tags: List[str] = list(list_reports(work_dir))
    return tags[-1] if tags else None


def failure_dump_path(directory: str, tag: str) -> str:
    """``<directory>/predictions_<tag>_<YYYYmmdd_HHMMSS>.npz``."""
    return osp.join(directory, f'predictions_{tag}_{time.strftime("%Y%m%d_%H%M%S")}.npz')
