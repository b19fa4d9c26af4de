"""The ``cdp`` command line. Every command drives the same Dagster ``Definitions`` as the UI."""

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from assets.common.configuration import ConfigError
from assets.common.paths import REPO_ROOT, DataPaths
from pipelines.environment import prepare_environment
from pipelines.feeds_cli import feeds_app
from pipelines.settings import STAGES

app = typer.Typer(
    help="o2o-cdp: customer data platform for online + offline brands.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(soft_wrap=True)  # paths and SQL in messages stay on one line, copy-pasteable
app.add_typer(feeds_app, name="feeds")


@app.command()
def generate(
    people: Annotated[int, typer.Option(help="Number of people to simulate.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 42,
    out: Annotated[
        Path | None, typer.Option(help="Landing zone to write (default $CDP_DATA_DIR/landing).")
    ] = None,
    start: Annotated[str, typer.Option(help="First day of activity (YYYY-MM-DD).")] = "2026-05-01",
    end: Annotated[str, typer.Option(help="Last day of activity (YYYY-MM-DD).")] = "2026-10-31",
) -> None:
    """Write a realistic sample landing zone (six feeds, reference data, ground truth)."""
    from generator import generate as run_generator

    target = out or prepare_environment().landing
    summary = run_generator(
        people=people, seed=seed, out=target, start=date.fromisoformat(start), end=date.fromisoformat(end)
    )
    table = Table(title=f"Generated {summary.people:,} people into {target}")
    table.add_column("feed")
    table.add_column("rows", justify="right")
    for feed, rows in summary.rows_per_feed.items():
        table.add_row(feed, f"{rows:,}")
    console.print(table)
    console.print(
        f"{summary.files:,} files, {summary.identity_records:,} identity-bearing records "
        f"in {summary.seconds:.1f} s"
    )


@app.command()
def run(
    first: Annotated[
        str | None, typer.Option("--from", help="First partition (default: earliest landing day).")
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="Last partition (default: latest landing day).")
    ] = None,
    select: Annotated[
        list[str] | None, typer.Option(help="Asset keys to run, e.g. raw/pos_transactions.")
    ] = None,
    stage: Annotated[
        list[str] | None,
        typer.Option(
            help=f"Run only this stage's assets (a Dagster asset group): {', '.join(STAGES)}. Repeatable."
        ),
    ] = None,
    full_identity: Annotated[
        bool,
        typer.Option(
            "--full-identity",
            help="Re-resolve every record and refit the match model instead of linking only the "
            "records that changed.",
        ),
    ] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Rebuild from all of raw: the incremental staging and fact models in full, and identity "
            "as with --full-identity. Runs otherwise build only what changed since the last build.",
        ),
    ] = False,
) -> None:
    """Ingest the landing zone and rebuild identity, marts and exports (or only the given stages)."""
    import dagster as dg

    from pipelines.progress import StepProgress
    from pipelines.runner import NothingToRun, landing_range, run_pipeline

    try:
        first_day, last_day = landing_range(_day(first, "--from"), _day(last, "--to"))
    except (NothingToRun, ConfigError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    _check_stages(stage, full_identity)
    if full and (stage or select):
        console.print("[red]--full rebuilds every stage[/red]: leave out --stage and --select")
        raise typer.Exit(2)
    scope = f"stage {', '.join(stage)}" if stage else "every stage"
    console.print(f"Running {scope} for partitions {first_day} → {last_day} …")
    started = time.perf_counter()
    with StepProgress(console, dg.DagsterInstance.get()) as progress:
        result = run_pipeline(
            first_day,
            last_day,
            select,
            stage,
            on_event=progress,
            full_identity=full_identity or full,
            full_models=full,
        )
    _print_steps(result)
    paths = DataPaths.from_env()
    if not result.success:
        console.print(f"[red]Run {result.run_id} failed[/red] after {time.perf_counter() - started:.0f} s")
        raise typer.Exit(1)
    console.print(
        f"[green]Run {result.run_id} succeeded[/green] in {time.perf_counter() - started:.0f} s\n"
        f"  warehouse : {paths.warehouse}\n  marts     : {paths.analyst_db} (read-only for analysts)\n"
        f"  exports   : {paths.exports}/<table>/<table>.parquet (facts: <table>/<day column>=<day>/)\n"
        f'  query     : cdp query "select * from kpi_daily limit 5"'
    )


def _check_stages(stage: list[str] | None, full_identity: bool) -> None:
    unknown = sorted(set(stage or ()) - set(STAGES))
    if unknown:
        console.print(f"[red]unknown stage {', '.join(unknown)}[/red]: choose from {', '.join(STAGES)}")
        raise typer.Exit(2)
    if full_identity and stage and "identity" not in stage:
        console.print("[red]--full-identity rebuilds the identity stage[/red]: add --stage identity")
        raise typer.Exit(2)


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD", param_hint=option) from exc


def _print_steps(result) -> None:
    table = Table(title="Steps")
    table.add_column("step")
    table.add_column("status")
    for event in result.all_events:
        if event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            ok = event.event_type_value == "STEP_SUCCESS"
            table.add_row(event.step_key, "[green]ok[/green]" if ok else "[red]failed[/red]")
            if not ok and event.event_specific_data and event.event_specific_data.error:
                console.print(
                    f"[red]{event.step_key}[/red]: {event.event_specific_data.error.message.strip()}"
                )
    console.print(table)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL to run against the analysts' marts.duckdb.")],
    limit: Annotated[int, typer.Option(help="Rows to show at most.")] = 50,
) -> None:
    """Query the read-only analyst database (marts.duckdb)."""
    import duckdb

    path = prepare_environment().analyst_db
    if not path.exists():
        console.print(f"[red]{path} does not exist yet[/red]: run `cdp run` first")
        raise typer.Exit(2)
    with duckdb.connect(str(path), read_only=True) as con:
        try:
            cursor = con.execute(sql)
        except duckdb.Error as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from exc
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchmany(limit)
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


