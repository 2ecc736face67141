"""The package version, kept in one place for setup.py and ``mmml_ext.__version__``."""

__version__ = '0.1.0'
