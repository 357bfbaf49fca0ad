"""The synthetic-extract engine: one chunk of subjects at a time, column-wise.

A chunk is built top down as numpy arrays, one level at a time, each level holding
the index of its parent:

    subjects -> cycles -> steps (events) -> counts -> rows (sentence parts)

and the same ground-truth arrays give the intended figures. Text is assembled per
level with Polars (a subject's 35 leading fields once per subject, an event's 14
fields once per event, ...) and the lines are the concatenation of the gathered
level strings. There is no Python loop per row; the only loops are per chunk and
per subject with a rare fact (about 8 % of subjects).

The proportions and rates are documented in ``clearance.synth``.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import polars as pl

from clearance.extract.columns import FIELDS, N_FIELDS
from clearance.synth import tables as T

# Fixed dates: the generator never reads the clock, so output depends only on its
# arguments.
PRESENT = np.datetime64("2025-06-30", "D")  # "today" for the synthetic histories
FIRST_RECORDS = np.datetime64("1961-01-01", "D")  # DOJ's automated records start here
PROP64_EVE = np.datetime64("2016-11-08", "D")  # last day of the old cannabis law
COURT_UNIFICATION = np.datetime64("1998-06-01", "D")  # municipal courts merge into superior

CHUNK_SUBJECTS = 5000  # part of the output's definition: changing it changes the bytes

# ---------------------------------------------------------------- rates (documented)

RATES: dict[str, float] = {
    # people
    "female": 0.15,
    "middle_initial": 0.8,
    "partial_dob": 0.004,
    # rare facts, per subject
    "superstrike_prior": 0.012,
    "superstrike_after": 0.004,
    "pc290_prior": 0.012,
    "pc290_registered": 0.75,  # of pc290_prior subjects: also a REGISTRATION step
    "registration_only": 0.004,
    "two_priors": 0.03,
    "deceased": 0.025,
    # cycles and steps
    "home_county": 0.65,  # a cycle outside the anchor happens in the extract county
    "arrest_step": 0.90,
    "court_step": 0.78,
    "prefer_pre_prop64_anchor": 0.92,
    "municipal_court": 0.4,  # of court actions before 1998 (not the anchor)
    "police_department": 0.6,  # arrests by a city PD rather than the sheriff
    "partial_event_date": 0.002,
    "partial_cycle_date": 0.01,
    "missing_case_number": 0.02,
    # charges and counts
    "cannabis_charge": 0.12,  # other charges dated before Prop 64
    "cannabis_charge_after": 0.03,  # ... and after
    "lead_convicted": 0.72,
    "other_convicted": 0.35,
    "wobbler_to_misdemeanor": 0.2,
    "blank_conv_status": 0.03,
    "attempt": 0.02,  # of cannabis charges (11358-11360)
    "excluded_subsection": 0.01,  # of cannabis charges (11359, 11360)
    "miscoded": 0.015,  # of cannabis charges (11357, 11359, 11360)
    "comment_charge": 0.015,  # of court counts: charge only in COMMENT_TEXT
    "comment_conflict": 0.004,  # of cannabis court counts: comment names another section
    "moved_sentence_rows": 0.3,  # of multi-part counts: parts 2+ at the end of the person
    # automatic relief (PC 1203.425, 851.93): drawn from a second random stream
    "serious_violent": 0.08,  # of other felony convictions: a serious/violent felony instead
    "enhancement": 0.25,  # of serious/violent felony convictions: an enhancement count
    "revoked_felony": 0.30,  # of cases with felony probation: a later revocation step
    "revoked_misdemeanor": 0.15,  # ... misdemeanor probation only
    "revoked_resentenced": 0.5,  # of revocations: a new sentence at revocation
    "revoked_prison": 0.4,  # of felony resentencing: prison rather than jail
    "set_aside": 0.03,  # of convicted cases: a later 1203.4 / 1203.4a / 1203.41 dismissal
    "court_open": 0.03,  # of court cases with no conviction: no final disposition yet
}

N_CHARGES_P = (0.55, 0.28, 0.12, 0.05)  # 1, 2, 3, 4 charges per cycle
CYCLES_NB = (1.3, 0.17)  # cycles = 1 + NegBin(r, p): mean 1 + r(1-p)/p = 7.3

# Dirty defects: equal shares of the dirty lines.
DEFECTS = ("wrong_field_count", "unbalanced_quote", "impossible_date", "latin1_name")
IMPOSSIBLE_MMDD = np.array([230, 231, 431, 631, 931, 1131, 1301, 1232, 32])

ROLE_NORMAL, ROLE_ANCHOR, ROLE_SS, ROLE_290, ROLE_REG, ROLE_TP, ROLE_SS_AFTER, ROLE_DEAD = range(8)
# STEP_LATER: a later court action of a convicted case (probation revoked, set aside)
STEP_ARREST, STEP_COURT, STEP_REG, STEP_DEAD, STEP_LATER = range(5)
STEP_TYPES = (
    ("A", "ARREST/DETAINED/CITED"),
    ("C", "COURT ACTION"),
    ("R", "REGISTRATION"),
    ("D", "DECEASED"),
    ("C", "COURT ACTION"),
)
SEVERITY = ("", "FELONY", "MISDEMEANOR", "INFRACTION")  # index 0: none
SEV_F, SEV_M, SEV_I = 1, 2, 3
KIND_PRISON, KIND_PROB, KIND_JAIL, KIND_FINE = range(4)
KIND_DISP = ("CONVICTED-PRISON", "CONVICTED-PROBATION", "CONVICTED-JAIL", "CONVICTED-FINE")

SEGMENT_FIELDS = (35, 14, 34, 7, 5)  # subject, event, count head, sentence, count tail
if sum(SEGMENT_FIELDS) != N_FIELDS:
    raise RuntimeError(f"SEGMENT_FIELDS add up to {sum(SEGMENT_FIELDS)} fields, not {N_FIELDS}")


def _norm(w) -> np.ndarray:
    a = np.asarray(w, dtype=float)
    return a / a.sum()


def _yyyymmdd(days: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 -> YYYYMMDD as int64."""
    d = days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]")
    m = d.astype("datetime64[M]")
    year = y.astype(np.int64) + 1970
    month = (m - y.astype("datetime64[M]")).astype(np.int64) + 1
    day = (d - m.astype("datetime64[D]")).astype(np.int64) + 1
    return year * 10000 + month * 100 + day


