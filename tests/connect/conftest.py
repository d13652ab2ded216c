"""Fixtures of the Spark Connect tests (the server and its session are in tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from hydra_transforms.engines import SparkConnectEngine, connect


@pytest.fixture
def connect_engine(spark_connect_session: Any) -> SparkConnectEngine:
    """The spark-connect engine on the test run's Connect session."""
    engine = connect("spark-connect", spark=spark_connect_session)
    assert isinstance(engine, SparkConnectEngine)
    return engine
