"""Shared fixtures: engines as parameters (one test body, every engine) and one Spark session."""

from __future__ import annotations

import gc
import importlib
import subprocess
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest

if TYPE_CHECKING:
    from hydra_transforms.engines import Engine

# The fault suite's report (docs/reliability.md): the fault_case mark and --reliability-report.
pytest_plugins = ["tests.reliability"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = PROJECT_ROOT / "data" / "sample"

# Engines declared once: select with -m duckdb / -m pyspark / -m connect; without Java:
# -m "not pyspark and not connect".
CONNECT = "spark-connect"  # hydra_transforms.engines.SparkConnectEngine.name
ENGINES = [
    pytest.param("duckdb", marks=[pytest.mark.duckdb], id="duckdb"),
    pytest.param("pyspark", marks=[pytest.mark.pyspark], id="pyspark"),
    pytest.param(CONNECT, marks=[pytest.mark.connect], id=CONNECT),
]
# The same, for tests of s3:// locations.
S3_ENGINES = [
    pytest.param("duckdb", marks=[pytest.mark.duckdb, pytest.mark.s3], id="duckdb"),
    pytest.param("pyspark", marks=[pytest.mark.pyspark, pytest.mark.s3], id="pyspark"),
]


def pytest_configure(config: pytest.Config) -> None:
    # Imported modules are never garbage: collecting while the test modules import ~1500 of
    # them (ibis, pandas, pandera, hypothesis) costs over half a second of full collections.
    gc.disable()


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Generator[None, object, object]:
    try:
        return (yield)
    finally:
        # What the imports built lives until exit: later full collections (and those at
        # interpreter shutdown) skip it instead of walking it again.
        gc.freeze()
        gc.enable()


# A test marked ``early_subprocess(start=f)`` gets its process ``f()`` launched as soon as
# the tests are collected, so that a fresh interpreter's seconds of imports overlap the
# in-process tests instead of following them.
EARLY_SUBPROCESSES = pytest.StashKey[dict[str, subprocess.Popen[str]]]()


# Spark Connect runs the Spark of the pyspark engine behind gRPC: a test parametrized over
# engines by hand ("engine_name") also runs on Connect, with the pyspark parameter's marks
# (an expected difference on Spark is one on Connect too). Its exceptions are Connect's
# classes: pyspark.errors.exceptions.connect.X where the classic session raises .captured.X
# (both derive from pyspark.errors.exceptions.base.X).
_CAPTURED, _CONNECTED = "pyspark.errors.exceptions.captured.", "pyspark.errors.exceptions.connect."


_ParameterSet = type(pytest.param(None))


def _connect_mark(mark: pytest.Mark) -> pytest.Mark:
    if mark.name == "pyspark":
        return pytest.mark.connect.mark
    raises = mark.kwargs.get("raises") if mark.name == "xfail" else None
    if isinstance(raises, type) and raises.__module__ + "." == _CAPTURED:
        raises = f"{_CONNECTED}{raises.__name__}"
    if isinstance(raises, str) and raises.startswith(_CAPTURED):
        raises = importlib.import_module(_CONNECTED.rstrip(".")).__dict__[
            raises.removeprefix(_CAPTURED)
        ]
        return pytest.mark.xfail(*mark.args, **{**mark.kwargs, "raises": raises}).mark
    return mark


def _with_connect(mark: pytest.Mark) -> pytest.Mark:
    """A ``parametrize("engine_name", [...])`` mark with a Connect twin of its pyspark
    parameter (unchanged without one)."""
    names, values = mark.args[0], list(mark.args[1])
    if names not in ("engine_name", ("engine_name",), ["engine_name"]):
        return mark
    params = [v if isinstance(v, _ParameterSet) else pytest.param(v) for v in values]
    if any(p.values == (CONNECT,) for p in params):
        return mark
    twins = [
        pytest.param(CONNECT, marks=[_connect_mark(m) for m in p.marks], id=CONNECT)
        for p in params
        if p.values == ("pyspark",)
    ]
    if not twins:
        return mark
    return pytest.mark.parametrize(names, [*params, *twins], **mark.kwargs).mark


@pytest.hookimpl(tryfirst=True)  # before pytest's own hook turns the marks into calls
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for node in metafunc.definition.listchain():
        node.own_markers[:] = [
            _with_connect(m) if m.name == "parametrize" else m for m in node.own_markers
        ]


def pytest_collection_finish(session: pytest.Session) -> None:
    started = session.config.stash.setdefault(EARLY_SUBPROCESSES, {})
    if session.config.option.collectonly:
        return
    for item in session.items:  # the selected tests only
        if (marker := item.get_closest_marker("early_subprocess")) is not None:
            start: Callable[[], subprocess.Popen[str]] = marker.kwargs["start"]
            started[item.nodeid] = start()


def pytest_unconfigure(config: pytest.Config) -> None:
    gc.enable()
    for process in config.stash.get(EARLY_SUBPROCESSES, {}).values():
        process.kill()  # its test did not run (-x, interrupted): leave no process behind
        process.communicate()


@pytest.fixture
def early_subprocess(request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[str]]:
    """The process started for this test's ``early_subprocess`` marker (killed if still running
    when the test ends)."""
    marker = request.node.get_closest_marker("early_subprocess")
    assert marker is not None, "the early_subprocess fixture needs the early_subprocess marker"
    started = request.config.stash.get(EARLY_SUBPROCESSES, {})
    process = started.pop(request.node.nodeid, None) or marker.kwargs["start"]()
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


# The jars `make jars` fetches: hadoop-aws and the AWS SDK, for S3 on local Spark.
SPARK_JARS = tuple(sorted((PROJECT_ROOT / ".cache" / "spark-jars").glob("*.jar")))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--spark-conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of the test run's Spark session; spark.master=spark://host:port runs "
        "the pyspark tests' driver on that cluster (tests/cluster)",
    )


