"""A project on the local S3 for the tests of the S3 modes and the cloud platforms: its config
(the packaged S3 modes pointed at the local server, with more sections if asked), the sample
uploaded by `hydra upload-sample`, and the outputs of a local run to compare with."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hydra_orchestration.settings import Settings, load_settings
from tests.conftest import PROJECT_ROOT, SAMPLE_DIR
from tests.emulators.project import s3_modes
from tests.emulators.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY
from tests.orchestration.conftest import TEST_SPARK

PARTITION = "CC-MAIN-2024-10"
BUCKET = "hydra-orchestration"


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
