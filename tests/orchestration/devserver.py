"""`python -m hydra_orchestration.dev` (what `make start` runs) on a free port, for tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import PROJECT_ROOT, SAMPLE_DIR


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sample_config(tmp: Path) -> Path:
    """A project config on the committed sample, writing into ``tmp/warehouse``, small Spark."""
    config = tmp / "hydra.toml"
    config.write_text(
        f"""
        [partitions]
        crawl_id = ["CC-MAIN-2024-10", "CC-MAIN-2024-33"]
        [modes.small_dev_sample_local]
        warehouse = "{tmp / "warehouse"}"
        [modes.small_dev_sample_local.sources]
        seed_nodes = "{SAMPLE_DIR / "seed_nodes.csv"}"
        crawl_records = "{SAMPLE_DIR / "crawl_records"}"
        [spark.pyspark]
        "spark.master" = "local[1]"
        "spark.sql.shuffle.partitions" = "1"
        """.replace("\n        ", "\n")
    )
    return config


@dataclass(frozen=True)
class DevServer:
    url: str
    pid: int  # of `dg dev`: the webserver, daemon and code servers are its descendants


@contextlib.contextmanager
def dagster_dev(tmp: Path, *, env: dict[str, str] | None = None) -> Iterator[DevServer]:
    """The webserver and daemon with a fresh DAGSTER_HOME (``tmp/home``)."""
    port = free_port()
    environ = {
        **os.environ,
        "DAGSTER_HOME": str(tmp / "home"),
        "HYDRA_CONFIG": str(sample_config(tmp)),
        **(env or {}),
    }
    log = (tmp / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "hydra_orchestration.dev", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (tmp / "server.log").read_text()[-3000:]
            try:
                urllib.request.urlopen(f"{url}/server_info", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "the Dagster UI did not start within 120 s"
                time.sleep(1)
        yield DevServer(url, server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["data"]
