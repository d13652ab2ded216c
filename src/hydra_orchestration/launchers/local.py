"""duckdb: the step runs in the Dagster process itself (no Spark, no subprocess)."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from hydra_orchestration.launchers.base import StepResult, outcome_results
from hydra_orchestration.remote.step import StepRequest, run_step
from hydra_orchestration.settings import Settings
from hydra_transforms.engines import connect


class DuckDBLauncher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def launch(
        self, context: dg.AssetExecutionContext, request: StepRequest
    ) -> Sequence[StepResult]:
        context.log.info(f"running {request.transform} on DuckDB in this process")
        return outcome_results(run_step(request, connect("duckdb")))
