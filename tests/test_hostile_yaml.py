"""Policy and office files that break YAML's or Python's limits (issue 15): each is
refused with exit 2 and one line naming the file and the line, never a crash."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from clearance.cli import app
from clearance.law.yamlio import YAMLError, load_strict_yaml
from clearance.policy import PolicyError, load_policy

runner = CliRunner()

POLICY = "dismiss: [11357]\nreduce: [11359]\n"
HOSTILE = {
    # PyYAML recurses once a level: 10,000 levels exhaust Python's stack (RecursionError).
    "deep": ("name: x\n" + POLICY + "review: " + "[" * 10_000 + "]" * 10_000 + "\n", 4),
    # int() refuses more than 4,300 digits (ValueError).
    "huge_int": (
        "name: x\n" + POLICY + "additional_relief:\n  crime_free: " + "9" * 5_000 + "\n",
        5,
    ),
    # A key that is a list cannot be hashed (TypeError).
    "list_key": ("name: x\n" + POLICY + "? [a, b]\n: 1\n", 4),
    "mapping_key": ("name: x\n" + POLICY + "review:\n  ? {a: 1}\n  : true\n", 5),
}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line(result) -> str:
    assert result.output.endswith("\n") and result.output.count("\n") == 1, result.output
    return result.output


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_policy_file_is_one_line_naming_file_and_line(tmp_path, case):
    text, line_no = HOSTILE[case]
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    for command in (["policies", "show", path], ["run", path, "--county", "X"]):
        if command[0] == "run":  # --policy: the policy is read before any extract
            extract = tmp_path / "e.dat"
            extract.write_text("")
            command = ["run", extract, "--county", "X", "--policy", path, "--out", tmp_path / "o"]
        result = invoke(*command)
        assert result.exit_code == 2, result.output
        message = one_line(result)
        assert f"{path}: line {line_no}: " in message
        assert "internal error" not in message


def test_each_limit_says_what_is_wrong():
    with pytest.raises(YAMLError, match=r"line 1: nested more than 50 levels deep"):
        load_strict_yaml("[" * 10_000 + "]" * 10_000)
    with pytest.raises(YAMLError, match=r"line 1: a number of 5,000 characters is too long"):
        load_strict_yaml("9" * 5_000)
    with pytest.raises(YAMLError, match=r"line 2: a key is a list or a mapping"):
        load_strict_yaml("a: 1\n? [a]\n: 2\n")
    # What the project's files hold still reads.
    assert load_strict_yaml("a: [[[1]]]\nb: {c: {d: 12345678901234567890}}\n") == {
        "a": [[[1]]],
        "b": {"c": {"d": 12345678901234567890}},
    }


def test_a_repeated_long_key_is_not_quoted_whole():
    key = "k" * 1_000  # YAML's longest plain key
    with pytest.raises(YAMLError) as caught:
        load_strict_yaml(f"{key}: 1\n{key}: 2\n")
    assert "line 2: key 'kkk" in str(caught.value)
    assert len(str(caught.value)) < 200


def test_a_100_kb_policy_name_is_refused_at_once(tmp_path):
    """A 100 kB name took 45 s to print; a name is a title: at most 200 characters."""
    path = tmp_path / "long.yaml"
    path.write_text("name: " + "N" * 100_000 + "\n" + POLICY)
    result = invoke("policies", "show", path)
    assert result.exit_code == 2
    message = one_line(result)
    assert "name: 100,000 characters is too long; a policy name has at most 200" in message
    assert len(message) < 300
    path.write_text("name: " + "N" * 200 + "\n" + POLICY)
    assert load_policy(str(path)).name == "N" * 200


def test_a_long_county_and_a_long_number_are_quoted_short(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: x\ncounty: " + "C" * 5_000 + "\n" + POLICY)
    with pytest.raises(PolicyError, match=r"county: 5,000 characters is too long"):
        load_policy(str(path))
    path.write_text("name: x\n" + POLICY + "additional_relief:\n  crime_free: " + "9" * 90 + "\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(str(path))
    message = str(caught.value)
    assert "is out of range" in message and "(90 characters)" in message
    assert len(message) - len(str(path)) < 200


@pytest.mark.parametrize(
    "text",
    ['{"a": ' * 100_000 + "1" + "}" * 100_000, '{"ageThreshold": ' + "9" * 5_000 + "}"],
    ids=["deep", "huge_int"],
)
def test_a_hostile_gogen_json_policy_is_one_line(tmp_path, text):
    path = tmp_path / "options.json"
    path.write_text(text)
    result = invoke("policies", "show", path)
    assert result.exit_code == 2
    assert f"{path}: not valid JSON" in one_line(result)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_office_file_is_one_line(tmp_path, case):
    text, _ = HOSTILE[case]
    office = tmp_path / "office.yaml"
    office.write_text(text)
    result = invoke("filings", "--run", tmp_path, "--office", office, "--out", tmp_path / "f")
    assert result.exit_code == 2, result.output
    message = one_line(result)
    assert "office.yaml: not valid YAML: line " in message
    assert "internal error" not in message
