"""One person's record as the run folders decided it: the rows the petitions and the
letter are drafted from (clearance.filings.person reads them; petitions.py and
person_letter.py write from them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

__all__ = ["CA_AUTO_RELIEF", "PROP64", "Count", "PersonRecord"]

PROP64 = "prop64"
CA_AUTO_RELIEF = "ca-auto-relief"


@dataclass(frozen=True)
class Count:
    """One decided row of the person's record (a conviction count or an arrest)."""

    pack: str
    kind: str  # conviction | arrest
    determination: str
    reason: str
    remedies: tuple[str, ...]  # the petitions open to it, as codes
    key: str  # cnt_order, or cyc_order-stp_order for an arrest
    facts: dict[str, Any]  # as read: case_number, court, county, dates, section ...


@dataclass(frozen=True)
class PersonRecord:
    """The person and their rows, from each run folder that holds them."""

    subject_id: str
    cii_number: str | None
    name: str | None
    dob: str | None
    as_of: dt.date
    counts: tuple[Count, ...]
    runs: tuple[dict[str, Any], ...]  # pack, folder name, as_of, county, sha256

    @property
    def packs(self) -> tuple[str, ...]:
        return tuple(r["pack"] for r in self.runs)
