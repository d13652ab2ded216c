"""The remote entrypoint: runs one step inside Spark and reports back through Dagster Pipes.

A step is every transform Dagster selected, in one Spark application; each transform's
check, materialization or error is reported as soon as it is known.

The same module runs in a local subprocess, as an EMR step and as a Databricks task. It
imports dagster-pipes, pyspark and hydra_transforms — never dagster itself, which the
clusters do not have.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any

from dagster_pipes import PipesContext, open_dagster_pipes

from hydra_orchestration.remote.step import CHECK_NAME, StepOutcome, StepRequest, run_step
from hydra_transforms.engines import connect, local_spark_session


def spark_session(conf: Mapping[str, str]) -> Any:
    """A local session when the settings name a local master, else the cluster's own."""
    master = conf.get("spark.master", "")
    if master.startswith("local"):
        cores = master[len("local[") : -1] if master.startswith("local[") else "1"
        return local_spark_session(
            app_name="hydra-step",
            cores=cores,
            conf={k: v for k, v in conf.items() if k != "spark.master"},
        )
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("hydra-step")
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def run(pipes: PipesContext) -> None:
    request = StepRequest.from_dict(pipes.get_extra("step"))
    started = time.perf_counter()
    session = spark_session(request.spark_conf)
    pipes.log.info(f"spark session ready in {time.perf_counter() - started:.1f}s")
    run_step(request, connect("pyspark", spark=session), report=lambda o: _report(pipes, o))


def _report(pipes: PipesContext, outcome: StepOutcome) -> None:
    """One transform's outcome as Pipes messages, keyed by its asset."""
    key = outcome.transform
    if outcome.check_passed is not None:
        pipes.report_asset_check(
            check_name=CHECK_NAME,
            passed=outcome.check_passed,
            severity="ERROR",
            metadata=dict(outcome.check_metadata),
            asset_key=key,
        )
    if outcome.materialization is not None:
        pipes.report_asset_materialization(metadata=dict(outcome.materialization), asset_key=key)
        pipes.log.info(outcome.summary)
    else:
        # Errors travel as data: a failed exit code would make Dagster drop what the step's
        # other transforms reported.
        pipes.report_custom_message({"transform": key, "error": outcome.error or outcome.summary})
        pipes.log.error(f"{key}: {outcome.error or outcome.summary}")


def main() -> int:
    with open_dagster_pipes() as pipes:
        run(pipes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
