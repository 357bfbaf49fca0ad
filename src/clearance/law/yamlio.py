"""Reading the project's YAML data files strictly.

PyYAML quietly keeps the last of two equal keys; in a file of legal facts or a
county's policy that hides a mistake, so here a repeated key is an error.

A policy or office file comes from a user, so what PyYAML would let through as a
crash is a `YAMLError` naming the line too: nesting deeper than `MAX_DEPTH` (which
would exhaust Python's recursion), an integer too long for Python to convert
(over 4,300 digits), and a key that is a list or a mapping.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["YAMLError", "load_strict_yaml"]


class YAMLError(ValueError):
    """The text is not valid YAML, or a mapping repeats a key."""


# No file the project reads nests more than a few levels.
MAX_DEPTH = 50
# Far more digits than any number a policy, an office or a rule pack holds.
MAX_INT_CHARS = 100


class _StrictLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise YAMLError(f"line {line}: nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _construct_int(loader: Any, node: yaml.ScalarNode) -> int:
    text = str(node.value)
    if len(text) > MAX_INT_CHARS:
        raise YAMLError(f"line {_line(node)}: a number of {len(text):,} characters is too long")
    return yaml.SafeLoader.construct_yaml_int(loader, node)


def _construct_mapping(loader: Any, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, list | dict | set):
            raise YAMLError(
                f"line {_line(key_node)}: a key is a list or a mapping; "
                "keys are plain words or numbers"
            )
        if key in seen:
            line = key_node.start_mark.line + 1
            shown = repr(key) if len(repr(key)) <= 60 else f"{repr(key)[:57]}..."
            raise YAMLError(f"line {line}: key {shown} appears twice")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


class _ShippedLoader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """The same checks on libyaml's parser, for the files shipped with clearance (its
    installed rule packs): several times faster, and their nesting is known."""


for _loader in (_StrictLoader, _ShippedLoader):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load_strict_yaml(text: str, *, shipped: bool = False) -> Any:
    """Parse YAML text (safe types only); a repeated key raises `YAMLError`.

    ``shipped``: a file installed with clearance, not a user's (parsed by libyaml
    where PyYAML has it; a user's file keeps the depth check of the pure parser).
    """
    loader = _ShippedLoader if shipped else _StrictLoader
    try:
        return yaml.load(text, Loader=loader)  # SafeLoader subclasses: safe types only
    except YAMLError:
        raise
    except yaml.YAMLError as exc:
        raise YAMLError(str(exc).replace("\n", " ")) from exc
    except RecursionError:  # nesting in a flow of aliases the depth check cannot see
        raise YAMLError(f"nested more than {MAX_DEPTH} levels deep") from None
