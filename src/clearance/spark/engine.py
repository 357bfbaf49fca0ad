"""The Spark engine: partition the staged rows by person, evaluate each partition locally.

What runs where:

- **driver**: reads the staged Parquet as a Spark DataFrame, repartitions it by
  ``subject_id`` (hash), and collects (or writes) what the partitions return;
- **each Python worker**, for one partition: concatenates the partition's Arrow
  batches into one Polars frame (all rows of each of its people, because the
  partitioning key is the model's person key) and calls ``evaluate_partition``,
  which runs ``clearance.extract.model.build`` and ``clearance.rules.engine.determine``,
  the very functions of the local engine, with the same input order
  (``file_order``), policy, county, as-of date and rule pack.

Every rule reads one person's history only (per-person facts, per-conviction tests),
so evaluating people in separate partitions gives the rows the local engine gives
for the whole extract. A partition returns four tables in one Arrow stream, each row
tagged with its table (``kind``) and carried in that table's struct column:

- ``determinations``  ``determine(...)`` rows: the full engine output;
- ``people``           ``model.people`` for everyone (summary.json's demographics);
- ``history``          ``model.counts`` of every person determined (history.parquet,
                        summary.json's impact);
- ``counties``         the counties the partition's events name, with their convictions
                        (the county check).

Spark has no unsigned integers, so ``UInt32``/``UInt64`` columns travel as ``long``;
the driver casts every table back to the local engine's exact schema (the schema the
same functions give for an empty extract).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from clearance import __version__
from clearance.extract import keys
from clearance.extract import model as model_
from clearance.extract.reader import staged_schema
from clearance.law import RulePack, load_pack, read_rulepack
from clearance.policy import Policy
from clearance.rules.engine import count_lines, determine
from clearance.run_common import Evaluation, RunError, check_county, county_convictions
from clearance.spark import INSTALL_HINT

KINDS = ("determinations", "people", "history", "counties")
KIND = "kind"
PERSON_KEY = "subject_id"  # the model's person key: every group-by of the engine is within it
ROWS_PER_PARTITION = 500_000  # staged rows; see docs/spark.md, "Memory"


@dataclass(frozen=True)
class Job:
    """Everything a partition needs; pickled to the workers with the partition function."""

    file_order: tuple[str, ...]
    policy: Policy
    county: str
    as_of: dt.date
    rulepack_version: str
    clearance_version: str = __version__
    rulepack_source: str = "installed"  # or the folder of a pack given with --law DIR
    rulepack_name: str = "prop64"
    rulepack_sha256: str | None = None


# --------------------------------------------------------------------------- the engine


def evaluate_partition(staged: pl.DataFrame, job: Job, law: RulePack) -> dict[str, pl.DataFrame]:
    """The local engine on the staged rows of some people (all rows of each).

    The model is materialised once, as the local run does, and the rules read it.
    """
    with keys.pinned():  # the partition's keys, the same in each of its queries
        # What the law reads of every line of a count (ca-auto-relief), with the counts.
        read = count_lines(law)
        model = model_.build(staged.lazy(), list(job.file_order), count_lines=read)
        counts, people = pl.collect_all([model.counts, model.people])
        model = model_.Model(people=people.lazy(), events=model.events, counts=counts.lazy())
        decided = determine(model, job.policy, job.county, job.as_of, law).collect()
    determined = decided[PERSON_KEY].unique().implode()
    history = counts.filter(pl.col(PERSON_KEY).is_in(determined))
    return {
        "determinations": decided,
        "people": people,
        "history": history.drop(read.columns if read else []),
        "counties": pl.DataFrame(
            list(county_convictions(counts).items()),
            schema={"county": pl.String, "convictions": pl.Int64},
            orient="row",
        ),
    }


def schemas(job: Job, law: RulePack) -> dict[str, pl.Schema]:
    """Each table's Polars schema: the engine's own, on an empty extract."""
    empty = pl.DataFrame(schema=staged_schema())
    return {kind: frame.schema for kind, frame in evaluate_partition(empty, job, law).items()}


def _worker_law(job: Job) -> RulePack:
    """The rule pack on a worker, refused if it is not the driver's."""
    if job.rulepack_source == "installed":
        law = load_pack(job.rulepack_name)
    else:
        law = read_rulepack(job.rulepack_source)
    if (
        law.version != job.rulepack_version
        or __version__ != job.clearance_version
        or (job.rulepack_sha256 is not None and law.sha256 != job.rulepack_sha256)
    ):
        raise RuntimeError(
            f"clearance {__version__} with rule pack {law.version} on a Spark worker, but "
            f"{job.clearance_version} with {job.rulepack_version} on the driver: install the "
            "same clearance on every node"
        )
    return law


