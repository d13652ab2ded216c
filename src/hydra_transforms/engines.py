"""Engines: connect, read and write — the one place where DuckDB and PySpark differ.

Transforms never see these differences; they receive ibis tables. Everything engine
specific (how a CSV or a hive-partitioned Parquet dataset is read, how a partitioned
dataset is written, how a result gets exactly the declared types, session settings that
make results comparable) lives here, in one adapter per engine, looked up by name in
``ENGINES``.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from hydra_transforms.formats import CsvDialect
from hydra_transforms.stores import S3Options, is_remote

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from hydra_transforms.storage import Snapshot

__all__ = [
    "ENGINES",
    "SPARK_CONNECT_TOKEN_ENV",
    "SPARK_REMOTE_ENV",
    "CsvReadError",
    "DuckDBEngine",
    "Engine",
    "SparkConnectEngine",
    "SparkEngine",
    "connect",
    "local_spark_session",
    "spark_connect_session",
    "to_arrow",
]

# Spark settings that make a session's results comparable with DuckDB's, applied to every
# session the library is given (they are runtime SQL settings). docs/engines.md explains each.
SPARK_SQL_CONF: Mapping[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    # ANSI mode (Spark 4's default, not Spark 3's nor every cluster's): integer overflow,
    # invalid casts and out-of-range casts raise, as they do on DuckDB, instead of wrapping
    # around or becoming NULL. The price: x / 0 and x % 0 raise too (DuckDB gives inf, NaN or
    # NULL; use expr.divide and expr.modulo), and so does an array index past the end
    # (expr.element_at).
    "spark.sql.ansi.enabled": "true",
    # Partition values stay strings, as on DuckDB (hive_types_autocast=false).
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    # Timestamps are written as INT64 microseconds (Spark's default is the legacy INT96), so
    # both engines write the same Parquet types.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}

# Settings that keep a local session small and quiet.
LOCAL_SPARK_CONF: Mapping[str, str] = {
    **SPARK_SQL_CONF,
    "spark.ui.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.extraJavaOptions": "-Dlog4j2.level=ERROR",
}

# The environment variables that name a Spark Connect server (pyspark's own,
# ``sc://host:port``) and its bearer token. The library reads no environment: the command
# line (cli) and the project's settings read these and pass them to :func:`connect`.
SPARK_REMOTE_ENV = "SPARK_REMOTE"
SPARK_CONNECT_TOKEN_ENV = "SPARK_CONNECT_TOKEN"

# Spark calls latin-1 by its ISO name.
_SPARK_ENCODINGS = {"utf-8": "utf-8", "utf-16": "utf-16", "latin-1": "iso-8859-1"}


class CsvReadError(ValueError):
    """A CSV file does not have the declared dialect, or a row does not parse."""


class Engine(ABC):
    """An ibis backend plus the reads and writes the runner needs from it."""

    name: ClassVar[str]

    def __init__(self, con: Any, *, s3: S3Options | None = None) -> None:
        self.con = con
        self.s3 = s3  # how to reach s3:// locations (for the engine and for manifests)

    @abstractmethod
    def read_parquet(self, path: str) -> ir.Table:
        """A Parquet file, or a directory of (hive-partitioned) Parquet files."""

    @abstractmethod
    def read_snapshot(self, snapshot: Snapshot) -> ir.Table:
        """The committed version of a dataset: the directories its manifest names, with the
        partition column (a string) taken from their names."""

    @abstractmethod
    def read_csv(self, path: str, dialect: CsvDialect, *, names: Sequence[str]) -> ir.Table:
        """A CSV file read in exactly ``dialect``, every column as a string (typed later).

        ``names`` are the column names when the dialect has no header line; with a header
        they come from it.
        """

    @abstractmethod
    def type_sql(self, dtype: dt.DataType) -> str:
        """The engine's SQL name of an ibis type."""

    def conform(self, expr: ir.Table, schema: Mapping[str, dt.DataType]) -> ir.Table:
        """``expr`` with the columns named in ``schema`` cast to exactly those types.

        The cast is SQL around the compiled expression, not ibis' ``cast``: ibis drops a cast
        to the type it believes a column has, and it is sometimes wrong about what the engine
        computes (Spark's ROW_NUMBER is INT where ibis says int64; DuckDB's SUM of BIGINT is
        HUGEINT). Other columns are kept as they are.
        """
        columns = ", ".join(
            f"{self.nullable_sql(self.cast_sql(name, schema[name]) if name in schema else self.quote(name))} AS {self.quote(name)}"
            for name in expr.columns
        )
        self.con._run_pre_execute_hooks(expr)  # registers ibis.memtable data, as execute does
        return self.con.sql(f"SELECT {columns} FROM ({self.con.compile(expr)}) AS conformed")

    def cast_sql(self, name: str, dtype: dt.DataType) -> str:
        return f"CAST({self.quote(name)} AS {self.type_sql(dtype)})"

    def nullable_sql(self, sql: str) -> str:
        """``sql`` as a column the engine writes as nullable (OPTIONAL in Parquet)."""
        return sql

    @abstractmethod
    def write_parquet(self, expr: ir.Table, path: str, *, partition_by: str | None) -> None:
        """Write ``expr`` as a directory of Parquet files, hive-partitioned if asked."""

    def from_arrow(self, table: pa.Table, *, name: str) -> ir.Table:
        """Make an in-memory Arrow table available to expressions on this engine."""
        return self.con.create_table(name, table, overwrite=True)

    @abstractmethod
    def cancel(self) -> None:
        """Ask the engine to stop the work it is doing now; callable from any thread. The
        call that was running returns with an error."""

    def quiesce(self) -> None:
        """Stop whatever the engine still runs for this process, and wait until it has stopped.

        Called before a failed or interrupted write removes its staging output, so that no
        job of the engine writes into it afterwards. DuckDB runs queries in the calling
        thread: once the call has returned, nothing runs.
        """
        return None

    @staticmethod
    @abstractmethod
    def quote(identifier: str) -> str:
        """An identifier quoted for the engine's SQL."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class DuckDBEngine(Engine):
    name = "duckdb"

    def read_parquet(self, path: str) -> ir.Table:
        return self._read([path if _is_file(path) else f"{path.rstrip('/')}/**/*.parquet"])

    def read_snapshot(self, snapshot: Snapshot) -> ir.Table:
        return self._read([f"{uri}/**/*.parquet" for uri in snapshot.parts.values()])

    def _read(self, patterns: list[str]) -> ir.Table:
        # Partition values stay strings on both engines (Spark's inference is off too).
        table = self.con.read_parquet(patterns, hive_partitioning=True, hive_types_autocast=False)
        # DuckDB trusts a Parquet file's min/max statistics for floats, which pyarrow (and the
        # Parquet spec) write without NaN: given [0.25, NaN], `isnan(x)` and `x > 1` are then
        # answered from the statistics and find nothing (tests/transforms/test_engines.py
        # proves it). Reading every float through an arithmetic identity keeps those
        # predicates on the values; `x * 1` keeps NaN, infinities and the sign of zero.
        floats = {
            name: table[name] * ibis.literal(1, type=dtype)
            for name, dtype in table.schema().items()
            if dtype.is_floating()
        }
        return table.mutate(**floats) if floats else table

    def read_csv(self, path: str, dialect: CsvDialect, *, names: Sequence[str]) -> ir.Table:
        # No sniffing: the header is parsed here with the declared dialect, and DuckDB is told
        # every column (auto_detect=false), so it guesses neither delimiter, quote, comment
        # character nor types.
        columns = (
            _header_names(self._first_line(path, dialect), dialect, path)
            if dialect.header
            else list(names)
        )
        table = self.con.read_csv(
            path,
            auto_detect=False,
            header=dialect.header,
            columns=dict.fromkeys(columns, "VARCHAR"),
            delim=dialect.delimiter,
            quote=dialect.quote,
            escape=dialect.escape,
            encoding=dialect.encoding,
            strict_mode=True,
        )
        # Read once into a temporary table: errors in the file (a row with too many fields)
        # surface here, where the path is known, not later in the middle of a transform.
        try:
            return self.con.create_table(ibis.util.gen_name("hydra_csv"), table, temp=True)
        except Exception as exc:  # duckdb.InvalidInputException, not importable lazily
            raise CsvReadError(_first_lines(str(exc), 3)) from exc

    def _first_line(self, path: str, dialect: CsvDialect) -> str:
        """The file's first line, decoded, with a byte-order mark removed (DuckDB does both)."""
        query = (
            f"SELECT line FROM read_csv('{_escape(path)}', header=false, auto_detect=false, "
            "columns={'line': 'VARCHAR'}, delim=E'\\x01', quote='', escape='', "
            f"encoding='{dialect.encoding}', strict_mode=false) LIMIT 1"
        )
        rows = self.con.raw_sql(query).fetchall()
        if not rows or rows[0][0] is None:
            raise CsvReadError(f"{path} is empty: expected a header line ({dialect.describe()})")
        return rows[0][0]

    def cancel(self) -> None:
        self.con.con.interrupt()

    def type_sql(self, dtype: dt.DataType) -> str:
        from ibis.backends.sql.datatypes import DuckDBType

        return DuckDBType.to_string(dtype)

    def write_parquet(self, expr: ir.Table, path: str, *, partition_by: str | None) -> None:
        self.con._run_pre_execute_hooks(expr)  # registers ibis.memtable data, as to_parquet does
        if not is_remote(path):
            Path(path).mkdir(parents=True, exist_ok=True)  # DuckDB makes the last level only
        if partition_by:
            target, options = path, f", PARTITION_BY ({self.quote(partition_by)})"
        else:
            target, options = f"{path.rstrip('/')}/part-00000.parquet", ""
        self.con.raw_sql(
            f"COPY ({self.con.compile(expr)}) TO '{_escape(target)}' (FORMAT parquet{options})"
        )

    @staticmethod
    def quote(identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'


class SparkEngine(Engine):
    name = "pyspark"

    def __init__(self, con: Any, *, s3: S3Options | None = None, s3a: bool = True) -> None:
        super().__init__(con, s3=s3)
        for key, value in SPARK_SQL_CONF.items():  # also applied to sessions the caller built
            self.session.conf.set(key, value)
        if s3 is not None and s3a:
            self._configure_s3a(s3)

    def _configure_s3a(self, s3: S3Options) -> None:
        # Into the Hadoop configuration, not the Spark conf: keys set there are not listed
        # with the session's settings; S3A file systems created from now on use them.
        context: Any = self.session.sparkContext
        hadoop = context._jsc.hadoopConfiguration()
        for key, value in spark_s3_conf(s3, secrets=True).items():
            hadoop.set(key.removeprefix("spark.hadoop."), value)

    @property
    def session(self) -> SparkSession:
        return self.con._session

    def read_parquet(self, path: str) -> ir.Table:
        return self.con.read_parquet(path)

    def read_snapshot(self, snapshot: Snapshot) -> ir.Table:
        column = snapshot.partition_column
        frames = []
        if column is None:
            frames = [self.session.read.parquet(*snapshot.parts.values())]
        else:
            # One read per version: Spark finds the partition column below one base path.
            by_base: dict[str, list[str]] = {}
            for uri in snapshot.parts.values():
                by_base.setdefault(uri.rsplit("/", 1)[0], []).append(uri)
            for base, uris in by_base.items():
                frames.append(self.session.read.option("basePath", base).parquet(*uris))
        frame = frames[0]
        for other in frames[1:]:
            frame = frame.unionByName(other)
        view = ibis.util.gen_name("hydra_dataset")
        frame.createOrReplaceTempView(view)
        return self.con.table(view)

    def read_csv(self, path: str, dialect: CsvDialect, *, names: Sequence[str]) -> ir.Table:
        reader = self.session.read.options(
            sep=dialect.delimiter,
            quote=dialect.quote,
            escape=dialect.escape,
            header=dialect.header,
            encoding=_SPARK_ENCODINGS[dialect.encoding],
            inferSchema=False,
            # Quoted fields may span lines, as on DuckDB; a malformed row fails the read.
            multiLine=True,
            mode="FAILFAST",
        )
        frame = reader.csv(path)
        if not dialect.header:
            if len(frame.columns) != len(names):
                raise CsvReadError(
                    f"{path} has {len(frame.columns)} fields per row; expected {len(names)} "
                    f"({', '.join(names)}) in the declared dialect ({dialect.describe()})"
                )
            frame = frame.toDF(*names)
        view = ibis.util.gen_name("hydra_csv")
        frame.createOrReplaceTempView(view)
        return self.con.table(view)

    def type_sql(self, dtype: dt.DataType) -> str:
        from ibis.backends.sql.datatypes import PySparkType

        if dtype.is_timestamp() and dtype.timezone is None:  # type: ignore[attr-defined]
            return "TIMESTAMP_NTZ"  # ibis names both Spark timestamp types TIMESTAMP
        if dtype.is_array():
            return f"ARRAY<{self.type_sql(dtype.value_type)}>"  # type: ignore[attr-defined]
        return PySparkType.to_string(dtype)

    def cancel(self) -> None:
        self.session.sparkContext.cancelAllJobs()

    def quiesce(self, *, timeout_s: float = 60.0) -> None:
        # From a thread of its own: the caller's thread may have been interrupted in the middle
        # of a call into the JVM, which leaves its Py4J connection unusable.
        def stop() -> None:
            self.cancel()
            context: Any = self.session.sparkContext
            tracker = context._jsc.sc().statusTracker()  # Scala's: it knows running tasks
            deadline = time.monotonic() + timeout_s
            # A cancelled job ends before its tasks do: a killed task still closes its file
            # (recreating the directories it was writing in) and then aborts. Wait for both.
            while time.monotonic() < deadline and (
                len(tracker.getActiveJobIds())
                or any(e.numRunningTasks() for e in tracker.getExecutorInfos())
            ):
                time.sleep(0.1)

        worker = threading.Thread(target=stop, name="hydra-spark-quiesce", daemon=True)
        worker.start()
        worker.join(timeout_s)

    def nullable_sql(self, sql: str) -> str:
        # Spark writes a column it can prove non-null (a count, a row number) as REQUIRED in
        # Parquet, where DuckDB writes OPTIONAL: the files' schemas would differ. Nullability
        # is the contract's business, so every column is written OPTIONAL. The condition is
        # never true but the optimizer cannot fold it (spark_partition_id is not constant).
        return f"IF(spark_partition_id() < 0, NULL, {sql})"

    def write_parquet(self, expr: ir.Table, path: str, *, partition_by: str | None) -> None:
        # "error" is ErrorIfExists; pyspark's Connect writer refuses its synonym "errorifexists"
        # (UNSUPPORTED_OPERATION; tests/connect/test_defects.py).
        options: dict[str, Any] = {"mode": "error"}
        if partition_by:
            options["partitionBy"] = [partition_by]
        self.con.to_parquet(expr, path, **options)

    def from_arrow(self, table: pa.Table, *, name: str) -> ir.Table:
        frame = self._data_frame(table)
        for field in table.schema:
            if pa.types.is_timestamp(field.type) and field.type.tz is None:
                # Spark reads zone-less Arrow timestamps as TIMESTAMP (local time); keep them
                # zone-less, as Parquet reads and DuckDB do (values are UTC in this session).
                frame = frame.withColumn(field.name, frame[field.name].cast("timestamp_ntz"))
        frame.createOrReplaceTempView(name)
        return self.con.table(name)

    def _data_frame(self, table: pa.Table) -> Any:
        return self.session.createDataFrame(table)

    @staticmethod
    def quote(identifier: str) -> str:
        return "`" + identifier.replace("`", "``") + "`"


class SparkConnectEngine(SparkEngine):
    """Spark reached through Spark Connect (``sc://host:port``): the same SQL, reads and
    writes as :class:`SparkEngine`, sent over gRPC to a server. No JVM runs in this process.

    Everything a Connect session does differently from a classic one is handled here and in
    the engine's ibis backend (``_connect_backend``: ``Table.cache()``):

    - There is no SparkContext or JVM on this side. S3A settings go into the session's own
      settings, without the ``spark.hadoop.`` prefix (``fs.s3a.endpoint``): Spark copies a
      session's settings into the Hadoop configuration of each of its reads and writes. A
      client cannot reach the server's Hadoop configuration.
    - :meth:`cancel` interrupts this session's operations (``interruptAll``); the server
      cancels their jobs. :meth:`quiesce` waits until the session has no operation left. It
      cannot see the server's tasks, as the classic engine does through the JVM: a killed
      task may still close its file shortly after.
    - Paths are the server's: local paths work only when the server runs on this machine.
      The runner writes manifests from this process, so a remote server needs datasets on an
      object store both sides reach.
    - Only runtime SQL settings can be set (``spark_connect_session(conf=...)``); memory,
      cores and jars are the server's, set where it starts.
    - pyspark's Connect client refuses an empty Arrow table (``_data_frame``) and the save
      mode "errorifexists" (``SparkEngine.write_parquet`` says "error").
    """

    name = "spark-connect"

    def _configure_s3a(self, s3: S3Options) -> None:
        # Spark redacts these keys' values (spark.redaction.regex: secret, token, access.key)
        # where it shows settings.
        for key, value in spark_s3_conf(s3, secrets=True).items():
            self.session.conf.set(key.removeprefix("spark.hadoop."), value)

    def _data_frame(self, table: pa.Table) -> Any:
        if table.num_rows == 0:
            # pyspark 4.0's Connect createDataFrame refuses an empty Arrow table
            # (CANNOT_INFER_EMPTY_SCHEMA: it tests len(data) before it looks at the type), so
            # the table's own schema is given to it (tests/connect/test_defects.py).
            from pyspark.sql.pandas.types import from_arrow_schema

            return self.session.createDataFrame(table, schema=from_arrow_schema(table.schema))
        return self.session.createDataFrame(table)

    def cancel(self) -> None:
        self.session.interruptAll()

    def quiesce(self, *, timeout_s: float = 60.0) -> None:
        # interruptAll returns the operations it found: the session is quiet when it finds none.
        def stop() -> None:
            deadline = time.monotonic() + timeout_s
            while self.session.interruptAll() and time.monotonic() < deadline:
                time.sleep(0.1)

        worker = threading.Thread(target=stop, name="hydra-connect-quiesce", daemon=True)
        worker.start()
        worker.join(timeout_s)


ENGINES: Mapping[str, type[Engine]] = {
    DuckDBEngine.name: DuckDBEngine,
    SparkEngine.name: SparkEngine,
    SparkConnectEngine.name: SparkConnectEngine,
}


def connect(
    engine: str,
    *,
    spark: SparkSession | None = None,
    remote: str | None = None,
    token: str | None = None,
    database: str = ":memory:",
    duckdb_config: Mapping[str, Any] | None = None,
    s3: S3Options | None = None,
    spark_s3a: bool = True,
) -> Engine:
    """Connect to an engine by name: ``duckdb`` (in-process), ``pyspark`` (a given session,
    or a new local one) or ``spark-connect`` (a Spark Connect server).

    ``spark-connect`` takes a Connect session as ``spark``, or opens one on ``remote``
    (``sc://host:port``) with ``token``, if the server needs one (see
    :func:`spark_connect_session`).

    ``duckdb_config`` holds DuckDB settings for the connection, e.g. ``{"memory_limit":
    "8GB", "threads": 4, "temp_directory": "/scratch/duckdb"}``: beyond the memory limit
    DuckDB spills to the temporary directory instead of failing. ``s3`` says how to reach
    ``s3://`` locations (endpoint, region, credentials); without it only local paths work.
    For Spark, the session also needs the S3A jars (``local_spark_session(s3=..., jars=...)``);
    on a cluster whose own file system serves ``s3://`` (EMRFS, Databricks), ``spark_s3a=False``
    leaves it alone and ``s3`` serves the manifests only.
    """
    if (remote is not None or token is not None) and engine != SparkConnectEngine.name:
        raise ValueError(
            f"remote= and token= are for a Spark Connect server: engine {engine!r} takes none"
        )
    if engine == "duckdb":
        return DuckDBEngine(_duckdb_connection(database, duckdb_config or {}, s3), s3=s3)
    if engine == "pyspark":
        if spark is not None and _is_connect_session(spark):
            raise ValueError(
                "this is a Spark Connect session: connect it as "
                "connect('spark-connect', spark=session)"
            )
        return SparkEngine(_spark_connection(spark), s3=s3, s3a=spark_s3a)
    if engine == SparkConnectEngine.name:
        if spark is not None and remote is not None:
            raise ValueError("give the Spark Connect engine a session or a URL, not both")
        if spark is not None and not _is_connect_session(spark):
            raise ValueError(
                "the spark-connect engine needs a Spark Connect session (this one is classic: "
                "connect it as connect('pyspark', spark=session))"
            )
        if spark is None:
            if remote is None:
                raise ValueError(
                    "the spark-connect engine needs a server: connect('spark-connect', "
                    "remote='sc://host:port') or a Connect session as spark="
                )
            spark = spark_connect_session(remote, token=token)
        session = spark
        return SparkConnectEngine(_connect_backend().connect(session), s3=s3, s3a=spark_s3a)
    raise ValueError(f"unknown engine {engine!r}; valid engines: {', '.join(ENGINES)}")


def local_spark_session(
    *,
    app_name: str = "hydra",
    cores: int | str = "*",
    conf: Mapping[str, str] | None = None,
    s3: S3Options | None = None,
    jars: Sequence[str | Path] = (),
) -> SparkSession:
    """A local SparkSession with settings that keep it small and comparable with DuckDB.

    With ``s3``, the session reads and writes ``s3://`` and ``s3a://`` through S3A; ``jars``
    are then hadoop-aws and the AWS SDK modules it needs (``make jars`` fetches them into
    ``.cache/spark-jars``). Credentials in ``s3`` are given to Spark when the engine
    connects (``connect("pyspark", spark=session, s3=s3)``), not as Spark settings.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            'the pyspark engine needs PySpark: pip install "ascii-hydra[spark]"'
        ) from exc
    builder = SparkSession.builder.master(f"local[{cores}]").appName(app_name)
    settings = {**LOCAL_SPARK_CONF, **(spark_s3_conf(s3, secrets=False) if s3 else {})}
    if jars:
        settings["spark.jars"] = ",".join(str(jar) for jar in jars)
    for key, value in {**settings, **(conf or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_connect_session(
    remote: str,
    *,
    token: str | None = None,
    conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """A new session on the Spark Connect server at ``remote``: ``sc://host:port``, with
    Spark's connection-string parameters (``sc://host:port/;use_ssl=true``).

    A server started with ``spark.connect.authenticate.token`` needs a bearer token: the
    URL's ``;token=...``, or else ``token``, which is handed to gRPC's call credentials only
    (never put in the URL, a setting or a log). pyspark sends a token over TLS only
    (``use_ssl=true``), or to a server called ``localhost`` by that name.

    ``conf`` holds runtime SQL settings for this session. Static ones (memory, cores, jars)
    belong to the server: setting one raises ``CANNOT_MODIFY_CONFIG`` here, where pyspark's
    own ``builder.config(...)`` drops it with a warning.

    Each call opens a new server-side session (its own temporary views and settings), where
    pyspark's ``getOrCreate()`` would return any Connect session this process already has,
    to whatever server.
    """
    try:
        from pyspark.sql.connect.client import DefaultChannelBuilder
        from pyspark.sql.connect.session import SparkSession as ConnectSession
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "the spark-connect engine needs PySpark with its Connect client (grpcio-status, "
            'googleapis-common-protos): pip install "ascii-hydra[spark]"'
        ) from exc
    if not remote or not remote.startswith("sc://"):
        # not echoed: a URL may carry its token
        raise ValueError("a Spark Connect URL is sc://host:port[/;param=value...]")
    channel = DefaultChannelBuilder(remote)
    if token and channel.getDefault(DefaultChannelBuilder.PARAM_TOKEN, None) is None:
        channel.set(DefaultChannelBuilder.PARAM_TOKEN, token)
    session: Any = ConnectSession.builder.channelBuilder(channel).create()
    for key, value in (conf or {}).items():
        session.conf.set(key, value)
    return session


def to_arrow(expr: ir.Table) -> pa.Table:
    """The result of ``expr`` as an Arrow table, exactly as the engine computed it.

    Use this instead of ``Table.to_pyarrow()``: ibis 12 fetches PySpark results through
    pandas, where NaN becomes NULL and an int64 column with a NULL goes through float64
    (2^53 + 1 comes back as 2^53; values near the int64 limits raise ArrowInvalid).
    Spark's own ``DataFrame.toArrow()`` keeps every value.
    """
    backend: Any = expr._find_backend()
    if backend.name != "pyspark":
        return expr.to_pyarrow()
    backend._run_pre_execute_hooks(expr)
    return backend._session.sql(backend.compile(expr)).toArrow()


def _is_connect_session(session: Any) -> bool:
    """Whether ``session`` is a Spark Connect session (without importing the Connect client,
    which needs grpc)."""
    return type(session).__module__.startswith("pyspark.sql.connect.")


@functools.cache
def _connect_backend() -> Any:
    """ibis' pyspark backend, with what a Spark Connect session needs done differently.

    ``Table.cache()``: ibis caches ``session.sql(query).cache()``, asserts ``is_cached``, and
    puts a temporary view on it. Classic pyspark answers ``is_cached`` from a flag, and its
    view holds the very plan that was cached. Connect sends the query text each time, and the
    server analyzes it again: a query with a CTE (ibis writes WITH for a subquery used twice)
    gets new CTE ids and matches nothing cached. The assert fails, and without it every read
    would recompute the result (tests/connect/test_defects.py shows both). So the view is
    made first, from the query analyzed once, and the view is cached: every read of it finds
    that plan. ``CACHE LAZY TABLE``, like ``cache()``, computes it when first read.
    """
    from ibis.backends.pyspark import Backend

    ibis.pyspark.name  # noqa: B018  # loading it through ibis registers its options (compiling reads them)

    class SparkConnectBackend(Backend):
        def _create_cached_table(self, name: str, expr: ir.Table) -> ir.Table:
            self._run_pre_execute_hooks(expr)  # registers ibis.memtable data, as execute does
            self._session.sql(self.compile(expr)).createTempView(name)
            self._session.sql(f"CACHE LAZY TABLE {SparkEngine.quote(name)}")
            return self.table(name)

        def _drop_cached_table(self, name: str) -> None:
            session: Any = self._session  # a Connect session
            if session.is_stopped:  # the server released the session's cache and views
                return
            session.sql(f"UNCACHE TABLE IF EXISTS {SparkEngine.quote(name)}")
            session.catalog.dropTempView(name)

    return SparkConnectBackend()


def _spark_connection(spark: SparkSession | None) -> Any:
    session = spark or local_spark_session()  # says which extra to install if pyspark is missing
    return ibis.pyspark.connect(session)


def spark_s3_conf(s3: S3Options, *, secrets: bool) -> dict[str, str]:
    """The Spark settings that make S3A reach ``s3`` and read ``s3://`` paths too; with
    ``secrets``, its credentials (for the Hadoop configuration only, see SparkEngine)."""
    conf = {
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.endpoint.region": s3.region,
        "spark.hadoop.fs.s3a.path.style.access": str(s3.path_style).lower(),
        "spark.hadoop.fs.s3a.connection.ssl.enabled": str(s3.secure).lower(),
    }
    if s3.endpoint_url:
        conf["spark.hadoop.fs.s3a.endpoint"] = s3.endpoint_url
    if secrets and s3.access_key_id and s3.secret_access_key:
        conf["spark.hadoop.fs.s3a.access.key"] = s3.access_key_id
        conf["spark.hadoop.fs.s3a.secret.key"] = s3.secret_access_key
        if s3.session_token:
            conf["spark.hadoop.fs.s3a.session.token"] = s3.session_token
    return conf


def _duckdb_connection(database: str, config: Mapping[str, Any], s3: S3Options | None) -> Any:
    if s3 is None:
        con = ibis.duckdb.connect(database, **config)
    else:
        # httpfs comes with the duckdb-ext-httpfs package, built for this DuckDB: pointing the
        # extension directory at it makes DuckDB load it from there, never download it.
        con = ibis.duckdb.connect(database, extension_directory=_extensions(), **config)
        con.raw_sql("LOAD httpfs")
        con.raw_sql(_duckdb_secret(s3))
    con.raw_sql("SET TimeZone = 'UTC'")
    # NULLs sort last, ascending or descending, as on Spark once ibis writes NULLS LAST for its
    # ascending orders. This is DuckDB's default; pinned so that a changed default cannot
    # silently reorder results (docs/engines.md).
    con.raw_sql("SET default_null_order = 'nulls_last'")
    return con


def _extensions() -> str:
    spec = importlib.util.find_spec("duckdb_ext")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("S3 on DuckDB needs the duckdb-ext-httpfs package (a dependency)")
    return str(Path(spec.submodule_search_locations[0]) / "extensions")


def _duckdb_secret(s3: S3Options) -> str:
    """DuckDB's S3 secret (kept in memory only, and redacted in duckdb_secrets())."""
    options = {
        "TYPE": "s3",
        "REGION": s3.region,
        "URL_STYLE": "path" if s3.path_style else "vhost",
        "USE_SSL": "true" if s3.secure else "false",
    }
    if s3.endpoint_host:
        options["ENDPOINT"] = s3.endpoint_host
    if s3.access_key_id and s3.secret_access_key:
        options |= {"KEY_ID": s3.access_key_id, "SECRET": s3.secret_access_key}
        if s3.session_token:
            options["SESSION_TOKEN"] = s3.session_token
    body = ", ".join(
        f"{key} {value}"
        if value in ("true", "false") or key == "TYPE"
        else f"{key} '{_escape(value)}'"
        for key, value in options.items()
    )
    return f"CREATE OR REPLACE TEMPORARY SECRET hydra_s3 ({body})"


def _header_names(line: str, dialect: CsvDialect, path: str) -> list[str]:
    """The column names of a header line, split exactly as the dialect says."""
    fields = next(
        csv.reader(
            [line],
            delimiter=dialect.delimiter,
            quotechar=dialect.quote,
            escapechar=None if dialect.escape == dialect.quote else dialect.escape,
            doublequote=dialect.escape == dialect.quote,
            strict=True,
        ),
        [],
    )
    duplicates = sorted({name for name in fields if fields.count(name) > 1})
    if duplicates:
        raise CsvReadError(f"{path}: the header names {', '.join(duplicates)} more than once")
    return fields


def _first_lines(text: str, count: int) -> str:
    return "\n".join(text.strip().splitlines()[:count])


def _escape(literal: str) -> str:
    return literal.replace("'", "''")


def _is_file(path: str) -> bool:
    return path.endswith(".parquet") or (not is_remote(path) and Path(path).is_file())
