"""The remote entrypoint: runs one step inside Spark and reports back through Dagster Pipes.

A step is every transform Dagster selected, in one Spark application. Before each transform
the step says it starts it, and after it sends the transform's outcome (check,
materialization or error) as one message, so that whatever happens later, Dagster keeps what
was done.

The same module runs in a local subprocess, as an EMR step and as a Databricks task: the
Pipes transport is a command-line argument (``--transport subprocess``, ``s3``, ``dbfs`` on
a Databricks cluster, ``volumes`` for a Unity Catalog volume on serverless), and so
are Pipes' own parameters where a platform cannot set environment variables
(``--dagster-pipes-context``, ``--dagster-pipes-messages``: Pipes' documented CLI form). It
imports dagster-pipes, pyspark and hydra_transforms — never dagster itself, which the
clusters do not have.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from dagster_pipes import (
    DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT,
    DAGSTER_PIPES_MESSAGES_CLI_ARGUMENT,
    PipesCliArgsParamsLoader,
    PipesContext,
    PipesDbfsContextLoader,
    PipesDbfsMessageWriter,
    PipesEnvVarParamsLoader,
    PipesS3ContextLoader,
    PipesS3MessageWriter,
    PipesUnityCatalogVolumesContextLoader,
    PipesUnityCatalogVolumesMessageWriter,
    open_dagster_pipes,
)

from hydra_orchestration.platforms import TRANSPORTS, platform
from hydra_orchestration.remote.lifetime import die_with_parent
from hydra_orchestration.remote.step import OUTCOME, STARTED, StepOutcome, StepRequest, run_step
from hydra_transforms.engines import connect, local_spark_session
from hydra_transforms.errors import Interrupted, interrupt_on_signals
from hydra_transforms.stores import S3Options, s3_client

# The transports this version's entrypoint speaks (platforms.TRANSPORTS lists all declared).
SUPPORTED = ("subprocess", "s3", "dbfs", "volumes")


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
    # After the session start: PySpark installs a SIGINT handler of its own, replaced here.
    # On a cluster with its own S3 file system (EMRFS), Spark's S3 is the cluster's business.
    s3a = platform(request.engine).spark_s3 == "s3a"
    s3 = S3Options(**request.s3) if request.s3 else None
    with interrupt_on_signals():
        run_step(
            request,
            connect("pyspark", spark=session, s3=s3, spark_s3a=s3a),
            report=lambda outcome: _report(pipes, outcome),
            starting=lambda name: pipes.report_custom_message({STARTED: name}),
        )


def _report(pipes: PipesContext, outcome: StepOutcome) -> None:
    # Errors travel as data: a failed exit code would say nothing about which transform
    # failed and why, while the step's other transforms may have published.
    pipes.report_custom_message({OUTCOME: outcome.to_dict()})
    if outcome.materialization is not None:
        line = outcome.summary
        pipes.log.info(line)
    else:
        line = f"{outcome.transform}: {outcome.error or outcome.summary}"
        pipes.log.error(line)
    # Also in the driver's own output: what a cluster's logs (and the run page) show.
    print(f"hydra step: {line}", flush=True)


def pipes_arguments(argv: Sequence[str]) -> dict[str, Any]:
    """How this process talks to Dagster, from its command line: the transport's loader and
    writer, and Pipes' parameters from the command line if given there, else the
    environment."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transport", choices=TRANSPORTS, default="subprocess")
    parser.add_argument("--region", help="the region of the s3 transport's bucket")
    parser.add_argument("--endpoint-url", help="an S3-compatible endpoint (unset: AWS)")
    parser.add_argument("--path-style", action="store_true", help="path-style S3 addressing")
    parser.add_argument(
        "--message-interval", type=float, default=10.0, help="seconds between message uploads"
    )
    # Pipes' own CLI parameters, read by its loader: accepted here so they are not errors.
    parser.add_argument(DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT)
    parser.add_argument(DAGSTER_PIPES_MESSAGES_CLI_ARGUMENT)
    args = parser.parse_args(argv)
    if args.transport not in SUPPORTED:
        parser.error(f"transport {args.transport!r} is not in this version; use {SUPPORTED}")
    loader = PipesCliArgsParamsLoader() if args.dagster_pipes_context else PipesEnvVarParamsLoader()
    if args.transport == "s3":
        # Credentials: the cluster's own (its instance role), never passed by the launcher.
        client = s3_client(
            S3Options(
                endpoint_url=args.endpoint_url,
                region=args.region or S3Options.region,
                path_style=args.path_style,
            )
        )
        return {
            "params_loader": loader,
            "context_loader": PipesS3ContextLoader(client),
            "message_writer": PipesS3MessageWriter(client, interval=args.message_interval),
        }
    if args.transport == "dbfs":
        # Databricks mounts DBFS at /dbfs on the driver; the writer reads the cluster's log
        # destination from the session Databricks created, which must exist first.
        _databricks_session()
        return {
            "params_loader": loader,
            "context_loader": PipesDbfsContextLoader(),
            "message_writer": PipesDbfsMessageWriter(interval=args.message_interval),
        }
    if args.transport == "volumes":
        _databricks_session()
        return {
            "params_loader": loader,
            "context_loader": PipesUnityCatalogVolumesContextLoader(),
            "message_writer": PipesUnityCatalogVolumesMessageWriter(interval=args.message_interval),
        }
    return {"params_loader": loader}


def _databricks_session() -> None:
    """The session Databricks configured for this task (settings of the request come later,
    on the same session)."""
    from pyspark.sql import SparkSession

    SparkSession.builder.getOrCreate()


def main(argv: Sequence[str] | None = None) -> int:
    pipes_options = pipes_arguments(sys.argv[1:] if argv is None else argv)
    die_with_parent()
    try:
        with open_dagster_pipes(**pipes_options) as pipes:
            run(pipes)
    except Interrupted as exc:  # staging is gone, jobs cancelled: report how it ended
        print(f"hydra step: {exc}", file=sys.stderr)
        return 128 + exc.signum
    return 0


if __name__ == "__main__":
    sys.exit(main())
