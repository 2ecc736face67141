"""A config's `custom_imports` line is all a user needs to reach the plugin."""
import sys
import textwrap

from cli_helpers import DEMO_BCE, run_cmd

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


def test_registered_names_do_not_shadow_mmpretrain_or_mmengine():
    import mmengine.registry as engine_registry
    import mmpretrain  # noqa: F401
    from mmpretrain.registry import DATASETS
    before = set(DATASETS.module_dict)
    import mmml_ext  # noqa: F401
    ours = {name for name, cls in DATASETS.module_dict.items() if cls.__module__.startswith('mmml_ext')}
    assert ours == {'LongTailedShapes'}
    assert not ours & (before - ours)
    assert all(engine_registry.DATASETS.get(name) is None for name in ours)
