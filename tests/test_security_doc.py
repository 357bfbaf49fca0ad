"""docs/security.md names, for each guarantee, the test that holds it: every name must exist.

A guarantee whose test was renamed or removed would otherwise still read as held.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "security.md"


def test_every_test_the_security_doc_names_exists():
    text = DOC.read_text("utf-8")
    sources = {p.relative_to(ROOT).as_posix(): p.read_text("utf-8") for p in
               (ROOT / "tests").rglob("*.py")}  # fmt: skip
    every = "\n".join(sources.values())
    named = set(
        re.findall(
            r"`(?:((?:tests|src/clearance/packs)/[\w/]+\.(?:py|yaml))(?:::)?)?(test_\w+)?`", text
        )
    )
    assert len(named) > 40, "the doc names its tests in backquotes"
    missing = []
    for path, test in named:
        if path and not (ROOT / path).exists():
            missing.append(path)
        if test and not re.search(rf"def {test}\b", sources.get(path) or every):
            missing.append(f"{path}::{test}" if path else test)
    assert not missing, f"docs/security.md names tests that do not exist: {sorted(missing)}"
