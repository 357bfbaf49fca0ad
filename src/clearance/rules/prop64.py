"""Proposition 64 determinations, column-wise over a whole extract (prop64.md).

The engine works in three passes, all lazy Polars queries:

1. **Per-person facts** (one group-by over every conviction, any county): the
   earliest super-strike and PC 290 conviction, registrations, the latest
   conviction, whether every conviction is for cannabis, and so on.
2. **Per-conviction tests**: for every in-scope conviction, one Boolean column
   per rule (``t_<rule>``), computed from the conviction and its person's facts.
   A test is null when its input is unknown (an invalid birth date, say): it
   then does not apply, and the determination records it as not tested.
3. **Determination**: the first rule, in prop64.md's order of evaluation, whose
   test is true decides; its reason carries the rule id and citation from the
   rule pack (clearance/law).

The tests are kept in the output so ``clearance explain`` can walk every rule for
a conviction from the very values that decided it: one implementation of the law,
rendered two ways.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from clearance.extract.model import Model
from clearance.law import RulePack, load_rulepack
from clearance.policy import Policy

DISQUALIFIER_REASONS = ("prior_superstrike", "prior_pc290", "two_priors")
RELIEF_REASONS = (
    "under_21",
    "age_threshold",
    "conviction_age",
    "crime_free",
    "only_prop64",
    "deceased",
    "sentence_completed",
)


@dataclass(frozen=True)
class Step:
    """One rule in the order of evaluation."""

    reason: str
    determination: str | pl.Expr
    test: str  # the t_ column that must be true


def _years_between(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    """Whole calendar years from start to end (an age, or years since a date)."""
    before_anniversary = (end.dt.month() < start.dt.month()) | (
        (end.dt.month() == start.dt.month()) & (end.dt.day() < start.dt.day())
    )
    return end.dt.year() - start.dt.year() - before_anniversary.cast(pl.Int32)


def _plus_years(date: pl.Expr, years: int) -> pl.Expr:
    """The same month and day ``years`` later (29 February becomes 28 February)."""
    return date.dt.offset_by(f"{years}y")


def _listing(flag: pl.Expr) -> pl.Expr:
    """The flagged convictions as "PC 187 (1990-01-02); ..." in date order, for facts."""
    label = pl.format(
        "{} {}{} ({})",
        pl.col("code").fill_null("?"),
        pl.col("section").fill_null("?"),
        pl.col("subsection").fill_null(""),
        pl.col("event_date").dt.to_string("%Y-%m-%d").fill_null("date unknown"),
    )
    return label.filter(flag).sort().unique(maintain_order=True).str.join("; ")


def _with_flags(rows: pl.LazyFrame, **flags: pl.Expr) -> pl.LazyFrame:
    """``rows`` with a boolean column per flag, each computed once per distinct value.

    The rule pack's offense lists are long expressions (codes, sections,
    subsections, text patterns); a history repeats a few hundred distinct charges,
    so they are evaluated on those and joined back by the columns they read.
    """
    columns = sorted({c for flag in flags.values() for c in flag.meta.root_names()})
    distinct = rows.select(columns).unique().with_columns(**flags)
    found = (
        rows.select(columns)
        .join(distinct, on=columns, how="left", nulls_equal=True, maintain_order="left")
        .drop(columns)
    )
    return pl.concat([rows, found], how="horizontal")


def person_facts(model: Model, law: RulePack) -> pl.LazyFrame:
    """Facts about each person's whole history that the rules read."""
    cannabis = pl.col("cannabis_section").is_not_null()
    convictions = _with_flags(
        model.counts.filter(pl.col("convicted")),
        _superstrike=law.offense_in("superstrikes"),
        _pc290=law.offense_in("pc290"),
    )
    superstrike, pc290 = pl.col("_superstrike"), pl.col("_pc290")
    # Listed from the few flagged convictions only (labelling them all costs more
    # than the rest of the facts); a person with none has an empty list.
    listings = (
        convictions.filter(superstrike | pc290)
        .group_by("subject_id")
        .agg(superstrikes=_listing(superstrike), pc290_convictions=_listing(pc290))
    )
    by_person = (
        convictions.group_by("subject_id")
        .agg(
            n_convictions=pl.len(),
            n_undated_convictions=pl.col("event_date").is_null().sum(),
            latest_conviction=pl.col("event_date").max(),
            only_prop64=cannabis.all(),
            first_superstrike=pl.col("event_date").filter(superstrike).min(),
            undated_superstrike=(superstrike & pl.col("event_date").is_null()).any(),
            first_pc290_conviction=pl.col("event_date").filter(pc290).min(),
            undated_pc290_conviction=(pc290 & pl.col("event_date").is_null()).any(),
        )
        .join(listings, on="subject_id", how="left")
        .with_columns(pl.col("superstrikes", "pc290_convictions").fill_null(""))
    )
    tally = (
        convictions.filter(cannabis)
        .group_by("subject_id", "cannabis_section")
        .len()
        .sort("subject_id", "cannabis_section")
        .group_by("subject_id", maintain_order=True)
        .agg(
            cannabis_convictions=pl.format(
                "HS {}: {}", pl.col("cannabis_section"), pl.col("len")
            ).str.join("; ")
        )
    )
    return (
        model.people.join(by_person, on="subject_id", how="left")
        .join(tally, on="subject_id", how="left")
        .with_columns(
            pl.col("n_convictions").fill_null(0),
            pl.col("n_undated_convictions").fill_null(0),
            first_pc290=pl.min_horizontal("first_pc290_conviction", "first_registration_date"),
            undated_pc290=pl.col("undated_pc290_conviction").fill_null(False)
            | (pl.col("registered_290") & pl.col("first_registration_date").is_null()),
            undated_superstrike=pl.col("undated_superstrike").fill_null(False),
        )
    )


