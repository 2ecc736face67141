"""Test tiers: a test that trains, runs a tool or launches processes is marked ``slow``.

``python -m pytest tests -m "not slow"`` is the quick tier (kernels, metrics, losses,
datasets, parsers, the glue tested in-process); the whole suite is what CI runs. Nobody
has to remember the marker: a test is slow when its code, a fixture it uses (at any depth)
or a function of the test modules it calls names one of the helpers below, the ones that
start an mmengine ``Runner`` or a subprocess (a tool, ``torchrun``, a sweep). A test that is
slow for another reason carries ``@pytest.mark.slow`` itself.
"""
import types

import pytest

# what makes a test slow: running mmengine's Runner, a tool or a torchrun launch
SLOW_NAMES = frozenset({'Runner', 'run_tool', 'run_cmd', 'Popen'})


def _code_names(code: types.CodeType) -> set:
    """Global and local names a code object and the code nested in it use."""
    names = set(code.co_names) | set(code.co_varnames)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _reaches_slow(func, seen: set) -> bool:
    """Whether ``func`` names a slow helper, directly or through the tests' own functions."""
    func = getattr(func, '__wrapped__', func)
    code = getattr(func, '__code__', None)
    if code is None or code in seen:
        return False
    seen.add(code)
    names = _code_names(code)
    if names & SLOW_NAMES:
        return True
    scope = getattr(func, '__globals__', {})
    for name in names:
        value = scope.get(name)
        if isinstance(value, types.FunctionType) and _is_test_code(value) \
                and _reaches_slow(value, seen):
            return True
    return False


def _is_test_code(func: types.FunctionType) -> bool:
    module = func.__module__ or ''
    return module.startswith(('test_', 'conftest', 'cli_helpers', 'tests.'))


def _is_slow(item: pytest.Item) -> bool:
    seen: set = set()
    if _reaches_slow(getattr(item, 'function', None), seen):
        return True
    fixture_info = getattr(item, '_fixtureinfo', None)
    for defs in (fixture_info.name2fixturedefs.values() if fixture_info else ()):
        for fixture_def in defs:
            if _reaches_slow(fixture_def.func, seen):
                return True
    return False


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker('slow') is None and _is_slow(item):
            item.add_marker(pytest.mark.slow)
