"""The ``spark-submit`` entry point: a stage folder in, determinations Parquet out.

    spark-submit --master yarn \\
        $(python -c 'import clearance.spark.submit as m; print(m.__file__)') \\
        --staged s3a://bucket/clearance/stage --county SACRAMENTO --policy statute \\
        --as-of 2020-07-01 --out s3a://bucket/clearance/determinations

``--staged`` is a folder written by ``clearance stage`` (manifest.json, staged/),
copied to storage every executor can read. ``--out`` receives the determinations
table: the columns and rows of a run's ``determinations.parquet``, sorted by
``subject_id`` and ``cnt_order`` across the part files (unsigned integer columns
are Spark ``long``). ``--people-out`` and ``--history-out`` optionally write the
people table and the history of everyone determined, as a run writes
people.parquet and history.parquet. The evaluation is ``clearance.spark.engine``:
the local engine's functions on each partition of the extract, by person.
See docs/spark.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence

import polars as pl

from clearance.law import load_rulepack
from clearance.outputs import determinations as det_out
from clearance.policy import load_policy
from clearance.run_common import RunError, check_as_of
from clearance.spark.engine import (
    KIND,
    PERSON_KEY,
    Job,
    arrow_struct,
    default_partitions,
    from_spark,
    schemas,
    session,
    spark_struct,
    tagged_frame,
)
from clearance.spark.staging import MANIFEST, STAGED, Manifest


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="clearance.spark.submit",
        description="Prop 64 relief on Spark: a stage folder in, determinations Parquet out.",
    )
    parser.add_argument("--staged", required=True, help="A `clearance stage` folder (any URI).")
    parser.add_argument("--county", required=True, help="The county whose convictions to decide.")
    parser.add_argument("--policy", default="statute", help="A preset name or a policy file.")
    parser.add_argument("--as-of", required=True, help="Decide as of this date (YYYY-MM-DD).")
    parser.add_argument("--out", required=True, help="Where to write the determinations Parquet.")
    parser.add_argument("--people-out", help="Also write everyone's people rows here.")
    parser.add_argument("--history-out", help="Also write the history of everyone determined.")
    parser.add_argument("--partitions", type=int, help="Partitions (default: by row count).")
    parser.add_argument(
        "--mode", default="errorifexists", choices=["errorifexists", "overwrite"],
        help="What to do when an output exists.",
    )  # fmt: skip
    return parser.parse_args(argv)


def _publish_function(tables: dict[str, pl.Schema], published: pl.Schema):
    """Rename and order the engine's rows into the published table, batch by batch."""
    import pyarrow as pa

    target = pa.schema(list(arrow_struct(published)))

    def publish(batches):
        for batch in batches:
            decided = from_spark(pa.Table.from_batches([batch]), tables["determinations"])
            table = det_out.table(decided).to_arrow()
            yield from pa.Table.from_arrays(
                [table.column(f.name).cast(f.type) for f in target], schema=target
            ).to_batches()

    return publish


def main(argv: Sequence[str] | None = None) -> int:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    args = parse_args(argv)
    as_of = dt.date.fromisoformat(args.as_of)
    county = args.county.strip().upper()
    policy = load_policy(args.policy)
    law = load_rulepack()
    try:
        check_as_of(as_of, law, label="--as-of")
    except RunError as exc:
        print(f"clearance: {exc}", file=sys.stderr)
        return 2
    spark, started = session()
    try:
        root = args.staged.rstrip("/")
        text = spark.read.text(f"{root}/{MANIFEST}", wholetext=True).first()[0]
        manifest = Manifest.parse(text, f"{root}/{MANIFEST}")
        job = Job(manifest.file_order, policy, county, as_of, law.version)
        tables = schemas(job, law)
        staged = spark.read.option("recursiveFileLookup", "true").parquet(f"{root}/{STAGED}")
        partitions = args.partitions or default_partitions(spark, manifest.rows_used)
        tagged = tagged_frame(staged, job, tables, partitions).persist(StorageLevel.MEMORY_AND_DISK)

        def table(kind: str):
            return tagged.filter(F.col(KIND) == kind).select(f"{kind}.*")

        counties = [r[0] for r in table("counties").distinct().collect()]
        if county not in counties:
            print(
                f"clearance: no event in the extract names the county {county!r}",
                file=sys.stderr,
            )
            return 2
        published = det_out.table(pl.DataFrame(schema=tables["determinations"])).schema
        (
            table("determinations")
            .mapInArrow(_publish_function(tables, published), spark_struct(published))
            .orderBy(PERSON_KEY, "cnt_order")
            .write.mode(args.mode)
            .parquet(args.out)
        )
        if args.people_out:
            table("people").orderBy(PERSON_KEY).write.mode(args.mode).parquet(args.people_out)
        if args.history_out:
            table("history").orderBy("row_order").write.mode(args.mode).parquet(args.history_out)
        tagged.unpersist()
    finally:
        if started:
            spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
