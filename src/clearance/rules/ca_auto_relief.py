"""California automatic relief's functions: what the pack `ca-auto-relief` computes.

The pack (`src/clearance/packs/ca-auto-relief/pack.yaml`) says which of these each
rule calls and in what order; these functions say how each fact is computed over a
group of people's histories, as Polars queries. No section, date, wait or pattern
is written here: each is read from the pack (``ctx.data``, ``ctx.law.lists``, the
``dispositions`` classes) or from the policy (``ctx.setting``).

How the records are read (ca-automatic-relief.md, "Precise readings"):

- **Dispositions** are classed by the pack's ``dispositions`` file. A count's
  record is *open* when none of its lines holds a final disposition (empty, a
  complaint filed, a transfer, a warrant, a continuance).
- **The same case** of a record: a later step of its cycle, or a later court
  step (any cycle) whose case number (OFN or FE_NUM_CRT_CASE) is one of the
  record's; and the record's own later dispositions (DISP_ORDER 2 ...).
- **Sentences**: each count's distinct sentence parts, by place (probation,
  prison, fine, other); a fine or a part with neither length nor unit adds no
  time; another part without a usable length or unit makes the sentence unknown.
- **Arrests**: each ARREST/DETAINED/CITED step; its level is its most serious
  count; its court steps are those of its cycle and those linked by case number.
"""

from __future__ import annotations

import polars as pl

from clearance.extract import keys
from clearance.extract.keys import code
from clearance.extract.model import COUNT, LINE_COLUMNS, PART_COLUMNS, CountLines, Model
from clearance.law import RulePack, offenses
from clearance.law.registry import Context, Library
from clearance.rules.engine import in_county

law = Library("ca_auto_relief")

CONVICTION, ARREST = "conviction", "arrest"
# The offense lists every count is looked up in: column -> (how, list). `offense_in`:
# a definite member; `offense_possibly_in`: listed only in forms the charge may not
# show; `enhancement_in`: the count is (or names) a listed enhancement.
LISTS = {
    "_serious": ("offense_in", "serious_felonies"),
    "_violent": ("offense_in", "violent_felonies"),
    "_pc290": ("offense_in", "pc290"),
    "_maybe_serious": ("offense_possibly_in", "serious_felonies"),
    "_maybe_violent": ("offense_possibly_in", "violent_felonies"),
    "_enh_serious": ("enhancement_in", "serious_felonies"),
    "_enh_violent": ("enhancement_in", "violent_felonies"),
    "_long": ("offense_in", "max_term_8_years"),
    "_wobbler": ("offense_in", "wobblers"),
    "_excluded_4": ("offense_in", "pc1203_4_exclusions"),
}
SEVERITY_RANK = {"F": 3, "M": 2, "I": 1}
_SENTENCE = ("sent_order", "sent_loc", "sent_length_raw", "sent_time_code")


# ------------------------------------------------------------------------ helpers


def add_time(date: pl.Expr, years: pl.Expr, months: pl.Expr, days: pl.Expr) -> pl.Expr:
    """Years, then months, then days, each a calendar step (as Prop 64's sentences).
    Days are added as they are (a date has no time of day to shift), not by an offset
    written out for each row: a third less time."""
    return date.dt.offset_by(pl.format("{}y", years.clip(0, 9000))).dt.offset_by(
        pl.format("{}mo", months.clip(0, 12 * 9000))
    ) + pl.duration(days=days.clip(0, 366 * 9000))


def plus_years(date: pl.Expr, years: int | pl.Expr) -> pl.Expr:
    """The same day ``years`` later (29 February becomes 28 February)."""
    if isinstance(years, int):
        return date.dt.offset_by(f"{years}y")
    return date.dt.offset_by(pl.format("{}y", years))


def latest(*dates: pl.Expr) -> pl.Expr:
    """The latest of dates that are all known; null if any is unknown."""
    return pl.when(pl.all_horizontal(d.is_not_null() for d in dates)).then(
        pl.max_horizontal(*dates)
    )


def _listing(text: pl.Expr, date: pl.Expr, flag: pl.Expr) -> pl.Expr:
    """The flagged records as "text (YYYY-MM-DD); ..." in date order, for facts."""
    label = pl.format(
        "{} ({})", text.fill_null("?"), date.dt.to_string("%Y-%m-%d").fill_null("date unknown")
    )
    return label.filter(flag).unique().sort().str.join("; ")


def _charge_label() -> pl.Expr:
    return pl.coalesce(
        pl.format("{} {}{}", pl.col("code"), pl.col("section"), pl.col("subsection").fill_null("")),
        pl.col("offense_raw"),
        pl.lit("charge unreadable"),
    )


def _within_person(column: str) -> pl.Expr:
    """One integer per (person, ``column``), from the person's key (``PERSON``, made
    first): grouping and joining on it cost a fraction of what two text columns cost
    (as the model's own count key, extract.model). Made only in ``_tables`` (its keys
    stay the same while it works them out)."""
    return pl.col(PERSON) * (1 << 32) + code(column)


# The group's integer keys (columns dropped from the output with the other "_" ones):
# the person, a count (subject_id, cnt_order), an event (subject_id, event_key), a
# cycle (subject_id, its cycle number) and a case number (subject_id, the number).
PERSON, EVENT, CYCLE, NUMBER = "_person", "_event", "_cycle", "_number"  # COUNT: the model's


def _is(column: str, datum_words: str, law_: RulePack) -> pl.Expr:
    return law_.matches(datum_words, column)


FLAG_KEY = ["charge", "offense_qualifiers"]
FLAG_READ = ["code", "section", "subsection", "attempt"]
# Charges already looked up, by pack digest: a charge repeats from one group of people
# to the next. Bounded: cleared when it holds more than this many charges.
_FLAGS_SEEN: dict[str, pl.DataFrame] = {}
FLAGS_SEEN_MAX = 200_000
_CHARGE_KEY = "\0charge"


