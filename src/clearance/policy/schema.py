"""The policy schema (shared/spec/prop64.md, "Policies") and its validation.

A policy is a county's choice of relief.  `policy_from_mapping` turns the
parsed YAML into a frozen `Policy`, or raises `PolicyError` whose message
names the file and the key: `la.yaml: additional_relief.age_treshold: unknown
key; did you mean 'age_threshold'?`.

Required keys: `name`, `dismiss`, `reduce`.  Optional, defaulting to "off":
`county` (the run's `--county` supplies it), `misdemeanors` (null: follow the
lists), every key of `additional_relief` and `review`.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clearance.law import load_rulepack

__all__ = [
    "AGE_RANGE",
    "MISDEMEANOR_OUTCOMES",
    "YEARS_RANGE",
    "AdditionalRelief",
    "Policy",
    "PolicyError",
    "ReviewTriggers",
    "check_years",
    "policy_from_mapping",
]

# The policy's settings are declared by the rule pack (pack.yaml, `policy.settings`):
# kinds, choices and ranges are read from there.  The ranges are wider than gogen's
# (age 40-65, years 1-15) so that no published county policy is refused.
_SETTINGS = load_rulepack().settings
MISDEMEANOR_OUTCOMES: tuple[str, ...] = _SETTINGS["misdemeanors"].choices
AGE_RANGE: tuple[int, int] = _SETTINGS["additional_relief.age_threshold"].range  # type: ignore[assignment]
YEARS_RANGE: tuple[int, int] = _SETTINGS["additional_relief.conviction_age"].range  # type: ignore[assignment]
# A name is printed as a title (screen, workbook, report): a line, not a page.
MAX_NAME_CHARS = 200
# A value quoted back in a message is cut to this many characters.
SHOWN_CHARS = 60


class PolicyError(ValueError):
    """A policy cannot be found or breaks the schema; the message names file and key."""


@dataclass(frozen=True)
class AdditionalRelief:
    """Tests that turn a conviction not dismissed by its section into a dismissal."""

    under_21: bool = False
    age_threshold: int | None = None  # years of age on the as-of date
    conviction_age: int | None = None  # years since the conviction
    crime_free: int | None = None  # years with no conviction before the as-of date
    only_prop64: bool = False
    deceased: bool = False
    sentence_completed: bool = False

    @property
    def any(self) -> bool:
        return any(dataclasses.astuple(self))


@dataclass(frozen=True)
class ReviewTriggers:
    """Conditions that send a conviction to a person before any policy outcome."""

    comment_charge: bool = False
    still_serving: bool = False


@dataclass(frozen=True)
class Policy:
    name: str
    county: str | None
    dismiss: tuple[str, ...]  # cannabis sections, as text ("11357"), ascending
    reduce: tuple[str, ...]
    misdemeanors: str | None  # dismiss | reduce | review | None (follow the lists)
    additional_relief: AdditionalRelief
    review: ReviewTriggers
    source: str  # preset name or file path

    def outcome_for(self, section: str | int) -> str | None:
        """`dismiss`, `reduce`, or None when the policy names no outcome for the section."""
        section = str(section)
        if section in self.dismiss:
            return "dismiss"
        if section in self.reduce:
            return "reduce"
        return None

    def with_county(self, county: str | None) -> Policy:
        """The same policy for another county (the run's `--county`)."""
        return dataclasses.replace(self, county=_county(county))

    def to_file(self) -> dict[str, Any]:
        """The policy in the file schema (sections as numbers): what a policy file holds,
        so `policy_from_mapping(policy.to_file(), source=...)` gives the policy back."""
        return {
            "name": self.name,
            "county": self.county,
            "dismiss": [int(s) for s in self.dismiss],
            "reduce": [int(s) for s in self.reduce],
            "misdemeanors": self.misdemeanors,
            "additional_relief": dataclasses.asdict(self.additional_relief),
            "review": dataclasses.asdict(self.review),
        }

    def to_dict(self) -> dict[str, Any]:
        """The resolved policy in the file schema, plus `source` (run.json records it)."""
        return {**self.to_file(), "source": self.source}


_TOP_KEYS = ("name", "county", "dismiss", "reduce", "misdemeanors", "additional_relief", "review")
_RELIEF = {
    k.partition(".")[2]: v for k, v in _SETTINGS.items() if k.startswith("additional_relief.")
}
_RELIEF_FLAGS = tuple(k for k, v in _RELIEF.items() if v.kind == "flag")
_RELIEF_YEARS = {k: v.range for k, v in _RELIEF.items() if v.range is not None}
_RELIEF_KEYS = tuple(f.name for f in dataclasses.fields(AdditionalRelief))
_REVIEW_KEYS = tuple(f.name for f in dataclasses.fields(ReviewTriggers))


def fail(source: str, key: str, problem: str) -> PolicyError:
    return PolicyError(f"{source}: {key}: {problem}" if key else f"{source}: {problem}")


def unknown_key(source: str, key: str, known: Iterable[str], prefix: str = "") -> PolicyError:
    known = list(known)
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
    return fail(source, prefix + str(key), f"unknown key; {hint}")


def check_mapping(source: str, value: Any, key: str, known: Iterable[str]) -> Mapping:
    if not isinstance(value, Mapping):
        raise fail(source, key, f"expected a mapping of keys, found {_shown(value)}")
    known = list(known)
    prefix = f"{key}." if key else ""
    for k in value:
        if k not in known:
            raise unknown_key(source, k, known, prefix)
    return value


def check_bool(source: str, value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise fail(source, key, f"expected true or false, found {_shown(value)}")
    return value


def check_years(source: str, value: Any, key: str, bounds: tuple[int, int]) -> int | None:
    """A whole number of years within `bounds`, or None."""
    if value is None:
        return None
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(source, key, f"expected a whole number of years or null, found {_shown(value)}")
    if not low <= value <= high:
        raise fail(
            source, key, f"{_shown(value)} is out of range; expected {low} to {high} years, or null"
        )
    return value


def check_sections(source: str, value: Any, key: str) -> tuple[str, ...]:
    """A list of cannabis sections (11357-11360), as text, ascending."""
    known = load_rulepack().cannabis_sections
    if value is None:
        return ()
    if not isinstance(value, list):
        raise fail(
            source, key, f"expected a list of sections like [11357, 11358], found {_shown(value)}"
        )
    sections: list[str] = []
    for item in value:
        text = (
            str(item).strip()
            if isinstance(item, int | str) and not isinstance(item, bool)
            else None
        )
        if text not in known:
            raise fail(
                source,
                key,
                f"unknown section {_shown(item)}; only {', '.join(known)} can be listed",
            )
        if text in sections:
            raise fail(source, key, f"section {text} is listed twice")
        sections.append(text)
    return tuple(sorted(sections))


def policy_from_mapping(data: Any, *, source: str) -> Policy:
    """Validate a parsed policy file and build the `Policy`."""
    data = check_mapping(source, data, "", _TOP_KEYS)
    for key in ("name", "dismiss", "reduce"):
        if key not in data:
            raise fail(source, key, "missing; a policy must give name, dismiss and reduce")

    name = data["name"]
    if not isinstance(name, str) or not name.strip():
        raise fail(source, "name", f"expected non-empty text, found {_shown(name)}")
    if len(name.strip()) > MAX_NAME_CHARS:
        raise fail(
            source,
            "name",
            f"{len(name.strip()):,} characters is too long; a policy name has at most "
            f"{MAX_NAME_CHARS}",
        )
    county = data.get("county")
    if county is not None and (not isinstance(county, str) or not county.strip()):
        raise fail(source, "county", f"expected a county name or null, found {_shown(county)}")
    if county is not None and len(county.strip()) > MAX_NAME_CHARS:
        raise fail(
            source,
            "county",
            f"{len(county.strip()):,} characters is too long; a county name has at most "
            f"{MAX_NAME_CHARS}",
        )

    dismiss = check_sections(source, data["dismiss"], "dismiss")
    reduce = check_sections(source, data["reduce"], "reduce")
    both = sorted(set(dismiss) & set(reduce))
    if both:
        raise fail(
            source,
            "reduce",
            f"section {both[0]} is also in 'dismiss'; each section takes one outcome",
        )

    misdemeanors = data.get("misdemeanors")
    if misdemeanors is not None and misdemeanors not in MISDEMEANOR_OUTCOMES:
        raise fail(
            source,
            "misdemeanors",
            f"expected one of {', '.join(MISDEMEANOR_OUTCOMES)} or null, "
            f"found {_shown(misdemeanors)}",
        )

    raw = data.get("additional_relief")
    raw = {} if raw is None else raw
    raw = check_mapping(source, raw, "additional_relief", _RELIEF_KEYS)
    relief = {
        k: check_bool(source, raw[k], f"additional_relief.{k}") for k in _RELIEF_FLAGS if k in raw
    }
    for k, bounds in _RELIEF_YEARS.items():
        if k in raw:
            relief[k] = check_years(source, raw[k], f"additional_relief.{k}", bounds)

    raw = data.get("review")
    raw = {} if raw is None else raw
    raw = check_mapping(source, raw, "review", _REVIEW_KEYS)
    review = {k: check_bool(source, v, f"review.{k}") for k, v in raw.items()}

    return Policy(
        name=name.strip(),
        county=_county(county),
        dismiss=dismiss,
        reduce=reduce,
        misdemeanors=misdemeanors,
        additional_relief=AdditionalRelief(**relief),
        review=ReviewTriggers(**review),
        source=source,
    )


def _county(county: str | None) -> str | None:
    """Counties compare with STP_ORI_CNTY_NAME, which the DOJ writes in upper case."""
    if county is None:
        return None
    return " ".join(county.split()).upper() or None


def _shown(value: Any) -> str:
    """A value of the policy file quoted in a message: short, on one line."""
    text = _shown_whole(value)
    if len(text) > SHOWN_CHARS:
        return f"{text[: SHOWN_CHARS - 3]}... ({len(text):,} characters)"
    return text


def _shown_whole(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return f"a {'list' if isinstance(value, list) else 'mapping'}"
    return str(value)


def read_policy_text(path: Path, spec: str | Path) -> str:
    """A policy file's text; PolicyError naming the file when it cannot be read."""
    if not path.is_file():
        raise PolicyError(f"{spec}: policy file not found")
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{spec}: cannot read the policy file ({exc})") from None
