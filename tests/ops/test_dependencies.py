"""Dependencies declared exactly as used: every third-party package the product imports is declared
in pyproject.toml (not merely pulled in by another), and every declared one is imported or named
here as needed at run time without an import (a CLI the pipeline starts, the UI server, a dbt
adapter). The Spark engine's packages are an optional extra (``.[spark]``) and count as declared."""

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGES = ("assets", "pipelines", "generator")
# Import names that differ from the distribution's name on PyPI; the longest matching prefix wins
# (``dbt`` is a namespace: dbt-core's CLI, dbt-duckdb's adapter).
DISTRIBUTION_OF = {
    "yaml": "pyyaml",
    "opencc": "opencc-python-reimplemented",
    "great_expectations": "great-expectations",
    "dagster_dbt": "dagster-dbt",
    "pydantic_core": "pydantic",  # pydantic pins its own core: declaring pydantic declares both
    "dbt": "dbt-core",
    "dbt.adapters.duckdb": "dbt-duckdb",
    "dbt_common": "dbt-common",
}
# Used without an import: the Dagster UI runs as a server (`cdp ui`); dbt loads its Spark adapter
# from the profile's `type: spark`.
RUNTIME_ONLY = {"dagster-webserver", "dbt-spark"}
EXTRAS = ("spark",)


def distribution_of(module: str) -> str:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in DISTRIBUTION_OF:
            return DISTRIBUTION_OF[prefix]
    return parts[0]


def imported_distributions() -> set[str]:
    names = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names |= {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.add(node.module)
    local = set(sys.stdlib_module_names) | set(PACKAGES)
    third_party = {name for name in names if name.split(".")[0] not in local}
    return {distribution_of(name).lower().replace("_", "-") for name in third_party}


def declared_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = [
        *project["dependencies"],
        *(s for extra in EXTRAS for s in project["optional-dependencies"][extra]),
    ]
    return {re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower() for spec in specs}


def test_every_imported_package_is_declared():
    assert imported_distributions() - declared_distributions() == set()


def test_every_declared_package_is_imported_or_needed_at_run_time():
    assert declared_distributions() - imported_distributions() - RUNTIME_ONLY == set()
