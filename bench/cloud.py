"""The example through the offline EMR versus the same step on local Spark through Pipes.

Run by ``python -m bench.worker emr '<params>'`` (one fresh process): it starts the local S3
and the offline EMR (``tests/emulators``), uploads the sample, and runs the Dagster job on
``small_dev_sample_s3`` alternately on ``pyspark`` (a Spark subprocess on this machine) and on
``emr`` (a cluster of the offline EMR, whose step is a local ``spark-submit``), both with one
Spark core (the offline EMR's steps run on ``local[1]``). Where the EMR launch's time goes is
read from the run's own log lines (their timestamps) and the emulator's step timeline:

- ``ship_s``: building the code bundle and uploading it (first launch) or finding it (later);
- ``start_s``: the cluster from ``run_job_flow`` to RUNNING (STARTING, BOOTSTRAPPING: the
  bootstrap action installs the wheel; the emulator's states last ``phase_s`` each, a real
  cluster's minutes);
- ``step_s``: the step's own run (spark-submit of the entrypoint), from the step's timeline;
- ``poll_lag_s``: from the step's end to the launch seeing it (the polling interval);
- ``after_s``: from then to the end of the Dagster step (forwarding logs, terminating).
"""

from __future__ import annotations

import dataclasses
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

PARTITION = "CC-MAIN-2024-10"
BUCKET = "hydra-bench"
SPARK = {
    "spark.master": "local[1]",
    "spark.sql.shuffle.partitions": "1",
    "spark.ui.enabled": "false",
}


def _config(root: Path, work: Path, endpoint: str, application: str, poll_s: float) -> str:
    sample = root / "data" / "sample"
    spark = "\n".join(f'"{key}" = "{value}"' for key, value in SPARK.items())
    return f"""
[partitions]
crawl_id = ["CC-MAIN-2024-10", "CC-MAIN-2024-33"]
[s3]
bucket = "{BUCKET}"
prefix = "bench"
endpoint_url = "{endpoint}"
path_style = true
[modes.small_dev_sample_local]
warehouse = "{work / "local-warehouse"}"
[modes.small_dev_sample_local.sources]
seed_nodes = "{sample / "seed_nodes.csv"}"
crawl_records = "{sample / "crawl_records"}"
[modes.small_dev_sample_s3]
warehouse = "{{s3}}/small_dev_sample_s3/warehouse"
[modes.small_dev_sample_s3.sources]
seed_nodes = "{{s3}}/sample/seed_nodes.csv"
crawl_records = "{{s3}}/sample/crawl_records"
[pyspark]
jars = "{root / ".cache" / "spark-jars"}"
[aws]
endpoint_urls = {{ emr = "{endpoint}", emr-serverless = "{endpoint}", logs = "{endpoint}" }}
[emr]
poll_interval_s = {poll_s}
logs_wait_s = 10
[emr-serverless]
application_id = "{application}"
execution_role_arn = "arn:aws:iam::123456789012:role/bench"
[spark.pyspark]
{spark}
[spark.emr]
{spark}
"""


def _log_times(instance: Any, run_id: str) -> list[tuple[float, str]]:
    return [
        (record.timestamp, record.user_message)
        for record in instance.all_logs(run_id)
        if record.user_message
    ]


def _first(times: list[tuple[float, str]], *needles: str) -> float:
    for stamp, message in times:
        if all(needle in message for needle in needles):
            return stamp
    raise LookupError(f"no log line with {needles}")


