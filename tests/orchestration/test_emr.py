"""emr and emr-serverless through Dagster, against the offline EMR (tests/emulators/emr.py):
the real boto3 over HTTP to moto's server, whose clusters and job runs a local data plane
drives — bootstrap actions install the shipped bundle, steps run spark-submit on the local S3.

Every launch must end with its cluster terminated (or its job run ended) and nothing secret in
any request; each failure must end as a failed Dagster step naming its cause.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from hydra_orchestration.cost import PriceTable
from hydra_orchestration.definitions import PIPELINE_JOB, build_definitions
from hydra_orchestration.launchers.aws import aws_clients
from hydra_orchestration.launchers.emr import EMRLauncher
from hydra_orchestration.launchers.emr_serverless import EMRServerlessLauncher
from hydra_orchestration.settings import Settings
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

pytestmark = [pytest.mark.emr, pytest.mark.s3]

LAUNCHERS = {"emr": EMRLauncher, "emr-serverless": EMRServerlessLauncher}
ENDED = {"TERMINATED", "TERMINATED_WITH_ERRORS"}


def _sections(endpoint: str, application_id: str, role: str) -> str:
    return f"""
[aws]
endpoint_urls = {{ emr = "{endpoint}", emr-serverless = "{endpoint}", logs = "{endpoint}" }}
[emr]
poll_interval_s = 0.2
logs_wait_s = 5
[emr.task]
instance_types = ["m6i.xlarge", "m5.xlarge"]
spot = 4
[emr.scaling]
minimum = 3
maximum = 12
maximum_on_demand = 3
[emr.tags]
team = "data"
[emr-serverless]
application_id = "{application_id}"
execution_role_arn = "{role}"
poll_interval_s = 0.2
[spark.emr]
"spark.sql.shuffle.partitions" = "1"
[spark.emr-serverless]
"spark.sql.shuffle.partitions" = "1"
"""


@pytest.fixture(scope="module")
def project(local_s3: Any, local_emr: Any, tmp_path_factory: pytest.TempPathFactory) -> S3Project:
    from tests.emulators.emr import ACCOUNT_ID

    application = local_emr.client("emr-serverless").create_application(
        name="hydra", releaseLabel="emr-7.5.0", type="SPARK"
    )["applicationId"]
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/hydra-job-runs"
    sections = _sections(local_emr.endpoint_url, application, role)
    return s3_project(local_s3, tmp_path_factory.mktemp("emrproject"), sections=sections)


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return local_outputs(tmp_path_factory.mktemp("local"))


@pytest.fixture
def faults(local_emr: Any) -> Iterator[Any]:
    """The emulator's faults, cleared after the test."""
    from tests.emulators.emr import Faults

    yield local_emr.faults
    local_emr.faults = Faults()


class Recorder:
    """The launchers' boto3 clients, recording every call: operation and parameters, and the
    body each request sent."""

    def __init__(self, settings: Settings) -> None:
        self.make = aws_clients(settings)
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.bodies: list[bytes] = []

    def __call__(self, service: str) -> Any:
        client = self.make(service)

        def call(model: Any, params: dict[str, Any], **_: Any) -> None:
            self.calls.append((service, model.name, params))

        def send(request: Any, **_: Any) -> None:
            body = request.body
            self.bodies.append(body if isinstance(body, bytes) else str(body or "").encode())

        client.meta.events.register("before-parameter-build", call)
        client.meta.events.register("before-send", send)
        return client

    def params(self, operation: str) -> list[dict[str, Any]]:
        return [params for _, name, params in self.calls if name == operation]


