"""The HTML report for managers: one self-contained file (inline SVG charts, inline CSS, no
scripts, nothing fetched) built from the analysts' read-only ``marts.duckdb``.

Each section reads the marts it needs and is left out when they do not exist, so the report grows
with the marts without code changes here; marts no section knows are listed with their row counts."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import cast

import duckdb
import matplotlib.pyplot as plt
import polars as pl

from assets.common.paths import DataPaths
from assets.exports import report_analytics, report_identity
from assets.exports.report_base import PALETTE, Marts, Section, html_table, money_label, svg


def headline(m: Marts) -> Section | None:
    if not m.has("kpi_daily", "date", "gmv", "orders", "active_users"):
        return None
    row = m.sql(
        "SELECT min(date) AS first, max(date) AS last, sum(gmv)::double AS gmv, sum(orders) AS orders, "
        "sum(net_revenue)::double AS net FROM kpi_daily",
        "kpi_daily",
    ).row(0, named=True)
    if row["first"] is None:
        return None
    cards = [
        ("Period", f"{row['first']} → {row['last']}"),
        ("GMV", money_label(row["gmv"] or 0)),
        ("Net revenue", money_label(row["net"] or 0)),
        ("Orders", f"{int(row['orders'] or 0):,}"),
    ]
    if m.has("dim_users", "unified_id"):
        users = m.sql("SELECT count(*) AS n FROM dim_users", "dim_users").item()
        cards.append(("Unified customers", f"{users:,}"))
    body = "".join(
        f'<div class="card"><div class="label">{html.escape(k)}</div>'
        f'<div class="value">{html.escape(v)}</div></div>'
        for k, v in cards
    )
    return Section("headline", "Headline", f'<div class="cards">{body}</div>')


def kpi_trends(m: Marts) -> Section | None:
    if not m.has("kpi_daily", "date", "channel", "gmv", "orders", "active_users"):
        return None
    weekly = m.sql(
        """SELECT date_trunc('week', date) AS week, channel, sum(gmv)::double AS gmv, sum(orders) AS orders,
                             sum(active_users) AS active_users
                      FROM kpi_daily GROUP BY ALL ORDER BY week, channel""",
        "kpi_daily",
    )
    if weekly.is_empty():
        return None
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for ax, (kpi, label) in zip(
        axes,
        [
            ("gmv", "GMV (¥) per week"),
            ("orders", "Orders per week"),
            ("active_users", "Active users per week (sum of daily)"),
        ],
        strict=False,
    ):
        for i, (channel,) in enumerate(weekly.select("channel").unique().sort("channel").rows()):
            part = weekly.filter(pl.col("channel") == channel)
            ax.plot(
                part["week"].to_list(), part[kpi].to_list(), label=channel, color=PALETTE[i % len(PALETTE)]
            )
        ax.set_title(label)
        ax.tick_params(axis="x", rotation=45)
    axes[0].legend(frameon=False)
    return Section("trends", "KPI trends by channel", svg(fig))


def funnel(m: Marts) -> Section | None:
    if not m.has("kpi_funnel", "entry_channel", "step_no", "step", "users"):
        return None
    steps = m.sql(
        "SELECT entry_channel, step_no, step, sum(users) AS users FROM kpi_funnel GROUP BY ALL "
        "ORDER BY entry_channel, step_no",
        "kpi_funnel",
    )
    if steps.is_empty():
        return None
    total = steps.group_by("step_no", "step").agg(pl.col("users").sum()).sort("step_no")
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 3.2))
    labels, users = total["step"].to_list(), total["users"].to_list()
    ax.barh(labels[::-1], users[::-1], color=PALETTE[0])
    for y, n in enumerate(users[::-1]):
        ax.text(n, y, f" {n:,} ({n / users[0]:.1%})" if users[0] else f" {n:,}", va="center")
    ax.set_title("Users reaching each step (all entry channels)")
    channels = steps["entry_channel"].unique().sort().to_list()
    width = 0.8 / max(len(channels), 1)
    for i, channel in enumerate(channels):
        part = steps.filter(pl.col("entry_channel") == channel).sort("step_no")
        first = part["users"][0] or 1
        ax2.bar(
            [s + i * width for s in part["step_no"].to_list()],
            [u / first for u in part["users"].to_list()],
            width,
            label=f"entry {channel}",
            color=PALETTE[(i + 1) % len(PALETTE)],
        )
    ax2.set_xticks([s + width * (len(channels) - 1) / 2 for s in total["step_no"].to_list()], labels)
    ax2.set_title("Overall conversion by entry channel")
    ax2.legend(frameon=False)
    return Section("funnel", "Funnel", svg(fig))


def retention(m: Marts) -> Section | None:
    if not m.has("kpi_retention", "cohort_grain", "cohort_start", "period", "retention_rate"):
        return None
    cohorts = m.sql(
        "SELECT cohort_start, period, retention_rate::double AS retention_rate "
        "FROM kpi_retention WHERE cohort_grain = 'month' "
        "ORDER BY cohort_start, period",
        "kpi_retention",
    )
    if cohorts.is_empty():
        return None
    starts = cohorts["cohort_start"].unique().sort().to_list()
    # polars types Series.max for every dtype; on this integer column (not empty) it is an int
    periods = int(cast(int, cohorts["period"].max())) + 1
    grid = [[float("nan")] * periods for _ in starts]
    for start, period, rate in cohorts.rows():
        grid[starts.index(start)][int(period)] = rate if rate is not None else float("nan")
    fig, ax = plt.subplots(figsize=(min(2 + periods * 0.8, 12), 0.8 + 0.45 * len(starts)))
    image = ax.imshow(grid, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for y, row in enumerate(grid):
        for x, rate in enumerate(row):
            if rate == rate:  # not NaN
                ax.text(
                    x, y, f"{rate:.0%}", ha="center", va="center", color="white" if rate > 0.5 else "black"
                )
    ax.set_xticks(range(periods), [str(p) for p in range(periods)])
    ax.set_yticks(range(len(starts)), [str(s)[:7] for s in starts])
    ax.set_xlabel("months since first purchase")
    ax.set_title("Monthly purchase cohorts: share of buyers buying again")
    fig.colorbar(image, ax=ax, fraction=0.03)
    return Section("retention", "Retention", svg(fig))


def rfm(m: Marts) -> Section | None:
    if not m.has("user_rfm", "segment", "monetary"):
        return None
    segments = m.sql(
        "SELECT segment, count(*) AS users, sum(monetary)::double AS value FROM user_rfm GROUP BY ALL "
        "ORDER BY value DESC",
        "user_rfm",
    )
    if segments.is_empty():
        return None
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 3.4))
    names = segments["segment"].to_list()[::-1]
    ax.barh(names, segments["users"].to_list()[::-1], color=PALETTE[0])
    ax.set_title("Users per RFM segment")
    ax2.barh(names, segments["value"].to_list()[::-1], color=PALETTE[1])
    ax2.set_title("Spend (¥, monetary) per RFM segment")
    return Section("rfm", "RFM segments", svg(fig) + html_table(segments))


def identity(m: Marts) -> Section | None:
    if not m.has("identity_map", "unified_id", "method", "cluster_size"):
        return None
    methods = m.sql(
        "SELECT method, count(*) AS records, count(DISTINCT unified_id) AS unified_ids "
        "FROM identity_map GROUP BY ALL ORDER BY records DESC",
        "identity_map",
    )
    sizes = m.sql(
        """SELECT least(cluster_size, 10) AS size, count(*) AS unified_ids
                     FROM (SELECT unified_id, max(cluster_size) AS cluster_size
                           FROM identity_map GROUP BY ALL)
                     GROUP BY ALL ORDER BY size""",
        "identity_map",
    )
    if methods.is_empty():
        return None
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 3.2))
    ax.bar(methods["method"].to_list(), methods["records"].to_list(), color=PALETTE[0])
    ax.set_title("Records by match method")
    ax2.bar(
        [("10+" if s == 10 else str(s)) for s in sizes["size"].to_list()],
        sizes["unified_ids"].to_list(),
        color=PALETTE[2],
    )
    ax2.set_title("Unified ids by cluster size (records per id)")
    ax2.set_yscale("log")
    body = svg(fig) + html_table(methods)
    for extra in ("kpi_identity", "identity_links"):
        if extra in m.columns:
            body += f"<h3>{extra}</h3>" + html_table(m.sql(f'SELECT * FROM "{extra}" LIMIT 50', extra), 10)
    return Section("identity", "Identity match quality", body)


def consent(m: Marts) -> Section | None:
    """Consent coverage per purpose (who may be reached, who withdrew, who never decided) and, per
    audience, the people sent and the people left out for consent."""
    if not m.has("user_consent", "purpose", "status", "granted"):
        return None
    coverage = m.sql(
        """SELECT purpose, count(*) AS people, count(*) FILTER (WHERE granted) AS may_be_reached,
                               count(*) FILTER (WHERE status = 'withdrawn') AS withdrawn,
                               count(*) FILTER (WHERE status = 'no_record') AS no_record,
                               round(100.0 * count(*) FILTER (WHERE granted) / count(*), 1) AS coverage_pct
                        FROM user_consent GROUP BY ALL ORDER BY purpose""",
        "user_consent",
    )
    if coverage.is_empty():
        return None
    fig, ax = plt.subplots(figsize=(10, 0.8 + 0.45 * coverage.height))
    left = [0] * coverage.height
    for i, column in enumerate(("may_be_reached", "withdrawn", "no_record")):
        values = coverage[column].to_list()
        ax.barh(
            coverage["purpose"].to_list(), values, left=left, color=PALETTE[i], label=column.replace("_", " ")
        )
        left = [a + b for a, b in zip(left, values, strict=False)]
    ax.set_title("People per consent purpose")
    ax.legend(loc="lower right")
    body = svg(fig) + html_table(coverage)
    if m.has("audience_summary", "audience", "members", "excluded_without_consent"):
        body += "<h3>Audiences</h3>" + html_table(
            m.sql(
                "SELECT audience, purpose, members, excluded_without_consent "
                "FROM audience_summary ORDER BY audience",
                "audience_summary",
            )
        )
    return Section("consent", "Consent coverage", body)


def generic(name: str, title: str) -> Callable[[Marts], Section | None]:
    """A section for a mart whose shape this module does not fix: its first numeric column by its
    first text column as a bar chart, and its first rows."""

    def section(m: Marts) -> Section | None:
        if name not in m.columns:
            return None
        frame = m.sql(f'SELECT * FROM "{name}" LIMIT 200', name)
        text = next((c for c, t in frame.schema.items() if t == pl.String), None)
        number = next((c for c, t in frame.schema.items() if t.is_numeric()), None)
        body = ""
        if text and number and not frame.is_empty():
            top = frame.group_by(text).agg(pl.col(number).sum()).sort(number, descending=True).head(15)
            fig, ax = plt.subplots(figsize=(10, 0.6 + 0.3 * top.height))
            ax.barh(
                [str(v) for v in top[text].to_list()][::-1], top[number].to_list()[::-1], color=PALETTE[4]
            )
            ax.set_title(f"{number} by {text}")
            body = svg(fig)
        return Section(name, title, body + html_table(frame))

    return section


SECTIONS: list[Callable[[Marts], Section | None]] = [
    headline,
    kpi_trends,
    funnel,
    retention,
    rfm,
    report_analytics.clv,
    report_analytics.attribution,
    generic("kpi_o2o", "O2O flows"),
    identity,
    report_identity.match_threshold,
    consent,
    generic("kpi_experiments", "Experiments"),
    generic("scorecards", "Scorecards"),
    generic("audiences", "Audiences"),
]

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{margin-bottom:0} .sub{color:#666;margin-top:.2rem} nav a{margin-right:1rem}
section{margin-top:2rem;border-top:1px solid #ddd} figure.chart{margin:0}
figure.chart svg{max-width:100%;height:auto}
table{border-collapse:collapse;font-size:.85rem;margin-top:.5rem}
td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:right}
th{background:#f4f4f4} .note{color:#666;font-size:.85rem}
.cards{display:flex;gap:1rem;flex-wrap:wrap} .card{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem}
.card .label{color:#666;font-size:.8rem} .card .value{font-size:1.4rem;font-weight:600}
"""


