"""A config's `custom_imports` line is all a user needs to reach the plugin."""
import sys
import textwrap

from cli_helpers import DEMO_BCE, REPO, run_cmd

FRESH_PROCESS_CHECK = textwrap.dedent('''
    import sys
    import torch
    from mmengine.config import Config
    from mmengine.logging import HistoryBuffer
    from mmpretrain.registry import DATASETS

    assert 'mmml_ext' not in sys.modules
    assert DATASETS.get('LongTailedShapes') is None
    assert HistoryBuffer not in torch.serialization.get_safe_globals()

    cfg = Config.fromfile(sys.argv[1])  # runs custom_imports
    assert cfg.custom_imports == dict(imports=['mmml_ext'], allow_failed_imports=False)
    assert 'mmml_ext' in sys.modules
    assert HistoryBuffer in torch.serialization.get_safe_globals()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    assert type(dataset).__module__.startswith('mmml_ext.')
    assert len(dataset) == 200
    print('registered')
''')


def test_custom_imports_registers_the_plugin():
    proc = run_cmd([sys.executable, '-c', FRESH_PROCESS_CHECK, DEMO_BCE])
    assert proc.stdout.strip().endswith('registered')


PLUGIN_NAMES = dict(  # every name the plugin registers, by registry
    METRICS=['MultiLabelPRF', 'SubsetAccuracy', 'MeanAP', 'MultiLabelRanking', 'TunedThresholdF1',
             'MultiLabelCalibration', 'MultiLabelAUROC', 'MultiLabelPrecisionAtRecall',
             'MultiLabelRecallAtPrecision'],
    MODELS=['MultiLabelAsymmetricLoss', 'MultiLabelFocalLoss', 'ClassBalancedLoss',
            'DistributionBalancedLoss', 'ImbalancedMultiLabelHead', 'MultiLabelBCELoss',
            'HillLoss', 'SPLCLoss', 'LargeLossRejection', 'TwoWayMultiLabelLoss', 'MLDecoderHead'],
    DATASETS=['LongTailedShapes', 'COCOMultiLabel', 'MultiLabelListDataset',
              'MultiLabelBalancedDataset', 'PartialLabelDataset', 'OpenImagesMultiLabel'],
    DATA_SAMPLERS=['RepeatFactorSampler', 'ClassAwareSampler'],
    HOOKS=['RunFactsHook', 'MultiLabelEvalHook', 'ClassCountsHook', 'TrackerHook'],
)

NAMES_CHECK = textwrap.dedent('''
    import ast
    import sys
    import mmengine.registry as engine
    import mmpretrain.datasets, mmpretrain.engine, mmpretrain.evaluation, mmpretrain.models
    from mmpretrain import registry as pre
    ours = ast.literal_eval(sys.argv[1])
    # before the plugin: none of its names exists in mmpretrain or mmengine
    for registry, names in ours.items():
        for name in names:
            assert getattr(pre, registry).get(name) is None, (registry, name)
            assert name not in getattr(engine, registry).module_dict, (registry, name)
    import mmml_ext
    for registry, names in ours.items():
        for name in names:
            assert getattr(pre, registry).get(name).__module__.startswith('mmml_ext.'), name
    print('names ok')
''')


def registered_by_the_plugin() -> dict:
    """Every name that a module of mmml_ext put into mmpretrain's registries, by registry."""
    import mmml_ext  # noqa: F401
    from mmpretrain import registry
    found = {}
    for name in ('METRICS', 'MODELS', 'DATASETS', 'DATA_SAMPLERS', 'HOOKS', 'TRANSFORMS',
                 'OPTIMIZERS', 'PARAM_SCHEDULERS', 'VISBACKENDS', 'LOOPS', 'RUNNERS'):
        table = getattr(registry, name).module_dict
        ours = {key for key, cls in table.items() if cls.__module__.startswith('mmml_ext.')}
        if ours:
            found[name] = ours
    return found


def test_the_plugin_registers_exactly_the_checked_and_documented_names():
    """No registration escapes the fresh-process check below or the design page's table."""
    assert registered_by_the_plugin() == {k: set(v) for k, v in PLUGIN_NAMES.items()}
    design = (REPO / 'docs' / 'design.md').read_text()
    table = design[design.index('## Registry names'):design.index('## Target codes')]
    for registry, names in PLUGIN_NAMES.items():
        row = next(line for line in table.splitlines() if line.startswith(f'| `{registry}`'))
        assert all(f'`{name}`' in row for name in names), (registry, row)


def test_registered_names_are_ours_and_shadow_nothing():
    """The names of docs/design.md, 'Registry names', are registered by mmml_ext and existed
    nowhere before."""
    proc = run_cmd([sys.executable, '-c', NAMES_CHECK, repr(PLUGIN_NAMES)])
    assert proc.stdout.strip().endswith('names ok')
