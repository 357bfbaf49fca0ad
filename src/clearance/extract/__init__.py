"""Reading California DOJ bulk extracts (see ../shared/spec/doj-extract.md)."""
