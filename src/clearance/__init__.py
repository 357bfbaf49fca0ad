"""clearance: automatic criminal-record clearance from California DOJ bulk extracts."""

from clearance._allocator import tune_jemalloc

__version__ = "0.1.0"

tune_jemalloc()  # before anything imports Polars
