import pandas as pd

from assets.quality.expectations import suite_files, validate
from pipelines.settings import EXPECTATIONS_DIR

SUITE = EXPECTATIONS_DIR / "marts.identity_map.json"


def good() -> pd.DataFrame:
    return pd.DataFrame({"source": ["pos", "pos"], "record_id": ["1", "2"],
                         "unified_id": ["u_0123456789abcdef", "u_fedcba9876543210"],
                         "method": ["singleton", "deterministic"], "cluster_size": [1, 2]})


def test_a_clean_table_passes_every_expectation():
    assert all(o.success for o in validate(good(), SUITE))


def test_failures_carry_their_severity_and_the_failing_values():
    bad = pd.concat([good(), pd.DataFrame({"source": ["pos"], "record_id": ["1"], "unified_id": ["oops"],
                                           "method": ["magic"], "cluster_size": [99999]})])
    failed = {(o.expectation, o.column): o for o in validate(bad, SUITE) if not o.success}
    assert failed[("expect_column_values_to_match_regex", "unified_id")].unexpected_sample == ["oops"]
    assert failed[("expect_column_values_to_be_in_set", "method")].severity == "error"
    assert failed[("expect_column_values_to_be_between", "cluster_size")].severity == "warn"
    assert ("expect_compound_columns_to_be_unique", None) in failed


def test_every_suite_targets_an_asset_of_the_pipeline():
    from pipelines.definitions import defs

    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    suites = suite_files()
    assert len(suites) >= 4
    assert all("/".join(s.asset_key) in keys for s in suites)
    checks = {c.name for c in defs.resolve_asset_graph().asset_check_keys}
    assert {f"gx_{s.table}" for s in suites} <= checks