def emr(params: dict[str, Any]) -> dict[str, Any]:
    import os
    import subprocess
    import sys

    import dagster as dg
    from tests.emulators.emr import LocalEMR
    from tests.emulators.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LocalS3

    from bench.harness import Runs
    from hydra_orchestration.definitions import PIPELINE_JOB, build_definitions
    from hydra_orchestration.launchers.aws import aws_clients
    from hydra_orchestration.settings import load_settings
    from hydra_orchestration.shipping import _bundle, build_bundle

    root = Path(params["root"])
    work = Path(params["work"])
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rounds, poll_s, phase_s = params["rounds"], params["poll_interval_s"], params["phase_s"]
    s3 = LocalS3().start()
    emulator = LocalEMR(s3, phase_s=phase_s).start()
    try:
        s3.bucket(BUCKET)
        application = emulator.client("emr-serverless").create_application(
            name="bench", releaseLabel="emr-7.5.0", type="SPARK"
        )["applicationId"]
        config = work / "hydra.toml"
        config.write_text(_config(root, work, s3.endpoint_url, application, poll_s))
        environ = {
            "HYDRA_CONFIG": str(config),
            "ASCII_AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "ASCII_AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        }
        os.environ.update(environ)  # read at launch, as in a real run
        subprocess.run(
            [sys.executable, "-m", "hydra_transforms.cli", "upload-sample"],
            cwd=root,
            check=True,
            capture_output=True,
        )

        _bundle.cache_clear()
        began = time.perf_counter()
        build_bundle()
        bundle_build_s = time.perf_counter() - began

        runs = {"pyspark": Runs(), "emr": Runs()}
        phases: list[dict[str, float]] = []
        for index in range(rounds):
            for engine in ("pyspark", "emr"):
                settings = load_settings(
                    {**environ, "SPARK_PIPES_ENGINE": engine,
                     "SPARK_EXECUTION_MODE": "small_dev_sample_s3"},
                    cwd=root,
                )  # fmt: skip
                settings = dataclasses.replace(
                    settings,
                    warehouse=f"{settings.warehouse}/{engine}-{index}",
                    dagster_home=work / "home",
                )
                instance = dg.DagsterInstance.ephemeral()
                job = build_definitions(settings).resolve_job_def(PIPELINE_JOB)
                outcome: dict[str, Any] = {}

                def run(job: Any = job, instance: Any = instance, out: dict = outcome) -> None:
                    result = job.execute_in_process(instance=instance, partition_key=PARTITION)
                    assert result.success
                    out["run_id"] = result.run_id

                runs[engine].record(run)
                if engine == "emr":
                    phases.append(_phases(instance, outcome["run_id"], aws_clients(settings)))
    finally:
        emulator.stop()
        s3.stop()
        shutil.rmtree(work, ignore_errors=True)
    summary = {engine: r.summary() for engine, r in runs.items()}
    ratios = [e / p for e, p in zip(runs["emr"].seconds, runs["pyspark"].seconds, strict=True)]
    return {
        "partition": PARTITION,
        "spark_conf": SPARK,
        "poll_interval_s": poll_s,
        "phase_s": phase_s,
        "bundle_build_s": round(bundle_build_s, 2),
        "variants": summary,
        "ratio_emr_vs_pyspark": round(statistics.median(ratios), 2),
        "emr_phases": phases,
        "emr_phases_median": {
            key: round(statistics.median(p[key] for p in phases), 2) for key in phases[0]
        },
    }


def _phases(instance: Any, run_id: str, clients: Any) -> dict[str, float]:
    times = _log_times(instance, run_id)
    started = _first(times, "Started execution of step")
    shipped = _first(times, "code bundle")
    running = _first(times, "EMR cluster", ": RUNNING")
    seen_done = _first(times, "EMR step", ": COMPLETED")
    ended = _first(times, "Finished execution of step")
    launched = _first(times, "EMR cluster", "started:")
    emr = clients("emr")
    (cluster,) = [c for c in emr.list_clusters()["Clusters"] if run_id[:8] in c["Name"]]
    (step,) = emr.list_steps(ClusterId=cluster["Id"])["Steps"]
    timeline = step["Status"]["Timeline"]
    step_s = (timeline["EndDateTime"] - timeline["StartDateTime"]).total_seconds()
    step_end = timeline["EndDateTime"].timestamp()
    return {
        "ship_s": round(shipped - started, 2),
        "start_s": round(running - launched, 2),
        "step_s": round(step_s, 2),
        "poll_lag_s": round(max(0.0, seen_done - step_end), 2),
        "after_s": round(ended - seen_done, 2),
        "total_s": round(ended - started, 2),
    }
