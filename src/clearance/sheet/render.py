"""Print a person of an extract as a California rap sheet, in rap-sheet.md's layout.

The reader's proof (tests/test_sheet_roundtrip.py): a synthetic extract's person,
printed here and read back by ``clearance.sheet.parse``, is decided exactly as the
extract's rows are. With ``noise`` (a ``random.Random``) the sheet carries what
terminals and OCR add: a transmission header, banners, page breaks and page
numbers, cycle delimiters with more asterisks, em-dash step delimiters,
``ARR/OET/CITE``, ``CNT:0    1`` and ``CNT:00l``, a letter O for a zero in dates,
``DISMISSSED``.

The extract holds one fact a printed sheet does not: each charge's type
(``OFFENSE_TOC``: F, M or I), which PC 851.93 reads for arrests. It is printed as a
``TOC:`` line under the charge (docs/rap-sheet.md); a sheet without it leaves the
type unknown, and the rules route what needs it to review.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import polars as pl

from clearance.sheet.rules import LAYOUT

_STRIKE = ["* * * * * * * * * * *", "** POTENTIAL FELONY STRIKE ENTRY **", "* * * * * * * * * * *"]


def _first(rows: list[dict], key: str):
    return rows[0].get(key)


def _count_block(rows: list[dict]) -> dict:
    """One count's facts from its rows (first line first)."""
    rows = sorted(rows, key=lambda r: r["line"])
    first = rows[0]
    dispositions: dict[int, str] = {}
    for r in rows:
        if r["disposition"] is not None:
            order = int(r["disp_order"]) if (r["disp_order"] or "").isdigit() else 1
            dispositions.setdefault(order, r["disposition"])
    parts: dict[int, tuple] = {}
    for r in rows:
        if r["sent_order"] is not None or r["sent_loc"] is not None:
            order = int(r["sent_order"]) if (r["sent_order"] or "").isdigit() else 1
            parts.setdefault(order, (r["sent_loc"], r["sent_length_raw"], r["sent_time_code"]))
    return {
        "number": int(first["cnt_order"][6:9]),
        "case": first["case_number"],
        "offense": first["offense_raw"],
        "toc": first["offense_toc"],
        "comment": first["comment_text"],
        "status": first["conv_status"],
        "dispositions": [dispositions[k] for k in sorted(dispositions)],
        "parts": [parts[k] for k in sorted(parts)],
    }


def _sentence(parts: list[tuple]) -> str:
    words = LAYOUT.unit_words
    out = []
    for loc, length, unit in parts:
        pieces = []
        if length is not None:
            pieces += [length.strip(), words.get(unit, unit or "")]
        if loc is not None:
            pieces.append(loc.strip())
        out.append(" ".join(p for p in pieces if p))
    return ", ".join(out)


def _clean(value) -> str | None:
    if value is None:
        return None
    value = " ".join(str(value).split())
    return value or None


def render_person(rows: pl.DataFrame, noise: random.Random | None = None) -> str:
    """One person's staged rows (the extract reader's columns) as a rap sheet."""
    data = rows.sort("line").to_dicts()
    if not data:
        raise ValueError("no rows to render")
    lines = list(_lines(data, noise))
    if noise is not None:
        lines = _paged(lines, noise)
    return "\n".join(lines) + "\n"


def _lines(data: list[dict], noise: random.Random | None) -> Iterator[str]:
    p = data[0]
    if noise is not None:
        yield "TO: JDI3 FROM: CLETS                05/08/06 05:27:16"
        yield ""
        yield "RESTRICTED-DO NOT USE FOR EMPLOYMENT,LICENSING OR CERTIFICATION PURPOSES"
        yield "*  *  *  *  *  *  *  *  *  *  *  *  *  *  *  *  *  *  *  *  *"
        yield "III CALIFORNIA ONLY SOURCE RECORD"
        yield ""
    yield f"CII/{p['cii_number']}"
    tokens = [
        f"{k}/{_clean(v)}"
        for k, v in (
            ("DOB", p["dob_raw"]),
            ("SEX", p["gender"]),
            ("RAC", p["race_descr"] or p["race_code"]),
        )
        if _clean(v)
    ]
    if tokens:
        yield " ".join(tokens)
    if _clean(p["name"]):
        yield f"NAM/01 {_clean(p['name'])}"
    if noise is not None:
        yield f"FBI/{noise.randrange(10**6, 10**7)}"
        yield f"SOC/{noise.randrange(10**8, 10**9)}"
    yield ""
    cycles: dict[str, dict[str, list[dict]]] = {}
    for r in sorted(data, key=lambda r: (r["cnt_order"], r["line"])):
        cycles.setdefault(r["cnt_order"][:3], {}).setdefault(r["cnt_order"][3:6], []).append(r)
    for c, steps in enumerate(cycles.values()):
        if noise is not None and c and noise.random() < 0.3:
            yield from _STRIKE
        yield _delimiter(noise, cycle=True)
        for s, step_rows in enumerate(steps.values()):
            if s:
                yield _delimiter(noise, cycle=False)
            yield from _step(step_rows, noise)
    yield "     *    *    *    END OF MESSAGE    *    *    *"


