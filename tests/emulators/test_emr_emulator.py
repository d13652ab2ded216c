"""The offline EMR and EMR Serverless (tests/emulators/emr.py), driven with plain boto3 calls.

A cluster bootstraps (its bootstrap action pip-installs a one-module wheel built here), runs a
failing step that CONTINUEs and a PySpark step that imports the wheel's module and writes to S3,
then terminates with ALL_STEPS_COMPLETED; a failing TERMINATE_CLUSTER step, a failing bootstrap,
a WAITING cluster given steps, terminate_job_flows during a long step; an EMR Serverless job run
that succeeds and logs to S3 and CloudWatch, and one cancelled while it runs. Three
spark-submits in all (~10 s each on 2 cores): the other steps run commands that start no Spark.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.emulators.emr import ACCOUNT_ID, INSTANCE_ID, Faults, LocalEMR
from tests.processes import session_processes

pytestmark = [pytest.mark.emr, pytest.mark.s3, pytest.mark.pyspark]

BUCKET = "emr-emulator-tests"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/emr-serverless-job"
ENDED = {"TERMINATED", "TERMINATED_WITH_ERRORS"}

PROBE_MODULE = 'GREETING = "hello from the wheel"\n'

BOOTSTRAP = """\
#!/bin/bash
# Installs the probe wheel, as a project's bootstrap action installs the project.
set -euo pipefail
work="$(mktemp -d)"
aws s3 cp --only-show-errors "$1" "$work/"
aws s3 cp --only-show-errors "$2" "$work/constraints.txt"
sudo python3 -m pip install --quiet --constraint "$work/constraints.txt" "$work/$(basename "$1")"
rm -rf "$work"
echo "installed $(basename "$1")"
"""

FAILING_BOOTSTRAP = """\
#!/bin/bash
echo "looking for the wheel"
echo "no such wheel: s3://nowhere/project.whl" >&2
exit 2
"""

FAILING_JOB = """\
import sys
print("failing on purpose", file=sys.stderr)
sys.exit(3)
"""

PROBE_JOB = """\
import importlib.util
import os
import sys

import boto3
import hydra_emr_probe
from pyspark.sql import SparkSession

out = sys.argv[1]
spark = SparkSession.builder.appName("probe").getOrCreate()
frame = spark.createDataFrame([(hydra_emr_probe.GREETING,)], "greeting string")
frame.write.mode("overwrite").text(out + "/spark")
bucket, _, prefix = out.removeprefix("s3://").partition("/")
boto3.client("s3").put_object(Bucket=bucket, Key=prefix + "/boto3-marker", Body=b"written")
print("probe says:", hydra_emr_probe.GREETING)
print("probe imported from:", hydra_emr_probe.__file__)
print("PROBE_DEFAULTS_ENV=" + os.environ.get("PROBE_DEFAULTS_ENV", "-"))
print("PROBE_EXPORT=" + os.environ.get("PROBE_EXPORT", "-"))
print("shuffle partitions:", spark.conf.get("spark.sql.shuffle.partitions"))
print("checkout hidden:", importlib.util.find_spec("hydra_transforms") is None)
spark.stop()
"""

SERVERLESS_JOB = """\
import os

import hydra_emr_probe
from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
print("serverless probe says:", hydra_emr_probe.GREETING, spark.range(5).count())
print("PROBE_DRIVER_ENV=" + os.environ.get("PROBE_DRIVER_ENV", "-"))
spark.stop()
"""


@dataclass(frozen=True)
class Probe:
    """The probe's files on the local S3."""

    wheel: str
    constraints: str
    bootstrap: str