def _run(
    project: S3Project,
    engine: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    emr: dict[str, Any] | None = None,
    serverless: dict[str, Any] | None = None,
    aws: dict[str, Any] | None = None,
    run_config: dict[str, Any] | None = None,
    select: list[str] | None = None,
) -> tuple[dg.ExecuteInProcessResult, Recorder, Settings, dg.DagsterInstance]:
    for name, value in project.environ.items():
        monkeypatch.setenv(name, value)  # read at launch, as in a real run
    settings = project.settings(engine, tmp_path)
    for section, update in (("emr", emr), ("emr_serverless", serverless), ("aws", aws)):
        if update:
            changed = getattr(settings.config, section).model_copy(update=update)
            config = settings.config.model_copy(update={section: changed})
            settings = dataclasses.replace(settings, config=config)
    recorder = Recorder(settings)
    launchers = {name: cls(settings, clients=recorder) for name, cls in LAUNCHERS.items()}
    instance = dg.DagsterInstance.ephemeral()
    job = build_definitions(settings, launchers=launchers).resolve_job_def(PIPELINE_JOB)
    result = job.execute_in_process(
        instance=instance,
        partition_key=PARTITION,
        raise_on_error=False,
        run_config=run_config or {},
        asset_selection=[dg.AssetKey(name) for name in select] if select else None,
    )
    return result, recorder, settings, instance


def _no_secret_sent(recorder: Recorder, instance: dg.DagsterInstance, run_id: str) -> None:
    sent = (
        b"\n".join(recorder.bodies)
        + json.dumps([params for _, _, params in recorder.calls], default=str).encode()
    )
    assert SECRET_ACCESS_KEY.encode() not in sent
    assert ACCESS_KEY_ID.encode() not in sent  # (it signs requests: in a header, never a body)
    logs = "\n".join(str(record) for record in instance.all_logs(run_id))
    assert SECRET_ACCESS_KEY not in logs
    assert ACCESS_KEY_ID not in logs


def _staging_is_empty_of_pipes(local_s3: Any, project: S3Project) -> None:
    listed = local_s3.client().list_objects_v2(
        Bucket=BUCKET, Prefix=f"{project.directory.name}/staging/pipes/"
    )
    assert listed.get("KeyCount", 0) == 0, [o["Key"] for o in listed.get("Contents", [])]


def _clusters(recorder: Recorder) -> list[str]:
    """The clusters this run started (from the launcher's own calls' answers: their ids are
    in the steps and terminations it asked for)."""
    return [ids for params in recorder.params("TerminateJobFlows") for ids in params["JobFlowIds"]]


