"""The offline Databricks, spoken to by the real Databricks SDK and Dagster's two Pipes clients
(no project code): a job cluster run with DBFS, a serverless run with a UC volume, the SDK's
retries, terminal states, a task that dies early, and cancellation.

Three tests start Spark (~10 s each on 2 cores); the rest run a plain command as the task.
"""

from __future__ import annotations

import io
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.emulators.databricks import Faults, LocalDatabricks
from tests.processes import descendants

dg = pytest.importorskip("dagster")
pytest.importorskip("dagster_databricks")
from databricks.sdk.service import jobs  # noqa: E402

pytestmark = [pytest.mark.databricks, pytest.mark.pyspark]

BUCKET = "dbx-emulator"
SPARK_VERSION = "15.4.x-scala2.12"

# A cluster task: the SparkSession exists before open_dagster_pipes (PipesDbfsMessageWriter
# reads its clusterUsageTags to find the driver logs), as on a Databricks cluster.
DBFS_TASK = """\
import os, sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
from dagster_pipes import PipesDbfsContextLoader, PipesDbfsMessageWriter, open_dagster_pipes
import emu_helper  # from the wheel in the task's libraries

with open_dagster_pipes(
    context_loader=PipesDbfsContextLoader(), message_writer=PipesDbfsMessageWriter()
) as pipes:
    out = sys.argv[1]
    spark.range(5).write.mode("overwrite").parquet(out)
    rows = spark.read.parquet(out).count()
    print(f"driver says: wrote {rows} rows to {out}", flush=True)
    pipes.report_asset_materialization(metadata={
        "rows": rows,
        "greeting": emu_helper.GREETING,
        "env": os.environ.get("HELLO", ""),
        "shuffle": spark.conf.get("spark.sql.shuffle.partitions"),
        "aws_secret_in_conf": any("secret" in k for k, _ in spark.sparkContext.getConf().getAll()),
    })
"""

# A serverless task: Pipes parameters come as command-line arguments, files on a UC volume.
VOLUME_TASK = """\
from pyspark.sql import SparkSession
from dagster_pipes import (
    PipesCliArgsParamsLoader, PipesUnityCatalogVolumesContextLoader,
    PipesUnityCatalogVolumesMessageWriter, open_dagster_pipes,
)
import emu_helper

spark = SparkSession.builder.getOrCreate()
with open_dagster_pipes(
    context_loader=PipesUnityCatalogVolumesContextLoader(),
    message_writer=PipesUnityCatalogVolumesMessageWriter(),
    params_loader=PipesCliArgsParamsLoader(),
) as pipes:
    rows = spark.range(3).count()
    print(f"serverless driver says: {rows} rows", flush=True)
    pipes.report_asset_materialization(
        metadata={"rows": rows, "greeting": emu_helper.GREETING, "file": __file__}
    )
"""

# Writes its pid where the test sees it, then runs until cancelled.
SLEEPING_TASK = """\
import os, time
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
os.makedirs("/dbfs/probes/cancel", exist_ok=True)
with open("/dbfs/probes/cancel/pid.partial", "w") as f:
    f.write(str(os.getpid()))
os.replace("/dbfs/probes/cancel/pid.partial", "/dbfs/probes/cancel/pid")
time.sleep(600)
"""


def wheel() -> bytes:
    """A pure-Python wheel (a zip) with one module, ``emu_helper``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("emu_helper/__init__.py", "GREETING = 'hello from a wheel'\n")
        info = "emu_helper-0.1.dist-info"
        archive.writestr(
            f"{info}/METADATA", "Metadata-Version: 2.1\nName: emu-helper\nVersion: 0.1\n"
        )
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def databricks(local_databricks: LocalDatabricks) -> LocalDatabricks:
    """The session's offline Databricks (tests/conftest.py)."""
    return local_databricks


@pytest.fixture(autouse=True)
def no_faults(databricks: LocalDatabricks) -> Iterator[None]:
    databricks.faults = Faults()
    yield
    databricks.faults = Faults()