def _list_flags(pack: RulePack, charges: pl.DataFrame) -> pl.DataFrame:
    """The LISTS flags of each distinct (charge, qualifiers), from the cache or worked out."""
    seen = _FLAGS_SEEN.get(pack.sha256)
    new = charges if seen is None else charges.join(seen, on=FLAG_KEY, how="anti", nulls_equal=True)
    if new.height:
        # Over the columns normalised once; the charge kept as it is, the key.
        new = new.with_columns(pl.col("charge").alias(_CHARGE_KEY)).with_columns(
            offenses.normalised()
        )
        # Each list cut to the entries these charges' sections can match: a group's few
        # new charges are looked up by an expression of a few terms, not hundreds (whose
        # planning took most of the rules' time for a group).
        sections = new.select("code", "section").unique().rows()
        texts = [t for c in offenses.DEFAULT_ENHANCEMENT_COLUMNS for t in new[c].unique()]
        lists = {name: pack.lists[name].only_for(sections, texts) for _, name in LISTS.values()}
        found = (
            new.lazy()
            .with_columns(
                **{
                    column: getattr(offenses, how)(lists[name], normalised=True)
                    for column, (how, name) in LISTS.items()
                }
            )
            .drop(FLAG_READ)
            .with_columns(pl.col(_CHARGE_KEY).alias("charge"))
            .drop(_CHARGE_KEY)
            .collect(engine="in-memory")
        )
        seen = found if seen is None or seen.height > FLAGS_SEEN_MAX else pl.concat([seen, found])
        _FLAGS_SEEN[pack.sha256] = seen
    return seen  # type: ignore[return-value]


# ---------------------------------------------------------------- shared tables


def _tables(ctx: Context, model: Model) -> dict[str, pl.LazyFrame]:
    """The group's tables every function reads, worked out once (``ctx.shared``).

    Every integer key of the group (person, count, event, cycle) is made here, in
    queries worked out here, while ``keys.pinned()`` is held: the same text gets the
    same key in each of them (extract/keys.py), whoever evaluates the rules' query.
    """
    if "counts" in ctx.shared:
        return ctx.shared
    with keys.pinned():
        return _worked_out(ctx, model)


# What a count's lines record (a Boolean each: whether any of its lines is of that
# class of the pack's dispositions).
RECORDED = {
    "relief": "relief_granted",
    "prohibited": "relief_prohibited",
    "revoked": "probation_revoked",
    "diversion": "diversion_completed",
    "acquitted": "acquitted",
    "dismissed": "dismissed",
    "complaint": "complaint_filed",
}
# The columns of a count's sentence parts, by place (``count_lines``).
PART_SUMS = ("prob_y", "prob_m", "prob_d", "other_y", "other_m", "other_d")
PART_FLAGS = ("probation_part", "prob_length", "sent_unreadable", "prison", "jail")


def count_lines(pack: RulePack) -> CountLines:
    """What every line of a count records, as columns of the count (the model works
    them out with its counts: ``model.CountLines``): whether it was convicted, whether
    some disposition is final, each class of ``RECORDED``, the words of a relief
    granted or prohibited; and its distinct sentence parts, by place (probation, other
    than probation or a fine, prison, jail), added up."""
    classes = pack.classes("dispositions")
    unknown = sorted(set(RECORDED.values()) - set(classes))
    if unknown:
        raise RuntimeError(f"the pack's dispositions file has no class {', '.join(unknown)}")
    final_classes = [name for name, c in classes.items() if c["final"]]
    final = pl.col("disposition").is_not_null() & (
        pl.col("disp_class").is_null() | pl.col("disp_class").is_in(final_classes)
    )

    def lines(rows: pl.LazyFrame) -> pl.LazyFrame:
        # Each distinct disposition classed once (a few hundred in a group), joined back.
        texts = (
            rows.select("disposition")
            .unique()
            .with_columns(disp_class=pack.classify("dispositions", "disposition"))
        )
        # A Boolean column a class, then one "any" each: a fifth of the cost of OR-ing
        # class bits. And the words of a relief granted or prohibited, for the facts.
        return (
            rows.join(texts, on="disposition", how="left", nulls_equal=True, maintain_order="left")
            .with_columns(
                convicted_any=pl.col("convicted").fill_null(False),
                final=final,
                **{
                    flag: (pl.col("disp_class") == name).fill_null(False)
                    for flag, name in RECORDED.items()
                },
                relief_text=pl.when(pl.col("disp_class") == "relief_granted").then(
                    pl.col("disposition")
                ),
                prohibited_text=pl.when(pl.col("disp_class") == "relief_prohibited").then(
                    pl.col("disposition")
                ),
            )
            .drop("disp_class")
        )

    def parts(distinct: pl.LazyFrame) -> pl.LazyFrame:
        # The place of each distinct SENT_LOC_DESCR (a handful), joined back.
        places = (
            distinct.select("sent_loc")
            .unique()
            .with_columns(
                _prob=pack.matches("probation_words", "sent_loc"),
                _fine=pack.matches("fine_words", "sent_loc")
                & ~pack.matches("probation_words", "sent_loc"),
                _prison=pack.matches("prison_words", "sent_loc"),
                _jail=pack.matches("jail_words", "sent_loc"),
            )
        )
        return (
            distinct.join(places, on="sent_loc", how="left", nulls_equal=True)
            .with_columns(
                _len=(pl.col("sent_days") + pl.col("sent_months") + pl.col("sent_years")) > 0
            )
            .with_columns(_other=~pl.col("_prob") & ~pl.col("_fine"))
        )

    prob, other = pl.col("_prob"), pl.col("_other")
    aggregations = (
        pl.when(prob).then(pl.col("sent_years")).sum().alias("prob_y"),
        pl.when(prob).then(pl.col("sent_months")).sum().alias("prob_m"),
        pl.when(prob).then(pl.col("sent_days")).sum().alias("prob_d"),
        prob.any().alias("probation_part"),
        (prob & pl.col("_len") & ~pl.col("sent_unknown")).any().alias("prob_length"),
        pl.when(other).then(pl.col("sent_years")).sum().alias("other_y"),
        pl.when(other).then(pl.col("sent_months")).sum().alias("other_m"),
        pl.when(other).then(pl.col("sent_days")).sum().alias("other_d"),
        ((prob | other) & pl.col("sent_unknown")).any().alias("sent_unreadable"),
        (pl.col("_prison") & other).any().alias("prison"),
        (pl.col("_jail") & other & ~pl.col("_prison")).any().alias("jail"),
    )
    columns = ("convicted_any", "final", *RECORDED, *(e.meta.output_name() for e in aggregations),
               "relief_text", "prohibited_text")  # fmt: skip
    over_lines = {"convicted_any": "any", "final": "any", **dict.fromkeys(RECORDED, "any"),
                  "relief_text": "min", "prohibited_text": "min"}  # fmt: skip
    return CountLines(lines=lines, line_aggregations=over_lines, parts=parts,
                      part_aggregations=aggregations, columns=columns)  # fmt: skip


