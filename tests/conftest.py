"""Shared fixtures: engines as parameters (one test body, every engine) and one Spark session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Engines declared once: select with -m duckdb / -m pyspark / -m "not pyspark".
ENGINES = [
    pytest.param("duckdb", marks=[pytest.mark.duckdb], id="duckdb"),
    pytest.param("pyspark", marks=[pytest.mark.pyspark], id="pyspark"),
]


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One small local Spark session for the whole test run (start-up costs seconds)."""
    from hydra_transforms.engines import local_spark_session

    session = local_spark_session(app_name="hydra-tests")
    yield session
    session.stop()


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param
