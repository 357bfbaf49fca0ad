"""The same Proposition 64 engine on Apache Spark (``clearance run --engine spark``).

There is one implementation of the law. Spark only moves rows: the staged rows are
repartitioned by ``subject_id`` so that every row of a person lands in one
partition, and each partition is evaluated by ``clearance.extract.model.build`` and
``clearance.rules.engine.determine``, the functions the local engine runs
(``clearance.spark.engine.evaluate_partition``). The driver then writes the output
folder with the local writers. See docs/spark.md.

- ``clearance.spark.staging``  ``clearance stage``: extract files to staged Parquet,
  rejects and a manifest, for a cluster to read from shared storage (no Spark needed);
- ``clearance.spark.engine``   the partition function and the Spark plumbing;
- ``clearance.spark.submit``   the ``spark-submit`` entry point: staged Parquet in,
  determinations Parquet out.

Importing this package does not import PySpark (the ``spark`` extra is optional).
"""

from __future__ import annotations

INSTALL_HINT = "the spark engine needs: pip install 'clearance[spark]'"


def pyspark_available() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True
