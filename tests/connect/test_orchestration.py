"""The spark-connect engine through Dagster: a run on a Connect server, and a cancelled one.

The launcher runs the step in the Dagster process, as the server's gRPC client. Cancelling
the run must stop the server's work too: a query left running there would hold the
server's executors (and, on a paid endpoint, its bill) long after the run ended.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import dagster as dg
import ibis.expr.types as ir
import pytest

from hydra_transforms.engines import SPARK_CONNECT_TOKEN_ENV
from hydra_transforms.registry import Registry
from hydra_transforms.storage import read_arrow, snapshot
from tests.conftest import PROJECT_ROOT
from tests.connect.server import environment
from tests.orchestration.conftest import demo_settings, failure_messages, run_pipeline_job
from tests.orchestration.demo import NonNegative, Numbers

pytestmark = pytest.mark.connect

# A registry whose one transform never ends by itself: 2000^4 rows counted, on 2 cores.
endless = Registry("endless")
endless.source("numbers", format="csv", contract=Numbers)


@endless.transform(inputs={"numbers": "numbers"}, contract=NonNegative)
def rows(numbers: ir.Table) -> ir.Table:
    """How many rows four copies of the numbers make together."""
    product = numbers
    for copy in range(3):
        product = product.cross_join(numbers.select(**{f"n{copy}": numbers.n}))
    return product.aggregate(n=product.count().cast("int64"))


RUN = textwrap.dedent(
    """
    import dataclasses, sys
    from pathlib import Path
    from tests.orchestration.conftest import demo_settings, run_pipeline_job

    tmp, remote = Path(sys.argv[1]), sys.argv[2]
    settings = dataclasses.replace(
        demo_settings(tmp, "spark-connect", [str(n) for n in range(2000)]), spark_remote=remote
    )
    result = run_pipeline_job(settings, registry="tests.connect.test_orchestration:endless")
    print("RUN SUCCESS" if result.success else "RUN FAILED", flush=True)
    """
)


def test_the_demo_pipeline_runs_on_the_connect_engine(
    tmp_path: Path, spark_connect_server: Any
) -> None:
    settings = dataclasses.replace(
        demo_settings(tmp_path, "spark-connect", ["1", "2", "3"]),
        spark_remote=spark_connect_server.url,
    )
    instance = dg.DagsterInstance.ephemeral()
    with environment(**{SPARK_CONNECT_TOKEN_ENV: spark_connect_server.token}):
        result = run_pipeline_job(settings, instance=instance)
    assert result.success, failure_messages(result)
    metadata = {
        e.materialization.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert {name: m["engine"].value for name, m in metadata.items()} == {
        "doubled": "spark-connect",
        "total": "spark-connect",
    }
    assert metadata["total"]["cost_usd"].value == 0  # the server's machines are not priced
    assert read_arrow(tmp_path / "warehouse" / "total").column("n").to_pylist() == [12]
    logs = "\n".join(r.user_message for r in instance.all_logs(result.run_id))
    assert f"on the Spark Connect server {spark_connect_server.url}" in logs
    assert "a Spark Connect server: its machines are not the project's to price" in logs
    assert spark_connect_server.token not in logs


def test_a_missing_token_fails_the_launch_naming_the_server_answer(
    tmp_path: Path, spark_connect_server: Any
) -> None:
    settings = dataclasses.replace(
        demo_settings(tmp_path, "spark-connect", ["1"]), spark_remote=spark_connect_server.url
    )
    with environment(**{SPARK_CONNECT_TOKEN_ENV: None, "SPARK_CONNECT_AUTHENTICATE_TOKEN": None}):
        result = run_pipeline_job(settings)
    assert not result.success
    assert "No authentication token" in "\n".join(failure_messages(result).values())
    assert not (tmp_path / "warehouse").exists()


def test_cancelling_a_run_cancels_its_query_on_the_server(
    tmp_path: Path, spark_connect_server: Any
) -> None:
    run = subprocess.Popen(
        [sys.executable, "-c", RUN, str(tmp_path), spark_connect_server.url],
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            SPARK_CONNECT_TOKEN_ENV: spark_connect_server.token,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not spark_connect_server.running_jobs():  # the endless query has reached the server
            assert run.poll() is None, run.communicate()[0]
            assert time.monotonic() < deadline, "the run's query never started on the server"
            time.sleep(0.5)
        run.send_signal(signal.SIGINT)  # what cancelling a run does to its worker
        output, _ = run.communicate(timeout=90)
    finally:
        run.kill()
    deadline = time.monotonic() + 30
    while spark_connect_server.running_jobs() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert spark_connect_server.running_jobs() == [], "the server still runs the cancelled query"
    assert "RUN FAILED" in output, output[-3000:]
    # Nothing published, nothing staged left behind: at most the (released) lock file.
    output_dir = tmp_path / "warehouse" / "rows"
    assert snapshot(output_dir) is None
    files = {p.relative_to(output_dir).as_posix() for p in output_dir.rglob("*") if p.is_file()}
    assert files <= {"_hydra/lock"}, files
