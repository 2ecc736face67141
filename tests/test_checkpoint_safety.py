"""Safe checkpoint loading: what mmengine writes loads, anything else is refused unrun."""
import collections
import os

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

import mmml_ext  # noqa: F401
from mmml_ext.engine import UnsafeCheckpointError, load_from_local_safely

NUMPY_DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
                np.uint64, np.float16, np.float32, np.float64, np.complex64, np.complex128]


class WritesMarker:
    """Unpickling this object runs ``os.system``: what a hostile checkpoint does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


class ReadsAttribute:
    """Unpickling this calls ``getattr(HistoryBuffer, 'update')``."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, 'update'))


def training_state():
    """The kinds of objects an mmengine training checkpoint holds."""
    hub = MessageHub.get_instance('test_checkpoint_safety')
    hub.update_scalar('train/loss', 0.5)
    hub.update_scalar('train/loss', np.float64(0.25))
    hub.update_info('eta', np.float64(12.5))
    arrays = {np.dtype(t).name: np.arange(6).astype(t).reshape(2, 3) for t in NUMPY_DTYPES}
    scalars = {np.dtype(t).name: t(1) for t in NUMPY_DTYPES}
    return dict(
        meta=dict(epoch=3, iter=30, cfg='model = dict()', seed=1, best_score=np.float32(0.75),
                  dataset_meta=dict(classes=('a', 'b'), train_class_counts=(5, 1))),
        state_dict=collections.OrderedDict(w=torch.randn(3, 2), b=torch.zeros(3)),
        message_hub=hub.state_dict(),
        optimizer=torch.optim.AdamW([torch.nn.Parameter(torch.ones(2))]).state_dict(),
        param_schedulers=[dict(base_values=[0.1], last_step=3, _last_value=[0.05])],
        arrays=arrays,
        scalars=scalars,
    )


def test_training_state_round_trips(tmp_path):
    path = tmp_path / 'state.pth'
    state = training_state()
    torch.save(state, path)
    loaded = load_from_local_safely(str(path), map_location='cpu')
    assert loaded['meta']['epoch'] == 3
    assert loaded['meta']['best_score'] == np.float32(0.75)
    torch.testing.assert_close(loaded['state_dict']['w'], state['state_dict']['w'])
    for name, array in state['arrays'].items():
        assert loaded['arrays'][name].dtype == array.dtype
        np.testing.assert_array_equal(loaded['arrays'][name], array)
    for name, scalar in state['scalars'].items():
        assert type(loaded['scalars'][name]) is type(scalar) and loaded['scalars'][name] == scalar
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.mean() == pytest.approx(0.375)
    assert buffer.statistics('current') == 0.25
    assert loaded['message_hub']['runtime_info']['eta'] == 12.5


def test_mmengine_loads_through_the_safe_loader(tmp_path):
    assert CheckpointLoader._get_checkpoint_loader(str(tmp_path / 'x.pth')) is load_from_local_safely
    path = tmp_path / 'state.pth'
    torch.save(training_state(), path)
    assert _load_checkpoint(str(path), map_location='cpu')['meta']['iter'] == 30


@pytest.mark.parametrize('force_unsafe_env', [False, True])
def test_foreign_global_is_refused_and_never_runs(tmp_path, monkeypatch, force_unsafe_env):
    if force_unsafe_env:
        # the switch that would turn the check off must not reach this loader
        monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    marker = tmp_path / 'ran'
    path = tmp_path / 'hostile.pth'
    state = training_state()
    state['meta']['payload'] = WritesMarker(marker)
    torch.save(state, path)
    with pytest.raises(UnsafeCheckpointError) as info:
        _load_checkpoint(str(path), map_location='cpu')
    assert f'{os.system.__module__}.system' in str(info.value)
    assert str(path) in str(info.value)
    assert 'weights_only=False' not in str(info.value)
    assert not marker.exists()


def test_getattr_reaches_only_the_history_buffer_statistics(tmp_path):
    path = tmp_path / 'getattr.pth'
    torch.save({'meta': {}, 'x': ReadsAttribute()}, path)
    with pytest.raises(UnsafeCheckpointError, match="attribute 'update' of HistoryBuffer"):
        load_from_local_safely(str(path))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_from_local_safely(str(tmp_path / 'nope.pth'))
