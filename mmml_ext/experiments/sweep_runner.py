"""Run a sweep's runs one after the other: train, then test, resumable at every step.

Each run directory holds ``sweep_run.json``: the run's settings and the stages
it finished. A stage is only marked done after its command exits with 0, so:

- a run whose two stages are done is skipped;
- a run interrupted while training is resumed from its last checkpoint
  (``tools/train.py --resume``), or started again when it saved none;
- a run trained but not tested is only tested.

Settings that differ from the ones a directory was made with are an error,
not a silent reuse of another experiment's results. Output of each command
goes to ``<run>/sweep_<stage>.log``; the terminal shows progress (rich).
"""
import datetime
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

from ..run_facts import sweep_state
from .grid import RunSpec

#: The progress part of mmengine's log lines (its LogProcessor writes them):
#: ``Epoch(train) [3][10/25]``, ``Epoch(val) [3][4/4]``, ``Iter(train) [ 100/1000]``.
PROGRESS = re.compile(r'(?:Epoch|Iter)\((?:train|val|test)\)\s*(?:\[\s*\d+\])?\[\s*\d+/\d+\]')
STAGES = ('train', 'test')
TOOLS = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools')


@dataclass
class LaunchOptions:
    """How each stage is started.

    Attributes:
        launcher (str): ``none`` (one process), ``pytorch`` (torchrun with
            ``gpus`` processes, ``tools/dist_*.sh``) or ``slurm``
            (``tools/slurm_*.sh`` on ``partition`` with ``gpus`` tasks).
        gpus (int): Processes per run for ``pytorch`` / ``slurm``.
        partition (str, optional): Slurm partition.
        port (int): First torchrun port; each stage uses the next one.
        amp (bool): Pass ``--amp`` to training.
        test (bool): Test the last checkpoint after training.
        python (str): Interpreter of the tools.
        tools_dir (str): Where ``train.py``, ``dist_train.sh`` etc. are.
            Defaults to the ``tools/`` of this repository.
    """
    launcher: str = 'none'
    gpus: int = 1
    partition: Optional[str] = None
    port: int = 29500
    amp: bool = False
    test: bool = True
    python: str = sys.executable
    tools_dir: str = TOOLS

    def __post_init__(self) -> None:
        if self.launcher not in ('none', 'pytorch', 'slurm'):
            raise ValueError(f"launcher must be none, pytorch or slurm, got {self.launcher!r}")
        if self.gpus < 1:
            raise ValueError(f'--gpus must be >= 1, got {self.gpus}')
        if self.launcher == 'slurm' and not self.partition:
            raise ValueError('--launcher slurm needs --partition')

    def command(self, stage: str, spec: RunSpec, work_dir: str, checkpoint: Optional[str] = None,
                flags: Sequence[str] = ()) -> List[str]:
        """The command line of one stage (``train`` or ``test``) of a run."""
        positional = [spec.config] + ([checkpoint] if stage == 'test' else [])
        flags = [*flags, *(['--amp'] if self.amp and stage == 'train' else [])]
        options = ['--cfg-options', *spec.options()] if spec.options() else []
        work = ['--work-dir', work_dir]
        if self.launcher == 'none':
            head = [self.python, osp.join(self.tools_dir, f'{stage}.py'), *positional]
        elif self.launcher == 'pytorch':
            head = ['bash', osp.join(self.tools_dir, f'dist_{stage}.sh'), *positional,
                    str(self.gpus)]
        else:  # slurm_train.sh takes the work dir as its 4th argument
            head = ['bash', osp.join(self.tools_dir, f'slurm_{stage}.sh'), self.partition,
                    spec.name, *positional, *([work_dir] if stage == 'train' else [])]
            work = [] if stage == 'train' else work
        return [*head, *work, *flags, *options]

    def environment(self) -> dict:
        """Environment of a stage: the interpreter, and a fresh torchrun port."""
        env = dict(os.environ, PYTHON=self.python, PYTHONUNBUFFERED='1')
        if self.launcher == 'slurm':
            env['GPUS'] = str(self.gpus)
        self.port += 1
        env.setdefault('PORT', str(self.port))
        return env