# --------------------------------------------------------------------------- types


def _spark_type(dtype: pl.DataType, column: str):
    from pyspark.sql import types as T

    if dtype == pl.String:
        return T.StringType()
    if dtype == pl.Boolean:
        return T.BooleanType()
    if dtype == pl.Date:
        return T.DateType()
    if dtype in (pl.Int8, pl.Int16, pl.Int32, pl.UInt8, pl.UInt16):
        return T.IntegerType()
    if dtype in (pl.Int64, pl.UInt32, pl.UInt64):
        return T.LongType()  # counts and line numbers: far below 2**63
    if dtype in (pl.Float32, pl.Float64):
        return T.DoubleType()
    raise TypeError(f"column {column!r}: no Spark type for {dtype}")


def spark_struct(schema: pl.Schema):
    from pyspark.sql import types as T

    return T.StructType(
        [T.StructField(name, _spark_type(dtype, name), True) for name, dtype in schema.items()]
    )


def tagged_schema(tables: dict[str, pl.Schema]):
    """The partition function's output: ``kind`` plus one struct column per table."""
    from pyspark.sql import types as T

    return T.StructType(
        [T.StructField(KIND, T.StringType(), False)]
        + [T.StructField(kind, spark_struct(tables[kind]), True) for kind in KINDS]
    )


def arrow_struct(schema: pl.Schema):
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_type

    return pa.struct(
        [
            pa.field(name, to_arrow_type(_spark_type(dtype, name)), True)
            for name, dtype in schema.items()
        ]
    )


def from_spark(table, schema: pl.Schema) -> pl.DataFrame:
    """An Arrow table that came through Spark, in the local engine's exact schema."""
    frame = pl.from_arrow(table) if table.num_rows else pl.DataFrame(schema=schema)
    return frame.select(pl.col(name).cast(dtype) for name, dtype in schema.items())


# --------------------------------------------------------------------------- the worker


def partition_function(job: Job, tables: dict[str, pl.Schema]) -> Callable:
    """The function ``mapInArrow`` runs on each partition (pickled with ``job``)."""

    def run_partition(batches: Iterator) -> Iterator:
        import pyarrow as pa

        batches = list(batches)
        if not batches or not sum(b.num_rows for b in batches):
            return
        staged = pl.from_arrow(pa.Table.from_batches(batches))
        staged = staged.select(pl.col(n).cast(t) for n, t in staged_schema().items())
        frames = evaluate_partition(staged, job, _worker_law(job))
        structs = {kind: arrow_struct(tables[kind]) for kind in KINDS}
        for kind in KINDS:
            frame = frames[kind]
            if not frame.height:
                continue
            arrow = frame.to_arrow()
            struct = pa.StructArray.from_arrays(
                [
                    arrow.column(field.name).combine_chunks().cast(field.type)
                    for field in structs[kind]
                ],
                fields=list(structs[kind]),
            )
            n = frame.height
            table = pa.Table.from_arrays(
                [pa.array([kind] * n, pa.string())]
                + [struct if k == kind else pa.nulls(n, structs[k]) for k in KINDS],
                names=[KIND, *KINDS],
            )
            yield from table.to_batches(max_chunksize=65_536)

    return run_partition


# --------------------------------------------------------------------------- the driver


