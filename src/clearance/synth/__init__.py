"""Synthetic California DOJ bulk extracts: the project's demo, benchmark and test bed.

    generate(out, *, subjects, county="SACRAMENTO", seed=0, dirty=0.0, header=False,
             progress=None) -> dict

writes an extract in the exact shape of doj-extract.md (95 comma-separated fields,
RFC 4180 quoting, LF line ends, optional header line starting ``RECORD_ID``) and
returns the *intended figures*: what a correct reader + model must find, computed
from the generator's own ground-truth arrays, never by reading the file back.
Same arguments give byte-identical files (the chunk size, 5,000 subjects, is part of
that definition). Output is written chunk by chunk, so memory stays bounded for any
number of subjects. All people are invented: names are common surnames and given
names combined at random, numbers come from the seed.

Regenerating the bundled demo (``src/clearance/data/sample.dat`` and
``sample.intended.json``: 300 subjects, seed 2020, SACRAMENTO, dirty 0.002)::

    python -m clearance.synth

which calls ``clearance.synth.write_sample()``.

What the data holds (measured on 20,000 subjects, seed 7; rates are in
``generator.RATES``, tables in ``tables.py``)
-------------------------------------------------------------------------------

People. Everyone has at least one cannabis conviction (HS 11357-11360) in a
``CASC <COUNTY>`` court of the extract's county, because DOJ sends only such people,
plus their whole history. Race/ethnicity as in California cannabis arrests: Latino
(HISPANIC) 40 %, White 30 %, Black 20 %, Asian/Pacific Islander 5 % (CHINESE,
FILIPINO, OTHER ASIAN, VIETNAMESE, JAPANESE, KOREAN, PACIFIC ISLANDER), other/unknown
5 % (AMERICAN INDIAN, OTHER, UNKNOWN). Gender M 85 %, F 15 %. Birth years around 1973
(sd 13 years, 1932-2003): today (2025-06-30, a fixed date) about 56 % are 50 or
older and 16 % 65 or older; about 13 % of the in-county cannabis convictions happened
before the person was 21. 0.4 % of birth dates are partial (``19750000``).

Histories. 1 + NegBin(1.3, 0.17) arrest-to-disposition cycles per person (mean 7.3,
long tail), from age 15 + Gamma(2, 4) (never before 1961) over a career of
1 + Gamma(2, 6) years. A cycle has an arrest step (90 %; ``CAPD <CITY>`` 60 %, else
``CASO <COUNTY>``) and a court action (78 %; ``CAMC`` for 40 % of those before 1998),
with 1-4 charges (55/28/12/5 %) listed as one count each on both steps. 65 % of
cycles are in the extract's county, the rest spread over other counties by
population; 73 % of people have some history elsewhere. Lead charges are convicted
72 % of the time, other charges 35 % (dismissals, diversion, acquittals, transfers
otherwise). Convictions: 37 % felony, 63 % misdemeanor, under 1 % infraction;
CONVICTED-PROBATION / -JAIL / -PRISON / -FINE with sentences of 1-3 parts (jail +
probation + fine; SENT_LENGTH in D/M/Y), 1.6 rows per conviction; for 30 % of
multi-part counts the later parts are written at the end of the person's block (not
adjacent). Rows: about 26 per person, about 437 bytes per row.

Charges. 12 % of charges dated before Prop 64 (3 % after) are cannabis charges;
cannabis sections among in-county cannabis convictions: 11357 45 %, 11358 9 %,
11359 31 %, 11360 15 %. Other charges: drugs (11350/11377/11364/11550 HS ...),
vehicle (23152 DUI, 14601.1, 12500, 10851 VC ...), property (459, 484, 488, 496 PC
...), violence and others, with traps for anchored matching (11357.5 HS, 137 PC,
647(b) PC). In-county cannabis convictions by decade: 1960s 1 %, 70s 5 %, 80s 14 %,
90s 24 %, 2000s 28 %, 2010s 20 %, 2020s 8 %; about 10 % are after 2016-11-08.

Rare facts the rules turn on (rates per subject, or per cannabis charge):
super-strike conviction before the cannabis conviction 1.2 % (after it 0.4 %);
PC 290 offense before it 1.2 % (75 % of those with a ``REGISTRATION`` step
``290 PC-REGISTRATION OF SEX OFFENDER``), a registration with no conviction 0.4 %;
two earlier convictions under the cannabis conviction's own section 3 %; a
``DECEASED`` step 2.5 %; attempts ``664/113xx HS`` 2 % of 11358-11360 charges;
excluded subsections ``11359(D) HS`` / ``11360(A)(3)(D) HS`` 1 % of 11359/11360
charges; miscoded labels (``11359 PC-...``, ``11360HS-...``) 1.5 %; court counts
whose charge is only in COMMENT_TEXT (``SEE COMMENT FOR CHARGE`` or blank, comment
``CHRG 11359 HS``) 1.5 %; a comment naming another cannabis section 0.4 % of
cannabis court counts; partial event dates 0.2 % of events, partial cycle dates 1 %.
The returned ``facts`` say how many of each the file holds.

Automatic relief (PC 1203.425 and 851.93, ca-automatic-relief.md). Drawn from a second
random stream per chunk, so that adding them changed no one's Prop 64 facts (cannabis
convictions, their sections, counties and sentences are as before). Measured shares:

- Probation, the most common sentence for both felonies and misdemeanors in
  California: 53 % of conviction counts have a probation part with a length
  (``PROBATION``, 12-60 months). Revocation: a later ``COURT ACTION`` step of the same
  cycle, with the court step's case number (OFN), dated within the term, listing the
  case's convicted counts with ``PROBATION REVOKED``, ``PROBATION REVOKED AND
  TERMINATED`` or ``PROB REVOKED-SENTENCED``: 30 % of cases with felony probation, 15 %
  of misdemeanor-only ones (about a fifth of probation counts; California's probation
  failure rates are of that order). Half the revocations carry a new sentence on that
  step (jail; prison for 40 % of the felony ones).
- Jail parts on 56 % of conviction counts, prison on 7.5 %; 10 % of prison counts are
  followed by a felony conviction within four years of completion (the term plus three
  years of supervision), 3.5 % only later (``prison_then_felony_*``).
- Arrests: 20 % of arrest steps never reach court (felony 55 %, misdemeanor 45 %).
  Most arrests that do not lead to a conviction end without charges: those arrest
  rows say ``PROS REJ-INSUFFICIENT EVIDENCE`` (and two other rejections) 50 %,
  ``RELEASED/DETENTION ONLY`` or an 849(b) release 32 %, a transfer 3 %, nothing 5 %
  (DOJ's "missing dispositions"). Court counts not convicted: dismissed 76 % (``DISMISSED
  /CHARGE DROPPED``, ``.../FURTHERANCE OF JUSTICE``, ``...1385 PC``), diversion or
  deferred entry completed 17 % (``DIVERSION COMPLETED-DISMISSED PER 1001.95 PC``, ``DEJ
  COMPLETED 1000 PC`` ...), acquitted 7 % (``ACQUITTED``, ``NOT GUILTY``), transferred
  1 %. 3 % of court cases with no conviction are still open (every count ``COMPLAINT
  FILED``, no disposition, a bench warrant or a continuance). 17 % of people have
  some open record (a court count or a court-less arrest with no final disposition).
- Earlier relief: 3 % of convicted cases (few people petition) have a later court
  step ``CONV SET ASIDE & DISM PER 1203.4 PC`` (after probation), ``... 1203.4A PC`` (a
  misdemeanor without probation) or ``... 1203.41 PC`` (a county-jail felony after
  realignment, 2011-10-01), one to several years after the sentence ended.
- Serious and violent felonies: 8 % of other felony convictions become ``211 PC-
  ROBBERY``, ``459 PC-BURGLARY:FIRST DEGREE``, ``245(A)(1) PC-ASSAULT WITH DEADLY
  WEAPON``, ``422 PC-CRIMINAL THREATS`` ... (``tables.SERIOUS_VIOLENT``; with the 211 and
  245 charges already among the other offenses, 2.8 % of conviction counts); 25 % of
  serious/violent felony convictions have an enhancement count in the same court step
  (``12022.5(A) PC-PERSONAL USE OF FIREARM``, ``12022.7(A) PC-GREAT BODILY INJURY`` ...,
  convicted, no sentence part of its own). PC 290 and super-strike rates are as above.

Dirty lines (``dirty`` = fraction of data lines, split equally four ways):
``wrong_field_count`` (a leading field dropped, a trailing comma, or an unquoted
comma inside the offense), ``unbalanced_quote`` (a stray ``"`` in RECORD_ID or the
offense: the line's quote count is odd), an impossible STP_EVENT_DATE such as
``20190231`` on every line of the chosen events, and a Latin-1 name (``MU\\xd1OZ``,
byte 0xD1) on lines of people with such surnames. The first two make the reader
reject the line; the other two leave it structurally valid.

Intended figures (all over lines that are structurally valid)
-------------------------------------------------------------
``rows.read`` data lines (header excluded), ``rows.rejected`` lines given a
structural defect, ``subjects`` people with a valid line, ``convictions`` distinct
(subject, CNT_ORDER) conviction counts, ``convictions_by_code`` by the code label a
reader should normalise to (a miscoded 11359 PC counts as HS; a comment-only charge
by the code in the comment), ``cannabis_convictions_by_county`` by the court's county
and anchored section (attempts, excluded subsections and comment-only charges
included), ``rejects_by_reason``, ``invalid_event_dates`` (counts whose event date is
partial or impossible), ``dirty`` (what was injected), ``facts`` and ``parameters``.

The automatic-relief ``facts`` (dispositions read as ca-automatic-relief.md's
"Precise readings" do: ``generator.disposition_kind``): ``arrests`` (arrest steps),
``arrests_without_court_felony`` / ``_misdemeanor`` (no court step in the cycle; felony
when any count's OFFENSE_TOC is F), ``arrests_without_court_rejected`` (``PROS REJ``) /
``_open`` (blank or transfer), ``arrests_court_no_conviction`` (a court step, no count
convicted) and of those ``arrests_court_all_dismissed`` / ``_acquitted`` / ``_diversion``
/ ``_open`` (every count dismissed; any count acquitted, diverted, open);
``court_counts_dismissed`` / ``_acquitted`` / ``_diversion`` / ``_open`` and
``court_steps_open`` (every count open), ``subjects_open_record``;
``convictions_probation`` / ``_jail`` / ``_prison`` (conviction counts with such a
sentence part, enhancement counts aside), ``convictions_probation_revoked`` (of those
with probation, in a revoked case), ``revocation_steps`` and ``revocation_steps_new_jail``
/ ``_new_prison``, ``set_aside_steps`` and ``convictions_set_aside_1203_4`` / ``_1203_4a``
/ ``_1203_41`` (counts listed), ``convictions_serious_violent`` (by OFFENSE_DESCR, as in
``tables.SERIOUS_VIOLENT``), ``enhancement_counts`` (convicted ``12022...`` counts), and
``prison_then_felony_within_4y`` / ``_after_4y`` (prison counts with a valid date whose
person has a felony conviction, by its status else OFFENSE_TOC, dated within the four
years after completion, completion = conviction + the term + 36 months by calendar
months; or only after them).
"""

from __future__ import annotations

import json
from pathlib import Path

from clearance.synth.generator import generate

__all__ = ["SAMPLE", "generate", "write_sample"]

DATA = Path(__file__).resolve().parent.parent / "data"

# The bundled demo extract: small, with a few rejects to show.
SAMPLE: dict = {"subjects": 300, "county": "SACRAMENTO", "seed": 2020, "dirty": 0.002}


def write_sample(data_dir: Path = DATA) -> dict:
    """(Re)write ``sample.dat`` and ``sample.intended.json`` in `data_dir`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    figures = generate(data_dir / "sample.dat", **SAMPLE)
    text = json.dumps(figures, indent=2, sort_keys=True) + "\n"
    (data_dir / "sample.intended.json").write_text(text, encoding="utf-8")
    return figures
