"""The Splink side of ``benchmarks/bench_splink.py``, run with the Python of Splink's own venv: it
imports nothing of this project, so Splink never has to be installed next to it.

    benchmarks/.venv-splink/bin/python benchmarks/splink_runner.py SPEC.json

SPEC.json (written by bench_splink.py) names the prepared records (Parquet: ``unique_id`` and one
column of normalised keys per attribute kind), how each column is compared, the blocking passes,
the deterministic rules, the thresholds to cluster at and where to write the results. The model
is Splink's standard unsupervised recipe: the prior from deterministic rules, u from random pairs,
m by expectation maximisation over two blocking rules; then predict and connected components.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import splink
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.internals.comparison_creator import ComparisonCreator

# EM needs blocked pairs that are mostly, not all, matches, and every comparison must be free in at
# least one session: records sharing a mobile (the commonest strong identifier) train the m of
# names, stores, cards…; records sharing a name and a city train the m of the identifiers.
EM_BLOCKING = (("mobile",), ("person_name", "city"))
# What share of true matches the deterministic rules are guessed to find (only scales the prior;
# the threshold sweep shows what another guess would have given).
DETERMINISTIC_RECALL = 0.9
# Random pairs for u: Splink's docs call 1e7 "often adequate"; more mostly costs time.
U_MAX_PAIRS = 1e7


def comparison(column: str, method: str, string_threshold: float) -> ComparisonCreator:
    """Splink's library comparison for one of our compare methods (config/identity.yaml)."""
    if method == "name":  # exact (term-frequency adjusted), Jaro-Winkler 0.92 / 0.88 / 0.7, else
        return cl.NameComparison(column)
    if method == "digits":  # a mobile with one mistyped digit
        return cl.LevenshteinAtThresholds(column, [1])
    if method == "string":
        return cl.JaroWinklerAtThresholds(column, [0.95, string_threshold])
    # term-frequency adjusted, as Splink's docs advise for skewed values: a WeChat id on a store's
    # tablet, held by hundreds of records, weighs less than one person's own
    return cl.ExactMatch(column).configure(term_frequency_adjustments=True)


def model_summary(linker: Linker) -> dict[str, Any]:
    """The trained prior and each comparison level's m and u, for the report."""
    model = linker.misc.save_model_to_json()
    return {
        "probability_two_random_records_match": model["probability_two_random_records_match"],
        "comparisons": {
            c["output_column_name"]: [
                {
                    "level": level["label_for_charts"],
                    "m": level.get("m_probability"),
                    "u": level.get("u_probability"),
                }
                for level in c["comparison_levels"]
                if not level.get("is_null_level")
            ]
            for c in model["comparisons"]
        },
    }


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    thresholds: list[float] = spec["thresholds"]
    timed_threshold: float = spec["cluster_threshold"]
    # Nothing may be fetched at run time: every function Splink uses here is in DuckDB's core.
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    laps: dict[str, float] = {}
    started = last = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal last
        now = time.perf_counter()
        laps[phase] = round(now - last, 2)
        last = now

    con.execute(f"CREATE TABLE records AS FROM read_parquet('{spec['input']}')")
    db_api = DuckDBAPI(con)
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            comparison(column, method, spec["string_threshold"])
            for column, method in spec["comparisons"].items()
        ],
        blocking_rules_to_generate_predictions=[block_on(*kinds) for kinds in spec["blocking"]],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(db_api.register("records"), settings, log_level=logging.WARNING)
    lap("load")

    linker.training.estimate_probability_two_random_records_match(
        [block_on(*kinds) for kinds in spec["deterministic"]], recall=DETERMINISTIC_RECALL
    )
    lap("train_prior")
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=1)
    lap("train_u")
    for kinds in EM_BLOCKING:
        if all(kind in spec["comparisons"] for kind in kinds):
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(*kinds))
    lap("train_m_em")

    predictions = linker.inference.predict(threshold_match_probability=min(thresholds))
    lap("predict")
    clusters = {
        timed_threshold: linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=timed_threshold
        )
    }
    lap("cluster")
    seconds = time.perf_counter() - started

    # Untimed: the other thresholds of the sweep, so the report can give Splink its best one.
    for threshold in thresholds:
        if threshold not in clusters:
            clusters[threshold] = linker.clustering.cluster_pairwise_predictions_at_threshold(
                predictions, threshold_match_probability=threshold
            )
    lap("sweep")
    ordered = sorted(clusters)
    columns = ", ".join(f'c{i}.cluster_id AS "{t}"' for i, t in enumerate(ordered))
    joins = " ".join(
        f"JOIN {clusters[t].physical_name} AS c{i} USING (unique_id)" for i, t in enumerate(ordered) if i
    )
    con.execute(
        f"COPY (SELECT c0.unique_id, {columns} FROM {clusters[ordered[0]].physical_name} AS c0 {joins}) "
        f"TO '{spec['clusters']}' (FORMAT parquet)"
    )
    report = {
        "splink_version": splink.__version__,
        "duckdb_version": duckdb.__version__,
        "seconds": round(seconds, 2),
        "phase_seconds": laps,
        "predicted_pairs": con.execute(f"SELECT count(*) FROM {predictions.physical_name}").fetchone()[0],
        "predict_threshold": min(thresholds),
        "settings": {
            "comparisons": spec["comparisons"],
            "blocking": spec["blocking"],
            "deterministic_rules": spec["deterministic"],
            "deterministic_recall": DETERMINISTIC_RECALL,
            "u_max_pairs": U_MAX_PAIRS,
            "em_blocking": [list(k) for k in EM_BLOCKING],
        },
        "model": model_summary(linker),
    }
    Path(spec["report"]).write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
