"""The example on Spark Connect: outputs equal to DuckDB's, contracts with the same reports.

The engine-parametrized tests (tests/example, tests/transforms, tests/semantics) run on Connect
too, through the ``spark-connect`` engine parameter; these compare Connect with DuckDB
directly, on the committed sample and on generated inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from hydra_transforms.contracts import validate
from hydra_transforms.engines import Engine, SparkConnectEngine, connect
from hydra_transforms.example import registry
from hydra_transforms.parity import assert_parity, compare_tables
from hydra_transforms.runner import run_pipeline
from hydra_transforms.storage import read_arrow
from tests.example.test_contracts import CASES
from tests.example.test_contracts import _table as contract_table
from tests.example.test_parity import _seeds, seed_rows

pytestmark = pytest.mark.connect

TRANSFORMS = [t.name for t in registry.transforms]


@pytest.fixture(scope="module")
def duckdb_outputs(
    sample_sources: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The example on the sample, written by DuckDB: what Connect must write."""
    warehouse = tmp_path_factory.mktemp("duckdb_warehouse")
    run_pipeline(registry, engine=connect("duckdb"), sources=sample_sources, warehouse=warehouse)
    return warehouse


def test_the_example_pipeline_writes_what_duckdb_writes(
    connect_engine: SparkConnectEngine,
    sample_sources: dict[str, Path],
    duckdb_outputs: Path,
    tmp_path: Path,
) -> None:
    """The whole pipeline: CSV and hive-partitioned Parquet sources read by the server,
    every contract checked, every output published; then the files compared with DuckDB's:
    the same types and the same rows."""
    results = run_pipeline(
        registry, engine=connect_engine, sources=sample_sources, warehouse=tmp_path
    )
    for name in TRANSFORMS:
        assert results[name].engine == "spark-connect"
        assert results[name].output_report is not None
        assert results[name].output_report.passed
        written, expected = read_arrow(tmp_path / name), read_arrow(duckdb_outputs / name)
        assert written.num_rows == expected.num_rows > 0, name
        assert _types(written) == _types(expected), name
        assert compare_tables(expected, written, names=("duckdb", "spark-connect")) == [], name


@pytest.mark.parametrize("name", CASES)
def test_contracts_give_the_same_reports_as_on_duckdb(
    name: str, connect_engine: SparkConnectEngine, duckdb_engine: Engine
) -> None:
    case = CASES[name]
    reports = [
        validate(contract_table(engine, case, case.bad, extra=True), case.contract)
        for engine in (duckdb_engine, connect_engine)
    ]
    assert reports[0] == reports[1]
    assert not reports[0].passed


@settings(
    max_examples=3,  # ~3 s each; tests/example/test_parity.py tries 12 on the same Spark
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rows=seed_rows)
def test_nodes_and_rejections_agree_on_generated_seeds(
    rows: list[tuple], connect_engine: SparkConnectEngine, duckdb_engine: Engine
) -> None:
    """Odd URLs and text (non-ASCII, line ends, empty strings) through Arrow and gRPC to the
    server and back: the same nodes and rejections as on DuckDB."""
    seeds = _seeds(rows)
    for name in ("nodes", "seed_rejections"):
        assert_parity(
            registry, name, inputs={"seed_nodes": seeds}, engines=(duckdb_engine, connect_engine)
        )


def _types(table: Any) -> dict[str, str]:
    return {field.name: str(field.type) for field in table.schema}
