"""Dagster assets from the registry: their shape, their checks, and runs on each engine."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from hydra_orchestration.definitions import build_definitions
from hydra_transforms.example import registry as example
from hydra_transforms.parity import compare_tables
from hydra_transforms.storage import read_arrow, snapshot
from tests.orchestration.conftest import (
    demo_settings,
    example_settings,
    failure_messages,
    run_pipeline_job,
)

PARTITION = "CC-MAIN-2024-10"


def _read(path: Path) -> Any:
    return read_arrow(path)


STEP = "demo_transforms"


def test_one_asset_per_transform_with_deps_checks_and_descriptions(tmp_path: Path) -> None:
    defs = build_definitions(example_settings(tmp_path, "pyspark"))
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {
        "seed_nodes",
        "crawl_records",
        "public_suffixes",
        *(t.name for t in example.transforms),
    }
    edges = graph.get(dg.AssetKey("edges"))
    assert {k.to_user_string() for k in edges.parent_keys} == {
        "crawl_records",
        "nodes",
        "public_suffixes",
    }
    assert edges.description == example["edges"].description
    assert edges.group_name == "example"
    assert edges.partitions_def == dg.StaticPartitionsDefinition(
        ["CC-MAIN-2024-10", "CC-MAIN-2024-33"]
    )
    assert graph.get(dg.AssetKey("nodes")).partitions_def is None
    assert "dagster/kind/pyspark" in edges.tags
    check = graph.get_check_spec(dg.AssetCheckKey(dg.AssetKey("graph"), "contract"))
    assert check.blocking is True
    assert len(graph.asset_check_keys) == len(example.transforms)
    assert graph.get(dg.AssetKey("seed_nodes")).is_external
    # One step materializes any subset of the transforms: one engine launch per run.
    step = defs.resolve_assets_def(dg.AssetKey("edges"))
    assert step.node_def.name == "example_transforms"
    assert step.can_subset
    assert step.keys == {dg.AssetKey(t.name) for t in example.transforms}


@pytest.mark.duckdb
def test_a_contract_failure_fails_the_check_and_stops_downstream(tmp_path: Path) -> None:
    result = run_pipeline_job(demo_settings(tmp_path, "duckdb", ["1", "-5", "2"]))
    assert not result.success
    evaluations = {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}
    assert evaluations["doubled"].passed is False
    assert evaluations["doubled"].metadata["rows"].value == 3
    assert "column 'n' failed greater_than_or_equal_to(0)" in str(
        evaluations["doubled"].metadata["report"].value
    )
    message = failure_messages(result)[STEP]
    assert "doubled broke its data contract" in message
    assert "total: not run: its input doubled failed earlier in this run" in message
    assert result.get_asset_materialization_events() == []
    assert snapshot(tmp_path / "warehouse" / "doubled") is None
    assert snapshot(tmp_path / "warehouse" / "total") is None


@pytest.mark.duckdb
def test_materialization_metadata(tmp_path: Path) -> None:
    result = run_pipeline_job(demo_settings(tmp_path, "duckdb", ["1", "2"]))
    assert result.success
    metadata = {
        e.materialization.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert metadata["doubled"]["dagster/row_count"].value == 2
    assert [c.name for c in metadata["doubled"]["dagster/column_schema"].value.columns] == ["n"]
    assert metadata["doubled"]["engine"].value == "duckdb"
    assert metadata["doubled"]["execution_mode"].value == "small_dev_sample_local"
    assert metadata["total"]["output"].value == str(tmp_path / "warehouse" / "total")
    assert "| n |" in metadata["total"]["preview"].value
    assert metadata["total"]["duration_s"].value >= 0


@pytest.mark.pyspark
def test_the_whole_example_gives_equal_outputs_on_duckdb_and_pyspark(tmp_path: Path) -> None:
    outputs = {}
    for engine in ("duckdb", "pyspark"):
        settings = example_settings(tmp_path / engine, engine)
        result = run_pipeline_job(
            settings, registry="hydra_transforms.example:registry", partition_key=PARTITION
        )
        assert result.success, failure_messages(result)
        engines = {
            e.materialization.metadata["engine"].value
            for e in result.get_asset_materialization_events()
        }
        assert engines == {engine}
        outputs[engine] = {
            t.name: _read(Path(settings.output_location(t.name))) for t in example.transforms
        }
    for name in outputs["duckdb"]:
        assert outputs["duckdb"][name].num_rows > 0
        assert (
            compare_tables(
                outputs["duckdb"][name], outputs["pyspark"][name], names=("duckdb", "pyspark")
            )
            == []
        )
    crawls = set(outputs["pyspark"]["edges"].column("crawl_id").to_pylist())
    assert crawls == {PARTITION}


@pytest.mark.duckdb
def test_the_engine_can_be_overridden_per_run(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path, "pyspark", ["1", "2"])
    config = {"ops": {STEP: {"config": {"engine": "duckdb"}}}}
    result = run_pipeline_job(settings, run_config=config)
    assert result.success
    engines = {
        e.materialization.asset_key.to_user_string(): e.materialization.metadata["engine"].value
        for e in result.get_asset_materialization_events()
    }
    assert engines == {"doubled": "duckdb", "total": "duckdb"}


@pytest.mark.pyspark
def test_one_asset_can_run_on_another_engine_than_the_rest(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path, "pyspark", ["1", "2"])
    config = {"engine": "duckdb", "engines": {"total": "pyspark"}}
    result = run_pipeline_job(settings, run_config={"ops": {STEP: {"config": config}}})
    assert result.success, failure_messages(result)
    engines = {
        e.materialization.asset_key.to_user_string(): e.materialization.metadata["engine"].value
        for e in result.get_asset_materialization_events()
    }
    assert engines == {"doubled": "duckdb", "total": "pyspark"}
    assert _read(tmp_path / "warehouse" / "total").column("n").to_pylist() == [6]


@pytest.mark.duckdb
def test_a_failure_stops_its_dependents_in_the_later_launches(
    tmp_path: Path, fake_entrypoint
) -> None:
    marker = tmp_path / "spark-launched"
    fake_entrypoint([sys.executable, "-c", f"open({str(marker)!r}, 'w')"])
    settings = demo_settings(tmp_path, "duckdb", ["1", "-5"])
    config = {"engines": {"total": "pyspark"}}
    result = run_pipeline_job(settings, run_config={"ops": {STEP: {"config": config}}})
    assert not result.success
    message = failure_messages(result)[STEP]
    assert "doubled broke its data contract" in message
    assert "total: not run: its input doubled failed earlier in this run" in message
    assert not marker.exists()  # the Spark launch for total never started
    assert result.get_asset_materialization_events() == []
    # Nothing was committed (doubled's directory holds its lock, and no manifest).
    assert snapshot(tmp_path / "warehouse" / "doubled") is None
    assert snapshot(tmp_path / "warehouse" / "total") is None


@pytest.mark.duckdb
def test_a_killed_launch_stops_its_dependents_but_not_the_other_launches(
    tmp_path: Path, fake_entrypoint
) -> None:
    fake_entrypoint(
        [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
    )
    settings = demo_settings(tmp_path, "duckdb", ["1", "3"])
    config = {"engines": {"negated": "pyspark"}}
    result = run_pipeline_job(
        settings,
        registry="tests.orchestration.branches:registry",
        run_config={"ops": {"branches_transforms": {"config": config}}},
    )
    assert not result.success
    message = failure_messages(result)["branches_transforms"]
    assert (
        "negated: not run, the step ended before it: the Spark subprocess was killed by SIGKILL"
    ) in message
    assert "after_negated: not run: its input negated failed earlier in this run" in message
    keys = [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()]
    assert keys == ["squared"]
    assert _read(tmp_path / "warehouse" / "squared").column("n").to_pylist() == [1, 9]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"engine": "spark"},
            "unknown engine 'spark'; valid engines: pyspark, duckdb, spark-connect, emr, emr-serverless, databricks",
        ),
        ({"engine": "emr"}, "engine 'emr' cannot run in execution mode 'small_dev_sample_local'"),
        (
            {"engines": {"total": "databricks"}},
            "engine 'databricks' cannot run in execution mode 'small_dev_sample_local'",
        ),
        (
            {"engines": {"totals": "duckdb"}},
            "engines: no transform 'totals' in demo; its transforms are doubled, total",
        ),
        # Every engine named is checked, even one that no selected asset ends up using.
        (
            {"engine": "sprak", "engines": {"doubled": "duckdb", "total": "duckdb"}},
            "unknown engine 'sprak'; valid engines: pyspark, duckdb, spark-connect, emr, emr-serverless, databricks",
        ),
    ],
)
def test_a_bad_engine_override_fails_before_anything_runs(
    tmp_path: Path, config: dict[str, Any], message: str
) -> None:
    settings = demo_settings(tmp_path, "duckdb", ["1"])
    result = run_pipeline_job(settings, run_config={"ops": {STEP: {"config": config}}})
    assert not result.success
    assert message in failure_messages(result)[STEP]
    assert not (tmp_path / "warehouse").exists()


def test_a_killed_subprocess_fails_the_asset_and_leaves_nothing(
    tmp_path: Path, fake_entrypoint
) -> None:
    script = textwrap.dedent(
        """
        import os, signal
        from dagster_pipes import open_dagster_pipes
        with open_dagster_pipes() as pipes:
            pipes.log.info("about to be killed")
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    fake_entrypoint([sys.executable, "-c", script])
    result = run_pipeline_job(demo_settings(tmp_path, "pyspark", ["1"]))
    assert not result.success
    assert "killed by SIGKILL" in failure_messages(result)[STEP]
    assert not (tmp_path / "warehouse").exists()
    assert result.get_asset_materialization_events() == []


