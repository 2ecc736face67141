"""Every sample counted once: 1, 2 and 3 CPU processes give the same metrics."""
import json
import sys

import pytest
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS

from cli_helpers import free_port, run_cmd
from dist_metrics_worker import METRIC_CFGS, NUM_SAMPLES, fixed_samples


@pytest.fixture(scope='module')
def single_process_metrics():
    evaluator = Evaluator([METRICS.build(cfg) for cfg in METRIC_CFGS])
    evaluator.process(fixed_samples())
    return evaluator.evaluate(NUM_SAMPLES)


@pytest.mark.parametrize('nproc, options', [(1, ()), (2, ()), (3, ()), (2, ('--shared', )),
                                             (3, ('--shared', '--no-index'))])
def test_torchrun_processes_agree(nproc, options, single_process_metrics, tmp_path):
    out = tmp_path / 'metrics.json'
    run_cmd([sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={nproc}',
             f'--master_port={free_port()}', 'tests/dist_metrics_worker.py', out, *options],
            timeout=300)
    result = json.loads(out.read_text())
    assert result['world_size'] == nproc
    # 101 samples do not divide by 2 or 3: the sampler pads, and the padding must be dropped
    assert result['per_rank'] == -(-NUM_SAMPLES // nproc)
    assert result['metrics'] == single_process_metrics
    assert len(result['metrics']) == 4 + 7 + 6 + 4 + 4 + 9  # keys of METRIC_CFGS
