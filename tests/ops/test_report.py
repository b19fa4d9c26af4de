"""The HTML report: built from a hand-made analysts' database, self-contained, with a chart per
section, and sections only for marts that exist."""

import re
from datetime import date, timedelta

import duckdb
import pytest

from assets.exports.report import render_report


def build_marts(path, *, with_o2o: bool) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("""CREATE TABLE kpi_daily AS
            SELECT DATE '2026-05-01' + (i % 30)::int AS date, CASE WHEN i < 30 THEN 'online' ELSE 'offline' END AS channel,
                   'feed' AS source, 10.0 * i AS gmv, i AS orders, 2 * i AS active_users, 9.0 * i AS net_revenue,
                   false AS is_anomaly
            FROM range(60) t(i)""")
        con.execute("""CREATE TABLE kpi_funnel AS SELECT * FROM (VALUES
            ('online', '(none)', 1, 'exposure', 100), ('online', '(none)', 2, 'click', 40),
            ('offline', '(none)', 1, 'exposure', 50), ('offline', '(none)', 2, 'click', 10))
            t(entry_channel, entry_campaign, step_no, step, users)""")
        con.execute("""CREATE TABLE kpi_retention AS SELECT * FROM (VALUES
            ('month', DATE '2026-05-01', 0, 1.0), ('month', DATE '2026-05-01', 1, 0.3), ('month', DATE '2026-06-01', 0, 1.0))
            t(cohort_grain, cohort_start, period, retention_rate)""")
        con.execute("""CREATE TABLE user_rfm AS SELECT 'u' || i AS unified_id,
            CASE WHEN i % 3 = 0 THEN 'champions' ELSE 'lost' END AS segment, 10.0 * i AS monetary FROM range(30) t(i)""")
        con.execute("""CREATE TABLE kpi_attribution AS SELECT * FROM (VALUES
            ('last_touch', 'ad:feed', 'c1', 100.0), ('linear', 'ad:feed', 'c1', 60.0), ('linear', 'store_visit', NULL, 40.0))
            t(model, channel, campaign_id, attributed_value)""")
        con.execute("""CREATE TABLE identity_map AS SELECT 'r' || i AS record_id, 'u' || (i % 7) AS unified_id,
            CASE WHEN i % 7 = 0 THEN 'singleton' ELSE 'deterministic' END AS method, 3 AS cluster_size FROM range(40) t(i)""")
        con.execute("CREATE TABLE dim_users AS SELECT 'u' || i AS unified_id FROM range(7) t(i)")
        con.execute("CREATE TABLE audience_whatever AS SELECT 1 AS x")
        if with_o2o:
            con.execute("""CREATE TABLE kpi_o2o AS SELECT * FROM (VALUES ('S1', 120.5), ('(all)', 300.0))
                           t(store_id, platform_driven_revenue)""")


@pytest.fixture
def report(tmp_path):
    db = tmp_path / "marts.duckdb"
    build_marts(db, with_o2o=True)
    out = tmp_path / "reports" / "report.html"
    return render_report(db, out), out.read_text(encoding="utf-8")


def test_every_section_renders_a_chart(report):
    sections, text = report
    assert sections == ["headline", "trends", "funnel", "retention", "rfm", "attribution", "kpi_o2o", "identity",
                        "other-marts"]
    for anchor in sections[1:-1]:
        body = text.split(f'<section id="{anchor}">')[1].split("</section>")[0]
        assert "<svg" in body, anchor
    headline = text.split('<section id="headline">')[1].split("</section>")[0]
    assert "¥17,700" in headline and "2026-05-01 → 2026-05-30" in headline  # sum(10 * i), i < 60


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