law.count_lines = count_lines


def _lines_read(model: Model, read: CountLines) -> pl.LazyFrame | None:
    """``count_lines`` from the model's lines, by count key, when the model's counts do
    not carry them already (a model built without ``count_lines``); None when they do."""
    if set(read.columns) <= set(model.counts.collect_schema().names()):
        return None
    if model.lines is None:
        raise RuntimeError("the rule pack ca-auto-relief reads the model's lines")
    lines = (
        model.lines.with_columns(code("subject_id").alias(PERSON))
        .with_columns(_within_person("cnt_order").alias(COUNT))
        .collect(engine="in-memory")  # read twice below
        .lazy()
    )
    present = pl.any_horizontal(pl.col(c).is_not_null() for c in _SENTENCE)
    parts = (
        read.parts(lines.filter(present).select(COUNT, *PART_COLUMNS).unique())
        .group_by(COUNT)
        .agg(*read.part_aggregations)
    )
    over_lines = read.lines(lines.select(COUNT, *LINE_COLUMNS)).group_by(COUNT)
    return over_lines.agg(read.over_lines()).join(parts, on=COUNT, how="left")


def _worked_out(ctx: Context, model: Model) -> dict[str, pl.LazyFrame]:
    pack = ctx.law
    read = count_lines(pack)
    from_lines = _lines_read(model, read)
    counts = (
        model.counts.select(
            "subject_id",
            "cnt_order",
            "event_key",
            "cyc_order",
            "stp_order",
            "event_date",
            "event_date_raw",
            "event_type",
            "agency",
            "county",
            "case_number",
            "court_case",
            "offense_raw",
            "offense_qualifiers",
            "charge",
            "code",
            "section",
            "subsection",
            "attempt",
            "severity",
            "disposition",
            "source_file",
            "line",
            *(read.columns if from_lines is None else ()),
        )
        .with_columns(code("subject_id").alias(PERSON))
        .with_columns(
            _within_person("cnt_order").alias(COUNT),
            _within_person("event_key").alias(EVENT),
        )
    )
    if from_lines is not None:  # every count has lines (it is built from them)
        keys_ = [PERSON, COUNT, EVENT]  # the columns in the order the model gives them
        counts = counts.join(from_lines, on=COUNT, how="left").select(
            pl.exclude(*keys_, *read.columns), *read.columns, *keys_
        )
    counts = (
        counts.with_columns(
            pl.col("convicted_any", "final", *RECORDED, *PART_FLAGS).fill_null(False),
            pl.col(*PART_SUMS).fill_null(0),
            cycle=pl.col("cnt_order").str.slice(0, 3),
            step=pl.col("cnt_order").str.slice(3, 3),
            event_type_uc=pl.col("event_type").str.to_uppercase().fill_null(""),
        )
        .with_columns(
            is_court=pl.col("event_type_uc").str.contains("COURT"),
            is_arrest=pl.col("event_type_uc").str.starts_with("ARREST"),
            **{CYCLE: _within_person("cycle")},
        )
        .filter(pl.col("event_key").is_not_null())
    )
    # Everyone in the group, keyed as the counts are (joined to each row decided).
    people = model.people.select(
        "subject_id",
        "cii_number",
        "name",
        "gender",
        "race",
        "dob",
        "dob_raw",
        "registered_290",
        "deceased",
    ).with_columns(code("subject_id").alias(PERSON))
    # A group, in memory: read by every query below.
    counts, people = pl.collect_all([counts, people], engine="in-memory")
    # The offense lists, looked up once per distinct charge (a few thousand in a county's
    # extract): the code, section, subsection and attempt are read from the charge's text,
    # so the charge and the qualifiers are the key the flags are joined back by.
    flags = _list_flags(pack, counts.select(*FLAG_KEY, *FLAG_READ).unique(subset=FLAG_KEY))
    counts = counts.join(flags, on=FLAG_KEY, how="left", nulls_equal=True, maintain_order="left")
    counts = counts.lazy()

    # Events: a step of a cycle, with what its counts record.
    events = counts.group_by(EVENT).agg(
        pl.col(
            "subject_id",
            "event_key",
            PERSON,
            CYCLE,
            "cycle",
            "step",
            "event_date",
            "is_court",
            "is_arrest",
            "county",
        ).first(),
        ev_convicted=pl.col("convicted_any").any(),
        ev_final=pl.col("final").any(),
        ev_relief=pl.col("relief").any(),
        ev_relief_text=pl.col("relief_text").drop_nulls().min(),
        ev_prohibited=pl.col("prohibited").any(),
        ev_prohibited_text=pl.col("prohibited_text").drop_nulls().min(),
        ev_revoked=pl.col("revoked").any(),
        ev_diversion=pl.col("diversion").any(),
        ev_acquitted=pl.col("acquitted").any(),
        ev_dismissed=pl.col("dismissed").any(),
        ev_complaint=pl.col("complaint").any(),
        n_counts=pl.len(),
        n_final=pl.col("final").sum(),
        n_acquitted=pl.col("acquitted").sum(),
        n_dismissed=pl.col("dismissed").sum(),
    )
    # Each event's case numbers, as keys of (person, number): events of one person that
    # share a number share the key (a join on it costs a fraction of one on the text).
    numbers = (
        pl.concat(
            [
                counts.select(PERSON, EVENT, number="case_number"),
                counts.select(PERSON, EVENT, number="court_case"),
            ]
        )
        .drop_nulls("number")
        .select(EVENT, _within_person("number").alias(NUMBER))
        .unique()
    )
    events, numbers = _materialised(events, numbers)
    # Later events of the same case: a later step of the cycle, or a later (or same-day)
    # court step of another event sharing a case number. Only two questions are asked
    # of them, each of few events: what a relief, prohibition or revocation step records
    # about an earlier record, and whether an open record was disposed of later.
    special = pl.col("ev_relief") | pl.col("ev_prohibited") | pl.col("ev_revoked")
    later_facts = (
        _later(events, numbers, events, events.filter(special))
        .join(_revocation_sentences(ctx, counts), on="_l_event", how="left")
        .group_by(EVENT)
        .agg(
            later_relief=pl.col("ev_relief").any(),
            later_relief_text=pl.col("ev_relief_text").drop_nulls().min(),
            later_prohibited=pl.col("ev_prohibited").any(),
            later_prohibited_text=pl.col("ev_prohibited_text").drop_nulls().min(),
            later_revoked=pl.col("ev_revoked").any(),
            revocation_date=pl.when(pl.col("ev_revoked")).then(pl.col("event_date")).min(),
            revocation_end=pl.when(pl.col("ev_revoked")).then(pl.col("ev_sentence_end")).max(),
            revocation_unknown=pl.col("ev_sentence_unknown")
            .filter(pl.col("ev_revoked"))
            .fill_null(False)
            .any(),
        )
    )
    # An open record (no final disposition) is disposed of by a later step of its cycle
    # with a final disposition, or by a later court step of its case (by case number).
    opened = events.filter(pl.col("n_final") < pl.col("n_counts"))  # a count not final
    last_final = (
        events.filter(pl.col("ev_final")).group_by(CYCLE).agg(_last_final=pl.col("step").max())
    )
    in_cycle = (
        opened.join(last_final, on=CYCLE, how="left")
        .filter(pl.col("_last_final") > pl.col("step"))
        .select(EVENT)
    )
    # (None of these has a later final step in its cycle: only case numbers can link one.)
    by_case = _later(
        opened.join(in_cycle, on=EVENT, how="anti"),
        numbers,
        events,
        events.filter(pl.col("ev_final") & pl.col("is_court")),
        facts=False,
        same_cycle=False,
    ).select(EVENT)
    later_final = pl.concat([in_cycle, by_case]).unique().with_columns(later_final=pl.lit(True))
    # Each stage's tables worked out together (they read only earlier stages).
    later_facts, later_final, arrests = _materialised(
        later_facts, later_final, _arrest_summary(counts)
    )
    t = {"counts": counts, "later_facts": later_facts}
    court = _court_steps(events, later_final)
    convictions, pairs = _materialised(
        _conviction_query(ctx, t), _court_pairs(arrests, court, numbers)
    )
    (courts,) = _materialised(_court_outcomes(ctx, pairs, court))
    ctx.shared.update(
        people=people.lazy(),
        counts=counts,
        events=events,
        later_facts=later_facts,
        later_final=later_final,
        numbers=numbers,
        convictions=convictions,
        arrests=arrests,
        pairs=pairs,
        courts=courts,
    )
    return ctx.shared


