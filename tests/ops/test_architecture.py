"""The code's dependency rules, checked on the source: ``pipelines`` (the Dagster code location and
CLI) uses the stages, never the other way round, and the engines are libraries without Dagster."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
STAGE_PACKAGES = ("assets", "generator")
# Engines that must stay liftable (a Spark engine plugs into the identity one): only their thin
# asset modules may import Dagster.
ENGINES = ("assets/identity", "assets/kpis/attribution", "assets/profiles")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at top level or inside functions (lazy imports count too)."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def offending(folders: tuple[str, ...], forbidden: str, allowed_files: tuple[str, ...] = ()) -> list[str]:
    found = []
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name in allowed_files:
                continue
            bad = sorted(m for m in imported_modules(path) if m == forbidden or m.startswith(forbidden + "."))
            found += [f"{path.relative_to(ROOT)}: imports {m}" for m in bad]
    return found


def test_stage_code_never_imports_the_orchestration_package():
    assert offending(STAGE_PACKAGES, "pipelines") == []


def test_engines_are_dagster_free_libraries():
    assert offending(ENGINES, "dagster", allowed_files=("assets.py",)) == []


@pytest.mark.parametrize(
    "source, forbidden, expected",
    [
        ("from pipelines.settings import STAGES\n", "pipelines", ["pipelines.settings"]),
        ("def f():\n    import pipelines.cli\n", "pipelines", ["pipelines.cli"]),
        ("import dagster as dg\n", "dagster", ["dagster"]),
        ("from assets.common.paths import DataPaths\n", "pipelines", []),
    ],
)
def test_the_check_sees_every_form_of_import(tmp_path, source, forbidden, expected):
    module = tmp_path / "module.py"
    module.write_text(source, encoding="utf-8")
    found = sorted(m for m in imported_modules(module) if m == forbidden or m.startswith(forbidden + "."))
    assert found == expected
