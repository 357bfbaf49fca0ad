"""Policies in plain English, for `clearance policies show`, reports and filings.

Sentences follow prop64.md's order of evaluation, so a reader can follow a
conviction from the statutory rules down to the policy's last word.
"""

from __future__ import annotations

from clearance.law import load_rulepack
from clearance.policy.schema import Policy

__all__ = ["describe", "summarize"]


def describe(policy: Policy) -> list[str]:
    """The policy as plain sentences, one per step that it affects."""
    rulepack = load_rulepack()
    cutoff = rulepack.conviction_cutoff.isoformat()
    where = (
        f"convictions in {policy.county} county"
        if policy.county
        else "convictions in the county given with the run"
    )
    lines = [f"Policy “{policy.name}” ({_source(policy)}), applied to {where}."]
    excluded = _join([item.citation for item in rulepack.excluded_subsections], "or")
    disqualified = _join([f"HS {s}" for s in rulepack.disqualifier_sections], "or")
    lines.append(
        f"The statute decides first: a conviction after {cutoff}, one under {excluded}, "
        f"and an {disqualified} conviction with an earlier super strike, an earlier "
        "PC 290 offense or registration, or two earlier convictions under the same section "
        "are not eligible; a conviction without a valid date goes to review."
    )

    review = []
    if policy.review.comment_charge:
        review.append(
            "its cannabis section was read only from the comment text (or the comment names "
            "another cannabis section)"
        )
    if policy.review.still_serving:
        review.append("its sentence had not ended by the as-of date")
    if review:
        lines.append(f"A conviction goes to review when {_join(review, 'or')}.")

    lines.append(
        {
            "dismiss": "Misdemeanor and infraction convictions are dismissed and sealed.",
            "reduce": "Misdemeanor and infraction convictions are redesignated "
            "(as infractions where the law makes them one).",
            "review": "Misdemeanor and infraction convictions go to review.",
            None: "Misdemeanor and infraction convictions follow the section lists below.",
        }[policy.misdemeanors]
    )

    if policy.dismiss:
        lines.append(f"Convictions under {_sections(policy.dismiss)} are dismissed and sealed.")
    else:
        lines.append("No section is dismissed outright.")

    tests = _relief_tests(policy)
    if tests:
        lines.append(
            "Any other conviction is dismissed and sealed when "
            f"{_join(tests, 'or')} (additional relief)."
        )

    if policy.reduce:
        lines.append(
            f"Otherwise, convictions under {_sections(policy.reduce)} are reduced to misdemeanors."
        )
    unlisted = [s for s in rulepack.cannabis_sections if policy.outcome_for(s) is None]
    if unlisted:
        lines.append(
            f"The policy names no outcome for {_sections(unlisted)}; "
            "convictions no rule above decides go to review."
        )
    return lines


def summarize(policy: Policy) -> str:
    """One line: `dismiss 11357, 11358; reduce 11359, 11360; misdemeanors dismiss; ...`."""
    parts = [
        f"dismiss {', '.join(policy.dismiss) or 'none'}",
        f"reduce {', '.join(policy.reduce) or 'none'}",
        f"misdemeanors {policy.misdemeanors or 'by section'}",
    ]
    relief = policy.additional_relief
    extra = []
    if relief.under_21:
        extra.append("under 21")
    if relief.age_threshold is not None:
        extra.append(f"age {relief.age_threshold}+")
    if relief.conviction_age is not None:
        extra.append(f"convicted {relief.conviction_age}+ years ago")
    if relief.crime_free is not None:
        extra.append(f"crime-free {relief.crime_free} years")
    if relief.only_prop64:
        extra.append("only cannabis convictions")
    if relief.deceased:
        extra.append("deceased")
    if relief.sentence_completed:
        extra.append("sentence completed")
    parts.append(f"also dismiss if {', '.join(extra)}" if extra else "no additional relief")
    if policy.review.still_serving:
        parts.append("review if still serving")
    return "; ".join(parts)


def _relief_tests(policy: Policy) -> list[str]:
    relief = policy.additional_relief
    tests = []
    if relief.under_21:
        tests.append("the person was under 21 on the conviction date")
    if relief.age_threshold is not None:
        tests.append(f"the person is {relief.age_threshold} or older on the as-of date")
    if relief.conviction_age is not None:
        tests.append(
            f"the conviction is {relief.conviction_age} or more years old on the as-of date"
        )
    if relief.crime_free is not None:
        tests.append(
            f"the person has no conviction of any kind in the {relief.crime_free} years "
            "before the as-of date"
        )
    if relief.only_prop64:
        tests.append("every conviction in the person's history is under HS 11357-11360")
    if relief.deceased:
        tests.append("the history records the person's death")
    if relief.sentence_completed:
        tests.append("every sentence of the conviction had ended by the as-of date")
    return tests


def _sections(sections) -> str:
    names = load_rulepack().sections
    return _join([f"HS {s} ({names[s].name})" for s in sections], "and")


def _join(items: list[str], word: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} {word} {items[1]}"
    return f"{', '.join(items[:-1])}, {word} {items[-1]}"


def _source(policy: Policy) -> str:
    from clearance.policy.presets import preset_names

    if policy.source in preset_names():
        return f"preset {policy.source}"
    return f"from {policy.source}"
