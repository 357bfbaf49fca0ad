"""``python -m clearance.spark ...``: the same as ``clearance.spark.submit`` (docs/spark.md)."""

import sys

from clearance.spark.submit import main

sys.exit(main())
