"""``pip install -e .`` alone, into an environment with a current setuptools, loads mmpretrain's bases.

mmengine's config loader resolves ``mmpretrain::_base_/...`` with ``pkg_resources``, which
setuptools 81 and later no longer ship. The test makes a fresh virtual environment, installs
the newest setuptools into it, shows that a config on an ``mmpretrain::`` base then fails, and
installs the package alone (``pip install -e``, no requirements file): the package's own
dependency bound must bring a setuptools that loads the base.

The heavy stack (torch, mmengine, mmpretrain) is not downloaded again: the fresh environment
sees this environment's packages through a path file, all but setuptools' own (``setuptools``,
``pkg_resources``, ``_distutils_hack``), so setuptools is the fresh one's.
"""
import subprocess
import sysconfig
from pathlib import Path

from cli_helpers import REPO, run_cmd

#: this environment's packages the fresh one must not see: setuptools', and this package's
_HIDDEN = ('pkg_resources', 'setuptools', '_distutils_hack', 'distutils-precedence.pth',
           '__editable__', 'mmml_ext', 'pip', '__pycache__')
BASE_CONFIG = "_base_ = ['mmpretrain::_base_/default_runtime.py']\n"
LOAD = ('from mmengine.config import Config; import setuptools, sys; '
        'print(setuptools.__version__, Config.fromfile(sys.argv[1]).default_scope)')


def fresh_environment(root: Path) -> Path:
    """A venv at ``root`` that sees this environment's packages except setuptools'; its python."""
    subprocess.run(['python3', '-m', 'venv', str(root)], check=True)
    python = root / 'bin' / 'python'
    site = Path(run_cmd([python, '-c', "import sysconfig; print(sysconfig.get_paths()"
                         "['purelib'])"]).stdout.strip())
    view = root / 'outer'
    view.mkdir()
    for entry in Path(sysconfig.get_paths()['purelib']).iterdir():
        if not entry.name.startswith(_HIDDEN):
            (view / entry.name).symlink_to(entry)
    (site / 'outer.pth').write_text(f'{view}\n')
    return python


def test_the_package_alone_brings_a_setuptools_that_loads_mmpretrain_bases(tmp_path):
    python = fresh_environment(tmp_path / 'env')
    run_cmd([python, '-m', 'pip', 'install', '-q', 'setuptools>=81'], timeout=300)
    config = tmp_path / 'own_config.py'
    config.write_text(BASE_CONFIG)
    before = run_cmd([python, '-c', LOAD, config], check=False)
    assert before.returncode != 0 and "No module named 'pkg_resources'" in before.stderr

    run_cmd([python, '-m', 'pip', 'install', '-q', '-e', REPO], timeout=300)
    after = run_cmd([python, '-c', LOAD, config])
    version, scope = after.stdout.split()[-2:]
    assert int(version.split('.')[0]) < 81 and scope == 'mmpretrain'
