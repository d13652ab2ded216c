"""The sweeper sensor against the offline EMR: it ends this project's compute whose Dagster run
is over, records what it ended, and leaves everything else alone."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from hydra_orchestration.definitions import build_definitions
from hydra_orchestration.launchers.compute import compute_tags
from hydra_orchestration.settings import load_settings
from hydra_orchestration.sweeper import SWEEPER, swept_platforms
from hydra_transforms.example import registry as example
from tests.conftest import PROJECT_ROOT
from tests.emulators.emr import ACCOUNT_ID
from tests.orchestration.cloud import BUCKET, PARTITION, S3Project, s3_project

pytestmark = [pytest.mark.emr, pytest.mark.s3]

PROJECT = "hydra_transforms.example"


@dg.op
def fails() -> None:
    raise RuntimeError("a run that failed")


@dg.op
def waits() -> None:
    pass


FAILING = dg.GraphDefinition(name="failing", node_defs=[fails]).to_job()
WAITING = dg.GraphDefinition(name="waiting", node_defs=[waits]).to_job()


@pytest.fixture(scope="module")
def project(local_s3: Any, local_emr: Any, tmp_path_factory: pytest.TempPathFactory) -> S3Project:
    application = local_emr.client("emr-serverless").create_application(
        name="sweeper", releaseLabel="emr-7.5.0", type="SPARK"
    )["applicationId"]
    endpoint = local_emr.endpoint_url
    sections = f"""
[aws]
endpoint_urls = {{ emr = "{endpoint}", emr-serverless = "{endpoint}", logs = "{endpoint}" }}
[emr-serverless]
application_id = "{application}"
execution_role_arn = "arn:aws:iam::{ACCOUNT_ID}:role/sweeper"
[sweeper]
interval_s = 60
"""
    return s3_project(local_s3, tmp_path_factory.mktemp("sweeperproject"), sections=sections)


@pytest.fixture
def started(local_emr: Any) -> Iterator[Callable[[dict[str, str]], str]]:
    """Start a cluster that waits for steps, with these tags; all are terminated afterwards."""
    emr = local_emr.client("emr")
    ids: list[str] = []

    def start(tags: dict[str, str]) -> str:
        cluster_id = emr.run_job_flow(
            Name="sweeper test",
            ReleaseLabel="emr-7.5.0",
            Instances={
                "MasterInstanceType": "m5.xlarge",
                "InstanceCount": 1,
                "KeepJobFlowAliveWhenNoSteps": True,
            },
            JobFlowRole="EMR_EC2_DefaultRole",
            ServiceRole="EMR_DefaultRole",
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )["JobFlowId"]
        ids.append(cluster_id)
        return cluster_id

    yield start
    emr.terminate_job_flows(JobFlowIds=ids)


def _state(local_emr: Any, cluster_id: str) -> dict[str, Any]:
    return local_emr.client("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]


def _wait(condition: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_the_sweeper_ends_only_this_projects_compute_of_runs_that_are_over(
    project: S3Project,
    local_emr: Any,
    started: Callable[[dict[str, str]], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in project.environ.items():
        monkeypatch.setenv(name, value)
    settings = project.settings("emr", tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    over = FAILING.execute_in_process(instance=instance, raise_on_error=False)
    assert not over.success
    in_progress = instance.create_run_for_job(WAITING).run_id  # NOT_STARTED: in progress

    def tags(run_id: str, project: str = PROJECT) -> dict[str, str]:
        return compute_tags(
            run_id=run_id,
            assets=["edges", "graph"],
            mode="small_dev_sample_s3",
            engine="emr",
            project=project,
        )

    dead = started(tags(over.run_id))
    alive = started(tags(in_progress))
    other_project = started(tags(over.run_id, project="someone_elses"))
    untagged = started({"team": "data"})
    unknown_run = started(tags("00000000-0000-0000-0000-000000000000"))
    local_emr.faults.step_delay_s = 300  # the job run keeps running until cancelled
    try:
        serverless = local_emr.client("emr-serverless")
        local_emr.client("s3").put_object(Bucket=BUCKET, Key="sweeper/job.py", Body=b"print(1)")
        job = f"s3://{BUCKET}/sweeper/job.py"
        application = settings.config.emr_serverless.application_id
        job_run = serverless.start_job_run(
            applicationId=application,
            executionRoleArn=settings.config.emr_serverless.execution_role_arn,
            jobDriver={"sparkSubmit": {"entryPoint": job}},
            tags={**tags(over.run_id), "hydra/engine": "emr-serverless"},
        )["jobRunId"]

        def job_state() -> str:
            return serverless.get_job_run(applicationId=application, jobRunId=job_run)["jobRun"][
                "state"
            ]

        _wait(lambda: job_state() == "RUNNING", "the job run to run")
        for cluster_id in (dead, alive, other_project, untagged, unknown_run):
            _wait(lambda c=cluster_id: _state(local_emr, c)["State"] == "WAITING", "WAITING")

        sensor = build_definitions(settings).get_sensor_def(SWEEPER)
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
        assert sensor.minimum_interval_seconds == 60
        result = sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SensorResult)

        swept = sorted(
            (e.asset_key.to_user_string(), e.metadata["swept"].value)
            for e in result.asset_events
            if isinstance(e, dg.AssetObservation)
        )
        assert swept == sorted(
            (asset, what)
            for asset in ("edges", "graph")
            for what in (f"emr {dead}", f"emr-serverless {application}/{job_run}")
        )
        _wait(lambda: _state(local_emr, dead)["State"] == "TERMINATED", "the dead run's cluster")
        assert _state(local_emr, dead)["StateChangeReason"]["Code"] == "USER_REQUEST"
        _wait(lambda: job_state() == "CANCELLED", "the dead run's job run")
        for cluster_id in (alive, other_project, untagged, unknown_run):
            assert _state(local_emr, cluster_id)["State"] == "WAITING", cluster_id

        # Nothing left of a finished run: the next evaluation ends nothing.
        again = sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(again, dg.SensorResult)
        assert not again.asset_events
    finally:
        local_emr.faults.step_delay_s = 0


def test_the_sweeper_runs_by_default_only_where_remote_compute_is_configured(
    project: S3Project, tmp_path: Path
) -> None:
    local = load_settings({}, cwd=PROJECT_ROOT)  # the packaged config: local engines only
    assert (
        build_definitions(local).get_sensor_def(SWEEPER).default_status
        == dg.DefaultSensorStatus.STOPPED
    )
    duckdb_with_emr_configured = project.settings("duckdb", tmp_path)
    assert (
        build_definitions(duckdb_with_emr_configured).get_sensor_def(SWEEPER).default_status
        == dg.DefaultSensorStatus.RUNNING
    )
    # It lists only the platforms in use: [aws] and [emr-serverless] here, not Databricks.
    assert swept_platforms(local) == frozenset()
    assert swept_platforms(duckdb_with_emr_configured) == {"emr", "emr-serverless"}


RUN = """
import sys
import dagster as dg
from hydra_orchestration.definitions import PIPELINE_JOB, build_definitions
from hydra_orchestration.settings import settings_from_environment

