"""Benchmark: our identity engine and Splink (DuckDB backend) side by side on the same records of
a built warehouse — wall time, peak memory and match quality against the generator's truth.

    .venv/bin/python benchmarks/bench_splink.py --workdir /tmp/o2o-cdp-bench-200000 \\
        --json benchmarks/results/splink-200k.json

The warehouse is opened read-only. Splink is no dependency of the project: it is installed for
this benchmark only, in its own venv (``benchmarks/.venv-splink``, created with pip on first use),
and runs there through ``benchmarks/splink_runner.py``. Each tool runs in its own child process,
so wall time and peak RSS are each tool's own.

A fair, competent Splink setup: it gets the keys our normalisers make (pinyin names, 11-digit
mobiles, hashed card numbers…; placeholders such as 13800000000 removed, as our guards do), one
row per record with one column per attribute kind; it blocks on every strong identifier and on
the name + city / store / address / birth date passes of config/identity.yaml, compares names by
Jaro-Winkler levels (term-frequency adjusted), mobiles exact / one edit, the rest exactly (term-
frequency adjusted, so an identifier many records share weighs less); it is
trained by Splink's standard recipe and clustered at 0.5, and its best threshold of a sweep is
reported too.

Our engine runs as the identity asset does, on records *and* event actors (a device id seen with
a member card, an OpenID…): that is what is timed. Actors carry no truth and Splink gets records
only, so our engine is also run on the records alone — the very input Splink gets. Scores are over
the identifiable records (those our engine gives a unified id; the others carry no usable
identifier), the same set for every tool, and over all records with unresolved ones as singletons.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
from reporting import emit, identity_graph  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from assets.identity import resolve
from assets.identity.evaluation import truth_scores
from assets.identity.settings import IdentityConfig, identity_config
from assets.identity.steps import normalise_attributes

HERE = Path(__file__).resolve().parent
SPLINK_REQUIREMENT = "splink>=5,<6"  # splink_runner.py is written against the Splink 5 API
DEFAULT_VENV = HERE / ".venv-splink"
CLUSTER_THRESHOLD = 0.5
SWEEP = (0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99)
KEYS = ["source", "record_id"]


def load(warehouse: Path, records_only: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Nodes and raw attributes exactly as the identity asset reads them (records and actors), or
    the records alone."""
    nodes, attributes = identity_graph(warehouse)
    if records_only:
        nodes = nodes.filter(pl.col("record_type") == "record")
        attributes = attributes.join(nodes.select("node"), on="node", how="semi")
    return nodes, attributes


def child_ours(warehouse: Path, out: Path, records_only: bool) -> None:
    """Our engine in this process: load as the asset does, resolve, write each record's unified id
    (``out``.parquet) and the figures (``out``.json)."""
    started = time.perf_counter()
    nodes, attributes = load(warehouse, records_only)
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    result = resolve(nodes, attributes, identity_config(), salt="bench", run_id="bench")
    seconds = time.perf_counter() - started
    result.resolved.filter(pl.col("record_type") == "record").select(*KEYS, "unified_id").write_parquet(
        out.with_suffix(".parquet")
    )
    out.with_suffix(".json").write_text(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "load_seconds": round(loaded, 2),
                "nodes": nodes.height,
                "actors": int(nodes.get_column("record_type").ne("record").sum()),
                "phase_seconds": {
                    k.removeprefix("seconds_"): v for k, v in result.stats.items() if k.startswith("seconds_")
                },
            }
        ),
        encoding="utf-8",
    )


def run_child(command: list[str], cwd: Path) -> tuple[float, float]:
    """Run one tool's process; its wall seconds and peak RSS in MB (its own, from wait4)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, "DO_NOT_TRACK": "1"})
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{command[1]} failed with exit code {process.returncode}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def splink_python(venv: Path) -> Path:
    """The Python of Splink's venv, created and filled with pip on first use."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                SPLINK_REQUIREMENT,
            ],
            check=True,
        )
    return python


