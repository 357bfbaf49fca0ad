"""The ``clearance`` command line (product.md, "Command line").

Every command is a thin layer over the package's functions: parse arguments, show
progress on a terminal, print results, and turn known failures into a one-line
reason and a non-zero exit status. Personal data never goes into a message.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
from enum import StrEnum
from pathlib import Path

import typer
from rich.table import Table

from clearance import __version__
from clearance._folders import WRITE_ERRNOS
from clearance.console import err, fail, out, progress_bar, user_errors
from clearance.law import RulePackError, installed_packs, load_pack, load_rulepack
from clearance.run import RunError, check_as_of
from clearance.screen import Screen
from clearance.textsafe import shown, terminal_safe
from clearance.web.commands import audit_app as _audit_app
from clearance.web.commands import serve as _serve
from clearance.web.commands import users_app as _users_app

# Piped or redirected, Rich would lay tables out in 80 columns (cutting dates and
# citations short): there, lines are as wide as their content, up to this.
PIPED_WIDTH = 10_000

app = typer.Typer(
    name="clearance",
    help="Automatic record clearance: decide Proposition 64 relief from California DOJ extracts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
        out.print(f"[yellow]warning:[/] {shown(warning)}", highlight=False)
    if figures["first_rejects"]:
        table = Table(title="First rejected lines")
        for column in ("file", "line", "reason"):
            table.add_column(column)
        for reject in figures["first_rejects"]:
            file, reason = shown(reject["source_file"]), shown(reject["reason"])
            table.add_row(file, str(reject["line"]), reason)
        out.print(table)
    out.print(_tally_table("Convictions by code", "code", figures["convictions_by_code"]))
    out.print(_tally_table("Events by county", "county", figures["counties"]))
    charges = figures["charges"]
    notation = Table(title="Cannabis charges by how they were written (all counts)")
    for column in ("notation", "example", "n"):
        notation.add_column(column, justify="right" if column == "n" else "left")
    for name, n in charges["by_notation"].items():
        notation.add_row(name.replace("_", "-"), NOTATION_EXAMPLES[name], f"{n:,}")
    notation.add_row("total", f"of which {charges['cannabis_attempts']:,} attempts",
                     f"{charges['cannabis']:,}")  # fmt: skip
    out.print(notation)
    if charges["by_notation"]["unreadable"]:
        out.print(
            f"[yellow]{charges['by_notation']['unreadable']:,} charges name cannabis but have "
            "no readable section: their convictions go to review (unparsed_charge).[/]",
            highlight=False,
        )
    cannabis = Table(title="Cannabis convictions by county")
    sections = load_rulepack().cannabis_sections
    for column in ("county", *(f"HS {s}" for s in sections), "total"):
        cannabis.add_column(column, justify="left" if column == "county" else "right")
    for county, by_section in figures["cannabis_convictions_by_county"].items():
        values = [by_section.get(s, 0) for s in sections]
        cannabis.add_row(shown(county), *(f"{v:,}" for v in values), f"{sum(values):,}")
    out.print(cannabis)


# What each notation of prop64.md "Reading the charge" looks like, for the inspect table.
NOTATION_EXAMPLES = {
    "plain": "11357 HS",
    "bracketed": "11360(A)(2) HS",
    "run_on": "11360A2 HS",
    "comment": "SEE COMMENT FOR CHARGE",
    "unreadable": "HS-POSSESS MARIJUANA",
}


def _tally_table(title: str, label: str, tally: dict[str, int], limit: int = 12) -> Table:
    table = Table(title=title)
    table.add_column(label)
    table.add_column("n", justify="right")
    for key, n in list(tally.items())[:limit]:
        table.add_row(shown(key), f"{n:,}")
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

        try:
            figures = generate(
                out_file,
                subjects=subjects,
                county=county.upper(),
                seed=seed,
                dirty=dirty,
                header=header,
                progress=report,
            )
        except OSError as exc:  # a full disk: no half file left that looks whole
            if exc.errno not in WRITE_ERRNOS:
                raise
            if out_file.is_file() and not out_file.is_symlink():  # never a device
                out_file.unlink()
            raise OSError(exc.errno, exc.strerror, str(out_file)) from None
        if intended:
            intended.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    rows = figures["rows"]
    out.print(
        f"Wrote {shown(out_file)}: {rows['read']:,} rows ({rows['rejected']:,} made unusable on "
        f"purpose), {figures['subjects']:,} people, {figures['convictions']:,} convictions"
    )


def _as_of(value: str | None, law=None) -> tuple[dt.date, str]:
    """The as-of date: an argument, or today's date recorded as such (product.md).

    A date before the law took effect is refused here, before any file is read; one
    after today is allowed, and the run warns (run.json records it).
    """
    if value is None:
        return dt.date.today(), "today"
    try:
        date = dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"--as-of {value!r} is not a date of the form YYYY-MM-DD") from None
    try:
        check_as_of(date, law, label="--as-of")
    except RunError as exc:
        raise fail(str(exc)) from None
    return date, "argument"


def _run(
    inputs: list[Path],
    county: str,
    policy_spec: str,
    as_of: str | None,
    out_dir: Path,
    engine: str = "local",
    spark_master: str | None = None,
    law_spec: str | None = None,
):
    from clearance.policy import load_policy
    from clearance.run import run

    _check_inputs(inputs)
    if law_spec is None:  # a policy file may name the pack it is for (`law: ca-auto-relief`)
        law_spec = _policy_law(policy_spec)
    try:
        law = load_pack(law_spec)
    except RulePackError as exc:
        raise fail(f"--law: {exc}") from None
    date, source = _as_of(as_of, law)
    if engine == "spark":
        from clearance.spark import INSTALL_HINT, pyspark_available

        if not pyspark_available():
            raise fail(INSTALL_HINT)
    total = sum(p.stat().st_size for p in inputs)
    with user_errors():
        policy = load_policy(policy_spec, law)
        with progress_bar("Deciding", total) as advance:
            return run(
                inputs,
                county=county,
                policy=policy,
                as_of=date,
                out=out_dir,
                as_of_source=source,
                progress=advance,
                engine=engine,
                spark_master=spark_master,
                law=law,
            )


def _policy_law(policy_spec: str) -> str | None:
    """The rule pack a policy YAML file names (its ``law`` key), if it names one."""
    path = Path(policy_spec)
    if path.suffix.lower() not in (".yaml", ".yml") or not path.is_file():
        return None
    from clearance.law.yamlio import YAMLError, load_strict_yaml

    try:
        data = load_strict_yaml(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError):
        return None  # the policy's own reader names the problem
    law = data.get("law") if isinstance(data, dict) else None
    return law if isinstance(law, str) and law.strip() else None


def _print_run(result) -> None:
    s = result.summary
    d = s["by_determination"]
    impact = s["impact"]
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    if "by_kind" in s:  # a law deciding convictions and arrests (ca-auto-relief)
        out.print(
            f"{s['rows']['read']:,} rows read, {s['rows']['rejected']:,} rejected; "
            f"{s['convictions_in_scope']:,} convictions and {s['arrests_in_scope']:,} arrests in "
            f"{shown(s['county'])} for {s['people_in_scope']:,} people (policy: "
            f"{shown(s['policy'])}, as of {s['as_of']})"
        )
        out.print(
            f"  relief [bold]{d['relief']:,}[/]  upcoming [bold]{d['upcoming']:,}[/]  "
            f"not eligible [bold]{d['not_eligible']:,}[/]  review [bold]{d['review']:,}[/]"
        )
        out.print(
            f"  people relieved [bold]{impact['people_relieved']:,}[/]; clean slate "
            f"{impact['people_clean_slate']:,}; stuck only on review {impact['people_stuck']:,}"
        )
        out.print(f"Outputs in {shown(result.out)} (worklist: upcoming.csv)")
        return
    out.print(
        f"{s['rows']['read']:,} rows read, {s['rows']['rejected']:,} rejected; "
        f"{s['convictions_in_scope']:,} cannabis convictions in {shown(s['county'])} for "
        f"{s['people_in_scope']:,} people (policy: {shown(s['policy'])}, as of {s['as_of']})"
    )
    out.print(
        f"  dismiss [bold]{d['dismiss']:,}[/]  reduce [bold]{d['reduce']:,}[/]  "
        f"not eligible [bold]{d['not_eligible']:,}[/]  review [bold]{d['review']:,}[/]"
    )
    out.print(
        f"  people helped [bold]{impact['people_helped']:,}[/]; no felony left "
        f"{impact['people_no_felony']:,}; no conviction left {impact['people_no_conviction']:,}"
    )
    out.print(f"Outputs in {shown(result.out)}")


class Engine(StrEnum):
    local = "local"
    spark = "spark"


@app.command()
def run(
    inputs: list[Path] = typer.Argument(..., help="Extract files (.dat or .csv)."),
    county: str = typer.Option(..., "--county", help="The county whose convictions to decide."),
    policy: str = typer.Option(
        "statute", "--policy", help="A preset name, a policy YAML file, or a gogen options JSON."
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Decide as of this date (YYYY-MM-DD); default today, recorded."
    ),
    out_dir: Path = typer.Option(Path("out"), "--out", help="Output folder."),
    engine: Engine = typer.Option(
        Engine.local, "--engine", help="local (this process) or spark (docs/spark.md)."
    ),
    spark_master: str | None = typer.Option(
        None,
        "--spark-master",
        help="Spark master URL for --engine spark; default spark-submit's, else local[*].",
    ),
    law: str | None = typer.Option(
        None,
        "--law",
        help="The rule pack: an installed pack's name (clearance laws) or a pack's folder; "
        "default prop64.",
    ),
) -> None:
    """Decide every conviction the rule pack covers in the county; write the output folder."""
    _print_run(_run(inputs, county, policy, as_of, out_dir, engine.value, spark_master, law))


@app.command()
def stage(
    inputs: list[Path] = typer.Argument(..., help="Extract files (.dat or .csv)."),
    out_dir: Path = typer.Option(..., "--out", help="Stage folder to write."),
) -> None:
    """Stage extract files to Parquet, rejects and a manifest, for a Spark cluster."""
    from clearance.spark.staging import stage as stage_files

    _check_inputs(inputs)
    total = sum(p.stat().st_size for p in inputs)
    with user_errors(), progress_bar("Staging", total) as advance:
        manifest = stage_files(inputs, out_dir, progress=advance)
    for warning in manifest["warnings"]:
        err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    rows = manifest["rows"]
    out.print(
        f"{rows['read']:,} rows read, {rows['used']:,} staged, {rows['rejected']:,} rejected; "
        f"staged in {out_dir}",
        markup=False,
    )


DEMO_AS_OF = "2020-07-01"  # AB 1793's deadline for prosecutors (HS 11361.9(c))


@app.command()
def demo(
    out_dir: Path = typer.Option(Path("demo-output"), "--out", help="Output folder."),
) -> None:
    """The whole job on the bundled synthetic extract (no real person's data)."""
    from clearance.sample import SAMPLE_COUNTY, sample_path

    out.print(
        f"Running the bundled synthetic extract ({SAMPLE_COUNTY} county, statute policy, "
        f"as of {DEMO_AS_OF})"
    )
    _print_run(_run([sample_path()], SAMPLE_COUNTY, "statute", DEMO_AS_OF, out_dir))


@app.command()
def explain(
    subject_id: str = typer.Argument(..., help="The person's SUBJECT_ID or CII number."),
    run_dir: Path = typer.Option(
        ..., "--run", help="A run's output folder, or a `clearance sheet` one."
    ),
) -> None:
    """One person's history and each decision, rule by rule, with citations."""
    from clearance.explain import explain as explain_person
    from clearance.explain_render import render
    from clearance.sheet.decide import run_folders

    screen = out if out.is_terminal else Screen(width=PIPED_WIDTH, highlight=False)
    with user_errors():
        folders = run_folders(run_dir)
        if folders is None:  # a run's folder
            explanation = explain_person(run_dir, subject_id)
            render(explanation, screen)
            return
        explanations = [(f, explain_person(f, subject_id, missing_ok=True)) for f in folders]
        found = [(f, e) for f, e in explanations if e is not None]
        if not found:
            raise RunError(f"subject {subject_id} has no determination in {run_dir}")
    for folder, explanation in found:
        screen.print(f"[bold]== {shown(folder.parent.name)}, {shown(folder.name)} ==[/]")
        render(explanation, screen)


@app.command()
def sheet(
    files: list[Path] = typer.Argument(
        ..., help="A rap sheet (text, PDF or scanned PDF), or its pages' files in order."
    ),
    law: str = typer.Option("all", "--law", help="A rule pack's name, or all of them."),
    county: str | None = typer.Option(
        None, "--county", help="Decide for this county (default: every county on the sheet)."
    ),
    as_of: str = typer.Option(..., "--as-of", help="The date to decide as of (YYYY-MM-DD)."),
    out_dir: Path = typer.Option(Path("out"), "--out", help="Output folder."),
) -> None:
    """Read one person's rap sheet and decide it under every rule pack (docs/rap-sheet.md)."""
    from clearance.sheet.answer import render
    from clearance.sheet.decide import decide_sheet

    if law != "all":
        try:
            load_pack(law)
        except RulePackError as exc:
            raise fail(f"--law: {exc}") from None
    date, _ = _as_of(as_of)
    with user_errors():
        result = decide_sheet(files, law, county, date, out_dir)
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    render(result.answer, out if out.is_terminal else Screen(width=PIPED_WIDTH, highlight=False))
    out.print(
        f"Outputs in {shown(result.out)}; explain: clearance explain --run "
        f"{shown(result.out)} {shown(result.answer['subject_id'])}"
    )


@app.command()
def filings(
    run_dirs: list[Path] = typer.Option(
        ...,
        "--run",
        help="A run's output folder (or a reviewed one). With --person: one or more, or "
        "the folder `clearance sheet` wrote.",
    ),
    out_dir: Path = typer.Option(..., "--out", help="Folder to write the filings to."),
    person: str | None = typer.Option(
        None,
        "--person",
        help="One person's subject id or CII number: petition drafts for their open "
        "remedies and a letter to them (docs/filings.md).",
    ),
    office: Path | None = typer.Option(
        None, "--office", help="office.yaml (docs/filings.md); without it, fields are [MARKED]."
    ),
    part_size: int = typer.Option(
        5000, "--part-size", min=1, help="Most cases per exhibit file, letters per letters file."
    ),
    letters: bool = typer.Option(True, "--letters/--no-letters", help="Write notice letters."),
    objections: Path | None = typer.Option(
        None,
        "--objections",
        help="A ca-auto-relief run: CSV of subject_id, cnt_order, grounds of the convictions "
        "the office objects to; each gets a petition to prohibit relief (PC 1203.425(b)).",
    ),
    filed_on: str | None = typer.Option(
        None,
        "--filed-on",
        help="The filing date: the letters' date and the proofs of service's, and the date "
        "objection deadlines are checked against (YYYY-MM-DD; default the run's as-of date).",
    ),
    addresses: Path | None = typer.Option(
        None,
        "--addresses",
        help="CSV of mailing addresses by subject_id or cii_number (docs/filings.md): "
        "printed in each letter's envelope window and in letters/mailing-list.csv.",
    ),
) -> None:
    """Court filings, the DOJ disposition update file and notice letters, from a run folder.

    From a ca-auto-relief run: petitions to prohibit relief for the convictions in
    --objections, and the list of those not objected to. With --person: one person's
    petition drafts (PC 1203.4, 1203.4a, 1203.41, 17(b), 851.91; HS 11361.8) and a
    letter to them, in English and Spanish."""
    from clearance.filings.command import main as filings_main
    from clearance.filings.command import person_main

    if person is not None:
        if objections is not None or filed_on is not None or addresses is not None:
            raise fail(
                "--person drafts one person's petitions; it takes no --objections, --filed-on "
                "or --addresses"
            )
        person_main(run_dirs, person, out_dir, office, letters)
        return
    if len(run_dirs) != 1:
        raise fail("--run: give one run folder (several only with --person)")
    run_dir = run_dirs[0]

    date = None
    if filed_on is not None:
        try:
            date = dt.date.fromisoformat(filed_on)
        except ValueError:
            raise fail(f"--filed-on {filed_on!r} is not a date of the form YYYY-MM-DD") from None
    filings_main(run_dir, out_dir, office, part_size, letters, objections, date, addresses)


@app.command()
def report(
    run_dir: Path = typer.Option(..., "--run", help="A run's output folder."),
    public: bool = typer.Option(
        False, "--public", help="The public variant: no personal data, small counts hidden."
    ),
    out_dir: Path | None = typer.Option(
        None,
        "--out",
        help="Folder to write to; default --run, and with --public <run folder>-public beside "
        "it (never among the run's personal data).",
    ),
) -> None:
    """The impact report of a run, as HTML and PDF (docs/report.md)."""
    from clearance.report import public_folder, write_report

    if public and out_dir is None:
        out_dir = public_folder(run_dir)
    with user_errors():
        paths = write_report(run_dir, public=public, out=out_dir)
    out.print("Wrote " + ", ".join(str(p) for p in paths), highlight=False, markup=False)


@app.command()
def compare(
    run_dir: Path = typer.Option(..., "--run", help="A run's output folder: its extract is used."),
    policy: list[str] = typer.Option(
        ..., "--policy", help="A preset or policy file; two or more, the first is the baseline."
    ),
    out_dir: Path | None = typer.Option(None, "--out", help="Folder to write to; default --run."),
    extract: list[Path] | None = typer.Option(
        None, "--extract", help="The run's extract files, if they have moved (same SHA-256)."
    ),
) -> None:
    """The run's extract under several policies, side by side (compare.html, compare.json)."""
    from clearance.report import check_report_out
    from clearance.report import compare as comparing

    with user_errors():
        if out_dir is not None:
            check_report_out(out_dir, run_dir)
        _, files = comparing.inputs_of(run_dir, extract)
        with progress_bar("Deciding", sum(f.stat().st_size for f in files)) as advance:
            comparison = comparing.compare(
                run_dir, policy, extracts=extract, progress=advance, work_dir=run_dir
            )
        paths = comparing.write_compare(comparison, out_dir or run_dir)
    out.print(comparing.console_table(comparison))
    for line in comparing.headline(comparison):
        out.print(line, highlight=False, markup=False)
    out.print("Wrote " + ", ".join(str(p) for p in paths), highlight=False, markup=False)


laws_app = typer.Typer(
    help="List the rule packs, or show one's rules.", invoke_without_command=True
)
app.add_typer(laws_app, name="laws")


@laws_app.callback()
def laws(ctx: typer.Context) -> None:
    """List the rule packs shipped with clearance (docs/rule-packs.md)."""
    if ctx.invoked_subcommand is not None:
        return
    from clearance.law.describe import pack_row

    table = Table(title="Rule packs")
    for column in ("name", "version", "rules", "citation", "title"):
        table.add_column(column)
    with user_errors():
        for name in installed_packs():
            table.add_row(*pack_row(load_pack(name)))
    out.print(table)


@laws_app.command("show")
def laws_show(
    name: str = typer.Argument(..., help="An installed pack's name, or a pack's folder."),
) -> None:
    """Every rule of a pack in order, with its citation and the statute's words."""
    from clearance.law.describe import pack_lines

    with user_errors():
        law = load_pack(name)
        text = "\n".join(pack_lines(law))
    # Written as is: the statute's words must not be re-wrapped or styled.
    sys.stdout.write(terminal_safe(text, lines=True) + "\n")


policies_app = typer.Typer(
    help="List the policy presets, or show one.", invoke_without_command=True
)
app.add_typer(policies_app, name="policies")


@policies_app.callback()
def policies(ctx: typer.Context) -> None:
    """List the presets shipped with clearance."""
    if ctx.invoked_subcommand is not None:
        return
    from clearance.policy import list_presets

    table = Table(title="Policy presets")
    for column in ("name", "title", "summary"):
        table.add_column(column)
    for name, title, summary in list_presets():
        table.add_row(name, title, summary)
    out.print(table)


@policies_app.command("show")
def policies_show(
    name: str = typer.Argument(..., help="A preset name or a policy file."),
    as_yaml: bool = typer.Option(False, "--yaml", help="Print the resolved policy as YAML."),
) -> None:
    """Show a policy in plain words (or as YAML)."""
    import yaml

    from clearance.policy import describe, load_policy

    with user_errors():
        policy = load_policy(name)
    if as_yaml:
        # A policy file `run --policy` reads back (`source` is where it came from: a
        # comment, not a key). Written as is: Rich would wrap long lines when piped.
        header = f"# From {policy.source} (clearance policies show {name} --yaml)\n"
        text = yaml.safe_dump(policy.to_file(), sort_keys=False, allow_unicode=True)
        sys.stdout.write(header + text)
        return
    out.print(f"[bold]{shown(policy.name)}[/]")
    for sentence in describe(policy):
        out.print(f"- {sentence}", markup=False, highlight=False)


# The local web app (docs/web.md); the web stack is imported only when these run.
app.command("serve")(_serve)
app.add_typer(_users_app, name="users")
app.add_typer(_audit_app, name="audit")


def run_cli() -> None:  # pragma: no cover - console entry point helper
    app(prog_name="clearance")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_cli())
