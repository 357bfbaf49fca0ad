"""Why an input line was rejected: the codes and their plain words.

Kept apart from the reader (which needs Polars) so the report can name reasons
without importing it.
"""

from __future__ import annotations

REJECT_REASONS: dict[str, str] = {
    "repeated_header": "a header line inside the file",
    "carriage_return": "a carriage return inside the line (a line break typed into a value?)",
    "unbalanced_quote": "unbalanced quote (a quoted value is not closed on its line)",
    "stray_quote": "text after the closing quote of a quoted value",
    "wrong_field_count": "wrong number of fields",
    "missing_subject_id": "no SUBJECT_ID",
    "missing_cnt_order": "no CNT_ORDER",
}
