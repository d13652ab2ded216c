"""The S3 execution mode through Dagster, on the local S3 server: the sample uploaded by
`hydra upload-sample`, the example materialized on DuckDB and on PySpark, outputs equal to
the local run's, no secret in what Dagster recorded."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from hydra_orchestration.definitions import PIPELINE_JOB, build_definitions
from hydra_orchestration.settings import Settings, load_settings
from hydra_transforms.example import registry as example
from hydra_transforms.storage import read_arrow
from tests.conftest import PROJECT_ROOT, S3_ENGINES, SAMPLE_DIR
from tests.emulators.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY
from tests.orchestration.conftest import TEST_SPARK, failure_messages

pytestmark = pytest.mark.s3
PARTITION = "CC-MAIN-2024-10"
BUCKET = "hydra-orchestration"


def _config(tmp: Path, endpoint_url: str) -> Path:
    """The packaged config's S3 modes, pointed at the local S3 server; the local sample mode
    as it is (where upload-sample copies from)."""
    config = tmp / "hydra.toml"
    config.write_text(
        f"""
        [partitions]
        crawl_id = ["CC-MAIN-2024-10", "CC-MAIN-2024-33"]
        [s3]
        bucket = "{BUCKET}"
        prefix = "{tmp.name}"
        endpoint_url = "{endpoint_url}"
        path_style = true
        [modes.small_dev_sample_local]
        warehouse = "{tmp / "local-warehouse"}"
        [modes.small_dev_sample_local.sources]
        seed_nodes = "{SAMPLE_DIR / "seed_nodes.csv"}"
        crawl_records = "{SAMPLE_DIR / "crawl_records"}"
        [modes.small_dev_sample_s3]
        warehouse = "{{s3}}/small_dev_sample_s3/warehouse"
        [modes.small_dev_sample_s3.sources]
        seed_nodes = "{{s3}}/sample/seed_nodes.csv"
        crawl_records = "{{s3}}/sample/crawl_records"
        [pyspark]
        jars = "{PROJECT_ROOT / ".cache" / "spark-jars"}"
        """.replace("\n        ", "\n")
    )
    return config


@pytest.fixture(scope="module")
def s3_project(local_s3: Any, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A project config on the local S3, with the sample uploaded by `hydra upload-sample`."""
    tmp = tmp_path_factory.mktemp("s3project")
    local_s3.bucket(BUCKET)
    environ = {
        "HYDRA_CONFIG": str(_config(tmp, local_s3.endpoint_url)),
        "ASCII_AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "ASCII_AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    }
    done = subprocess.run(
        [sys.executable, "-m", "hydra_transforms.cli", "upload-sample"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"-> s3://{BUCKET}/{tmp.name}/sample/seed_nodes.csv" in done.stdout
    return {"tmp": tmp, "environ": environ}


def _settings(project: dict, engine: str, tmp_path: Path) -> Settings:
    environ = {
        **project["environ"],
        "SPARK_PIPES_ENGINE": engine,
        "SPARK_EXECUTION_MODE": "small_dev_sample_s3",
    }
    settings = load_settings(environ, cwd=PROJECT_ROOT)
    warehouse = f"{settings.warehouse}/{tmp_path.name}"
    spark = {**settings.spark_conf, "pyspark": TEST_SPARK}
    return dataclasses.replace(
        settings, warehouse=warehouse, dagster_home=tmp_path / "home", spark_conf=spark
    )


@pytest.fixture(scope="module")
def local_outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hydra_transforms.engines import connect
    from hydra_transforms.runner import run_pipeline

    warehouse = tmp_path_factory.mktemp("local")
    run_pipeline(
        example,
        engine=connect("duckdb"),
        sources={
            "seed_nodes": SAMPLE_DIR / "seed_nodes.csv",
            "crawl_records": SAMPLE_DIR / "crawl_records",
        },
        warehouse=warehouse,
        partition=PARTITION,
    )
    return warehouse


@pytest.mark.parametrize("engine", S3_ENGINES)
def test_the_example_materializes_on_s3_through_dagster(
    engine: str,
    s3_project: dict,
    local_s3: Any,
    local_outputs: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in s3_project["environ"].items():
        monkeypatch.setenv(name, value)  # read at launch, as in a real run
    settings = _settings(s3_project, engine, tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    job = build_definitions(settings).resolve_job_def(PIPELINE_JOB)
    result = job.execute_in_process(
        instance=instance, partition_key=PARTITION, raise_on_error=False
    )
    assert result.success, failure_messages(result)
    materialized = {
        e.materialization.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert set(materialized) == {t.name for t in example.transforms}
    for transform in example.transforms:
        location = settings.output_location(transform.name)
        assert str(materialized[transform.name]["output"].value) == location
        on_s3 = read_arrow(location, local_s3.options())
        local = read_arrow(local_outputs / transform.name)
        assert sorted(map(str, on_s3.to_pylist())) == sorted(map(str, local.to_pylist()))
    # No secret in anything Dagster recorded: events, metadata, logs, Pipes extras.
    records = instance.all_logs(result.run_id)
    text = "\n".join(str(record) for record in records)
    assert SECRET_ACCESS_KEY not in text
    assert ACCESS_KEY_ID not in text
