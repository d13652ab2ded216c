"""One step of a pipeline run, as every engine runs it: no dagster import, ever.

A step runs the transforms Dagster selected, in dependency order, on one engine connection:
one Spark application for all of them, not one per asset. The remote entrypoint (local
subprocess, EMR, Databricks) and the in-process DuckDB launcher both call :func:`run_step`;
its outcomes are plain data — metadata in the typed form Dagster Pipes uses — so the same
figures reach Dagster whichever way the step ran.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from hydra_transforms.contracts import ContractViolation, ValidationReport
from hydra_transforms.engines import Engine
from hydra_transforms.errors import describe_error
from hydra_transforms.registry import Registry, Transform, load_registry
from hydra_transforms.runner import Checked, RunResult, run_transform

__all__ = ["CHECK_NAME", "OUTCOME", "STARTED", "StepOutcome", "StepRequest", "blocked", "run_step"]

CHECK_NAME = "contract"
# The keys of a step's custom Pipes messages: a transform starts, a transform's outcome.
STARTED, OUTCOME = "started", "outcome"
PREVIEW_ROWS = 5


@dataclass(frozen=True)
class StepRequest:
    """Everything the step needs, passed explicitly (as Pipes extras for remote engines).

    ``locations`` maps every dataset the step reads or writes (sources, upstream outputs and
    the selected transforms' outputs) to where it is; built-in sources have none.
    """

    registry: str
    transforms: tuple[str, ...]
    engine: str
    execution_mode: str
    locations: Mapping[str, str]
    partitions: tuple[str, ...] = ()
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    run_id: str = ""  # names the writer in "dataset X is being written by run Y"
    s3: Mapping[str, Any] | None = None  # S3Options without credentials (the step's own)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["transforms"] = list(self.transforms)
        data["partitions"] = list(self.partitions)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepRequest:
        return cls(
            **{
                **data,
                "transforms": tuple(data["transforms"]),
                "partitions": tuple(data.get("partitions", ())),
            }
        )


@dataclass(frozen=True)
class StepOutcome:
    """What one transform of the step reports: the one record every launcher hands to Dagster.

    ``check_passed`` is None when the contract was never evaluated (the transform raised an
    error, or did not run because an input failed earlier in the step); ``error`` says why.
    A published transform has a passed check and a ``materialization``.
    """

    transform: str
    check_passed: bool | None
    check_metadata: Mapping[str, Any] = field(default_factory=dict)
    materialization: Mapping[str, Any] | None = None
    summary: str = ""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepOutcome:
        return cls(**data)


def run_step(
    request: StepRequest,
    engine: Engine,
    report: Callable[[StepOutcome], None] | None = None,
    starting: Callable[[str], None] | None = None,
) -> list[StepOutcome]:
    """Run the requested transforms in dependency order; ``report`` gets each outcome at once,
    ``starting`` the name of each transform before it runs (so that a launcher whose step
    dies knows which transform was interrupted).

    Each transform runs for each requested partition (or once, unpartitioned), and each dataset's
    contract is checked once in the step. A broken output contract is an outcome (the check
    failed, nothing was published); any other error is an outcome too (with ``error``). Either
    way the transforms that read the failed one are not run; the others are.
    """
    registry = load_registry(request.registry)
    selected = _in_order(registry, request.transforms)
    checked: Checked = set()
    failed: set[str] = set()
    outcomes = []
    for transform in selected:
        reason = blocked(registry, transform.name, failed)
        if reason:
            outcome = StepOutcome(transform=transform.name, check_passed=None, error=reason)
        else:
            if starting is not None:
                starting(transform.name)
            outcome = _run_one(request, registry, transform, engine, checked)
        if not outcome.check_passed:
            failed.add(transform.name)
        outcomes.append(outcome)
        if report is not None:
            report(outcome)
    return outcomes


def blocked(registry: Registry, name: str, failed: set[str]) -> str | None:
    """Why transform ``name`` is not run when ``failed`` failed earlier in this run, or None.

    The one place that decides it, for failures earlier in the same launch (here, in the
    step) and in an earlier launch (in the Dagster step, which then does not launch it).
    """
    dataset = registry[name]
    inputs = set(dataset.inputs.values()) if isinstance(dataset, Transform) else set()
    failed_inputs = sorted(inputs & failed)
    if not failed_inputs:
        return None
    return f"not run: its input {', '.join(failed_inputs)} failed earlier in this run"


def _in_order(registry: Registry, names: Sequence[str]) -> list[Transform]:
    unknown = sorted(set(names) - {t.name for t in registry.transforms})
    if unknown:
        raise ValueError(
            f"{registry.name}: no transform {', '.join(unknown)}; known: "
            f"{', '.join(t.name for t in registry.transforms)}"
        )
    return [t for t in registry.transforms if t.name in names]


def _run_one(
    request: StepRequest,
    registry: Registry,
    transform: Transform,
    engine: Engine,
    checked: Checked,
) -> StepOutcome:
    name = transform.name
    partitions = request.partitions if transform.partition_column else ()
    results: list[RunResult] = []
    for partition in partitions or (None,):
        try:
            results.append(
                run_transform(
                    registry,
                    name,
                    engine=engine,
                    inputs={
                        d: request.locations[d]
                        for d in transform.inputs.values()
                        if d in request.locations
                    },
                    output=request.locations[name],
                    partition=partition,
                    preview_rows=PREVIEW_ROWS,
                    checked=checked,
                    writer=f"run {request.run_id}" if request.run_id else None,
                )
            )
        except ContractViolation as exc:
            own = [r for r in exc.reports if r.dataset == name]
            if not own:  # an input broke its contract: the transform cannot run
                return _error(name, exc)
            return _failed_check(name, own[0], partition, exc)
        except Exception as exc:
            return _error(name, exc)
    return _published(request, name, partitions, results)


def _error(name: str, exc: Exception) -> StepOutcome:
    # An input's broken contract is reported whole; any other error in one line, cause first.
    text = (
        f"ContractViolation: {exc}" if isinstance(exc, ContractViolation) else describe_error(exc)
    )
    return StepOutcome(transform=name, check_passed=None, summary=f"{name} failed", error=text)


def _failed_check(
    name: str, report: ValidationReport, partition: str | None, exc: Exception
) -> StepOutcome:
    metadata = {
        "rows": {"raw_value": report.rows, "type": "int"},
        "failures": {"raw_value": report.to_dict()["failures"], "type": "json"},
        "report": {"raw_value": f"```\n{report.summary()}\n```", "type": "md"},
    }
    if partition is not None:
        metadata["partition"] = {"raw_value": partition, "type": "text"}
    return StepOutcome(
        transform=name, check_passed=False, check_metadata=metadata, summary=str(exc)
    )


def _published(
    request: StepRequest, name: str, partitions: Sequence[str], results: Sequence[RunResult]
) -> StepOutcome:
    rows = sum(r.rows for r in results)
    last = results[-1]
    output = request.locations[name]
    materialization = {
        "dagster/row_count": {"raw_value": rows, "type": "int"},
        "dagster/column_schema": {
            "raw_value": {"columns": [{"name": n, "type": t} for n, t in last.schema.items()]},
            "type": "table_schema",
        },
        "duration_s": {"raw_value": round(sum(r.duration_s for r in results), 3), "type": "float"},
        "engine": {"raw_value": request.engine, "type": "text"},
        "execution_mode": {"raw_value": request.execution_mode, "type": "text"},
        "output": {"raw_value": output, "type": "path"},
        "preview": {"raw_value": _markdown(last.preview), "type": "md"},
    }
    if partitions:
        materialization["partitions"] = {"raw_value": ", ".join(partitions), "type": "text"}
    check = {
        "rows": {"raw_value": rows, "type": "int"},
        "contract": {"raw_value": name, "type": "text"},
    }
    return StepOutcome(
        transform=name,
        check_passed=True,
        check_metadata=check,
        materialization=materialization,
        summary=f"{name}: {rows:,} rows published to {output}",
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