def splink_records(nodes: pl.DataFrame, attributes: pl.DataFrame, config: IdentityConfig) -> pl.DataFrame:
    """One row per record (``unique_id`` = node) and one column per attribute kind holding its
    normalised key — the most frequent one when a record has several. Namespaced keys carry their
    namespace (an account name only matches on its own platform); hashed kinds stay hashed."""
    records = nodes.filter(pl.col("record_type") == "record").select("node")
    keyed, _placeholders = normalise_attributes(
        attributes.join(records, on="node", how="semi"), config, salt="bench"
    )
    keyed = keyed.with_columns(
        value=pl.when(pl.col("kind_ns") == pl.col("attribute_kind"))
        .then(pl.col("key"))
        .otherwise(pl.concat_str("namespace", "key", separator=":"))
    )
    first = (
        keyed.group_by("node", "attribute_kind", "value")
        .len()
        .sort("node", "attribute_kind", "len", "value", descending=[False, False, True, False])
        .group_by("node", "attribute_kind", maintain_order=True)
        .agg(pl.col("value").first())
    )
    wide = first.pivot(on="attribute_kind", index="node", values="value")
    kinds = [k for k in config.attribute_kinds if k in wide.columns]
    return records.join(wide, on="node", how="left").select(pl.col("node").alias("unique_id"), *kinds)


def splink_spec(config: IdentityConfig, kinds: list[str]) -> dict[str, Any]:
    """What Splink compares and blocks on, from config/identity.yaml and the kinds the records
    carry: every strong identifier is a blocking rule, a deterministic rule and an exact comparison;
    weak kinds are compared as our matching compares them and blocked on in its passes."""
    attribute = config.attribute_kinds
    strong = [k for k in kinds if attribute[k].strength == "strong"]
    return {
        "comparisons": {
            k: attribute[k].compare or "exact" for k in kinds if attribute[k].compare or k in strong
        },
        "blocking": [[k] for k in strong]
        + [list(p) for p in config.matching.blocking if set(p) <= set(kinds)],
        "deterministic": [[k] for rule in config.rules for k in rule.kinds if k in strong],
        "string_threshold": config.matching.string_threshold,
        "cluster_threshold": CLUSTER_THRESHOLD,
        "thresholds": list(SWEEP),
    }


def scores(clusters: pl.DataFrame, truth: pl.DataFrame, identifiable: pl.DataFrame) -> dict[str, Any]:
    """Truth scores and cluster count of (source, record_id, unified_id) over the identifiable
    records and over all records (a record without a unified id counts as its own cluster)."""
    everyone = clusters.with_columns(
        unified_id=pl.coalesce("unified_id", pl.concat_str(*KEYS, separator="|"))
    )
    out = {}
    for name, frame in (
        ("identifiable", everyone.join(identifiable, on=KEYS, how="semi")),
        ("all_records", everyone),
    ):
        out[name] = truth_scores(frame, truth) | {"clusters": frame.get_column("unified_id").n_unique()}
    return out


def headline(tool: dict[str, Any]) -> dict[str, Any]:
    """The figures compared across tools."""
    quality = tool["identifiable"]
    return {
        **{k: tool[k] for k in ("seconds", "peak_rss_mb") if k in tool},
        **{
            k: quality[k]
            for k in (
                "pairwise_precision",
                "pairwise_recall",
                "pairwise_f1",
                "bcubed_f1",
                "largest_cluster",
                "clusters",
            )
        },
    }


def run_ours(workdir: Path, work: Path, records_only: bool) -> tuple[dict[str, Any], pl.DataFrame]:
    """Our engine in a child process: its figures and each record's unified id."""
    out = work / ("ours_records_only" if records_only else "ours")
    process_seconds, peak = run_child(
        [
            sys.executable,
            __file__,
            "--child",
            "ours",
            "--workdir",
            str(workdir),
            "--out",
            str(out),
            *(["--records-only"] if records_only else []),
        ],
        cwd=work,
    )
    figures = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    return (
        figures | {"process_seconds": round(process_seconds, 2), "peak_rss_mb": round(peak)},
        pl.read_parquet(out.with_suffix(".parquet")),
    )


def prepare_splink_input(warehouse: Path, work: Path) -> tuple[dict[str, Any], pl.DataFrame, float]:
    """Write Splink's input (``records.parquet``) and its spec; the spec, the record keys of each
    ``unique_id`` and the preparation seconds (normalising and pivoting, not counted as Splink's)."""
    config = identity_config()
    nodes, attributes = load(warehouse, records_only=True)
    started = time.perf_counter()
    records = splink_records(nodes, attributes, config)
    records.write_parquet(work / "records.parquet")
    seconds = time.perf_counter() - started
    kinds = [
        c for c in records.columns if c != "unique_id" and records.get_column(c).null_count() < records.height
    ]
    spec = splink_spec(config, kinds) | {
        "input": str(work / "records.parquet"),
        "clusters": str(work / "splink.parquet"),
        "report": str(work / "splink.json"),
    }
    return spec, nodes.select(pl.col("node").alias("unique_id"), *KEYS), seconds


