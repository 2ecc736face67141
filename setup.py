"""Install mmml_ext: ``pip install -e .`` (see README.md for the full stack)."""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'mmml_ext', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def read_requirements(name: str) -> list:
    """Requirement lines of ``requirements/<name>``, comments dropped."""
    with open(osp.join(HERE, 'requirements', name)) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line and not line.startswith('-')]


setup(
    name='mmml_ext',
    version=read_version(),
    description='Imbalanced multi-label image classification for mmpretrain: '
    'metrics, losses, resampling and experiment comparison.',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    python_requires='>=3.9',
    # torch and mmcv (full or lite) are the user's choice of build, as in
    # OpenMMLab projects; requirements/mminstall.txt pins the tested stack.
    install_requires=read_requirements('runtime.txt') + [
        'mmengine>=0.10.0,<1.0.0',
        'mmpretrain>=1.2.0,<1.3.0',
        # mmengine's config loader resolves `mmpretrain::_base_/...` with pkg_resources,
        # which setuptools 81 and later no longer ship: without this bound no mmpretrain
        # base loads after `pip install -e .` into a current environment
        'setuptools<81',
    ],
    extras_require={'tests': read_requirements('tests.txt') + read_requirements('deploy.txt')
                    + read_requirements('trackers.txt'),
                    'deploy': read_requirements('deploy.txt'),
                    'trackers': read_requirements('trackers.txt')},
    license='Apache License 2.0',
    zip_safe=False,
)
