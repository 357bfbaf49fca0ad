"""``python -m clearance.spark ...``: the same as ``clearance.spark.submit`` (docs/spark.md)."""

import sys

from clearance._allocator import tune_jemalloc

tune_jemalloc()  # a batch job: before submit imports Polars (see clearance.__main__)

from clearance.spark.submit import main  # noqa: E402

sys.exit(main())
