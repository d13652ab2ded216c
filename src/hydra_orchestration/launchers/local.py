"""duckdb: the step runs in the Dagster process itself (no Spark, no subprocess)."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from hydra_orchestration.launchers.base import LaunchReport
from hydra_orchestration.remote.step import StepOutcome, StepRequest, run_step
from hydra_orchestration.settings import Settings, s3_with_credentials
from hydra_transforms.engines import connect


class DuckDBLauncher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def launch(self, context: dg.AssetExecutionContext, request: StepRequest) -> LaunchReport:
        context.log.info(f"running {', '.join(request.transforms)} on DuckDB in this process")
        s3 = s3_with_credentials(self.settings) if request.s3 is not None else None
        engine = connect("duckdb", duckdb_config=self.settings.duckdb, s3=s3)
        return LaunchReport(outcomes=run_step(request, engine, report=_log(context)))


def _log(context: dg.AssetExecutionContext) -> Callable[[StepOutcome], None]:
    def log(outcome: StepOutcome) -> None:
        if outcome.error:
            context.log.error(f"{outcome.transform}: {outcome.error}")
        else:
            context.log.info(outcome.summary)

    return log
