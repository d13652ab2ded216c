"""A real multi-process Spark cluster (a standalone master and 2 workers of 1 core each).

The pyspark engine reaches it with ``spark.master = spark://...`` in ``[spark.pyspark]``:
the driver runs in the step's process, the executors and their Python workers in processes
of the workers. Here the engine-semantics suite and the example's tests run with their
driver on the cluster, and one Dagster run puts assets on Spark Connect and on the cluster.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from hydra_transforms.engines import SPARK_CONNECT_TOKEN_ENV
from hydra_transforms.example import registry as example
from hydra_transforms.parity import compare_tables
from hydra_transforms.storage import read_arrow
from tests.cluster.standalone import StandaloneCluster
from tests.conftest import PROJECT_ROOT
from tests.connect.server import environment
from tests.orchestration.conftest import example_settings, failure_messages, run_pipeline_job

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

EXAMPLE = "hydra_transforms.example:registry"
PARTITION = "CC-MAIN-2024-10"
ON_CONNECT = ("nodes", "seed_rejections")  # the rest of the example runs on the cluster


def _applications(cluster: StandaloneCluster) -> list[dict[str, Any]]:
    """The applications the cluster's master has run or is running (its web UI's JSON)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{cluster.ui_port}/json", timeout=5) as r:
        state = json.load(r)
    return [*state.get("activeapps", []), *state.get("completedapps", [])]


@pytest.mark.connect
def test_one_run_puts_assets_on_spark_connect_and_on_the_cluster(
    tmp_path: Path, spark_cluster: StandaloneCluster, spark_connect_server: Any
) -> None:
    local = example_settings(tmp_path / "duckdb", "duckdb")
    result = run_pipeline_job(local, registry=EXAMPLE, partition_key=PARTITION)
    assert result.success, failure_messages(result)

    base = example_settings(tmp_path / "mixed", "pyspark")
    settings = dataclasses.replace(
        base,
        spark_conf={
            "pyspark": {"spark.sql.shuffle.partitions": "4", **spark_cluster.driver_conf()},
            "spark-connect": {"spark.sql.shuffle.partitions": "2"},
        },
        spark_remote=spark_connect_server.url,
    )
    before = {app["id"] for app in _applications(spark_cluster)}
    config = {"engines": dict.fromkeys(ON_CONNECT, "spark-connect")}
    with environment(**{SPARK_CONNECT_TOKEN_ENV: spark_connect_server.token}):
        result = run_pipeline_job(
            settings,
            registry=EXAMPLE,
            partition_key=PARTITION,
            run_config={"ops": {"example_transforms": {"config": config}}},
        )
    assert result.success, failure_messages(result)

    engines = {
        event.materialization.asset_key.to_user_string(): event.materialization.metadata[
            "engine"
        ].value
        for event in result.get_asset_materialization_events()
    }
    assert engines == {
        t.name: "spark-connect" if t.name in ON_CONNECT else "pyspark" for t in example.transforms
    }
    # The pyspark launch was one application of the cluster, with an executor on each worker.
    new = [app for app in _applications(spark_cluster) if app["id"] not in before]
    assert [app["name"] for app in new] == ["hydra-step"], new
    assert new[0]["cores"] == 2
    assert all(work.joinpath(new[0]["id"]).is_dir() for work in spark_cluster.work_dirs)

    for transform in example.transforms:
        expected = read_arrow(Path(local.output_location(transform.name)))
        written = read_arrow(Path(settings.output_location(transform.name)))
        assert expected.num_rows > 0, transform.name
        assert compare_tables(expected, written, names=("duckdb", "mixed")) == [], transform.name


def test_the_semantics_suite_and_the_example_pass_with_their_driver_on_the_cluster(
    spark_cluster: StandaloneCluster, tmp_path: Path
) -> None:
    """The pyspark tests of the engine-semantics suite and of the example, in a test run of
    their own whose Spark session is a driver on the cluster (one SparkContext per process:
    this run's own session is local). The example's properties on generated data (a minute
    of Spark jobs) are left to the local session: the sample's parity and the example's
    tests run here."""
    argv = [sys.executable, "-m", "pytest", "tests/semantics", "tests/example", "-m", "pyspark"]
    argv += ["-k", "not generated"]
    argv += ["-q", "-p", "no:cacheprovider", "--durations=0", f"--junitxml={tmp_path / 'r.xml'}"]
    conf = {**spark_cluster.driver_conf(), "spark.sql.shuffle.partitions": "2"}
    for key, value in conf.items():
        argv += ["--spark-conf", f"{key}={value}"]
    run = subprocess.run(
        argv,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        env={k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"},
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    summary = run.stdout.strip().splitlines()[-1]
    assert " passed" in summary, summary
    assert " failed" not in summary, summary
    apps = [app for app in _applications(spark_cluster) if app["name"] == "hydra-tests"]
    assert apps, "the test run's driver did not run on the cluster"
