"""Cancelling a run stops the Spark subprocess it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.conftest import PROJECT_ROOT

# The run: the demo pipeline on the pyspark launcher, whose subprocess opens Pipes, writes
# its pid and then works for a long time (a stand-in for a long Spark job).
RUN = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from hydra_orchestration.launchers.subprocess import PySparkSubprocessLauncher
    from tests.orchestration.conftest import demo_settings, run_pipeline_job

    tmp = Path(sys.argv[1])
    child = (
        "import os, time\\n"
        "from dagster_pipes import open_dagster_pipes\\n"
        "with open_dagster_pipes() as pipes:\\n"
        f"    open({str(tmp / 'child.pid')!r}, 'w').write(str(os.getpid()))\\n"
        "    time.sleep(300)\\n"
    )
    PySparkSubprocessLauncher.command = lambda self: [sys.executable, "-c", child]
    result = run_pipeline_job(demo_settings(tmp, "pyspark", ["1"]))
    print("RUN SUCCESS" if result.success else "RUN FAILED", flush=True)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout}s"
        time.sleep(0.2)


def test_interrupting_a_run_stops_its_subprocess(tmp_path: Path) -> None:
    run = subprocess.Popen(
        [sys.executable, "-c", RUN, str(tmp_path)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for(tmp_path / "child.pid", timeout=60)
        child = int((tmp_path / "child.pid").read_text())
        assert _alive(child)
        run.send_signal(signal.SIGINT)  # what cancelling a run does to its worker
        output, _ = run.communicate(timeout=60)
    finally:
        run.kill()
    deadline = time.monotonic() + 30
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(child), "the subprocess outlived the cancelled run"
    assert "RUN SUCCESS" not in output
    assert "run interrupted: stopping the Spark subprocess (SIGTERM)" in output
    assert not (tmp_path / "warehouse").exists()
