"""``tools/compare.py --log-to``: the comparison as an MLflow run and a TensorBoard directory, read
back with each tracker's own reader (MlflowClient on a local file store, TensorBoard's event
accumulator); the values checked against the report's own summary.csv."""
import csv

import pytest

from cli_helpers import run_tool
from mmml_ext.experiments import compare_runs
from mmml_ext.experiments import tracker_export
from mmml_ext.experiments.tracker_export import LogTarget, log_comparison, parse_log_target
from mmml_ext.run_facts.tracker_names import RUN_KEY, param_name
from test_statistics import labels, scores_of, write_run

pytest.importorskip('mlflow')
pytest.importorskip('tensorboard')


@pytest.fixture
def file_store(monkeypatch):
    monkeypatch.setenv('MLFLOW_ALLOW_FILE_STORE', 'true')  # MLflow 3 keeps files on request


@pytest.fixture(scope='module')
def compared(tmp_path_factory):
    """Two settings of three seeds; the worse one is the baseline."""
    root = tmp_path_factory.mktemp('runs')
    target = labels()
    for name, (noise, seed) in dict(bce_seed_0=(1.0, 1), bce_seed_1=(1.02, 2),
                                    bce_seed_2=(1.04, 5), asl_seed_0=(0.45, 3),
                                    asl_seed_1=(0.46, 4), asl_seed_2=(0.47, 6)).items():
        write_run(root, name.replace('_seed_', '_seed-'), scores_of(target, noise, seed), target)
    comparison = compare_runs([str(root)], str(root / 'report'), baseline='bce', bootstrap=40)
    with open(root / 'report' / 'summary.csv') as f:
        rows = {row['run']: row for row in csv.DictReader(f)}
    return comparison, rows


def expected_verdict(low: float, high: float) -> str:
    return 'better' if low > 0 else 'worse' if high < 0 else 'within noise'


def test_mlflow_holds_the_report_the_intervals_and_links_to_the_runs(compared, tmp_path,
                                                                      file_store):
    from mlflow.tracking import MlflowClient
    comparison, rows = compared
    uri = (tmp_path / 'mlruns').as_uri()
    client = MlflowClient(tracking_uri=uri)
    # two of the runs trained with TrackerHook into this store (another experiment), one
    # also tested there (a run of its own in MLflow)
    experiment = client.create_experiment('training')
    trained = {}
    for start, name in enumerate(('asl_seed-0', 'bce_seed-1', 'asl_seed-0')):
        run = client.create_run(experiment, start_time=1000 + start)
        client.log_param(run.info.run_id, param_name(RUN_KEY), name)
        client.set_terminated(run.info.run_id)
        trained.setdefault(name, []).insert(0, run.info.run_id)  # newest first

    outcome = log_comparison(comparison, [LogTarget('mlflow', 'study')], uri)
    assert list(outcome) == ['mlflow:study'] and 'linked to 2 of its 6 runs' in outcome['mlflow:study']

    [run] = client.search_runs([client.get_experiment_by_name('study').experiment_id])
    assert run.info.status == 'FINISHED' and run.info.run_name == 'report'
    metrics, tags = run.data.metrics, run.data.tags
    asl = rows['asl_seed-0']
    assert metrics['asl/mAP'] == pytest.approx(float(asl['test_mAP_mean']), abs=1e-3)
    assert metrics['asl/mAP_sd'] == pytest.approx(float(asl['test_mAP_sd']), abs=1e-3)
    low, high = float(asl['delta_test_mAP_ci_low']), float(asl['delta_test_mAP_ci_high'])
    assert metrics['asl/delta/mAP'] == pytest.approx(float(asl['delta_test_mAP']), abs=1e-3)
    assert (metrics['asl/delta/mAP_ci_low'], metrics['asl/delta/mAP_ci_high']) == (
        pytest.approx(low, abs=1e-3), pytest.approx(high, abs=1e-3))
    assert tags['verdict/asl/mAP'] == expected_verdict(low, high) == 'better'
    assert 'bce/delta/mAP' not in metrics  # the baseline against itself says nothing
    # a setting's interval of a metric without a statement at 150 images is not sent
    unsupported = set(comparison.statistics.no_statement())
    assert 'mAP' in unsupported  # the coverage study: not at 150 images
    for key in comparison.statistics.settings['asl'].point:
        assert f'asl/{key}' in metrics
        assert (f'asl/{key}_ci_low' in metrics) == (key not in unsupported), key
    assert run.data.params['baseline'] == 'bce' and run.data.params['runs'] == '6'
    # links both ways
    for name, ids in trained.items():
        assert tags[f'mmml_ext.compared/{name}'] == ','.join(ids)
        for linked in ids:
            assert client.get_run(linked).data.tags['mmml_ext.comparison'] == run.info.run_id
    assert len(trained['asl_seed-0']) == 2
    assert tags['mmml_ext.compared/asl_seed-1'].endswith('asl_seed-1')  # its work dir
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {'summary.md', 'summary.csv', 'differences.png', 'curves.png'} <= artifacts
    local = client.download_artifacts(run.info.run_id, 'summary.csv', str(tmp_path))
    with open(local) as f, open(f'{comparison.out_dir}/summary.csv') as g:
        assert f.read() == g.read()


