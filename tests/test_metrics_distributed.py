"""Every sample counted once: 1, 2 and 3 CPU processes give the same metrics, exactly.

Across processes the rows stay spread over them (each owns a slice of the
classes); the metrics must equal those of one process on every key, and a
failure must reach every process (no hang), with the predictions saved first.
"""
import glob
import json
import sys
import time

import numpy as np
import pytest
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS

from cli_helpers import free_port, run_cmd
from dist_metrics_worker import (METRIC_CFGS, NUM_SAMPLES, RICH_CFGS, RICH_SAMPLES,
                                 fixed_samples, rich_samples, tuned_fit)
from mmml_ext.evaluation import EvalContext
from mmml_ext.evaluation.row_batches import batch_rows, plan_rows


def one_process(cfgs, samples, context=None):
    evaluator = Evaluator([METRICS.build(cfg) for cfg in cfgs])
    for metric in evaluator.metrics if context is not None else ():
        metric.set_eval_context(context)
    evaluator.process(samples)
    return evaluator.evaluate(len(samples))


@pytest.fixture(scope='module')
def single_process_metrics():
    return one_process(METRIC_CFGS, fixed_samples())


@pytest.fixture(scope='module')
def single_process_rich(tmp_path_factory):
    context = EvalContext(work_dir=str(tmp_path_factory.mktemp('one')))
    metrics = one_process(RICH_CFGS, rich_samples(), context)
    return metrics, tuned_fit(context)


def torchrun(nproc, out, options, env=None, check=True, timeout=300):
    return run_cmd([sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={nproc}',
                    f'--master_port={free_port()}', 'tests/dist_metrics_worker.py', out,
                    *options], timeout=timeout, env=env, check=check)


def results(out, nproc):
    return [json.loads(open(f'{out}.rank{rank}.json').read()) for rank in range(nproc)]


@pytest.mark.parametrize('nproc, options', [(1, ()), (2, ()), (3, ()), (2, ('--shared', )),
                                             (3, ('--shared', '--no-index'))])
