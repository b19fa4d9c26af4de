"""The links table's rows: each link between its two records' keys, whatever order they come in."""

import polars as pl

from assets.identity.clustering import Link
from assets.identity.link_rows import build_links
from assets.identity.matching import PAIRS_SCHEMA
from assets.identity.pins import PIN_RULE
from assets.identity.results import LINKS_SCHEMA

RESOLVED = pl.DataFrame(
    {
        "node": [3, 1, 2, 5, 4],
        "source": ["pos", "shop", "shop", "crm", "pos"],
        "record_id": ["p3", "s1", "s2", "c5", "p4"],
        "record_type": ["record", "record", "actor", "record", "record"],
        "unified_id": ["u_b", "u_a", "u_a", "u_b", "u_b"],
    }
)
DET = pl.DataFrame({"node": [1, 2, 3, 4, 5], "det": [1, 1, 3, 3, 5]})


def test_each_link_is_shown_between_its_records_keys():
    det_links = pl.DataFrame(
        {"a": [2, 3, 1], "b": [1, 4, 99], "rule": ["mobile", PIN_RULE, "email"]}  # node 99: not resolved
    )
    scored = [(3, 5, 0.97, 5.1, '{"person_name": 4.2}'), (1, 3, 0.4, -0.5, "{}")]
    pairs = pl.DataFrame(scored, schema=PAIRS_SCHEMA, orient="row")
    links = build_links(det_links, pairs, [Link(5, 3, "match", 0.97, 5)], RESOLVED, DET)
    assert links.schema == LINKS_SCHEMA
    shown = ("record_id_a", "record_type_a", "record_id_b", "unified_id", "method", "rule", "score")
    got = sorted(links.select(shown).rows())
    assert got == [
        ("p3", "record", "c5", "u_b", "probabilistic", "match", 0.97),  # the first records of both clusters
        ("p3", "record", "p4", "u_b", "pinned", PIN_RULE, None),
        ("s2", "actor", "s1", "u_a", "deterministic", "mobile", None),
    ]
    assert links.filter(pl.col("method") == "probabilistic").item(0, "evidence") == '{"person_name": 4.2}'


def test_no_links_give_an_empty_table_of_its_columns():
    no_links = pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64, "rule": pl.String})
    links = build_links(no_links, pl.DataFrame(schema=PAIRS_SCHEMA), [], RESOLVED, DET)
    assert links.is_empty() and links.schema == LINKS_SCHEMA