def _prior_same_section(in_scope: pl.LazyFrame, model: Model) -> pl.LazyFrame:
    """Earlier convictions under the same cannabis section, counted by court case.

    HS 11358(d)(2), 11359(c)(2), 11360(a)(3)(B): "two or more prior convictions" under
    the section. A conviction is a court event on its date: several counts of one case
    are one conviction, and counts dated differently are different convictions even
    when the extract gives them one event key (a court action has one date). An
    attempt counts as the section itself (PC 664). Cases under the section whose date
    is unknown are counted apart (``undated_same_section``): they may be prior.
    """
    same = model.counts.filter(
        pl.col("convicted") & pl.col("cannabis_section").is_not_null()
    ).select("subject_id", "cannabis_section", "event_key", prior_date=pl.col("event_date"))
    earlier = (
        in_scope.select("subject_id", "cnt_order", "cannabis_section", "event_date")
        .join(same.unique(), on=["subject_id", "cannabis_section"], how="inner")
        .group_by("subject_id", "cnt_order")
        .agg(
            prior_same_section=pl.struct("event_key", "prior_date")
            .filter(pl.col("prior_date") < pl.col("event_date"))
            .n_unique(),
            undated_same_section=pl.col("event_key")
            .filter(pl.col("prior_date").is_null())
            .n_unique(),
        )
    )
    return earlier


def unparsed_charge(law: RulePack) -> pl.Expr:
    """A count whose charge names cannabis but has no readable section (prop64.md).

    "Reading the charge": such a conviction is in scope, for review, never silently
    out of it. The words are the rule pack's ``cannabis_words``; a comment that
    names a cannabis section while no section can be read counts too.
    """
    return (
        pl.col("section").is_null()
        & (
            law.names_cannabis("offense_raw", "comment_text")
            | pl.col("comment_cannabis_section").is_not_null()
        )
    ).fill_null(False)


def determine(
    model: Model, policy: Policy, county: str, as_of: dt.date, law: RulePack | None = None
) -> pl.LazyFrame:
    """One row per in-scope conviction: the determination, reason, rule, citation, facts."""
    law = law or load_rulepack()
    as_of_lit = pl.lit(as_of, dtype=pl.Date)
    in_scope = model.counts.filter(
        pl.col("convicted")
        & (pl.col("cannabis_section").is_in(list(law.sections)) | unparsed_charge(law))
        & (pl.col("county").str.to_uppercase() == county.strip().upper())
    )
    facts = person_facts(model, law)
    rows = (
        in_scope.join(facts, on="subject_id", how="left")
        .join(_prior_same_section(in_scope, model), on=["subject_id", "cnt_order"], how="left")
        .with_columns(pl.col("prior_same_section", "undated_same_section").fill_null(0))
    )
    return _decide(rows, policy, as_of_lit, law).sort("subject_id", "cnt_order")