def test_a_subprocess_that_never_opens_pipes_is_no_success(tmp_path: Path, fake_entrypoint) -> None:
    fake_entrypoint([sys.executable, "-c", "print('hello')"])
    result = run_pipeline_job(demo_settings(tmp_path, "pyspark", ["1"]))
    assert not result.success
    message = failure_messages(result)[STEP]
    assert (
        "doubled: not run, the step ended before it: the step ended without opening Dagster Pipes"
        in message
    )
    assert (
        "total: not run, the step ended before it: the step ended without opening Dagster Pipes"
        in message
    )
    assert result.get_asset_materialization_events() == []


@pytest.mark.pyspark
def test_an_error_in_the_subprocess_fails_the_asset_with_the_reason(tmp_path: Path) -> None:
    # "x" is no integer: the input contract fails inside the Spark subprocess.
    result = run_pipeline_job(demo_settings(tmp_path, "pyspark", ["1", "x"]))
    assert not result.success
    message = failure_messages(result)[STEP]
    assert "doubled: ContractViolation: dataset 'numbers' failed contract Numbers" in message
    assert (
        "column 'n' failed dtype('int64'): text that does not parse as int64 (1 failing row); "
        "e.g. 'x'"
    ) in message
    assert "total: not run: its input doubled failed earlier in this run" in message
    assert result.get_asset_materialization_events() == []
    assert not (tmp_path / "warehouse").exists()