def session(master: str | None = None):
    """The active SparkSession, or a new one (``master``, else spark-submit's, else local)."""
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    conf = SparkConf()  # reads spark-defaults.conf and spark-submit's --master
    if master:
        conf.setMaster(master)
    elif not conf.contains("spark.master"):
        conf.setMaster("local[*]")
    if conf.get("spark.master").startswith("local"):
        # Local workers must run this interpreter, which has clearance installed.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        conf.setIfMissing("spark.ui.enabled", "false")
    tuned = os.environ.get("_RJEM_MALLOC_CONF")
    if tuned:  # a batch command's allocator settings (clearance.__main__), for executors too
        conf.setIfMissing("spark.executorEnv._RJEM_MALLOC_CONF", tuned)
    conf.setIfMissing("spark.ui.showConsoleProgress", "false")
    conf.setIfMissing("spark.log.level", "ERROR")
    conf.setAppName(conf.get("spark.app.name", "clearance"))
    return SparkSession.builder.config(conf=conf).getOrCreate(), True


def tagged_frame(staged, job: Job, tables: dict[str, pl.Schema], partitions: int):
    """The Spark DataFrame of every partition's tables (lazy: nothing runs yet)."""
    from pyspark.sql import functions as F

    columns = [
        F.col(name).cast("long").alias(name) if name == "line" else F.col(name)
        for name in staged_schema()
    ]
    return (
        staged.select(columns)
        .repartition(partitions, PERSON_KEY)
        .mapInArrow(partition_function(job, tables), tagged_schema(tables))
    )


def default_partitions(spark, rows: int | None) -> int:
    parallelism = spark.sparkContext.defaultParallelism
    if rows is None:
        return max(parallelism, int(spark.conf.get("spark.sql.shuffle.partitions")))
    return max(parallelism, math.ceil(rows / ROWS_PER_PARTITION))


def split(table, tables: dict[str, pl.Schema]) -> dict[str, pl.DataFrame]:
    """The tagged Arrow table collected on the driver, as the local engine's tables."""
    import pyarrow.compute as pc

    out = {}
    for kind in KINDS:
        flat = table.filter(pc.equal(table[KIND], kind)).select([kind]).flatten()
        flat = flat.rename_columns([c.removeprefix(f"{kind}.") for c in flat.column_names])
        out[kind] = from_spark(flat, tables[kind])
    return out


def evaluate_staged(
    staged_dir: Path,
    file_order: list[str],
    *,
    policy: Policy,
    county: str,
    as_of: dt.date,
    law: RulePack,
    master: str | None = None,
    partitions: int | None = None,
    rows: int | None = None,
    lap: Callable[[str], None] = lambda name: None,
) -> Evaluation:
    """``clearance run --engine spark``: staged Parquet in, the local writers' inputs out."""
    try:
        import pyspark
    except ImportError:
        raise RunError(INSTALL_HINT) from None

    spark, started = session(master)
    lap("spark_start")
    try:
        job = Job(
            tuple(file_order),
            policy,
            county,
            as_of,
            law.version,
            rulepack_source=law.provenance()["source"],
            rulepack_name=law.name,
            rulepack_sha256=law.sha256,
        )
        tables = schemas(job, law)
        # recursive: the reader may split staged rows into person buckets (subfolders)
        staged = spark.read.option("recursiveFileLookup", "true").parquet(
            Path(staged_dir).resolve().as_uri()
        )
        n = partitions or default_partitions(spark, rows)
        collected = split(tagged_frame(staged, job, tables, n).toArrow(), tables)
        environment = {
            "engine": "spark",
            "spark": spark.version,
            "pyspark": pyspark.__version__,
            "spark_master": spark.sparkContext.master,
            "spark_partitions": str(n),
        }
    finally:
        if started:
            spark.stop()
    lap("rules")
    found = collected["counties"].group_by("county").agg(pl.col("convictions").sum())
    check_county(dict(zip(found["county"], found["convictions"], strict=True)), county)
    model = model_.Model(
        people=collected["people"].sort(PERSON_KEY).lazy(),
        events=model_.build(pl.LazyFrame(schema=staged_schema()), file_order).events,
        counts=collected["history"].sort("row_order").lazy(),  # the local engine's order
    )
    return Evaluation(
        decided=collected["determinations"].sort(PERSON_KEY, "cnt_order"),
        model=model,
        environment=environment,
    )
