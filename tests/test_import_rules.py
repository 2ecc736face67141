"""The package's import rules (docs/design.md, 'Who may import whom'), read from the source.

Every ``import`` statement of ``mmml_ext``, at module level or deferred inside a function,
is an edge of a graph of modules. The graph has no cycle (a deferred import does not make a
cycle safe, it hides it), and the packages import one another only in the documented
direction: ``functional/`` is a leaf that any package may use, and no package reaches back
into one that depends on it.
"""
import ast
from pathlib import Path

import pytest

from cli_helpers import REPO

PACKAGE = REPO / 'mmml_ext'
# what each part of mmml_ext may import of the others (the design page's table)
ALLOWED = {
    'functional': set(),
    'config_keys': set(),
    'version': set(),
    'datasets': {'config_keys'},
    'run_facts': {'functional', 'datasets'},
    'models': {'functional', 'run_facts', 'config_keys'},
    'evaluation': {'functional', 'run_facts', 'config_keys'},
    'engine': {'functional', 'datasets', 'evaluation', 'models', 'run_facts', 'config_keys'},
    'experiments': {'functional', 'evaluation', 'run_facts', 'config_keys'},
    'apis': {'functional', 'run_facts'},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob('*.py'))}


def imported_modules(name: str) -> set:
    """The modules of mmml_ext that module ``name`` imports, anywhere in its source."""
    path = MODULES[name]
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit('.', node.level - 1)[0] if node.level > 1 else package
                source = f'{base}.{node.module}' if node.module else base
            else:
                source = node.module
            # `from . import npz_blocks` imports a module; `from .x import f`, module x
            targets = [f'{source}.{alias.name}' if f'{source}.{alias.name}' in MODULES
                       else source for alias in node.names]
        else:
            continue
        found |= {t for t in targets if t in MODULES and t != name}
    return found


GRAPH = {name: imported_modules(name) for name in MODULES}


def part(name: str) -> str:
    """The part of the package a module belongs to: functional, evaluation, config_keys..."""
    parts = name.split('.')
    return parts[1] if len(parts) > 1 else 'mmml_ext'


def find_cycle(graph: dict):
    """One cycle of ``graph`` as a list of nodes, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = 'open'
        stack.append(node)
        for child in sorted(graph[node]):
            if state.get(child) == 'open':
                return stack[stack.index(child):] + [child]
            if child not in state:
                cycle = visit(child)
                if cycle:
                    return cycle
        state[node] = 'done'
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_graph_is_read_from_the_source():
    assert len(MODULES) > 50
    # a deferred import and a relative one of each kind are found
    assert 'mmml_ext.functional.target_codes' in GRAPH['mmml_ext.run_facts.test_predictions']
    assert 'mmml_ext.run_facts.npz_blocks' in GRAPH['mmml_ext.run_facts.test_predictions']
    assert 'mmml_ext.evaluation.sharded_rows' in GRAPH['mmml_ext.evaluation.shared_rows']


def test_find_cycle_finds_one():
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': set()}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b'}, 'b': set()}) is None


def test_no_module_imports_itself_through_others():
    # a package's __init__ importing its modules, which import nothing of the package's
    # __init__, is no cycle; every other edge counts, deferred imports included
    assert find_cycle(GRAPH) is None


@pytest.mark.parametrize('name', sorted(ALLOWED))
def test_each_part_imports_only_what_it_may(name):
    reached = {(module, part(target)) for module in MODULES if part(module) == name
               for target in GRAPH[module] if part(target) not in (name, 'mmml_ext')}
    forbidden = sorted((m, p) for m, p in reached if p not in ALLOWED[name])
    assert not forbidden, forbidden


def test_every_part_of_the_package_has_a_rule():
    assert {part(name) for name in MODULES} - {'mmml_ext'} == set(ALLOWED)