def _delimiter(noise: random.Random | None, *, cycle: bool) -> str:
    if cycle:
        if noise is None:
            return "* * * *"
        return noise.choice(["* * * *", "*    *    *    *", "* * * * *", "* * * * ."])
    if noise is None:
        return "- - - -"
    return noise.choice(["- - - -", "\u2014 \u2014 \u2014 \u2014", "- - - - -"])


def _step(rows: list[dict], noise: random.Random | None) -> Iterator[str]:
    first = rows[0]
    header = LAYOUT.headers.get(first["event_type"], first["event_type"] or "STEP")
    if noise is not None and header == "ARR/DET/CITE" and noise.random() < 0.3:
        header = "ARR/OET/CITE"
    yield f"{header + ':':<22}NAM:01"
    date = first["event_date_raw"] or ""
    if noise is not None and "0" in date and noise.random() < 0.3:
        i = noise.choice([k for k, ch in enumerate(date) if ch == "0"])
        date = date[:i] + "O" + date[i + 1 :]
    yield f"{date}  {_clean(first['agency']) or ''}".rstrip()
    yield ""
    counts: dict[str, list[dict]] = {}
    for r in rows:
        counts.setdefault(r["cnt_order"], []).append(r)
    blocks = [_count_block(v) for v in counts.values()]
    i = 0
    while i < len(blocks):
        block = blocks[i]
        j = i + 1
        same = {k: v for k, v in block.items() if k != "number"}
        while (
            j < len(blocks)
            and blocks[j]["number"] == blocks[j - 1]["number"] + 1
            and {k: v for k, v in blocks[j].items() if k != "number"} == same
        ):
            j += 1
        yield from _count(block, blocks[j - 1]["number"], noise)
        i = j


def _number(n: int, noise: random.Random | None) -> str:
    text = f"{n:02d}"
    if noise is not None and n == 1:
        return noise.choice(["01", "01", "0    1", "00l", "O1"])
    return text


def _count(block: dict, last: int, noise: random.Random | None) -> Iterator[str]:
    number = _number(block["number"], noise)
    if last != block["number"]:
        number = f"{block['number']:02d}-{last:02d}"
    case = f" #{_clean(block['case'])}" if _clean(block["case"]) else ""
    yield f"CNT:{number}{'    ' if case else ''}{case}"
    if _clean(block["offense"]):
        yield f"  {_clean(block['offense'])}"
    if _clean(block["toc"]):
        yield f"   TOC:{_clean(block['toc'])}"
    if _clean(block["comment"]):
        yield f"   COM: {_clean(block['comment'])}"
    for disposition in block["dispositions"]:
        text = _clean(disposition) or ""
        if noise is not None and "DISMISSED" in text and noise.random() < 0.3:
            text = text.replace("DISMISSED", "DISMISSSED", 1)
        star = "*" if text.startswith("CONVICTED") else " "
        yield f"{star}DISPO:{text}"
    if _clean(block["status"]):
        yield f"   CONV STATUS:{_clean(block['status'])}"
    if block["parts"]:
        yield f"   SEN: {_sentence(block['parts'])}"
    yield ""


def _paged(lines: list[str], noise: random.Random) -> list[str]:
    """Page breaks as a printout has them: a form feed and a page number."""
    out: list[str] = []
    page = 1
    for k, line in enumerate(lines):
        out.append(line)
        if k > 8 and noise.random() < 0.04:
            page += 1
            out += ["", f"PAGE {page}", "\f", ""]
    return out


def render_extract(staged: pl.DataFrame) -> dict[str, str]:
    """Every person of an extract's staged rows, as a sheet each (by subject id)."""
    return {
        str(key[0]): render_person(group)
        for key, group in staged.group_by("subject_id", maintain_order=True)
    }