def _prior(known: pl.Expr, possible: pl.Expr) -> pl.Expr:
    """True when a dated disqualifier is prior; null when only an undated one might be."""
    return pl.when(known.fill_null(False)).then(True).when(possible).then(None).otherwise(False)


def _tests(policy: Policy, as_of: pl.Expr, law: RulePack) -> dict[str, pl.Expr]:
    date = pl.col("event_date")
    dob = pl.col("dob")
    section = pl.col("cannabis_section")
    disqualifiable = section.is_in(list(law.disqualifier_sections))
    relief = policy.additional_relief
    review = policy.review

    def off() -> pl.Expr:
        return pl.lit(False)

    # A person's age is known only from a real birth date before the conviction:
    # never from a negative or impossible one (the conviction is then invalid_date).
    # Nor from a placeholder birth date that gives an age no one has (law.oldest_age).
    born_before = ((dob < date) & (_plus_years(dob, law.oldest_age) > as_of)).fill_null(False)

    tests: dict[str, pl.Expr] = {
        # prop64.md "Dates": a missing, partial or impossible date is never guessed;
        # "Reading the charge": a conviction on or before the date of birth is impossible.
        "invalid_date": date.is_null() | (date <= dob).fill_null(False),
        # prop64.md "Reading the charge": names cannabis, no readable section.
        "unparsed_charge": section.is_null(),
        # HS 11361.8(a), (e): relief is for convictions under the law before Prop 64.
        "after_prop64": date > pl.lit(law.last_conviction_date, dtype=pl.Date),
        # Conduct the new law keeps a felony: HS 11359(c)(3), (d); 11360(a)(3)(C), (D).
        "excluded_subsection": law.excluded_subsection(),
        # HS 11358(d)(1), 11359(c)(1), 11360(a)(3)(A): "prior" is strictly earlier. A
        # disqualifier whose date is unknown leaves the test unknown (null).
        "prior_superstrike": disqualifiable
        & _prior(pl.col("first_superstrike") < date, pl.col("undated_superstrike")),
        "prior_pc290": disqualifiable
        & _prior(pl.col("first_pc290") < date, pl.col("undated_pc290")),
        # HS 11358(d)(2), 11359(c)(2), 11360(a)(3)(B).
        "two_priors": disqualifiable
        & _prior(
            pl.col("prior_same_section") >= 2,
            pl.col("prior_same_section") + pl.col("undated_same_section") >= 2,
        ),
        "undated_disqualifier": pl.lit(None, pl.Boolean),  # set below from the three above
        "comment_charge": (
            (pl.col("charge_source") == "comment")
            | (
                pl.col("comment_cannabis_section").is_not_null()
                & (pl.col("comment_cannabis_section") != section)
            )
        )
        if review.comment_charge
        else off(),
        # A sentence whose end cannot be read may still be running: a person must look.
        "still_serving": ((pl.col("sentence_end") > as_of) | pl.col("sent_unknown"))
        if review.still_serving
        else off(),
        "misdemeanor": pl.col("severity").is_in(["M", "I"])
        if policy.misdemeanors is not None
        else off(),
        "baseline_dismiss": section.is_in([str(s) for s in policy.dismiss]),
        "under_21": pl.when(born_before).then(date < _plus_years(dob, 21))
        if relief.under_21
        else off(),
        "age_threshold": pl.when(born_before & (dob <= as_of)).then(
            _plus_years(dob, relief.age_threshold) <= as_of
        )
        if relief.age_threshold
        else off(),
        "conviction_age": (_plus_years(date, relief.conviction_age) <= as_of)
        if relief.conviction_age
        else off(),
        # Every conviction must be dated to know the latest one.
        "crime_free": pl.when(pl.col("n_undated_convictions") > 0)
        .then(None)
        .otherwise(_plus_years(pl.col("latest_conviction"), relief.crime_free) <= as_of)
        if relief.crime_free
        else off(),
        "only_prop64": pl.col("only_prop64") if relief.only_prop64 else off(),
        "deceased": pl.col("deceased") if relief.deceased else off(),
        "sentence_completed": (pl.col("sentence_end") <= as_of)
        if relief.sentence_completed
        else off(),
        "baseline_reduce": section.is_in([str(s) for s in policy.reduce]),
        "no_policy": pl.lit(True),
    }
    tests["undated_disqualifier"] = pl.any_horizontal(
        *(tests[r].is_null() for r in DISQUALIFIER_REASONS)
    )
    # Additional relief (prop64.md, order of evaluation, step 8) is reached by every
    # conviction the dismiss list did not already dismiss: it turns a would-be
    # reduction, or a would-be no_policy review, into a dismissal.
    return tests


