"""`make start`: the Dagster webserver and daemon on localhost, with a project-local DAGSTER_HOME."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hydra_orchestration.settings import dagster_home_from_environment, environment_with

_INSTANCE_YAML = """\
# Written by `make start` on first start; edit freely.
telemetry:
  enabled: false
"""


def prepare_dagster_home(home: Path) -> Path:
    """Create the instance directory (and a dagster.yaml) on first start."""
    home.mkdir(parents=True, exist_ok=True)
    instance_yaml = home / "dagster.yaml"
    if not instance_yaml.exists():
        instance_yaml.write_text(_INSTANCE_YAML)
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
        "dagster",
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
