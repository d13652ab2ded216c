"""A local Spark Connect server for the tests: pyspark's own jars, one process, 127.0.0.1.

The pip ``pyspark`` ships the server (``jars/spark-connect_2.13-*.jar``); ``spark-submit``
starts it as a driver in ``local[N]`` mode, listening for gRPC on a free port. The server
requires a bearer token (a random one, given to it in its environment, not on its command
line), so every test that reaches it goes through the token path of
``hydra_transforms.engines.spark_connect_session``.

Stopped by its PID: the server runs in a process group of its own (spark-submit's shell
script, then the JVM), which :meth:`LocalSparkConnect.stop` signals as a whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def pyspark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


class ServerError(RuntimeError):
    """The server did not start; the message ends with the tail of its log."""


class LocalSparkConnect:
    """One Spark Connect server process on 127.0.0.1."""

    def __init__(
        self,
        log_dir: Path,
        *,
        cores: int = 2,
        conf: Mapping[str, str] | None = None,
        jars: Sequence[str | Path] = (),
        start_timeout_s: float = 120.0,
    ) -> None:
        self.log_dir = log_dir
        self.cores = cores
        self.conf = dict(conf or {})
        self.jars = [str(jar) for jar in jars]
        self.start_timeout_s = start_timeout_s
        self.token = secrets.token_urlsafe(24)
        self.port = 0
        self.ui_port = 0  # Spark's web UI, whose REST API says what the server is running
        self.process: subprocess.Popen[bytes] | None = None
        self.start_s: float | None = None  # from launch until the port accepts connections
        self.first_query_s: float | None = None  # a new session's first query (set by users)

    @property
    def url(self) -> str:
        """The server's URL. The host is ``localhost`` by name: pyspark sends a token only
        over TLS or to ``localhost`` (gRPC's local credentials); the server has no TLS."""
        return f"sc://localhost:{self.port}"

    @property
    def log(self) -> Path:
        return self.log_dir / f"spark-connect-{self.port}.log"

    def start(self, attempts: int = 3) -> LocalSparkConnect:
        """Start the server on a free port; a port taken in between is retried on another."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(attempts):
            try:
                return self._start_once()
            except ServerError:
                if attempt == attempts - 1 or not self._port_taken():
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> LocalSparkConnect:
        self.port, self.ui_port = free_port(), free_port()
        home = pyspark_home()
        argv = [str(home / "bin" / "spark-submit"), "--class", SERVER_CLASS]
        argv += ["--name", "hydra-tests-connect", "--master", f"local[{self.cores}]"]
        if self.jars:
            argv += ["--jars", ",".join(self.jars)]
        conf = {
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": str(self.port),
            "spark.connect.grpc.port.maxRetries": "0",  # a taken port fails, it is not moved
            "spark.ui.enabled": "true",
            "spark.ui.port": str(self.ui_port),
            "spark.port.maxRetries": "0",
            "spark.log.level": "WARN",
            **self.conf,
        }
        for key, value in conf.items():
            argv += ["--conf", f"{key}={value}"]
        argv.append("spark-internal")  # no application jar: the class is on pyspark's classpath
        # The server reads its token here (Connect's default for the setting).
        env = spark_environment(SPARK_CONNECT_AUTHENTICATE_TOKEN=self.token)
        started = time.monotonic()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = started + self.start_timeout_s
        while not accepts(self.port):
            if self.process.poll() is not None:
                raise ServerError(f"the Spark Connect server exited: {self._tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(
                    f"the Spark Connect server did not listen within {self.start_timeout_s:g} s: "
                    f"{self._tail()}"
                )
            time.sleep(0.1)
        self.start_s = time.monotonic() - started
        return self

    def _port_taken(self) -> bool:
        return "BindException" in self._tail(4000) or "Address already in use" in self._tail(4000)

    def _tail(self, chars: int = 2000) -> str:
        try:
            return "\n" + self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def running_jobs(self) -> list[dict[str, Any]]:
        """The Spark jobs running on the server now, any session's (its UI's REST API)."""
        api = f"http://127.0.0.1:{self.ui_port}/api/v1/applications"
        with urllib.request.urlopen(api, timeout=5) as answer:
            (application,) = json.load(answer)
        url = f"{api}/{application['id']}/jobs?status=running"
        with urllib.request.urlopen(url, timeout=5) as answer:
            return json.load(answer)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the server's process group by its PID: SIGTERM, then SIGKILL."""
        process, self.process = self.process, None
        stop_process_group(process, timeout_s)

    def __enter__(self) -> LocalSparkConnect:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def spark_environment(**extra: str) -> dict[str, str]:
    """The environment of a Spark process of the tests (a server, a master, a worker): none of
    this process' Spark state, nor its cloud credentials (S3 settings come from each
    session, as they would on a remote server); pip pyspark's Spark on 127.0.0.1, running
    this environment's Python; and ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SPARK_", "PYSPARK_", "AWS_"))
    }
    return env | {
        "SPARK_HOME": str(pyspark_home()),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        **extra,
    }


def stop_process_group(process: subprocess.Popen[bytes] | None, timeout_s: float = 30.0) -> None:
    """Stop a process started with ``start_new_session=True`` and everything in its group:
    SIGTERM, then SIGKILL."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """``os.environ`` with ``values`` set (None: unset) inside the block only."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True