def test_torchrun_processes_agree(nproc, options, single_process_metrics, tmp_path):
    out = tmp_path / 'metrics.json'
    torchrun(nproc, out, options)
    for result in results(out, nproc):  # every process has the metrics
        assert result['world_size'] == nproc
        # 101 samples do not divide by 2 or 3: the sampler pads, and the padding must be dropped
        assert result['per_rank'] == -(-NUM_SAMPLES // nproc)
        assert result['metrics'] == single_process_metrics
        assert len(result['metrics']) == 5 + 1 + 7 + 6 + 4 + 4 + 9  # keys of METRIC_CFGS
        assert 'rows-only/sample_mAP' in result['metrics']
        assert result.get('sharded', nproc > 1) == (nproc > 1)


@pytest.mark.parametrize('nproc', [2, 3])
def test_sharded_evaluation_equals_one_process_on_every_key(nproc, single_process_rich,
                                                            tmp_path):
    # -1 cells, labels only on difficult objects read three ways, per-class thresholds, top-k,
    # calibration, and rows exchanged in rounds of a few rows
    out = tmp_path / 'metrics.json'
    torchrun(nproc, out, ('--rich', '--shared', '--small-rounds'))
    metrics, tuned = single_process_rich
    assert len(tuned['inverse_temperature']) == 23
    for result in results(out, nproc):
        assert result['sharded']
        assert 'spread over processes' in result['all_rows_refused']
        assert result['metrics'] == metrics  # exactly, float for float
        # what a checkpoint keeps, fitted on the shards: the thresholds exactly; the
        # temperatures to rounding (a Newton fit whose sums run over blocks of other widths)
        fitted = result['tuned']
        assert (fitted['global_thr'], fitted['per_class']) == (tuned['global_thr'],
                                                                tuned['per_class'])
        assert [a is None for a in fitted['inverse_temperature']] == [
            a is None for a in tuned['inverse_temperature']]
        assert np.allclose(np.array(fitted['inverse_temperature'], dtype=float),
                           np.array(tuned['inverse_temperature'], dtype=float),
                           rtol=1e-12, atol=0, equal_nan=True)
    assert len(metrics) == 5 + 2 + 7 + 6 + 6 + 5 + 1 + 4 + 9 + 9 + 3 + 3 + 1 + (1 + 2 * 23) + 1


def test_a_failing_metric_saves_the_predictions_once_in_dataset_order(tmp_path):
    out = tmp_path / 'metrics.json'
    torchrun(3, out, ('--rich', '--shared', '--small-rounds', '--fail'))
    errors = [result['error'] for result in results(out, 3)]
    assert {e['type'] for e in errors} == {'FileNotFoundError'}  # on every process
    assert all('no_such_thresholds.json' in e['message'] for e in errors)
    saved = glob.glob(str(tmp_path / 'predictions_*.npz'))
    assert len(saved) == 1 and all(saved[0] in e['message'] for e in errors)  # one file, named
    expected = batch_rows(rich_samples())
    with np.load(saved[0]) as data:
        np.testing.assert_array_equal(data['scores'], expected.scores)
        difficult_ignored = np.where(expected.target == 2, -1, expected.target)
        np.testing.assert_array_equal(data['target'], difficult_ignored)
        np.testing.assert_array_equal(data['sample_idx'], np.arange(RICH_SAMPLES))


def test_processes_with_different_numbers_of_classes_fail_together(tmp_path):
    out = tmp_path / 'metrics.json'
    torchrun(3, out, ('--rich', '--shared', '--classes-mismatch'))
    for rank, result in enumerate(results(out, 3)):
        assert result['error']['type'] == 'ValueError'
        message = result['error']['message']
        assert 'different numbers of classes (rank 0: 23, rank 1: 24, rank 2: 23)' in message
        saved = glob.glob(str(tmp_path / f'predictions_*_rank{rank}.npz'))
        assert len(saved) == 1 and saved[0] in message  # this process's rows are kept
        with np.load(saved[0]) as data:
            assert data['scores'].shape == (-(-RICH_SAMPLES // 3), 23 + (rank == 1))


def test_a_process_that_does_not_come_is_named_after_the_timeout(tmp_path):
    out = tmp_path / 'metrics.json'
    start = time.monotonic()
    torchrun(3, out, ('--rich', '--shared', '--late'), env=dict(MMML_EVAL_TIMEOUT='4'),
             timeout=120)
    assert time.monotonic() - start < 90
    first, second = (json.loads(open(f'{out}.rank{rank}.json').read()) for rank in (0, 1))
    for result in (first, second):
        assert result['error']['type'] == 'EvaluationExchangeError'
        assert 'timeout of 4 s (MMML_EVAL_TIMEOUT)' in result['error']['message']
    assert 'Ranks 2 failed to pass monitoredBarrier' in first['error']['message']


def test_a_process_that_stops_in_the_exchange_is_named(tmp_path):
    out = tmp_path / 'metrics.json'
    proc = torchrun(3, out, ('--rich', '--shared', '--die-in-exchange'),
                    env=dict(MMML_EVAL_TIMEOUT='4'), check=False, timeout=120)
    assert proc.returncode != 0  # rank 2 exits with 3
    first, second = (json.loads(open(f'{out}.rank{rank}.json').read()) for rank in (0, 1))
    for rank, result in enumerate((first, second)):
        assert result['error']['type'] == 'EvaluationExchangeError'
        message = result['error']['message']
        assert f'rank {rank}: exchanging the scores failed' in message
        saved = glob.glob(str(tmp_path / f'predictions_*_rank{rank}.npz'))  # each keeps its rows
        assert len(saved) == 1 and saved[0] in message
        with np.load(saved[0]) as data:
            np.testing.assert_array_equal(data['sample_idx'], np.arange(rank, RICH_SAMPLES, 3))
    assert 'Ranks 2 failed to pass monitoredBarrier' in first['error']['message']


def test_the_plan_keeps_each_sample_once_in_dataset_order():
    # three processes of DefaultSampler on 10 samples: 12 rows, the last round padded
    indices = [np.array([0, 3, 6, 9]), np.array([1, 4, 7, 0]), np.array([2, 5, 8, 1])]
    plan = plan_rows(indices, [4, 4, 4], 10, 3)
    np.testing.assert_array_equal(plan.sample_idx, np.arange(10))
    assert [p.tolist() for p in plan.positions] == [[0, 3, 6, 9], [1, 4, 7, -1], [2, 5, 8, -1]]
    with pytest.raises(ValueError, match='12 rows were evaluated for a dataset of 8 samples, '
                       'more than the 9'):
        plan_rows(indices, [4, 4, 4], 8, 3)
