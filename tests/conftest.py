"""Shared fixtures: engines as parameters (one test body, every engine) and one Spark session."""

from __future__ import annotations

import gc
import subprocess
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

# Engines declared once: select with -m duckdb / -m pyspark / -m "not pyspark".
ENGINES = [
    pytest.param("duckdb", marks=[pytest.mark.duckdb], id="duckdb"),
    pytest.param("pyspark", marks=[pytest.mark.pyspark], id="pyspark"),
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


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One small local Spark session for the whole test run (start-up costs seconds). It can
    reach S3: an engine connected with S3 options configures S3A on it when it is used."""
    from hydra_transforms.engines import local_spark_session

    session = local_spark_session(
        app_name="hydra-tests",
        cores=1,
        conf={"spark.sql.shuffle.partitions": "1", "spark.default.parallelism": "1"},
        jars=SPARK_JARS,
    )
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
    """The engine of this test's parameter (the shared DuckDB database or Spark session)."""
    from hydra_transforms.engines import connect

    if engine_name == "pyspark":
        return connect("pyspark", spark=request.getfixturevalue("spark_session"))
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