def report_path(paths: DataPaths) -> Path:
    """Where ``cdp report`` and the report asset write by default."""
    return paths.root / "reports" / "report.html"


def render_report(analyst_db: Path, out: Path) -> list[str]:
    """Write the report for ``analyst_db`` (opened read-only) to ``out``; the section anchors written."""
    if not analyst_db.exists():
        raise FileNotFoundError(f"{analyst_db} does not exist yet: run `cdp run` first")
    with duckdb.connect(str(analyst_db), read_only=True) as con:
        marts = Marts(con)
        sections = [s for s in (build(marts) for build in SECTIONS) if s is not None]
        others = [
            (name, con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0])
            for name in sorted(set(marts.columns) - marts.used)
        ]
    if others:
        sections.append(
            Section(
                "other-marts",
                "Other marts",
                html_table(pl.DataFrame(others, schema=["mart", "rows"], orient="row"), 100),
            )
        )
    nav = "".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in sections)
    body = "".join(
        f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>{s.body}</section>' for s in sections
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>o2o-cdp report</title><style>{STYLE}</style></head>
<body><h1>o2o-cdp report</h1>
<p class="sub">From {html.escape(str(analyst_db))}, {datetime.now():%Y-%m-%d %H:%M}</p>
<nav>{nav}</nav>{body}</body></html>
""",
        encoding="utf-8",
    )
    tmp.replace(out)
    return [s.anchor for s in sections]