def _materialised(*queries: pl.LazyFrame) -> list[pl.LazyFrame]:
    """The queries worked out together (in parallel, in memory), each then read by
    several others as a table, not evaluated again for each."""
    return [frame.lazy() for frame in pl.collect_all(queries, engine="in-memory")]


def _later(
    mine: pl.LazyFrame,
    numbers: pl.LazyFrame,
    events: pl.LazyFrame,
    theirs: pl.LazyFrame,
    *,
    facts: bool = True,
    same_cycle: bool = True,
) -> pl.LazyFrame:
    """Each event of ``mine`` with the events of ``theirs`` that are later steps of its
    case (``_l_event``, with their facts): a later step of the same cycle, or a later
    (or same-day) court step sharing a case number with it. ``same_cycle=False``: the
    caller knows no event of ``theirs`` is a later step of the cycle of one of
    ``mine``, and only case numbers are looked at."""
    mine = mine.select(PERSON, EVENT, CYCLE, "step", "event_date")
    other = theirs.rename({EVENT: "_l_event", CYCLE: "_l_cycle", "step": "l_step",
                           "event_date": "l_date"})  # fmt: skip
    in_cycle = (
        mine.join(other.drop(PERSON), left_on=CYCLE, right_on="_l_cycle")
        .filter(pl.col("l_step") > pl.col("step"))
        .select(EVENT, "_l_event")
    )
    their_numbers = numbers.join(other.select(pl.col("_l_event").alias(EVENT)), on=EVENT).rename(
        {EVENT: "_l_event"}
    )
    by_number = (
        numbers.join(mine.select(EVENT), on=EVENT)
        .join(their_numbers, on=NUMBER)
        .filter(pl.col(EVENT) != pl.col("_l_event"))
        .join(mine.drop(PERSON), on=EVENT)
        .join(other.drop(PERSON), on="_l_event")
        .filter(
            pl.col("is_court")
            & (
                (pl.col("l_date") >= pl.col("event_date"))
                | ((pl.col("_l_cycle") == pl.col(CYCLE)) & (pl.col("l_step") > pl.col("step")))
            ).fill_null(False)
        )
        .select(EVENT, "_l_event")
    )
    pairs = pl.concat([in_cycle, by_number]).unique() if same_cycle else by_number.unique()
    if not facts:
        return pairs
    return pairs.join(
        theirs.drop("cycle", "step", "subject_id", "event_key", PERSON, CYCLE).rename(
            {EVENT: "_l_event"}
        ),
        on="_l_event",
    )


def _ends(ctx: Context) -> dict[str, pl.Expr]:
    """What a count's own parts give: the end of its other parts summed, after prison
    that end plus the assumed parole or PRCS, and the end of its probation."""
    pps = ctx.setting("post_prison_supervision_years")
    date = pl.col("event_date")
    other_end = add_time(date, pl.col("other_y"), pl.col("other_m"), pl.col("other_d"))
    return {
        "_other_end": pl.when(~pl.col("sent_unreadable")).then(other_end),
        "_prison_end": pl.when(~pl.col("sent_unreadable") & pl.col("prison")).then(
            plus_years(other_end, pps)
        ),
        "probation_end": pl.when(pl.col("prob_length")).then(
            add_time(date, pl.col("prob_y"), pl.col("prob_m"), pl.col("prob_d"))
        ),
    }


def _revocation_sentences(ctx: Context, counts: pl.LazyFrame) -> pl.LazyFrame:
    """A sentence recorded at a revocation runs from it (plus supervision after prison):
    each revocation step's latest end, by its event (``_l_event``)."""
    return (
        counts.filter(pl.col("revoked"))
        .with_columns(**_ends(ctx))
        .group_by(_l_event=pl.col(EVENT))
        .agg(
            ev_sentence_end=pl.max_horizontal("_other_end", "_prison_end").max(),
            ev_sentence_unknown=pl.col("sent_unreadable").any(),
        )
    )


def _conviction_sentences(ctx: Context, model: Model) -> pl.LazyFrame:
    """Every conviction count of the group (any county) with its sentence's end and
    completion (ca-automatic-relief.md, "Dates" and "Probation")."""
    return _tables(ctx, model)["convictions"]


