"""Killed processes and misspelt run config: what Dagster records matches the disk, nothing is
left running, no secret reaches the step."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from hydra_transforms.storage import read_arrow, snapshot
from tests.orchestration.conftest import (
    DEMO,
    demo_settings,
    failure_messages,
    run_pipeline_job,
)
from tests.orchestration.devserver import dagster_dev, graphql

STEP = "demo_transforms"
SENTINELS = {
    "ASCII_AWS_ACCESS_KEY_ID": "AKIA-SENTINEL-0000",
    "ASCII_AWS_SECRET_ACCESS_KEY": "aws-secret-sentinel-1111",
    "DATABRICKS_CLIENT_SECRET": "dbx-secret-sentinel-2222",
}


def _process_environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    pairs = (item.decode(errors="replace").partition("=") for item in raw if item)
    return {name: value for name, _, value in pairs}


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """A process that exists and is no zombie (an exited child its parent has not reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.2)


# ---------------------------------------------------------------------------------------------
# D12: run config for an op the job does not have.


@pytest.mark.duckdb
def test_run_config_for_an_unknown_op_is_an_error_naming_the_valid_ones(tmp_path: Path) -> None:
    # The implicit asset job (`dagster asset materialize`, the UI's Materialize) dropped such
    # config without a word, and the run went to the default engine.
    defs = _definitions(tmp_path)
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        run_config={"ops": {"demo_transformz": {"config": {"engine": "pyspark"}}}},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    message = failure_messages(result)[STEP]
    assert "config for ops this run does not have: demo_transformz; valid: demo_transforms" in (
        message
    )
    assert result.get_asset_materialization_events() == []


def _definitions(tmp_path: Path) -> dg.Definitions:
    from hydra_orchestration.definitions import build_definitions

    return build_definitions(demo_settings(tmp_path, "duckdb", ["1", "2"]), registry=DEMO)


# ---------------------------------------------------------------------------------------------
# D4 and least environment: the real entrypoint, made to stop inside its second transform.

BLOCKING_ENTRYPOINT = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from hydra_orchestration.remote import entrypoint, step

    markers = Path({markers!r})
    run_one = step._run_one

    def blocking_run_one(request, registry, transform, engine, checked):
        if transform.name == "total":  # doubled is published by now
            (markers / "entrypoint.pid").write_text(str(os.getpid()))
            time.sleep(600)
        return run_one(request, registry, transform, engine, checked)

    step._run_one = blocking_run_one
    sys.exit(entrypoint.main(["--transport", "subprocess"]))
    """
)


@pytest.mark.faults
@pytest.mark.pyspark
def test_a_step_killed_midway_keeps_what_it_published_and_leaks_no_secret(
    tmp_path: Path, fake_entrypoint: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SENTINELS.items():
        monkeypatch.setenv(name, value)
    markers = tmp_path / "markers"
    markers.mkdir()
    fake_entrypoint([sys.executable, "-c", BLOCKING_ENTRYPOINT.format(markers=str(markers))])
    settings = demo_settings(tmp_path, "pyspark", ["1", "2"])
    outcome: dict[str, Any] = {}
    run = threading.Thread(target=lambda: outcome.update(result=run_pipeline_job(settings)))
    run.start()
    pid_file = markers / "entrypoint.pid"
    try:
        _wait(pid_file.exists, 120, "the step did not reach its second transform")
        entrypoint = int(pid_file.read_text())
        jvms = [pid for pid in _children(entrypoint) if "java" in _cmdline(pid)]
        assert jvms, "the step has no JVM child"
        for pid in (entrypoint, *jvms):  # least environment: no secret for another engine
            leaked = set(SENTINELS.values()) & set(_process_environ(pid).values())
            assert not leaked, f"pid {pid} ({_cmdline(pid)[:60]}) got {leaked}"
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)  # the fault (or the cleanup)
        run.join(timeout=120)
    result = outcome["result"]
    assert not result.success
    # D4: what the step reported before it died is recorded, and matches the disk.
    keys = [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()]
    assert keys == ["doubled"]
    assert read_arrow(tmp_path / "warehouse" / "doubled").column("n").to_pylist() == [2, 4]
    assert snapshot(tmp_path / "warehouse" / "total") is None
    message = failure_messages(result)[STEP]
    assert (
        "total: interrupted: the Spark subprocess was killed by SIGKILL (exit code -9); "
        "nothing of it was published"
    ) in message
    _wait(lambda: not any(_alive(pid) for pid in jvms), 30, "the JVM outlived its step")


# ---------------------------------------------------------------------------------------------
# D13: the run worker is killed (`make start`'s instance): no orphan, and the run fails.

LAUNCH = """
mutation($selector: ExecutionParams!) {
  launchRun(executionParams: $selector) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}
"""
STATUS = """
query($runId: ID!) {
  runOrError(runId: $runId) {
    ... on Run { status eventConnection { events { __typename ... on MessageEvent { message } } } }
  }
}
"""


def _entrypoints_below(root: int) -> list[int]:
    """Entrypoint processes in the process tree under ``root``."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        for child in _children(pid):
            if "hydra_orchestration.remote.entrypoint" in _cmdline(child):
                found.append(child)
            todo.append(child)
    return found


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.faults
@pytest.mark.pyspark
def test_a_killed_run_worker_leaves_no_orphan_and_its_run_is_marked_failed(
    tmp_path: Path,
) -> None:
    with dagster_dev(tmp_path) as server:
        url = server.url
        launched = graphql(
            url,
            LAUNCH,
            {
                "selector": {
                    "selector": {
                        "repositoryLocationName": "hydra_orchestration.definitions",
                        "repositoryName": "__repository__",
                        "jobName": "example_pipeline",
                    },
                    "executionMetadata": {
                        "tags": [{"key": "dagster/partition", "value": "CC-MAIN-2024-10"}]
                    },
                }
            },
        )["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        found: list[int] = []
        _wait(lambda: bool(found.extend(_entrypoints_below(server.pid)) or found), 120, "no step")
        entrypoint = found[0]
        step = _parent(entrypoint)
        worker = _parent(step)
        server_of_worker = _parent(worker)  # the code server that started the run worker
        jvms = [pid for pid in _children(entrypoint) if "java" in _cmdline(pid)]
        # Both die at once (a crash, the OOM killer): nothing that watched the worker is left
        # to end the run but the daemon's run monitoring.
        os.kill(server_of_worker, signal.SIGKILL)
        os.kill(worker, signal.SIGKILL)
        _wait(
            lambda: not any(_alive(pid) for pid in (step, entrypoint, *jvms)),
            60,
            "the step, its entrypoint or its JVM outlived the killed run worker",
        )
        _wait(
            lambda: graphql(url, STATUS, {"runId": run_id})["runOrError"]["status"] == "FAILURE",
            90,
            "the run was not marked failed by run monitoring",
        )
        events = graphql(url, STATUS, {"runId": run_id})["runOrError"]["eventConnection"]
    messages = [e.get("message") or "" for e in events["events"]]
    assert any(f"the run worker (pid {worker}) is gone" in m for m in messages), messages[-5:]
    # Whatever the run committed reads whole; what it had staged is named by no manifest.
    for dataset in (tmp_path / "warehouse").iterdir() if (tmp_path / "warehouse").exists() else ():
        if snapshot(dataset) is not None:
            assert read_arrow(dataset).num_rows > 0