@pytest.mark.duckdb
def test_a_subset_runs_only_the_selected_transforms(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path, "duckdb", ["1", "2"])
    assert run_pipeline_job(settings).success
    (tmp_path / "numbers.csv").write_text("n\n5\n")
    result = run_pipeline_job(settings, asset_selection=[dg.AssetKey("total")])
    assert result.success, failure_messages(result)
    keys = [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()]
    assert keys == ["total"]
    # total was recomputed from the published doubled (1, 2), not from the new numbers.
    assert _read(tmp_path / "warehouse" / "total").column("n").to_pylist() == [6]


@pytest.mark.pyspark
def test_the_entrypoint_runs_where_dagster_cannot_be_imported(
    tmp_path: Path, fake_entrypoint
) -> None:
    script = textwrap.dedent(
        """
        import importlib.abc, runpy, sys

        class NoDagster(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "dagster" or name.startswith("dagster."):
                    raise ImportError("dagster is not installed here")
                return None

        sys.meta_path.insert(0, NoDagster())
        runpy.run_module("hydra_orchestration.remote.entrypoint", run_name="__main__")
        """
    )
    fake_entrypoint([sys.executable, "-c", script])
    result = run_pipeline_job(demo_settings(tmp_path, "pyspark", ["1", "2", "3"]))
    assert result.success, failure_messages(result)
    totals = _read(tmp_path / "warehouse" / "total").column("n").to_pylist()
    assert totals == [12]


@pytest.mark.duckdb
def test_a_failed_transform_stops_its_dependents_but_not_the_other_branches(
    tmp_path: Path,
) -> None:
    settings = demo_settings(tmp_path, "duckdb", ["1", "3"])
    result = run_pipeline_job(settings, registry="tests.orchestration.branches:registry")
    assert not result.success
    message = failure_messages(result)["branches_transforms"]
    assert "negated broke its data contract" in message
    assert "after_negated: not run: its input negated failed earlier in this run" in message
    assert "squared" not in message
    keys = [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()]
    assert keys == ["squared"]
    assert _read(tmp_path / "warehouse" / "squared").column("n").to_pylist() == [1, 9]
    assert snapshot(tmp_path / "warehouse" / "negated") is None
    assert snapshot(tmp_path / "warehouse" / "after_negated") is None