def _conviction_query(ctx: Context, t: dict) -> pl.LazyFrame:
    """The query of ``_conviction_sentences`` (worked out with the group's tables)."""
    date = pl.col("event_date")
    revoked = pl.col("revoked") | pl.col("later_revoked")
    convictions = (
        t["counts"]
        .filter(pl.col("convicted_any"))
        .with_columns(**_ends(ctx))
        .with_columns(
            # The probation term as years, months and days ("3y", "1y 6m").
            probation_term=pl.when(pl.col("prob_length")).then(
                pl.concat_str(
                    [
                        pl.when(pl.col(c) > 0).then(pl.format("{}" + unit, pl.col(c)))
                        for c, unit in (("prob_y", "y"), ("prob_m", "m"), ("prob_d", "d"))
                    ],
                    separator=" ",
                    ignore_nulls=True,
                )
            )
        )
        .join(t["later_facts"], on=EVENT, how="left")
        .with_columns(
            pl.col(
                "later_relief",
                "later_prohibited",
                "later_revoked",
                "revocation_unknown",
            ).fill_null(False),
        )
        .with_columns(
            revoked_any=revoked,
            # A revocation recorded as a later disposition of the count itself is
            # dated by its step (the count's date) when no later step records it.
            revocation_date=pl.when(revoked).then(pl.coalesce("revocation_date", date)),
        )
        .with_columns(
            sentence_end=pl.when(pl.col("revoked_any"))
            .then(
                pl.when(~pl.col("revocation_unknown")).then(
                    latest(
                        pl.col("revocation_date"),
                        pl.col("revocation_end").fill_null(pl.col("revocation_date")),
                        pl.max_horizontal("_other_end", "_prison_end"),
                    )
                )
            )
            .when(pl.col("prob_length"))
            .then(latest(pl.col("probation_end"), pl.col("_other_end")))
            .otherwise(pl.col("_other_end")),
        )
        .with_columns(
            # Completion: the end of probation or of the sentence; after a prison term
            # (not suspended beside probation), its end plus parole or PRCS.
            completion=pl.when(pl.col("revoked_any"))
            .then(pl.col("sentence_end"))
            .when(pl.col("prison") & ~pl.col("prob_length"))
            .then(latest(pl.col("sentence_end"), pl.col("_prison_end")))
            .otherwise(pl.col("sentence_end")),
        )
    )
    return convictions


# -------------------------------------------------------------------------- scope


@law.rows
def conviction_and_arrest_rows(ctx: Context, model: Model) -> pl.LazyFrame:
    """Every conviction count of the county, and every arrest of the county that led
    to no conviction and is not for infractions only: one row each, with ``kind``."""
    t = _tables(ctx, model)
    convictions = (
        _conviction_sentences(ctx, model)
        .filter(in_county(ctx.county))
        .with_columns(kind=pl.lit(CONVICTION))
    )
    # An arrest is the county's when its arresting agency is, or a court step of its case.
    arrests = _arrest_rows(ctx, t).filter(in_county(ctx.county) | pl.col("court_in_county"))
    rows = pl.concat([convictions, arrests], how="diagonal_relaxed")
    people = t["people"].drop("subject_id")
    return rows.join(people, on=PERSON, how="left").with_columns(date=pl.col("event_date"))


def _arrest_summary(counts: pl.LazyFrame) -> pl.LazyFrame:
    """Each arrest step, from its counts: its offense (its most serious count's), its
    case numbers, and what its own counts record."""
    rank = pl.col("severity").replace_strict(SEVERITY_RANK, default=0, return_dtype=pl.Int8)
    # Each arrest's counts, the most serious first (then by count order): its first row
    # gives the arrest's offense, the same whatever order a group's rows arrive in (the
    # local engine's, a Spark partition's). Arrests ordered by their integer key (the
    # order of the rows decided is set later): a sort on text keys cost a third more.
    arrest_counts = (
        counts.filter(pl.col("is_arrest"))
        .with_columns(_rank=rank)
        .sort(EVENT, "_rank", "cnt_order", descending=[False, True, False])
    )
    arrests = arrest_counts.group_by(EVENT, maintain_order=True).agg(
        pl.col("cnt_order").min(),
        pl.col(
            "subject_id",
            "event_key",
            PERSON,
            CYCLE,
            "cyc_order",
            "stp_order",
            "event_date",
            "event_date_raw",
            "event_type",
            "agency",
            "county",
            "cycle",
            "step",
            "source_file",
            "line",
            "offense_raw",
            "offense_qualifiers",
            "charge",
            "code",
            "section",
            "subsection",
            "attempt",
        ).first(),
        case_number=pl.col("case_number").drop_nulls().min(),
        court_case=pl.col("court_case").drop_nulls().min(),
        _top=pl.col("_rank").max(),
        _unreadable=pl.col("severity").is_null().any(),
        max_term_8=(pl.col("_long") & (pl.col("severity") == "F")).any(),
        arrest_relief=pl.col("relief").any(),
        arrest_relief_text=pl.col("relief_text").drop_nulls().min(),
        arrest_diversion=pl.col("diversion").any(),
        arrest_dismissed=pl.col("dismissed").any(),
        arrest_complaint=pl.col("complaint").any(),
    )
    return arrests


def _court_steps(events: pl.LazyFrame, later_final: pl.LazyFrame) -> pl.LazyFrame:
    """The court steps (``_c_event``) an arrest's outcome is read from. A court step
    whose counts are all open (a continuance, a complaint filed) and that a later step
    of its case disposes of is superseded: the later step says how it ended."""
    return (
        events.filter(pl.col("is_court"))
        .join(later_final, on=EVENT, how="left")
        .with_columns(_superseded=(pl.col("n_final") == 0) & pl.col("later_final").fill_null(False))
        .drop("subject_id", "event_key", PERSON)
        .rename({EVENT: "_c_event", CYCLE: "_c_cycle"})
    )


