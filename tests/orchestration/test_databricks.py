"""databricks through Dagster, against the offline Databricks (tests/emulators/databricks.py):
the real databricks-sdk over HTTP, authenticated as a service principal from DATABRICKS_*
(the launcher's own client factory: nothing injected), tasks run by spark-submit on the local
S3.

Every launch must end with its run ended (cancelled when the launch ended first) and no secret
in any request; each failure must end as a failed Dagster step naming its cause, in
Databricks' words, with the run page.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from hydra_orchestration.config import ConfigError, DatabricksCostConfig, parse_config
from hydra_orchestration.cost import (
    DatabricksUsage,
    PriceError,
    PriceTable,
    UnpricedUsage,
    cost_metadata,
    estimate,
)
from hydra_orchestration.definitions import PIPELINE_JOB, build_definitions
from hydra_orchestration.launchers.compute import compute_tags, name_with_tags
from hydra_orchestration.launchers.databricks import DatabricksLauncher
from hydra_orchestration.settings import Settings
from hydra_orchestration.shipping import build_bundle, ship_to_databricks
from hydra_orchestration.sweeper import SWEEPER
from hydra_transforms.example import registry as example
from hydra_transforms.storage import read_arrow
from tests.conftest import PROJECT_ROOT
from tests.emulators.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY
from tests.orchestration.cloud import (
    BAD_SEEDS,
    BUCKET,
    PARTITION,
    S3Project,
    contract_failures,
    kill_driver_after_first_report,
    local_outputs,
    s3_project,
)
from tests.orchestration.conftest import failure_messages

pytestmark = [pytest.mark.databricks, pytest.mark.s3]

PROJECT = "hydra_transforms.example"

SUBMIT = "/api/2.2/jobs/runs/submit"
CANCEL = "/api/2.2/jobs/runs/cancel"
GET = "/api/2.2/jobs/runs/get"

SECTIONS = """
[databricks]
poll_interval_s = 0.2
retry_timeout_s = 30
logs_wait_s = 2
node_type_id = "m6i.xlarge"
instance_profile_arn = "arn:aws:iam::123456789012:instance-profile/hydra"
policy_id = "ABC123"
[databricks.autoscale]
min_workers = 1
max_workers = 4
[databricks.tags]
team = "data"
[spark.databricks]
"spark.sql.shuffle.partitions" = "1"
"""


@pytest.fixture(scope="module")
def project(local_s3: Any, tmp_path_factory: pytest.TempPathFactory) -> S3Project:
    return s3_project(local_s3, tmp_path_factory.mktemp("dbxproject"), sections=SECTIONS)


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return local_outputs(tmp_path_factory.mktemp("local"))


@pytest.fixture
def databricks(local_databricks: Any) -> Iterator[Any]:
    """The session's offline Databricks, without faults before and after the test."""
    from tests.emulators.databricks import Faults

    local_databricks.faults = Faults()
    yield local_databricks
    local_databricks.faults = Faults()


def _settings(
    project: S3Project,
    databricks: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    serverless_dbu_per_hour: float | None = None,
    **config: Any,
) -> Settings:
    """The settings of a launch on ``databricks`` (``config``: keys of ``[databricks]``;
    ``serverless_dbu_per_hour``: ``[cost.databricks]``'s)."""
    project = dataclasses.replace(project, environ={**project.environ, **databricks.environment()})
    for name, value in project.environ.items():
        monkeypatch.setenv(name, value)  # read at launch, as in a real run
    settings = project.settings("databricks", tmp_path)
    section = settings.config.databricks.model_validate(
        {**settings.config.databricks.model_dump(), **config}
    )
    estimates = DatabricksCostConfig(serverless_dbu_per_hour=serverless_dbu_per_hour)
    cost = settings.config.cost.model_copy(update={"databricks": estimates})
    return dataclasses.replace(
        settings, config=settings.config.model_copy(update={"databricks": section, "cost": cost})
    )


def _run(
    project: S3Project,
    databricks: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    **config: Any,
) -> tuple[dg.ExecuteInProcessResult, Settings, dg.DagsterInstance, list[int]]:
    """The example pipeline on ``databricks`` (``config``: keys of ``[databricks]``, and
    ``serverless_dbu_per_hour``); the result, settings, instance and the runs it submitted."""
    settings = _settings(project, databricks, tmp_path, monkeypatch, **config)
    instance = dg.DagsterInstance.ephemeral()
    before = set(databricks.run_states())
    job = build_definitions(settings).resolve_job_def(PIPELINE_JOB)
    result = job.execute_in_process(
        instance=instance, partition_key=PARTITION, raise_on_error=False
    )
    return result, settings, instance, sorted(set(databricks.run_states()) - before)


def _no_secret_sent(databricks: Any, instance: dg.DagsterInstance, run_id: str) -> None:
    """The client secret went to the token endpoint only (in its Basic header, which the
    emulator does not record), the AWS credentials nowhere; neither is in the run's logs."""
    tokens = [r for r in databricks.requests if r.path == "/oidc/v1/token"]
    assert tokens  # the launch signed in as the service principal
    for request in databricks.requests:
        shown = repr(request)
        assert databricks.client_secret not in shown
        assert SECRET_ACCESS_KEY not in shown
        assert ACCESS_KEY_ID not in shown
    logs = "\n".join(str(record) for record in instance.all_logs(run_id))
    for secret in (databricks.client_secret, SECRET_ACCESS_KEY, ACCESS_KEY_ID):
        assert secret not in logs


def _pipes_files_are_gone(databricks: Any) -> None:
    assert not list((databricks.root / "dbfs" / "tmp").glob("*/*")), "Pipes files left on DBFS"
    for tmp in (databricks.root / "volumes").glob("*/*/*/*/tmp"):
        assert not list(tmp.iterdir()), f"Pipes files left in {tmp}"


