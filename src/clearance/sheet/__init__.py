"""California rap sheets: one person's record read into the extract's model and
decided under every rule pack (rap-sheet.md, docs/rap-sheet.md).

    read_sheet(path) -> (model, rejects)
    decide_sheet(path, laws, county, as_of, out) -> SheetResult
"""

from clearance.sheet.decide import SheetResult, decide_sheet
from clearance.sheet.parse import SheetError
from clearance.sheet.read import SheetRead, parse_sheet, read_sheet

__all__ = ["SheetError", "SheetRead", "SheetResult", "decide_sheet", "parse_sheet", "read_sheet"]