@app.command()
def forget(
    mobile: Annotated[
        str | None, typer.Option(help="Mobile number, any spelling (+86 138-0013-8000).")
    ] = None,
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    member_id: Annotated[str | None, typer.Option(help="Member card number.")] = None,
    kind: Annotated[
        str | None, typer.Option(help="Any attribute kind of config/identity.yaml, with --value.")
    ] = None,
    value: Annotated[str | None, typer.Option(help="The identifier value for --kind.")] = None,
) -> None:
    """Delete a person on request (PIPL): every record of the person the identifier resolves to,
    from raw, staging, identity and marts; audited, suppressed on later loads, marts republished."""
    from assets.common.warehouse import Warehouse
    from assets.privacy.forget import ForgetError
    from pipelines.forget_request import forget_person

    id_kind, id_value = _one_identifier(
        {"mobile": mobile, "email": email, "member_id": member_id}, kind, value
    )
    warehouse = Warehouse()
    prepare_environment(warehouse.paths)
    try:
        report, dropped = forget_person(warehouse, id_kind, id_value)
    except (ForgetError, ConfigError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    table = Table(
        title=f"Request {report.request_id}: {report.people} unified person(s), {report.total} rows deleted"
    )
    table.add_column("table")
    table.add_column("rows deleted", justify="right")
    for name, rows in report.rows_deleted.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(
        "Audited in privacy.forget_audit; marts.duckdb and exports republished; the person's platform "
        "ids join each destination's suppression list at the next run."
    )
    if dropped:
        console.print(
            f"Spark's copies for cdp parity removed (it rebuilds them): {', '.join(map(str, dropped))}"
        )


def _one_identifier(named: dict[str, str | None], kind: str | None, value: str | None) -> tuple[str, str]:
    """The one identifier ``cdp forget`` was given, as (kind, value); more or fewer is a usage error."""
    given = {k: v for k, v in named.items() if v}
    if kind or value:
        given[kind or ""] = value or ""
    if len(given) != 1:
        console.print(
            "[red]name exactly one identifier[/red]: --mobile, --email, --member-id or --kind K --value V"
        )
        raise typer.Exit(2)
    ((id_kind, id_value),) = given.items()
    return id_kind, id_value


@app.command()
def ui(port: Annotated[int, typer.Option(help="Port of the Dagster UI.")] = 3000) -> None:
    """Start the Dagster UI on http://127.0.0.1:PORT."""
    prepare_environment()
    console.print(
        f"Dagster UI: [bold]http://127.0.0.1:{port}[/bold] (Ctrl-C to stop); "
        f"DAGSTER_HOME={os.environ['DAGSTER_HOME']}"
    )
    dagster = Path(sys.executable).with_name("dagster")
    raise typer.Exit(
        subprocess.call(
            [str(dagster), "dev", "-h", "127.0.0.1", "-p", str(port), "-m", "pipelines.definitions"],
            cwd=REPO_ROOT,
        )
    )


@app.command()
def report(
    out: Annotated[
        Path | None, typer.Option(help="HTML file to write (default $CDP_DATA_DIR/reports/report.html).")
    ] = None,
) -> None:
    """Write the self-contained HTML report (charts of KPIs, funnel, retention, RFM, attribution,
    O2O, identity) from the analysts' marts.duckdb."""
    from assets.exports.report import render_report, report_path

    paths = prepare_environment()
    target = (out or report_path(paths)).resolve()
    try:
        sections = render_report(paths.analyst_db, target)
    except FileNotFoundError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(
        f"Report with {len(sections)} sections ({', '.join(sections)}):\n  {target}\n  {target.as_uri()}"
    )


@app.command()
def status(runs: Annotated[int, typer.Option(help="How many recent runs to list.")] = 5) -> None:
    """Last runs, partition health per feed, row counts per mart and failed checks."""
    from pipelines.status import collect_status

    paths = prepare_environment()
    try:
        state = collect_status(paths, runs)
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    for table in state.tables():
        console.print(table)
    for note in state.notes:
        console.print(f"[yellow]{note}[/yellow]")


@app.command()
def parity(
    compare_only: Annotated[
        bool, typer.Option("--compare-only", help="Compare the tables the last build left on Spark again.")
    ] = False,
) -> None:
    """Build the dbt project on Spark from the warehouse's inputs and compare every model with DuckDB's."""
    from assets.common.warehouse import Warehouse
    from pipelines.spark_parity import check_parity, parity_table

    prepare_environment()
    try:
        report = check_parity(Warehouse(), build=not compare_only)
    except (ConfigError, RuntimeError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(parity_table(report))
    for error in report.dbt_errors[-10:]:
        console.print(f"[red]{error}[/red]")
    for note in report.notes:
        console.print(f"[yellow]{note}[/yellow]")
    verdict = "the same rows in every model" if report.agrees else "differences found"
    console.print(f"Spark vs DuckDB: {verdict} ({sum(report.seconds.values()):.0f} s)")
    raise typer.Exit(0 if report.agrees else 1)


@app.command()
def docs(
    out: Annotated[Path, typer.Option(help="Markdown file to write.")] = REPO_ROOT
    / "docs"
    / "data_dictionary.md",
    check: Annotated[bool, typer.Option(help="Only check that OUT is up to date (exit 1 if not).")] = False,
) -> None:
    """Generate the data dictionary of every mart from the dbt yml and the Python marts' descriptions."""
    from pipelines.docs import data_dictionary

    text = data_dictionary()
    if check:
        if not out.exists() or out.read_text(encoding="utf-8") != text:
            console.print(f"[red]{out} is out of date[/red]: run `cdp docs` and commit it")
            raise typer.Exit(1)
        console.print(f"{out} is up to date")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    console.print(f"Wrote {out}")


def main() -> None:
    """The ``cdp`` entry point: configuration mistakes anywhere (also while the Definitions load)
    end with the file, line, key and fix instead of a traceback."""
    try:
        app()
    except ConfigError as exc:
        console.print(f"[red]configuration error:[/red] {exc}", highlight=False)
        raise SystemExit(2) from exc


if __name__ == "__main__":
    main()
