"""The 95 fields of the DOJ bulk extract, in file order (doj-extract.md, "Columns").

Everything that needs a column name takes it from here, so a typo fails at import
time rather than deep inside a run.
"""

from __future__ import annotations

import polars as pl

FIELDS: tuple[str, ...] = (
    # 0-2
    "RECORD_ID", "SUBJECT_STATUS", "SUBJECT_ID",
    # 3-9
    "REQ_SEG_SEP", "REQ_CII_NUMBER", "REQ_NAME", "REQ_GENDER", "REQ_DOB", "REQ_CDL", "REQ_SSN",
    # 10-19
    "PII_SEG_SEP", "CII_NUMBER", "PRI_NAME", "GENDER", "PRI_DOB", "PRI_SSN", "PRI_CDL",
    "PRI_IDN", "PRI_INN", "FBI_NUMBER",
    # 20-34
    "PDR_SEG_SEP", "RACE_CODE", "RACE_DESCR", "EYE_COLOR_CODE", "EYE_COLOR_DESCR",
    "HAIR_COLOR_CODE", "HAIR_COLOR_DESCR", "HEIGHT", "WEIGHT", "SINGLE_SOURCE", "MULTI_SOURCE",
    "POB_CODE", "POB_NAME", "POB_TYPE", "CITIZENSHIP_LIST",
    # 35-37
    "CYC_SEG_SEP", "CYC_ORDER", "CYC_DATE",
    # 38-48
    "STP_SEG_SEP", "STP_ORDER", "STP_EVENT_DATE", "STP_TYPE_CODE", "STP_TYPE_DESCR",
    "STP_ORI_TYPE", "STP_ORI_TYPE_DESCR", "STP_ORI_CODE", "STP_ORI_DESCR", "STP_ORI_CNTY_CODE",
    "STP_ORI_CNTY_NAME",
    # 49-65
    "CNT_SEG_SEP", "CNT_ORDER", "DISP_DATE", "OFN", "OFFENSE_CODE", "OFFENSE_DESCR",
    "OFFENSE_TOC", "OFFENSE_QUAL_LST", "DISP_OFFENSE_CODE", "DISP_OFFENSE_DESCR",
    "DISP_OFFENSE_TOC", "DISP_OFFENSE_QUAL_LST", "CONV_OFFENSE_ORDER", "CONV_OFFENSE_CODE",
    "CONV_OFFENSE_DESCR", "CONV_OFFENSE_TOC", "CONV_OFFENSE_QUAL_LST",
    # 66-77
    "FE_NUM_ORDER", "FE_NUM_ARR_AGY", "FE_NUM_BNCH_WARR", "FE_NUM_CITE", "FE_NUM_DOCKET",
    "FE_NUM_INCIDENT", "FE_NUM_BOOKING", "FE_NUM_NUMBER", "FE_NUM_REMAND", "FE_NUM_OOS_INN",
    "FE_NUM_CRT_CASE", "FE_NUM_WARRANT",
    # 78-82
    "DISP_ORDER", "DISP_CODE", "DISP_DESCR", "CONV_STAT_CODE", "CONV_STAT_DESCR",
    # 83-89
    "SENT_SEG_SEP", "SENT_ORDER", "SENT_LOC_CODE", "SENT_LOC_DESCR", "SENT_LENGTH",
    "SENT_TIME_CODE", "SENT_TIME_DESCR",
    # 90-94
    "CYC_AGE", "CII_TYPE", "CII_TYPE_ALPHA", "COMMENT_TEXT", "END_OF_REC",
)  # fmt: skip

N_FIELDS = len(FIELDS)
if N_FIELDS != 95:  # doj-extract.md: 95 fields a line
    raise RuntimeError(f"FIELDS names {N_FIELDS} fields, not the extract's 95")
POSITION: dict[str, int] = {name: i for i, name in enumerate(FIELDS)}

# Placeholders that real extracts put in unused fields; they mean "no value".
FILLERS: frozenset[str] = frozenset({"x", "X", "#", "NULL", "-"})
PADDING = " \t\r"  # what fixed-width padding is made of; values are trimmed of it

# Read as they are, and made clean by the model once per distinct value
# (normalize.FACT_KEY): a million lines hold a few thousand distinct charges,
# dispositions and sentences, so trimming them line by line would be wasted.
CLEANED_BY_MODEL: tuple[str, ...] = (
    "offense_raw", "comment_text", "disposition", "conv_status", "offense_toc",
    "sent_length_raw", "sent_time_code",
)  # fmt: skip


def cleaned(value: pl.Expr) -> pl.Expr:
    """A field's value as the system reads it: trimmed of padding, and null when
    nothing is left or it is a filler."""
    return value.str.strip_chars(PADDING).replace([*sorted(FILLERS), ""], None)


# The fields the rest of the system reads, and the name each takes in the staged
# table.  Everything else in the 95 is carried by the file but never needed.
USED: dict[str, str] = {
    "SUBJECT_ID": "subject_id",
    "CII_NUMBER": "cii_number",
    "PRI_NAME": "name",
    "GENDER": "gender",
    "PRI_DOB": "dob_raw",
    "RACE_CODE": "race_code",
    "RACE_DESCR": "race_descr",
    "CYC_ORDER": "cyc_order",
    "STP_ORDER": "stp_order",
    "STP_EVENT_DATE": "event_date_raw",
    "STP_TYPE_DESCR": "event_type",
    "STP_ORI_TYPE_DESCR": "agency_type",
    "STP_ORI_DESCR": "agency",
    "STP_ORI_CNTY_NAME": "county",
    "CNT_ORDER": "cnt_order",
    "OFN": "case_number",
    "FE_NUM_CRT_CASE": "court_case",
    "OFFENSE_DESCR": "offense_raw",
    "OFFENSE_TOC": "offense_toc",
    "OFFENSE_QUAL_LST": "offense_qualifiers",
    "DISP_ORDER": "disp_order",
    "DISP_DESCR": "disposition",
    "CONV_STAT_DESCR": "conv_status",
    "SENT_ORDER": "sent_order",
    "SENT_LOC_DESCR": "sent_loc",
    "SENT_LENGTH": "sent_length_raw",
    "SENT_TIME_CODE": "sent_time_code",
    "COMMENT_TEXT": "comment_text",
}

# Without these a row cannot be placed in anyone's history.
REQUIRED: tuple[str, ...] = ("SUBJECT_ID", "CNT_ORDER")
