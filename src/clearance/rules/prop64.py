"""Proposition 64's functions: what its pack's scope, facts and tests compute.

The pack (`src/clearance/packs/prop64/pack.yaml`) says which of these each rule
calls, with which arguments, in which order, and what each outcome is; these
functions only say how a fact or a test is computed over the rows, as Polars
expressions.  No section, date, threshold or list is written here: each is read
from the pack (`ctx.data`, `ctx.law.lists`) or from the policy (`ctx.setting`).
"""

from __future__ import annotations

import polars as pl

from clearance.extract.model import Model
from clearance.extract.normalize import CANNABIS_SECTIONS
from clearance.law import RulePack
from clearance.law.registry import Context, Library
from clearance.rules.frames import with_flags as _with_flags

law = Library("prop64")


# ------------------------------------------------------------------------ helpers


def years_between(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    """Whole calendar years from start to end (an age, or years since a date)."""
    before_anniversary = (end.dt.month() < start.dt.month()) | (
        (end.dt.month() == start.dt.month()) & (end.dt.day() < start.dt.day())
    )
    return end.dt.year() - start.dt.year() - before_anniversary.cast(pl.Int32)


def plus_years(date: pl.Expr, years: int) -> pl.Expr:
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


def _disqualifiable(ctx: Context) -> pl.Expr:
    """The conviction's section is one the statutory disqualifiers apply to."""
    return pl.col("cannabis_section").is_in(list(ctx.law.disqualifier_sections))


def _prior(known: pl.Expr, possible: pl.Expr) -> pl.Expr:
    """True when a dated disqualifier is prior; null when only an undated one might be."""
    return pl.when(known.fill_null(False)).then(True).when(possible).then(None).otherwise(False)


def unparsed_charge(law: RulePack) -> pl.Expr:
    """A count whose charge names cannabis but has no readable section (prop64.md).

    "Reading the charge": such a conviction is in scope, for review, never silently
    out of it. The words are the pack's ``cannabis_words``; a comment that names a
    cannabis section while no section can be read counts too.
    """
    return (
        pl.col("section").is_null()
        & (
            law.names_cannabis("offense_raw", "comment_text")
            | pl.col("comment_cannabis_section").is_not_null()
        )
    ).fill_null(False)


# ------------------------------------------------------------------------- checks


@law.check
def sections_the_reader_knows(pack: RulePack, r) -> None:
    """The extract reader finds a charge's cannabis section (in the offense field or the
    comment, with PC 664 for an attempt) among the sections it knows: a pack section it
    does not know would never be in scope, so it is refused rather than silently ignored."""
    unknown = [s for s in pack.cannabis_sections if s not in CANNABIS_SECTIONS]
    if unknown:
        raise r.fail(
            "data.sections",
            f"section {unknown[0]} is not one the extract reader reads as a cannabis section "
            f"({', '.join(CANNABIS_SECTIONS)}; clearance.extract.normalize)",
        )
    attempt = pack.value("attempt")
    if (attempt["code"], attempt["section"]) != ("PC", "664"):
        raise r.fail("data.attempt", "the extract reader reads attempts as PC 664 only")


# -------------------------------------------------------------------------- scope


@law.scope
def cannabis_conviction(ctx: Context) -> pl.Expr:
    """A conviction under a section of the datum `sections`, or naming cannabis unreadably."""
    return pl.col("cannabis_section").is_in(list(ctx.law.cannabis_sections)) | unparsed_charge(
        ctx.law
    )


# -------------------------------------------------------------------------- facts


@law.fact
def history(ctx: Context, model: Model, rows: pl.LazyFrame, *, lists: list) -> pl.LazyFrame:
    """Facts about each person's whole history (every conviction, any county).

    How many convictions, how many undated, the latest, whether every one is in
    scope, a tally by section; and for each offense list in ``lists`` (each
    ``{list, shown_as, registration}``): the first and every dated listed
    conviction (``_first_<list>``, ``_dates_<list>``), whether one is undated
    (``_undated_<list>``), and their listing in the column ``shown_as``. With
    ``registration: true`` a PC 290 registration (people table) counts as one.
    """
    in_scope = pl.col("cannabis_section").is_not_null()
    convictions = _with_flags(
        model.counts.filter(pl.col("convicted")),
        **{f"_in_{item['list']}": ctx.law.offense_in(item["list"]) for item in lists},
    )
    flags = {item["list"]: pl.col(f"_in_{item['list']}") for item in lists}
    date = pl.col("event_date")
    # Listed from the few flagged convictions only (labelling them all costs more
    # than the rest of the facts); a person with none has an empty list.
    listings = (
        convictions.filter(pl.any_horizontal(*flags.values()))
        .group_by("subject_id")
        .agg(
            *(_listing(flags[i["list"]]).alias(i["shown_as"]) for i in lists),
            *(
                date.filter(flags[i["list"]])
                .drop_nulls()
                .unique()
                .sort()
                .alias(f"_dates_{i['list']}")
                for i in lists
            ),
        )
    )
    by_person = (
        convictions.group_by("subject_id")
        .agg(
            n_convictions=pl.len(),
            n_undated_convictions=date.is_null().sum(),
            latest_conviction=date.max(),
            only_prop64=in_scope.all(),
            **{f"_first_{name}": date.filter(flag).min() for name, flag in flags.items()},
            **{f"_undated_{name}": (flag & date.is_null()).any() for name, flag in flags.items()},
        )
        .join(listings, on="subject_id", how="left")
        .with_columns(pl.col(*(i["shown_as"] for i in lists)).fill_null(""))
    )
    tally = (
        convictions.filter(in_scope)
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
    registered = pl.col("registered_290") & pl.col("first_registration_date").is_null()
    by_list = {}
    for item in lists:
        name = item["list"]
        first, undated = pl.col(f"_first_{name}"), pl.col(f"_undated_{name}").fill_null(False)
        if item.get("registration"):
            by_list[f"_first_{name}"] = pl.min_horizontal(first, "first_registration_date")
            by_list[f"_undated_{name}"] = undated | registered
            by_list[f"_dates_{name}"] = (
                pl.concat_list(pl.col(f"_dates_{name}"), pl.col("first_registration_date"))
                .list.drop_nulls()
                .list.unique()
                .list.sort()
            )
        else:
            by_list[f"_undated_{name}"] = undated
    facts = (
        model.people.join(by_person, on="subject_id", how="left")
        .join(tally, on="subject_id", how="left")
        .with_columns(
            pl.col("n_convictions").fill_null(0),
            pl.col("n_undated_convictions").fill_null(0),
            **by_list,
        )
    )
    return rows.join(facts, on="subject_id", how="left")


@law.fact
def same_section_priors(ctx: Context, model: Model, rows: pl.LazyFrame) -> pl.LazyFrame:
    """Earlier convictions under the same section, counted by court case.

    HS 11358(d)(2), 11359(c)(2), 11360(a)(3)(B): "two or more prior convictions" under
    the section. A conviction is a court event on its date: several counts of one case
    are one conviction, and counts dated differently are different convictions even
    when the extract gives them one event key (a court action has one date). An
    attempt counts as the section itself. Cases under the section whose date is
    unknown are counted apart (``undated_same_section``): they may be prior.
    """
    same = model.counts.filter(
        pl.col("convicted") & pl.col("cannabis_section").is_not_null()
    ).select("subject_id", "cannabis_section", "event_key", prior_date=pl.col("event_date"))
    earlier = (
        rows.select("subject_id", "cnt_order", "cannabis_section", "event_date")
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
    return rows.join(earlier, on=["subject_id", "cnt_order"], how="left").with_columns(
        pl.col("prior_same_section", "undated_same_section").fill_null(0)
    )


@law.fact
def ages(ctx: Context, model: Model, rows: pl.LazyFrame) -> pl.LazyFrame:
    """Ages and years the rules and `explain` show, from real dates only.

    No age from a birth date on or after the date it is measured to.
    """
    as_of, dob, date = ctx.as_of_lit, pl.col("dob"), pl.col("event_date")
    return rows.with_columns(
        age_at_conviction=pl.when(dob < date).then(years_between(dob, date)),
        age_as_of=pl.when(dob <= as_of).then(years_between(dob, as_of)),
        years_since_conviction=years_between(date, as_of),
        years_since_any_conviction=years_between(pl.col("latest_conviction"), as_of),
    )


# -------------------------------------------------------------------------- tests


def _born_before(ctx: Context) -> pl.Expr:
    """A real birth date before the conviction, not a placeholder (datum oldest_age).

    A person's age is known only from such a date: never from a negative or
    impossible one (the conviction is then invalid_date).
    """
    dob = pl.col("dob")
    return (
        (dob < pl.col("event_date")) & (plus_years(dob, ctx.data("oldest_age")) > ctx.as_of_lit)
    ).fill_null(False)


@law.test
def invalid_date(ctx: Context) -> pl.Expr:
    """The conviction date is missing, partial, or on or before the date of birth."""
    date = pl.col("event_date")
    return date.is_null() | (date <= pl.col("dob")).fill_null(False)


@law.test
def no_section(ctx: Context) -> pl.Expr:
    """No section could be read from the charge."""
    return pl.col("cannabis_section").is_null()


@law.test
def subsection_in(ctx: Context, *, subsections: str) -> pl.Expr:
    """The conviction's subsection falls under one listed in the datum `subsections`."""
    return ctx.law.subsection_in(subsections)


@law.test
def prior_listed(ctx: Context, *, list: str, min_priors: int) -> pl.Expr:
    """At least `min_priors` convictions on the offense list dated strictly before this one.

    Unknown when only an undated listed conviction could make up the number.
    Distinct convictions are told apart by their dates.  Applies to the sections
    whose entry says `disqualifiers_apply`.
    """
    date = pl.col("event_date")
    if min_priors == 1:
        known = pl.col(f"_first_{list}") < date
    else:
        known = pl.col(f"_dates_{list}").list.get(min_priors - 1, null_on_oob=True) < date
    return _disqualifiable(ctx) & _prior(known, pl.col(f"_undated_{list}"))


@law.test
def prior_same_section(ctx: Context, *, min_priors: int) -> pl.Expr:
    """At least `min_priors` earlier convictions (court cases) under the same section.

    Unknown when undated ones could make up the number.
    """
    prior = pl.col("prior_same_section")
    return _disqualifiable(ctx) & _prior(
        prior >= min_priors, prior + pl.col("undated_same_section") >= min_priors
    )


@law.test
def comment_charge(ctx: Context) -> pl.Expr:
    """The section was read from the comment, or the comment names another section."""
    return (pl.col("charge_source") == "comment") | (
        pl.col("comment_cannabis_section").is_not_null()
        & (pl.col("comment_cannabis_section") != pl.col("cannabis_section"))
    )


@law.test
def still_serving(ctx: Context) -> pl.Expr:
    """The sentence ends after the as-of date, or its end cannot be read."""
    return (pl.col("sentence_end") > ctx.as_of_lit) | pl.col("sent_unknown")


@law.test
def section_in_setting(ctx: Context, *, setting: str) -> pl.Expr:
    """The conviction's section is in the policy's list `setting` (dismiss, reduce)."""
    return pl.col("cannabis_section").is_in([str(s) for s in ctx.setting(setting)])


@law.test
def younger_than_at_conviction(ctx: Context, *, years: int) -> pl.Expr:
    """Younger than `years` on the conviction date; unknown without a usable birth date."""
    return pl.when(_born_before(ctx)).then(pl.col("event_date") < plus_years(pl.col("dob"), years))


@law.test
def age_at_least(ctx: Context, *, years: int) -> pl.Expr:
    """At least `years` old on the as-of date; unknown without a usable birth date."""
    dob = pl.col("dob")
    return pl.when(_born_before(ctx) & (dob <= ctx.as_of_lit)).then(
        plus_years(dob, years) <= ctx.as_of_lit
    )


@law.test
def conviction_years_old(ctx: Context, *, years: int) -> pl.Expr:
    """The conviction is at least `years` old on the as-of date."""
    return plus_years(pl.col("event_date"), years) <= ctx.as_of_lit


@law.test
def no_conviction_for(ctx: Context, *, years: int) -> pl.Expr:
    """No conviction of any kind in the `years` before the as-of date.

    Every conviction must be dated to know the latest one: unknown otherwise.
    """
    return (
        pl.when(pl.col("n_undated_convictions") > 0)
        .then(None)
        .otherwise(plus_years(pl.col("latest_conviction"), years) <= ctx.as_of_lit)
    )


@law.test
def sentence_completed(ctx: Context) -> pl.Expr:
    """Every sentence of the conviction had ended by the as-of date."""
    return pl.col("sentence_end") <= ctx.as_of_lit
