"""`make sandbox`: the UI on the S3 mode with the sample on a local S3 server, the offline
EMR and the offline Databricks, no account."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import boto3
import pytest

from tests.conftest import PROJECT_ROOT
from tests.orchestration.devserver import free_port, graphql
from tests.processes import command_line, session_processes

pytestmark = pytest.mark.s3

ASSETS = """{ assetNodes { assetKey { path } } }"""


def test_the_sandbox_serves_the_s3_mode_with_the_sample_uploaded(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "sandbox.log").open("w")
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "tests.emulators.sandbox", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert sandbox.poll() is None, (tmp_path / "sandbox.log").read_text()[-3000:]
            try:
                urllib.request.urlopen(f"{url}/server_info", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "the sandbox UI did not start within 120 s"
                time.sleep(1)
        assets = {"/".join(n["assetKey"]["path"]) for n in graphql(url, ASSETS)["assetNodes"]}
        assert {"seed_nodes", "crawl_records", "edges", "graph_aggr"} <= assets
        # The offline EMR answers where the config says, with the configured application.
        config = tomllib.loads((PROJECT_ROOT / ".sandbox" / "hydra.toml").read_text())
        serverless = boto3.client(
            "emr-serverless",
            endpoint_url=config["aws"]["endpoint_urls"]["emr-serverless"],
            region_name="us-east-1",
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",
        )
        applications = serverless.list_applications()["applications"]
        assert [a["id"] for a in applications] == [config["emr-serverless"]["application_id"]]
        # The offline Databricks answers where the sandbox says (DATABRICKS_HOST).
        printed = re.search(
            r"local Databricks: (http://127\.0\.0\.1:\d+)", (tmp_path / "sandbox.log").read_text()
        )
        assert printed is not None
        discovery = f"{printed.group(1)}/oidc/.well-known/oauth-authorization-server"
        with urllib.request.urlopen(discovery, timeout=5) as answer:
            assert answer.status == 200
        assert config["databricks"]["poll_interval_s"] == 1
        # The Spark Connect server listens where the config says.
        remote = config["spark-connect"]["remote"]
        assert re.fullmatch(r"sc://localhost:\d+", remote), remote
        socket.create_connection(("127.0.0.1", int(remote.rsplit(":", 1)[1])), timeout=5).close()
        # SIGTERM to the sandbox alone stops everything it started, as Ctrl-C does.
        sandbox.send_signal(signal.SIGTERM)
        sandbox.wait(timeout=90)
        deadline = time.monotonic() + 30
        while _alive(sandbox.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _alive(sandbox.pid) == [], "processes outlived the sandbox"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sandbox.pid, signal.SIGKILL)
        sandbox.wait(timeout=60)
        log.close()
    output = (tmp_path / "sandbox.log").read_text()
    assert "-> s3://hydra-sandbox/ascii-hydra/sample/seed_nodes.csv" in output
    assert "-> s3://hydra-sandbox/ascii-hydra/sample/crawl_records" in output
    config = (PROJECT_ROOT / ".sandbox" / "hydra.toml").read_text()
    assert 'endpoint_url = "http://127.0.0.1:' in config


def _alive(session: int) -> list[str]:
    """The command lines of the live processes of ``session``."""
    return [command_line(pid) for pid in session_processes(session)]