@pytest.fixture(scope="session")
def spark_session(pytestconfig: pytest.Config) -> Iterator[Any]:
    """One small local Spark session for the whole test run (start-up costs seconds), or,
    with ``--spark-conf spark.master=spark://...``, a driver on that cluster. It can reach
    S3: an engine connected with S3 options configures S3A on it when it is used."""
    from hydra_transforms.engines import LOCAL_SPARK_CONF, local_spark_session

    conf = {"spark.sql.shuffle.partitions": "1", "spark.default.parallelism": "1"}
    for pair in pytestconfig.getoption("spark_conf"):
        key, sep, value = pair.partition("=")
        if not sep:
            raise pytest.UsageError(f"--spark-conf takes KEY=VALUE, not {pair!r}")
        conf[key] = value
    master = conf.pop("spark.master", "local[1]")
    if master.startswith("local"):
        cores = master.removeprefix("local[").removesuffix("]") if "[" in master else "1"
        session = local_spark_session(
            app_name="hydra-tests", cores=cores, conf=conf, jars=SPARK_JARS
        )
    else:
        from pyspark.sql import SparkSession

        builder = SparkSession.builder.master(master).appName("hydra-tests")
        jars = {"spark.jars": ",".join(map(str, SPARK_JARS))} if SPARK_JARS else {}
        settings = {**LOCAL_SPARK_CONF, **jars, **conf}
        for key, value in settings.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def spark_connect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Spark Connect server process for the whole test run, started when a test first
    needs it (``local[2]``, 2 shuffle partitions, on 127.0.0.1 and a free port, requiring a
    token), stopped by its PID at the end. It can reach S3 (the same jars as spark_session).

    In-memory tables are one partition, as in spark_session: a known difference whose witness
    depends on the order in which rows are summed (test_int64_sum_with_an_overflowing_partial_sum)
    then shows on both. Split over 2 partitions, [2^63-1, 1, -2] has no partial sum that overflows.
    """
    from tests.connect.server import LocalSparkConnect

    server = LocalSparkConnect(
        tmp_path_factory.mktemp("spark-connect"),
        cores=2,
        conf={"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "1"},
        jars=SPARK_JARS,
    )
    server.start()
    _CONNECT_SERVERS.append(server)
    yield server
    server.stop()


_CONNECT_SERVERS: list[Any] = []  # started in this run, for the summary


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for server in _CONNECT_SERVERS:
        line = f"Spark Connect server: listening {server.start_s:.1f} s after its launch"
        if server.first_query_s is not None:
            line += f"; a new session's first query took {server.first_query_s:.1f} s more"
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def spark_connect_session(spark_connect_server: Any) -> Iterator[Any]:
    """One session on the test run's Spark Connect server, opened with its token."""
    from hydra_transforms.engines import spark_connect_session

    started = time.monotonic()
    session = spark_connect_session(spark_connect_server.url, token=spark_connect_server.token)
    session.sql("SELECT 1").collect()  # the first query warms the server up
    spark_connect_server.first_query_s = time.monotonic() - started
    yield session
    session.stop()


@pytest.fixture(scope="session")
def local_s3() -> Iterator[Any]:
    """One local S3 server (moto) for the whole test run, on 127.0.0.1 and a free port."""
    from tests.emulators.s3 import LocalS3

    server = LocalS3().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def local_emr(local_s3: Any) -> Iterator[Any]:
    """The offline EMR and EMR Serverless (moto's API on the local S3's server, and a local
    data plane that runs their bootstrap actions, steps and job runs), for the whole run."""
    from tests.emulators.emr import LocalEMR

    emulator = LocalEMR(local_s3, phase_s=0.1).start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def local_databricks(local_s3: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The offline Databricks (REST on 127.0.0.1; tasks run with local spark-submit, reaching
    the local S3), for the whole run."""
    from tests.emulators.databricks import LocalDatabricks

    emulator = LocalDatabricks(root=tmp_path_factory.mktemp("databricks"), s3=local_s3).start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def duckdb_engine() -> Engine:
    """One in-memory DuckDB database for the whole test run, as Spark has one session (a new
    database costs ~15 ms)."""
    from hydra_transforms.engines import connect

    return connect("duckdb")


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def engine(engine_name: str, request: pytest.FixtureRequest) -> Engine:
    """The engine of this test's parameter (the shared DuckDB database, Spark session or
    Spark Connect session)."""
    from hydra_transforms.engines import connect

    if engine_name == "pyspark":
        return connect("pyspark", spark=request.getfixturevalue("spark_session"))
    if engine_name == CONNECT:
        return connect(CONNECT, spark=request.getfixturevalue("spark_connect_session"))
    return request.getfixturevalue("duckdb_engine")


@pytest.fixture(scope="session")
def sample_sources() -> dict[str, Path]:
    """Locations of the committed sample's raw datasets."""
    return {
        "seed_nodes": SAMPLE_DIR / "seed_nodes.csv",
        "crawl_records": SAMPLE_DIR / "crawl_records",
    }


def arrow(columns: dict[str, list[Any]], schema: dict[str, pa.DataType] | None = None) -> pa.Table:
    """A small Arrow table; columns not in ``schema`` are inferred."""
    types = schema or {}
    return pa.table({n: pa.array(v, type=types.get(n)) for n, v in columns.items()})
