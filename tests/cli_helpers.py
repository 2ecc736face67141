"""Run the project's command-line tools from tests, as a user would."""
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO_BCE = 'configs/demo/resnet18_shapes-lt_bce.py'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run_cmd(cmd, timeout=600, env=None, check=True, cwd=REPO) -> subprocess.CompletedProcess:
    """Run ``cmd`` in ``cwd`` (the repository root) with this interpreter's environment."""
    full_env = dict(os.environ)
    full_env['PYTHON'] = sys.executable
    full_env.update(env or {})
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{cmd} exited with {proc.returncode}\n'
                             f'--- stdout ---\n{proc.stdout[-5000:]}\n'
                             f'--- stderr ---\n{proc.stderr[-5000:]}')
    return proc


def run_tool(script: str, *args, **kwargs) -> subprocess.CompletedProcess:
    """Run ``tools/<script>``: Python tools with this interpreter, shell scripts with bash."""
    if script.endswith('.sh'):
        return run_cmd(['bash', f'tools/{script}', *args], **kwargs)
    return run_cmd([sys.executable, f'tools/{script}', *args], **kwargs)
