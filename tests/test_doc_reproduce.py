"""The docs' Reproduce sections run from a clean clone in the order written, and write under
``work_dirs/`` only, never over the results shipped in ``docs/``.

Each Reproduce block is expanded by bash itself (braces, ``for`` loops, variables) in an
empty directory, with ``python`` replaced by a function that prints its arguments; every
``tools/sweep.py`` line is read with the tool's own argument parser and planned with
:func:`mmml_ext.experiments.grid.plan_runs` (the names its runs will get), and every
``tools/compare.py`` input must be a run (or a glob of runs, or a work root) that an earlier
line of the same block makes.
"""
import fnmatch
import functools
import importlib.util
import subprocess
import sys

import pytest

from cli_helpers import REPO
from mmml_ext.experiments.grid import parse_seeds, plan_runs

DOCS = ['README.md', *sorted(str(p.relative_to(REPO)) for p in (REPO / 'docs').glob('*.md'))]
SEP = '\x1f'


def reproduce_blocks():
    """(``file:line``, bash) of every bash block under a heading that says Reproduce."""
    for name in DOCS:
        heading, block, start = '', None, 0
        for number, line in enumerate((REPO / name).read_text().splitlines(), 1):
            if block is not None:
                if line.startswith('```'):
                    if 'Reproduce' in heading and block[0]:
                        yield f'{name}:{start}', '\n'.join(block[1:]) + '\n'
                    block = None
                else:
                    block.append(line)
            elif line.startswith('```'):
                block, start = [line.strip() in ('```bash', '```sh')], number
            elif line.startswith('#'):
                heading = line


def commands(block: str, cwd) -> list:
    """The argument lists of the block's ``python`` commands, in order, as bash expands them."""
    script = f'python() {{ printf "%s{SEP}" "$@"; printf "\\n"; }}\n{block}'
    out = subprocess.run(['bash', '-c', script], cwd=cwd, capture_output=True, text=True,
                         check=True).stdout
    return [line.rstrip(SEP).split(SEP) for line in out.splitlines() if line]


@functools.lru_cache(maxsize=None)
def tool_module(tool: str):
    """``tools/<tool>.py`` loaded once."""
    spec = importlib.util.spec_from_file_location(f'doc_{tool}', REPO / 'tools' / f'{tool}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tool_args(tool: str, argv: list, monkeypatch):
    """``argv`` read by the argument parser of ``tools/<tool>.py``."""
    monkeypatch.setattr(sys, 'argv', [tool, *argv])
    return tool_module(tool).parse_args()


BLOCKS = list(reproduce_blocks())


def test_the_studies_have_reproduce_blocks():
    where = {w.split(':')[0] for w, _ in BLOCKS}
    assert {'docs/results.md', 'docs/partial_labels.md'} <= where


@pytest.mark.parametrize('where,block', BLOCKS, ids=[w for w, _ in BLOCKS])
def test_a_reproduce_block_runs_in_order_and_writes_under_work_dirs(where, block, tmp_path,
                                                                    monkeypatch):
    made_runs, made_roots = {}, set()  # run path -> its setting; work roots
    for argv in commands(block, tmp_path):
        assert argv[0].startswith('tools/'), f'{where}: {" ".join(argv)}'
        tool = argv[0][len('tools/'):-len('.py')]
        args = tool_args(tool, argv[1:], monkeypatch)
        writes = {'sweep': 'work_root', 'compare': 'out'}.get(tool)
        if writes:
            target = getattr(args, writes)
            assert target.startswith('work_dirs/'), \
                f'{where}: {tool}.py writes {target}, outside work_dirs/'
        if tool == 'sweep':
            for spec in plan_runs([str(REPO / c) for c in args.configs], args.grid,
                                  args.cfg_options, parse_seeds(args.seeds)):
                made_runs[f'{args.work_root}/{spec.name}'] = spec.setting
            made_roots.add(args.work_root)
        elif tool == 'compare':
            compared = {}
            for given in args.runs:
                found = {run: setting for run, setting in made_runs.items()
                         if fnmatch.fnmatchcase(run, given)
                         or (given.rstrip('/') in made_roots and run.startswith(given))}
                assert found, f'{where}: compare.py reads {given}, which no line before makes'
                compared.update(found)
            if args.baseline:
                names = {r.rsplit('/', 1)[1] for r in compared} | set(compared.values())
                assert args.baseline in names, \
                    f'{where}: --baseline {args.baseline} is none of the compared runs'
        else:
            pytest.fail(f'{where}: the test does not know tools/{tool}.py')
