"""The CPU path of setup_distributed, in-process with a one-process gloo group."""
import os

import pytest
import torch.distributed as torch_dist
from mmengine.config import Config

from cli_helpers import free_port
from mmml_ext.engine import distributed
from mmml_ext.engine.distributed import export_slurm_env, setup_distributed


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(distributed.torch.cuda, 'is_available', lambda: False)


@pytest.fixture
def torchrun_env(monkeypatch):
    for key, value in dict(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
                           MASTER_PORT=str(free_port())).items():
        monkeypatch.setenv(key, value)
    yield
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def test_without_launcher_nothing_changes(no_cuda):
    cfg = Config(dict(launcher='none', env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    setup_distributed(cfg)
    assert cfg.env_cfg.dist_cfg.backend == 'nccl' and 'model_wrapper_cfg' not in cfg


def test_cpu_uses_gloo_and_no_device_ids(no_cuda, torchrun_env):
    cfg = Config(dict(launcher='pytorch', find_unused_parameters=True,
                      env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    setup_distributed(cfg)
    assert torch_dist.is_initialized() and torch_dist.get_backend() == 'gloo'
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
    assert cfg.model_wrapper_cfg.device_ids is None
    assert cfg.model_wrapper_cfg.find_unused_parameters is True
    # the configured wrapper really wraps a CPU model (mmengine adds device_ids only if absent)
    from mmengine.registry import MODEL_WRAPPERS
    from mmpretrain.models import ImageClassifier
    model = ImageClassifier(backbone=dict(type='mmpretrain.ResNet', depth=18))
    wrapped = MODEL_WRAPPERS.build(cfg.model_wrapper_cfg,
                                   default_args=dict(module=model, device_ids=[0]))
    assert wrapped.device_ids is None


def test_user_wrapper_keys_are_kept(no_cuda, torchrun_env):
    cfg = Config(dict(launcher='pytorch', model_wrapper_cfg=dict(
        type='MMDistributedDataParallel', broadcast_buffers=True)))
    setup_distributed(cfg)
    assert cfg.model_wrapper_cfg.broadcast_buffers is True
    assert cfg.model_wrapper_cfg.device_ids is None


def test_mpi_without_cuda_is_refused(no_cuda):
    with pytest.raises(ValueError, match='--launcher mpi needs CUDA'):
        setup_distributed(Config(dict(launcher='mpi')))


def test_slurm_variables_become_torch_variables(monkeypatch):
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv('MASTER_ADDR', 'node7')
    monkeypatch.setenv('SLURM_PROCID', '5')
    monkeypatch.setenv('SLURM_NTASKS', '8')
    monkeypatch.setenv('SLURM_LOCALID', '1')
    monkeypatch.setenv('SLURM_NODELIST', 'node[7-8]')
    export_slurm_env(port=29123)
    assert (os.environ['RANK'], os.environ['WORLD_SIZE'], os.environ['LOCAL_RANK']) == ('5', '8', '1')
    assert os.environ['MASTER_PORT'] == '29123' and os.environ['MASTER_ADDR'] == 'node7'


def test_slurm_without_its_variables_says_what_is_missing(monkeypatch):
    monkeypatch.delenv('SLURM_PROCID', raising=False)
    with pytest.raises(RuntimeError, match='SLURM_PROCID'):
        export_slurm_env()
