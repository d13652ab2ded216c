"""The example through the offline EMR and the offline Databricks versus the same step on
local Spark through Pipes.

Run by ``python -m bench.worker emr|databricks '<params>'`` (one fresh process): it starts the
local S3 and the offline platform (``tests/emulators``), uploads the sample, and runs the
Dagster job on ``small_dev_sample_s3`` alternately on ``pyspark`` (a Spark subprocess on this
machine) and on the platform, all with one Spark core (the emulators' tasks run on
``local[1]``). Where a remote launch's time goes is read from the run's own log lines (their
timestamps) and the platform's own timeline of the step:

- ``ship_s``: building the code bundle and uploading it (first launch) or finding it (later);
- ``start_s``: the compute from its request to running: an EMR cluster's STARTING and
  BOOTSTRAPPING (the bootstrap action installs the wheel), a Databricks run's PENDING (its
  job cluster starting; the emulators' states last ``phase_s`` each, a real cluster's minutes);
- ``step_s``: the step's own run (spark-submit of the entrypoint), from the platform's timeline;
- ``poll_lag_s``: from the step's end to the launch seeing it (the polling interval);
- ``after_s``: from then to the end of the Dagster step (forwarding logs, ending the compute,
  removing the Pipes files).
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


def _config(work: Path, endpoint: str, sections: str) -> str:
    from tests.emulators.project import s3_modes

    spark = "\n".join(f'"{key}" = "{value}"' for key, value in SPARK.items())
    modes = s3_modes(
        endpoint_url=endpoint,
        bucket=BUCKET,
        prefix="bench",
        local_warehouse=work / "local-warehouse",
    )
    return f"{modes}\n{sections}\n[spark.pyspark]\n{spark}\n"


def _spark_section(engine: str) -> str:
    spark = "\n".join(f'"{key}" = "{value}"' for key, value in SPARK.items())
    return f"[spark.{engine}]\n{spark}\n"


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


@dataclasses.dataclass
class _Bench:
    """One bench process' project on the local S3: its config, environment and the bundle's
    build time; ``interleave`` runs the pipeline on each variant in turn."""

    root: Path
    work: Path
    environ: dict[str, str]
    bundle_build_s: float = 0.0

    @classmethod
    def prepare(cls, root: Path, work: Path, config: str, more_environ: dict[str, str]) -> _Bench:
        import os
        import subprocess
        import sys

        from tests.emulators.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY

        from hydra_orchestration.shipping import _bundle, build_bundle

        path = work / "hydra.toml"
        path.write_text(config)
        environ = {
            "HYDRA_CONFIG": str(path),
            "ASCII_AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "ASCII_AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            **more_environ,
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
        return cls(root, work, environ, round(time.perf_counter() - began, 2))

    def interleave(
        self, rounds: int, variants: dict[str, tuple[str, dict[str, Any]]], phases: Any
    ) -> tuple[dict[str, Any], dict[str, list[dict[str, float]]]]:
        """``variants``: name -> (engine, ``[<engine>]`` keys to override); ``phases(name,
        settings, instance, run_id)``: where a remote run's time went (None for a local one).
        Each round runs every variant once, in turn."""
        import dagster as dg

        from bench.harness import Runs
        from hydra_orchestration.definitions import PIPELINE_JOB, build_definitions
        from hydra_orchestration.settings import load_settings

        runs = {name: Runs() for name in variants}
        found: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        for index in range(rounds):
            for name, (engine, overrides) in variants.items():
                settings = load_settings(
                    {**self.environ, "SPARK_PIPES_ENGINE": engine,
                     "SPARK_EXECUTION_MODE": "small_dev_sample_s3"},
                    cwd=self.root,
                )  # fmt: skip
                config = settings.config
                if overrides:
                    key = engine.replace("-", "_")
                    section = getattr(config, key)
                    section = section.model_validate({**section.model_dump(), **overrides})
                    config = config.model_copy(update={key: section})
                settings = dataclasses.replace(
                    settings,
                    config=config,
                    warehouse=f"{settings.warehouse}/{name}-{index}",
                    dagster_home=self.work / "home",
                )
                instance = dg.DagsterInstance.ephemeral()
                job = build_definitions(settings).resolve_job_def(PIPELINE_JOB)
                outcome: dict[str, Any] = {}

                def run(job: Any = job, instance: Any = instance, out: dict = outcome) -> None:
                    result = job.execute_in_process(instance=instance, partition_key=PARTITION)
                    assert result.success
                    out["run_id"] = result.run_id

                runs[name].record(run)
                measured = phases(name, settings, instance, outcome["run_id"])
                if measured is not None:
                    found[name].append(measured)
        return {name: r.summary() for name, r in runs.items()}, found


def _ratio(variants: dict[str, Any], name: str) -> float:
    pairs = zip(variants[name]["seconds"], variants["pyspark"]["seconds"], strict=True)
    return round(statistics.median(remote / local for remote, local in pairs), 2)


def _medians(phases: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(p[key] for p in phases), 2) for key in phases[0]}


def emr(params: dict[str, Any]) -> dict[str, Any]:
    from tests.emulators.emr import LocalEMR
    from tests.emulators.s3 import LocalS3

    from hydra_orchestration.launchers.aws import aws_clients

    root, work = Path(params["root"]), Path(params["work"])
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
        endpoint = s3.endpoint_url
        sections = f"""