def _within(group_sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For children laid out by parent: (parent index, position in parent, parent start)."""
    parent = np.repeat(np.arange(len(group_sizes)), group_sizes)
    start = np.zeros(len(group_sizes), dtype=np.int64)
    np.cumsum(group_sizes[:-1], out=start[1:])
    return parent, np.arange(len(parent)) - start[parent], start


def _starts(sizes: np.ndarray) -> np.ndarray:
    """Where each group starts in a layout of groups of `sizes`."""
    out = np.zeros(len(sizes), dtype=np.int64)
    np.cumsum(sizes[:-1], out=out[1:])
    return out


def _take(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values[index], with out-of-range indexes (of rows not using them) clipped."""
    if not len(values):
        return np.zeros(len(index), dtype=np.int64)
    return values[np.clip(index, 0, len(values) - 1)]


def _s(values) -> pl.Series:
    return pl.Series(values, dtype=pl.String)


def _num(values: np.ndarray, width: int = 0) -> pl.Series:
    """Integers as decimal text (zero-padded to `width`), converted by Polars."""
    out = pl.Series(values).cast(pl.String)
    return out.str.zfill(width) if width else out


def _when(mask: np.ndarray, yes, no) -> pl.Series:
    """Element-wise choice between two Series / str constants."""
    return pl.select(pl.when(pl.lit(mask)).then(pl.lit(yes)).otherwise(pl.lit(no))).to_series()


def _cat(parts: list, sep: str = ",") -> pl.Series:
    """Concatenate Series / str constants element-wise with `sep`."""
    return pl.select(pl.concat_str([pl.lit(p) for p in parts], separator=sep)).to_series()


def _pick(rng: np.random.Generator, n: int, options: int, p=None) -> np.ndarray:
    return rng.choice(options, size=n, p=p) if n else np.zeros(0, dtype=np.int64)


# ------------------------------------------------------------------ static context


@dataclass
class _Context:
    """Lookup tables built once per run (offenses, agencies, names, sentences)."""

    county: str
    seed: int
    offenses: list[T.Offense] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.county_idx = T.COUNTIES.index(self.county) if self.county in T.COUNTIES else -1
        self.counties = list(T.COUNTIES) + ([self.county] if self.county_idx < 0 else [])
        if self.county_idx < 0:
            self.county_idx = len(self.counties) - 1
        others = [(c, w) for c, w in T.OTHER_COUNTY_WEIGHTS.items() if c != self.county]
        self.other_counties = np.array([self.counties.index(c) for c, _ in others])
        self.other_p = _norm([w for _, w in others])
        self._offenses()
        self._agencies()
        self._names()
        self._sentences()

    # offenses -------------------------------------------------------------------
    def _add(self, off: T.Offense) -> int:
        self.offenses.append(off)
        return len(self.offenses) - 1

    def _group(self, items) -> tuple[np.ndarray, np.ndarray]:
        return np.array([self._add(o) for o, _ in items]), _norm([w for _, w in items])

    def _offenses(self) -> None:
        self.cannabis = [self._group(T.CANNABIS[s]) for s in T.CANNABIS_SECTIONS]
        self.other = self._group(T.OTHER_OFFENSES)
        self.superstrike = self._group(T.SUPER_STRIKES)
        self.pc290 = self._group(T.PC290)
        no = -1
        self.attempt = np.array(
            [self._add(T.ATTEMPTS[s]) if s in T.ATTEMPTS else no for s in T.CANNABIS_SECTIONS]
        )
        self.excluded = np.array(
            [self._add(T.EXCLUDED[s]) if s in T.EXCLUDED else no for s in T.CANNABIS_SECTIONS]
        )
        self.miscoded = np.array(
            [self._add(T.MISCODED[s]) if s in T.MISCODED else no for s in T.CANNABIS_SECTIONS]
        )
        self.registration = self._add(T.REGISTRATION)
        self.no_offense = self._add(T.NO_OFFENSE)
        self.serious = self._group(T.SERIOUS_VIOLENT)
        self.enhance = self._group(T.ENHANCEMENTS)
        offs = self.offenses
        self.codes = sorted({o[1] for o in offs if o[1]})
        self.off_code = np.array([self.codes.index(o[1]) if o[1] else -1 for o in offs])
        self.off_cannabis = np.array(
            [T.CANNABIS_SECTIONS.index(o[4]) if o[4] else -1 for o in offs]
        )
        self.off_toc_sev = np.array([{"F": 1, "M": 2, "I": 3}.get(o[3], 0) for o in offs])
        self.off_superstrike = np.zeros(len(offs), bool)
        self.off_superstrike[self.superstrike[0]] = True
        self.off_pc290 = np.zeros(len(offs), bool)
        self.off_pc290[self.pc290[0]] = True
        serious_texts = {o[0] for o, _ in T.SERIOUS_VIOLENT}
        self.off_serious = np.array([o[0] in serious_texts for o in offs])
        self.off_enhancement = np.zeros(len(offs), bool)
        self.off_enhancement[self.enhance[0]] = True
        self.off_attempt = np.isin(np.arange(len(offs)), self.attempt[self.attempt >= 0])
        self.off_excluded = np.isin(np.arange(len(offs)), self.excluded[self.excluded >= 0])
        self.off_miscoded = np.isin(np.arange(len(offs)), self.miscoded[self.miscoded >= 0])
        self.b_11357 = self.cannabis[0][0][1]  # 11357(B): an infraction from 2011
        # OFFENSE_DESCR texts, then the two comment-only forms
        self.see_comment = len(offs)
        self.blank_descr = len(offs) + 1
        self.descr = _s([o[0] for o in offs] + ["SEE COMMENT FOR CHARGE", ""])
        self.toc = _s([o[3] for o in offs])
        self.chrg = _s(["CHRG " + o[2] if o[2] else "" for o in offs])

    # agencies -------------------------------------------------------------------
    def _agencies(self) -> None:
        rows: list[str] = []

        def add(ori_type: str, type_descr: str, ori: str, descr: str, cc: str, cn: str) -> int:
            rows.append(f"{ori_type},{type_descr},{ori},{descr},{cc},{cn}")
            return len(rows) - 1

        nc = len(self.counties)
        self.ag_so = np.zeros(nc, np.int64)
        self.ag_sc = np.zeros(nc, np.int64)
        self.ag_mc = np.zeros(nc, np.int64)
        self.ag_co = np.zeros(nc, np.int64)
        self.ag_pd0 = np.zeros(nc, np.int64)
        self.ag_npd = np.zeros(nc, np.int64)
        for i, name in enumerate(self.counties):
            cc = f"{i + 1:02d}" if i < 58 else "99"
            self.ag_so[i] = add("S", "SHERIFF", f"CA0{cc}0000", f"CASO {name}", cc, name)
            self.ag_sc[i] = add("C", "SUPERIOR COURT", f"CA0{cc}013J", f"CASC {name}", cc, name)
            self.ag_mc[i] = add("C", "MUNICIPAL COURT", f"CA0{cc}023J", f"CAMC {name}", cc, name)
            self.ag_co[i] = add("O", "CORONER", f"CA0{cc}0C00", f"CACO {name}", cc, name)
            cities = T.CITIES.get(name, ())
            self.ag_pd0[i] = len(rows)
            self.ag_npd[i] = len(cities)
            for j, city in enumerate(cities):
                add("P", "POLICE DEPARTMENT", f"CA0{cc}{j + 1:02d}00", f"CAPD {city}", cc, name)
        self.agency = _s(rows)

    # names and demographics -----------------------------------------------------
    def _names(self) -> None:
        self.race_p = _norm([r[2] for r in T.RACES])
        groups = ("H", "W", "B", "A")
        self.race_group = np.array([groups.index(r[3]) for r in T.RACES])
        self.race_piece = _s([f"{r[0]},{r[1]}" for r in T.RACES])
        sur, tilde, start, size = [], [], [], []
        for g in groups:
            start.append(len(sur))
            size.append(len(T.SURNAMES[g]))
            sur += T.SURNAMES[g]
            tilde += [T.TILDE_SURNAMES.get(s, s) for s in T.SURNAMES[g]]
        self.sur, self.sur_tilde = _s(sur), _s(tilde)
        self.sur_start, self.sur_size = np.array(start), np.array(size)
        self.sur_has_tilde = np.array([s in T.TILDE_SURNAMES for s in sur])
        given, gstart, gsize = [], [], []
        for g in groups:
            for sex in ("M", "F"):
                gstart.append(len(given))
                gsize.append(len(T.GIVEN_NAMES[(g, sex)]))
                given += T.GIVEN_NAMES[(g, sex)]
        self.given = _s(given)
        self.given_start, self.given_size = np.array(gstart), np.array(gsize)
        self.initial = _s([""] + [f" {c}" for c in "ABCDEFGHIJKLMNOPRSTVW"])
        self.eye = _s([f"{c},{d}" for c, d, _ in T.EYES])
        self.eye_p = _norm([w for *_, w in T.EYES])
        self.hair = _s([f"{c},{d}" for c, d, _ in T.HAIR])
        self.hair_p = _norm([w for *_, w in T.HAIR])
        self.pob = _s([f"{c},{d}" for c, d, _ in T.BIRTHPLACES])
        self.pob_p = _norm([w for *_, w in T.BIRTHPLACES])

    # sentences ------------------------------------------------------------------
    def _sentences(self) -> None:
        opts: list[tuple[str, str, str, str]] = []
        self.sent_kind: dict[str, tuple[int, int]] = {}
        for kind, options in T.SENTENCE_OPTIONS.items():
            self.sent_kind[kind] = (len(opts), len(options))
            opts += options
        # piece for fields 83-89, indexed by option * 4 + SENT_ORDER (0: no sentence)
        pieces = []
        for code, descr, length, unit in [*opts, ("", "", "", "")]:
            for order in range(4):
                if not code:
                    pieces.append('#,,,,,,"                  "')
                else:
                    pieces.append(f"#,{order},{code},{descr},{length},{unit},{T.TIME_DESCR[unit]}")
        self.no_sentence = len(opts)
        self.sentence = _s(pieces)
        # approximate length in days (for placing later events) and SENT_LOC_CODE
        per = {"D": 1.0, "M": 30.44, "Y": 365.25, "": 0.0}
        self.opt_days = np.array(
            [float(length or 0) * per[unit] for _, _, length, unit in opts] + [0.0]
        )
        self.opt_loc = np.array([code for code, *_ in opts] + [""])
        self.opt_len = np.array([int(length or 0) for _, _, length, _ in opts] + [0])
        self.opt_unit = np.array([unit for *_, unit in opts] + [""])

    def choose_sentence(self, rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
        start, size = self.sent_kind[kind]
        return start + rng.integers(0, size, n)


# --------------------------------------------------------------------- one chunk


@dataclass
class _Figures:
    """Ground truth accumulated over chunks, reported as the intended figures."""

    rows: int = 0
    rejected: int = 0
    subjects: int = 0
    convictions: int = 0
    by_code: Counter = field(default_factory=Counter)
    by_county: dict[str, Counter] = field(default_factory=dict)
    rejects: Counter = field(default_factory=Counter)
    invalid_event_dates: int = 0
    dirty_lines: Counter = field(default_factory=Counter)
    dirty_variants: Counter = field(default_factory=Counter)
    impossible_date_events: int = 0
    latin1_subjects: int = 0
    facts: Counter = field(default_factory=Counter)


class _Chunk(SimpleNamespace):
    """The arrays of one chunk, kept level by level for the next steps to read."""

    def keep(self, **arrays: Any) -> None:
        self.__dict__.update(arrays)


def _chunk(
    ctx: _Context,
    rng: np.random.Generator,
    g0: int,
    n: int,
    dirty: float,
    fig: _Figures,
    rng_ca: np.random.Generator | None = None,
) -> bytes:
    """Build subjects g0 .. g0+n-1; return their lines and add their figures to `fig`.

    Level by level (module docstring), each step a function that reads the arrays the
    earlier ones kept in ``c`` and keeps its own; the random draws happen in this order,
    which is part of the output's definition. The facts of automatic relief
    (``_relief_history``) are drawn from a second stream, `rng_ca`, so that adding them
    left every earlier draw, and so everyone's Prop 64 facts, as they were.
    """
    if rng_ca is None:
        rng_ca = np.random.Generator(np.random.PCG64(np.random.SeedSequence([ctx.seed, g0, 1])))
    c = _Chunk(g0=g0, n=n, dirty=dirty)
    _subjects(ctx, rng, c)
    _cycles(rng, c)
    _roles(rng, c)
    _deaths(rng, c)
    _cycle_places(ctx, rng, c)
    _offenses(ctx, rng, c)
    _outcomes(ctx, rng, c)
    _sentence_parts(ctx, rng, c)
    _relief_history(ctx, rng_ca, c)
    _steps(ctx, rng, c)
    _counts(ctx, rng, c)
    _rows(ctx, rng, c)
    _dirty_lines(ctx, rng, c)
    _subject_text(ctx, rng, c)
    _event_text(ctx, rng, c)
    _count_text(ctx, rng, c)
    out = _lines(ctx, rng, c)
    _figures(ctx, c, fig)
    _facts(ctx, c, fig)
    _relief_facts(ctx, c, fig)
    return out


def _subjects(ctx: _Context, rng: np.random.Generator, c: _Chunk) -> None:
    """Who the chunk's people are: ids, names, birth dates, and which rare facts each has."""
    R = RATES
    g0, n = c.g0, c.n
    g = np.arange(g0, g0 + n, dtype=np.int64)
    sid = 10_000_000 + (g * 7919 + ctx.seed * 1_000_003) % 90_000_000
    cii = 100_000_000 + (g * 104_729 + ctx.seed * 7_654_321) % 900_000_000
    female = rng.random(n) < R["female"]
    race = _pick(rng, n, len(T.RACES), ctx.race_p)
    grp = ctx.race_group[race]
    sur_i = ctx.sur_start[grp] + (rng.random(n) * ctx.sur_size[grp]).astype(np.int64)
    gk = grp * 2 + female
    giv_i = ctx.given_start[gk] + (rng.random(n) * ctx.given_size[gk]).astype(np.int64)
    ini = np.where(rng.random(n) < R["middle_initial"], rng.integers(1, len(ctx.initial), n), 0)
    birth_year = np.clip(np.round(rng.normal(1973, 13, n)), 1932, 2003).astype(np.int64)
    dob = (birth_year - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    dob += rng.integers(0, 365, n)
    # flags for the rare facts
    f_ss = rng.random(n) < R["superstrike_prior"]
    f_ss_after = rng.random(n) < R["superstrike_after"]
    f_290 = rng.random(n) < R["pc290_prior"]
    f_290_reg = f_290 & (rng.random(n) < R["pc290_registered"])
    f_reg = rng.random(n) < R["registration_only"]
    f_tp = rng.random(n) < R["two_priors"]
    f_dead = rng.random(n) < R["deceased"]
    anchor_sec = _pick(rng, n, 4, _norm(T.ANCHOR_SECTION_WEIGHTS))
    c.keep(
        sid=sid,
        cii=cii,
        female=female,
        race=race,
        sur_i=sur_i,
        giv_i=giv_i,
        ini=ini,
        dob=dob,
        f_ss=f_ss,
        f_ss_after=f_ss_after,
        f_290=f_290,
        f_290_reg=f_290_reg,
        f_reg=f_reg,
        f_tp=f_tp,
        f_dead=f_dead,
        anchor_sec=anchor_sec,
    )


def _cycles(rng: np.random.Generator, c: _Chunk) -> None:
    """Each person's cycles (arrest, court, registration), spread over a criminal career."""
    present_day = PRESENT.astype(np.int64)
    f_ss, f_ss_after, f_290, f_reg, f_tp, n, dob = (
        c.f_ss,
        c.f_ss_after,
        c.f_290,
        c.f_reg,
        c.f_tp,
        c.n,
        c.dob,
    )
    required = 1 + f_ss + f_ss_after + f_290 + f_reg + 2 * f_tp
    n_life = np.maximum(1 + rng.negative_binomial(*CYCLES_NB, n), required).astype(np.int64)
    age_first = 15 + rng.gamma(2.0, 4.0, n)
    first = np.maximum(
        dob + (age_first * 365.25).astype(np.int64),
        FIRST_RECORDS.astype(np.int64) + rng.integers(0, 3 * 365, n),
    )
    gap_min = 20
    career = (365 * (1 + rng.gamma(2.0, 6.0, n))).astype(np.int64)
    span = np.minimum(career, present_day - 60 - first)
    span = np.maximum(span, n_life * gap_min + 30)
    first = np.minimum(first, present_day - 60 - span)
    c_subj, c_j, c_start = _within(n_life)
    C = len(c_subj)
    u = rng.random(C)
    u = u[np.lexsort((u, c_subj))]  # sorted within each subject
    free = span - n_life * gap_min
    c_date = first[c_subj] + (u * free[c_subj]).astype(np.int64) + c_j * gap_min
    last_of = c_start + n_life - 1
    nxt = np.where(c_j < n_life[c_subj] - 1, np.roll(c_date, -1), present_day)
    lag = (7 + rng.gamma(1.5, 40.0, C)).astype(np.int64)
    c_court = c_date + np.minimum(lag, ((nxt - c_date) * 0.8).astype(np.int64))
    c_reg = c_court + np.maximum(1, (nxt - c_court) // 2)
    c.keep(
        required=required,
        n_life=n_life,
        c_subj=c_subj,
        c_j=c_j,
        c_start=c_start,
        C=C,
        c_date=c_date,
        last_of=last_of,
        c_court=c_court,
        c_reg=c_reg,
    )


def _roles(rng: np.random.Generator, c: _Chunk) -> None:
    """Which cycle is the person's anchor cannabis conviction, and which carry the rare facts."""
    R = RATES
    C, required, n, c_court, c_subj, c_start, f_ss, f_290, f_reg, f_tp, n_life, f_ss_after = (
        c.C,
        c.required,
        c.n,
        c.c_court,
        c.c_subj,
        c.c_start,
        c.f_ss,
        c.f_290,
        c.f_reg,
        c.f_tp,
        c.n_life,
        c.f_ss_after,
    )
    role = np.zeros(C, np.int8)
    flagged = required > 1
    prefer_pre = rng.random(n) < R["prefer_pre_prop64_anchor"]
    key = rng.random(C) + ((c_court > PROP64_EVE.astype(np.int64)) & prefer_pre[c_subj])
    order = np.lexsort((key, c_subj))
    anchor = order[c_start]  # the lowest key in each subject
    role[anchor[~flagged]] = ROLE_ANCHOR
    for s in np.flatnonzero(flagged):  # rare: about 8 % of subjects
        base, k = c_start[s], 0
        for r, on in (
            (ROLE_SS, f_ss[s]),
            (ROLE_290, f_290[s]),
            (ROLE_REG, f_reg[s]),
            (ROLE_TP, f_tp[s]),
            (ROLE_TP, f_tp[s]),
        ):
            if on:
                role[base + k] = r
                k += 1
        last = base + n_life[s] - 1
        if f_ss_after[s]:
            role[last], role[last - 1] = ROLE_SS_AFTER, ROLE_ANCHOR
        else:
            role[last] = ROLE_ANCHOR
    c.keep(role=role)


def _deaths(rng: np.random.Generator, c: _Chunk) -> None:
    """A last cycle for the deceased (a death report), merged into each person's cycles."""
    present_day = PRESENT.astype(np.int64)
    f_dead, c_court, c_reg, role, last_of, c_subj, c_j, n_life, c_date = (
        c.f_dead,
        c.c_court,
        c.c_reg,
        c.role,
        c.last_of,
        c.c_subj,
        c.c_j,
        c.n_life,
        c.c_date,
    )
    dead = np.flatnonzero(f_dead)
    last_event = np.maximum(c_court, c_reg * np.isin(role, (ROLE_290, ROLE_REG)))[last_of]
    death = np.minimum(
        present_day, last_event[dead] + 30 + rng.exponential(4 * 365, len(dead)).astype(np.int64)
    )
    cyc = {
        "subj": np.concatenate([c_subj, dead]),
        "j": np.concatenate([c_j, n_life[dead]]),
        "date": np.concatenate([c_date, death]),
        "court": np.concatenate([c_court, death]),
        "reg": np.concatenate([c_reg, death]),
        "role": np.concatenate([role, np.full(len(dead), ROLE_DEAD, np.int8)]),
    }
    perm = np.lexsort((cyc["j"], cyc["subj"]))
    cyc = {k: v[perm] for k, v in cyc.items()}
    c_subj, c_j, role = cyc["subj"], cyc["j"], cyc["role"]
    C = len(c_subj)
    c.keep(cyc=cyc, c_subj=c_subj, c_j=c_j, role=role, C=C)


def _cycle_places(ctx: _Context, rng: np.random.Generator, c: _Chunk) -> None:
    """Each cycle's county, which steps it has, how many charges, and its dates as written."""
    R = RATES
    role, C, f_290_reg, c_subj, cyc, dob = c.role, c.C, c.f_290_reg, c.c_subj, c.cyc, c.dob
    is_dead_c = role == ROLE_DEAD
    forced = (role != ROLE_NORMAL) & ~is_dead_c
    home = (role == ROLE_ANCHOR) | (rng.random(C) < R["home_county"])
    county = np.where(home, ctx.county_idx, _pick(rng, C, ctx.other_counties, ctx.other_p))
    has_court = ((rng.random(C) < R["court_step"]) | forced) & ~is_dead_c
    has_arrest = ((rng.random(C) < R["arrest_step"]) | ~has_court) & ~is_dead_c
    has_reg = ((role == ROLE_290) & f_290_reg[c_subj]) | (role == ROLE_REG)
    k_chg = np.where(is_dead_c, 0, 1 + _pick(rng, C, 4, N_CHARGES_P))
    cyc_date_int = _yyyymmdd(cyc["date"])
    partial_c = rng.random(C) < R["partial_cycle_date"]
    cyc_date_int = np.where(partial_c, cyc_date_int // 10000 * 10000, cyc_date_int)
    cyc_age = np.maximum(0, (cyc["date"] - dob[c_subj]) * 4 // 1461)
    c.keep(
        is_dead_c=is_dead_c,
        county=county,
        has_court=has_court,
        has_arrest=has_arrest,
        has_reg=has_reg,
        k_chg=k_chg,
        cyc_date_int=cyc_date_int,
        cyc_age=cyc_age,
    )


def _offenses(ctx: _Context, rng: np.random.Generator, c: _Chunk) -> None:
    """Each charge's offense: cannabis sections, rare cannabis variants, the other offenses."""
    R = RATES
    k_chg, role, cyc, anchor_sec, c_subj = c.k_chg, c.role, c.cyc, c.anchor_sec, c.c_subj
    h_cyc, h_no, h_start = _within(k_chg)
    H = len(h_cyc)
    h_role = np.where(h_no == 0, role[h_cyc], ROLE_NORMAL)
    h_court_date = cyc["court"][h_cyc]
    after = h_court_date > PROP64_EVE.astype(np.int64)
    p_cann = np.where(after, R["cannabis_charge_after"], R["cannabis_charge"])
    sec = np.where(
        np.isin(h_role, (ROLE_ANCHOR, ROLE_TP)),
        anchor_sec[c_subj[h_cyc]],
        np.where(rng.random(H) < p_cann, _pick(rng, H, 4, _norm(T.OTHER_SECTION_WEIGHTS)), -1),
    )
    off = ctx.other[0][_pick(rng, H, len(ctx.other[0]), ctx.other[1])]
    for si in range(4):
        m = sec == si
        ids, p = ctx.cannabis[si]
        off[m] = ids[_pick(rng, int(m.sum()), len(ids), p)]
    m = np.isin(h_role, (ROLE_SS, ROLE_SS_AFTER))
    off[m] = ctx.superstrike[0][
        _pick(rng, int(m.sum()), len(ctx.superstrike[0]), ctx.superstrike[1])
    ]
    m = h_role == ROLE_290
    off[m] = ctx.pc290[0][_pick(rng, int(m.sum()), len(ctx.pc290[0]), ctx.pc290[1])]
    # rare cannabis variants (the section never changes)
    v = rng.random(H)
    sec_c = np.maximum(sec, 0)
    for table, lo, hi in (
        (ctx.attempt, 0.0, R["attempt"]),
        (ctx.excluded, R["attempt"], R["attempt"] + R["excluded_subsection"]),
        (
            ctx.miscoded,
            R["attempt"] + R["excluded_subsection"],
            R["attempt"] + R["excluded_subsection"] + R["miscoded"],
        ),
    ):
        m = (sec >= 0) & (v >= lo) & (v < hi) & (table[sec_c] >= 0)
        off[m] = table[sec_c[m]]
    c.keep(
        h_cyc=h_cyc,
        h_no=h_no,
        h_start=h_start,
        H=H,
        h_role=h_role,
        h_court_date=h_court_date,
        off=off,
    )


def _outcomes(ctx: _Context, rng: np.random.Generator, c: _Chunk) -> None:
    """Each charge's court outcome: convicted or not, its severity, the kind of sentence."""
    R = RATES
    H, h_no, h_role, has_court, h_cyc, off, h_court_date = (
        c.H,
        c.h_no,
        c.h_role,
        c.has_court,
        c.h_cyc,
        c.off,
        c.h_court_date,
    )
    conv = rng.random(H) < np.where(h_no == 0, R["lead_convicted"], R["other_convicted"])
    conv |= np.isin(h_role, (ROLE_ANCHOR, ROLE_SS, ROLE_290, ROLE_TP, ROLE_SS_AFTER))
    conv &= has_court[h_cyc]
    sev = ctx.off_toc_sev[off].copy()
    wob = (sev == SEV_F) & ~ctx.off_superstrike[off] & (rng.random(H) < R["wobbler_to_misdemeanor"])
    sev[wob] = SEV_M
    sev[(off == ctx.b_11357) & (h_court_date >= np.datetime64("2011-01-01").astype(np.int64))] = (
        SEV_I
    )
    sev = np.where(conv, sev, 0)
    kind = np.full(H, KIND_FINE)
    x = rng.random(H)
    kind = np.where(
        sev == SEV_F, np.select([x < 0.2, x < 0.8], [KIND_PRISON, KIND_PROB], KIND_JAIL), kind
    )
    kind = np.where(
        sev == SEV_M, np.select([x < 0.5, x < 0.85], [KIND_PROB, KIND_JAIL], KIND_FINE), kind
    )
    kind = np.where(ctx.off_superstrike[off], KIND_PRISON, kind)
    c.keep(conv=conv, sev=sev, kind=kind)


def _sentence_parts(ctx: _Context, rng: np.random.Generator, c: _Chunk) -> None:
    """Each conviction's sentence parts: the main one, then jail (with probation), then a fine."""
    H, sev, conv, kind, off = c.H, c.sev, c.conv, c.kind, c.off
    main = np.full(H, ctx.no_sentence)
    fel = sev == SEV_F
    for k_, kd, pick in (
        (KIND_PRISON, "prison", None),
        (KIND_JAIL, "jail_f", fel),
        (KIND_JAIL, "jail_m", ~fel),
        (KIND_PROB, "prob_f", fel),
        (KIND_PROB, "prob_m", ~fel),
        (KIND_FINE, "fine", None),
    ):
        m = conv & (kind == k_) & (True if pick is None else pick)
        main[m] = ctx.choose_sentence(rng, kd, int(m.sum()))
    m = conv & ctx.off_superstrike[off]
    main[m] = ctx.choose_sentence(rng, "prison_long", int(m.sum()))
    y = rng.random(H)
    add_jail = conv & (kind == KIND_PROB) & (y < np.where(fel, 0.7, 0.4))
    add_fine = conv & (
        rng.random(H)
        < np.select(
            [kind == KIND_PRISON, kind == KIND_PROB, kind == KIND_JAIL],
            [0.15, np.where(fel, 0.3, 0.5), 0.3],
            0.0,
        )
    )
    jail = np.where(
        fel, ctx.choose_sentence(rng, "jail_f", H), ctx.choose_sentence(rng, "jail_m", H)
    )
    fine = ctx.choose_sentence(rng, "fine", H)
    parts = np.stack([main, np.where(add_jail, jail, fine), fine], axis=1)
    n_parts = np.where(conv, 1 + add_jail + add_fine, 1)
    disp_conv = np.where(conv, kind, -1)
    not_conv = _pick(rng, H, len(T.NOT_CONVICTED), _norm([w for _, w in T.NOT_CONVICTED]))
    c.keep(parts=parts, n_parts=n_parts, disp_conv=disp_conv, not_conv=not_conv)


def _relief_history(ctx: _Context, rng: np.random.Generator, c: _Chunk) -> None:
    """What automatic relief turns on: serious/violent felonies and their enhancement
    counts, probation revoked by a later court step (with or without a new sentence),
    convictions set aside by a later court step (PC 1203.4, 1203.4a, 1203.41), and
    court cases left open. Drawn from the second random stream (``_chunk``)."""
    R = RATES
    present_day = PRESENT.astype(np.int64)
    C, H, h_cyc, h_role, conv, sev, kind, parts, off = (
        c.C,
        c.H,
        c.h_cyc,
        c.h_role,
        c.conv,
        c.sev,
        c.kind,
        c.parts,
        c.off,
    )
    role, has_court, cyc, c_subj, n = c.role, c.has_court, c.cyc, c.c_subj, c.n
    # the last day a later court step can have: before today, and before a death
    limit = np.full(n, present_day)
    dead_c = role == ROLE_DEAD
    limit[c_subj[dead_c]] = cyc["date"][dead_c]
    c_limit = limit[c_subj] - 1
    court_day = cyc["court"]
    # serious and violent felonies instead of some other felony convictions
    other_fel = (
        conv
        & (sev == SEV_F)
        & (h_role == ROLE_NORMAL)
        & (ctx.off_cannabis[off] < 0)
        & (ctx.off_toc_sev[off] == SEV_F)
        & ~ctx.off_superstrike[off]
        & ~ctx.off_pc290[off]
    )
    sv = other_fel & (rng.random(H) < R["serious_violent"])
    off = off.copy()
    off[sv] = ctx.serious[0][_pick(rng, int(sv.sum()), len(ctx.serious[0]), ctx.serious[1])]
    h_enh = conv & (sev == SEV_F) & ctx.off_serious[off] & (rng.random(H) < R["enhancement"])
    h_enh_off = ctx.enhance[0][_pick(rng, H, len(ctx.enhance[0]), ctx.enhance[1])]
    # probation revoked: a later court step of the case, within the probation term
    normal = np.isin(role, (ROLE_NORMAL, ROLE_ANCHOR, ROLE_TP)) & has_court
    is_prob = conv & (kind == KIND_PROB)
    main_days = ctx.opt_days[parts[:, 0]]
    c_prob = np.bincount(h_cyc[is_prob], minlength=C) > 0
    c_prob_fel = np.bincount(h_cyc[is_prob & (sev == SEV_F)], minlength=C) > 0
    c_term = np.zeros(C)
    np.maximum.at(c_term, h_cyc[is_prob], main_days[is_prob])
    p_rev = np.where(c_prob_fel, R["revoked_felony"], R["revoked_misdemeanor"])
    revoke = c_prob & normal & (rng.random(C) < p_rev)
    rev_day = court_day + 30 + (rng.random(C) * np.maximum(c_term * 0.9 - 30, 1)).astype(np.int64)
    revoke &= rev_day <= c_limit
    resent = revoke & (rng.random(C) < R["revoked_resentenced"])
    to_prison = c_prob_fel & (rng.random(C) < R["revoked_prison"])
    new_sent = np.where(
        to_prison,
        ctx.choose_sentence(rng, "prison", C),
        np.where(
            c_prob_fel, ctx.choose_sentence(rng, "jail_f", C), ctx.choose_sentence(rng, "jail_m", C)
        ),
    )
    c_resent = np.where(resent, new_sent, ctx.no_sentence)
    x = rng.random(C)
    rev_text = np.where(resent, np.where(x < 0.6, 2, 0), np.where(x < 0.8, 0, 1))
    # earlier relief: a conviction set aside years after its sentence ended
    c_conv = np.bincount(h_cyc[conv], minlength=C) > 0
    lead = np.zeros(C, np.int64)
    ci = np.flatnonzero(conv)[::-1]
    lead[h_cyc[ci]] = ci  # the first convicted charge of each cycle
    lead_kind, lead_sev = kind[lead], sev[lead]
    realigned = court_day >= np.datetime64("2011-10-01").astype(np.int64)  # PC 1170(h)
    variant = np.select(
        [lead_kind == KIND_PROB, lead_sev != SEV_F, (lead_kind == KIND_JAIL) & realigned],
        [0, 1, 2],
        -1,
    )
    c_end = np.zeros(C)
    np.maximum.at(c_end, h_cyc[conv], main_days[conv])
    relief = c_conv & normal & ~revoke & (variant >= 0) & (rng.random(C) < R["set_aside"])
    rel_day = court_day + c_end.astype(np.int64) + 365 + rng.gamma(2.0, 730.0, C).astype(np.int64)
    relief &= rel_day <= c_limit
    # court cases with no final disposition (pending, or never reported)
    court_open = (role == ROLE_NORMAL) & has_court & ~c_conv & (rng.random(C) < R["court_open"])
    open_text = _pick(rng, C, len(T.OPEN_COURT), _norm([w for _, w in T.OPEN_COURT]))
    later = revoke | relief
    c.keep(
        off=off,
        h_enh=h_enh,
        h_enh_off=h_enh_off,
        c_revoke=revoke,
        c_resent=np.where(revoke, c_resent, ctx.no_sentence),
        c_relief=relief,
        c_relief_variant=np.where(relief, variant, -1),
        c_later=later,
        c_later_day=np.where(revoke, rev_day, rel_day),
        c_later_text=np.where(revoke, rev_text, len(T.REVOKED) + np.maximum(variant, 0)),
        c_open=court_open,
        c_open_text=open_text,
    )


def _steps(ctx: _Context, rng: np.random.Generator, c: _Chunk) -> None:
    """Each cycle's steps (events): arrest, court, registration or death; dates, agencies."""
    R = RATES
    is_dead_c, has_arrest, has_court, has_reg, cyc, county, role, c_later, c_later_day = (
        c.is_dead_c,
        c.has_arrest,
        c.has_court,
        c.has_reg,
        c.cyc,
        c.county,
        c.role,
        c.c_later,
        c.c_later_day,
    )
    n_steps = np.where(is_dead_c, 1, has_arrest.astype(np.int64) + has_court + has_reg + c_later)
    s_cyc, s_pos, _ = _within(n_steps)
    S = len(s_cyc)
    ha, hc = has_arrest[s_cyc].astype(np.int64), has_court[s_cyc].astype(np.int64)
    s_type = np.select(
        [
            is_dead_c[s_cyc],
            (s_pos == 0) & (ha == 1),
            s_pos == ha,
            (s_pos == ha + hc) & c_later[s_cyc],
        ],
        [STEP_DEAD, STEP_ARREST, STEP_COURT, STEP_LATER],
        STEP_REG,
    )
    s_type = np.where((s_type == STEP_COURT) & (hc == 0), STEP_REG, s_type)
    s_days = np.select(
        [
            s_type == STEP_ARREST,
            s_type == STEP_COURT,
            s_type == STEP_REG,
            s_type == STEP_LATER,
        ],
        [cyc["date"][s_cyc], cyc["court"][s_cyc], cyc["reg"][s_cyc], c_later_day[s_cyc]],
        cyc["date"][s_cyc],
    )
    s_date = _yyyymmdd(s_days)
    partial_s = rng.random(S) < R["partial_event_date"]
    s_date = np.where(
        partial_s,
        s_date // 10000 * 10000 + np.where(rng.random(S) < 0.5, 0, s_date % 10000 // 100 * 100),
        s_date,
    )
    s_cnty = county[s_cyc]
    pd_ok = (ctx.ag_npd[s_cnty] > 0) & (rng.random(S) < R["police_department"])
    pd = ctx.ag_pd0[s_cnty] + (rng.random(S) * np.maximum(ctx.ag_npd[s_cnty], 1)).astype(np.int64)
    muni = (
        (s_days < COURT_UNIFICATION.astype(np.int64))
        & (role[s_cyc] == ROLE_NORMAL)
        & (rng.random(S) < R["municipal_court"])
    )
    s_agency = np.select(
        [s_type == STEP_DEAD, s_type == STEP_COURT, s_type == STEP_LATER, pd_ok],
        [
            ctx.ag_co[s_cnty],
            np.where(muni, ctx.ag_mc[s_cnty], ctx.ag_sc[s_cnty]),
            ctx.ag_sc[s_cnty],
            pd,
        ],
        ctx.ag_so[s_cnty],
    )
    c.keep(
        s_cyc=s_cyc,
        s_pos=s_pos,
        S=S,
        s_type=s_type,
        s_days=s_days,
        s_date=s_date,
        partial_s=partial_s,
        s_cnty=s_cnty,
        s_agency=s_agency,
    )


def _counts(ctx: _Context, rng: np.random.Generator, c: _Chunk) -> None:
    """Each step's counts: the charges as the extract shows them, with comments and dates."""
    R = RATES
    s_type, k_chg, s_cyc, h_start, off, conv, c_j, s_pos, c_subj, partial_s, n_parts = (
        c.s_type,
        c.k_chg,
        c.s_cyc,
        c.h_start,
        c.off,
        c.conv,
        c.c_j,
        c.s_pos,
        c.c_subj,
        c.partial_s,
        c.n_parts,
    )
    h_enh, h_enh_off, C, h_cyc = c.h_enh, c.h_enh_off, c.C, c.h_cyc
    # a court step lists the cycle's charges, then its enhancement counts; a later
    # step (revocation, set aside) lists the cycle's convicted charges
    n_enh = np.bincount(h_cyc[h_enh], minlength=C)
    n_conv = np.bincount(h_cyc[conv], minlength=C)
    n_cnt = np.select(
        [s_type == STEP_ARREST, s_type == STEP_COURT, s_type == STEP_LATER],
        [k_chg[s_cyc], k_chg[s_cyc] + n_enh[s_cyc], n_conv[s_cyc]],
        1,
    )
    charged = (s_type == STEP_ARREST) | (s_type == STEP_COURT) | (s_type == STEP_LATER)
    k_step, k_no, _ = _within(n_cnt)
    K = len(k_step)
    k_type = s_type[k_step]
    k_cyc = s_cyc[k_step]
    k_court = k_type == STEP_COURT
    k_enh = k_court & (k_no >= k_chg[k_cyc])
    k_later = k_type == STEP_LATER
    enh_idx, conv_idx = np.flatnonzero(h_enh), np.flatnonzero(conv)
    k_chg_i = np.select(
        [k_enh, k_later, charged[k_step]],
        [
            _take(enh_idx, _starts(n_enh)[k_cyc] + k_no - k_chg[k_cyc]),
            _take(conv_idx, _starts(n_conv)[k_cyc] + k_no),
            np.minimum(h_start[k_cyc] + k_no, max(len(off) - 1, 0)),
        ],
        0,
    )
    k_off = np.select(
        [k_type == STEP_REG, k_type == STEP_DEAD, k_enh],
        [ctx.registration, ctx.no_offense, _take(h_enh_off, k_chg_i)],
        _take(off, k_chg_i),
    )
    k_conv = k_court & (conv[k_chg_i])
    k_cann = np.where(k_type <= STEP_COURT, ctx.off_cannabis[k_off], -1)
    comment_only = (
        k_court
        & (rng.random(K) < R["comment_charge"])
        & ~ctx.off_miscoded[k_off]
        & ~ctx.off_serious[k_off]
        & ~k_enh
    )
    conflict = k_court & (k_cann >= 0) & ~comment_only & (rng.random(K) < R["comment_conflict"])
    other_sec = (np.maximum(k_cann, 0) + rng.integers(1, 4, K)) % 4
    k_descr = np.where(
        comment_only, np.where(rng.random(K) < 0.7, ctx.see_comment, ctx.blank_descr), k_off
    )
    k_cnt_order = (
        (c_j[k_cyc] + 1) * 1_000_000_000 + (s_pos[k_step] + 1) * 1_000_000 + (k_no + 1) * 1000
    )
    k_subj = c_subj[k_cyc]
    k_invalid_date = partial_s[k_step].copy()
    k_parts = np.where(k_conv & ~k_enh, n_parts[k_chg_i], 1)
    c.keep(
        k_enh=k_enh,
        k_later=k_later,
        k_step=k_step,
        K=K,
        k_type=k_type,
        k_cyc=k_cyc,
        k_court=k_court,
        k_chg_i=k_chg_i,
        k_off=k_off,
        k_conv=k_conv,
        k_cann=k_cann,
        comment_only=comment_only,
        conflict=conflict,
        other_sec=other_sec,
        k_descr=k_descr,
        k_cnt_order=k_cnt_order,
        k_subj=k_subj,
        k_invalid_date=k_invalid_date,
        k_parts=k_parts,
    )


def _rows(ctx: _Context, rng: np.random.Generator, c: _Chunk) -> None:
    """One line per sentence part of each count; some parts moved away from their count."""
    R = RATES
    k_parts, K, k_subj, k_step, k_conv, parts, k_chg_i = (
        c.k_parts,
        c.K,
        c.k_subj,
        c.k_step,
        c.k_conv,
        c.parts,
        c.k_chg_i,
    )
    r_cnt, r_part, _ = _within(k_parts)
    L = len(r_cnt)
    moved_cnt = (k_parts > 1) & (rng.random(K) < R["moved_sentence_rows"])
    r_moved = moved_cnt[r_cnt] & (r_part > 0)
    r_subj = k_subj[r_cnt]
    perm = np.lexsort((np.arange(L), r_moved, r_subj))
    r_cnt, r_part, r_moved, r_subj = r_cnt[perm], r_part[perm], r_moved[perm], r_subj[perm]
    r_step = k_step[r_cnt]
    k_enh, k_later, c_resent, k_cyc = c.k_enh, c.k_later, c.c_resent, c.k_cyc
    r_sent = np.select(
        [k_conv[r_cnt] & ~k_enh[r_cnt], k_later[r_cnt]],
        [parts[k_chg_i[r_cnt], np.minimum(r_part, 2)], c_resent[k_cyc[r_cnt]]],
        ctx.no_sentence,
    )
    r_sent_piece = r_sent * 4 + np.where(r_sent != ctx.no_sentence, r_part + 1, 0)
    c.keep(
        r_cnt=r_cnt,
        L=L,
        moved_cnt=moved_cnt,
        r_subj=r_subj,
        r_step=r_step,
        r_sent_piece=r_sent_piece,
    )


def _dirty_lines(ctx: _Context, rng: np.random.Generator, c: _Chunk) -> None:
    """Choose the lines given a real-file defect (``dirty``): Latin-1 names, impossible dates,
    wrong field counts and unbalanced quotes."""
    dirty, L, sur_i, r_subj, r_step, S, partial_s, s_date, k_step, k_invalid_date = (
        c.dirty,
        c.L,
        c.sur_i,
        c.r_subj,
        c.r_step,
        c.S,
        c.partial_s,
        c.s_date,
        c.k_step,
        c.k_invalid_date,
    )
    targets = dict.fromkeys(DEFECTS, 0)
    if dirty > 0:
        for d in DEFECTS:
            t = dirty * L / len(DEFECTS)
            targets[d] = int(t) + int(rng.random() < t - int(t))
    # Latin-1 names: lines of people whose surname has an N-tilde spelling
    r_latin1 = np.zeros(L, bool)
    elig = np.flatnonzero(ctx.sur_has_tilde[sur_i[r_subj]])
    pick = rng.choice(elig, size=min(targets["latin1_name"], len(elig)), replace=False)
    r_latin1[pick] = True
    # impossible event dates: whole events, until the line budget is used
    s_rows = np.bincount(r_step, minlength=S)
    elig = rng.permutation(np.flatnonzero(~partial_s & (s_rows > 0)))
    take = elig[
        : np.searchsorted(np.cumsum(s_rows[elig]), targets["impossible_date"], side="right")
    ]
    s_impossible = np.zeros(S, bool)
    s_impossible[take] = True
    s_date = np.where(
        s_impossible,
        s_date // 10000 * 10000 + IMPOSSIBLE_MMDD[rng.integers(0, len(IMPOSSIBLE_MMDD), S)],
        s_date,
    )
    k_invalid_date |= s_impossible[k_step]
    r_date_bad = s_impossible[r_step]
    # structural defects: lines with no other defect
    elig = np.flatnonzero(~r_latin1 & ~r_date_bad)
    n_wfc, n_uq = targets["wrong_field_count"], targets["unbalanced_quote"]
    pick = rng.choice(elig, size=min(n_wfc + n_uq, len(elig)), replace=False)
    wfc_rows, uq_rows = np.sort(pick[:n_wfc]), np.sort(pick[n_wfc:])
    r_valid = np.ones(L, bool)
    r_valid[pick] = False
    c.keep(
        r_latin1=r_latin1,
        pick=pick,
        s_impossible=s_impossible,
        s_date=s_date,
        k_invalid_date=k_invalid_date,
        r_date_bad=r_date_bad,
        wfc_rows=wfc_rows,
        uq_rows=uq_rows,
        r_valid=r_valid,
    )


def _subject_text(ctx: _Context, rng: np.random.Generator, c: _Chunk) -> None:
    """The subject fields (0-34) of each person, as text: once plain, once with an N-tilde name."""
    R = RATES
    sur_i, giv_i, ini, dob, n, sid, cii, female, race = (
        c.sur_i,
        c.giv_i,
        c.ini,
        c.dob,
        c.n,
        c.sid,
        c.cii,
        c.female,
        c.race,
    )
    name = _cat(
        [ctx.sur.gather(sur_i), ",", ctx.given.gather(giv_i), ctx.initial.gather(ini)], sep=""
    )
    name_t = _cat(
        [ctx.sur_tilde.gather(sur_i), ",", ctx.given.gather(giv_i), ctx.initial.gather(ini)], sep=""
    )
    dob_int = _yyyymmdd(dob)
    dob_int = np.where(rng.random(n) < R["partial_dob"], dob_int // 10000 * 10000, dob_int)
    sid_s = _num(sid)
    cii_s = _when(rng.random(n) < 0.15, _cat(["A", _num(cii % 100_000_000, 8)], sep=""), _num(cii))
    inches = np.clip(np.round(rng.normal(np.where(female, 64, 69), 3)), 58, 80).astype(np.int64)
    height = _num(inches // 12 * 100 + inches % 12)
    weight = _num(np.clip(rng.normal(np.where(female, 150, 185), 30), 100, 350).astype(np.int64))
    subj_common = [
        ctx.race_piece.gather(race),
        ctx.eye.gather(_pick(rng, n, len(ctx.eye_p), ctx.eye_p)),
        ctx.hair.gather(_pick(rng, n, len(ctx.hair_p), ctx.hair_p)),
        height,
        weight,
        "x",
        "x",
        ctx.pob.gather(_pick(rng, n, len(ctx.pob_p), ctx.pob_p)),
        "x",
        "x",
    ]  # fields 21-34
    gender = _s(np.where(female, "F", "M"))
    dob_s = _num(dob_int)

    def subject_segment(nm: pl.Series) -> pl.Series:  # fields 0-34
        quoted = _cat(['"', nm, '"'], sep="")
        return _cat(
            [
                "x",
                "x",
                sid_s,
                "#",
                cii_s,
                "",
                "",
                "",
                "",
                "",
                "#",
                cii_s,
                quoted,
                gender,
                dob_s,
                "x",
                "x       ",
                "x",
                "x",
                "x",
                "#",
                *subj_common,
            ]
        )

    seg_subject = pl.concat([subject_segment(name), subject_segment(name_t)])
    c.keep(dob_int=dob_int, seg_subject=seg_subject)


def _event_text(ctx: _Context, rng: np.random.Generator, c: _Chunk) -> None:
    """The event fields (35-48) of each step, and its court case or booking number."""
    R = RATES
    s_date, c_j, s_cyc, cyc_date_int, s_pos, s_type, s_agency, k_off, k_step, S, K = (
        c.s_date,
        c.c_j,
        c.s_cyc,
        c.cyc_date_int,
        c.s_pos,
        c.s_type,
        c.s_agency,
        c.k_off,
        c.k_step,
        c.S,
        c.K,
    )
    stp_type = _s([f"{c},{d}" for c, d in STEP_TYPES])
    s_date_s = _num(s_date)
    seg_event = _cat(
        [  # fields 35-48
            "#",
            _num(c_j[s_cyc] + 1, 3),
            _num(cyc_date_int[s_cyc]),
            "#",
            _num(s_pos + 1, 3),
            s_date_s,
            stp_type.gather(s_type),
            ctx.agency.gather(s_agency),
        ]
    )
    # court case numbers (OFN) and arrest booking numbers, per event
    lead_sev = ctx.off_toc_sev[k_off[np.minimum(np.searchsorted(k_step, np.arange(S)), K - 1)]]
    case_no = _cat(
        [
            _num(s_date // 10000 % 100, 2),
            _s(["M", "F"]).gather(lead_sev == SEV_F),
            _num(rng.integers(0, 100_000, S), 5),
        ],
        sep="",
    )
    no_case = rng.random(S) < R["missing_case_number"]
    # a later court step of a case carries the case's number
    court_of = np.zeros(c.C, np.int64)
    court_of[s_cyc[s_type == STEP_COURT]] = np.flatnonzero(s_type == STEP_COURT)
    same = np.where(s_type == STEP_LATER, court_of[s_cyc], np.arange(S))
    case_no, no_case = case_no.gather(same), no_case[same]
    is_court = (s_type == STEP_COURT) | (s_type == STEP_LATER)
    is_arrest = s_type == STEP_ARREST
    s_disp_date = _when(is_court, s_date_s, "")
    s_ofn = _when(is_court, _when(no_case, "NULL  ", case_no), "")
    s_fe = _cat(
        [  # fields 66-77: booking number on arrests, case number on court actions
            "",
            "",
            "",
            "",
            "",
            "",
            _when(is_arrest, _num(rng.integers(1_000_000, 99_999_999, S)), ""),
            "",
            "",
            "",
            _when(is_court & ~no_case, case_no, ""),
            "",
        ]
    )
    c.keep(seg_event=seg_event, s_disp_date=s_disp_date, s_ofn=s_ofn, s_fe=s_fe)


def _count_text(ctx: _Context, rng: np.random.Generator, c: _Chunk) -> None:
    """The count fields (49-82 and 90-94) of each count: charge, disposition, severity, comment."""
    R = RATES
    (
        C,
        k_conv,
        k_court,
        k_type,
        has_court,
        k_cyc,
        disp_conv,
        k_chg_i,
        not_conv,
        sev,
        K,
        other_sec,
        comment_only,
        k_off,
        conflict,
        k_cnt_order,
        s_disp_date,
        k_step,
        s_ofn,
        k_descr,
        s_fe,
        cyc_age,
    ) = (
        c.C,
        c.k_conv,
        c.k_court,
        c.k_type,
        c.has_court,
        c.k_cyc,
        c.disp_conv,
        c.k_chg_i,
        c.not_conv,
        c.sev,
        c.K,
        c.other_sec,
        c.comment_only,
        c.k_off,
        c.conflict,
        c.k_cnt_order,
        c.s_disp_date,
        c.k_step,
        c.s_ofn,
        c.k_descr,
        c.s_fe,
        c.cyc_age,
    )
    arrest_only = _pick(rng, C, len(T.ARREST_ONLY), _norm([w for _, w in T.ARREST_ONLY]))
    texts = [
        "",
        *KIND_DISP,
        *(d for d, _ in T.NOT_CONVICTED),
        *(d for d, _ in T.ARREST_ONLY),
        *(d for d, _ in T.OPEN_COURT),
        *T.REVOKED,
        *T.SET_ASIDE,
    ]
    disp_texts = _s(texts)
    nk, nn = 1 + len(KIND_DISP), 1 + len(KIND_DISP) + len(T.NOT_CONVICTED)
    no_ = nn + len(T.ARREST_ONLY)
    nl = no_ + len(T.OPEN_COURT)
    disp_i = np.select(
        [
            k_conv,
            k_court & c.c_open[k_cyc],
            k_court,
            k_type == STEP_LATER,
            (k_type == STEP_ARREST) & ~has_court[k_cyc],
        ],
        [
            1 + disp_conv[k_chg_i],
            no_ + c.c_open_text[k_cyc],
            nk + not_conv[k_chg_i],
            nl + c.c_later_text[k_cyc],
            nn + arrest_only[k_cyc],
        ],
        0,
    )
    has_disp = np.array([bool(t) for t in texts])[disp_i]
    k_sev = np.where(k_conv, sev[k_chg_i], 0)
    k_sev = np.where(k_conv & (rng.random(K) < R["blank_conv_status"]), 0, k_sev)
    conflict_txt = _s([f"CHRG {s} HS" for s in T.CANNABIS_SECTIONS]).gather(other_sec)
    comment = _when(comment_only, ctx.chrg.gather(k_off), _when(conflict, conflict_txt, ""))
    seg_count = _cat(
        [  # fields 49-82
            "#",
            _num(k_cnt_order, 12),
            s_disp_date.gather(k_step),
            s_ofn.gather(k_step),
            "x",
            ctx.descr.gather(k_descr),
            ctx.toc.gather(k_off),
            '"              "',
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            s_fe.gather(k_step),
            _when(has_disp, "1", ""),
            "",
            disp_texts.gather(disp_i),
            '"          "',
            _s(SEVERITY).gather(k_sev),
        ]
    )
    seg_tail = _cat([_num(cyc_age[k_cyc]), "", "", comment, "#"])  # fields 90-94
    c.keep(k_sev=k_sev)
    c.keep(seg_count=seg_count, seg_tail=seg_tail, disp_i=disp_i, disp_text_list=texts)


def _lines(ctx: _Context, rng: np.random.Generator, c: _Chunk) -> bytes:
    """The chunk's lines: the level texts gathered per row, structural defects applied, as bytes."""
    (
        seg_subject,
        r_subj,
        n,
        r_latin1,
        seg_event,
        r_step,
        seg_count,
        r_cnt,
        r_sent_piece,
        seg_tail,
        pick,
        wfc_rows,
        uq_rows,
    ) = (
        c.seg_subject,
        c.r_subj,
        c.n,
        c.r_latin1,
        c.seg_event,
        c.r_step,
        c.seg_count,
        c.r_cnt,
        c.r_sent_piece,
        c.seg_tail,
        c.pick,
        c.wfc_rows,
        c.uq_rows,
    )
    lines = _cat(
        [
            seg_subject.gather(r_subj + n * r_latin1),
            seg_event.gather(r_step),
            seg_count.gather(r_cnt),
            ctx.sentence.gather(r_sent_piece),
            seg_tail.gather(r_cnt),
        ]
    )

    # structural defects, applied to the few chosen lines only
    variants: Counter = Counter()
    if len(pick):
        sub = pl.DataFrame({"l": lines.gather(pick)})
        wfc_v = np.where(np.isin(pick, wfc_rows), rng.integers(0, 3, len(pick)), -1)
        uq_v = np.where(np.isin(pick, uq_rows), rng.integers(0, 2, len(pick)), -1)
        has_dash = sub["l"].str.contains("-", literal=True).to_numpy()
        has_filler = sub["l"].str.contains(",x,", literal=True).to_numpy()
        wfc_v = np.where((wfc_v == 2) & ~has_dash, 1, wfc_v)
        uq_v = np.where((uq_v == 1) & ~has_filler, 0, uq_v)
        names = {0: "dropped_field", 1: "extra_trailing_comma", 2: "unquoted_comma"}
        for i, nm in names.items():
            variants[nm] += int((wfc_v == i).sum())
        # A quote opening a value that is never closed properly: invalid under any
        # CSV reading (a quote inside an unquoted value would be a character).
        variants["unclosed_quote_record_id"] += int((uq_v == 0).sum())
        variants["unclosed_quote_filler"] += int((uq_v == 1).sum())
        col = pl.col("l")
        sub = sub.with_columns(
            pl.when(pl.lit(wfc_v) == 0)
            .then(col.str.slice(2))
            .when(pl.lit(wfc_v) == 1)
            .then(col + ",")
            .when(pl.lit(wfc_v) == 2)
            .then(col.str.replace("-", ",", literal=True))
            .when(pl.lit(uq_v) == 0)
            .then(pl.lit('"') + col)
            .otherwise(col.str.replace(",x,", ',"x,', literal=True))
        )
        lines = lines.scatter(pick, sub["l"])

    buf = io.BytesIO()
    pl.DataFrame({"l": lines}).write_csv(buf, include_header=False, quote_style="never")
    out = buf.getvalue()
    if r_latin1.any():
        out = out.replace("\u00d1".encode(), "\u00d1".encode("latin-1"))
    c.keep(variants=variants)
    return out


def _figures(ctx: _Context, c: _Chunk, fig: _Figures) -> None:
    """Add the chunk's ground truth (rows, convictions, defects) to the intended figures."""
    (
        r_cnt,
        r_valid,
        K,
        r_subj,
        n,
        L,
        wfc_rows,
        uq_rows,
        k_conv,
        k_off,
        k_cann,
        s_cnty,
        k_step,
        k_invalid_date,
        r_date_bad,
        r_latin1,
        variants,
        s_impossible,
    ) = (
        c.r_cnt,
        c.r_valid,
        c.K,
        c.r_subj,
        c.n,
        c.L,
        c.wfc_rows,
        c.uq_rows,
        c.k_conv,
        c.k_off,
        c.k_cann,
        c.s_cnty,
        c.k_step,
        c.k_invalid_date,
        c.r_date_bad,
        c.r_latin1,
        c.variants,
        c.s_impossible,
    )
    k_present = np.bincount(r_cnt, weights=r_valid, minlength=K) > 0
    subj_present = np.bincount(r_subj, weights=r_valid, minlength=n) > 0
    fig.rows += L
    fig.rejected += int((~r_valid).sum())
    fig.rejects["wrong_field_count"] += len(wfc_rows)
    fig.rejects["unbalanced_quote"] += len(uq_rows)
    fig.subjects += int(subj_present.sum())
    kc = k_conv & k_present
    fig.convictions += int(kc.sum())
    codes = ctx.off_code[k_off[kc]]
    for ci, cnt in zip(*np.unique(codes, return_counts=True), strict=True):
        fig.by_code[ctx.codes[ci]] += int(cnt)
    kcc = kc & (k_cann >= 0)
    cc = ctx.counties
    pairs = s_cnty[k_step[kcc]] * 4 + k_cann[kcc]
    for p_, cnt in zip(*np.unique(pairs, return_counts=True), strict=True):
        fig.by_county.setdefault(cc[p_ // 4], Counter())[T.CANNABIS_SECTIONS[p_ % 4]] += int(cnt)
    fig.invalid_event_dates += int((k_invalid_date & k_present).sum())
    fig.dirty_lines["wrong_field_count"] += len(wfc_rows)
    fig.dirty_lines["unbalanced_quote"] += len(uq_rows)
    fig.dirty_lines["impossible_date"] += int(r_date_bad.sum())
    fig.dirty_lines["latin1_name"] += int(r_latin1.sum())
    fig.dirty_variants.update(variants)
    fig.impossible_date_events += int(s_impossible.sum())
    fig.latin1_subjects += len(np.unique(r_subj[r_latin1]))
    c.keep(k_present=k_present, subj_present=subj_present, kc=kc, kcc=kcc)


def _facts(ctx: _Context, c: _Chunk, fig: _Figures) -> None:
    """Add the facts the rules turn on (people or conviction counts with a valid line)."""
    (
        subj_present,
        f_ss,
        f_ss_after,
        f_290,
        f_290_reg,
        f_reg,
        f_tp,
        f_dead,
        dob_int,
        s_days,
        k_step,
        dob,
        k_subj,
        kcc,
        s_cnty,
        k_off,
        comment_only,
        conflict,
        k_invalid_date,
        kc,
        k_present,
        k_parts,
        moved_cnt,
    ) = (
        c.subj_present,
        c.f_ss,
        c.f_ss_after,
        c.f_290,
        c.f_290_reg,
        c.f_reg,
        c.f_tp,
        c.f_dead,
        c.dob_int,
        c.s_days,
        c.k_step,
        c.dob,
        c.k_subj,
        c.kcc,
        c.s_cnty,
        c.k_off,
        c.comment_only,
        c.conflict,
        c.k_invalid_date,
        c.kc,
        c.k_present,
        c.k_parts,
        c.moved_cnt,
    )
    f = fig.facts
    sp = subj_present
    f["subjects_superstrike_prior"] += int((f_ss & sp).sum())
    f["subjects_superstrike_after"] += int((f_ss_after & sp).sum())
    f["subjects_pc290_prior"] += int((f_290 & sp).sum())
    f["subjects_registration"] += int(((f_290_reg | f_reg) & sp).sum())
    f["subjects_registration_without_conviction"] += int((f_reg & sp).sum())
    f["subjects_two_priors_same_section"] += int((f_tp & sp).sum())
    f["subjects_deceased"] += int((f_dead & sp).sum())
    f["subjects_partial_dob"] += int(((dob_int % 10000 == 0) & sp).sum())
    conv_age = (s_days[k_step] - dob[k_subj]) * 4 // 1461
    f["cannabis_convictions"] += int(kcc.sum())
    f["cannabis_convictions_in_county"] += int((kcc & (s_cnty[k_step] == ctx.county_idx)).sum())
    f["cannabis_convictions_after_prop64"] += int(
        (kcc & (s_days[k_step] > PROP64_EVE.astype(np.int64))).sum()
    )
    f["cannabis_convictions_under_21"] += int((kcc & (conv_age < 21)).sum())
    f["cannabis_attempts"] += int((kcc & ctx.off_attempt[k_off]).sum())
    f["cannabis_excluded_subsection"] += int((kcc & ctx.off_excluded[k_off]).sum())
    f["cannabis_miscoded"] += int((kcc & ctx.off_miscoded[k_off]).sum())
    f["cannabis_comment_only"] += int((kcc & comment_only).sum())
    f["cannabis_comment_conflict"] += int((kcc & conflict).sum())
    f["cannabis_invalid_date"] += int((kcc & k_invalid_date).sum())
    f["convictions_comment_only"] += int((kc & comment_only).sum())
    f["multi_part_counts"] += int((k_present & (k_parts > 1)).sum())
    f["multi_part_counts_not_adjacent"] += int((k_present & moved_cnt).sum())


def disposition_kind(text: str) -> str:
    """The kind of a DISP_DESCR as ca-automatic-relief.md ("Precise readings") reads it,
    most specific first: used for the figures, never for writing."""
    t = text.strip().upper()
    relief_sections = ("1203.4", "1203.41", "1203.42", "1203.425", "1203.49")
    if t.startswith("CONVICTED"):
        return "convicted"
    if "PROHIBIT" in t:
        return "prohibited"
    if "RELIEF GRANTED" in t or (
        ("SET ASIDE" in t or "DISM" in t) and any(x in t for x in relief_sections)
    ):
        return "relieved"
    if "PROB" in t and "REVOK" in t:
        return "revoked"
    if any(x in t for x in ("DIVERSION", "DEFERRED ENTRY", "DEJ")) and (
        "COMPLET" in t or "DISM" in t
    ):
        return "diversion"
    if "ACQUIT" in t or "NOT GUILTY" in t:
        return "acquitted"
    if t.startswith("DISMISS") or "1385" in t or "1001.95" in t:
        return "dismissed"
    if not t or ("COMPLAINT" in t and "FILED" in t):
        return "open"
    if any(x in t for x in ("REL/TOT", "TRANSFER", "WARRANT", "CONTINU")):
        return "open"
    if t.startswith("PROS REJ"):
        return "rejected"
    return "final"


def _add_months(days: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Calendar arithmetic: days since 1970 plus whole months (the 31st becomes the last day)."""
    d = days.astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    dom = (d - m.astype("datetime64[D]")).astype(np.int64)
    m2 = m + months.astype(np.int64)
    last = ((m2 + 1).astype("datetime64[D]") - m2.astype("datetime64[D]")).astype(np.int64)
    return (m2.astype("datetime64[D]") + np.minimum(dom, last - 1)).astype(np.int64)


def _relief_facts(ctx: _Context, c: _Chunk, fig: _Figures) -> None:
    """Add the facts automatic relief turns on (records with a valid line), by kind."""
    f = fig.facts
    k_present, kc, k_enh, k_step, k_cyc, k_type, k_chg_i, k_off, k_subj = (
        c.k_present,
        c.kc,
        c.k_enh,
        c.k_step,
        c.k_cyc,
        c.k_type,
        c.k_chg_i,
        c.k_off,
        c.k_subj,
    )
    S, C, K, s_type, s_cyc, s_days, has_court = (
        c.S,
        c.C,
        c.K,
        c.s_type,
        c.s_cyc,
        c.s_days,
        c.has_court,
    )
    kind_of = np.array([disposition_kind(t) for t in c.disp_text_list])
    k_kind = kind_of[c.disp_i]
    s_present = np.bincount(k_step, weights=k_present, minlength=S) > 0
    # convictions: sentences, revocations, set-asides, serious/violent, enhancements
    base = kc & ~k_enh
    parts, n_parts = c.parts[k_chg_i], c.n_parts[k_chg_i]
    locs = ctx.opt_loc[parts]
    has_loc = {
        loc: base & ((locs == loc) & (np.arange(3)[None, :] < n_parts[:, None])).any(axis=1)
        for loc in ("P", "J", "S")
    }
    f["convictions_probation"] += int(has_loc["P"].sum())
    f["convictions_probation_revoked"] += int((has_loc["P"] & c.c_revoke[k_cyc]).sum())
    f["convictions_jail"] += int(has_loc["J"].sum())
    f["convictions_prison"] += int(has_loc["S"].sum())
    rev_steps = (s_type == STEP_LATER) & c.c_revoke[s_cyc] & s_present
    new_loc = ctx.opt_loc[c.c_resent[s_cyc]]
    f["revocation_steps"] += int(rev_steps.sum())
    f["revocation_steps_new_jail"] += int((rev_steps & (new_loc == "J")).sum())
    f["revocation_steps_new_prison"] += int((rev_steps & (new_loc == "S")).sum())
    rel_counts = (k_type == STEP_LATER) & c.c_relief[k_cyc] & k_present
    f["set_aside_steps"] += int(((s_type == STEP_LATER) & c.c_relief[s_cyc] & s_present).sum())
    for v, name in enumerate(("1203_4", "1203_4a", "1203_41")):
        f[f"convictions_set_aside_{name}"] += int(
            (rel_counts & (c.c_relief_variant[k_cyc] == v)).sum()
        )
    f["convictions_serious_violent"] += int((kc & ctx.off_serious[k_off]).sum())
    f["enhancement_counts"] += int((kc & k_enh).sum())
    # prison terms, then felony convictions within four years of completion (term +
    # 3 years of supervision) or only later; dates that are valid on both sides
    k_level = np.where(c.k_sev > 0, c.k_sev, ctx.off_toc_sev[k_off])
    k_day = s_days[k_step]
    valid = ~c.k_invalid_date
    fel = np.flatnonzero(kc & (k_level == SEV_F) & valid)
    offset = 1 << 22
    fkey = np.sort(k_subj[fel] * (1 << 23) + k_day[fel] + offset)
    pr = np.flatnonzero(has_loc["S"] & valid)
    main = parts[pr, 0]
    months = np.where(ctx.opt_unit[main] == "Y", 12, 1) * ctx.opt_len[main]
    end = _add_months(k_day[pr], months + 36)
    end4 = _add_months(end, np.full(len(pr), 48))
    base_key = k_subj[pr] * (1 << 23) + offset
    within = np.searchsorted(fkey, base_key + end4, "right") - np.searchsorted(
        fkey, base_key + end, "right"
    )
    later = np.searchsorted(fkey, base_key - offset + (1 << 23), "left")
    later = later - np.searchsorted(fkey, base_key + end4, "right")
    f["prison_then_felony_within_4y"] += int((within > 0).sum())
    f["prison_then_felony_after_4y"] += int(((within == 0) & (later > 0)).sum())
    # arrests: their level, and what became of them
    arrest = (s_type == STEP_ARREST) & s_present
    first = np.minimum(np.searchsorted(k_step, np.arange(S)), K - 1)
    s_kind = k_kind[first]
    fel_cnt = np.bincount(k_step, weights=ctx.off_toc_sev[k_off] == SEV_F, minlength=S) > 0
    no_court = arrest & ~has_court[s_cyc]
    f["arrests"] += int(arrest.sum())
    f["arrests_without_court_felony"] += int((no_court & fel_cnt).sum())
    f["arrests_without_court_misdemeanor"] += int((no_court & ~fel_cnt).sum())
    f["arrests_without_court_rejected"] += int((no_court & (s_kind == "rejected")).sum())
    f["arrests_without_court_open"] += int((no_court & (s_kind == "open")).sum())
    court = (k_type == STEP_COURT) & k_present
    for kd in ("dismissed", "acquitted", "diversion", "open"):
        f[f"court_counts_{kd}"] += int((court & (k_kind == kd)).sum())

    def any_in(mask: np.ndarray) -> np.ndarray:
        return np.bincount(k_cyc[mask], minlength=C) > 0

    c_conv = any_in(court & (k_kind == "convicted"))
    c_court_n = np.bincount(k_cyc[court], minlength=C)
    c_dism_n = np.bincount(k_cyc[court & (k_kind == "dismissed")], minlength=C)
    unconv = arrest & has_court[s_cyc] & ~c_conv[s_cyc]
    f["arrests_court_no_conviction"] += int(unconv.sum())
    for kd in ("acquitted", "diversion", "open"):
        f[f"arrests_court_{kd}"] += int((unconv & any_in(court & (k_kind == kd))[s_cyc]).sum())
    all_dism = (c_court_n > 0) & (c_dism_n == c_court_n)
    f["arrests_court_all_dismissed"] += int((unconv & all_dism[s_cyc]).sum())
    s_court_n = np.bincount(k_step[court], minlength=S)
    s_open_n = np.bincount(k_step[court & (k_kind == "open")], minlength=S)
    f["court_steps_open"] += int(((s_court_n > 0) & (s_open_n == s_court_n)).sum())
    open_rec = (k_present & (k_type <= STEP_COURT) & (k_kind == "open")) & (
        (k_type == STEP_COURT) | ~has_court[k_cyc]
    )
    f["subjects_open_record"] += len(np.unique(k_subj[open_rec]))


# --------------------------------------------------------------------- public API


def header_line() -> bytes:
    return (",".join(FIELDS) + "\n").encode("ascii")


def generate(
    out: Path,
    *,
    subjects: int,
    county: str = "SACRAMENTO",
    seed: int = 0,
    dirty: float = 0.0,
    header: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Write a synthetic DOJ extract to `out`; return the intended figures.

    See the ``clearance.synth`` docstring for the content and the figures.
    """
    if subjects < 0:
        raise ValueError("subjects must be >= 0")
    if not 0.0 <= dirty <= 1.0:
        raise ValueError("dirty must be between 0 and 1")
    county = " ".join(county.upper().split())
    if not county:
        raise ValueError("county must not be empty")
    ctx = _Context(county=county, seed=int(seed))
    fig = _Figures()
    out = Path(out)
    # One chunk is written (by a helper thread) while the next is built: at most two
    # chunks in memory.
    with out.open("wb") as fh, ThreadPoolExecutor(max_workers=1) as writer:
        if header:
            fh.write(header_line())
        pending: Future | None = None
        done = 0
        for ci, g0 in enumerate(range(0, subjects, CHUNK_SUBJECTS)):
            n = min(CHUNK_SUBJECTS, subjects - g0)
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), ci])))
            rng_ca = np.random.Generator(
                np.random.PCG64(np.random.SeedSequence([int(seed), ci, 1]))
            )
            data = _chunk(ctx, rng, g0, n, dirty, fig, rng_ca)
            if pending is not None:
                pending.result()
                if progress is not None:
                    progress(done)
            pending = writer.submit(fh.write, data)
            done = g0 + n
        if pending is not None:
            pending.result()
    if progress is not None:
        progress(done)
    return {
        "rows": {"read": fig.rows, "rejected": fig.rejected},
        "subjects": fig.subjects,
        "convictions": fig.convictions,
        "convictions_by_code": dict(sorted(fig.by_code.items())),
        "cannabis_convictions_by_county": {
            c: {s: fig.by_county[c].get(s, 0) for s in T.CANNABIS_SECTIONS}
            for c in sorted(fig.by_county)
        },
        "rejects_by_reason": {
            "wrong_field_count": fig.rejects["wrong_field_count"],
            "unbalanced_quote": fig.rejects["unbalanced_quote"],
        },
        "invalid_event_dates": fig.invalid_event_dates,
        "dirty": {
            "fraction": dirty,
            "lines": {d: fig.dirty_lines[d] for d in DEFECTS},
            "variants": dict(sorted(fig.dirty_variants.items())),
            "impossible_date_events": fig.impossible_date_events,
            "latin1_subjects": fig.latin1_subjects,
        },
        "facts": dict(sorted(fig.facts.items())),
        "parameters": {
            "subjects": subjects,
            "county": county,
            "seed": int(seed),
            "dirty": dirty,
            "header": header,
            "present": str(PRESENT),
        },
    }
