"""Staged rows -> normalized rows (docs/model.md, "Normalized rows").

`normalize` adds typed and parsed columns to the staged rows of the DOJ bulk
extract: dates, the event key, the parsed charge (code, section, subsection,
attempt, cannabis section), conviction, severity and the row's sentence part.
`race_group` maps race code/description to a reporting group from `race.yaml`.

Everything is a Polars expression over whole columns (regexes, `replace_strict`,
`when/then`), so the step runs inside a lazy or streaming query over millions
of rows; nothing here runs Python per row.

Decisions other modules rely on (also in the tests):

- Booleans (`code_corrected`, `attempt`, `convicted`, `sent_unknown`) are never
  null: a row with no charge, no disposition or no sentence has `false`.
- `charge`, `code`, `section` and `charge_source` are null together when no code
  section could be read; `charge` then is null even if `offense_raw` has text
  (the raw text stays in `offense_raw` / `comment_text`).
- The charge is read from `comment_text` only when `offense_raw` is missing or
  says `SEE COMMENT ...`; an unreadable `offense_raw` does not fall back.
- In `comment_text` the first code section wins, labelled or a bare cannabis
  section; other bare numbers there are not read as sections.
  `comment_cannabis_section` is the first cannabis section the comment names,
  read whether or not the charge came from the comment.
- `attempt` is true when PC 664 is combined with another section; a bare
  `664 PC` is section 664 with `attempt` false (the attempted crime is unknown).
- `code_raw` is the label as written but upper case (`H&S`, `P.C.`); a label
  is read only from `CODE_LABELS` and only after the section (`HS 11359` is
  read as a bare 11359).
- Dates outside the years 1800-2199 are treated as impossible.
- `event_key` is null unless `cnt_order` is exactly 12 digits.
- Sentence lengths: 1-5 digits; hours round up to whole days.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any, TypeVar

import polars as pl
import yaml

from clearance.extract.columns import CLEANED_BY_MODEL, cleaned

__all__ = [
    "CANNABIS_SECTIONS",
    "CODE_LABELS",
    "NORMALIZED_COLUMNS",
    "normalize",
    "race_group",
    "race_groups",
]

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)

# prop64.md "Sections in scope": HS 11357 (possession), 11358 (cultivation),
# 11359 (possession for sale), 11360 (sale, transport, gift).
CANNABIS_SECTIONS: tuple[str, ...] = ("11357", "11358", "11359", "11360")

# California code labels as the DOJ writes them after a section number
# (doj-extract.md: `<section> <code>-<description>`).  A label must be one of
# these to be read as a label, so words of the description ("11359 POSS ...")
# are never mistaken for a code.  Each may also be written with periods,
# spaces or an ampersand between its letters: H&S, H S, P.C., W&I, B&P.
CODE_LABELS: tuple[str, ...] = (
    "HS",  # Health and Safety
    "PC",  # Penal
    "VC",  # Vehicle
    "BP",  # Business and Professions
    "WI",  # Welfare and Institutions
    "MV",  # Military and Veterans
    "CC",  # Civil Code / Corporations
    "CI",  # Civil
    "CP",  # Civil Procedure
    "EC",  # Education
    "EL",  # Elections
    "FA",  # Food and Agricultural
    "FC",  # Family / Financial
    "FG",  # Fish and Game
    "GC",  # Government
    "HN",  # Harbors and Navigation
    "IC",  # Insurance
    "LC",  # Labor
    "PR",  # Public Resources
    "PU",  # Public Utilities
    "RT",  # Revenue and Taxation
    "SH",  # Streets and Highways
    "UI",  # Unemployment Insurance
    "WC",  # Water
    "US",  # federal (United States Code)
)

# The columns normalize() adds, in order (docs/model.md, "Normalized rows").
NORMALIZED_COLUMNS: dict[str, pl.DataType] = {
    "dob": pl.Date(),
    "event_date": pl.Date(),
    "event_key": pl.String(),
    "charge_source": pl.String(),
    "charge_notation": pl.String(),
    "charge": pl.String(),
    "code": pl.String(),
    "code_raw": pl.String(),
    "code_corrected": pl.Boolean(),
    "section": pl.String(),
    "subsection": pl.String(),
    "attempt": pl.Boolean(),
    "cannabis_section": pl.String(),
    "comment_cannabis_section": pl.String(),
    "convicted": pl.Boolean(),
    "severity": pl.String(),
    "sent_days": pl.Int64(),
    "sent_months": pl.Int64(),
    "sent_years": pl.Int64(),
    "sent_unknown": pl.Boolean(),
}

# --------------------------------------------------------------------------
# Charge patterns.  All are matched against the upper-cased, trimmed text.
# Polars uses Rust's regex engine: no look-around, but leftmost-first
# alternation, so optional parts are tried before they are skipped.
# --------------------------------------------------------------------------


def _label_pattern(label: str) -> str:
    # "HS" also matches "H&S", "H S", "H/S", "H.S." (written variants seen in records).
    sep = r"\.?\s*[&/]?\s*"
    return sep.join(re.escape(ch) for ch in label) + r"\.?"


_LABEL = "|".join(_label_pattern(lab) for lab in CODE_LABELS)
# PC 664 (attempt) written before the section: 664/11360, 664 PC/11360, 664-11360.
_ATTEMPT_BEFORE = r"(?:(?P<pre>664)\s*(?:P\.?\s*C\.?)?\s*[/-]\s*)?"
# ... or after it: 11360/664 HS.
_ATTEMPT_AFTER = r"(?:\s*/\s*(?P<post>664))?"
# A section is digits with an optional decimal part (189.1, 12022.55), then
# letters and digits run on against it, alternating (prop64.md, "Reading the
# charge"): `11360A2`, `11360A3C`, `288A`, `273AB`.  Which letters belong to the
# section and which are subsection levels is decided after the match
# (`_section_and_levels`, from sections.yaml).
# (Up to three letters first: a lettered section's own and its first level, 273ABA1.)
_RUN_ON = r"[A-Z]{1,3}(?:[0-9]{1,2}[A-Z]{1,2})*[0-9]{0,2}"
_SECTION = rf"(?P<num>\d+(?:\.\d+)?)(?P<tail>{_RUN_ON})?"
# Bracketed subsections: (C), (b)(1), (A)(3)(C); spaces between are tolerated.
_SUBSECTIONS = r"(?P<sub>(?:\s*\([0-9A-Z]{1,5}\))*)"
# Anchoring (prop64.md, "Match on normalised code sections, anchored"): a
# section never starts or ends inside a longer number, so 211357 and 11357.5
# are not 11357.  In offense_raw the section starts the text; inside a
# comment it must not follow a digit or a decimal point.
_NOT_AFTER_NUMBER = r"(?:^|[^0-9.])"
# After a label, the next character must not continue a word: "11359 HSX" has no label.
_LABEL_END = r"(?:$|[^A-Z])"
# After an unlabelled section: not more digits, letters or a decimal part.
_SECTION_END = r"(?:$|[^0-9A-Z.]|\.(?:$|[^0-9]))"

_LABELLED = (
    _ATTEMPT_BEFORE
    + _SECTION
    + _SUBSECTIONS
    + r"\s*"
    + _ATTEMPT_AFTER
    + r"\s*(?P<label>"
    + _LABEL
    + r")"
    + _LABEL_END
)
_UNLABELLED = _ATTEMPT_BEFORE + _SECTION + _SUBSECTIONS + _ATTEMPT_AFTER + _SECTION_END
_CANNABIS_NUM = "|".join(CANNABIS_SECTIONS)

# offense_raw: `<section> <code>-<description>` from the first character.
OFFENSE_LABELLED = "^" + _LABELLED
# offense_raw with the label missing ("11359-POSSESS"): any section, no code.
OFFENSE_UNLABELLED = "^" + _UNLABELLED
# comment_text: the charge can sit among other words ("CHRG 11359 HS POSS").
# The first section in the text wins: a labelled one, or a bare cannabis
# section (only a cannabis section is specific enough to be read without a
# label; other bare numbers in free text are counts, days, case numbers).
# Group names of the second alternative end in _b (names must be unique).
_COMMENT_BARE = (
    _ATTEMPT_BEFORE
    + rf"(?P<num>{_CANNABIS_NUM})(?P<tail>{_RUN_ON})?"
    + _SUBSECTIONS
    + _ATTEMPT_AFTER
    + _SECTION_END
)
_BARE_GROUPS = ("pre", "num", "tail", "sub", "post")
COMMENT_CHARGE = (
    _NOT_AFTER_NUMBER
    + f"(?:{_LABELLED}|"
    + re.sub(r"\(\?P<(\w+)>", r"(?P<\1_b>", _COMMENT_BARE)
    + ")"
)
# A cannabis section named anywhere in a comment, anchored on digits; letters
# may follow ("11359HS").
COMMENT_CANNABIS = rf"{_NOT_AFTER_NUMBER}({_CANNABIS_NUM})(?:$|[^0-9.]|\.(?:$|[^0-9]))"

# doj-extract.md, known defects: "SEE COMMENT FOR CHARGE ... with the real charge in COMMENT_TEXT".
SEE_COMMENT = r"^SEE\s+COMMENT"

# doj-extract.md: dates are YYYYMMDD; partial (19800000) and impossible
# (20190231) dates must never be read as real dates.  Years outside 1800-2199
# (00010101) are impossible for this data (records go back to 1961).
_DATE_SHAPE = r"^(?:1[89]|2[01])\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])$"

# doj-extract.md: CNT_ORDER is a 12-digit key CCCSSSNNN000; its first 6 digits
# (cycle, step) identify the event / court case in the person's history.
_CNT_ORDER_SHAPE = r"^\d{12}$"

# doj-extract.md, "Severity": CONV_STAT_DESCR, else OFFENSE_TOC.
_SEVERITY_WORDS = {"FELONY": "F", "MISDEMEANOR": "M", "INFRACTION": "I"}
_SEVERITY_LETTERS = {"F": "F", "M": "M", "I": "I"}

# doj-extract.md, "Sentence": SENT_LENGTH in SENT_TIME_CODE units D, M or Y.
# The words are accepted too; H (hours) becomes whole days rounded up, so a
# sentence never ends earlier than the record says.
_TIME_UNITS = {
    **dict.fromkeys(["D", "DAY", "DAYS"], "D"),
    **dict.fromkeys(["M", "MO", "MOS", "MONTH", "MONTHS"], "M"),
    **dict.fromkeys(["Y", "YR", "YRS", "YEAR", "YEARS"], "Y"),
    **dict.fromkeys(["H", "HR", "HRS", "HOUR", "HOURS"], "H"),
}
# Up to 5 digits (99999 days is 273 years); longer values are not a length.
_LENGTH_SHAPE = r"^\d{1,5}$"


def _upper(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().str.to_uppercase()


def _parse_date(col: str) -> pl.Expr:
    # Staged values are already trimmed: " 19800514" is not a date shape.
    raw = pl.col(col)
    return (
        pl.when(raw.str.contains(_DATE_SHAPE))
        .then(raw.str.strptime(pl.Date, "%Y%m%d", strict=False))
        .otherwise(None)
    )


def _charge_matches() -> list[pl.Expr]:
    """The pattern matches as temporary struct columns (each regex runs once)."""
    return [
        pl.col("__off").str.extract_groups(OFFENSE_LABELLED).alias("__off_lab"),
        pl.col("__off").str.extract_groups(OFFENSE_UNLABELLED).alias("__off_bare"),
        pl.col("__com").str.extract_groups(COMMENT_CHARGE).alias("__com_m"),
    ]


def _charge_columns() -> list[pl.Expr]:
    """The charge columns, from the temporary columns of `_charge_matches`."""

    def field(match: str, name: str) -> pl.Expr:
        struct = pl.col(match).struct
        if match == "__com_m" and name in _BARE_GROUPS:
            # Whichever alternative of COMMENT_CHARGE matched.
            return pl.coalesce(struct.field(name), struct.field(f"{name}_b"))
        if match == "__off_bare" and name == "label":
            return pl.lit(None, pl.String)
        return struct.field(name)

    # doj-extract.md: SEE COMMENT FOR CHARGE or a blank offense means the real
    # charge is in COMMENT_TEXT; otherwise the offense field is the charge.
    use_comment = pl.col("__off").is_null() | pl.col("__off").str.contains(SEE_COMMENT)
    # Where the charge is read from, most specific first: in offense_raw a
    # labelled section, then a bare one (label missing); else in the comment.
    choices = [
        (~use_comment & field("__off_lab", "num").is_not_null(), "__off_lab"),
        (~use_comment & field("__off_bare", "num").is_not_null(), "__off_bare"),
        (use_comment & field("__com_m", "num").is_not_null(), "__com_m"),
    ]

    def pick(name: str) -> pl.Expr:
        expr: Any = pl  # pl.when(...).then(...).when(...) ... chained over `choices`
        for cond, match in choices:
            expr = expr.when(cond).then(field(match, name))
        return expr.otherwise(None)

    source = (
        pl.when(choices[0][0] | choices[1][0])
        .then(pl.lit("offense"))
        .when(choices[2][0])
        .then(pl.lit("comment"))
        .otherwise(None)
    )
    return [
        source.alias("charge_source"),
        pick("num").alias("__num"),
        pick("tail").alias("__tail"),
        pick("sub").alias("__sub"),
        (pick("pre").is_not_null() | pick("post").is_not_null()).alias("attempt"),
        pick("label").str.strip_chars().alias("code_raw"),
    ]


@cache
def lettered_sections() -> frozenset[str]:
    """Sections whose number carries a letter (`288a`), lower case, from sections.yaml."""
    text = resources.files("clearance.extract").joinpath("sections.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return frozenset(str(s).lower() for sections in data["sections"].values() for s in sections)


def _section_and_levels() -> list[pl.Expr]:
    """The section and its subsection levels, from the number, run-on tail and brackets.

    The first two, else the first, letters of the tail belong to the section when
    the section with them is a lettered one (`288A` is 288a, `273AB` 273ab);
    every other run of letters or of digits is one level (`11360A3C` is
    11360(a)(3)(c), `11357B2` 11357(b)(2)). Temporary columns: `__section`,
    `__levels` (run-on levels, bracketed), `__brackets`, `__subs` (both, in order).
    """
    num, tail = pl.col("__num"), pl.col("__tail").fill_null("")
    lettered = sorted(lettered_sections())

    def with_letters(n: int) -> pl.Expr:
        letters = tail.str.extract(rf"^([A-Z]{{{n}}})", 1)
        return (num + letters.str.to_lowercase()).is_in(lettered).fill_null(False)

    taken = pl.when(with_letters(2)).then(2).when(with_letters(1)).then(1).otherwise(0)
    rest = tail.str.slice(taken)
    levels = rest.str.replace_all(r"([A-Z]+|[0-9]+)", "($1)").str.to_lowercase()
    brackets = pl.col("__sub").fill_null("").str.replace_all(r"\s+", "").str.to_lowercase()
    return [
        (num + tail.str.slice(0, taken).str.to_lowercase()).alias("__section"),
        levels.alias("__levels"),
        brackets.alias("__brackets"),
        (levels + brackets).alias("__subs"),
    ]


def _sentence_inputs() -> list[pl.Expr]:
    """Temporary columns: the length as a number and the unit as D/M/Y/H."""
    length = pl.col("sent_length_raw").str.strip_chars()
    unit = _upper("sent_time_code").replace_strict(
        _TIME_UNITS, default=None, return_dtype=pl.String
    )
    readable = length.str.contains(_LENGTH_SHAPE).fill_null(False) & unit.is_not_null()
    return [
        pl.when(readable).then(length.cast(pl.Int64, strict=False)).alias("__len"),
        pl.when(readable).then(unit).alias("__unit"),
    ]


def _sentence_columns() -> list[pl.Expr]:
    """The row's sentence part, from the temporary columns of `_sentence_inputs`."""
    n, unit = pl.col("__len"), pl.col("__unit")

    def part(unit_code: str, value: pl.Expr = n) -> pl.Expr:
        return pl.when(unit == unit_code).then(value).otherwise(0).cast(pl.Int64)

    # A sentence part is present when a length or a unit is; a location alone
    # (FINE, PROBATION without a term) has no length to read and is not unknown.
    present = (pl.col("sent_length_raw").str.strip_chars() != "").fill_null(False) | (
        pl.col("sent_time_code").str.strip_chars() != ""
    ).fill_null(False)
    return [
        (part("D") + part("H", (n + 23) // 24)).alias("sent_days"),
        part("M").alias("sent_months"),
        part("Y").alias("sent_years"),
        (present & n.is_null()).alias("sent_unknown"),
    ]


CHARGE_KEY = ("offense_raw", "comment_text")
CHARGE_COLUMNS = (
    "charge_source",
    "charge_notation",
    "charge",
    "code",
    "code_raw",
    "code_corrected",
    "section",
    "subsection",
    "attempt",
    "cannabis_section",
    "comment_cannabis_section",
)


def _charges(pairs: pl.LazyFrame) -> pl.LazyFrame:
    """Parse each distinct (offense_raw, comment_text) pair into the charge columns."""
    offense = pl.col("offense_raw").str.strip_chars().str.to_uppercase()
    comment = pl.col("comment_text").str.strip_chars().str.to_uppercase()
    cannabis = pl.col("__section").is_in(CANNABIS_SECTIONS)
    return (
        pairs.with_columns(
            pl.when(offense != "").then(offense).alias("__off"),
            pl.when(comment != "").then(comment).alias("__com"),
        )
        .with_columns(_charge_matches())
        .with_columns(_charge_columns())
        .with_columns(_section_and_levels())
        .with_columns(
            # Subsections are compared lower case without spaces: (c)(3). Run-on
            # levels come first: 11360A(2) is 11360(a)(2).
            pl.when(pl.col("__subs") != "").then(pl.col("__subs")).alias("subsection"),
            pl.when(pl.col("__section").is_null())
            .then(None)
            .when(pl.col("__levels") != "")
            .then(pl.lit("run_on"))
            .when(pl.col("__brackets") != "")
            .then(pl.lit("bracketed"))
            .otherwise(pl.lit("plain"))
            .alias("charge_notation"),
            # "H&S" and "P.C." are HS and PC.
            pl.col("code_raw").str.replace_all(r"[^A-Z]", "").alias("__code"),
        )
        .with_columns(
            # doj-extract.md, known defects: a missing or wrong label on a
            # cannabis section ("11359 PC", "11359-POSSESS") is HS 11357-11360;
            # prop64.md scopes those sections whatever the label says.
            pl.when(cannabis).then(pl.lit("HS")).otherwise(pl.col("__code")).alias("code"),
            (cannabis & (pl.col("__code").is_null() | (pl.col("__code") != "HS")))
            .fill_null(False)
            .alias("code_corrected"),
            pl.when(cannabis).then(pl.col("__section")).alias("cannabis_section"),
            pl.when(pl.col("charge_source") == "offense")
            .then(pl.col("offense_raw").str.strip_chars())
            .when(pl.col("charge_source") == "comment")
            .then(pl.col("comment_text").str.strip_chars())
            .alias("charge"),
            pl.col("__section").alias("section"),
            # The comment may name a cannabis section even when the offense
            # field names another charge (prop64.md, reason comment_charge).
            pl.col("__com").str.extract(COMMENT_CANNABIS, 1).alias("comment_cannabis_section"),
        )
        .select(*CHARGE_KEY, *CHARGE_COLUMNS)
    )


# The staged columns every fact of a line (charge, conviction, severity, sentence
# part) is read from: a batch of 100,000 lines holds a few thousand combinations.
# The reader leaves them as they are in the file (columns.CLEANED_BY_MODEL): they
# are cleaned here, once per combination.
FACT_KEY = CLEANED_BY_MODEL
_FACT_COLUMNS = (*CHARGE_COLUMNS, "convicted", "severity", "sent_days", "sent_months",
                 "sent_years", "sent_unknown")  # fmt: skip
_AS_READ = "__as_read_"  # prefix of the FACT_KEY values as staged, the join's keys


def _facts(rows: pl.LazyFrame) -> pl.LazyFrame:
    """The facts of each distinct combination of ``FACT_KEY`` values in ``rows``.

    Keyed by the values as staged (``_AS_READ`` + name), with the cleaned values
    (under their own names) and what is read from them. Charges are parsed once
    per distinct cleaned (offense_raw, comment_text) pair (the regular
    expressions are the costly part) and joined to the combinations.
    """
    combinations = (
        rows.select(*FACT_KEY)
        .unique()
        .select(
            *(pl.col(n).alias(_AS_READ + n) for n in FACT_KEY),
            *(cleaned(pl.col(n)).alias(n) for n in FACT_KEY),
        )
        .cache()
    )
    charges = _charges(combinations.select(*CHARGE_KEY).unique())
    return (
        combinations.join(charges, on=list(CHARGE_KEY), how="left", nulls_equal=True)
        .with_columns(*_sentence_inputs())
        .with_columns(
            # doj-extract.md: DISP_DESCR starts with CONVICTED for a conviction.
            _upper("disposition").str.starts_with("CONVICTED").fill_null(False).alias("convicted"),
            # doj-extract.md, "Severity": CONV_STAT_DESCR, else OFFENSE_TOC.
            pl.coalesce(
                _upper("conv_status").replace_strict(
                    {**_SEVERITY_WORDS, **_SEVERITY_LETTERS}, default=None, return_dtype=pl.String
                ),
                _upper("offense_toc").replace_strict(
                    _SEVERITY_LETTERS, default=None, return_dtype=pl.String
                ),
            ).alias("severity"),
            *_sentence_columns(),
        )
        .select(*(_AS_READ + n for n in FACT_KEY), *FACT_KEY, *_FACT_COLUMNS)
    )


def normalize(rows: Frame) -> Frame:
    """Add the normalized columns (docs/model.md, "Normalized rows") to staged rows.

    `rows` holds the staged columns (`source_file`, `line` and the renamed
    fields of `columns.USED`, all strings).  Returns the same kind of frame
    (lazy in, lazy out) with the staged columns followed by
    `NORMALIZED_COLUMNS`.  Pure expressions: safe in a streaming query.

    Everything read from the charge, disposition, severity and sentence fields
    (`FACT_KEY`) is worked out once per distinct combination of them (`_facts`)
    and joined back: a batch of 100,000 rows holds a few thousand combinations,
    and the regular expressions and text functions cost far more than the join.
    Those fields may come as the reader leaves them (padded, or a filler): they
    come out cleaned (`columns.cleaned`), like every other staged column.
    """
    lazy = rows.lazy() if isinstance(rows, pl.DataFrame) else rows
    # Columns normalize() adds are replaced if present (normalizing twice is harmless).
    staged = [c for c in lazy.collect_schema().names() if c not in NORMALIZED_COLUMNS]
    lazy = lazy.select(staged)
    facts = _facts(lazy)
    # Each row's cleaned values and facts: a join of the keys alone, set beside the
    # rows (a join of the whole rows copies every column, and costs twice as much).
    keys = [_AS_READ + n for n in FACT_KEY]
    joined = (
        lazy.select(pl.col(n).alias(_AS_READ + n) for n in FACT_KEY)
        .join(facts, on=keys, how="left", nulls_equal=True, maintain_order="left")
        .drop(keys)
    )
    out = (
        pl.concat([lazy.drop(FACT_KEY), joined], how="horizontal")
        .with_columns(
            _parse_date("dob_raw").alias("dob"),
            _parse_date("event_date_raw").alias("event_date"),
            pl.when(pl.col("cnt_order").str.contains(_CNT_ORDER_SHAPE))
            .then(pl.col("cnt_order").str.slice(0, 6))
            .alias("event_key"),
        )
        .select(*staged, *NORMALIZED_COLUMNS)
        .cast(dict(NORMALIZED_COLUMNS))
    )
    return out.collect() if isinstance(rows, pl.DataFrame) else out


# --------------------------------------------------------------------------
# Race reporting groups (docs/model.md, people.race; data in race.yaml).
# --------------------------------------------------------------------------


@cache
def race_groups() -> tuple[dict[str, str], dict[str, str], str]:
    """(description -> group, code -> group, unknown group) from `race.yaml`."""
    text = resources.files("clearance.extract").joinpath("race.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    by_descr: dict[str, str] = {}
    by_code: dict[str, str] = {}
    for group, values in data["groups"].items():
        for descr in values.get("descriptions") or []:
            by_descr[str(descr).strip().upper()] = group
        for code in values.get("codes") or []:
            by_code[str(code).strip().upper()] = group
    return by_descr, by_code, data["unknown"]


def race_group(code: str = "race_code", descr: str = "race_descr") -> pl.Expr:
    """Reporting group of each row's race, named `race`.

    The description wins over the code; the code is used when the description
    is missing, unmapped or itself unknown; anything else is the unknown group
    (`Unknown`).  Groups: Latino, Black, White, Asian / Pacific Islander,
    Native American, Other, Unknown (see race.yaml).
    """
    by_descr, by_code, unknown = race_groups()
    from_descr = _upper(descr).replace_strict(by_descr, default=None, return_dtype=pl.String)
    from_code = _upper(code).replace_strict(by_code, default=None, return_dtype=pl.String)
    return pl.coalesce(
        pl.when(from_descr != unknown).then(from_descr),
        from_code,
        pl.lit(unknown),
    ).alias("race")
