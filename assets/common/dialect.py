"""The SQL the pipeline generates from config (the canonical views over the feeds' raw tables), in
the dialect of the engine that runs it: DuckDB's, or Spark SQL's.

Only what differs is here: quoting, type names, a union of selects, an integer cast from a
fraction, and the time arithmetic of presence slots. Each Spark form gives DuckDB's answer, not a
near one: an integer rounded as DuckDB's cast rounds it, seconds since the epoch likewise, integer
division of non-negative numbers, a slot's text in UTC (the Spark session's zone), timestamps
without a zone (``TIMESTAMP_NTZ``, as DuckDB's ``TIMESTAMP``). ``tests/spark`` holds the views each
dialect builds to the same rows."""

from __future__ import annotations

from dataclasses import dataclass, field

from assets.common.sql import DUCKDB_TYPES

SPARK_TYPES = {
    "varchar": "STRING",
    "integer": "BIGINT",
    "double": "DOUBLE",
    "timestamp": "TIMESTAMP_NTZ",
    "date": "DATE",
    "boolean": "BOOLEAN",
}


@dataclass(frozen=True)
class Dialect:
    name: str
    types: dict[str, str] = field(repr=False)

    @property
    def spark(self) -> bool:
        return self.name == "spark"

    def ident(self, name: str) -> str:
        if self.spark:
            return "`" + name.replace("`", "``") + "`"
        return '"' + name.replace('"', '""') + '"'

    def literal(self, value: str) -> str:
        """A string literal for DDL. Spark does not read a doubled quote as one (it joins adjacent
        literals), so a value holding ``'`` is written between double quotes there."""
        if not self.spark or "'" not in value:
            return "'" + value.replace("'", "''") + "'"
        if '"' in value:
            raise ValueError(f"{value!r}: a value holding both quote characters cannot be written for Spark")
        return f'"{value}"'

    def table(self, schema: str, name: str) -> str:
        return f"{self.ident(schema)}.{self.ident(name)}"

    def cast(self, value: str, kind: str) -> str:
        """``value`` as the config type ``kind`` (varchar, integer, timestamp…)."""
        return f"CAST({value} AS {self.types[kind]})"

    def try_cast(self, value: str, kind: str, source: str | None = None) -> str:
        """``value`` (of config type ``source``, None when unknown) as ``kind``, NULL when it does not
        convert. An integer from a fraction rounds as DuckDB's cast rounds it — a DOUBLE half to even,
        text half away from zero — where Spark's ``try_cast`` would truncate the one and refuse the
        other (2.5 is 2 from a DOUBLE, '2.5' is 3)."""
        if not self.spark or kind != "integer" or source in ("integer", "boolean"):
            return f"TRY_CAST({value} AS {self.types[kind]})"
        if source == "double":
            return f"TRY_CAST(bround({value}, 0) AS BIGINT)"
        text = f"trim(CAST({value} AS STRING))"
        return (
            f"coalesce(TRY_CAST({text} AS BIGINT), TRY_CAST(round(TRY_CAST({text} AS DOUBLE), 0) AS BIGINT))"
        )

    @property
    def union_all(self) -> str:
        """How selects of the same columns are stacked (DuckDB matches them by name; Spark SQL by
        position, so every select lists its columns in one order)."""
        return "UNION ALL" if self.spark else "UNION ALL BY NAME"

    def epoch_seconds(self, timestamp: str) -> str:
        """Whole seconds since 1970 of a timestamp without a zone (DuckDB's cast rounds)."""
        if self.spark:
            return f"CAST(round(unix_micros(CAST({timestamp} AS TIMESTAMP)) / 1000000) AS BIGINT)"
        return f"CAST(epoch({timestamp}) AS BIGINT)"

    def divide(self, dividend: str, divisor: int) -> str:
        """Integer division of a non-negative number."""
        return f"(({dividend}) {'div' if self.spark else '//'} {divisor})"

    def each_between(self, first: str, last: str) -> str:
        """One row per integer from ``first`` to ``last``, both included (a select item)."""
        if self.spark:
            return f"explode(sequence({first}, {last}))"
        return f"unnest(generate_series({first}, {last}))"

    def minute_text(self, slot: str, seconds: int) -> str:
        """The start of time slot ``slot`` (of ``seconds`` each) as ``YYYY-MM-DD HH:MM``."""
        if self.spark:
            return f"date_format(timestamp_seconds({slot} * {seconds}), 'yyyy-MM-dd HH:mm')"
        return f"strftime(make_timestamp({slot} * {seconds * 1_000_000}), '%Y-%m-%d %H:%M')"


DUCKDB = Dialect("duckdb", DUCKDB_TYPES)
SPARK = Dialect("spark", SPARK_TYPES)
