"""A standalone Spark cluster for the tests: one master and N workers on 127.0.0.1.

Each is a JVM of the pip ``pyspark``'s own Spark (``spark-class ...Master`` / ``...Worker``),
in a process group of its own, stopped by its PID. The workers run their executors, and the
executors their Python workers, in processes of their own: what a driver-local path, a
closure or a session setting that executors never see gets wrong shows here, where
``local[*]`` hides it.

A driver reaches it with ``spark.master = spark://127.0.0.1:<port>`` (:attr:`url`) and
:meth:`driver_conf`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.connect.server import (
    ServerError,
    free_port,
    pyspark_home,
    spark_environment,
    stop_process_group,
)

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


class StandaloneCluster:
    """A master and ``workers`` workers with ``cores`` cores and ``memory`` each."""

    def __init__(
        self,
        log_dir: Path,
        *,
        workers: int = 2,
        cores: int = 1,
        memory: str = "2g",
        start_timeout_s: float = 120.0,
    ) -> None:
        self.log_dir = log_dir
        self.workers = workers
        self.cores = cores
        self.memory = memory
        self.start_timeout_s = start_timeout_s
        self.port = self.ui_port = 0
        self.processes: list[subprocess.Popen[bytes]] = []
        self.start_s: float | None = None  # from launch until every worker is registered

    @property
    def work_dirs(self) -> list[Path]:
        """The workers' directories: one per application, with its executors' logs."""
        return [self.log_dir / f"worker-{n}" for n in range(self.workers)]

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def driver_conf(self) -> dict[str, str]:
        """What a driver on this machine sets to use the cluster: its master, an address the
        executors reach it at, and the Python its executors run (this environment's)."""
        return {
            "spark.master": self.url,
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.pyspark.python": sys.executable,
            "spark.executor.memory": "1g",
            "spark.executor.cores": str(self.cores),
        }

    def start(self) -> StandaloneCluster:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        self.port, self.ui_port = free_port(), free_port()
        self._spawn(
            "master",
            [
                MASTER_CLASS,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--webui-port",
                str(self.ui_port),
            ],
        )
        for n, work in enumerate(self.work_dirs):
            self._spawn(
                f"worker-{n}",
                [
                    *(WORKER_CLASS, "--host", "127.0.0.1", "--cores", str(self.cores)),
                    *("--memory", self.memory, "--webui-port", str(free_port())),
                    *("--work-dir", str(work), self.url),
                ],
            )
        try:
            self._wait_for_workers(started + self.start_timeout_s)
        except BaseException:
            self.stop()
            raise
        self.start_s = time.monotonic() - started
        return self

    def alive_workers(self) -> int:
        """How many workers the master has registered (its web UI's JSON), 0 if unreachable."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json", timeout=2) as r:
                return int(json.load(r).get("aliveworkers", 0))
        except (OSError, ValueError):
            return 0

    def _wait_for_workers(self, deadline: float) -> None:
        while self.alive_workers() < self.workers:
            for process in self.processes:
                if process.poll() is not None:
                    raise ServerError(f"a process of the cluster exited: {self._tails()}")
            if time.monotonic() > deadline:
                raise ServerError(
                    f"{self.workers} workers did not register within {self.start_timeout_s:g} "
                    f"s: {self._tails()}"
                )
            time.sleep(0.2)

    def _spawn(self, name: str, args: list[str]) -> None:
        home = pyspark_home()
        env = spark_environment(SPARK_LOG_DIR=str(self.log_dir), SPARK_NO_DAEMONIZE="1")
        with (self.log_dir / f"{name}.log").open("wb") as log:
            self.processes.append(
                subprocess.Popen(
                    [str(home / "bin" / "spark-class"), *args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            )

    def _tails(self, chars: int = 1500) -> str:
        parts = []
        for log in sorted(self.log_dir.glob("*.log")):
            parts.append(f"\n--- {log.name}\n{log.read_text(errors='replace')[-chars:]}")
        return "".join(parts)

    def stop(self) -> None:
        """Workers first (they end their executors), then the master."""
        processes, self.processes = self.processes, []
        for process in reversed(processes):
            stop_process_group(process)

    def __enter__(self) -> StandaloneCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
