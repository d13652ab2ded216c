"""Helpers to build Definitions on temporary warehouses and run their pipeline job in-process."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from hydra_orchestration.definitions import PIPELINE_JOB, build_definitions
from hydra_orchestration.settings import Settings, load_settings
from tests.conftest import PROJECT_ROOT

DEMO = "tests.orchestration.demo:registry"
# Small local Spark for the subprocesses the tests start.
TEST_SPARK = {
    "spark.master": "local[1]",
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
}


@pytest.fixture(scope="session", autouse=True)
def prompt_pipes_readers() -> Iterator[None]:
    """Test speed only: Dagster's blob-store Pipes readers (S3, DBFS, volumes) keep reading
    for 10 s after a session closes without the step's closing message, for messages still
    on their way. Here the step's process has exited by then and every write it made is
    complete, so nothing comes later: one second is enough, and a failing launch is not held
    10 s (about ten such tests per remote platform). Launches in the tests' own subprocesses
    wait the full 10 s, as in production."""
    from dagster._core.pipes import utils

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(utils, "WAIT_FOR_LOGS_AFTER_EXECUTION_INTERVAL", 1)
        yield


def example_settings(tmp_path: Path, engine: str) -> Settings:
    settings = load_settings({}, cwd=PROJECT_ROOT)
    return dataclasses.replace(
        settings,
        engine=engine,
        warehouse=str(tmp_path / "warehouse"),
        dagster_home=tmp_path / "dagster_home",
        spark_conf={"pyspark": TEST_SPARK},
    )


def demo_settings(tmp_path: Path, engine: str, numbers: list[str]) -> Settings:
    csv = tmp_path / "numbers.csv"
    csv.write_text("n\n" + "\n".join(numbers) + "\n")
    return Settings(
        engine=engine,
        mode="small_dev_sample_local",
        dagster_home=tmp_path / "dagster_home",
        sources={"numbers": str(csv)},
        warehouse=str(tmp_path / "warehouse"),
        partitions=(),
        spark_conf={"pyspark": TEST_SPARK},
    )


def run_pipeline_job(
    settings: Settings,
    *,
    registry: str = DEMO,
    run_config: dict[str, Any] | None = None,
    **options: Any,
) -> dg.ExecuteInProcessResult:
    defs = build_definitions(settings, registry=registry)
    job = defs.resolve_job_def(PIPELINE_JOB)
    options.setdefault("instance", dg.DagsterInstance.ephemeral())
    return job.execute_in_process(
        raise_on_error=False,
        run_config=run_config or {},
        **options,
    )


def failure_messages(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """Step key -> the failure's description and its whole error chain, as one text."""
    messages = {}
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        description = data.user_failure_data.description if data.user_failure_data else ""
        chain = data.error.to_string() if data.error else ""
        messages[event.step_key or ""] = f"{description or ''}\n{chain}"
    return messages


@pytest.fixture
def fake_entrypoint(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[str]], None]:
    """Replace the command the pyspark launcher starts (the Pipes plumbing stays real)."""
    from hydra_orchestration.launchers.subprocess import PySparkSubprocessLauncher

    def use(command: list[str]) -> None:
        monkeypatch.setattr(PySparkSubprocessLauncher, "command", lambda self: command)

    return use
