"""The examples in the kernels' docstrings run and print what they say."""
import doctest
import importlib

import pytest
import torch

MODULES = [
    'mmml_ext.functional.average_precision', 'mmml_ext.functional.confusion',
    'mmml_ext.functional.example_based', 'mmml_ext.functional.prf', 'mmml_ext.functional.ranking',
    'mmml_ext.functional.thresholds', 'mmml_ext.functional.asymmetric_loss',
    'mmml_ext.functional.focal_loss', 'mmml_ext.functional.balanced_losses',
    'mmml_ext.functional.calibration', 'mmml_ext.functional.bce_loss',
    'mmml_ext.functional.robust_losses', 'mmml_ext.functional.large_loss',
    'mmml_ext.datasets.label_hiding',
    'mmml_ext.datasets.openimages_files',
]


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs=dict(torch=torch), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f'{name} has no example'
    assert result.failed == 0
