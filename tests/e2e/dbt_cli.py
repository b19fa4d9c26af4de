"""Run the dbt CLI against a test's warehouse, the way the pipeline does."""

import json
import os
import subprocess
import sys
from pathlib import Path

from assets.common.paths import DBT_PROJECT_DIR
from assets.common.warehouse import Warehouse
from pipelines.dbt_vars import dbt_vars


def dbt(args: list[str], warehouse: Path) -> subprocess.CompletedProcess:
    """dbt with the environment, vars and target folder the pipeline gives it for this warehouse's
    deployment (so it reuses the run's parse rather than writing into the project's own target)."""
    resource = Warehouse(data_dir=str(warehouse.parent))
    env = {**os.environ, **resource.dbt_variables()}
    if "--vars" not in args:  # the deployment's vars, as the pipeline passes them
        args = [*args, "--vars", json.dumps(dbt_vars(), ensure_ascii=False)]
    target = ["--target-path", str(resource.paths.dbt_target)]
    return subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), *args, *target, "--profiles-dir", str(DBT_PROJECT_DIR)],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )


def dbt_show(sql: str, warehouse: Path, limit: int = 1000) -> list[dict]:
    """Rows of an inline query compiled with the project's macros."""
    out = dbt(
        ["show", "--inline", sql, "--limit", str(limit), "--output", "json", "--log-format", "json"],
        warehouse,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for line in out.stdout.splitlines():
        data = json.loads(line).get("data", {})
        if "preview" in data:
            preview = data["preview"]
            return json.loads(preview) if isinstance(preview, str) else preview
    raise AssertionError(f"no preview in dbt show output: {out.stdout[-2000:]}")