def _court_pairs(arrests: pl.LazyFrame, court: pl.LazyFrame, numbers: pl.LazyFrame) -> pl.LazyFrame:
    """Each arrest with its court steps: of its cycle (any step), or linked by case number."""
    in_cycle = (
        arrests.select(EVENT, CYCLE)
        .join(court.select("_c_event", "_c_cycle"), left_on=CYCLE, right_on="_c_cycle")
        .select(EVENT, "_c_event")
    )
    court_numbers = numbers.join(court.select(pl.col("_c_event").alias(EVENT)), on=EVENT).rename(
        {EVENT: "_c_event"}
    )
    linked = (
        numbers.join(arrests.select(EVENT), on=EVENT)
        .join(court_numbers, on=NUMBER)
        .select(EVENT, "_c_event")
    )
    return pl.concat([in_cycle, linked]).unique()


def _court_outcomes(ctx: Context, pairs: pl.LazyFrame, court: pl.LazyFrame) -> pl.LazyFrame:
    """What each arrest's court steps record, by arrest."""
    return (
        pairs.join(court, on="_c_event")
        .group_by(EVENT)
        .agg(
            court_steps=pl.len(),
            court_convicted=pl.col("ev_convicted").any(),
            court_counts=pl.when(~pl.col("_superseded")).then(pl.col("n_counts")).sum(),
            court_final=pl.when(~pl.col("_superseded")).then(pl.col("n_final")).sum(),
            court_acquitted=pl.when(~pl.col("_superseded")).then(pl.col("n_acquitted")).sum(),
            court_dismissed=pl.when(~pl.col("_superseded")).then(pl.col("n_dismissed")).sum(),
            court_relief=pl.col("ev_relief").any(),
            court_relief_text=pl.col("ev_relief_text").drop_nulls().min(),
            court_complaint=pl.col("ev_complaint").any(),
            diversion_date=pl.when(pl.col("ev_diversion")).then(pl.col("event_date")).max(),
            dismissal_date=pl.when(pl.col("ev_dismissed")).then(pl.col("event_date")).max(),
            acquittal_date=pl.when(pl.col("ev_acquitted")).then(pl.col("event_date")).max(),
            court_in_county=in_county(ctx.county).any(),
        )
    )


def _arrest_rows(ctx: Context, t: dict) -> pl.LazyFrame:
    """One row per arrest step: its level, its offense, its court steps' outcome."""
    counts, arrests, pairs, courts = t["counts"], t["arrests"], t["pairs"], t["courts"]
    # Out of scope: an arrest whose case led to a conviction (it is decided as that
    # conviction). Dropped before the court steps' words are gathered for the rest.
    convicted = courts.filter(pl.col("court_convicted")).select(EVENT)
    arrests = arrests.join(convicted, on=EVENT, how="anti")
    kept = pairs.join(arrests.select(EVENT), on=EVENT)
    # What the court steps of each arrest record, as written (for the facts shown).
    # Each distinct text once, in order, before they are grouped (a list's own unique
    # and sort, group by group, cost half as much again).
    words = (
        kept.join(counts.select(pl.col(EVENT).alias("_c_event"), text="disposition"), on="_c_event")
        .unique([EVENT, "text"])
        .sort(EVENT, "text")
        .group_by(EVENT, maintain_order=True)
        .agg(court_dispositions=pl.col("text").drop_nulls().str.join(" / "))
    )
    courts = courts.join(words, on=EVENT, how="left")
    severity = (
        pl.when(pl.col("_top") == 3)
        .then(pl.lit("F"))
        .when(pl.col("_top") == 2)
        .then(pl.lit("M"))
        .when(pl.col("_unreadable"))
        .then(pl.lit(None, pl.String))
        .otherwise(pl.lit("I"))
    )
    return (
        arrests.join(courts, on=EVENT, how="left")
        .with_columns(
            pl.col(
                "court_steps", "court_counts", "court_final", "court_acquitted", "court_dismissed"
            ).fill_null(0),
            pl.col(
                "court_convicted", "court_relief", "court_complaint", "court_in_county"
            ).fill_null(False),
            severity=severity,
            kind=pl.lit(ARREST),
        )
        # Out of scope: an arrest whose case led to a conviction (decided as that
        # conviction), and one for infractions only.
        .filter(~pl.col("court_convicted") & (pl.col("severity") != "I").fill_null(True))
    )


# -------------------------------------------------------------------------- facts


@law.fact
def sentences(ctx: Context, model: Model, rows: pl.LazyFrame) -> pl.LazyFrame:
    """Each conviction's relief recorded, prohibited, probation and revocation, as facts."""
    date_text = {
        c: pl.col(c).dt.to_string("%Y-%m-%d")
        for c in ("probation_end", "sentence_end", "completion", "revocation_date")
    }
    conviction = pl.col("kind") == CONVICTION
    return rows.with_columns(
        already_relieved=pl.when(conviction)
        .then(pl.col("relief") | pl.col("later_relief"))
        .otherwise(pl.col("arrest_relief") | pl.col("court_relief")),
        relieved_by=pl.when(conviction)
        .then(pl.coalesce("relief_text", "later_relief_text"))
        .otherwise(pl.coalesce("arrest_relief_text", "court_relief_text")),
        relief_prohibited=conviction & (pl.col("prohibited") | pl.col("later_prohibited")),
        prohibited_by=pl.when(conviction).then(
            pl.coalesce("prohibited_text", "later_prohibited_text")
        ),
        revoked=pl.col("revoked_any"),
        **{f"{c}_text": expr for c, expr in date_text.items()},
    )


@law.fact
def person_conditions(ctx: Context, model: Model, rows: pl.LazyFrame) -> pl.LazyFrame:
    """PC 290, pending charges, and the end of any sentence or supervision being served
    on the as-of date (1203.425(a)(1)(B)(i)-(iii)): facts of the person, on every row."""
    t = _tables(ctx, model)
    convictions = _conviction_sentences(ctx, model)
    as_of = ctx.as_of_lit
    pc290 = (
        convictions.filter(pl.col("_pc290"))
        .group_by(PERSON)
        .agg(pc290_convictions=_listing(_charge_label(), pl.col("event_date"), pl.lit(True)))
    )
    # Open records: an arrest or court count with no final disposition, and no later
    # event of its case that disposes of it.
    years = ctx.setting("pending_years")
    dated = pl.col("event_date")
    recent = (
        pl.lit(True) if years is None else (dated.is_null() | (dated > plus_years(as_of, -years)))
    )
    open_records = (
        t["counts"]
        .filter((pl.col("is_arrest") | pl.col("is_court")) & ~pl.col("final"))
        .join(t["later_final"], on=EVENT, how="left")
        .filter(~pl.col("later_final").fill_null(False))
        .filter(dated.is_null() | (dated <= as_of))
        .with_columns(_counted=recent)
        .group_by(PERSON)
        .agg(
            pending_case=pl.col("_counted").any(),
            pending_records=_listing(
                pl.format("{} {}", pl.col("event_type_uc").str.extract(r"^(\w+)"), _charge_label()),
                dated,
                pl.lit(True),
            ),
        )
    )
    completion = pl.col("completion")
    serving = (
        convictions.filter((dated <= as_of) & (as_of < completion))
        .group_by(PERSON)
        .agg(serving_until=completion.max())
    )
    return (
        rows.join(pc290, on=PERSON, how="left")
        .join(open_records, on=PERSON, how="left")
        .join(serving, on=PERSON, how="left")
        .with_columns(
            pending_case=pl.col("pending_case").fill_null(False),
            pc290_registrant=(
                pl.col("registered_290").fill_null(False)
                | pl.col("pc290_convictions").is_not_null()
            ),
            pc290_convictions=pl.col("pc290_convictions").fill_null(""),
            pending_records=pl.col("pending_records").fill_null(""),
        )
    )