[aws]
endpoint_urls = {{ emr = "{endpoint}", emr-serverless = "{endpoint}", logs = "{endpoint}" }}
[emr]
poll_interval_s = {poll_s}
logs_wait_s = 10
[emr-serverless]
application_id = "{application}"
execution_role_arn = "arn:aws:iam::123456789012:role/bench"
{_spark_section("emr")}"""
        bench = _Bench.prepare(root, work, _config(work, endpoint, sections), {})

        def phases(name: str, settings: Any, instance: Any, run_id: str) -> Any:
            if name == "pyspark":
                return None
            return _emr_phases(instance, run_id, aws_clients(settings))

        variants, found = bench.interleave(
            rounds, {"pyspark": ("pyspark", {}), "emr": ("emr", {})}, phases
        )
    finally:
        emulator.stop()
        s3.stop()
        shutil.rmtree(work, ignore_errors=True)
    return {
        "partition": PARTITION,
        "spark_conf": SPARK,
        "poll_interval_s": poll_s,
        "phase_s": phase_s,
        "bundle_build_s": bench.bundle_build_s,
        "variants": variants,
        "ratio_emr_vs_pyspark": _ratio(variants, "emr"),
        "emr_phases": found["emr"],
        "emr_phases_median": _medians(found["emr"]),
    }


def _emr_phases(instance: Any, run_id: str, clients: Any) -> dict[str, float]:
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


DATABRICKS_VARIANTS = ("databricks", "databricks-serverless")


def databricks(params: dict[str, Any]) -> dict[str, Any]:
    """The example on a Databricks job cluster and on serverless (through a UC volume) versus
    local pyspark. Needs root, as the offline Databricks does (a private mount namespace)."""
    from tests.emulators.databricks import LocalDatabricks
    from tests.emulators.s3 import LocalS3

    root, work = Path(params["root"]), Path(params["work"])
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rounds, poll_s, phase_s = params["rounds"], params["poll_interval_s"], params["phase_s"]
    s3 = LocalS3().start()
    emulator = LocalDatabricks(root=work / "workspace", s3=s3, phase_s=phase_s).start()
    try:
        s3.bucket(BUCKET)
        volume = emulator.volume("main", "hydra", "files")
        sections = f"""
[databricks]
poll_interval_s = {poll_s}
logs_wait_s = 10
{_spark_section("databricks")}"""
        bench = _Bench.prepare(
            root, work, _config(work, s3.endpoint_url, sections), emulator.environment()
        )
        client = emulator.workspace_client()

        def phases(name: str, settings: Any, instance: Any, run_id: str) -> Any:
            if name == "pyspark":
                return None
            return _databricks_phases(instance, run_id, client)

        variants, found = bench.interleave(
            rounds,
            {
                "pyspark": ("pyspark", {}),
                "databricks": ("databricks", {}),
                "databricks-serverless": (
                    "databricks",
                    {"serverless": True, "files": f"{volume}/hydra"},
                ),
            },
            phases,
        )
    finally:
        emulator.stop()
        s3.stop()
        shutil.rmtree(work, ignore_errors=True)
    return {
        "partition": PARTITION,
        "spark_conf": SPARK,
        "poll_interval_s": poll_s,
        "phase_s": phase_s,
        "bundle_build_s": bench.bundle_build_s,
        "variants": variants,
        **{f"ratio_{name}_vs_pyspark": _ratio(variants, name) for name in DATABRICKS_VARIANTS},
        "phases": {name: found[name] for name in DATABRICKS_VARIANTS},
        "phases_median": {name: _medians(found[name]) for name in DATABRICKS_VARIANTS},
    }


def _databricks_phases(instance: Any, run_id: str, client: Any) -> dict[str, float]:
    """From the run's log lines and runs/get's timing (``start_time``, ``setup_duration``:
    PENDING, ``execution_duration``: the task, ``end_time``)."""
    import re

    times = _log_times(instance, run_id)
    started = _first(times, "Started execution of step")
    shipped = _first(times, "code bundle")
    submitted_line = next(m for _, m in times if "Databricks run" in m and "submitted" in m)
    found = re.search(r"Databricks run (\d+) submitted", submitted_line)
    assert found is not None
    seen_done = _first(times, "Databricks run", ": TERMINATED")
    ended = _first(times, "Finished execution of step")
    run = client.jobs.get_run(int(found[1]))
    step_end = run.end_time / 1000
    return {
        "ship_s": round(shipped - started, 2),
        "start_s": round(run.setup_duration / 1000, 2),
        "step_s": round(run.execution_duration / 1000, 2),
        "poll_lag_s": round(max(0.0, seen_done - step_end), 2),
        "after_s": round(ended - seen_done, 2),
        "total_s": round(ended - started, 2),
    }
