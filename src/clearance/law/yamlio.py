"""Reading the project's YAML data files strictly.

PyYAML quietly keeps the last of two equal keys; in a file of legal facts or a
county's policy that hides a mistake, so here a repeated key is an error.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["YAMLError", "load_strict_yaml"]


class YAMLError(ValueError):
    """The text is not valid YAML, or a mapping repeats a key."""


class _StrictLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            line = key_node.start_mark.line + 1
            raise YAMLError(f"line {line}: key {key!r} appears twice")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_strict_yaml(text: str) -> Any:
    """Parse YAML text (safe types only); a repeated key raises `YAMLError`."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: safe types only
    except YAMLError:
        raise
    except yaml.YAMLError as exc:
        raise YAMLError(str(exc).replace("\n", " ")) from exc
