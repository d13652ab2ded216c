"""`make start`: the Dagster webserver and daemon on localhost, with a project-local DAGSTER_HOME.

Runs ``dg dev`` (what Dagster recommends since ``dagster dev`` was superseded) on the
project's definitions. The instance it prepares monitors runs: a run whose worker process
died (killed, crashed machine) is marked failed within a minute instead of staying STARTED.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hydra_orchestration.settings import dagster_home_from_environment, environment_with

_MARK = "# Written by `make start`"
MONITORING_POLL_S = 15
INSTANCE_YAML = f"""\
{_MARK}; it is rewritten while this line stays — delete the line to keep your edits.
telemetry:
  enabled: false
# Runs start as local processes; unlike Dagster's default launcher this one lets the daemon
# check that a run's worker process still lives (hydra_orchestration/run_launcher.py).
run_launcher:
  module: hydra_orchestration.run_launcher
  class: LocalRunLauncher
run_monitoring:
  enabled: true
  poll_interval_seconds: {MONITORING_POLL_S}
  start_timeout_seconds: 300
  max_resume_run_attempts: 0
"""


def prepare_dagster_home(home: Path) -> Path:
    """Create the instance directory and its dagster.yaml (kept as it is once edited)."""
    home.mkdir(parents=True, exist_ok=True)
    instance_yaml = home / "dagster.yaml"
    if not instance_yaml.exists() or instance_yaml.read_text().startswith(_MARK):
        instance_yaml.write_text(INSTANCE_YAML)
    return home


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)
    home = prepare_dagster_home(dagster_home_from_environment())
    print(f"DAGSTER_HOME={home}\nDagster UI: http://localhost:{args.port}", flush=True)
    command = [
        sys.executable,
        "-m",
        "dagster_dg_cli.cli",
        "dev",
        "-m",
        "hydra_orchestration.definitions",
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    os.execve(sys.executable, command, environment_with(DAGSTER_HOME=str(home)))


if __name__ == "__main__":
    main()
