"""A project on the local S3 for the tests of the S3 modes and the cloud platforms: its config
(the packaged S3 modes pointed at the local server, with more sections if asked), the sample
uploaded by `hydra upload-sample`, and the outputs of a local run to compare with."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hydra_orchestration.settings import Settings, load_settings
from tests.conftest import PROJECT_ROOT, SAMPLE_DIR
from tests.emulators.project import s3_modes
from tests.emulators.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY
from tests.orchestration.conftest import TEST_SPARK

PARTITION = "CC-MAIN-2024-10"
BUCKET = "hydra-orchestration"
# Seeds that break their contract (company_id 0, a country that is no ISO code): fault case 15.
BAD_SEEDS = """company_id,company_name,website,country
10847,Zimmermann Antriebstechnik SA,https://www.zimmermann-antriebstechnik.ch,CH
0,Spree Antriebstechnik KG,www.spree-antriebstechnik.de,Germany
"""


@dataclasses.dataclass(frozen=True)
class S3Project:
    directory: Path  # its config file, and its prefix in the bucket (the directory's name)
    environ: dict[str, str]  # HYDRA_CONFIG and the credentials

    @property
    def config(self) -> Path:
        return Path(self.environ["HYDRA_CONFIG"])

    def settings(self, engine: str, tmp_path: Path) -> Settings:
        """The settings of ``engine`` in small_dev_sample_s3, with a warehouse of the test's own."""
        environ = {
            **self.environ,
            "SPARK_PIPES_ENGINE": engine,
            "SPARK_EXECUTION_MODE": "small_dev_sample_s3",
        }
        settings = load_settings(environ, cwd=PROJECT_ROOT)
        warehouse = f"{settings.warehouse}/{tmp_path.name}"
        spark = {**settings.spark_conf, "pyspark": TEST_SPARK}
        return dataclasses.replace(
            settings, warehouse=warehouse, dagster_home=tmp_path / "home", spark_conf=spark
        )


def contract_failures(result: Any) -> dict[str, str]:
    """Per transform, the line the failed step's message gives it (fault case 15)."""
    from hydra_transforms.example import registry as example
    from tests.orchestration.conftest import failure_messages

    (message,) = failure_messages(result).values()
    names = {t.name for t in example.transforms}
    return {
        line.split(":", 1)[0]: line
        for line in message.splitlines()
        if line.split(":", 1)[0] in names
    }


def s3_project(local_s3: Any, directory: Path, *, sections: str = "") -> S3Project:
    """A project config in ``directory`` on the local S3 (``sections``: more TOML), with the
    sample uploaded by `hydra upload-sample`."""
    local_s3.bucket(BUCKET)
    config = directory / "hydra.toml"
    modes = s3_modes(
        endpoint_url=local_s3.endpoint_url,
        bucket=BUCKET,
        prefix=directory.name,
        local_warehouse=directory / "local-warehouse",
    )
    config.write_text(modes + sections)
    environ = {
        "HYDRA_CONFIG": str(config),
        "ASCII_AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "ASCII_AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    }
    done = subprocess.run(
        [sys.executable, "-m", "hydra_transforms.cli", "upload-sample"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"-> s3://{BUCKET}/{directory.name}/sample/seed_nodes.csv" in done.stdout
    return S3Project(directory=directory, environ=environ)


def local_outputs(warehouse: Path) -> Path:
    """The example run on DuckDB on this machine, for ``PARTITION``: what every platform's
    outputs are compared with."""
    from hydra_transforms.engines import connect
    from hydra_transforms.example import registry as example
    from hydra_transforms.runner import run_pipeline

    run_pipeline(
        example,
        engine=connect("duckdb"),
        sources={
            "seed_nodes": SAMPLE_DIR / "seed_nodes.csv",
            "crawl_records": SAMPLE_DIR / "crawl_records",
        },
        warehouse=warehouse,
        partition=PARTITION,
    )
    return warehouse


def kill_driver_after_first_report(
    step_leaders: Callable[[], Iterable[int]], *, timeout_s: float = 180
) -> Callable[[], str]:
    """In a thread: watch the steps whose session leaders ``step_leaders()`` gives (an
    emulator's step or task process, its stdout a file); once one has printed its first
    transform's outcome (``hydra step: <name>: ...``) and a second more has passed for the
    Pipes messages to be uploaded, SIGKILL its Python driver (the process running
    ``entrypoint.py`` under Spark's JVM), the OOM killer's way: no closing message. Returns a
    function that waits for the kill and gives the transform that had reported."""
    from tests.processes import session_processes

    found: dict[str, Any] = {}

    def driver(leader: int) -> int | None:
        for pid in session_processes(leader):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(a.endswith(b"entrypoint.py") for a in argv) and b"java" not in argv[0]:
                return pid
        return None

    def watch() -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for leader in step_leaders():
                with contextlib.suppress(OSError):
                    text = Path(os.readlink(f"/proc/{leader}/fd/1")).read_text()
                    pid = driver(leader)
                    if "hydra step: " in text and pid is not None:
                        found["first"] = text.split("hydra step: ", 1)[1].split(":", 1)[0]
                        time.sleep(1.0)
                        os.kill(pid, signal.SIGKILL)
                        return
            time.sleep(0.05)
        found["error"] = "no step's driver reported a transform"

    thread = threading.Thread(target=watch, daemon=True, name="kill-driver")
    thread.start()

    def killed() -> str:
        thread.join(timeout=timeout_s + 5)
        assert "first" in found, found.get("error", "the driver was not killed")
        return found["first"]

    return killed