class RunState:
    """The state file of one run directory."""

    def __init__(self, work_dir: str, spec: RunSpec) -> None:
        self.work_dir, self.spec = work_dir, spec
        self.path = sweep_state.path_in(work_dir)
        self.data = dict(name=spec.name, **spec.settings(), stages={})
        if osp.isfile(self.path):
            saved = sweep_state.read(work_dir)
            wanted = {key: value for key, value in spec.settings().items() if key != 'setting'}
            recorded = {key: saved.get(key) for key in wanted}
            if recorded != wanted:
                raise ValueError(
                    f'{work_dir} holds a run with other settings ({recorded}) than this '
                    f'sweep\'s ({spec.settings()}); use another --work-root or remove it')
            self.data['stages'] = saved.get('stages', {})

    def done(self, stage: str) -> bool:
        return stage in self.data['stages']

    def mark(self, stage: str, seconds: float) -> None:
        self.data['stages'][stage] = dict(
            seconds=round(seconds, 1),
            finished=datetime.datetime.now().isoformat(timespec='seconds'))
        self.save()

    def save(self) -> None:
        os.makedirs(self.work_dir, exist_ok=True)
        tmp = self.path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(self.data, f, indent=1)
        os.replace(tmp, self.path)

    def last_checkpoint(self) -> Optional[str]:
        pointer = osp.join(self.work_dir, 'last_checkpoint')
        if not osp.isfile(pointer):
            return None
        with open(pointer) as f:
            path = f.read().strip()
        return path if path and osp.isfile(path) else None


@dataclass
class RunOutcome:
    """What happened to one run: ``done``, ``skipped`` or ``failed``, and where to look."""
    spec: RunSpec
    work_dir: str
    status: str
    message: str = ''


Progress = Callable[[str], None]


def run_stage(cmd: List[str], env: dict, log_path: str, on_line: Progress) -> int:
    """Run one command, its output to ``log_path``; report each epoch line."""
    with open(log_path, 'a', buffering=1) as log:  # line-buffered: tail -f works
        log.write(f'$ {" ".join(cmd)}\n')
        log.flush()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env, bufsize=1)
        try:
            for line in proc.stdout:
                log.write(line)
                progress = PROGRESS.search(line)
                if progress:
                    on_line(progress.group(0))
        except BaseException:  # Ctrl-C: stop the run, keep its checkpoints for --resume
            proc.terminate()
            proc.wait()
            raise
        return proc.wait()


def log_tail(path: str, lines: int = 15) -> str:
    with open(path) as f:
        return ''.join(f.readlines()[-lines:])


def execute_run(spec: RunSpec, work_root: str, launch: LaunchOptions,
                on_progress: Progress = lambda text: None) -> RunOutcome:
    """Bring one run to its end: skip it, resume it, or start its stages."""
    work_dir = osp.join(work_root, spec.name)
    state = RunState(work_dir, spec)
    stages = STAGES if launch.test else STAGES[:1]
    if all(state.done(stage) for stage in stages):
        return RunOutcome(spec, work_dir, 'skipped', 'finished before')
    state.save()
    for stage in stages:
        if state.done(stage):
            continue
        checkpoint = state.last_checkpoint()
        if stage == 'train':
            cmd = launch.command('train', spec, work_dir, flags=['--resume'] if checkpoint else [])
            on_progress('resuming' if checkpoint else 'training')
        elif checkpoint is None:
            return RunOutcome(spec, work_dir, 'failed', f'no checkpoint in {work_dir} to test')
        else:
            cmd = launch.command('test', spec, work_dir, checkpoint)
            on_progress('testing')
        log_path = osp.join(work_dir, f'sweep_{stage}.log')
        start = time.perf_counter()
        code = run_stage(cmd, launch.environment(), log_path, on_progress)
        if code != 0:
            return RunOutcome(spec, work_dir, 'failed',
                              f'{stage} exited with {code}; see {log_path}:\n{log_tail(log_path)}')
        state.mark(stage, time.perf_counter() - start)
    return RunOutcome(spec, work_dir, 'done')
