"""The filings' and letters' words, read from the YAML files in `templates/`.

Legal prose and citations live in those files (as Jinja2 snippets), so a lawyer
can read and correct them without reading Python. This module loads them
strictly (a repeated key is an error), renders a snippet with a context, and
turns a document's outline into `Block`s that the PDF and Word writers lay out
the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jinja2

from clearance.law.yamlio import load_strict_yaml

__all__ = [
    "Block",
    "DocumentText",
    "bind_citations",
    "document_text",
    "letter_text",
    "pleading_text",
    "render",
    "thousands",
]

TEMPLATE_PACKAGE = "clearance.filings"
TEMPLATE_FOLDER = "templates"
BLOCK_KINDS = ("heading", "para", "text", "table", "signature")


def thousands(value: int) -> str:
    """`66000` -> `66,000`: figures in prose and tables."""
    return f"{int(value):,}"


NBSP = "\u00a0"
# A citation: the word or sign that names it, then its numbers (joined by "and").
_CITATION = re.compile(
    r"(?:§§?|\bsections?|\bHS|\bPC)(?:\s+(?:\d[\w.()]*,?|and(?=\s+\d)))+", re.IGNORECASE
)


def bind_citations(text: str) -> str:
    """`sections 11361.8 and 11361.9` with no-break spaces, so a heading or title that
    wraps never parts a section sign or a word from its number (PDF and Word alike)."""
    return _CITATION.sub(lambda m: re.sub(r"\s+", NBSP, m.group(0)), text)


def _plural(word: str, count: int) -> str:
    return word if count == 1 else word + "s"


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,  # a misspelt field fails loudly, never prints blank
        autoescape=False,  # plain text; each writer escapes for its own format
        keep_trailing_newline=False,
    )
    env.filters["n"] = thousands
    env.filters["plural"] = _plural
    return env


@cache
def _compiled(source: str) -> jinja2.Template:
    return _environment().from_string(source)


def render(source: str, context: Mapping[str, Any], *, collapse: bool = True) -> str:
    """Render one snippet; with `collapse`, runs of white space become one space."""
    text = _compiled(source).render(context)
    return " ".join(text.split()) if collapse else text.strip()


def _condition(expression: str, context: Mapping[str, Any]) -> bool:
    return bool(_environment().compile_expression(expression)(**context))


@cache
def _load(name: str) -> dict[str, Any]:
    path = resources.files(TEMPLATE_PACKAGE) / TEMPLATE_FOLDER / name
    data = load_strict_yaml(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{name}: expected a mapping at the top")
    return data


def pleading_text() -> dict[str, Any]:
    """templates/pleadings.yaml: the court documents, exhibits and labels (English)."""
    return _load("pleadings.yaml")


def letter_text(language: str) -> dict[str, Any]:
    """templates/letters.<language>.yaml: the notice letter in one language."""
    return _load(f"letters.{language}.yaml")


@dataclass(frozen=True)
class Block:
    """One piece of a document body, already rendered to plain text."""

    kind: str  # heading | para | text | table | signature
    text: str = ""  # heading/para/text: the words; table/signature: which one


@dataclass(frozen=True)
class DocumentText:
    """A court document's caption texts and body, ready for a writer."""

    title: str
    subtitle: str
    footer: str
    defendants: str
    blocks: tuple[Block, ...]


def document_text(key: str, context: Mapping[str, Any]) -> DocumentText:
    """Render the document `key` (motion | order | challenge) of pleadings.yaml."""
    spec = pleading_text()["documents"][key]
    blocks = []
    for item in spec["blocks"]:
        when = item.get("when")
        if when is not None and not _condition(when, context):
            continue
        kinds = [k for k in item if k != "when"]
        if len(kinds) != 1 or kinds[0] not in BLOCK_KINDS:
            raise ValueError(f"pleadings.yaml: documents.{key}: bad block {sorted(item)}")
        kind = kinds[0]
        value = item[kind]
        text = value if kind in ("table", "signature") else render(value, context)
        blocks.append(Block(kind, text))
    return DocumentText(
        title=render(spec["title"], context),
        subtitle=render(spec.get("subtitle", ""), context),
        footer=render(spec["footer"], context),
        defendants=render(spec["defendants"], context),
        blocks=tuple(blocks),
    )
