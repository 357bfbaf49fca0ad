"""The ``clearance`` command line (product.md, "Command line").

Every command is a thin layer over the package's functions: parse arguments, show
progress on a terminal, print results, and turn known failures into a one-line
reason and a non-zero exit status. Personal data never goes into a message.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from clearance import __version__
from clearance.extract.reader import ExtractError

app = typer.Typer(
    name="clearance",
    help="Automatic record clearance: decide Proposition 64 relief from California DOJ extracts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

# Failures a user can act on: their message is safe to print (names files and lines,
# never the content of a line).
USER_ERRORS: tuple[type[Exception], ...] = (ExtractError, FileNotFoundError)


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"clearance: {message}", markup=False, highlight=False)
    return typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        out.print(f"clearance {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Automatic record clearance for California DOJ bulk extracts."""


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator:
    """A progress bar on a terminal; silence otherwise (logs, CI, pipes)."""
    if not err.is_terminal:
        yield lambda n: None
        return
    columns = [TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn()]
    if total is not None:
        columns.insert(2, DownloadColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the failures a user can act on into one line and exit status 2."""
    try:
        yield
    except USER_ERRORS as exc:
        raise fail(str(exc)) from None
    except Exception as exc:
        if os.environ.get("CLEARANCE_DEBUG"):
            raise
        # The message of an unexpected error may quote data; name only its kind.
        raise fail(
            f"internal error ({type(exc).__name__}); set CLEARANCE_DEBUG=1 for details", 1
        ) from None


def _check_inputs(paths: list[Path]) -> None:
    for path in paths:
        if not path.is_file():
            raise fail(f"{path}: no such file")


@app.command()
def inspect(
    inputs: list[Path] = typer.Argument(..., help="Extract files (.dat or .csv)."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Check an extract before using it: rows read and rejected, people, dates, counties."""
    from clearance.extract.inspect import inspect_files

    _check_inputs(inputs)
    total = sum(p.stat().st_size for p in inputs)
    with (
        user_errors(),
        tempfile.TemporaryDirectory(prefix="clearance-") as work,
        progress_bar("Reading", total) as advance,
    ):
        figures = inspect_files(inputs, Path(work), progress=advance)
    if as_json:
        out.print_json(json.dumps(figures))
        return
    _print_inspection(figures)


def _print_inspection(figures: dict) -> None:
    rows = figures["rows"]
    out.print(
        f"[bold]{rows['read']:,}[/] rows read, [bold]{rows['used']:,}[/] used, "
        f"[bold]{rows['rejected']:,}[/] rejected; [bold]{figures['subjects']:,}[/] people, "
        f"{figures['events']:,} events, {figures['counts']:,} counts, "
        f"{figures['convictions']:,} convictions"
    )
    dates = figures["date_range"]
    out.print(
        f"Event dates {dates['first']} to {dates['last']}; "
        f"{dates['invalid_event_dates']:,} invalid, {dates['missing_event_dates']:,} missing"
    )
    for warning in figures["warnings"]:
        out.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if figures["first_rejects"]:
        table = Table(title="First rejected lines")
        for column in ("file", "line", "reason"):
            table.add_column(column)
        for reject in figures["first_rejects"]:
            table.add_row(reject["source_file"], str(reject["line"]), reject["reason"])
        out.print(table)
    out.print(_tally_table("Convictions by code", "code", figures["convictions_by_code"]))
    out.print(_tally_table("Events by county", "county", figures["counties"]))
    cannabis = Table(title="Cannabis convictions by county")
    sections = ("11357", "11358", "11359", "11360")
    for column in ("county", *(f"HS {s}" for s in sections), "total"):
        cannabis.add_column(column, justify="left" if column == "county" else "right")
    for county, by_section in figures["cannabis_convictions_by_county"].items():
        values = [by_section.get(s, 0) for s in sections]
        cannabis.add_row(county, *(f"{v:,}" for v in values), f"{sum(values):,}")
    out.print(cannabis)


def _tally_table(title: str, label: str, tally: dict[str, int], limit: int = 12) -> Table:
    table = Table(title=title)
    table.add_column(label)
    table.add_column("n", justify="right")
    for key, n in list(tally.items())[:limit]:
        table.add_row(key, f"{n:,}")
    if len(tally) > limit:
        table.add_row(f"({len(tally) - limit} more)", f"{sum(list(tally.values())[limit:]):,}")
    return table


@app.command()
def synth(
    subjects: int = typer.Option(..., "--subjects", min=1, help="Number of people."),
    out_file: Path = typer.Option(..., "--out", help="Extract file to write."),
    county: str = typer.Option("SACRAMENTO", "--county", help="The extract's county."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same file."),
    dirty: float = typer.Option(
        0.0, "--dirty", min=0.0, max=1.0, help="Share of lines given a real-file defect."
    ),
    header: bool = typer.Option(False, "--header", help="Write a header line."),
    intended: Path | None = typer.Option(
        None, "--intended", help="Also write the intended figures to this JSON file."
    ),
) -> None:
    """Write a realistic synthetic extract in the DOJ layout (never real people's data)."""
    from clearance.synth import generate

    with user_errors(), progress_bar("Generating", subjects) as advance:
        done = 0

        def report(n: int) -> None:
            nonlocal done
            advance(n - done)
            done = n

        figures = generate(
            out_file,
            subjects=subjects,
            county=county.upper(),
            seed=seed,
            dirty=dirty,
            header=header,
            progress=report,
        )
    if intended:
        intended.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    rows = figures["rows"]
    out.print(
        f"Wrote {out_file}: {rows['read']:,} rows ({rows['rejected']:,} made unusable on "
        f"purpose), {figures['subjects']:,} people, {figures['convictions']:,} convictions"
    )


def run_cli() -> None:  # pragma: no cover - console entry point helper
    app(prog_name="clearance")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_cli())