def _submitted(databricks: Any, run_id: int) -> dict[str, Any]:
    """The body of the runs/submit that created ``run_id``."""
    run_ids = sorted(databricks.run_states())
    submits = [r for r in databricks.requests if r.path == SUBMIT and r.status == 200]
    # Submissions are answered with increasing run ids, in the order they were received.
    by_id = dict(zip(run_ids[-len(submits) :], submits, strict=False))
    return by_id[run_id].body


def _equal_outputs(settings: Settings, local: Path, local_s3: Any) -> None:
    for transform in example.transforms:
        on_s3 = read_arrow(settings.output_location(transform.name), local_s3.options())
        here = read_arrow(local / transform.name)
        assert sorted(map(str, on_s3.to_pylist())) == sorted(map(str, here.to_pylist()))


def _every_asset_materialized_and_checked(result: dg.ExecuteInProcessResult) -> None:
    materialized = {
        e.materialization.asset_key.to_user_string()
        for e in result.get_asset_materialization_events()
    }
    assert materialized == {t.name for t in example.transforms}
    checks = {e.asset_key.to_user_string(): e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {t.name: True for t in example.transforms}


@pytest.mark.pyspark
@pytest.mark.fault_case(1, "databricks")
@pytest.mark.fault_case(13, "databricks")
@pytest.mark.fault_case(14, "databricks")
def test_the_example_on_a_job_cluster_equals_the_local_run(
    project: S3Project,
    local: Path,
    local_s3: Any,
    databricks: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # Throttled and unavailable once each while polling: retried, the run goes on.
    databricks.faults.status_codes[GET] = [429, 503]
    seen = len(databricks.requests)
    result, settings, instance, runs = _run(project, databricks, tmp_path, monkeypatch)
    assert result.success, failure_messages(result)
    _every_asset_materialized_and_checked(result)
    _equal_outputs(settings, local, local_s3)
    (run_id,) = runs
    assert databricks.run_states()[run_id] == ("TERMINATED", "SUCCESS")
    polled = [r.status for r in databricks.requests[seen:] if r.path == GET]
    assert polled[:3] == [429, 503, 200]

    body = _submitted(databricks, run_id)
    (task,) = body["tasks"]
    cluster = task["new_cluster"]
    assert cluster["spark_version"] == "15.4.x-scala2.12"
    assert cluster["node_type_id"] == "m6i.xlarge"
    assert cluster["autoscale"] == {"min_workers": 1, "max_workers": 4}
    assert "num_workers" not in cluster
    assert cluster["aws_attributes"] == {
        "availability": "SPOT_WITH_FALLBACK",
        "first_on_demand": 1,
        "instance_profile_arn": "arn:aws:iam::123456789012:instance-profile/hydra",
    }
    assert cluster["policy_id"] == "ABC123"
    assert cluster["spark_conf"]["spark.sql.shuffle.partitions"] == "1"
    assert cluster["cluster_log_conf"] == {"dbfs": {"destination": "dbfs:/hydra/logs"}}
    tags = cluster["custom_tags"]
    assert tags["dagster/run-id"] == result.run_id
    assert tags["team"] == "data"
    assert set(tags["hydra/assets"].split()) == {t.name for t in example.transforms}
    assert body["timeout_seconds"] == 6 * 3600 + 60
    python_file = task["spark_python_task"]["python_file"]
    assert python_file.startswith("dbfs:/hydra/code/")
    assert python_file.endswith("/entrypoint.py")
    parameters = task["spark_python_task"]["parameters"]
    assert parameters[:2] == ["--transport", "dbfs"]
    assert "--dagster-pipes-context" in parameters
    (wheel,) = [lib["whl"] for lib in task["libraries"] if "whl" in lib]
    assert wheel.rsplit("/", 1)[0] == python_file.rsplit("/", 1)[0]
    assert databricks.local_path(wheel.rsplit("/", 1)[0] + "/COMPLETE").is_file()
    assert {"pypi": {"package": "dagster-pipes==1.13.27"}} in task["libraries"]
    assert not any("jar" in lib for lib in task["libraries"])  # the cluster's own S3

    # The driver's logs, delivered by the cluster to DBFS, were forwarded to Dagster.
    cluster_id = databricks.workspace_client().jobs.get_run(run_id).cluster_instance.cluster_id
    delivered = databricks.local_path(f"dbfs:/hydra/logs/{cluster_id}/driver/stderr").read_text()
    forwarded = capfd.readouterr()
    assert delivered.strip()
    assert delivered.strip().splitlines()[-1] in forwarded.err
    stdout = databricks.local_path(f"dbfs:/hydra/logs/{cluster_id}/driver/stdout").read_text()
    for transform in example.transforms:
        assert f"hydra step: {transform.name}: " in stdout
        assert f"hydra step: {transform.name}: " in forwarded.out
    _no_secret_sent(databricks, instance, result.run_id)
    _pipes_files_are_gone(databricks)
    _the_recorded_cost_is_the_job_clusters(result, databricks, run_id)

    # The same code again (shipped as every launch ships it): found, not uploaded twice.
    logs = "\n".join(str(r) for r in instance.all_logs(result.run_id))
    again = ship_to_databricks(build_bundle(), "dbfs:/hydra", client=databricks.workspace_client())
    assert not again.uploaded
    assert again.entrypoint == python_file
    assert f"code bundle uploaded to {again.prefix}" in logs or (
        f"code bundle already at {again.prefix}" in logs  # an earlier test shipped it
    )


def _recorded_costs(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    """Each materialized asset's cost metadata."""
    keys = ("cost_usd", "platform", "instance_hours", "wall_s", "cost_basis")
    return {
        e.materialization.asset_key.to_user_string(): {
            k: e.materialization.metadata[k].value for k in keys if k in e.materialization.metadata
        }
        for e in result.get_asset_materialization_events()
    }


def _the_recorded_cost_is_the_job_clusters(
    result: dg.ExecuteInProcessResult, databricks: Any, run_id: int
) -> None:
    """The assets' costs add up to the job cluster's for the run's duration (runs/get): its
    driver on demand and its one worker (autoscale's minimum) on spot, m6i.xlarge, each
    node's DBUs at the jobs compute rate, at the packaged us-east-1 prices."""
    costs = _recorded_costs(result)
    assert {c["platform"] for c in costs.values()} == {"databricks"}
    (basis,) = {c["cost_basis"] for c in costs.values()}
    assert str(basis).startswith(
        "job cluster: driver m6i.xlarge and 1 worker m6i.xlarge (100% of the workers on spot) "
        "as [databricks] gives it, for the run's "
    )
    assert str(basis).endswith(" s (runs/get), at the jobs DBU rate")
    run = databricks.workspace_client().jobs.get_run(run_id)
    hours = (run.end_time - run.start_time) / 3.6e6
    prices = PriceTable.load("us-east-1")
    m6i = prices.instance("m6i.xlarge")
    assert m6i.dbu is not None
    assert m6i.spot is not None
    per_hour = 2 * m6i.dbu * prices.dbu_rate("jobs") + m6i.on_demand + m6i.spot
    assert sum(c["cost_usd"] for c in costs.values()) == pytest.approx(hours * per_hour, rel=1e-3)


@pytest.mark.pyspark
def test_the_example_on_serverless_equals_the_local_run(
    project: S3Project,
    local: Path,
    local_s3: Any,
    databricks: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    volume = databricks.volume("main", "hydra", "files")
    databricks.faults.missing_reads = 2  # a message chunk "not written yet", twice
    result, settings, instance, runs = _run(
        project,
        databricks,
        tmp_path,
        monkeypatch,
        serverless=True,
        files=f"{volume}/hydra",
        serverless_dbu_per_hour=4.0,
    )
    assert result.success, failure_messages(result)
    _every_asset_materialized_and_checked(result)
    _equal_outputs(settings, local, local_s3)
    (run_id,) = runs
    assert databricks.run_states()[run_id] == ("TERMINATED", "SUCCESS")
    body = _submitted(databricks, run_id)
    (task,) = body["tasks"]
    assert "new_cluster" not in task
    assert "libraries" not in task
    assert task["environment_key"] == "hydra"
    assert task["spark_python_task"]["parameters"][:2] == ["--transport", "volumes"]
    (environment,) = body["environments"]
    dependencies = environment["spec"]["dependencies"]
    assert dependencies[0].startswith(f"{volume}/hydra/code/")
    assert dependencies[0].endswith(".whl")
    assert "dagster-pipes==1.13.27" in dependencies
    reads = [
        r.status
        for r in databricks.requests
        if r.method == "GET" and r.path.startswith("/api/2.0/fs/files/Volumes/main/hydra/files")
    ]
    assert 404 in reads
    assert reads[-1] == 200
    # The driver's own output came back inside the Pipes messages (what it printed last may
    # miss the final upload: dagster-pipes' stdio capture is periodic).
    forwarded = capfd.readouterr().out
    assert f"hydra step: {example.transforms[0].name}: " in forwarded
    _no_secret_sent(databricks, instance, result.run_id)
    _pipes_files_are_gone(databricks)
    _the_recorded_cost_is_the_serverless_estimate(result, databricks, run_id)


def _the_recorded_cost_is_the_serverless_estimate(
    result: dg.ExecuteInProcessResult, databricks: Any, run_id: int
) -> None:
    """With ``[cost.databricks] serverless_dbu_per_hour = 4``, the assets' costs add up to 4
    DBUs per hour of the run (runs/get) at the serverless jobs rate, marked as an estimate."""
    costs = _recorded_costs(result)
    assert set(costs) == {t.name for t in example.transforms}
    assert {c["platform"] for c in costs.values()} == {"databricks"}
    assert {c["instance_hours"] for c in costs.values()} == {0.0}
    (basis,) = {c["cost_basis"] for c in costs.values()}
    assert str(basis).startswith(
        "estimated: [cost.databricks] serverless_dbu_per_hour = 4 DBU/h for the run's "
    )
    run = databricks.workspace_client().jobs.get_run(run_id)
    hours = (run.end_time - run.start_time) / 3.6e6
    expected = hours * 4.0 * PriceTable.load("us-east-1").dbu_rate("serverless")
    assert sum(c["cost_usd"] for c in costs.values()) == pytest.approx(expected, rel=1e-3)


@pytest.mark.faults
@pytest.mark.cost
def test_a_named_cluster_runs_the_task_and_its_delivered_logs_are_forwarded(
    project: S3Project,
    databricks: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    cluster_id = databricks.add_cluster(
        "0101-000000-teamcluster",
        cluster_log_conf={"dbfs": {"destination": "dbfs:/team-logs"}},
        **TEAM_CLUSTER,
    )
    databricks.faults.task_command = [sys.executable, "-c", "print('hello from the driver')"]
    seen = len(databricks.requests)
    result, _, instance, runs = _run(
        project, databricks, tmp_path, monkeypatch, cluster_id=cluster_id
    )
    (run_id,) = runs
    # The launch read the cluster once, for its cost and for where it delivers its logs.
    assert [r.path for r in databricks.requests[seen:]].count("/api/2.1/clusters/get") == 1
    # Its cost: the cluster's shape for the run's duration, at the all-purpose rate.
    run = databricks.workspace_client().jobs.get_run(run_id)
    expected = _team_cluster_per_hour() * (run.end_time - run.start_time) / 3.6e6
    logs = [r.user_message for r in instance.all_logs(result.run_id)]
    (line,) = [m for m in logs if m.startswith("cost of this databricks launch: ")]
    assert line.startswith(f"cost of this databricks launch: ${expected:.4f} (")
    assert (
        f"; all-purpose cluster {cluster_id}: driver m6i.xlarge and 4 workers m6i.2xlarge "
        "(75% of the workers on spot) as clusters/get reports it, for the run's " in line
    )
    assert line.endswith(
        "at the all-purpose DBU rate; the cluster is billed whether or not a run uses it, "
        "and this is the run's occupancy of it"
    )
    (task,) = _submitted(databricks, run_id)["tasks"]
    assert task["existing_cluster_id"] == cluster_id
    assert "new_cluster" not in task
    assert any("whl" in lib for lib in task["libraries"])
    assert "--dagster-pipes-context" in task["spark_python_task"]["parameters"]
    assert "hello from the driver" in capfd.readouterr().out  # from dbfs:/team-logs/...
    # The task opened no Pipes session: the step fails, the cluster stays.
    assert not result.success
    assert "the step ended without opening Dagster Pipes" in "\n".join(
        failure_messages(result).values()
    )
    assert databricks.workspace_client().clusters.get(cluster_id).state.value == "RUNNING"


# A named all-purpose cluster's shape (clusters/get): a driver and 4 workers, the driver
# and one worker on demand.
TEAM_CLUSTER: dict[str, Any] = {
    "node_type_id": "m6i.2xlarge",
    "driver_node_type_id": "m6i.xlarge",
    "num_workers": 4,
    "aws_attributes": {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 2},
}


def _team_cluster_per_hour() -> float:
    """TEAM_CLUSTER's USD per hour by hand, at the packaged us-east-1 prices: each node's
    DBUs at the all-purpose rate, the driver and one worker on demand, 3 workers on spot."""
    prices = PriceTable.load("us-east-1")
    driver, worker = prices.instance("m6i.xlarge"), prices.instance("m6i.2xlarge")
    assert driver.dbu is not None
    assert worker.dbu is not None
    assert worker.spot is not None
    dbus = driver.dbu + 4 * worker.dbu
    return (
        dbus * prices.dbu_rate("all-purpose")
        + driver.on_demand
        + worker.on_demand
        + 3 * worker.spot
    )


@pytest.mark.cost
def test_the_usage_of_a_run_is_its_compute_for_the_runs_duration(
    project: S3Project, databricks: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The launcher's usage of ended runs, against the offline Databricks' REST answers (no
    Spark: the tasks are a command). On a named cluster: its shape as clusters/get reports
    it, for the run's duration (runs/get), at the all-purpose rate, from the run as last
    polled (no runs/get more). On serverless: [cost.databricks] serverless_dbu_per_hour for
    the run's duration, marked as an estimate; without it the duration, cost unknown."""
    from databricks.sdk.service import jobs

    w = databricks.workspace_client()
    w.dbfs.put("/scripts/noop.py", contents="", overwrite=True)
    databricks.faults.task_command = [sys.executable, "-c", "pass"]
    cluster_id = databricks.add_cluster("0202-000000-costcluster", **TEAM_CLUSTER)
    task = {"task_key": "t", "spark_python_task": {"python_file": "dbfs:/scripts/noop.py"}}
    run_id = w.jobs.submit(
        run_name="on a named cluster",
        tasks=[jobs.SubmitTask.from_dict({**task, "existing_cluster_id": cluster_id})],
    ).run_id
    assert databricks.wait(run_id, timeout=30) == ("TERMINATED", "SUCCESS")
    run = w.jobs.get_run(run_id)  # the final poll's answer
    hours = (run.end_time - run.start_time) / 3.6e6
    assert hours > 0

    settings = _settings(project, databricks, tmp_path, monkeypatch, cluster_id=cluster_id)
    launcher = DatabricksLauncher(settings, client=lambda: w)
    launcher._launch.run = run
    seen = len(databricks.requests)
    assert launcher._ended_run(w, run_id) is run
    usage, cluster = launcher.usage(w, run)
    assert [r.path for r in databricks.requests[seen:]] == ["/api/2.1/clusters/get"]
    assert cluster is not None
    assert cluster.cluster_id == cluster_id
    assert isinstance(usage, DatabricksUsage)
    cost = estimate(usage, PriceTable.load("us-east-1"))
    assert cost.usd == pytest.approx(hours * _team_cluster_per_hour(), rel=1e-12)
    assert cost.instance_hours == pytest.approx(5 * hours, rel=1e-12)
    basis = cost_metadata(cost)["cost_basis"]["raw_value"]
    assert basis == (
        f"all-purpose cluster {cluster_id}: driver m6i.xlarge and 4 workers m6i.2xlarge (75% "
        f"of the workers on spot) as clusters/get reports it, for the run's {hours * 3600:.1f} s "
        "(runs/get), at the all-purpose DBU rate; the cluster is billed whether or not a run "
        "uses it, and this is the run's occupancy of it"
    )

    volume = databricks.volume("main", "hydra", "files")
    serverless_id = w.jobs.submit(
        run_name="on serverless",
        tasks=[jobs.SubmitTask.from_dict({**task, "environment_key": "e"})],
        environments=[
            jobs.JobEnvironment.from_dict({"environment_key": "e", "spec": {"client": "2"}})
        ],
    ).run_id
    assert databricks.wait(serverless_id, timeout=30) == ("TERMINATED", "SUCCESS")
    run = w.jobs.get_run(serverless_id)
    hours = (run.end_time - run.start_time) / 3.6e6
    on_serverless = {"serverless": True, "files": f"{volume}/hydra"}
    settings = _settings(
        project, databricks, tmp_path, monkeypatch, serverless_dbu_per_hour=6.0, **on_serverless
    )
    seen = len(databricks.requests)
    usage, cluster = DatabricksLauncher(settings, client=lambda: w).usage(w, run)
    assert databricks.requests[seen:] == []  # nothing to read
    assert cluster is None
    cost = estimate(usage, PriceTable.load("us-east-1"))  # type: ignore[arg-type]
    rate = PriceTable.load("us-east-1").dbu_rate("serverless")
    assert cost.usd == pytest.approx(hours * 6.0 * rate, rel=1e-12)
    assert cost.instance_hours == 0.0
    assert cost.basis == (
        "estimated: [cost.databricks] serverless_dbu_per_hour = 6 DBU/h for the run's "
        f"{hours * 3600:.1f} s (runs/get), at the serverless jobs DBU rate (Databricks reports "
        "the DBUs used in its billing tables only)"
    )

    settings = _settings(project, databricks, tmp_path, monkeypatch, **on_serverless)
    usage, _ = DatabricksLauncher(settings, client=lambda: w).usage(w, run)
    assert usage == UnpricedUsage(
        platform="databricks",
        reason="Databricks reports the DBUs of serverless compute in the workspace's billing "
        "tables only; set [cost.databricks] serverless_dbu_per_hour to record an estimate",
        wall_s=hours * 3600,
    )
    with pytest.raises(PriceError, match="billing tables only"):
        estimate(usage, PriceTable.load("us-east-1"))  # type: ignore[arg-type]


@pytest.mark.faults
@pytest.mark.cost
def test_a_serverless_run_without_an_estimate_logs_once_why_its_cost_is_unknown(
    project: S3Project, databricks: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    volume = databricks.volume("main", "hydra", "files")
    databricks.faults.task_command = [sys.executable, "-c", "print('no pipes')"]
    result, _, instance, _ = _run(
        project, databricks, tmp_path, monkeypatch, serverless=True, files=f"{volume}/hydra"
    )
    assert not result.success  # the task opened no Pipes session
    logs = [r.user_message for r in instance.all_logs(result.run_id)]
    unknown = [m for m in logs if m.startswith("the cost of this databricks launch")]
    assert unknown == [
        "the cost of this databricks launch is not known: Databricks reports the DBUs of "
        "serverless compute in the workspace's billing tables only; set [cost.databricks] "
        "serverless_dbu_per_hour to record an estimate"
    ]


def _fails_with(
    result: dg.ExecuteInProcessResult, databricks: Any, runs: list[int], expected: list[str]
) -> str:
    assert not result.success
    message = "\n".join(failure_messages(result).values())
    for text in expected:
        assert text in message, message
    assert not result.get_asset_materialization_events()
    (run_id,) = runs
    assert f"run page: {databricks.host}/?o=0#job/" in message
    assert databricks.wait(run_id, timeout=30)[0] in ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")
    process = databricks.task_process(run_id)
    assert process is None or process.poll() is not None  # no compute left
    return message


@pytest.mark.faults
@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (
            {"task_command": [sys.executable, "-c", "import sys; sys.exit('boom: no transform')"]},
            ["ended TERMINATED/FAILED: Workload failed", "the task's error: boom: no transform"],
        ),
        (
            {"terminal_state": ("TERMINATED", "FAILED")},
            ["ended TERMINATED/FAILED: emulated fault"],
        ),
        (
            {"terminal_state": ("TERMINATED", "TIMEDOUT")},
            ["ended TERMINATED/TIMEDOUT: emulated fault"],
        ),
        (
            {"terminal_state": ("TERMINATED", "CANCELED")},
            ["ended TERMINATED/CANCELED: emulated fault"],
        ),
        ({"terminal_state": ("INTERNAL_ERROR", None)}, ["ended INTERNAL_ERROR: emulated fault"]),
        ({"terminal_state": ("SKIPPED", None)}, ["ended SKIPPED: emulated fault"]),
    ],
    ids=["task-fails", "failed", "timedout", "canceled", "internal-error", "skipped"],
)
@pytest.mark.fault_case(2, "databricks")
@pytest.mark.fault_case(12, "databricks")
def test_every_terminal_state_but_success_fails_the_step_with_its_message_and_run_page(
    fault: dict[str, Any],
    expected: list[str],
    project: S3Project,
    databricks: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in fault.items():
        setattr(databricks.faults, name, value)
    result, _, instance, runs = _run(project, databricks, tmp_path, monkeypatch)
    _fails_with(result, databricks, runs, [f"Databricks run {runs[0]} ", *expected])
    assert not [r for r in databricks.requests if r.path == CANCEL and r.body["run_id"] in runs]
    _no_secret_sent(databricks, instance, result.run_id)
    _pipes_files_are_gone(databricks)


@pytest.mark.faults
@pytest.mark.fault_case(8, "databricks")
def test_a_task_that_never_opens_pipes_fails_the_step(
    project: S3Project, databricks: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    databricks.faults.task_command = ["true"]
    result, _, _, runs = _run(project, databricks, tmp_path, monkeypatch)
    assert not result.success
    message = "\n".join(failure_messages(result).values())
    assert "the step ended without opening Dagster Pipes" in message
    assert databricks.run_states()[runs[0]] == ("TERMINATED", "SUCCESS")


@pytest.mark.faults
@pytest.mark.fault_case(4, "databricks")
def test_a_run_past_its_timeout_is_cancelled_and_fails(
    project: S3Project, databricks: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    databricks.faults.task_delay_s = 60
    databricks.faults.task_command = [sys.executable, "-c", "print('never')"]
    started = time.monotonic()
    result, _, _, runs = _run(project, databricks, tmp_path, monkeypatch, timeout_s=3)
    assert time.monotonic() - started < 40
    assert not result.success
    message = "\n".join(failure_messages(result).values())
    assert (
        f"Databricks run {runs[0]} did not finish within 3 s "
        "(raise [databricks] timeout_s to wait longer)" in message
    )
    assert [r.body["run_id"] for r in databricks.requests if r.path == CANCEL][-1:] == runs
    assert databricks.wait(runs[0], timeout=20) == ("TERMINATED", "CANCELED")
    assert databricks.task_process(runs[0]).poll() is not None
    assert _submitted(databricks, runs[0])["timeout_seconds"] == 63


@pytest.mark.faults
@pytest.mark.fault_case(5, "databricks")
@pytest.mark.fault_case(11, "databricks")
def test_sustained_throttling_fails_the_step_and_cancels_the_run(
    project: S3Project, databricks: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    databricks.faults.task_delay_s = 60
    databricks.faults.task_command = [sys.executable, "-c", "print('never')"]
    databricks.faults.status_codes[GET] = [429, 503] * 3 + [503] * 3
    seen = len(databricks.requests)
    result, _, _, runs = _run(project, databricks, tmp_path, monkeypatch, retry_timeout_s=3)
    assert not result.success
    message = "\n".join(failure_messages(result).values())
    assert (
        f"Databricks API: reading run {runs[0]} kept failing (throttled or unavailable) for "
        "[databricks] retry_timeout_s = 3 s" in message
    )
    answered = [r.status for r in databricks.requests[seen:] if r.path == GET]
    assert answered[:3] == [429, 503, 429]  # retried, not given up at the first
    assert [r.body["run_id"] for r in databricks.requests if r.path == CANCEL][-1:] == runs
    assert databricks.wait(runs[0], timeout=20) == ("TERMINATED", "CANCELED")


@pytest.mark.faults
@pytest.mark.fault_case(11, "databricks")
def test_a_server_error_is_not_retried_it_fails_the_step_and_cancels_the_run(
    project: S3Project, databricks: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 500 is the workspace's own error, not a pause: the SDK does not retry it, and the
    step fails at once naming the call and the error (then the run is cancelled)."""
    databricks.faults.task_delay_s = 60
    databricks.faults.task_command = [sys.executable, "-c", "print('never')"]
    databricks.faults.status_codes[GET] = [500]
    seen = len(databricks.requests)
    result, _, _, runs = _run(project, databricks, tmp_path, monkeypatch)
    assert not result.success
    message = "\n".join(failure_messages(result).values())
    assert f"Databricks API: reading run {runs[0]} failed: " in message
    assert f"emulated fault: HTTP 500 on {GET}" in message
    answered = [r.status for r in databricks.requests[seen:] if r.path == GET]
    assert answered[:2] == [500, 200]  # one 500, not retried: the next call is the cancel's
    assert [r.body["run_id"] for r in databricks.requests if r.path == CANCEL][-1:] == runs
    assert databricks.wait(runs[0], timeout=20) == ("TERMINATED", "CANCELED")


SCRIPT = """
import sys
import dagster as dg
from hydra_orchestration.cost import PriceTable
from hydra_orchestration.definitions import PIPELINE_JOB, build_definitions
from hydra_orchestration.settings import settings_from_environment

instance = dg.DagsterInstance.get()  # DAGSTER_HOME: the test asks it to terminate the run
job = build_definitions(settings_from_environment()).resolve_job_def(PIPELINE_JOB)
try:
    result = job.execute_in_process(
        partition_key=sys.argv[1], raise_on_error=False, instance=instance
    )
    print("success" if result.success else "failed", flush=True)
finally:
    for run in instance.get_runs():
        print(f"run status: {run.status.value}", flush=True)
"""


def _pipeline_process(project: S3Project, databricks: Any, home: Path) -> subprocess.Popen[str]:
    """The example on databricks in a process of its own (DAGSTER_HOME ``home``), as a run
    worker runs it: it prints how the run ended, then each run's status."""
    environ = {
        **os.environ,
        **project.environ,
        **databricks.environment(),
        "SPARK_PIPES_ENGINE": "databricks",
        "SPARK_EXECUTION_MODE": "small_dev_sample_s3",
        "DAGSTER_HOME": str(home),
    }
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, PARTITION],
        cwd=PROJECT_ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _new_running_run(
    process: subprocess.Popen[str], databricks: Any, before: set[int], timeout_s: float = 90
) -> int:
    """The Databricks run ``process`` submitted, once RUNNING (``before``: the runs before)."""
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no run reached RUNNING"
            running = {r for r, s in databricks.run_states().items() if s[0] == "RUNNING"}
            if started := running - before:
                return next(iter(started))
            time.sleep(0.1)
    except BaseException:
        process.kill()
        raise


def _pipeline_held_running(
    project: S3Project, databricks: Any, home: Path
) -> tuple[subprocess.Popen[str], int]:
    """The example in a process of its own, its task held RUNNING (it would only print once
    started); the process and the run, once RUNNING."""
    databricks.faults.task_delay_s = 120
    databricks.faults.task_command = [sys.executable, "-c", "print('never')"]
    before = set(databricks.run_states())
    process = _pipeline_process(project, databricks, home)
    return process, _new_running_run(process, databricks, before)


@pytest.mark.faults
@pytest.mark.fault_case(6, "databricks")
def test_an_interrupted_run_cancels_the_databricks_run_and_ends_cancelled(
    project: S3Project, databricks: Any, tmp_path: Path
) -> None:
    process, run_id = _pipeline_held_running(project, databricks, tmp_path)
    try:
        # What Dagster's run termination does: mark the run CANCELING, interrupt its worker.
        instance = dg.DagsterInstance.from_config(str(tmp_path))
        (dagster_run,) = instance.get_runs()
        instance.report_run_canceling(dagster_run)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert "success" not in stdout
    assert f"cancelling Databricks run {run_id}" in stderr
    assert [r.body["run_id"] for r in databricks.requests if r.path == CANCEL][-1:] == [run_id]
    assert databricks.wait(run_id, timeout=20) == ("TERMINATED", "CANCELED")
    assert "run status: CANCELED" in stdout, stdout  # the interrupt went on: the run ended
    # cancelled, not as a success or a failure


@pytest.mark.faults
@pytest.mark.fault_case(7, "databricks")
def test_the_sweeper_cancels_the_run_of_a_killed_orchestrator_and_nothing_else(
    project: S3Project, databricks: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL of the process running a Dagster run on databricks: its launch cannot cancel
    the run it submitted. Once the Dagster run is marked failed (run monitoring's verdict on a
    run whose worker is gone), the sweeper cancels that run — and no run not named for this
    project and a Dagster run that is over."""
    from databricks.sdk.service import jobs

    process, run_id = _pipeline_held_running(project, databricks, tmp_path)
    process.kill()
    process.wait(timeout=30)
    w = databricks.workspace_client()
    dead = dg.DagsterInstance.from_config(str(tmp_path)).get_runs()[0].run_id

    def submit(name: str) -> int:
        task = {
            "task_key": "other",
            "spark_python_task": {"python_file": "dbfs:/scripts/other.py"},
            "new_cluster": {"spark_version": "15.4.x-scala2.12", "num_workers": 0},
        }
        return w.jobs.submit(run_name=name, tasks=[jobs.SubmitTask.from_dict(task)]).run_id

    def named(run: str, project: str = PROJECT) -> str:
        return name_with_tags(
            compute_tags(
                run_id=run, assets=["edges"], mode="m", engine="databricks", project=project
            )
        )

    others = [
        submit("a notebook someone runs"),
        submit(named(dead, project="someone_elses")),
        submit(named("00000000-0000-0000-0000-000000000000")),  # a run this instance lacks
    ]
    try:
        project = dataclasses.replace(
            project, environ={**project.environ, **databricks.environment()}
        )
        for name, value in project.environ.items():
            monkeypatch.setenv(name, value)  # read by the sweeper's client, as in a deployment
        instance = dg.DagsterInstance.from_config(str(tmp_path))
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.STARTED  # as the killed process left it
        assert databricks.run_states()[run_id] == ("RUNNING", None)  # orphaned, and billing
        sensor = build_definitions(project.settings("databricks", tmp_path)).get_sensor_def(SWEEPER)
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
        untouched = sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(untouched, dg.SensorResult)
        assert not untouched.asset_events  # its Dagster run looks in progress: not swept yet

        instance.report_run_failed(run, "the run's worker is gone")
        swept = sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(swept, dg.SensorResult)
        observed = {
            e.asset_key.to_user_string(): e.metadata["swept"].value for e in swept.asset_events
        }
        assert set(observed) == {t.name for t in example.transforms}
        assert set(observed.values()) == {f"databricks {run_id}"}
        assert databricks.wait(run_id, timeout=30) == ("TERMINATED", "CANCELED")
        assert all(databricks.run_states()[other][0] != "TERMINATED" for other in others)
        again = sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(again, dg.SensorResult)
        assert not again.asset_events
    finally:
        for other in others:
            w.jobs.cancel_run(other)


@pytest.mark.pyspark
@pytest.mark.faults
@pytest.mark.fault_case(9, "databricks")
def test_a_driver_killed_mid_stream_fails_the_step_and_keeps_what_it_reported(
    project: S3Project, databricks: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The task's Python driver is SIGKILLed after its first transform reported, before
    Pipes' closing message: the step fails naming the run's end, the first asset stays
    materialized, no later one is, and the run has ended."""

    def tasks() -> list[int]:
        processes = [databricks.task_process(run_id) for run_id in databricks.run_states()]
        return [p.pid for p in processes if p is not None and p.poll() is None]

    killed = kill_driver_after_first_report(tasks)
    result, _, _, runs = _run(project, databricks, tmp_path, monkeypatch)
    first = killed()
    (run_id,) = runs
    assert not result.success
    assert databricks.run_states()[run_id] == ("TERMINATED", "FAILED")
    assert f"Databricks run {run_id} ended TERMINATED/FAILED" in "\n".join(
        failure_messages(result).values()
    )
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert first in materialized  # reported before the kill: kept
    assert materialized < {t.name for t in example.transforms}  # not the rest


def test_dagster_databricks_client_swallows_an_interrupt_and_has_no_timeout(
    databricks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the launcher does not call PipesDatabricksClient.run (dagster-databricks 0.29.27):
    interrupted while polling, it cancels the run and then returns as if it had finished; and
    its polling loop has no time limit."""
    from dagster._core.errors import DagsterExecutionInterruptedError
    from dagster_databricks import PipesDatabricksClient
    from dagster_databricks.pipes import BasePipesDatabricksClient
    from databricks.sdk.service import jobs

    databricks.faults.task_delay_s = 60
    databricks.faults.task_command = [sys.executable, "-c", "print('never')"]
    w = databricks.workspace_client()
    w.dbfs.put("/scripts/noop.py", contents="", overwrite=True)

    def interrupted(self: Any, context: Any, run_id: int) -> None:
        raise DagsterExecutionInterruptedError()

    monkeypatch.setattr(BasePipesDatabricksClient, "_poll_til_success", interrupted)
    task = jobs.SubmitTask.from_dict(
        {
            "task_key": "interrupted",
            "spark_python_task": {"python_file": "dbfs:/scripts/noop.py"},
            "new_cluster": {"spark_version": "15.4.x-scala2.12", "num_workers": 0},
        }
    )

    returned: list[bool] = []

    @dg.asset
    def interrupted_asset(context):  # unannotated: Dagster refuses a string annotation
        PipesDatabricksClient(client=w, poll_interval_seconds=0.1).run(task=task, context=context)
        returned.append(True)  # the interrupt did not go on
        return dg.MaterializeResult()

    before = set(databricks.run_states())
    result = dg.materialize([interrupted_asset], raise_on_error=False)
    (run_id,) = sorted(set(databricks.run_states()) - before)
    assert [r.body["run_id"] for r in databricks.requests if r.path == CANCEL][-1] == run_id
    assert returned == [True]
    assert result.success  # an interrupted run that ends as a success
    monkeypatch.undo()
    source = inspect.getsource(BasePipesDatabricksClient._poll_til_success)
    assert "while True" in source
    assert "timeout" not in source


def test_serverless_needs_a_volume() -> None:
    with pytest.raises(ConfigError, match="serverless: files must be a Unity Catalog volume"):
        parse_config("[databricks]\nserverless = true\n", source="t")
    with pytest.raises(ConfigError, match=r"databricks\.files: expected dbfs:/path"):
        parse_config('[databricks]\nfiles = "s3://bucket/x"\n', source="t")
    config = parse_config(
        '[databricks]\nserverless = true\nfiles = "/Volumes/main/hydra/files/x/"\n', source="t"
    )
    assert config.databricks.files == "/Volumes/main/hydra/files/x"


@pytest.mark.pyspark
@pytest.mark.fault_case(15, "databricks")
def test_a_contract_failure_on_databricks_reads_as_on_duckdb(
    local_s3: Any,
    databricks: Any,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A source that breaks its contract: the transforms reading it fail with the same report
    on Databricks as on DuckDB, their dependents are not run, nothing of them is published,
    and the run is over."""
    bad = s3_project(local_s3, tmp_path_factory.mktemp("badseeds"), sections=SECTIONS)
    key = f"{bad.directory.name}/sample/seed_nodes.csv"
    local_s3.client().put_object(Bucket=BUCKET, Key=key, Body=BAD_SEEDS.encode())
    result, settings, _, runs = _run(bad, databricks, tmp_path / "databricks", monkeypatch)
    assert not result.success
    on_databricks = contract_failures(result)
    local = dataclasses.replace(bad.settings("duckdb", tmp_path / "duckdb"), engine="duckdb")
    job = build_definitions(local).resolve_job_def(PIPELINE_JOB)
    expected = job.execute_in_process(partition_key=PARTITION, raise_on_error=False)
    assert on_databricks == contract_failures(expected)
    assert on_databricks["nodes"] == (
        "nodes: ContractViolation: dataset 'seed_nodes' failed contract SeedNodes: "
        "2 checks failed on 2 rows"
    )
    assert "not run" in on_databricks["graph_aggr"]
    for transform in example.transforms:
        with pytest.raises(FileNotFoundError):
            read_arrow(settings.output_location(transform.name), local_s3.options())
    (run_id,) = runs
    life, _ = databricks.run_states()[run_id]
    assert life == "TERMINATED"  # the run is over: nothing left running


@pytest.mark.fault_case(10, "databricks")
def test_oversized_contexts_and_messages_arrive_whole(databricks: Any) -> None:
    """DBFS's REST calls move at most 1 MB each (0.5 MB by default for a read). Dagster's DBFS
    Pipes transport makes one call per context and per chunk of messages: its context
    injector fails over 1 MB, and its reader silently drops what a chunk holds past 0.5 MB.
    The launcher's transport (DbfsContextInjector, DbfsMessageReader) moves them whole."""
    from dagster_databricks.pipes import PipesDbfsContextInjector, PipesDbfsMessageReader
    from dagster_pipes import PIPES_PROTOCOL_VERSION, PIPES_PROTOCOL_VERSION_FIELD
    from databricks.sdk.errors import DatabricksError

    from hydra_orchestration.launchers.databricks import DbfsContextInjector, DbfsMessageReader

    client = databricks.workspace_client()
    context: dict[str, Any] = {"extras": {"step": {"locations": {"x": "y" * 1_500_000}}}}
    dagsters = PipesDbfsContextInjector(client=client).inject_context(context)  # type: ignore[arg-type]
    with pytest.raises(DatabricksError, match="exceeds the 1 MB limit"), dagsters:
        pass
    with DbfsContextInjector(client=client).inject_context(context) as params:  # type: ignore[arg-type]
        host = databricks.root / "dbfs" / params["path"].lstrip("/")
        assert json.loads(host.read_text()) == context  # what the job's loader reads

    # A chunk of messages as the job's writer leaves it: a small message, one of 700 KB,
    # and one after it. 1.4 MB in all.
    def message(payload: str) -> str:
        return json.dumps(
            {
                PIPES_PROTOCOL_VERSION_FIELD: PIPES_PROTOCOL_VERSION,
                "method": "report_custom_message",
                "params": {"payload": payload},
            }
        )

    chunk = "\n".join([message("first"), message("z" * 700_000), message("last")]) + "\n"
    directory = databricks.root / "dbfs" / "tmp" / "hydra-case-10"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "1.json").write_text(chunk)
    params = {"path": "/tmp/hydra-case-10"}
    cut = PipesDbfsMessageReader(client=client).download_messages_chunk(1, params)  # dagster's
    assert cut is not None
    assert len(cut) == 1 << 19  # 0.5 MB, cut mid-message: the rest is lost without a word
    whole = DbfsMessageReader(client=client).download_messages_chunk(1, params)
    assert whole == chunk
    assert DbfsMessageReader(client=client).download_messages_chunk(2, params) is None  # pending
