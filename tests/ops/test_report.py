"""The HTML report: built from a hand-made analysts' database, self-contained, with a chart per
section, and sections only for marts that exist."""

import re

import duckdb
import pytest

from assets.exports.report import render_report
from tests.marts_builder import build_marts


@pytest.fixture
def report(tmp_path):
    db = tmp_path / "marts.duckdb"
    build_marts(db, with_o2o=True)
    out = tmp_path / "reports" / "report.html"
    return render_report(db, out), out.read_text(encoding="utf-8")


def test_every_section_renders_a_chart(report):
    sections, text = report
    assert sections == [
        "headline",
        "trends",
        "funnel",
        "retention",
        "rfm",
        "clv",
        "attribution",
        "kpi_o2o",
        "identity",
        "other-marts",
    ]
    for anchor in sections[1:-1]:
        body = text.split(f'<section id="{anchor}">')[1].split("</section>")[0]
        assert "<svg" in body, anchor
    headline = text.split('<section id="headline">')[1].split("</section>")[0]
    assert "¥17,700" in headline and "2026-05-01 → 2026-05-30" in headline  # sum(10 * i), i < 60


def test_analytics_sections_name_the_chosen_model_and_compare_orders(report):
    _, text = report
    clv = text.split('<section id="clv">')[1].split("</section>")[0]
    assert (
        "<b>bgnbd</b>" in clv and "pareto_nbd" in clv and "1+" in clv
    )  # chosen model, errors, frequency table
    attribution = text.split('<section id="attribution">')[1].split("</section>")[0]
    assert "Markov chains of each order" in attribution and "markov_2" in attribution
    assert "per campaign" in attribution and "ad:feed &gt; store_visit" in attribution
    assert "(direct)</td>" not in attribution.split("Revenue credited per campaign")[1].split("<h3>")[0]


def test_report_is_self_contained(report):
    _, text = report
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "<script" not in text and "@import" not in text


def test_unknown_marts_are_listed_with_row_counts(report):
    _, text = report
    other = text.split('<section id="other-marts">')[1]
    assert "audience_whatever" in other and "kpi_daily" not in other


def test_sections_of_missing_marts_are_left_out(tmp_path):
    db = tmp_path / "marts.duckdb"
    build_marts(db, with_o2o=False)
    with duckdb.connect(str(db)) as con:
        con.execute("DROP TABLE kpi_funnel")
    sections = render_report(db, tmp_path / "r.html")
    assert "funnel" not in sections and "kpi_o2o" not in sections and "rfm" in sections


def test_missing_database_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="cdp run"):
        render_report(tmp_path / "nope.duckdb", tmp_path / "r.html")


def test_empty_marts_give_a_report_without_chart_sections(tmp_path):
    db = tmp_path / "marts.duckdb"
    build_marts(db)
    with duckdb.connect(str(db)) as con:
        for name in (
            "kpi_daily",
            "kpi_funnel",
            "kpi_retention",
            "user_rfm",
            "kpi_attribution",
            "identity_map",
        ):
            con.execute(f"DELETE FROM {name}")
    sections = render_report(db, tmp_path / "r.html")
    assert "trends" not in sections and "funnel" not in sections and "identity" not in sections
    assert "kpi_o2o" in sections  # still has rows


def test_consent_coverage_per_purpose_and_audience(tmp_path):
    db = tmp_path / "marts.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("""CREATE TABLE user_consent AS SELECT * FROM (VALUES
            ('a', 'sms', 'granted', true), ('b', 'sms', 'withdrawn', false), ('c', 'sms', 'no_record', false),
            ('d', 'sms', 'granted', true)) AS t(unified_id, purpose, status, granted)""")
        con.execute("""CREATE TABLE audience_summary AS SELECT 'lapsed' AS audience, 'sms' AS purpose,
                       2 AS members, 5 AS excluded_without_consent""")
    sections = render_report(db, tmp_path / "r.html")
    body = (
        (tmp_path / "r.html")
        .read_text(encoding="utf-8")
        .split('<section id="consent">')[1]
        .split("</section>")[0]
    )
    assert "consent" in sections and "<svg" in body
    assert "<td>sms</td><td>4</td><td>2</td><td>1</td><td>1</td><td>50</td>" in body
    assert "<td>lapsed</td><td>sms</td><td>2</td><td>5</td>" in body


def test_the_match_threshold_section_shows_the_curve_with_truth_and_the_label_free_figures(tmp_path):
    db = tmp_path / "marts.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("""CREATE TABLE kpi_identity AS SELECT * FROM (VALUES
            ('users', 'pos', NULL, 10.0), ('match_threshold', NULL, NULL, 0.5),
            ('expected_precision_accepted', NULL, NULL, 0.93),
            ('pairs_just_above_threshold', NULL, NULL, 4.0),
            ('pairs_just_below_threshold', NULL, NULL, 7.0),
            ('threshold_precision', '0.30', NULL, 0.8), ('threshold_recall', '0.30', NULL, 0.99),
            ('threshold_f1', '0.30', NULL, 0.885), ('threshold_precision', '0.90', NULL, 0.99),
            ('threshold_recall', '0.90', NULL, 0.7), ('threshold_f1', '0.90', NULL, 0.82))
            AS t(metric, dimension, dimension_2, value)""")
    assert "match-threshold" in render_report(db, tmp_path / "r.html")
    body = (tmp_path / "r.html").read_text(encoding="utf-8").split('<section id="match-threshold">')[1]
    body = body.split("</section>")[0]
    assert (
        "<td>Expected precision of the accepted matches (mean match probability)</td><td>0.930</td>" in body
    )
    assert "<td>Candidate pairs just below the threshold</td><td>7.000</td>" in body
    assert "<svg" in body and "<td>0.900</td><td>0.990</td><td>0.700</td><td>0.820</td>" in body

    with duckdb.connect(str(db)) as con:  # no ground truth: the figures, no curve
        con.execute("DELETE FROM kpi_identity WHERE metric LIKE 'threshold_%'")
    render_report(db, tmp_path / "r.html")
    body = (tmp_path / "r.html").read_text(encoding="utf-8").split('<section id="match-threshold">')[1]
    assert "<svg" not in body.split("</section>")[0] and "0.930" in body
