"""Shared fixtures: engines as parameters (one test body, every engine) and one Spark session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from hydra_transforms.engines import Engine, connect

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = PROJECT_ROOT / "data" / "sample"

# Engines declared once: select with -m duckdb / -m pyspark / -m "not pyspark".
ENGINES = [
    pytest.param("duckdb", marks=[pytest.mark.duckdb], id="duckdb"),
    pytest.param("pyspark", marks=[pytest.mark.pyspark], id="pyspark"),
]


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One small local Spark session for the whole test run (start-up costs seconds)."""
    from hydra_transforms.engines import local_spark_session

    session = local_spark_session(
        app_name="hydra-tests",
        cores=1,
        conf={"spark.sql.shuffle.partitions": "1", "spark.default.parallelism": "1"},
    )
    yield session
    session.stop()


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def engine(engine_name: str, request: pytest.FixtureRequest) -> Engine:
    """A connection to the engine of this test's parameter (Spark: the shared session)."""
    if engine_name == "pyspark":
        return connect("pyspark", spark=request.getfixturevalue("spark_session"))
    return connect(engine_name)


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