@pytest.mark.pyspark
@pytest.mark.parametrize(
    "engine",
    [
        pytest.param(
            "emr",
            marks=[
                pytest.mark.fault_case(1, "emr"),
                pytest.mark.fault_case(13, "emr"),
                pytest.mark.fault_case(14, "emr"),
            ],
        ),
        pytest.param(
            "emr-serverless",
            marks=[
                pytest.mark.fault_case(1, "emr-serverless"),
                pytest.mark.fault_case(13, "emr-serverless"),
                pytest.mark.fault_case(14, "emr-serverless"),
            ],
        ),
    ],
)
def test_the_example_materializes_on_emr_equal_to_the_local_run(
    engine: str,
    project: S3Project,
    local: Path,
    local_s3: Any,
    local_emr: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result, recorder, settings, instance = _run(project, engine, tmp_path, monkeypatch)
    assert result.success, failure_messages(result)
    materialized = {
        e.materialization.asset_key.to_user_string()
        for e in result.get_asset_materialization_events()
    }
    assert materialized == {t.name for t in example.transforms}
    checks = {e.asset_key.to_user_string(): e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {t.name: True for t in example.transforms}
    for transform in example.transforms:
        on_s3 = read_arrow(settings.output_location(transform.name), local_s3.options())
        here = read_arrow(local / transform.name)
        assert sorted(map(str, on_s3.to_pylist())) == sorted(map(str, here.to_pylist()))
    _no_secret_sent(recorder, instance, result.run_id)
    _staging_is_empty_of_pipes(local_s3, project)
    if engine == "emr":
        (flow,) = recorder.params("RunJobFlow")
        (cluster,) = _clusters(recorder)
        assert local_emr.cluster_states()[cluster] in ENDED | {"TERMINATING"}
        _the_cluster_has_the_configured_shape(flow, settings, result.run_id)
        _the_recorded_cost_is_the_clusters(result, local_emr, cluster)
    else:
        _the_recorded_cost_is_the_billed_resources(result, local_emr)
        (run,) = recorder.params("StartJobRun")
        assert run["executionTimeoutMinutes"] == 361  # [emr-serverless] timeout_s + a minute
        # EMR Serverless' tag values (the service model's pattern; moto does not check it)
        assert all(re.fullmatch(r"[A-Za-z0-9 /_.:=+@-]*", v) for v in run["tags"].values())
        submit = run["jobDriver"]["sparkSubmit"]
        assert "--py-files s3://" in submit["sparkSubmitParameters"]
        # The user's [spark.emr-serverless] settings and the Pipes parameters, both
        assert "--conf spark.sql.shuffle.partitions=1" in submit["sparkSubmitParameters"]
        assert "--dagster-pipes-context" in submit["entryPointArguments"]
        states = local_emr.job_run_states()
        assert [states[key] for key in states if key.startswith(run["applicationId"])][
            -1
        ] == "SUCCESS"


def _recorded_costs(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    """Each materialized asset's cost metadata."""
    return {
        e.materialization.asset_key.to_user_string(): {
            key: e.materialization.metadata[key].value
            for key in ("cost_usd", "platform", "instance_hours", "wall_s")
        }
        for e in result.get_asset_materialization_events()
    }


def _the_recorded_cost_is_the_clusters(
    result: dg.ExecuteInProcessResult, local_emr: Any, cluster: str
) -> None:
    """The assets' costs add up to the cluster's: its fleets (1 + 2 on-demand m6i.xlarge,
    4 spot m6i.xlarge) for the hours EMR's timeline gives it, at the packaged us-east-1 prices
    plus EMR's charge per instance-hour."""
    costs = _recorded_costs(result)
    assert {c["platform"] for c in costs.values()} == {"emr"}
    assert all(c["cost_usd"] > 0 and c["wall_s"] > 0 for c in costs.values())
    instance_hours = sum(c["instance_hours"] for c in costs.values())
    hours = instance_hours / 7  # each of the 7 instances existed as long as the cluster
    timeline = local_emr.client("emr").describe_cluster(ClusterId=cluster)["Cluster"]["Status"][
        "Timeline"
    ]
    step = local_emr.client("emr").list_steps(ClusterId=cluster)["Steps"][0]["Status"]
    created = timeline["CreationDateTime"]
    at_least = (step["Timeline"]["EndDateTime"] - created).total_seconds() / 3600
    at_most = (datetime.datetime.now(tz=created.tzinfo) - created).total_seconds() / 3600
    assert at_least <= hours <= at_most
    m6i = PriceTable.load("us-east-1").instance("m6i.xlarge")
    assert m6i.spot is not None
    assert m6i.emr is not None
    per_hour = 3 * (m6i.on_demand + m6i.emr) + 4 * (m6i.spot + m6i.emr)
    assert sum(c["cost_usd"] for c in costs.values()) == pytest.approx(hours * per_hour, rel=1e-3)


def _the_recorded_cost_is_the_billed_resources(
    result: dg.ExecuteInProcessResult, local_emr: Any
) -> None:
    """The assets' costs add up to the job run's billed vCPU- and GB-hours at the packaged
    us-east-1 EMR Serverless prices."""
    costs = _recorded_costs(result)
    assert {c["platform"] for c in costs.values()} == {"emr-serverless"}
    (key,) = [k for k, state in local_emr.job_run_states().items() if state == "SUCCESS"][-1:]
    application, job_run = key.split("/")
    billed = local_emr.client("emr-serverless").get_job_run(
        applicationId=application, jobRunId=job_run
    )["jobRun"]["billedResourceUtilization"]
    assert billed["vCPUHour"] > 0
    rates = PriceTable.load("us-east-1").serverless("x86_64")
    expected = billed["vCPUHour"] * rates.vcpu_hour + billed["memoryGBHour"] * rates.gb_hour
    assert sum(c["cost_usd"] for c in costs.values()) == pytest.approx(expected, rel=1e-3)
    assert all(c["instance_hours"] == 0 for c in costs.values())


def _the_cluster_has_the_configured_shape(
    flow: dict[str, Any], settings: Settings, run_id: str
) -> None:
    fleets = {f["InstanceFleetType"]: f for f in flow["Instances"]["InstanceFleets"]}
    assert fleets["MASTER"]["TargetOnDemandCapacity"] == 1
    assert fleets["CORE"]["TargetOnDemandCapacity"] == 2
    task = fleets["TASK"]
    assert (task["TargetSpotCapacity"], task["TargetOnDemandCapacity"]) == (4, 0)
    assert task["LaunchSpecifications"]["SpotSpecification"] == {
        "TimeoutDurationMinutes": 10,
        "TimeoutAction": "SWITCH_TO_ON_DEMAND",
        "AllocationStrategy": "price-capacity-optimized",
    }
    assert flow["ManagedScalingPolicy"]["ComputeLimits"] == {
        "UnitType": "InstanceFleetUnits",
        "MinimumCapacityUnits": 3,
        "MaximumCapacityUnits": 12,
        "MaximumOnDemandCapacityUnits": 3,
    }
    assert flow["AutoTerminationPolicy"] == {"IdleTimeout": 900}
    assert flow["Instances"]["KeepJobFlowAliveWhenNoSteps"] is False
    assert flow["LogUri"] == f"s3://{BUCKET}/{Path(settings.config_path).parent.name}/logs/emr/"
    tags = {t["Key"]: t["Value"] for t in flow["Tags"]}
    assert tags["dagster/run-id"] == run_id
    assert tags["hydra/execution-mode"] == "small_dev_sample_s3"
    assert tags["hydra/project"] == "hydra_transforms.example"
    assert tags["team"] == "data"
    assert set(tags["hydra/assets"].split()) == {t.name for t in example.transforms}
    (bootstrap,) = flow["BootstrapActions"]
    assert bootstrap["ScriptBootstrapAction"]["Path"].endswith("/bootstrap.sh")
    (step,) = flow["Steps"]
    assert step["ActionOnFailure"] == "TERMINATE_CLUSTER"
    args = step["HadoopJarStep"]["Args"]
    assert args[:3] == ["spark-submit", "--deploy-mode", "client"]
    assert "spark.sql.shuffle.partitions=1" in args
    assert "--dagster-pipes-context" in args
    assert not any(jar in " ".join(args) for jar in ("hadoop-aws", "spark.jars"))  # EMR's own S3


FAILING_STEP = [sys.executable, "-c", "import sys; sys.exit('boom: no transform ran')"]


@pytest.mark.parametrize(
    ("engine", "fault", "expected"),
    [
        pytest.param(
            "emr",
            {"step_command": FAILING_STEP},
            ["EMR step", "FAILED", "boom: no transform ran"],
            id="failed-step",
            marks=pytest.mark.fault_case(2, "emr"),
        ),
        pytest.param(
            "emr",
            {"bootstrap_error": "pip: no matching distribution for ibis-framework==12.0.0"},
            ["before step", "BOOTSTRAP_FAILURE", "no matching distribution for ibis-framework"],
            id="bootstrap-failure",
            marks=pytest.mark.fault_case(3, "emr"),
        ),
        pytest.param(
            "emr",
            {"step_command": ["true"]},
            ["the step ended without opening Dagster Pipes"],
            id="never-opens-pipes",
            marks=pytest.mark.fault_case(8, "emr"),
        ),
        pytest.param(
            "emr-serverless",
            {"step_command": FAILING_STEP},
            ["EMR Serverless job run", "FAILED", "boom: no transform ran"],
            id="failed-job-run",
            marks=pytest.mark.fault_case(2, "emr-serverless"),
        ),
        pytest.param(
            "emr-serverless",
            {"step_command": ["true"]},
            ["the step ended without opening Dagster Pipes"],
            id="job-run-never-opens-pipes",
            marks=pytest.mark.fault_case(8, "emr-serverless"),
        ),
    ],
)
def test_a_failed_launch_fails_the_step_naming_its_cause_and_leaves_no_compute(
    engine: str,
    fault: dict[str, Any],
    expected: list[str],
    project: S3Project,
    local_s3: Any,
    local_emr: Any,
    faults: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in fault.items():
        setattr(faults, name, value)
    result, recorder, _, instance = _run(project, engine, tmp_path, monkeypatch)
    assert not result.success
    message = "\n".join(failure_messages(result).values())
    for text in expected:
        assert text in message
    assert not result.get_asset_materialization_events()
    _no_secret_sent(recorder, instance, result.run_id)
    _staging_is_empty_of_pipes(local_s3, project)
    if engine == "emr":
        (cluster,) = _clusters(recorder)
        _ends(local_emr, cluster)
    else:
        assert not local_emr.processes()


def _ends(local_emr: Any, cluster: str, within_s: float = 20.0) -> None:
    deadline = time.monotonic() + within_s
    while local_emr.cluster_states()[cluster] not in ENDED:
        assert time.monotonic() < deadline, local_emr.cluster_states()[cluster]
        time.sleep(0.1)
    assert not [label for label in local_emr.processes() if label.startswith(cluster)]


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param("emr", marks=pytest.mark.fault_case(4, "emr")),
        pytest.param("emr-serverless", marks=pytest.mark.fault_case(4, "emr-serverless")),
    ],
)
def test_a_launch_past_its_timeout_fails_and_ends_its_compute(
    engine: str,
    project: S3Project,
    local_emr: Any,
    faults: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    faults.step_delay_s = 60
    started = time.monotonic()
    section = "emr" if engine == "emr" else "serverless"
    result, recorder, _, _ = _run(
        project, engine, tmp_path, monkeypatch, **{section: {"timeout_s": 3}}
    )
    assert time.monotonic() - started < 40
    assert not result.success
    message = "\n".join(failure_messages(result).values())
    assert f"did not finish within 3 s (raise [{engine}] timeout_s to wait longer)" in message
    _compute_ended(engine, recorder, local_emr)


def _compute_ended(engine: str, recorder: Recorder, local_emr: Any) -> None:
    """The run's cluster terminated, or its job run cancelled, and nothing of it running."""
    if engine == "emr":
        (cluster,) = _clusters(recorder)
        _ends(local_emr, cluster)
        return
    (started,) = recorder.params("StartJobRun")
    (cancelled,) = recorder.params("CancelJobRun")
    job_run = f"{started['applicationId']}/{cancelled['jobRunId']}"
    deadline = time.monotonic() + 20
    while local_emr.job_run_states()[job_run] != "CANCELLED":
        assert time.monotonic() < deadline, local_emr.job_run_states()[job_run]
        time.sleep(0.1)
    assert not any(label.startswith(job_run) for label in local_emr.processes())


@pytest.mark.pyspark
def test_mixed_launches_and_a_step_longer_than_botocores_waiter_budget(
    project: S3Project,
    local: Path,
    local_s3: Any,
    local_emr: Any,
    faults: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The transforms next to the sources run on DuckDB in the Dagster process, the rest on
    EMR, in one run. The EMR step takes more polls than botocore's EMR waiters allow (60
    attempts): a launcher bound by them would fail; this one waits, up to its own limit."""
    first = [t.name for t in example.transforms[:2]]
    faults.step_delay_s = 3.0
    result, recorder, settings, _ = _run(
        project,
        "emr",
        tmp_path,
        monkeypatch,
        emr={"poll_interval_s": 0.03},
        run_config={
            "ops": {"example_transforms": {"config": {"engines": dict.fromkeys(first, "duckdb")}}}
        },
    )
    assert result.success, failure_messages(result)
    (flow,) = recorder.params("RunJobFlow")
    step_args = flow["Steps"][0]["HadoopJarStep"]["Args"]
    assert not any(name in flow["Steps"][0]["Name"] for name in first), step_args
    assert len(recorder.params("DescribeStep")) > 60
    for transform in example.transforms:
        on_s3 = read_arrow(settings.output_location(transform.name), local_s3.options())
        here = read_arrow(local / transform.name)
        assert sorted(map(str, on_s3.to_pylist())) == sorted(map(str, here.to_pylist()))
    (cluster,) = _clusters(recorder)
    _ends(local_emr, cluster)


@pytest.mark.pyspark
def test_steps_on_a_named_cluster_install_the_bundle_and_leave_it_running(
    project: S3Project,
    local_emr: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emr = local_emr.client("emr")
    cluster = emr.run_job_flow(
        Name="team cluster",
        ReleaseLabel="emr-7.5.0",
        LogUri=f"s3://{BUCKET}/{project.directory.name}/logs/emr/",
        Applications=[{"Name": "Spark"}],
        Instances={
            "KeepJobFlowAliveWhenNoSteps": True,
            "InstanceCount": 1,
            "MasterInstanceType": "m6i.xlarge",
        },
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]
    try:
        result, recorder, _, _ = _run(
            project, "emr", tmp_path, monkeypatch, emr={"cluster_id": cluster}, select=["nodes"]
        )
        assert result.success, failure_messages(result)
        assert not recorder.params("RunJobFlow")
        assert not recorder.params("TerminateJobFlows")
        steps = emr.list_steps(ClusterId=cluster)["Steps"]
        assert [s["Status"]["State"] for s in reversed(steps)] == ["COMPLETED", "COMPLETED"]
        assert local_emr.cluster_states()[cluster] == "WAITING"
    finally:
        emr.terminate_job_flows(JobFlowIds=[cluster])


@pytest.mark.pyspark
@pytest.mark.parametrize(
    "engine",
    [
        pytest.param("emr", marks=pytest.mark.fault_case(9, "emr")),
        pytest.param("emr-serverless", marks=pytest.mark.fault_case(9, "emr-serverless")),
    ],
)
def test_a_driver_killed_mid_stream_fails_the_step_and_keeps_what_it_reported(
    engine: str,
    project: S3Project,
    local_emr: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The step's Python driver is SIGKILLed after its first transform reported, before
    Pipes' closing message: the step fails naming the platform's verdict, the first asset
    stays materialized, no later one is, and the compute ends (the cluster terminated, the
    job run failed)."""

    def steps() -> list[int]:
        return [pid for label, pid in local_emr.processes().items() if "bootstrap" not in label]

    before = set(local_emr.job_run_states())
    killed = kill_driver_after_first_report(steps)
    result, recorder, _, _ = _run(project, engine, tmp_path, monkeypatch)
    first = killed()
    assert not result.success
    message = "\n".join(failure_messages(result).values())
    assert "FAILED" in message, message
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert first in materialized  # reported before the kill: kept
    assert materialized < {t.name for t in example.transforms}  # not the rest
    if engine == "emr":
        (cluster,) = _clusters(recorder)
        _ends(local_emr, cluster)
        return
    (job_run,) = set(local_emr.job_run_states()) - before
    assert local_emr.job_run_states()[job_run] == "FAILED"
    assert not any(label.startswith(job_run) for label in local_emr.processes())


SCRIPT = """
import sys
import dagster as dg
from hydra_orchestration.cost import PriceTable
from hydra_orchestration.definitions import PIPELINE_JOB, build_definitions
from hydra_orchestration.settings import settings_from_environment

job = build_definitions(settings_from_environment()).resolve_job_def(PIPELINE_JOB)
result = job.execute_in_process(partition_key=sys.argv[1], raise_on_error=False)
print("success" if result.success else "failed", flush=True)
"""


@pytest.mark.parametrize(
    ("engine", "signum"),
    [
        pytest.param("emr", signal.SIGINT, marks=pytest.mark.fault_case(6, "emr"), id="emr-SIGINT"),
        pytest.param(
            "emr-serverless",
            signal.SIGTERM,
            marks=pytest.mark.fault_case(6, "emr-serverless"),
            id="emr-serverless-SIGTERM",
        ),
    ],
)
def test_an_interrupted_run_ends_its_compute(
    engine: str, signum: int, project: S3Project, local_emr: Any, faults: Any, tmp_path: Path
) -> None:
    """SIGINT, or SIGTERM (what Dagster's run termination and Kubernetes send; Dagster maps it
    to SIGINT's handler while a run executes) to the process running the Dagster run."""
    faults.step_delay_s = 120
    running_now = (
        (lambda: {c for c, s in local_emr.cluster_states().items() if s == "RUNNING"})
        if engine == "emr"
        else (lambda: {r for r, s in local_emr.job_run_states().items() if s == "RUNNING"})
    )
    before = running_now()
    environ = {
        **os.environ,
        **project.environ,
        "SPARK_PIPES_ENGINE": engine,
        "SPARK_EXECUTION_MODE": "small_dev_sample_s3",
        "DAGSTER_HOME": str(tmp_path),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, PARTITION],
        cwd=PROJECT_ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        compute = None
        while compute is None:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "nothing reached RUNNING"
            compute = next(iter(running_now() - before), None)
            time.sleep(0.1)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert "success" not in stdout
    if engine == "emr":
        assert f"terminating EMR cluster {compute}" in stderr
        _ends(local_emr, compute)
        reason = local_emr.client("emr").describe_cluster(ClusterId=compute)["Cluster"]
        assert reason["Status"]["StateChangeReason"]["Code"] == "USER_REQUEST"
        return
    assert f"cancelling EMR Serverless job run {compute.split('/')[1]}" in stderr
    deadline = time.monotonic() + 20
    while local_emr.job_run_states()[compute] != "CANCELLED":
        assert time.monotonic() < deadline, local_emr.job_run_states()[compute]
        time.sleep(0.1)
    assert not any(label.startswith(compute) for label in local_emr.processes())


def test_dagster_aws_pipes_emr_client_cannot_see_a_failed_step() -> None:
    """Why the launcher does not use PipesEMRClient (dagster-aws 0.29.27): it checks the
    cluster's final state with ``state in EMR_CLUSTER_TERMINATED_STATES``, a set of Enum
    members, which no state string EMR returns is ever in; and it waits with botocore's
    waiters, whose budget for a cluster to end is 30 minutes."""
    import boto3
    from dagster_aws.emr.emr import EMR_CLUSTER_TERMINATED_STATES

    assert "TERMINATED_WITH_ERRORS" not in EMR_CLUSTER_TERMINATED_STATES
    assert "TERMINATED" not in EMR_CLUSTER_TERMINATED_STATES
    waiter = boto3.client("emr", region_name="us-east-1").get_waiter("cluster_terminated")
    assert waiter.config.delay * waiter.config.max_attempts == 30 * 60


@pytest.mark.pyspark
@pytest.mark.fault_case(5, "emr")
def test_throttling_is_retried_and_sustained_throttling_fails_the_launch_and_ends_its_cluster(
    project: S3Project, local_emr: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.emulators.faulty import FaultyProxy, throttling, unavailable

    proxy = FaultyProxy(local_emr.endpoint_url).start()
    try:
        endpoints = {**project.settings("emr", tmp_path).config.aws.endpoint_urls}
        aws = {"endpoint_urls": {**endpoints, "emr": proxy.endpoint_url}, "max_attempts": 4}
        proxy.faults = [throttling("RunJobFlow", times=2), unavailable("DescribeStep", times=2)]
        transient = tmp_path / "transient"
        transient.mkdir()
        result, _, _, _ = _run(project, "emr", transient, monkeypatch, aws=aws, select=["nodes"])
        assert result.success, failure_messages(result)
        assert proxy.injected == {"RunJobFlow": 2, "DescribeStep": 2}
        assert proxy.calls["RunJobFlow"] == 3  # two refusals, then the one cluster

        proxy.faults = [throttling("DescribeStep")]  # for good
        sustained = tmp_path / "sustained"
        sustained.mkdir()
        result, recorder, _, _ = _run(
            project, "emr", sustained, monkeypatch, aws=aws, select=["nodes"]
        )
        assert not result.success
        message = "\n".join(failure_messages(result).values())
        assert "the launch failed: ClientError" in message
        assert "ThrottlingException" in message
        assert "DescribeStep" in message
        assert proxy.injected["DescribeStep"] >= 2 + 4  # retried up to [aws] max_attempts
        (cluster,) = _clusters(recorder)  # terminated although EMR's API kept refusing
        _ends(local_emr, cluster)
    finally:
        proxy.stop()


@pytest.mark.fault_case(5, "emr-serverless")
def test_serverless_throttling_is_retried_and_sustained_throttling_cancels_the_job_run(
    project: S3Project,
    local_emr: Any,
    faults: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """EMR Serverless (a REST API): StartJobRun throttled twice is retried and starts the job
    run; GetJobRun throttled for good fails the launch naming it, and the job run is still
    cancelled."""
    from tests.emulators.faulty import FaultyProxy, throttling

    faults.step_delay_s = 60  # the job run would run a minute: only its launch matters here
    proxy = FaultyProxy(local_emr.endpoint_url).start()
    try:
        application = project.settings("emr-serverless", tmp_path).config.emr_serverless
        runs = f"/applications/{application.application_id}/jobruns"
        endpoints = {**project.settings("emr", tmp_path).config.aws.endpoint_urls}
        aws = {
            "endpoint_urls": {**endpoints, "emr-serverless": proxy.endpoint_url},
            "max_attempts": 4,
        }
        proxy.faults = [throttling(f"POST {runs}", times=2), throttling(f"GET {runs}/*")]
        result, recorder, _, _ = _run(
            project, "emr-serverless", tmp_path, monkeypatch, aws=aws, select=["nodes"]
        )
        assert not result.success
        message = "\n".join(failure_messages(result).values())
        assert "the launch failed: ClientError" in message
        assert "ThrottlingException" in message
        assert "GetJobRun" in message
        assert proxy.calls[f"POST {runs}"] == 3  # two refusals, then the one job run
        assert proxy.injected[f"GET {runs}/*"] >= 4  # retried up to [aws] max_attempts
        _compute_ended("emr-serverless", recorder, local_emr)
    finally:
        proxy.stop()


@pytest.mark.pyspark
@pytest.mark.fault_case(15, "emr")
@pytest.mark.fault_case(15, "emr-serverless")
def test_a_contract_failure_on_emr_reads_as_on_duckdb(
    project: S3Project,
    local_s3: Any,
    local_emr: Any,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A source that breaks its contract: the transforms reading it fail with the same report
    on EMR and EMR Serverless as on DuckDB, their dependents are not run, nothing of them is
    published."""
    serverless = project.settings("emr-serverless", tmp_path).config.emr_serverless
    assert serverless.application_id
    assert serverless.execution_role_arn
    sections = _sections(
        local_emr.endpoint_url, serverless.application_id, serverless.execution_role_arn
    )
    bad = s3_project(local_s3, tmp_path_factory.mktemp("badseeds"), sections=sections)
    key = f"{bad.directory.name}/sample/seed_nodes.csv"
    local_emr.client("s3").put_object(Bucket=BUCKET, Key=key, Body=BAD_SEEDS.encode())
    messages = {}
    for engine in ("duckdb", "emr", "emr-serverless"):
        where = tmp_path / engine
        where.mkdir()
        result, _, settings, _ = _run(bad, engine, where, monkeypatch)
        assert not result.success
        messages[engine] = contract_failures(result)
        for transform in example.transforms:
            with pytest.raises(FileNotFoundError):
                read_arrow(settings.output_location(transform.name), local_s3.options())
    assert messages["emr"] == messages["duckdb"]
    assert messages["emr-serverless"] == messages["duckdb"]
    assert messages["emr"]["nodes"] == (
        "nodes: ContractViolation: dataset 'seed_nodes' failed contract SeedNodes: "
        "2 checks failed on 2 rows"
    )
    assert "not run" in messages["emr"]["graph_aggr"]


@pytest.mark.fault_case(10, "emr")
@pytest.mark.fault_case(10, "emr-serverless")
def test_oversized_contexts_and_messages_arrive_whole_over_s3(local_s3: Any) -> None:
    """Both EMR engines' Pipes transport is S3 objects: one per context, one per chunk of
    messages, each written and read whole (no size limit short of S3's 5 GB per object).
    A context of 1.5 MB and a chunk with a 700 KB message between two small ones, through
    the launcher's injector and reader and the job side's own loader and writer."""
    from dagster_pipes import PipesS3ContextLoader, PipesS3MessageWriterChannel

    from hydra_orchestration.launchers.aws import pipes_s3_transport

    client = local_s3.client()
    staging = f"{local_s3.bucket('case-10')}/staging"
    injector, reader = pipes_s3_transport(staging, "run-10", client=client, interval=0.1)
    context: dict[str, Any] = {"extras": {"step": {"locations": {"x": "y" * 1_500_000}}}}
    with (
        injector.inject_context(context) as params,  # type: ignore[arg-type]
        PipesS3ContextLoader(client).load_context(params) as loaded,
    ):
        assert loaded == context
    payloads = ["first", "z" * 700_000, "last"]
    with reader.get_params() as params:
        channel = PipesS3MessageWriterChannel(client, params["bucket"], params["key_prefix"])
        chunk = "".join(
            json.dumps({"__dagster_pipes_version": "0.1", "method": "m", "params": {"p": p}}) + "\n"
            for p in payloads
        )
        channel.upload_messages_chunk(io.StringIO(chunk), 1)
        assert reader.download_messages_chunk(1, params) == chunk
        assert reader.download_messages_chunk(2, params) is None  # not written yet: pending
