"""Polars' allocator returns freed pages promptly in every process the code location starts."""

import os
import subprocess
import sys

SHOW = "import sys, os; import pipelines; print('polars' in sys.modules, os.environ.get('_RJEM_MALLOC_CONF'))"


def _run(env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_the_decay_is_set_before_polars_is_loaded():
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    polars_loaded, conf = _run(env).split(" ", 1)
    assert polars_loaded == "False"  # jemalloc reads its settings when polars first allocates
    assert conf == "background_thread:true,muzzy_decay_ms:0"


def test_a_deployments_own_setting_wins():
    env = os.environ | {"_RJEM_MALLOC_CONF": "dirty_decay_ms:0"}
    assert _run(env) == "False dirty_decay_ms:0"
