"""In-process launchers: the step runs in the Dagster process itself.

duckdb: the engine is in this process. spark-connect: the engine is a Spark Connect server;
this process is its gRPC client (no JVM here), with one new server-side session per launch,
stopped when the launch ends. Either way an interrupted run cancels the engine's work and
removes what the write in progress staged (``hydra_transforms.runner``).
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from hydra_orchestration.launchers.base import LaunchReport
from hydra_orchestration.remote.step import StepOutcome, StepRequest, run_step
from hydra_orchestration.settings import Settings, s3_with_credentials, spark_connect_token
from hydra_transforms.engines import connect, spark_connect_session


class DuckDBLauncher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def launch(self, context: dg.AssetExecutionContext, request: StepRequest) -> LaunchReport:
        context.log.info(f"running {', '.join(request.transforms)} on DuckDB in this process")
        s3 = s3_with_credentials(self.settings) if request.s3 is not None else None
        engine = connect("duckdb", duckdb_config=self.settings.duckdb, s3=s3)
        return LaunchReport(outcomes=run_step(request, engine, report=_log(context)))


class SparkConnectLauncher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def launch(self, context: dg.AssetExecutionContext, request: StepRequest) -> LaunchReport:
        remote = self.settings.spark_remote
        if remote is None:  # the settings check this for every engine a run names
            raise RuntimeError("no Spark Connect server: set [spark-connect] remote")
        context.log.info(
            f"running {', '.join(request.transforms)} on the Spark Connect server {_shown(remote)}"
        )
        session = spark_connect_session(
            remote, token=spark_connect_token(), conf=request.spark_conf
        )
        try:
            s3 = s3_with_credentials(self.settings) if request.s3 is not None else None
            engine = connect("spark-connect", spark=session, s3=s3)
            return LaunchReport(outcomes=run_step(request, engine, report=_log(context)))
        finally:
            session.stop()  # releases the server-side session: its views, cache and settings


def _shown(url: str) -> str:
    """A Connect URL without its parameters (one may be a token)."""
    return url.split(";", 1)[0].rstrip("/")


def _log(context: dg.AssetExecutionContext) -> Callable[[StepOutcome], None]:
    def log(outcome: StepOutcome) -> None:
        if outcome.error:
            context.log.error(f"{outcome.transform}: {outcome.error}")
        else:
            context.log.info(outcome.summary)

    return log