def run_splink(python: Path, warehouse: Path, work: Path) -> tuple[dict[str, Any], pl.DataFrame]:
    """Splink in its own venv and process: its figures and each record's cluster at every threshold
    of the sweep (one column per threshold)."""
    spec, keys, prepare_seconds = prepare_splink_input(warehouse, work)
    (work / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    process_seconds, peak = run_child(
        [str(python), str(HERE / "splink_runner.py"), str(work / "spec.json")], cwd=work
    )
    figures = json.loads((work / "splink.json").read_text(encoding="utf-8"))
    clusters = pl.read_parquet(work / "splink.parquet").join(keys, on="unique_id").drop("unique_id")
    return (
        figures
        | {
            "process_seconds": round(process_seconds, 2),
            "peak_rss_mb": round(peak),
            "prepare_seconds": round(prepare_seconds, 2),
        },
        clusters,
    )


def score_sweep(
    clusters: pl.DataFrame, truth: pl.DataFrame, identifiable: pl.DataFrame
) -> dict[float, dict[str, Any]]:
    """Splink's scores at every threshold of the sweep."""
    return {
        t: scores(
            clusters.select(
                *KEYS, unified_id=pl.concat_str(pl.lit("splink:"), pl.col(str(t)).cast(pl.String))
            ),
            truth,
            identifiable,
        )
        for t in SWEEP
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--splink-venv",
        type=Path,
        default=DEFAULT_VENV,
        help=f"Splink's own venv, created on first use (default: {DEFAULT_VENV})",
    )
    parser.add_argument("--child", choices=["ours"], help=argparse.SUPPRESS)
    parser.add_argument("--records-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    warehouse = workdir / "data" / "warehouse.duckdb"
    if args.child == "ours":
        child_ours(warehouse, args.out, args.records_only)
        return

    python = splink_python(args.splink_venv.resolve())
    with tempfile.TemporaryDirectory(prefix="bench-splink-") as tmp:
        ours, ours_clusters = run_ours(workdir, Path(tmp), records_only=False)
        same_input, same_input_clusters = run_ours(workdir, Path(tmp), records_only=True)
        splink, splink_clusters = run_splink(python, warehouse, Path(tmp))

    truth = pl.read_csv(workdir / "data" / "landing" / "_truth" / "records.csv", infer_schema=False)
    identifiable = ours_clusters.filter(pl.col("unified_id").is_not_null()).select(KEYS)
    ours |= scores(ours_clusters, truth, identifiable)
    same_input |= scores(same_input_clusters, truth, identifiable)
    sweep = score_sweep(splink_clusters, truth, identifiable)
    best = max(SWEEP, key=lambda t: sweep[t]["identifiable"]["pairwise_f1"])
    splink |= sweep[CLUSTER_THRESHOLD] | {
        "threshold": CLUSTER_THRESHOLD,
        "best_threshold": {"threshold": best, **sweep[best]},
        "sweep": {
            str(t): {
                k: s["identifiable"][k]
                for k in ("pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_f1", "clusters")
            }
            for t, s in sweep.items()
        },
    }
    emit(
        {
            "records": ours_clusters.height,
            "identifiable_records": identifiable.height,
            "people": ours["identifiable"]["people"],
            "splink_version": splink["splink_version"],
            "summary": {
                "ours": headline(ours),
                "ours_records_only": headline(same_input),
                "splink": headline(splink),
                "splink_best_threshold": {"threshold": best, **headline(sweep[best])},
            },
            "notes": {
                "ours": f"seconds: the engine on records and event actors, as the identity asset runs "
                f"({ours['nodes']} nodes, {ours['actors']} of them actors; actors are not scored)",
                "ours_records_only": "the engine on the records alone: the same input as Splink",
                "splink": "seconds: load, train, predict and cluster at 0.5; "
                "not counted: prepare_seconds (our normalisers, pivot to one row per record) "
                "and the threshold sweep",
                "splink_best_threshold": "the best pairwise F1 of the sweep, chosen with the truth (untimed)",
                "scores": "identifiable: the records our engine gives a unified id, "
                "the same set for every tool; all_records: every record, "
                "a record without a unified id counts as its own cluster",
            },
            "ours": ours,
            "ours_records_only": same_input,
            "splink": splink,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