def new_runs(databricks: LocalDatabricks, before: dict[int, Any]) -> list[int]:
    return sorted(set(databricks.run_states()) - set(before))


def submit_command_task(databricks: LocalDatabricks, w: Any, **task: Any) -> int:
    """Submits a job-cluster task (what it runs: the faults' task_command); returns the run id."""
    w.dbfs.put("/scripts/noop.py", contents="", overwrite=True)
    spec = {
        "task_key": "command",
        "spark_python_task": {"python_file": "dbfs:/scripts/noop.py"},
        "new_cluster": {"spark_version": SPARK_VERSION, "num_workers": 0},
        **task,
    }
    spec = {k: v for k, v in spec.items() if v is not None}
    return w.jobs.submit(run_name="command", tasks=[jobs.SubmitTask.from_dict(spec)]).run_id


# ------------------------------------------------------------------ Dagster, end to end


def test_pipes_databricks_client_on_a_job_cluster(
    databricks: LocalDatabricks, local_s3: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    from dagster_databricks import PipesDatabricksClient

    w = databricks.workspace_client()
    w.dbfs.upload("dbfs:/scripts/task.py", io.BytesIO(DBFS_TASK.encode()), overwrite=True)
    w.dbfs.upload("dbfs:/libs/emu_helper-0.1-py3-none-any.whl", io.BytesIO(wheel()), overwrite=True)
    local_s3.bucket(BUCKET)
    task = jobs.SubmitTask.from_dict(
        {
            "task_key": "on-dbfs",
            "spark_python_task": {
                "python_file": "dbfs:/scripts/task.py",
                "parameters": [f"s3://{BUCKET}/out"],
            },
            "libraries": [{"whl": "dbfs:/libs/emu_helper-0.1-py3-none-any.whl"}],
            "new_cluster": {
                "spark_version": SPARK_VERSION,
                "node_type_id": "i3.xlarge",
                "num_workers": 0,
                "spark_conf": {"spark.sql.shuffle.partitions": "3"},
                "spark_env_vars": {"HELLO": "world"},
                "cluster_log_conf": {"dbfs": {"destination": "dbfs:/cluster-logs"}},
            },
        }
    )

    @dg.asset
    def on_a_job_cluster(context):
        client = PipesDatabricksClient(
            client=databricks.workspace_client(), poll_interval_seconds=0.5
        )
        return client.run(task=task, context=context).get_materialize_result()

    before = databricks.run_states()
    result = dg.materialize([on_a_job_cluster])

    assert result.success
    (run_id,) = new_runs(databricks, before)
    assert databricks.run_states()[run_id] == ("TERMINATED", "SUCCESS")
    (materialization,) = result.asset_materializations_for_node("on_a_job_cluster")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["rows"] == 5
    assert metadata["greeting"] == "hello from a wheel"
    assert metadata["env"] == "world"  # the cluster's spark_env_vars
    assert metadata["shuffle"] == "3"  # the cluster's spark_conf
    assert metadata["aws_secret_in_conf"] is False  # S3 credentials by environment only
    assert metadata["Databricks Job Run ID"] == str(run_id)
    listed = local_s3.client().list_objects_v2(Bucket=BUCKET, Prefix="out/")
    assert any(o["Key"].endswith(".parquet") for o in listed.get("Contents", []))

    # The driver's stdout came back through cluster log delivery and PipesDbfsLogReader.
    assert "driver says: wrote 5 rows" in capfd.readouterr().out
    cluster_id = w.jobs.get_run(run_id).cluster_instance.cluster_id
    delivered = databricks.local_path(f"dbfs:/cluster-logs/{cluster_id}/driver/stdout")
    assert "driver says" in delivered.read_text()
    assert any(
        r.path == "/api/2.0/dbfs/list" and r.query["path"].endswith(f"{cluster_id}/driver")
        for r in databricks.requests
    )

    # What the client sent: Pipes bootstrap in the cluster's environment variables.
    (submit,) = [
        r
        for r in databricks.requests
        if r.path.endswith("/jobs/runs/submit") and r.body["tasks"][0]["task_key"] == "on-dbfs"
    ]
    assert submit.path == "/api/2.2/jobs/runs/submit"
    env = submit.body["tasks"][0]["new_cluster"]["spark_env_vars"]
    assert {"DAGSTER_PIPES_CONTEXT", "DAGSTER_PIPES_MESSAGES", "HELLO"} <= set(env)
    # The client's DBFS temporary directories are gone again.
    assert not list((databricks.root / "dbfs" / "tmp").glob("*/context.json"))
    # The secret only ever travels to the token endpoint (in its Basic auth header).
    for request in databricks.requests:
        assert databricks.client_secret not in repr(request)


def test_pipes_databricks_serverless_client_with_a_volume(
    databricks: LocalDatabricks, capfd: pytest.CaptureFixture[str]
) -> None:
    from dagster_databricks.pipes import PipesDatabricksServerlessClient

    w = databricks.workspace_client()
    volume = databricks.volume("main", "hydra", "pipes")
    w.files.upload(f"{volume}/scripts/task.py", io.BytesIO(VOLUME_TASK.encode()), overwrite=True)
    whl = f"{volume}/libs/emu_helper-0.1-py3-none-any.whl"
    w.files.upload(whl, io.BytesIO(wheel()), overwrite=True)
    task = jobs.SubmitTask.from_dict(
        {
            "task_key": "serverless",
            "spark_python_task": {"python_file": f"{volume}/scripts/task.py"},
            "environment_key": "default",
        }
    )
    environments = [
        jobs.JobEnvironment.from_dict(
            {"environment_key": "default", "spec": {"client": "2", "dependencies": [whl]}}
        )
    ]
    databricks.faults.missing_reads = 2  # the first message chunk "not yet written", twice

    @dg.asset
    def on_serverless(context):
        client = PipesDatabricksServerlessClient(
            client=databricks.workspace_client(), volume_path=volume, poll_interval_seconds=0.5
        )
        return client.run(
            task=task, context=context, submit_args={"environments": environments}
        ).get_materialize_result()

    before = databricks.run_states()
    result = dg.materialize([on_serverless])

    assert result.success
    (run_id,) = new_runs(databricks, before)
    assert databricks.run_states()[run_id] == ("TERMINATED", "SUCCESS")
    (materialization,) = result.asset_materializations_for_node("on_serverless")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["rows"] == 3
    assert metadata["greeting"] == "hello from a wheel"
    assert metadata["file"] == f"{volume}/scripts/task.py"  # the task saw /Volumes/...
    # The driver's stdout came back inside Pipes messages (include_stdio_in_messages).
    assert "serverless driver says: 3 rows" in capfd.readouterr().out

    (submit,) = [
        r
        for r in databricks.requests
        if r.path.endswith("/jobs/runs/submit") and r.body["tasks"][0]["task_key"] == "serverless"
    ]
    sent = submit.body["tasks"][0]
    assert "new_cluster" not in sent
    assert sent["environment_key"] == "default"
    assert "--dagster-pipes-context" in sent["spark_python_task"]["parameters"]
    chunk_reads = [
        r.status
        for r in databricks.requests
        if r.method == "GET"
        and r.path.startswith("/api/2.0/fs/files/Volumes/")
        and r.path.endswith("/1.json")
    ]
    assert chunk_reads[:2] == [404, 404]
    assert chunk_reads[-1] == 200
    # The volume's temporary directories are removed again.
    assert list((databricks.local_path(volume) / "tmp").iterdir()) == []


@pytest.mark.faults
def test_a_task_that_dies_before_opening_pipes_fails_the_asset(databricks: LocalDatabricks) -> None:
    from dagster_databricks import PipesDatabricksClient

    w = databricks.workspace_client()
    w.dbfs.put("/scripts/noop.py", contents="", overwrite=True)
    databricks.faults.task_command = [
        sys.executable,
        "-c",
        "import sys; sys.exit('no SparkSession today')",
    ]
    task = jobs.SubmitTask.from_dict(
        {
            "task_key": "dies",
            "spark_python_task": {"python_file": "dbfs:/scripts/noop.py"},
            "new_cluster": {"spark_version": SPARK_VERSION, "num_workers": 0},
        }
    )

    @dg.asset
    def dies_early(context):
        client = PipesDatabricksClient(
            client=databricks.workspace_client(), poll_interval_seconds=0.5
        )
        return client.run(task=task, context=context).get_materialize_result()

    before = databricks.run_states()
    result = dg.materialize([dies_early], raise_on_error=False)

    assert not result.success
    (run_id,) = new_runs(databricks, before)
    assert databricks.run_states()[run_id] == ("TERMINATED", "FAILED")
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "Workload failed, see run output for details" in str(failure.event_specific_data)
    task_run_id = w.jobs.get_run(run_id).tasks[0].run_id
    assert w.jobs.get_run_output(task_run_id).error == "no SparkSession today"


# ------------------------------------------------------------------ the SDK and faults


@pytest.mark.faults
def test_the_sdk_retries_429_and_503_and_the_run_succeeds(databricks: LocalDatabricks) -> None:
    from databricks.sdk.errors import InternalError

    w = databricks.workspace_client()
    databricks.faults.task_command = [sys.executable, "-c", "print('done')"]
    run_id = submit_command_task(databricks, w)
    databricks.faults.status_codes["/api/2.2/jobs/runs/get"] = [429, 503]
    seen, started = len(databricks.requests), time.monotonic()
    run = w.jobs.wait_get_run_job_terminated_or_skipped(run_id, timeout=timedelta(minutes=1))
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    answered = [r.status for r in databricks.requests[seen:] if r.path == "/api/2.2/jobs/runs/get"]
    assert answered[:3] == [429, 503, 200]
    assert time.monotonic() - started >= 2  # Retry-After: 1, plus up to 1 s of jitter, each

    # A 500 is not retried; a sustained 503 is, until the SDK's retry timeout.
    databricks.faults.status_codes["/api/2.2/jobs/runs/get"] = [500]
    with pytest.raises(InternalError):
        w.jobs.get_run(run_id)
    impatient = databricks.workspace_client(retry_timeout_seconds=3)
    databricks.faults.status_codes["/api/2.2/jobs/runs/get"] = [503] * 100
    with pytest.raises(TimeoutError):
        impatient.jobs.get_run(run_id)


@pytest.mark.faults
@pytest.mark.parametrize(
    "terminal",
    [
        ("INTERNAL_ERROR", None),
        ("TERMINATED", "FAILED"),
        ("SKIPPED", None),
        ("TERMINATED", "TIMEDOUT"),
        ("TERMINATED", "CANCELED"),
    ],
    ids=lambda t: "/".join(map(str, t)),
)
def test_a_terminal_state_fault_ends_the_next_run(
    databricks: LocalDatabricks, terminal: tuple[str, str | None]
) -> None:
    w = databricks.workspace_client()
    databricks.faults.terminal_state = terminal
    run_id = submit_command_task(databricks, w)
    assert databricks.wait(run_id, timeout=30) == terminal
    state = w.jobs.get_run(run_id).state
    assert state.life_cycle_state.value == terminal[0]
    assert (state.result_state.value if state.result_state else None) == terminal[1]
    assert "emulated fault" in state.state_message
    assert not (databricks.run_directory(run_id) / "driver").exists()  # the task never ran
    assert databricks.faults.terminal_state is None  # only the next run


def test_cancel_kills_the_task_process(databricks: LocalDatabricks) -> None:
    w = databricks.workspace_client()
    w.dbfs.put("/probes/cancel/pid", contents="", overwrite=True)
    w.dbfs.delete("/probes/cancel/pid")
    w.dbfs.upload("dbfs:/scripts/sleep.py", io.BytesIO(SLEEPING_TASK.encode()), overwrite=True)
    run_id = w.jobs.submit(
        run_name="sleeps",
        tasks=[
            jobs.SubmitTask.from_dict(
                {
                    "task_key": "sleeps",
                    "spark_python_task": {"python_file": "dbfs:/scripts/sleep.py"},
                    "new_cluster": {"spark_version": SPARK_VERSION, "num_workers": 0},
                }
            )
        ],
    ).run_id
    pid_file = databricks.local_path("dbfs:/probes/cancel/pid")
    deadline = time.monotonic() + 120
    while not pid_file.exists():
        assert time.monotonic() < deadline, "the task never started"
        assert databricks.run_states()[run_id][0] in ("PENDING", "RUNNING")
        time.sleep(0.2)
    driver_pid = int(pid_file.read_text())
    process = databricks.task_process(run_id)
    assert process is not None
    tree = [process.pid, *descendants(process.pid)]
    assert driver_pid in tree  # the Python driver runs under spark-submit's JVM

    w.jobs.cancel_run(run_id)
    assert w.jobs.get_run(run_id).state.life_cycle_state in (
        jobs.RunLifeCycleState.TERMINATING,
        jobs.RunLifeCycleState.TERMINATED,
    )
    assert databricks.wait(run_id, timeout=30) == ("TERMINATED", "CANCELED")
    assert process.poll() is not None
    assert [pid for pid in tree if alive(pid)] == []
    state = w.jobs.get_run(run_id).state
    assert state.user_cancelled_or_timedout
    assert state.state_message == "Run cancelled."


@pytest.mark.faults
def test_a_long_task_is_cancelled_while_it_waits(databricks: LocalDatabricks) -> None:
    w = databricks.workspace_client()
    databricks.faults.task_delay_s = 60
    databricks.faults.task_command = [sys.executable, "-c", "print('never')"]
    run_id = submit_command_task(databricks, w)
    deadline = time.monotonic() + 10
    while databricks.task_process(run_id) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    assert databricks.run_states()[run_id] == ("RUNNING", None)
    w.jobs.cancel_run(run_id)
    assert databricks.wait(run_id, timeout=15) == ("TERMINATED", "CANCELED")
    stdout = databricks.run_directory(run_id) / "driver" / "stdout"
    assert "never" not in stdout.read_text()


def test_an_existing_cluster_gives_its_settings_to_the_task(databricks: LocalDatabricks) -> None:
    w = databricks.workspace_client()
    cluster_id = databricks.add_cluster(
        "0101-000000-allpurpose",
        spark_env_vars={"FROM_CLUSTER": "yes"},
        cluster_log_conf={"dbfs": {"destination": "dbfs:/all-purpose-logs"}},
    )
    assert w.clusters.get(cluster_id).state.value == "RUNNING"
    databricks.faults.task_command = [
        sys.executable,
        "-c",
        "import os, sys; print(os.environ['FROM_CLUSTER'], sys.argv[1:], os.path.isdir('/dbfs'))",
    ]
    run_id = submit_command_task(
        databricks,
        w,
        new_cluster=None,
        existing_cluster_id=cluster_id,
        spark_python_task={"python_file": "dbfs:/scripts/noop.py", "parameters": ["--x", "1"]},
    )
    assert databricks.wait(run_id, timeout=30) == ("TERMINATED", "SUCCESS")
    assert w.jobs.get_run(run_id).cluster_instance.cluster_id == cluster_id
    delivered = databricks.local_path(f"dbfs:/all-purpose-logs/{cluster_id}/driver/stdout")
    assert delivered.read_text() == "yes ['--x', '1'] True\n"

    unknown = submit_command_task(databricks, w, new_cluster=None, existing_cluster_id="nope")
    assert databricks.wait(unknown, timeout=30) == ("INTERNAL_ERROR", None)


def test_a_missing_python_file_or_wheel_is_an_internal_error(databricks: LocalDatabricks) -> None:
    w = databricks.workspace_client()
    no_file = submit_command_task(
        databricks, w, spark_python_task={"python_file": "dbfs:/scripts/absent.py"}
    )
    no_wheel = submit_command_task(databricks, w, libraries=[{"whl": "dbfs:/libs/absent.whl"}])
    assert databricks.wait(no_file, timeout=30) == ("INTERNAL_ERROR", None)
    assert databricks.wait(no_wheel, timeout=30) == ("INTERNAL_ERROR", None)
    assert "Cannot read the python file" in w.jobs.get_run(no_file).state.state_message
    assert "Library installation failed" in w.jobs.get_run(no_wheel).state.state_message


# ------------------------------------------------------------------ the control plane alone


def test_requests_need_the_issued_token(databricks: LocalDatabricks) -> None:
    import requests

    anonymous = requests.get(f"{databricks.host}/api/2.2/jobs/runs/get", params={"run_id": 1})
    assert anonymous.status_code == 401
    forged = requests.get(
        f"{databricks.host}/api/2.0/dbfs/list",
        params={"path": "/"},
        headers={"Authorization": "Bearer made-up"},
    )
    assert forged.status_code == 401
    wrong = requests.post(
        f"{databricks.host}/oidc/v1/token",
        data={"grant_type": "client_credentials", "scope": "all-apis"},
        auth=(databricks.client_id, "not-the-secret"),
    )
    assert wrong.status_code == 401


def test_dbfs_and_files_errors_are_databricks_errors(databricks: LocalDatabricks) -> None:
    from databricks.sdk.errors import NotFound, ResourceAlreadyExists

    w = databricks.workspace_client()
    w.dbfs.put("/errors/file", contents="YQ==", overwrite=True)
    with pytest.raises(ResourceAlreadyExists):
        w.dbfs.put("/errors/file", contents="YQ==", overwrite=False)
    with pytest.raises(ResourceAlreadyExists):
        w.dbfs.mkdirs("/errors/file/below")
    with pytest.raises(NotFound) as missing:
        w.dbfs.get_status("dbfs:/errors/none")
    assert isinstance(missing.value, OSError)  # what the Pipes readers catch
    assert [f.path for f in w.dbfs.list("dbfs:/errors")] == ["/errors/file"]  # no dbfs:
    assert w.dbfs.read("/errors/file", offset=1).bytes_read == 0
    with pytest.raises(NotFound):
        w.files.download("/Volumes/no/such/volume/file")


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, only not reaped


def test_runs_list_pages_and_filters_as_the_sdk_reads_it(databricks: LocalDatabricks) -> None:
    """runs/list as the sweeper calls it: the SDK follows next_page_token; active_only and
    completed_only split the runs; tasks only with expand_tasks."""
    w = databricks.workspace_client()
    ended = []
    for _ in range(3):
        databricks.faults.terminal_state = ("TERMINATED", "FAILED")
        ended.append(submit_command_task(databricks, w))
    databricks.faults.task_delay_s = 60  # held RUNNING until cancelled
    databricks.faults.task_command = [sys.executable, "-c", "print('never')"]
    active = submit_command_task(databricks, w)
    try:
        for run_id in ended:
            databricks.wait(run_id, timeout=30)
        seen = len(databricks.requests)
        completed = [
            r.run_id for r in w.jobs.list_runs(completed_only=True, limit=2, expand_tasks=True)
        ]
        assert set(ended) <= set(completed)
        assert all(r.tasks for r in w.jobs.list_runs(completed_only=True, expand_tasks=True))
        assert completed == sorted(completed, reverse=True)  # newest first
        pages = [r for r in databricks.requests[seen:] if r.path == "/api/2.2/jobs/runs/list"]
        assert len(pages) >= 2
        assert "page_token" in pages[1].query
        running = list(w.jobs.list_runs(active_only=True, run_type=jobs.RunType.SUBMIT_RUN))
        assert active in [r.run_id for r in running]
        assert not set(ended) & {r.run_id for r in running}
        assert not any(r.tasks for r in running)
        assert all(r.run_name == "command" for r in running)
        assert not list(w.jobs.list_runs(run_type=jobs.RunType.JOB_RUN))
        with pytest.raises(Exception, match="limit must be between 1 and 25"):
            list(w.jobs.list_runs(limit=26))
    finally:
        w.jobs.cancel_run(active)
        databricks.wait(active, timeout=30)
