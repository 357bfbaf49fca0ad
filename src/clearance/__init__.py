"""clearance: automatic criminal-record clearance from California DOJ bulk extracts."""

__version__ = "0.1.0"
