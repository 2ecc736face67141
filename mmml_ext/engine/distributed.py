"""Distributed training and testing on machines without CUDA (gloo on CPU).

mmengine 0.10.x assumes an accelerator in two places: its ``pytorch`` and
``slurm`` launchers call ``torch.cuda.set_device``, and its DDP wrapper is given
``device_ids=[LOCAL_RANK]``, which DistributedDataParallel rejects for a model on
the CPU. :func:`setup_distributed` is called by ``tools/train.py`` and
``tools/test.py`` before the Runner is built. With CUDA it does nothing (the
usual nccl path). Without CUDA it starts the process group with gloo from the
launcher's environment, so the Runner finds it already up, and asks the DDP
wrapper for no ``device_ids``. That is how the test suite runs the distributed
paths on CPU.
"""
import os
import subprocess
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config

#: Model wrappers that are DistributedDataParallel and so get ``device_ids``.
DDP_WRAPPERS = ('MMDistributedDataParallel', 'mmengine.MMDistributedDataParallel')


def _first_slurm_host(node_list: str) -> str:
    hosts = subprocess.run(['scontrol', 'show', 'hostnames', node_list],
                           capture_output=True, text=True, check=True).stdout.split()
    if not hosts:
        raise RuntimeError(f'scontrol found no host in SLURM_NODELIST={node_list!r}')
    return hosts[0]


def export_slurm_env(port: Optional[int] = None) -> None:
    """Translate slurm's variables into torch.distributed's env:// variables.

    Sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` (the first
    host of the job unless already set) and ``MASTER_PORT`` (``port``, else the
    environment's, else 29500), as mmengine's slurm launcher does, but without
    touching CUDA.
    """
    missing = [k for k in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST') if k not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher slurm needs the slurm variables {missing}; '
                           'start the job with srun (tools/slurm_train.sh)')
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        os.environ['MASTER_ADDR'] = _first_slurm_host(os.environ['SLURM_NODELIST'])


def setup_distributed(cfg: Config) -> None:
    """Prepare ``cfg`` (with ``cfg.launcher`` set) for a distributed run.

    On a machine with CUDA, or with ``launcher='none'``, nothing changes. On a
    machine without CUDA the process group is started here with gloo, and the
    DDP wrapper is configured with ``device_ids=None`` (``find_unused_parameters``
    and the other keys of ``model_wrapper_cfg`` are kept).

    Args:
        cfg (Config): The full config; ``env_cfg.dist_cfg`` and
            ``model_wrapper_cfg`` are updated in place.

    Raises:
        ValueError: ``launcher='mpi'`` without CUDA, which is not supported.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = dict(env_cfg.get('dist_cfg') or {})
    dist_cfg['backend'] = 'gloo'
    env_cfg['dist_cfg'] = dist_cfg
    if launcher == 'slurm':
        export_slurm_env(dist_cfg.get('port'))
    elif launcher != 'pytorch':
        raise ValueError(f'--launcher {launcher} needs CUDA; on CPU use '
                         '--launcher pytorch (torchrun) or slurm')
    if not torch_dist.is_initialized():
        # the env:// variables come from torchrun, or from export_slurm_env
        # `port` and `init_backend` are mmengine's keys, not torch's
        kwargs = {k: v for k, v in dist_cfg.items() if k not in ('port', 'init_backend')}
        torch_dist.init_process_group(**kwargs)

    wrapper_cfg = cfg.get('model_wrapper_cfg')
    if wrapper_cfg is None:
        wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    if wrapper_cfg.get('type', 'MMDistributedDataParallel') in DDP_WRAPPERS:
        # mmengine fills device_ids only when the key is absent
        wrapper_cfg['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper_cfg
