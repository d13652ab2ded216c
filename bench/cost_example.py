"""docs/cost.md's worked example: the example pipeline on every platform, offline, into one
Dagster instance, then `hydra cost report` and `hydra plan` on it.

    python -m bench.cost_example        # as root (the offline Databricks' mount namespace)

It starts the local S3, the offline EMR (and EMR Serverless) and the offline Databricks
(``tests/emulators``), runs the Dagster job on ``small_dev_sample_s3`` for one crawl once on
each engine (duckdb, pyspark, emr, emr-serverless, databricks), each launch recording its
cost, and prints the report and a plan; the report's plot goes to docs/img/cost-example.png.
The costs are the model's for what the emulators report (their clusters live seconds, not
the minutes a real one takes to start), at the packaged prices.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.cloud import BUCKET, PARTITION, _Bench, _config, _spark_section

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ("duckdb", "pyspark", "emr", "emr-serverless", "databricks")


def main() -> None:
    import dagster as dg
    from tests.emulators.databricks import LocalDatabricks
    from tests.emulators.emr import ACCOUNT_ID, LocalEMR
    from tests.emulators.s3 import LocalS3

    from hydra_orchestration.definitions import PIPELINE_JOB, build_definitions
    from hydra_orchestration.settings import load_settings

    work = ROOT / "bench" / "results" / "raw" / "work" / "cost-example"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    s3 = LocalS3().start()
    emr = LocalEMR(s3, phase_s=0.5).start()
    databricks = LocalDatabricks(root=work / "workspace", s3=s3, phase_s=0.5).start()
    try:
        s3.bucket(BUCKET)
        application = emr.client("emr-serverless").create_application(
            name="cost-example", releaseLabel="emr-7.5.0", type="SPARK"
        )["applicationId"]
        endpoint = s3.endpoint_url
        sections = f"""
[aws]
endpoint_urls = {{ emr = "{endpoint}", emr-serverless = "{endpoint}", logs = "{endpoint}" }}
[emr]
poll_interval_s = 1
logs_wait_s = 10
[emr-serverless]
application_id = "{application}"
execution_role_arn = "arn:aws:iam::{ACCOUNT_ID}:role/cost-example"
poll_interval_s = 1
[databricks]
poll_interval_s = 1
logs_wait_s = 10
node_type_id = "m6i.xlarge"
num_workers = 2
{_spark_section("emr")}
{_spark_section("emr-serverless")}
{_spark_section("databricks")}"""
        bench = _Bench.prepare(
            ROOT, work, _config(work, endpoint, sections), databricks.environment()
        )
        home = work / "home"
        home.mkdir()
        instance = dg.DagsterInstance.from_config(str(home))
        for engine in ENGINES:
            settings = load_settings(
                {**bench.environ, "SPARK_PIPES_ENGINE": engine,
                 "SPARK_EXECUTION_MODE": "small_dev_sample_s3"},
                cwd=ROOT,
            )  # fmt: skip
            settings = dataclasses.replace(
                settings, warehouse=f"{settings.warehouse}/{engine}", dagster_home=home
            )
            job = build_definitions(settings).resolve_job_def(PIPELINE_JOB)
            result = job.execute_in_process(instance=instance, partition_key=PARTITION)
            print(f"{engine}: {'success' if result.success else 'FAILED'}", flush=True)
        environ = {**os.environ, **bench.environ, "DAGSTER_HOME": str(home)}
        png = ROOT / "docs" / "img" / "cost-example.png"
        for command in (
            ["cost", "report", "--png", str(png)],
            ["plan", "--engines", '{"edges": "emr", "graph": "emr"}'],
        ):
            print(f"\n$ hydra {' '.join(command).replace(str(ROOT) + '/', '')}", flush=True)
            subprocess.run(
                [sys.executable, "-m", "hydra_transforms.cli", *command],
                cwd=ROOT,
                env={
                    **environ,
                    "SPARK_PIPES_ENGINE": "databricks",
                    "SPARK_EXECUTION_MODE": "small_dev_sample_s3",
                },
                check=True,
            )
    finally:
        databricks.stop()
        emr.stop()
        s3.stop()


if __name__ == "__main__":
    main()
