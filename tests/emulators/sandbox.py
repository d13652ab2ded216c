"""`make sandbox`: the Dagster UI on the S3 execution mode, with a local S3, a local EMR and
a local Databricks — no cloud account.

Starts the local S3 server (moto) on 127.0.0.1 and the offline EMR on it (``LocalEMR``: EMR
clusters and steps, an EMR Serverless application, CloudWatch Logs), uploads the committed
sample with `hydra upload-sample`, writes a project config that points the S3 modes and the
``emr`` / ``emr-serverless`` engines at them (``.sandbox/hydra.toml``), starts the offline
Databricks (``LocalDatabricks``: job clusters and serverless runs as local spark-submit, on the
local S3) with DATABRICKS_* pointing at it, and serves the UI
(``python -m hydra_orchestration.dev``, what `make start` runs) with
``SPARK_EXECUTION_MODE=small_dev_sample_s3``. Every engine that can read S3 works there
(duckdb, pyspark, emr, emr-serverless, databricks): pick one per run with the launchpad's run config
(``ops: {example_transforms: {config: {engine: emr}}}``). ``.sandbox/env`` holds what
`hydra plan` and `hydra cost report` need to read this sandbox from another shell
(``. .sandbox/env``). Ctrl-C (or SIGTERM) stops everything.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from tests.connect.server import LocalSparkConnect
from tests.emulators.databricks import LocalDatabricks
from tests.emulators.emr import ACCOUNT_ID, LocalEMR
from tests.emulators.project import s3_modes
from tests.emulators.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LocalS3

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "hydra-sandbox"
VOLUME = "/Volumes/main/hydra/files"


def config_text(endpoint_url: str, application_id: str, spark_remote: str) -> str:
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/hydra-emr-serverless"
    modes = s3_modes(
        endpoint_url=endpoint_url,
        bucket=BUCKET,
        prefix="ascii-hydra",
        local_warehouse=ROOT / "warehouse" / "small_dev_sample_local",
    )
    return f"""\
# Written by `make sandbox`: the S3 modes on the local S3 server at {endpoint_url}.
{modes}
[aws]
endpoint_urls = {{ emr = "{endpoint_url}", emr-serverless = "{endpoint_url}", logs = "{endpoint_url}" }}

[emr]
poll_interval_s = 1
logs_wait_s = 10

[emr-serverless]
application_id = "{application_id}"
execution_role_arn = "{role}"
poll_interval_s = 1

[databricks]
poll_interval_s = 1
logs_wait_s = 10
# Serverless instead of a job cluster: the offline workspace has this volume.
# serverless = true
# files = "{VOLUME}/hydra"

[spark-connect]
remote = "{spark_remote}"
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=3000, help="the Dagster UI's port")
    args = parser.parse_args(argv)
    home = ROOT / ".sandbox"
    home.mkdir(exist_ok=True)
    s3 = LocalS3().start()
    emr = LocalEMR(s3, phase_s=1.0).start()
    databricks = LocalDatabricks(root=home / "databricks", s3=s3, phase_s=1.0).start()
    jars = sorted((ROOT / ".cache" / "spark-jars").glob("*.jar"))  # S3A, as `make jars` fetched
    connect = LocalSparkConnect(home / "spark-connect", cores=1, jars=jars).start()
    ui: subprocess.Popen[bytes] | None = None
    signal.signal(signal.SIGTERM, _exit)  # stop everything on SIGTERM too, as on Ctrl-C
    try:
        databricks.volume(*VOLUME.split("/")[2:])
        s3.bucket(BUCKET)
        application_id = emr.client("emr-serverless").create_application(
            name="hydra-sandbox", releaseLabel="emr-7.5.0", type="SPARK"
        )["applicationId"]
        config = home / "hydra.toml"
        config.write_text(config_text(s3.endpoint_url, application_id, connect.url))
        environ = {
            **os.environ,
            "HYDRA_CONFIG": str(config),
            "SPARK_EXECUTION_MODE": "small_dev_sample_s3",
            "ASCII_AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "ASCII_AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "DAGSTER_HOME": str(home / "dagster_home"),
            **databricks.environment(),
            "SPARK_CONNECT_TOKEN": connect.token,
        }
        hydra = [sys.executable, "-m", "hydra_transforms.cli"]
        subprocess.run([*hydra, "upload-sample"], env=environ, cwd=ROOT, check=True)
        # What `hydra plan` and `hydra cost report` need in another shell (the local S3's
        # fixed test keys; no Databricks secret: those commands launch nothing).
        shell = home / "env"
        keys = ("HYDRA_CONFIG", "SPARK_EXECUTION_MODE", "DAGSTER_HOME")
        keys += ("ASCII_AWS_ACCESS_KEY_ID", "ASCII_AWS_SECRET_ACCESS_KEY")
        shell.write_text("".join(f"export {key}={shlex.quote(environ[key])}\n" for key in keys))
        print(
            f"local S3: {s3.endpoint_url} (bucket {BUCKET}, key {ACCESS_KEY_ID}); local EMR on the"
            f" same endpoint (EMR Serverless application {application_id}); local Databricks: "
            f"{databricks.host}; Spark Connect: {connect.url}; config: {config}; for `hydra plan` and `hydra cost report` on "
            f"this sandbox in another shell: . {shell.relative_to(ROOT)}",
            flush=True,
        )
        command = [sys.executable, "-m", "hydra_orchestration.dev", "--port", str(args.port)]
        ui = subprocess.Popen(command, env=environ, cwd=ROOT)
        return ui.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        if ui is not None and ui.poll() is None:  # SIGTERM: stop the UI as Ctrl-C would
            ui.send_signal(signal.SIGINT)
            try:
                ui.wait(60)
            except subprocess.TimeoutExpired:
                ui.kill()
        connect.stop()
        databricks.stop()  # ends the runs still running
        emr.stop()  # terminates what is still running
        s3.stop()


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