# prop64.md, "Order of evaluation": (reason, test) pairs; the first test that is true
# wins. "baseline" appears twice: as a dismissal before additional relief, and as a
# reduction after it.
STEP_ORDER: tuple[tuple[str, str], ...] = (
    ("invalid_date", "invalid_date"),
    ("unparsed_charge", "unparsed_charge"),
    ("after_prop64", "after_prop64"),
    ("excluded_subsection", "excluded_subsection"),
    *((r, r) for r in DISQUALIFIER_REASONS),
    ("undated_disqualifier", "undated_disqualifier"),
    ("comment_charge", "comment_charge"),
    ("still_serving", "still_serving"),
    ("misdemeanor", "misdemeanor"),
    ("baseline", "baseline_dismiss"),
    *((r, r) for r in RELIEF_REASONS),
    ("baseline", "baseline_reduce"),
    ("no_policy", "no_policy"),
)

_OUTCOME = {
    "invalid_date": "review",
    "unparsed_charge": "review",
    "after_prop64": "not_eligible",
    "excluded_subsection": "not_eligible",
    **dict.fromkeys(DISQUALIFIER_REASONS, "not_eligible"),
    "undated_disqualifier": "review",
    "comment_charge": "review",
    "still_serving": "review",
    "baseline_dismiss": "dismiss",
    **dict.fromkeys(RELIEF_REASONS, "dismiss"),
    "baseline_reduce": "reduce",
    "no_policy": "review",
}


def _steps(policy: Policy) -> list[Step]:
    outcome = {**_OUTCOME, "misdemeanor": policy.misdemeanors or "review"}
    return [Step(reason, outcome[test], test) for reason, test in STEP_ORDER]


def _decide(rows: pl.LazyFrame, policy: Policy, as_of: pl.Expr, law: RulePack) -> pl.LazyFrame:
    tests = _tests(policy, as_of, law)
    rows = rows.with_columns(**{f"t_{name}": expr for name, expr in tests.items()})
    steps = _steps(policy)
    determination = reason = None
    for step in reversed(steps):
        fires = pl.col(f"t_{step.test}").fill_null(False)
        outcome = (
            pl.lit(step.determination)
            if isinstance(step.determination, str)
            else step.determination
        )
        if determination is None:
            determination, reason = outcome, pl.lit(step.reason)
        else:
            determination = pl.when(fires).then(outcome).otherwise(determination)
            reason = pl.when(fires).then(pl.lit(step.reason)).otherwise(reason)
    enabled = [r for r in RELIEF_REASONS if _relief_enabled(policy, r)]
    not_tested = (
        pl.concat_list(
            [
                pl.when(pl.col(f"t_{r}").is_null())
                .then(pl.lit(r))
                .otherwise(pl.lit(None, pl.String))
                for r in enabled
            ]
            or [pl.lit(None, pl.String)]
        )
        .list.drop_nulls()
        .list.join(", ")
    )
    rules = law.rules_by_reason()
    return rows.with_columns(
        determination=determination,
        reason=reason,
        not_tested=pl.when(not_tested == "").then(None).otherwise(not_tested),
        # No age from a birth date on or after the date it is measured to.
        age_at_conviction=pl.when(pl.col("dob") < pl.col("event_date")).then(
            _years_between(pl.col("dob"), pl.col("event_date"))
        ),
        age_as_of=pl.when(pl.col("dob") <= as_of).then(_years_between(pl.col("dob"), as_of)),
        years_since_conviction=_years_between(pl.col("event_date"), as_of),
        years_since_any_conviction=_years_between(pl.col("latest_conviction"), as_of),
    ).with_columns(
        rule=pl.col("reason").replace_strict({k: v.rule_id for k, v in rules.items()}),
        citation=pl.col("reason").replace_strict({k: v.citation for k, v in rules.items()}),
    )


def _relief_enabled(policy: Policy, reason: str) -> bool:
    return bool(getattr(policy.additional_relief, reason))
