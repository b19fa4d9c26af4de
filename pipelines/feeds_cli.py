"""``cdp feeds``: onboarding a partner's files — check the declarations against the landing zone
without loading anything, or draft a declaration from sample files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assets.common.pipeline_config import pipeline_config
from assets.identity.settings import identity_config
from assets.ingest.feeds import feeds_config
from pipelines.environment import prepare_environment

if TYPE_CHECKING:
    from assets.ingest.check import FileCheck

feeds_app = typer.Typer(
    help="Onboard partner feeds: check declarations against the landing zone, draft new ones.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)


@feeds_app.command("draft")
def draft(
    files: Annotated[list[Path], typer.Argument(help="Sample files of one feed, as the partner sends them.")],
    name: Annotated[str | None, typer.Option(help="Feed name (default: from the first file's name).")] = None,
    kind: Annotated[str | None, typer.Option(help="orders | events | people (default: guessed).")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the draft to this file.")] = None,
) -> None:
    """Propose a feed entry (YAML under feeds:) from sample files, with the evidence for each line,
    to review and paste into feeds.yaml. Reads the samples only; writes nothing unless --out."""
    from assets.ingest.draft import DraftError, draft_feed

    try:
        text = draft_feed(files, kinds=set(identity_config().attribute_kinds), name=name, kind=kind)
    except DraftError as exc:
        console.print(f"[red]cannot draft a feed[/red]: {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc
    typer.echo(text, nl=False)
    if out is not None:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"# written to {out}", err=True)


@feeds_app.command()
def check(
    feed: Annotated[list[str] | None, typer.Option(help="Only this feed (repeatable).")] = None,
) -> None:
    """Read every landing file as `cdp run` would, load nothing, and print per file the rows that
    parse, the rows that would be quarantined (by reason) and undeclared columns. Exit status 0:
    every row parses; 1: some rows or folders need attention."""
    from assets.ingest.check import check_landing

    config = feeds_config()
    unknown = sorted(set(feed or ()) - set(config.feeds))
    if unknown:
        console.print(f"[red]unknown feed {', '.join(unknown)}[/red]: declared are {', '.join(config.feeds)}")
        raise typer.Exit(2)
    landing = prepare_environment().landing
    result = check_landing(config, landing, pipeline_config().timezone, only=feed)
    _print_feeds(result.files, landing)
    for f in (f for f in result.files if f.rows_quarantined or f.extra_columns):
        extra = f" (undeclared columns: {', '.join(f.extra_columns)})" if f.extra_columns else ""
        console.print(f"[bold]{f.path}[/bold]: {f.rows_ok} of {f.rows_in} rows parse{extra}", highlight=False)
        for reason, count in f.reasons.most_common():
            console.print(f"  {count:>6} × {reason}", highlight=False)
    for folder in result.unread_folders:
        console.print(
            f"[yellow]landing/{folder}/ is read by no feed[/yellow]: declare it or fix a feed's `path`"
        )
    for folder in result.undated_folders:
        console.print(
            f"[yellow]{folder}/ is not a YYYY-MM-DD day folder[/yellow]: its files are never loaded"
        )
    if not result.files:
        console.print("[yellow]no files found[/yellow] under any feed's <path>/<YYYY-MM-DD>/ folders")
    total = sum(f.rows_in for f in result.files)
    bad = sum(f.rows_quarantined for f in result.files)
    console.print(f"{len(result.files)} files, {total} rows: {total - bad} parse, {bad} would be quarantined")
    if not result.clean:
        raise typer.Exit(1)


def _print_feeds(files: list[FileCheck], landing: Path) -> None:
    """One line per feed; the files that need attention are listed after it."""
    table = Table(
        "feed", "files", "rows", "parse", "quarantined", "files rejected", title=f"Landing zone {landing}"
    )
    for name in dict.fromkeys(f.feed for f in files):
        own = [f for f in files if f.feed == name]
        bad = sum(f.rows_quarantined for f in own)
        table.add_row(
            name,
            str(len(own)),
            str(sum(f.rows_in for f in own)),
            str(sum(f.rows_ok for f in own)),
            f"[red]{bad}[/red]" if bad else "0",
            str(sum(f.status == "rejected" for f in own)),
        )
    console.print(table)
