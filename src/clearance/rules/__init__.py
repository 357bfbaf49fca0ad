"""The rules that turn a person's history into determinations."""
