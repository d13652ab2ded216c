"""One step of a pipeline run, as every engine runs it: no dagster import, ever.

The remote entrypoint (local subprocess, EMR, Databricks) and the in-process DuckDB launcher
both call :func:`run_step`; its outcome is plain data — metadata in the typed form Dagster
Pipes uses — so the same figures reach Dagster whichever way the step ran.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from hydra_transforms.contracts import ContractViolation, ValidationReport
from hydra_transforms.engines import Engine
from hydra_transforms.registry import load_registry
from hydra_transforms.runner import RunResult, run_transform

__all__ = ["CHECK_NAME", "StepOutcome", "StepRequest", "run_step"]

CHECK_NAME = "contract"
PREVIEW_ROWS = 5


@dataclass(frozen=True)
class StepRequest:
    """Everything the step needs, passed explicitly (as Pipes extras for remote engines)."""

    registry: str
    transform: str
    engine: str
    execution_mode: str
    inputs: Mapping[str, str]
    output: str
    partitions: tuple[str, ...] = ()
    spark_conf: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["partitions"] = list(self.partitions)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepRequest:
        return cls(**{**data, "partitions": tuple(data.get("partitions", ()))})


@dataclass(frozen=True)
class StepOutcome:
    """What the step reports: the contract check, and the materialization if it published."""

    check_passed: bool
    check_metadata: Mapping[str, Any]
    materialization: Mapping[str, Any] | None = None
    summary: str = ""


def run_step(request: StepRequest, engine: Engine) -> StepOutcome:
    """Run the transform for each requested partition (or once, unpartitioned).

    A broken output contract is an outcome (the check failed, nothing was published); a broken
    input contract or any other error is raised: the step itself failed.
    """
    registry = load_registry(request.registry)
    results: list[RunResult] = []
    for partition in request.partitions or (None,):
        try:
            results.append(
                run_transform(
                    registry,
                    request.transform,
                    engine=engine,
                    inputs=request.inputs,
                    output=request.output,
                    partition=partition,
                    preview_rows=PREVIEW_ROWS,
                )
            )
        except ContractViolation as exc:
            own = [r for r in exc.reports if r.dataset == request.transform]
            if not own:
                raise  # an input broke its contract: the step cannot run
            return _failed_check(own[0], partition, exc)
    return _published(request, results)


def _failed_check(report: ValidationReport, partition: str | None, exc: Exception) -> StepOutcome:
    metadata = {
        "rows": {"raw_value": report.rows, "type": "int"},
        "failures": {"raw_value": report.to_dict()["failures"], "type": "json"},
        "report": {"raw_value": f"```\n{report.summary()}\n```", "type": "md"},
    }
    if partition is not None:
        metadata["partition"] = {"raw_value": partition, "type": "text"}
    return StepOutcome(check_passed=False, check_metadata=metadata, summary=str(exc))


def _published(request: StepRequest, results: Sequence[RunResult]) -> StepOutcome:
    rows = sum(r.rows for r in results)
    last = results[-1]
    materialization = {
        "dagster/row_count": {"raw_value": rows, "type": "int"},
        "dagster/column_schema": {
            "raw_value": {"columns": [{"name": n, "type": t} for n, t in last.schema.items()]},
            "type": "table_schema",
        },
        "duration_s": {"raw_value": round(sum(r.duration_s for r in results), 3), "type": "float"},
        "engine": {"raw_value": request.engine, "type": "text"},
        "execution_mode": {"raw_value": request.execution_mode, "type": "text"},
        "output": {"raw_value": request.output, "type": "path"},
        "preview": {"raw_value": _markdown(last.preview), "type": "md"},
    }
    if request.partitions:
        materialization["partitions"] = {"raw_value": ", ".join(request.partitions), "type": "text"}
    check = {
        "rows": {"raw_value": rows, "type": "int"},
        "contract": {"raw_value": request.transform, "type": "text"},
    }
    return StepOutcome(
        check_passed=True,
        check_metadata=check,
        materialization=materialization,
        summary=f"{request.transform}: {rows:,} rows published to {request.output}",
    )


def _markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "(no rows)"
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = (str(row[c]).replace("|", "\\|").replace("\n", " ")[:60] for c in columns)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
