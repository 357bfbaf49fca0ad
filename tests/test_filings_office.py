"""office.yaml: the example is valid, and each mistake gets one line naming file and field."""

from __future__ import annotations

import pytest

from clearance.filings import OfficeError, load_office
from clearance.filings.text import letter_text, pleading_text
from clearance.law import load_rulepack
from filings_support import EXAMPLE_OFFICE

GOOD = """\
office:
  name: Office of the District Attorney, County of Nowhere
  address:
    - 1 Main St
    - Nowhere, CA 90000
  phone: (555) 010-0000
attorney:
  name: Pat Doe
  title: Deputy District Attorney
  bar_number: "123456"
"""


def test_the_example_office_file_is_valid_and_fictional():
    office = load_office(EXAMPLE_OFFICE)
    assert office.name == "Office of the District Attorney, County of Example"
    assert office.bar_number == "999999" and office.blank is False
    assert office.courthouse_names == {"CAMC EXAMPLE CITY": "Example City Courthouse"}
    assert office.letters_phone == "(555) 010-0199"
    assert all(".invalid" in v for v in (office.email, office.attorney_email, office.website))


def test_a_minimal_office_file_takes_defaults(tmp_path):
    path = tmp_path / "office.yaml"
    path.write_text(GOOD)
    office = load_office(path)
    assert office.address == ("1 Main St", "Nowhere, CA 90000")
    assert office.public_defender_name == "Office of the Public Defender"
    assert office.split_by_courthouse is True
    assert office.letters_phone == "(555) 010-0000"
    assert office.source_name == "office.yaml"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("office:", "ofice:"), "office.yaml: ofice: unknown key; did you mean 'office'?"),
        (("  phone:", "  phon:"), "office.yaml: office.phon: unknown key; did you mean 'phone'?"),
        (('  bar_number: "123456"\n', ""), "office.yaml: attorney.bar_number: missing (required)"),
        (
            ('"123456"', '"12-34"'),
            "attorney.bar_number: must be the State Bar number, 1 to 7 digits",
        ),
        (("  name: Pat Doe", "  name: [Pat, Doe]"), "office.yaml: attorney.name: must be text"),
        (
            ("  title: Deputy District Attorney", "  title: ''"),
            "attorney.title: missing (required)",
        ),
        (
            ("    - 1 Main St\n", "    - a\n    - b\n    - c\n    - d\n"),
            "office.address: has more than 4 lines",
        ),
        (("attorney:\n", "attorney: 3\nignored:\n"), "office.yaml: ignored: unknown key"),
        (("attorney:\n", "attorney: 3\npublic_defender:\n"), "attorney: must be a mapping"),
        (
            ("  phone: (555) 010-0000", "  phone: (555) 010-0000\n  phone: 1"),
            "not valid YAML: line 7: key 'phone' appears twice",
        ),
        (("office:\n", "office: [\n"), "office.yaml: not valid YAML: line 3: expected"),
    ],
)
def test_each_mistake_is_one_line_naming_the_file_and_field(tmp_path, change, message):
    path = tmp_path / "office.yaml"
    old, new = change
    assert old in GOOD
    path.write_text(GOOD.replace(old, new, 1))
    with pytest.raises(OfficeError) as error:
        load_office(path)
    text = str(error.value)
    assert message in text
    assert "\n" not in text and str(path) in text


def test_empty_missing_and_courthouse_mistakes(tmp_path):
    path = tmp_path / "office.yaml"
    path.write_text("")
    with pytest.raises(OfficeError, match="is empty; it needs at least the office and attorney"):
        load_office(path)
    with pytest.raises(OfficeError, match=r"nope\.yaml: no such file"):
        load_office(tmp_path / "nope.yaml")
    path.write_text(GOOD + "courts:\n  split_by_courthouse: sometimes\n")
    with pytest.raises(OfficeError, match=r"courts\.split_by_courthouse: must be true or false"):
        load_office(path)


def test_office_hours_per_language_and_the_server_of_the_proof_of_service(tmp_path):
    office = load_office(EXAMPLE_OFFICE)
    assert office.hours("en") == "Monday to Friday, 9 a.m. to 4 p.m."
    assert office.hours("es") == "de lunes a viernes, de 9 a.m. a 4 p.m."
    assert office.server_name == "Casey M. Example"
    assert office.server_address[-1] == "Example City, CA 90000"
    assert office.public_defender_email == "eservice@pd.example.invalid"
    path = tmp_path / "office.yaml"
    path.write_text(GOOD + "letters:\n  contact_hours: 9 to 5\n")  # as files before had it
    assert load_office(path).hours("en") == "9 to 5" and load_office(path).hours("es") is None
    path.write_text(GOOD + "letters:\n  contact_hours:\n    en: 9 to 5\n    fr: 9 h\n")
    with pytest.raises(OfficeError, match=r"letters\.contact_hours\.fr: unknown key"):
        load_office(path)
    path.write_text(GOOD + "service:\n  nam: Pat\n")
    with pytest.raises(OfficeError, match=r"service\.nam: unknown key; did you mean 'name'"):
        load_office(path)


def test_the_words_cover_every_ground_relief_and_language():
    """Templates and the rule pack agree: every ground the engine can give has words."""
    law = load_rulepack()
    labels = pleading_text()["labels"]
    statutory = [r.reason for r in law.rules.values() if "not_eligible" in r.determinations]
    assert all(law.rules[reason].ground for reason in statutory)  # the pack words each ground
    assert set(labels["relief"]) == {"dismiss_and_seal", "redesignate_misdemeanor", "redesignate"}
    english, spanish = letter_text("en"), letter_text("es")
    assert set(english) == set(spanish)
    assert set(english["relief"]) == set(spanish["relief"]) == set(labels["relief"])
    assert set(english["section_names"]) == set(law.sections) == set(spanish["section_names"])
    assert len(english["means"]) == len(spanish["means"])