def probe_wheel() -> bytes:
    """A one-module wheel (hydra_emr_probe 0.1), written as pip would."""
    dist = "hydra_emr_probe-0.1.dist-info"
    files = {
        "hydra_emr_probe.py": PROBE_MODULE,
        f"{dist}/METADATA": "Metadata-Version: 2.1\nName: hydra-emr-probe\nVersion: 0.1\n",
        f"{dist}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test_emr_emulator\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
    return buffer.getvalue()


# --- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_emr(local_emr: LocalEMR, local_s3: Any) -> LocalEMR:
    """The session's offline EMR (one per process: it patches moto's models), with this
    module's bucket."""
    local_s3.bucket(BUCKET)
    return local_emr


@pytest.fixture(autouse=True)
def no_faults_and_nothing_left(local_emr: LocalEMR) -> Iterator[None]:
    """Each test starts without faults, and ends with no process of the emulator running."""
    local_emr.faults = Faults()
    yield
    local_emr.faults = Faults()
    wait_until(lambda: not local_emr.processes(), 10, "the emulator's processes to end")


@pytest.fixture(scope="module")
def probe(local_emr: LocalEMR) -> Probe:
    return Probe(
        wheel=put(local_emr, "probe/hydra_emr_probe-0.1-py3-none-any.whl", probe_wheel()),
        constraints=put(local_emr, "probe/constraints.txt", b"hydra-emr-probe==0.1\n"),
        bootstrap=put(local_emr, "probe/bootstrap.sh", BOOTSTRAP.encode()),
    )


def put(emr: LocalEMR, key: str, body: bytes | str) -> str:
    data = body.encode() if isinstance(body, str) else body
    emr.client("s3").put_object(Bucket=BUCKET, Key=key, Body=data)
    return f"s3://{BUCKET}/{key}"


def read_gz(emr: LocalEMR, key: str) -> str:
    body = emr.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return gzip.decompress(body).decode()


def wait_until(condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)
    return result


def cluster(emr: Any, cluster_id: str) -> dict[str, Any]:
    return emr.describe_cluster(ClusterId=cluster_id)["Cluster"]


def watch_cluster(emr: Any, cluster_id: str, timeout_s: float = 120) -> list[str]:
    """The states a cluster goes through (each once, in order) until it has ended."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while not seen or seen[-1] not in ENDED:
        assert time.monotonic() < deadline, f"cluster {cluster_id} still {seen[-1]}"
        state = cluster(emr, cluster_id)["Status"]["State"]
        if not seen or seen[-1] != state:
            seen.append(state)
        time.sleep(0.02)
    return seen


def steps_by_name(emr: Any, cluster_id: str) -> dict[str, dict[str, Any]]:
    return {s["Name"]: s for s in emr.list_steps(ClusterId=cluster_id)["Steps"]}


def spark_step(name: str, on_failure: str, *args: str) -> dict[str, Any]:
    return {
        "Name": name,
        "ActionOnFailure": on_failure,
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", *args]},
    }


def job_flow(name: str, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "Name": name,
        "ReleaseLabel": "emr-7.5.0",
        "LogUri": f"s3://{BUCKET}/logs/",
        "Instances": {
            "MasterInstanceType": "m5.xlarge",
            "InstanceCount": 1,
            "KeepJobFlowAliveWhenNoSteps": False,
        },
        "JobFlowRole": "EMR_EC2_DefaultRole",
        "ServiceRole": "EMR_DefaultRole",
    }
    return params | extra


def is_subsequence(expected: list[str], seen: list[str]) -> bool:
    remaining = iter(seen)
    return all(state in remaining for state in expected)


# --- EMR on EC2 ------------------------------------------------------------------------------


def test_cluster_bootstraps_runs_its_steps_and_terminates(
    local_emr: LocalEMR, probe: Probe
) -> None:
    emr, s3 = local_emr.client("emr"), local_emr.client("s3")
    failing = put(local_emr, "jobs/failing.py", FAILING_JOB)
    job = put(local_emr, "jobs/probe_job.py", PROBE_JOB)
    out = f"s3://{BUCKET}/out/probe"
    response = emr.run_job_flow(
        **job_flow(
            "probe",
            BootstrapActions=[
                {
                    "Name": "install the probe",
                    "ScriptBootstrapAction": {
                        "Path": probe.bootstrap,
                        "Args": [probe.wheel, probe.constraints],
                    },
                }
            ],
            Configurations=[
                {
                    "Classification": "spark-defaults",
                    "Properties": {
                        "spark.yarn.appMasterEnv.PROBE_DEFAULTS_ENV": "from spark-defaults",
                        "spark.sql.shuffle.partitions": "3",
                    },
                },
                {
                    "Classification": "spark-env",
                    "Properties": {},
                    "Configurations": [
                        {
                            "Classification": "export",
                            "Properties": {"PROBE_EXPORT": "from spark-env"},
                        }
                    ],
                },
            ],
            Steps=[
                spark_step("fails", "CONTINUE", "--deploy-mode", "cluster", failing),
                spark_step("probe", "TERMINATE_CLUSTER", "--deploy-mode", "client", job, out),
            ],
        )
    )
    cluster_id = response["JobFlowId"]
    seen = watch_cluster(emr, cluster_id)

    status = cluster(emr, cluster_id)["Status"]
    assert is_subsequence(["STARTING", "BOOTSTRAPPING", "RUNNING", "TERMINATED"], seen), status
    assert status["State"] == "TERMINATED"
    assert status["StateChangeReason"] == {
        "Code": "ALL_STEPS_COMPLETED",
        "Message": "Steps completed with errors",
    }
    assert "EndDateTime" in status["Timeline"]
    steps = steps_by_name(emr, cluster_id)
    failed, probed = steps["fails"], steps["probe"]
    assert failed["Status"]["State"] == "FAILED"
    details = failed["Status"]["FailureDetails"]
    assert details["Reason"]
    assert details["Message"]
    logs = f"logs/{cluster_id}/steps"
    assert details["LogFile"] == f"s3://{BUCKET}/{logs}/{failed['Id']}/stderr.gz"
    # spark-submit's PythonRunner merges the Python process's stderr into its stdout (as on EMR)
    assert "failing on purpose" in read_gz(local_emr, f"{logs}/{failed['Id']}/stdout.gz")
    # CONTINUE: the next step ran, and completed.
    assert probed["Status"]["State"] == "COMPLETED"
    stdout = read_gz(local_emr, f"{logs}/{probed['Id']}/stdout.gz")
    assert "probe says: hello from the wheel" in stdout
    # The module came from what the bootstrap action installed, not from the checkout.
    assert f"/clusters/{cluster_id}/site-packages/hydra_emr_probe.py" in stdout
    assert "checkout hidden: True" in stdout
    # The cluster's Configurations: variables exported, spark-defaults as Spark settings.
    assert "PROBE_DEFAULTS_ENV=from spark-defaults" in stdout
    assert "PROBE_EXPORT=from spark-env" in stdout
    assert "shuffle partitions: 3" in stdout
    # Written through Spark (S3A, as EMRFS would) and boto3 (AWS_ENDPOINT_URL) alike.
    s3.head_object(Bucket=BUCKET, Key="out/probe/spark/_SUCCESS")
    s3.head_object(Bucket=BUCKET, Key="out/probe/boto3-marker")
    bootstrap_log = read_gz(
        local_emr, f"logs/{cluster_id}/node/{INSTANCE_ID}/bootstrap-actions/1/stdout.gz"
    )
    assert "installed hydra_emr_probe-0.1-py3-none-any.whl" in bootstrap_log
    containers = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"logs/{cluster_id}/containers/")
    assert containers["KeyCount"] > 0


def test_failing_step_that_terminates_the_cluster(local_emr: LocalEMR) -> None:
    emr = local_emr.client("emr")
    # A process that exits before it would open Pipes, in place of the steps' commands.
    local_emr.faults.step_command = [
        sys.executable,
        "-c",
        "import sys; print('exits before opening pipes', file=sys.stderr); sys.exit(3)",
    ]
    job = f"s3://{BUCKET}/jobs/never-read.py"
    response = emr.run_job_flow(
        **job_flow(
            "step-failure",
            Steps=[
                spark_step("first", "TERMINATE_CLUSTER", job),
                spark_step("second", "CONTINUE", job),
            ],
        )
    )
    cluster_id = response["JobFlowId"]
    assert watch_cluster(emr, cluster_id)[-1] == "TERMINATED_WITH_ERRORS"
    assert cluster(emr, cluster_id)["Status"]["StateChangeReason"] == {
        "Code": "STEP_FAILURE",
        "Message": "Shut down as step failed",
    }
    steps = steps_by_name(emr, cluster_id)
    first = steps["first"]["Status"]
    assert first["State"] == "FAILED"
    assert first["FailureDetails"]["Message"] == "exits before opening pipes"
    assert steps["second"]["Status"]["State"] == "CANCELLED"


def test_failing_bootstrap(local_emr: LocalEMR) -> None:
    emr = local_emr.client("emr")
    script = put(local_emr, "probe/failing-bootstrap.sh", FAILING_BOOTSTRAP)
    step = spark_step("never runs", "TERMINATE_CLUSTER", f"s3://{BUCKET}/jobs/never-read.py")
    action = {"Name": "install", "ScriptBootstrapAction": {"Path": script, "Args": []}}
    by_script = emr.run_job_flow(
        **job_flow("bad-bootstrap", BootstrapActions=[action], Steps=[step])
    )
    cluster_id = by_script["JobFlowId"]
    assert watch_cluster(emr, cluster_id)[-1] == "TERMINATED_WITH_ERRORS"
    reason = cluster(emr, cluster_id)["Status"]["StateChangeReason"]
    assert reason["Code"] == "BOOTSTRAP_FAILURE"
    assert "bootstrap action 1 (install) returned a non-zero return code 2" in reason["Message"]
    assert "no such wheel: s3://nowhere/project.whl" in reason["Message"]
    assert steps_by_name(emr, cluster_id)["never runs"]["Status"]["State"] == "CANCELLED"

    # The fault: the next cluster's bootstrap fails, once.
    local_emr.faults.bootstrap_error = "the disk is full"
    by_fault = emr.run_job_flow(**job_flow("faulty-bootstrap", Steps=[step]))["JobFlowId"]
    assert watch_cluster(emr, by_fault)[-1] == "TERMINATED_WITH_ERRORS"
    reason = cluster(emr, by_fault)["Status"]["StateChangeReason"]
    assert reason["Code"] == "BOOTSTRAP_FAILURE"
    assert "the disk is full" in reason["Message"]
    assert local_emr.faults.bootstrap_error is None


def test_waiting_cluster_runs_added_steps_until_terminated(local_emr: LocalEMR) -> None:
    emr = local_emr.client("emr")
    params = job_flow("long-lived")
    params["Instances"]["KeepJobFlowAliveWhenNoSteps"] = True
    cluster_id = emr.run_job_flow(**params)["JobFlowId"]
    assert cluster(emr, cluster_id)["Status"]["State"] == "STARTING"
    wait_until(lambda: cluster(emr, cluster_id)["Status"]["State"] == "WAITING", 10, "WAITING")

    # A step added to the WAITING cluster runs; the cluster waits again.
    local_emr.faults.step_command = [sys.executable, "-c", "print('added later')"]
    (added,) = emr.add_job_flow_steps(
        JobFlowId=cluster_id, Steps=[spark_step("added", "CONTINUE", "s3://x/never-read.py")]
    )["StepIds"]

    def state_of(step_id: str) -> str:
        return emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]["Status"]["State"]

    wait_until(lambda: state_of(added) == "COMPLETED", 20, "the added step")
    wait_until(lambda: cluster(emr, cluster_id)["Status"]["State"] == "WAITING", 10, "WAITING")
    assert read_gz(local_emr, f"logs/{cluster_id}/steps/{added}/stdout.gz") == "added later\n"

    # terminate_job_flows during a long step: its processes are gone within a second or so.
    local_emr.faults = Faults(step_delay_s=300)
    job = put(local_emr, "jobs/prints.py", "print('never gets here')\n")
    (long,) = emr.add_job_flow_steps(
        JobFlowId=cluster_id, Steps=[spark_step("long", "CONTINUE", job)]
    )["StepIds"]
    label = f"{cluster_id}/{long}"
    pid = wait_until(lambda: local_emr.processes().get(label), 10, "the long step's process")
    assert state_of(long) == "RUNNING"
    assert cluster(emr, cluster_id)["Status"]["State"] == "RUNNING"
    emr.terminate_job_flows(JobFlowIds=[cluster_id])
    asked = time.monotonic()
    assert cluster(emr, cluster_id)["Status"]["State"] in ("TERMINATING", "TERMINATED")
    wait_until(lambda: not session_processes(pid), 3, "the step's processes to be killed")
    assert time.monotonic() - asked < 2
    assert watch_cluster(emr, cluster_id)[-1] == "TERMINATED"
    assert cluster(emr, cluster_id)["Status"]["StateChangeReason"]["Code"] == "USER_REQUEST"
    assert state_of(long) == "CANCELLED"
    with pytest.raises(ClientError, match="ValidationException"):
        emr.add_job_flow_steps(
            JobFlowId=cluster_id, Steps=[spark_step("late", "CONTINUE", "s3://x/y.py")]
        )


# --- EMR Serverless --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def application(local_emr: LocalEMR) -> str:
    serverless = local_emr.client("emr-serverless")
    app = serverless.create_application(name="probe", releaseLabel="emr-7.5.0", type="SPARK")
    serverless.start_application(applicationId=app["applicationId"])
    return app["applicationId"]


def test_serverless_job_run_succeeds_and_writes_its_logs(
    local_emr: LocalEMR, probe: Probe, application: str
) -> None:
    serverless, logs = local_emr.client("emr-serverless"), local_emr.client("logs")
    job = put(local_emr, "jobs/serverless_job.py", SERVERLESS_JOB)
    parameters = (
        f"--conf spark.submit.pyFiles={probe.wheel}"
        " --conf spark.emr-serverless.driverEnv.PROBE_DRIVER_ENV=driver-env"
        " --conf spark.executor.cores=1 --conf spark.emr-serverless.driver.disk=20g"
    )
    run_id = serverless.start_job_run(
        applicationId=application,
        executionRoleArn=ROLE,
        name="probe",
        jobDriver={"sparkSubmit": {"entryPoint": job, "sparkSubmitParameters": parameters}},
        configurationOverrides={
            "monitoringConfiguration": {
                "s3MonitoringConfiguration": {"logUri": f"s3://{BUCKET}/serverless-logs/"},
                "cloudWatchLoggingConfiguration": {"enabled": True, "logStreamNamePrefix": "probe"},
            }
        },
    )["jobRunId"]
    seen: list[str] = []
    dashboard = None
    deadline = time.monotonic() + 120
    while not seen or seen[-1] not in ("SUCCESS", "FAILED", "CANCELLED"):
        assert time.monotonic() < deadline, f"job run still {seen[-1]}"
        state = serverless.get_job_run(applicationId=application, jobRunId=run_id)["jobRun"][
            "state"
        ]
        if not seen or seen[-1] != state:
            seen.append(state)
        if state == "RUNNING" and dashboard is None:  # as Dagster's client asks
            dashboard = serverless.get_dashboard_for_job_run(
                applicationId=application, jobRunId=run_id
            )["url"]
        time.sleep(0.05)

    assert is_subsequence(["SUBMITTED", "SCHEDULED", "RUNNING", "SUCCESS"], seen), seen
    assert local_emr.job_run_states()[f"{application}/{run_id}"] == "SUCCESS"
    run = serverless.get_job_run(applicationId=application, jobRunId=run_id)["jobRun"]
    assert run["endedAt"] >= run["startedAt"]
    log_dir = f"applications/{application}/jobs/{run_id}/SPARK_DRIVER"
    stdout = read_gz(local_emr, f"serverless-logs/{log_dir}/stdout.gz")
    assert "serverless probe says: hello from the wheel 5" in stdout
    assert "PROBE_DRIVER_ENV=driver-env" in stdout
    assert dashboard is not None
    assert dashboard.endswith(f"/serverless-logs/{log_dir}/stdout.gz")
    # CloudWatch Logs, where Dagster's PipesEMRServerlessClient reads them.
    events = logs.get_log_events(
        logGroupName="/aws/emr-serverless", logStreamName=f"probe/{log_dir}/stdout"
    )["events"]
    assert "serverless probe says: hello from the wheel 5" in [e["message"] for e in events]
    streams = logs.describe_log_streams(
        logGroupName="/aws/emr-serverless", logStreamNamePrefix=f"probe/{log_dir}/"
    )["logStreams"]
    assert sorted(s["logStreamName"].rsplit("/", 1)[1] for s in streams) == ["stderr", "stdout"]


def test_serverless_cancel_kills_the_running_job(local_emr: LocalEMR, application: str) -> None:
    serverless = local_emr.client("emr-serverless")
    local_emr.faults.step_delay_s = 300
    job = put(local_emr, "jobs/prints.py", "print('never gets here')\n")
    run_id = serverless.start_job_run(
        applicationId=application,
        executionRoleArn=ROLE,
        jobDriver={"sparkSubmit": {"entryPoint": job}},
    )["jobRunId"]
    label = f"{application}/{run_id}"
    pid = wait_until(lambda: local_emr.processes().get(label), 10, "the job run's process")

    def state() -> str:
        return serverless.get_job_run(applicationId=application, jobRunId=run_id)["jobRun"]["state"]

    assert state() == "RUNNING"
    serverless.cancel_job_run(applicationId=application, jobRunId=run_id)
    assert state() in ("CANCELLING", "CANCELLED")
    wait_until(lambda: not session_processes(pid), 3, "the job run's processes to be killed")
    wait_until(lambda: state() == "CANCELLED", 5, "CANCELLED")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        serverless.get_dashboard_for_job_run(applicationId=application, jobRunId="nosuchrun")
