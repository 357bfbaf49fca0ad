"""Finding and reading a policy: a preset name, a YAML file, or gogen/BEAR options JSON."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from clearance.law.yamlio import YAMLError, load_strict_yaml
from clearance.policy.describe import summarize
from clearance.policy.gogen import policy_from_gogen
from clearance.policy.presets import preset_names, preset_text
from clearance.policy.schema import Policy, PolicyError, policy_from_mapping, read_policy_text

__all__ = ["list_presets", "load_policy"]

YAML_SUFFIXES = (".yaml", ".yml")


def load_policy(spec: str | Path, law=None) -> Policy:
    """A validated policy from a preset name, a `.yaml`/`.yml` file or a gogen `.json` file.

    `source` is the preset name or the file path as given.  Raises `PolicyError`
    naming the file and the key when the policy cannot be used. ``law``: the rule
    pack the policy is for; a pack other than Prop 64 reads its own presets and
    settings (``clearance.policy.pack_policy``).
    """
    if law is not None and law.functions != "prop64":
        from clearance.policy.pack_policy import load_pack_policy

        return load_pack_policy(spec, law)  # type: ignore[return-value]
    if isinstance(spec, str) and spec in preset_names():
        return _from_yaml(preset_text(spec), source=spec)

    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix not in (*YAML_SUFFIXES, ".json"):
        if isinstance(spec, str) and not suffix and len(path.parts) == 1:
            close = difflib.get_close_matches(spec, preset_names(), n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise PolicyError(
                f"{spec}: no such preset; {hint}presets: {', '.join(preset_names())} "
                "(or give a .yaml, .yml or .json policy file)"
            )
        raise PolicyError(f"{spec}: a policy file must end in .yaml, .yml or .json")
    text = read_policy_text(path, spec)

    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PolicyError(f"{spec}: not valid JSON ({exc})") from None
        except ValueError:  # an integer over Python's 4,300 digits
            raise PolicyError(f"{spec}: not valid JSON (a number is too long)") from None
        except RecursionError:
            raise PolicyError(f"{spec}: not valid JSON (nested too deeply)") from None
        return policy_from_gogen(data, source=str(spec), name=f"gogen options ({path.name})")
    return _from_yaml(text, source=str(spec))


def list_presets() -> list[tuple[str, str, str]]:
    """`(name, display name, one-line summary)` for every shipped preset."""
    result = []
    for name in preset_names():
        policy = load_policy(name)
        result.append((name, policy.name, summarize(policy)))
    return result


def _from_yaml(text: str, *, source: str) -> Policy:
    try:
        data = load_strict_yaml(text)
    except YAMLError as exc:
        raise PolicyError(f"{source}: {exc}") from None
    if data is None:
        raise PolicyError(f"{source}: the policy file is empty")
    return policy_from_mapping(data, source=source)
