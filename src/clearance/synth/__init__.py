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
adjacent). Rows: about 25 per person, about 436 bytes per row.

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
