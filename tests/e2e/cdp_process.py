"""`cdp` in a process of its own, for deployments that live in their own config folder (the
config folder is read when the code location loads, so another one needs another process)."""

import os
import subprocess
import sys
from pathlib import Path


def deployment_env(root: Path) -> dict[str, str]:
    """The environment of a process running ``root/config`` as the deployment on ``root/data``."""
    env = {
        **os.environ,
        "CDP_CONFIG_DIR": str(root / "config"),
        "CDP_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "CDP_HASH_SALT": "e2e-test-salt",
        "COLUMNS": "200",
    }
    env.pop("CDP_LANDING_DIR", None)
    return env


def cdp(root: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``cdp args…`` with ``root/config`` as the deployment and ``root/data`` as its data."""
    return _run([str(Path(sys.executable).with_name("cdp")), *args], root)


def python(root: Path, code: str) -> subprocess.CompletedProcess:
    """Run Python ``code`` in the deployment, for what the CLI does not offer (a test's variant of a run)."""
    return _run([sys.executable, "-c", code], root)


def _run(command: list[str], root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, env=deployment_env(root), cwd=root, capture_output=True, text=True, timeout=900, check=False
    )
