"""Engines: connect, read and write — the one place where DuckDB and PySpark differ.

Transforms never see these differences; they receive ibis tables. Everything engine
specific (how a CSV or a hive-partitioned Parquet dataset is read, how a partitioned
dataset is written, session settings that make results comparable) lives here, in one
adapter per engine, looked up by name in ``ENGINES``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.sql.datatypes import DuckDBType

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "ENGINES",
    "DuckDBEngine",
    "Engine",
    "SparkEngine",
    "connect",
    "local_spark_session",
]

# Spark settings that make a local session small and its results comparable with DuckDB.
LOCAL_SPARK_CONF: Mapping[str, str] = {
    "spark.ui.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.extraJavaOptions": "-Dlog4j2.level=ERROR",
}


class Engine(ABC):
    """An ibis backend plus the reads and writes the runner needs from it."""

    name: ClassVar[str]

    def __init__(self, con: Any) -> None:
        self.con = con

    @abstractmethod
    def read_parquet(self, path: str) -> ir.Table:
        """A Parquet file, or a directory of (hive-partitioned) Parquet files."""

    @abstractmethod
    def read_csv(self, path: str) -> ir.Table:
        """A CSV file with a header, every column read as a string (typed later, alike)."""

    @abstractmethod
    def write_parquet(self, expr: ir.Table, path: str, *, partition_by: str | None) -> None:
        """Write ``expr`` as a directory of Parquet files, hive-partitioned if asked."""

    def from_arrow(self, table: pa.Table, *, name: str) -> ir.Table:
        """Make an in-memory Arrow table available to expressions on this engine."""
        return self.con.create_table(name, table, overwrite=True)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class DuckDBEngine(Engine):
    name = "duckdb"

    def read_parquet(self, path: str) -> ir.Table:
        pattern = path if _is_file(path) else f"{path.rstrip('/')}/**/*.parquet"
        # Partition values stay strings on both engines (Spark's inference is off too).
        return self.con.read_parquet(pattern, hive_partitioning=True, hive_types_autocast=False)

    def read_csv(self, path: str) -> ir.Table:
        # Materialised as text first: DuckDB 2.0 pushes a later TRY_CAST into its CSV reader,
        # which then raises on "x12" instead of yielding NULL (duckdb/duckdb#23818).
        table = self.con.read_csv(path, header=True, all_varchar=True)
        return self.con.create_table(ibis.util.gen_name("hydra_csv"), table, temp=True)

    def write_parquet(self, expr: ir.Table, path: str, *, partition_by: str | None) -> None:
        # DuckDB computes SUM(BIGINT) as HUGEINT and writes HUGEINT to Parquet as DOUBLE, while
        # ibis types the column int64 and elides a cast to it: cast every column in SQL.
        columns = ", ".join(
            f"CAST({_quote(name)} AS {DuckDBType.to_string(dtype)}) AS {_quote(name)}"
            for name, dtype in expr.schema().items()
        )
        self.con._run_pre_execute_hooks(expr)  # registers ibis.memtable data, as to_parquet does
        query = f"SELECT {columns} FROM ({self.con.compile(expr)})"
        if partition_by:
            target, options = path, f", PARTITION_BY ({_quote(partition_by)})"
        else:
            Path(path).mkdir(parents=True, exist_ok=True)
            target, options = f"{path}/part-00000.parquet", ""
        self.con.raw_sql(f"COPY ({query}) TO '{_escape(target)}' (FORMAT parquet{options})")


class SparkEngine(Engine):
    name = "pyspark"

    def __init__(self, con: Any) -> None:
        super().__init__(con)
        session = con._session
        # Runtime SQL settings, also applied to sessions the caller built.
        session.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        session.conf.set("spark.sql.session.timeZone", "UTC")

    @property
    def session(self) -> SparkSession:
        return self.con._session

    def read_parquet(self, path: str) -> ir.Table:
        return self.con.read_parquet(path)

    def read_csv(self, path: str) -> ir.Table:
        return self.con.read_csv(path, header=True, inferSchema=False)

    def write_parquet(self, expr: ir.Table, path: str, *, partition_by: str | None) -> None:
        options: dict[str, Any] = {"mode": "errorifexists"}
        if partition_by:
            options["partitionBy"] = [partition_by]
        self.con.to_parquet(expr, path, **options)

    def from_arrow(self, table: pa.Table, *, name: str) -> ir.Table:
        frame = self.session.createDataFrame(table)
        for field in table.schema:
            if pa.types.is_timestamp(field.type) and field.type.tz is None:
                # Spark reads zone-less Arrow timestamps as TIMESTAMP (local time); keep them
                # zone-less, as Parquet reads and DuckDB do (values are UTC in this session).
                frame = frame.withColumn(field.name, frame[field.name].cast("timestamp_ntz"))
        frame.createOrReplaceTempView(name)
        return self.con.table(name)


ENGINES: Mapping[str, type[Engine]] = {
    DuckDBEngine.name: DuckDBEngine,
    SparkEngine.name: SparkEngine,
}


def connect(
    engine: str, *, spark: SparkSession | None = None, database: str = ":memory:"
) -> Engine:
    """Connect to an engine by name: ``duckdb`` (in-process) or ``pyspark`` (a given session)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; valid engines: {', '.join(ENGINES)}")
    factory: dict[str, Callable[[], Any]] = {
        "duckdb": lambda: _duckdb_connection(database),
        "pyspark": lambda: _spark_connection(spark),
    }
    return ENGINES[engine](factory[engine]())


def local_spark_session(
    *, app_name: str = "hydra", cores: int | str = "*", conf: Mapping[str, str] | None = None
) -> SparkSession:
    """A local SparkSession with settings that keep it small and comparable with DuckDB."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            'the pyspark engine needs PySpark: pip install "ascii-hydra[spark]"'
        ) from exc
    builder = SparkSession.builder.master(f"local[{cores}]").appName(app_name)
    for key, value in {**LOCAL_SPARK_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _spark_connection(spark: SparkSession | None) -> Any:
    session = spark or local_spark_session()  # says which extra to install if pyspark is missing
    return ibis.pyspark.connect(session)


def _duckdb_connection(database: str) -> Any:
    con = ibis.duckdb.connect(database)
    con.raw_sql("SET TimeZone = 'UTC'")
    return con


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _escape(literal: str) -> str:
    return literal.replace("'", "''")


def _is_file(path: str) -> bool:
    return path.endswith(".parquet") or Path(path).is_file()
