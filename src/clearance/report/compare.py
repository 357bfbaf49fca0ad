"""One extract, several policies, side by side (``clearance compare``).

Prosecutors choose a policy before filing; this shows what each choice does to the
same people. The extract is the one a run used (run.json names it, and its SHA-256
must still match), read once; the model is built once per person bucket, and each
policy is decided on it with the engine's own functions (``determine``,
``summarize``): nothing here re-implements a rule.

The first policy is the baseline. For each other policy the comparison gives the
convictions and people by outcome, the difference, a transition matrix (how many
convictions move from each baseline outcome to each outcome under that policy),
and how many people it helps that the baseline does not, and the reverse.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from clearance._folders import make_temp, private_dir, write_private, writing
from clearance.extract import keys
from clearance.extract import model as model_
from clearance.extract.reader import buckets_for, input_bytes, read_extracts
from clearance.law import load_rulepack
from clearance.outputs import determinations as det_out
from clearance.outputs.summary import summarize
from clearance.policy import Policy, describe, load_policy
from clearance.policy import summarize as policy_line
from clearance.report.figures import (
    DETERMINATION_LABELS,
    DETERMINATIONS,
    PEOPLE,
    PEOPLE_LABELS,
    Chart,
    Column,
    Figure,
    ReportError,
    Row,
    Table,
)
from clearance.rules.engine import determine
from clearance.run_common import check_as_of

FILES = ("compare.html", "compare.json")


def inputs_of(run_dir: Path, extracts: Sequence[Path] | None = None) -> tuple[dict, list[Path]]:
    """run.json, and the extract files to read: the run's own, or ``extracts`` in their
    place (same number, same order). Each must exist; hashes are checked after reading."""
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise ReportError(f"{run_dir} is not a run folder (no run.json)")
    try:
        provenance = json.loads(path.read_text("utf-8"))
        recorded = provenance["inputs"]
        missing = [k for k in ("county", "as_of") if not provenance.get(k)]
        if missing:
            raise KeyError(missing[0])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReportError(f"{path}: cannot be read as a run's provenance ({exc})") from None
    if extracts:
        if len(extracts) != len(recorded):
            raise ReportError(
                f"the run read {len(recorded)} extract file(s); --extract gave {len(extracts)}"
            )
        files = [Path(p) for p in extracts]
    else:
        files = [Path(item["path"]) for item in recorded]
    for file in files:
        if not file.is_file():
            raise ReportError(
                f"{file}: the run's extract is not there; give its new place with --extract"
            )
    return provenance, files


def compare(
    run_dir: Path,
    specs: Sequence[str],
    *,
    extracts: Sequence[Path] | None = None,
    progress: Callable[[int], None] | None = None,
    work_dir: Path | None = None,
) -> dict:
    """Decide the run's extract under each policy; the comparison as a JSON-ready dict.

    Staged rows and the model go to a hidden folder under ``work_dir`` (default: the
    system's temporary folder), removed when done.
    """
    if len(specs) < 2:
        raise ReportError("compare needs at least two policies (--policy A --policy B)")
    if len(set(specs)) != len(specs):
        raise ReportError("a policy is given twice; give each once")
    provenance, files = inputs_of(run_dir, extracts)
    county = provenance["county"]
    as_of = dt.date.fromisoformat(provenance["as_of"])
    law = load_rulepack()
    # A run made before the check (or a run.json edited by hand) is refused as `run` is.
    check_as_of(as_of, law, label=f"{Path(run_dir) / 'run.json'}: as_of")
    policies = [load_policy(spec).with_county(county) for spec in specs]
    # Beside the run: .compare.partial-PID, owner-only; one a killed compare left is
    # removed here (_folders.py). Without work_dir, an owner-only folder of the system's.
    work = (
        make_temp(Path(work_dir) / "compare")
        if work_dir is not None
        else Path(tempfile.mkdtemp(prefix=".clearance-compare-"))
    )
    try:
        buckets = buckets_for(input_bytes(files))
        read = read_extracts(files, work, progress=progress, buckets=buckets)
        _check_hashes(provenance["inputs"], read.files)
        file_order = [f.name for f in read.files]
        decided: list[list[pl.DataFrame]] = [[] for _ in policies]
        models = []
        for b in range(read.buckets):
            with keys.pinned():  # the bucket's keys, the same in each of its queries
                model = _materialise(model_.build(read.bucket(b), file_order), work / f"b{b:04d}")
                models.append(model)
                for k, policy in enumerate(policies):
                    query = determine(model, policy, county, as_of, law)
                    decided[k].append(query.collect(engine="streaming"))
        model = model_.Model(
            people=pl.concat([m.people for m in models]),
            events=models[0].events,
            counts=pl.concat([m.counts for m in models]),
        )
        published = [
            det_out.table(pl.concat(frames).sort("subject_id", "cnt_order")) for frames in decided
        ]
        summaries = [
            summarize(table, model, read, as_of=as_of, county=county, policy_name=policy.name)
            for table, policy in zip(published, policies, strict=True)
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _comparison(run_dir, provenance, specs, policies, published, summaries)


def _check_hashes(recorded: list[dict], read_files) -> None:
    for item, stats in zip(recorded, read_files, strict=True):
        if item.get("sha256") and item["sha256"] != stats.sha256:
            raise ReportError(
                f"{stats.path}: not the extract the run read (its SHA-256 differs from "
                "run.json's); compare must decide the same data"
            )


def _materialise(model: model_.Model, work: Path) -> model_.Model:
    """Counts and people to Parquet once, so every policy reads them, not the input."""
    work.mkdir(parents=True, exist_ok=True)
    model.counts.sink_parquet(work / "counts.parquet", engine="streaming")
    model.people.sink_parquet(work / "people.parquet", engine="streaming")
    return model_.Model(
        people=pl.scan_parquet(work / "people.parquet"),
        events=model.events,
        counts=pl.scan_parquet(work / "counts.parquet"),
    )


def _comparison(
    run_dir: Path,
    provenance: dict,
    specs: Sequence[str],
    policies: Sequence[Policy],
    published: Sequence[pl.DataFrame],
    summaries: Sequence[dict],
) -> dict:
    baseline = published[0].select("subject_id", "cnt_order", "determination")
    helped = [
        set(t.filter(pl.col("determination").is_in(("dismiss", "reduce")))["subject_id"])
        for t in published
    ]
    entries = []
    for k, (spec, policy, summary) in enumerate(zip(specs, policies, summaries, strict=True)):
        convictions = dict(summary["by_determination"])
        convictions["total"] = summary["convictions_in_scope"]
        people = {"people_in_scope": summary["people_in_scope"]}
        people.update({key: summary["impact"][key] for key in PEOPLE if key in summary["impact"]})
        entry = {
            "spec": spec,
            "name": policy.name,
            "summary": policy_line(policy),
            "description": describe(policy),
            "convictions": convictions,
            "people": people,
            "by_section": summary["by_section"],
            "by_reason": summary["by_reason"],
        }
        if k:
            first = entries[0]
            entry["difference"] = {
                "convictions": {d: convictions[d] - first["convictions"][d] for d in convictions},
                "people": {p: people[p] - first["people"][p] for p in people},
                "people_newly_helped": len(helped[k] - helped[0]),
                "people_no_longer_helped": len(helped[0] - helped[k]),
            }
            entry["transitions"] = _transitions(baseline, published[k])
        entries.append(entry)
    return {
        "run": {
            "folder": Path(run_dir).name,
            "county": provenance["county"],
            "as_of": provenance["as_of"],
            "inputs": [
                {"name": i.get("name"), "sha256": i.get("sha256")} for i in provenance["inputs"]
            ],
            "rule_pack": provenance.get("rule_pack", {}).get("version"),
            "tool": provenance.get("tool", {}).get("version"),
        },
        "baseline": specs[0],
        "policies": entries,
    }


def _transitions(baseline: pl.DataFrame, other: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Baseline outcome -> outcome under the other policy -> convictions (all 16 cells)."""
    joined = baseline.join(
        other.select("subject_id", "cnt_order", pl.col("determination").alias("to")),
        on=["subject_id", "cnt_order"],
        how="full",
        coalesce=True,
    )
    matrix = {a: dict.fromkeys(DETERMINATIONS, 0) for a in DETERMINATIONS}
    counted = joined.group_by("determination", "to").len()
    for source, target, n in counted.iter_rows():
        if source is None or target is None:  # both policies decide the same convictions
            raise ReportError("the policies decided different convictions; cannot compare")
        matrix[source][target] = n
    return matrix


def write_compare(comparison: dict, out: Path) -> list[Path]:
    """compare.json and compare.html (with a chart of convictions by outcome)."""
    from clearance.report import charts, html

    out = Path(out)
    table = chart_table(comparison)
    page = html.render_compare(comparison, charts.draw(table), table)
    text = json.dumps(comparison, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    paths = [out / name for name in FILES]
    with writing(out, ReportError):  # a full disk, a folder not writable: one line
        private_dir(out)
        for path, data in zip(paths, (page, text), strict=True):
            write_private(path, data.encode("utf-8"))
    return paths


def chart_table(comparison: dict):
    """Convictions by outcome under each policy, as a report table (and its chart)."""
    rows = []
    for k, entry in enumerate(comparison["policies"]):
        cells = tuple(
            Figure(entry["convictions"][d], ("compare", "policies", k, "convictions", d))
            for d in (*DETERMINATIONS, "total")
        )
        rows.append(Row(entry["spec"], entry["name"], cells))
    return Table(
        id="compare-convictions",
        title="Convictions by outcome under each policy",
        intro="The same convictions, decided under each policy.",
        row_header="Policy",
        columns=(
            *(Column(d, DETERMINATION_LABELS[d]) for d in DETERMINATIONS),
            Column("total", "Total"),
        ),
        rows=tuple(rows),
        chart=Chart("stacked", tuple(range(len(DETERMINATIONS))), "Convictions"),
    )


def headline(comparison: dict) -> list[str]:
    """What each policy changes against the baseline, in sentences (the command line's)."""
    first = comparison["policies"][0]
    lines = []
    for entry in comparison["policies"][1:]:
        diff = entry["difference"]
        conv, people = diff["convictions"], diff["people"]

        def against(group: str, key: str, entry=entry) -> str:
            return f"({entry[group][key]:,} against {first[group][key]:,})"

        lines.append(
            f"Under {entry['spec']} rather than {first['spec']}: "
            f"{_more(conv['dismiss'], 'conviction')} dismissed "
            f"{against('convictions', 'dismiss')}, "
            f"{_more(conv['reduce'], 'conviction')} reduced, "
            f"{_more(conv['review'], 'conviction')} sent to review; "
            f"{_more(people['people_helped'], 'person', 'people')} helped "
            f"{against('people', 'people_helped')}, "
            f"{_more(people['people_no_felony'], 'person', 'people')} left with no felony "
            f"{against('people', 'people_no_felony')}, "
            f"{_more(people['people_felony_cleared'], 'person', 'people')} whose felony "
            f"record is cleared {against('people', 'people_felony_cleared')}."
        )
    return lines


def console_table(comparison: dict):
    """The main figures per policy, as a table for the terminal."""
    from rich.table import Table as ConsoleTable

    from clearance.textsafe import shown

    run = comparison["run"]
    table = ConsoleTable(title=f"{shown(run['county'])}, as of {run['as_of']}")
    table.add_column("")
    for entry in comparison["policies"]:
        table.add_column(shown(entry["spec"]), justify="right")
    for key in DETERMINATIONS:
        label = f"convictions {key.replace('_', ' ')}"
        table.add_row(label, *(f"{e['convictions'][key]:,}" for e in comparison["policies"]))
    for key in PEOPLE[1:]:
        label = PEOPLE_LABELS[key].lower()
        table.add_row(label, *(f"{e['people'][key]:,}" for e in comparison["policies"]))
    return table


def _more(n: int, one: str, many: str | None = None) -> str:
    noun = one if abs(n) == 1 else (many or f"{one}s")
    if n == 0:
        return f"no more {many or one + 's'}"
    return f"{abs(n):,} {'more' if n > 0 else 'fewer'} {noun}"
