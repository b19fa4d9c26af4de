"""The identity engine is a library: a small public API, no Dagster, storage behind an interface."""

import ast
import dataclasses
import doctest
import subprocess
import sys
import weakref
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

import assets.identity
from assets.identity import Changes, DuckDBGraphStore, State, Tables, engine, resolve_warehouse
from assets.identity.engine import resolve
from assets.identity.run import fingerprint, full_rebuild_reason
from assets.identity.settings import IncrementalConfig, identity_config
from tests.identity.helpers import SALT, StagedWarehouse
from tests.identity.test_incremental import incremental_config
from tests.identity.test_stable_ids import BASE

PACKAGE = Path(assets.identity.__file__).parent


def test_the_docstring_example_runs(monkeypatch):
    monkeypatch.chdir(PACKAGE.parents[1])
    result = doctest.testmod(assets.identity, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_only_the_dagster_wrapper_imports_the_orchestration():
    offenders = []
    for module in PACKAGE.glob("*.py"):
        if module.name == "assets.py":
            continue
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{module.name}: {n}" for n in names if n.split(".")[0] in ("pipelines", "dagster")]
    assert offenders == []


def test_the_public_api_loads_without_dagster():
    code = (
        "import sys, assets.identity as i; [getattr(i, n) for n in i.__all__]; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dagster', 'pipelines'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def moved(warehouse: StagedWarehouse, tables: Tables) -> None:
    """Move what the helper staged into the custom staging tables, leaving the default ones empty."""
    for default, custom in (
        ("staging.stg_identity_records", tables.staged_records),
        ("staging.stg_identity_attributes", tables.staged_attributes),
    ):
        warehouse.con.execute(f"INSERT INTO {custom} SELECT * FROM {default}")
        warehouse.con.execute(f"DELETE FROM {default}")


def test_the_duckdb_store_reads_and_writes_the_tables_it_is_given(tmp_path):
    config = incremental_config()
    tables = Tables(
        staged_records="feed.records",
        staged_attributes="feed.attributes",
        schema="graph",
        resolved="people",
        links="edges",
        nodes="vertices",
        node_keys="vertex_keys",
        state="runs",
    )
    custom, default = (
        StagedWarehouse(tmp_path / "custom.duckdb"),
        StagedWarehouse(tmp_path / "default.duckdb"),
    )
    custom.con.execute("CREATE SCHEMA feed")
    custom.con.execute(f"CREATE TABLE {tables.staged_records} AS SELECT * FROM staging.stg_identity_records")
    custom.con.execute(
        f"CREATE TABLE {tables.staged_attributes} AS SELECT * FROM staging.stg_identity_attributes"
    )
    day = datetime(2026, 5, 2)
    later = [
        ("shop", "a3", "record", "email", "", " A@X.cn", 30),
        ("shop", "d1", "record", "email", "", "d@x.cn", 30),
    ]
    for batch, now in ((BASE, day), (later, day + timedelta(days=1))):
        for warehouse in (custom, default):
            warehouse.add(batch)
        moved(custom, tables)
        outcomes = [
            resolve_warehouse(w.con, config, salt=SALT, run_id=str(now), now=now, tables=t)
            for w, t in ((custom, tables), (default, Tables()))
        ]
        assert [o.mode for o in outcomes] == (["full"] * 2 if batch is BASE else ["incremental"] * 2)
    ours, theirs = DuckDBGraphStore(custom.con, tables), DuckDBGraphStore(default.con)
    assert ours.resolved_records().sort("node").equals(theirs.resolved_records().sort("node"))
    assert ours.row_counts() == theirs.row_counts() and ours.row_counts()["links"] > 0
    ours = custom.con.sql("SELECT * FROM graph.people ORDER BY node").pl()
    assert ours.get_column("unified_id").n_unique() == 4
    schemas = {
        s
        for (s,) in custom.con.execute(
            "SELECT DISTINCT table_schema FROM information_schema.tables "
            "WHERE table_catalog = current_database()"
        ).fetchall()
    }
    assert "identity" not in schemas and {"graph", "feed"} <= schemas
    assert custom.con.sql("SELECT mode FROM graph.runs ORDER BY resolved_at").pl()["mode"].to_list() == [
        "full",
        "incremental",
    ]


class CountingStore:
    """A store that only reports what changed: the rebuild decision needs nothing else."""

    version = "test"

    def __init__(self, changed: int, unaccounted: int = 0) -> None:
        self.changes = Changes(changed, unaccounted)

    def changes_since(self, watermark: datetime) -> Changes:
        return self.changes


def state(config, nodes: int) -> State:
    now = datetime(2026, 5, 2)
    return State("full", now, now, fingerprint(config, SALT, "test"), None, nodes, now, nodes)


def test_the_rebuild_decision_asks_the_store_what_changed():
    config = incremental_config()
    strict = dataclasses.replace(config, incremental=IncrementalConfig(max_changed_share=0.1))
    now = datetime(2026, 5, 3)
    assert full_rebuild_reason(CountingStore(changed=5), state(strict, 95), strict, SALT, now) is None
    assert "10.5% of nodes changed" in full_rebuild_reason(
        CountingStore(changed=11), state(strict, 94), strict, SALT, now
    )
    assert full_rebuild_reason(CountingStore(5, unaccounted=-2), state(strict, 95), strict, SALT, now) == (
        "2 records disappeared from staging outside ingestion"
    )
    assert "config" in full_rebuild_reason(CountingStore(5), state(strict, 95), strict, "other salt", now)


def test_the_declared_public_names_are_the_lazily_exported_ones():
    import assets.identity as identity

    assert sorted(identity.__all__) == sorted(identity._EXPORTS)


def test_a_full_run_reads_the_raw_values_one_kind_at_a_time_and_resolves_as_from_one_frame(tmp_path):
    """At 2 M people the raw values alone are gigabytes: the store hands them over kind by kind,
    and the people found are those of the whole frame."""
    warehouse = StagedWarehouse(tmp_path / "w.duckdb")
    warehouse.add(
        BASE
        + [
            ("pos", "p1", "record", "mobile", "", "+86 138 0013 8000", 6),
            ("pos", "p1", "record", "person_name", "", "张伟", 6),
            ("shop", "c1", "record", "mobile", "", "13800138000", 5),
            ("pos", "p2", "record", "mobile", "", None, 7),
        ]
    )
    store = DuckDBGraphStore(warehouse.con)
    nodes = store.load_nodes()
    whole = warehouse.con.sql(
        "SELECT node, attribute_kind, namespace, value FROM staging.stg_identity_attributes "
        "JOIN identity_nodes USING (source, record_id, record_type)"
    ).pl()
    parts = list(store.attributes_by_kind(["email", "mobile", "undeclared"]))
    assert [p.get_column("attribute_kind").unique().to_list() for p in parts] == [["email"], ["mobile"], []]
    assert (
        sum(p.height for p in parts)
        == whole.filter(pl.col("attribute_kind").is_in(["email", "mobile"])).height
    )
    assert not warehouse.con.sql(
        "SELECT * FROM duckdb_tables() WHERE table_name = 'identity_attributes'"
    ).fetchall()

    outcome = warehouse.resolve(full=True)
    from_frame = resolve(
        nodes,
        whole,
        identity_config(),
        salt=SALT,
        run_id="run-1",
        resolved_at=outcome.resolution.resolved.item(0, "resolved_at"),
    )
    columns = ["source", "record_id", "record_type", "unified_id", "method", "rule", "confidence"]
    assert (
        outcome.resolution.resolved.select(columns)
        .sort(columns)
        .equals(from_frame.resolved.select(columns).sort(columns))
    )
    assert outcome.resolution.resolved.get_column("unified_id").n_unique() > 1


def test_a_full_run_frees_its_graph_before_building_the_links(tmp_path, monkeypatch):
    """At 2 M people the links are the largest output (15 M rows with both records' names): the
    strong identifiers, the scored pairs and the graph itself are freed before they are built."""
    warehouse = StagedWarehouse(tmp_path / "w.duckdb")
    warehouse.add(BASE)
    alive: dict[str, weakref.ref] = {}
    stitch, build_links = engine.stitch_prepared, engine.build_links

    def watched_stitch(graph, config):
        alive.update(graph=weakref.ref(graph), strong=weakref.ref(graph.guard.strong))
        return stitch(graph, config)

    def checked_build_links(*args):
        alive["still_alive"] = [name for name, ref in list(alive.items()) if ref() is not None]
        return build_links(*args)

    monkeypatch.setattr(engine, "stitch_prepared", watched_stitch)
    monkeypatch.setattr(engine, "build_links", checked_build_links)
    outcome = warehouse.resolve(full=True)
    assert outcome.mode == "full" and not outcome.resolution.links.is_empty()
    assert alive["still_alive"] == []


def test_a_full_run_holds_its_labels_as_categories_and_the_store_writes_them_as_text(tmp_path):
    """A source, a kind, a method or a run is one of a few values over millions of rows: the full
    run holds them as categories (4 bytes a row instead of a 16-byte string view), and the tables
    it writes keep their text columns and values."""
    warehouse = StagedWarehouse(tmp_path / "w.duckdb")
    warehouse.add(BASE)
    resolution = warehouse.resolve(full=True).resolution
    labels = {
        "resolved": ["source", "record_type", "method", "rule", "first_linked_run"],
        "links": ["source_a", "record_type_a", "source_b", "record_type_b", "method", "rule"],
        "keys": ["attribute_kind", "namespace", "kind_ns"],
    }
    for name, columns in labels.items():
        frame = getattr(resolution, name)
        assert not frame.is_empty()
        assert {c: frame.schema[c] for c in columns} == dict.fromkeys(columns, pl.Categorical())
    text = warehouse.con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'identity' AND table_name IN ('resolved_records', 'links', 'node_keys')"
    ).fetchall()
    tables = {"resolved": "resolved_records", "links": "links", "keys": "node_keys"}
    written = {(tables[n], c) for n, columns in labels.items() for c in columns}
    assert {(t, c): d for t, c, d in text if (t, c) in written} == dict.fromkeys(written, "VARCHAR")
    stored = DuckDBGraphStore(warehouse.con).resolved_records()
    assert stored.sort("node").get_column("method").to_list() == (
        resolution.resolved.sort("node").get_column("method").cast(pl.String).to_list()
    )
