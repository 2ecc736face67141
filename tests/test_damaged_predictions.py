"""A damaged ``test_predictions.npz`` is named with its reason; the comparison goes on.

Each damage is made here by hand (cut short, a member cut short or missing, another dtype,
NaN scores); the reader must refuse with a ``ValueError`` naming the file and the member,
and ``compare_runs`` / ``tools/compare.py`` must report the other runs in full.
"""
import io
import os
import re
import signal
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import run_cmd, run_tool
from mmml_ext.experiments import compare_runs
from mmml_ext.run_facts import test_predictions
from test_statistics import labels, scores_of, write_run


def rewrite_members(path: Path, change) -> None:
    """Rewrite the npz archive at ``path`` with ``change(name, npy_bytes)`` applied to its
    members (None drops one): a valid zip whose content is damaged."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(path, 'w') as archive:
        for name, data in members.items():
            data = change(name, data)
            if data is not None:
                archive.writestr(name, data)


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def cut_short(path: Path) -> None:  # a copy stopped half-way: no zip directory at the end
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def member_cut_short(path: Path) -> None:
    rewrite_members(path, lambda name, data: data[:len(data) // 2] if name == 'scores.npy'
                    else data)


def member_missing(path: Path) -> None:
    rewrite_members(path, lambda name, data: None if name == 'target.npy' else data)


def scores_of_another_dtype(path: Path) -> None:
    scores = test_predictions.read(str(path)).scores
    rewrite_members(path, lambda name, data: npy((scores * 100).astype(np.int64))
                    if name == 'scores.npy' else data)


def nan_scores(path: Path) -> None:
    scores = test_predictions.read(str(path)).scores.copy()
    scores[7, 2] = np.nan
    rewrite_members(path, lambda name, data: npy(scores) if name == 'scores.npy' else data)


DAMAGES = {  # damage: what the message must say
    'cut short': (cut_short, r'cannot be read as a test predictions file \(damaged or cut short'),
    'member cut short': (member_cut_short, r"member 'scores' cannot be read"),
    'member missing': (member_missing, r"it lacks \['target'\]"),
    'another dtype': (scores_of_another_dtype, r"member 'scores' has dtype int64"),
    'NaN scores': (nan_scores, r"member 'scores' has 1 NaN or infinite value\(s\), the first at "
                               r'\(row 7, class 2\)'),
}


def good_and_damaged(root: Path, damage) -> Path:
    target = labels()
    write_run(root, 'a_good', scores_of(target, 1.0, 1), target)
    write_run(root, 'b_good', scores_of(target, 0.8, 2), target)
    damaged = write_run(root, 'c_damaged', scores_of(target, 1.0, 3), target)
    path = Path(test_predictions.path_in(str(damaged)))
    damage(path)
    return path


@pytest.mark.parametrize('name', sorted(DAMAGES))
def test_the_reader_names_the_file_and_the_member(name, tmp_path):
    damage, message = DAMAGES[name]
    path = good_and_damaged(tmp_path, damage)
    with pytest.raises(ValueError, match=message) as refused:
        test_predictions.read(str(path))
    assert str(path) in str(refused.value)


@pytest.mark.parametrize('name', sorted(DAMAGES))
def test_the_comparison_reports_the_good_runs_and_names_the_damaged(name, tmp_path):
    damage, message = DAMAGES[name]
    good_and_damaged(tmp_path / 'runs', damage)
    result = compare_runs([str(tmp_path / 'runs')], str(tmp_path / 'report'), baseline='a_good',
                          bootstrap=20)
    assert set(result.statistics.runs) == {'a_good', 'b_good'}
    assert 'b_good' in result.statistics.deltas  # the verdict against the baseline
    notes = [note for note in result.statistics.notes if note.startswith('c_damaged: ')]
    assert len(notes) == 1
    assert re.search(message, notes[0])
    markdown = (tmp_path / 'report' / 'summary.md').read_text()
    assert 'Not in the statistics:' in markdown and 'c_damaged: ' in markdown
    assert '## Against a_good' in markdown


def test_compare_tool_exits_0_with_the_full_report(tmp_path):
    good_and_damaged(tmp_path / 'runs', cut_short)
    proc = run_tool('compare.py', str(tmp_path / 'runs'), '--out', str(tmp_path / 'report'),
                    '--baseline', 'a_good', '--bootstrap', '20')
    assert 'Traceback' not in proc.stderr
    markdown = (tmp_path / 'report' / 'summary.md').read_text()
    assert 'c_damaged: ' in markdown and 'damaged or cut short' in markdown
    assert '| b_good |' in markdown  # the good runs' intervals and differences


KILLED_WRITER = r'''
import os, signal, sys
import numpy as np
from mmml_ext.run_facts import npz_blocks, test_predictions
real_savez = npz_blocks.savez
def savez_then_die(path, arrays):
    real_savez(path, arrays)
    with open(path, 'r+b') as f:  # as if the process died while the file was half written
        f.truncate(os.path.getsize(path) // 2)
    os.kill(os.getpid(), signal.SIGKILL)
npz_blocks.savez = savez_then_die
n, c = 40, 5
test_predictions.write(test_predictions.TestPredictions(
    np.full((n, c), 0.25, np.float32), np.zeros((n, c), np.int8), tuple('abcde'), np.arange(n)),
    sys.argv[1])
'''


@pytest.mark.parametrize('old_file', [True, False])
def test_a_writer_killed_half_way_leaves_the_old_file_or_none(old_file, tmp_path):
    work_dir = tmp_path / 'run'
    path = Path(test_predictions.path_in(str(work_dir)))
    if old_file:
        target = labels()
        write_run(tmp_path, 'run', scores_of(target, 1.0, 1), target)
        before = path.read_bytes()
    proc = run_cmd([sys.executable, '-c', KILLED_WRITER, str(work_dir)], check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    if old_file:
        assert path.read_bytes() == before
        assert test_predictions.read(str(path)).scores.shape == (150, 6)
    else:
        assert not path.exists()
    # the half-written temporary file is not taken for the predictions
    assert [p.name for p in work_dir.iterdir() if p.name.startswith('test_predictions.npz.tmp')]
    assert os.path.isdir(work_dir)