job = build_definitions(settings_from_environment()).resolve_job_def(PIPELINE_JOB)
job.execute_in_process(partition_key=sys.argv[1], instance=dg.DagsterInstance.get())
"""


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param("emr", marks=pytest.mark.fault_case(7, "emr")),
        pytest.param("emr-serverless", marks=pytest.mark.fault_case(7, "emr-serverless")),
    ],
)
def test_the_sweeper_ends_the_compute_of_a_killed_orchestrator(
    engine: str,
    project: S3Project,
    local_emr: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGKILL of the process running a Dagster run on emr (or emr-serverless): its launch
    cannot end the cluster (job run) it started. Once the run is marked failed (what run
    monitoring does when a run's worker is gone), the sweeper ends it."""
    for name, value in project.environ.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "home"
    home.mkdir()

    def running() -> set[str]:
        if engine == "emr":
            return {c for c, s in local_emr.cluster_states().items() if s == "RUNNING"}
        return {r for r, s in local_emr.job_run_states().items() if s == "RUNNING"}

    def ended() -> bool:
        if engine == "emr":
            return _state(local_emr, compute)["State"] == "TERMINATED"
        return local_emr.job_run_states()[compute] == "CANCELLED"

    before = running()
    local_emr.faults.step_delay_s = 120
    process = subprocess.Popen(
        [sys.executable, "-c", RUN, PARTITION],
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            **project.environ,
            "SPARK_PIPES_ENGINE": engine,
            "SPARK_EXECUTION_MODE": "small_dev_sample_s3",
            "DAGSTER_HOME": str(home),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    compute = ""
    try:
        deadline = time.monotonic() + 90
        while not compute:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "nothing reached RUNNING"
            compute = next(iter(running() - before), "")
            time.sleep(0.1)
        process.kill()
        process.wait(timeout=30)
        time.sleep(1)
        assert compute in running()  # orphaned, and billing

        instance = dg.DagsterInstance.from_config(str(home))
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.STARTED  # as the killed process left it
        sensor = build_definitions(project.settings(engine, tmp_path)).get_sensor_def(SWEEPER)
        untouched = sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(untouched, dg.SensorResult)
        assert not untouched.asset_events  # its run looks in progress: not swept yet

        instance.report_run_failed(run, "the run's worker is gone")
        swept = sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(swept, dg.SensorResult)
        observed = {
            e.asset_key.to_user_string(): e.metadata["swept"].value for e in swept.asset_events
        }
        assert set(observed.values()) == {f"{engine} {compute}"}
        assert set(observed) == {t.name for t in example.transforms}
        _wait(ended, "the orphan's end")
        if engine == "emr":
            assert _state(local_emr, compute)["StateChangeReason"]["Code"] == "USER_REQUEST"
    finally:
        local_emr.faults.step_delay_s = 0
        if process.poll() is None:
            process.kill()
        if compute and engine == "emr":
            local_emr.client("emr").terminate_job_flows(JobFlowIds=[compute])
        elif compute:
            application, job_run = compute.split("/")
            with contextlib.suppress(Exception):
                local_emr.client("emr-serverless").cancel_job_run(
                    applicationId=application, jobRunId=job_run
                )
