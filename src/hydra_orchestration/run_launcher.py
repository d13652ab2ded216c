"""A local run launcher whose runs Dagster's run monitoring can check.

Dagster's DefaultRunLauncher starts each run worker as a process on this machine but cannot
tell the monitoring daemon whether that process still lives, so a run whose worker was
killed stays STARTED forever. This launcher is the DefaultRunLauncher plus that one check:
the worker's pid is in the run's "Started process for run (pid: N)" event; a pid that no
longer exists (or now belongs to a process started after the run's worker) is a dead worker,
and the daemon marks the run failed. `make start` configures it (``hydra_orchestration.dev``).
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

# The run monitoring types are not exported at Dagster's top level; a run launcher that
# supports monitoring must return them (as Dagster's own launchers do).
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

__all__ = ["LocalRunLauncher"]

_STARTED = "Started process for run"


class LocalRunLauncher(dg.DefaultRunLauncher):
    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        started = self._worker_start(run)
        if started is None:  # not started yet: the daemon's start timeout covers that
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no worker process yet")
        pid, since = started
        if _alive(pid, since):
            return CheckRunHealthResult(WorkerStatus.RUNNING, run_worker_id=str(pid))
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"the run worker (pid {pid}) is gone: it was killed or crashed without ending the "
            "run; its step processes were stopped with it",
            run_worker_id=str(pid),
        )

    def _worker_start(self, run: dg.DagsterRun) -> tuple[int, float] | None:
        records = self._instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
        for record in records:
            if record.message.startswith(_STARTED) and record.dagster_event is not None:
                metadata = record.dagster_event.engine_event_data.metadata
                pid = metadata.get("pid")
                if pid is not None:
                    return int(str(pid.value)), record.timestamp
        return None


def _alive(pid: int, since: float) -> bool:
    """Whether ``pid`` is a process that existed when the worker was started at ``since``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: cannot tell, assume it lives
    started = _start_time(pid)
    # A process that started after the worker's event is another one under a reused pid.
    return started is None or started <= since + 5


def _start_time(pid: int) -> float | None:
    """When ``pid`` started (seconds since the epoch), where /proc tells (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, IndexError, ValueError):
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start, in ticks
