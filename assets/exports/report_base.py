"""What every report section is made of: the section, SVG charts, HTML tables and read access to
the analysts' marts (a section asks whether the marts and columns it needs exist). The sections are
in ``report`` (and ``report_analytics``, ``report_identity``); they share these helpers."""

from __future__ import annotations

import html
import io
from dataclasses import dataclass

import duckdb
import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen before pyplot loads)
import polars as pl  # noqa: E402

plt.rcParams.update(
    {
        "svg.fonttype": "none",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "figure.dpi": 96,
    }
)

PALETTE = ["#2f6f9f", "#e0893a", "#4f9d69", "#c0504d", "#8064a2", "#4bacc6", "#9b8e5a", "#7f7f7f"]
SCHEMA = "main"  # publish_analyst_db copies each mart into the analyst file's default schema


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    body: str


def svg(fig: plt.Figure) -> str:
    """A figure as inline SVG markup (no XML prolog), closed after rendering."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return f'<figure class="chart">{text[text.index("<svg") :]}</figure>'


def html_table(frame: pl.DataFrame, limit: int = 20) -> str:
    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.0f}"
        if isinstance(v, int) and not isinstance(v, bool):
            return f"{v:,}"
        return html.escape("" if v is None else str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in frame.head(limit).rows()
    )
    more = (
        f'<p class="note">{frame.height - limit:,} more rows not shown.</p>' if frame.height > limit else ""
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{more}"


class Marts:
    """Read-only access to the analysts' database, knowing which marts and columns exist."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        rows = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = ? ORDER BY table_name, ordinal_position",
            [SCHEMA],
        ).fetchall()
        self.columns: dict[str, list[str]] = {}
        for name, column in rows:
            self.columns.setdefault(name, []).append(column)
        self.used: set[str] = set()

    def has(self, name: str, *columns: str) -> bool:
        return name in self.columns and set(columns) <= set(self.columns[name])

    def sql(self, query: str, *tables: str) -> pl.DataFrame:
        self.used.update(tables)
        return self.con.sql(query).pl()


def money_label(v: float) -> str:
    return f"¥{v / 1e6:,.2f} M" if abs(v) >= 1e6 else f"¥{v:,.0f}"