def test_tensorboard_holds_one_run_per_setting_and_the_report(compared, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2
    comparison, rows = compared
    outcome = log_comparison(comparison, [LogTarget('tensorboard', str(tmp_path / 'tb'))])
    assert outcome == {f'tensorboard:{tmp_path / "tb"}':
                       f'2 settings and the report in {tmp_path / "tb"}'}
    events = EventAccumulator(str(tmp_path / 'tb' / 'asl'))
    events.Reload()
    asl = rows['asl_seed-1']
    [mean] = events.Scalars('test/mAP')
    assert mean.value == pytest.approx(float(asl['test_mAP_mean']), abs=1e-3)
    [delta] = events.Scalars('test/delta/CF1')
    assert delta.value == pytest.approx(float(asl['delta_test_CF1']), abs=1e-3)
    start = plugin_data_pb2.HParamsPluginData.FromString(events.PluginTagToContent('hparams')[
        '_hparams_/session_start_info']).session_start_info
    hparams = {key: value.string_value or value.number_value
               for key, value in start.hparams.items()}
    assert (hparams['setting'], hparams['seeds'], hparams['baseline']) == ('asl', 3, 'bce')
    assert hparams['verdict/mAP'] == expected_verdict(float(asl['delta_test_mAP_ci_low']),
                                                      float(asl['delta_test_mAP_ci_high']))
    report = EventAccumulator(str(tmp_path / 'tb' / 'report'), size_guidance={'images': 0})
    report.Reload()
    assert {'curves', 'differences', 'calibration'} <= set(report.Tags()['images'])
    [text] = report.Tensors('summary/text_summary')
    assert '# Experiment comparison' in text.tensor_proto.string_val[0].decode()


def test_a_failing_tracker_is_named_and_the_others_land(compared, tmp_path, file_store):
    comparison, _ = compared
    (tmp_path / 'not-a-dir').write_text('a file where the store should be')
    outcome = log_comparison(comparison, [LogTarget('mlflow', 'study'),
                                          LogTarget('tensorboard', str(tmp_path / 'tb'))],
                             (tmp_path / 'not-a-dir' / 'mlruns').as_uri())
    assert outcome['mlflow:study'].startswith('failed: ')
    assert 'settings and the report' in outcome[f'tensorboard:{tmp_path / "tb"}']


def test_targets_are_parsed_and_bad_ones_named(monkeypatch):
    assert parse_log_target('mlflow', 'out') == LogTarget('mlflow', 'Default')
    assert parse_log_target('tensorboard:runs/tb', 'out') == LogTarget('tensorboard', 'runs/tb')
    with pytest.raises(ValueError, match=r"--log-to wandb: the tracker must be one of "
                       r"\['mlflow', 'tensorboard'\]"):
        parse_log_target('wandb', 'out')
    real = tracker_export.importlib.util.find_spec
    monkeypatch.setattr(tracker_export.importlib.util, 'find_spec',
                        lambda name: None if name == 'mlflow' else real(name))
    with pytest.raises(ValueError, match=r'mlflow is not installed \(pip install -e '
                       r'\.\[trackers\]'):
        parse_log_target('mlflow:x', 'out')


def test_the_tool_logs_to_both_and_exits_1_when_one_fails(compared, tmp_path):
    comparison, _ = compared
    runs = [str(r.work_dir) for r in comparison.records]
    env = dict(MLFLOW_ALLOW_FILE_STORE='true', COLUMNS='1000')  # messages on one line
    done = run_tool('compare.py', *runs, '--out', str(tmp_path / 'cmp'), '--bootstrap', '20',
                    '--baseline', 'bce', '--log-to', 'mlflow:study', 'tensorboard',
                    '--tracking-uri', (tmp_path / 'mlruns').as_uri(), env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / 'cmp' / 'tensorboard' / 'asl').is_dir()
    assert 'linked to 0 of its 6 runs' in done.stdout
    (tmp_path / 'file').write_text('')
    bad = run_tool('compare.py', *runs, '--out', str(tmp_path / 'cmp2'), '--bootstrap', '20',
                   '--log-to', 'mlflow', '--tracking-uri', (tmp_path / 'file' / 'x').as_uri(),
                   env=env, check=False)
    assert bad.returncode == 1
    assert (tmp_path / 'cmp2' / 'summary.md').is_file()  # the report is on disk all the same
    assert '--log-to mlflow:Default: failed: ' in bad.stdout
    unknown = run_tool('compare.py', *runs, '--out', str(tmp_path / 'cmp3'), '--log-to', 'tb',
                       check=False)
    assert unknown.returncode != 0 and 'the tracker must be one of' in unknown.stderr
    assert not (tmp_path / 'cmp3').exists()  # named before any work
