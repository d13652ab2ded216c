"""The standalone cluster of the ``cluster`` tests: one per test run, started when first
needed, stopped by its PIDs at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.standalone import StandaloneCluster


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneCluster]:
    """A master and 2 workers of 1 core each on 127.0.0.1."""
    with StandaloneCluster(tmp_path_factory.mktemp("spark-cluster"), workers=2, cores=1) as cluster:
        yield cluster