@law.fact
def path_dates(ctx: Context, model: Model, rows: pl.LazyFrame) -> pl.LazyFrame:
    """The day relief is due by each conviction path, never before the floors; and the
    lists and the new felony that keep path II from applying."""
    convictions = _conviction_sentences(ctx, model)
    date = pl.col("event_date")
    conviction = pl.col("kind") == CONVICTION
    floor = pl.max_horizontal(pl.lit(ctx.data("relief_from"), pl.Date), pl.col("serving_until"))
    felony_from = ctx.date_setting("felony_path_from")
    severity = pl.col("severity")
    # Serious, violent and PC 290 felonies (1203.425(a)(1)(B)(iv)(II), last sentence):
    # the count's own offense, or an enhancement on any count of its case.
    flagged = rows
    t = _tables(ctx, model)
    enhanced = (
        t["counts"]
        .filter(pl.col("_enh_serious") | pl.col("_enh_violent"))
        .group_by(EVENT)
        .agg(
            enhancement=_listing(_charge_label(), pl.lit(None, pl.Date), pl.lit(True)),
            _case_serious=pl.col("_enh_serious").any(),
            _case_violent=pl.col("_enh_violent").any(),
        )
    )
    flagged = flagged.join(enhanced, on=EVENT, how="left")
    # Each list shown by its own title, as the pack declares it.
    title = {name: ctx.law.lists[name].title for name in ("serious_felonies", "violent_felonies",
                                                          "pc290")}  # fmt: skip
    listed = []
    for flag, words in (
        ("_serious", title["serious_felonies"]),
        ("_violent", title["violent_felonies"]),
        ("_pc290", title["pc290"]),
        ("_case_serious", f"{title['serious_felonies']} by an enhancement of the case"),
        ("_case_violent", f"{title['violent_felonies']} by an enhancement of the case"),
    ):
        listed.append(pl.when(pl.col(flag).fill_null(False)).then(pl.lit(words)))
    felony = (severity == "F").fill_null(False)
    flagged = flagged.with_columns(
        serious_violent=pl.when(felony).then(
            pl.concat_str(listed, separator="; ", ignore_nulls=True)
        ),
        possibly_serious=pl.when(
            felony & (pl.col("_maybe_serious") | pl.col("_maybe_violent")).fill_null(False)
        ).then(pl.lit("the section is serious or violent only in some forms")),
    ).with_columns(
        serious_violent=pl.when(pl.col("serious_violent") != "").then(pl.col("serious_violent")),
    )
    # A new felony in the four years after completion, in any county.
    felonies = convictions.filter(pl.col("severity") == "F").select(
        PERSON, _f_count=COUNT, f_date="event_date", f_label=_charge_label()
    )
    wait = ctx.data("felony_wait")
    windows = (
        flagged.filter(conviction & felony & pl.col("completion").is_not_null())
        # The window's end once a conviction, not once for each felony paired with it.
        .select(PERSON, COUNT, "completion", _until=plus_years(pl.col("completion"), wait))
        .join(felonies, on=PERSON)
        .filter(
            (pl.col("_f_count") != pl.col(COUNT))
            & (pl.col("f_date") > pl.col("completion"))
            & (pl.col("f_date") <= pl.col("_until"))
        )
        .group_by(COUNT)
        .agg(new_felony=_listing(pl.col("f_label"), pl.col("f_date"), pl.lit(True)))
    )
    flagged = flagged.join(windows, on=COUNT, how="left")
    ia = conviction & pl.col("prob_length") & ~pl.col("revoked_any").fill_null(False)
    misdemeanor = severity.is_in(["M", "I"]).fill_null(False)
    return flagged.with_columns(
        on_probation_path=pl.when(ia).then(latest(pl.col("probation_end"), floor)),
        on_misdemeanor_path=pl.when(conviction & misdemeanor & ~ia).then(
            latest(plus_years(date, ctx.data("misdemeanor_wait")), pl.col("sentence_end"), floor)
        ),
        on_felony_path=pl.when(conviction & felony).then(
            latest(plus_years(pl.col("completion"), wait), floor, felony_from)
        ),
    )


