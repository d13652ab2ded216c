"""pyspark: the step runs in a local subprocess with one Spark session, through Pipes.

The subprocess gets only the environment it needs (``settings.child_environment``), not the
Dagster process' own — no cloud secrets meant for other engines. It dies with the step that
started it (the entrypoint asks the kernel for a parent-death signal), and an interrupted run
stops it with SIGTERM, on which the entrypoint cancels its Spark jobs and removes staging
output before it exits.
"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys

import dagster as dg

from hydra_orchestration.launchers.base import PipesLauncher, StepFailed, single_writer
from hydra_orchestration.remote.step import StepRequest
from hydra_orchestration.settings import Settings, aws_environment, child_environment
from hydra_transforms.engines import spark_s3_conf
from hydra_transforms.stores import S3Options

ENTRYPOINT = "hydra_orchestration.remote.entrypoint"
STOP_TIMEOUT_S = 60


class PySparkSubprocessLauncher(PipesLauncher):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def transport(
        self, request: StepRequest
    ) -> tuple[dg.PipesContextInjector, dg.PipesMessageReader]:
        return dg.PipesTempFileContextInjector(), single_writer(dg.PipesTempFileMessageReader)()

    def command(self) -> list[str]:
        return [sys.executable, "-m", ENTRYPOINT, "--transport", "subprocess"]

    def prepare(self, request: StepRequest) -> StepRequest:
        """With data on S3, the local session reads it through S3A: the jars `make jars`
        fetched and the store's endpoint (credentials go by environment, see run_step)."""
        if request.s3 is None:
            return request
        if not self.settings.spark_jars:
            raise StepFailed(
                "the data is on S3, and local Spark needs hadoop-aws and the AWS SDK for it: "
                "run `make jars` (or `bash scripts/fetch-spark-jars.sh`)"
            )
        conf = {
            **spark_s3_conf(S3Options(**request.s3), secrets=False),
            "spark.jars": ",".join(self.settings.spark_jars),
            **request.spark_conf,
        }
        return dataclasses.replace(request, spark_conf=conf)

    def run_step(
        self, context: dg.AssetExecutionContext, session: dg.PipesSession, request: StepRequest
    ) -> None:
        context.log.info(f"starting the Spark subprocess for {', '.join(request.transforms)}")
        secrets = aws_environment() if request.s3 is not None else {}  # read now, at launch
        process = subprocess.Popen(
            self.command(), env=child_environment({**session.get_bootstrap_env_vars(), **secrets})
        )
        try:
            code = process.wait()
        except BaseException:  # the run is interrupted: stop the step cleanly, then go on
            context.log.info("[pipes] run interrupted: stopping the Spark subprocess (SIGTERM)")
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            raise
        if code != 0:
            raise StepFailed(f"the Spark subprocess {_explain(code)}")


def _explain(code: int) -> str:
    """Name the signal when the process was killed (exit code -N, or 128+N from a handler)."""
    number = -code if code < 0 else code - 128 if code > 128 else 0
    try:
        return f"was killed by {signal.Signals(number).name} (exit code {code})"
    except ValueError:
        return f"failed with exit code {code} (see the [pipes] error in the step's logs)"
