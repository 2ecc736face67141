"""mmml_ext: imbalanced multi-label classification for mmpretrain.

Importing the package registers its modules into mmpretrain's registries and
makes mmengine's checkpoint loading safe on torch >= 2.6, so a config needs only
``custom_imports = dict(imports=['mmml_ext'], allow_failed_imports=False)``.
"""
from . import datasets, engine, evaluation, functional, models, run_facts  # noqa: F401
from .engine.checkpoint import register_checkpoint_globals
from .version import __version__

register_checkpoint_globals()

__all__ = ['__version__']