@law.fact
def arrest_outcomes(ctx: Context, model: Model, rows: pl.LazyFrame) -> pl.LazyFrame:
    """Each arrest's proceedings and outcome, and the day relief is due by each path."""
    arrest = pl.col("kind") == ARREST
    level = pl.col("severity")
    felony, misdemeanor = (level == "F").fill_null(False), (level == "M").fill_null(False)
    proceedings = (pl.col("court_steps") > 0) | pl.col("arrest_complaint").fill_null(False)
    counts = pl.col("court_counts")
    settled = pl.col("court_acquitted") + pl.col("court_dismissed")
    all_dismissed = (counts > 0) & (pl.col("court_dismissed") == counts)
    dismissed_at_arrest = (counts == 0) & pl.col("arrest_dismissed").fill_null(False)
    acquitted = (counts > 0) & (settled == counts) & (pl.col("court_acquitted") > 0)
    open_case = proceedings & ((counts == 0) | (pl.col("court_final") < counts))
    long = pl.col("max_term_8").fill_null(False)
    date = pl.col("event_date")
    waits = [
        (felony & long, ctx.data("arrest_long_felony_wait")),
        (felony, ctx.data("arrest_felony_wait")),
        (misdemeanor, ctx.data("arrest_misdemeanor_wait")),
    ]
    wait: pl.Expr = pl.lit(None, pl.Int32)
    waited: pl.Expr = pl.lit(None, pl.Date)
    for level, years in reversed(waits):  # the first that applies, as when/then/when
        wait = pl.when(level).then(pl.lit(years)).otherwise(wait)
        # Each wait a fixed number of years: one offset for every row, not one a row.
        waited = pl.when(level).then(plus_years(date, years)).otherwise(waited)
    floor = pl.lit(ctx.data("relief_from"), pl.Date)
    felony_from = ctx.date_setting("felony_path_from")
    acquittal_day = (
        waited if ctx.setting("acquittal_waits") else pl.coalesce("acquittal_date", date)
    )
    return rows.with_columns(
        proceedings=pl.when(arrest).then(proceedings),
        wait_years=pl.when(arrest).then(wait),
        on_diversion_path=pl.when(arrest).then(
            latest(
                pl.coalesce(
                    "diversion_date",
                    pl.when(pl.col("arrest_diversion").fill_null(False)).then(date),
                ),
                floor,
            )
        ),
        on_dismissal_path=pl.when(
            arrest & misdemeanor & (all_dismissed | dismissed_at_arrest)
        ).then(latest(pl.coalesce("dismissal_date", date), floor)),
        on_acquittal_misdemeanor=pl.when(arrest & misdemeanor & acquitted).then(
            latest(acquittal_day, floor)
        ),
        on_acquittal_felony=pl.when(arrest & felony & acquitted).then(
            latest(acquittal_day, floor, felony_from)
        ),
        case_open=arrest & open_case,
        charges_filed=arrest & proceedings & ~open_case & (felony | misdemeanor),
        on_misdemeanor_arrest_path=pl.when(arrest & misdemeanor & ~proceedings).then(
            latest(waited, floor)
        ),
        on_felony_arrest_path=pl.when(arrest & felony & ~proceedings).then(
            latest(waited, floor, felony_from)
        ),
    )


# -------------------------------------------------------------------------- tests


@law.test
def invalid_date(ctx: Context) -> pl.Expr:
    """The date is missing, partial or impossible, or on or before the date of birth."""
    date = pl.col("event_date")
    return date.is_null() | (date <= pl.col("dob")).fill_null(False)


@law.test
def dated_before(ctx: Context, *, date: str) -> pl.Expr:
    """The record is dated before the pack's date `date`."""
    return pl.col("event_date") < pl.lit(ctx.data(date), pl.Date)


@law.test
def has_date(ctx: Context, *, column: str) -> pl.Expr:
    """The path applies: its eligibility date could be worked out (null: it cannot)."""
    return pl.col(column).is_not_null()


@law.test
def level_unknown(ctx: Context) -> pl.Expr:
    """Neither felony, misdemeanor nor infraction can be read."""
    return pl.col("severity").is_null()


@law.test
def serious_violent_felony(ctx: Context) -> pl.Expr:
    """A felony on the serious, violent or PC 290 lists, by its offense or its case's
    enhancements."""
    return pl.col("serious_violent").is_not_null()


@law.test
def possible_serious(ctx: Context) -> pl.Expr:
    """A felony whose section is serious or violent only in forms the charge does not show."""
    return pl.col("possibly_serious").is_not_null()


@law.test
def new_felony(ctx: Context) -> pl.Expr:
    """A felony conviction in the four years after this felony's completion."""
    return pl.col("new_felony").is_not_null()


# ------------------------------------------------------------------------- finish


@law.finish
def objection_deadline(ctx: Context, rows: pl.LazyFrame) -> pl.LazyFrame:
    """1203.425(b)(1): the last day to petition to prohibit a conviction's relief.

    Arrests have none (851.93 has no petition to prohibit).
    """
    days = ctx.setting("objection_days")
    due = (pl.col("kind") == CONVICTION) & pl.col("determination").is_in(["relief", "upcoming"])
    return rows.with_columns(
        objection_deadline=pl.when(due).then(pl.col("eligible_on").dt.offset_by(f"-{days}d"))
    )


@law.finish
def petitions(ctx: Context, rows: pl.LazyFrame) -> pl.LazyFrame:
    """What petitions the facts leave open to a row the automatic law does not relieve
    (ca-automatic-relief.md, "Petition remedies"): codes, in the spec's order."""
    pack = ctx.law
    as_of = ctx.as_of_lit
    flagged = rows
    open_row = pl.col("determination").is_in(["not_eligible", "review"]) & (
        pl.col("reason") != "already_relieved"
    )
    conviction = open_row & (pl.col("kind") == CONVICTION)
    severity = pl.col("severity")
    felony = (severity == "F").fill_null(False)
    probation = pl.col("probation_part").fill_null(False)
    date, completion = pl.col("event_date"), pl.col("completion")
    jail_term = pl.col("jail").fill_null(False) & (
        date >= pl.lit(pack.value("realignment"), pl.Date)
    ).fill_null(False)
    prison = pl.col("prison").fill_null(False)
    split = jail_term & probation
    codes = [
        ("1203.4", conviction & probation & ~pl.col("_excluded_4").fill_null(False)),
        (
            "1203.4a",
            conviction
            & severity.is_in(["M", "I"]).fill_null(False)
            & ~probation
            & (plus_years(date, ctx.data("petition_1203_4a_wait")) <= as_of).fill_null(False),
        ),
        (
            "1203.41",
            conviction
            & felony
            & (
                (
                    jail_term
                    & (
                        pl.when(split)
                        .then(plus_years(completion, ctx.data("petition_1203_41_split_wait")))
                        .otherwise(plus_years(completion, ctx.data("petition_1203_41_wait")))
                        <= as_of
                    )
                )
                | (
                    prison
                    & ~pl.col("_pc290").fill_null(False)
                    & (plus_years(completion, ctx.data("petition_1203_41_wait")) <= as_of)
                )
            ).fill_null(False),
        ),
        ("17b", conviction & felony & pl.col("_wobbler").fill_null(False) & probation),
        ("851.91", open_row & (pl.col("kind") == ARREST)),
    ]
    listed = pl.concat_str(
        [pl.when(flag.fill_null(False)).then(pl.lit(code)) for code, flag in codes],
        separator="; ",
        ignore_nulls=True,
    )
    return flagged.with_columns(petitions=pl.when(listed != "").then(listed))
