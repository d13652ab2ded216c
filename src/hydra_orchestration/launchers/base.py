"""What every launcher does: run a step somewhere and hand back Dagster results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import dagster as dg

from hydra_orchestration.remote.step import CHECK_NAME, StepOutcome, StepRequest

__all__ = ["Launched", "Launcher", "StepResult", "metadata_values", "outcome_results"]

StepResult = dg.MaterializeResult | dg.AssetCheckResult


@dataclass(frozen=True)
class Launched:
    """What a step reported: check results and materializations (keyed by asset), and for
    transforms that raised or did not run, why (transform name -> error text)."""

    results: Sequence[StepResult]
    errors: Mapping[str, str] = field(default_factory=dict)


class Launcher(Protocol):
    def launch(self, context: dg.AssetExecutionContext, request: StepRequest) -> Launched:
        """Run the step and return what it reported."""
        ...


def outcome_results(outcomes: Sequence[StepOutcome]) -> Launched:
    """Dagster results for a step that ran in this process (what Pipes does for remote ones)."""
    results: list[StepResult] = []
    errors = {}
    for outcome in outcomes:
        key = dg.AssetKey(outcome.transform)
        if outcome.check_passed is not None:
            results.append(
                dg.AssetCheckResult(
                    asset_key=key,
                    check_name=CHECK_NAME,
                    passed=outcome.check_passed,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata=metadata_values(outcome.check_metadata),
                )
            )
        if outcome.materialization is not None:
            results.append(
                dg.MaterializeResult(
                    asset_key=key, metadata=metadata_values(outcome.materialization)
                )
            )
        elif outcome.error is not None:
            errors[outcome.transform] = outcome.error
    return Launched(results, errors)


def metadata_values(metadata: Mapping[str, Mapping[str, Any]]) -> dict[str, dg.MetadataValue]:
    """Pipes-style ``{"raw_value", "type"}`` metadata as Dagster metadata values."""
    return {key: _value(entry["raw_value"], entry["type"]) for key, entry in metadata.items()}


def _value(raw: Any, kind: str) -> dg.MetadataValue:
    if kind == "table_schema":
        columns = [dg.TableColumn(name=c["name"], type=c["type"]) for c in raw["columns"]]
        return dg.MetadataValue.table_schema(dg.TableSchema(columns=columns))
    constructors = {
        "int": dg.MetadataValue.int,
        "float": dg.MetadataValue.float,
        "text": dg.MetadataValue.text,
        "path": dg.MetadataValue.path,
        "json": dg.MetadataValue.json,
        "md": dg.MetadataValue.md,
    }
    if kind not in constructors:
        raise ValueError(f"unsupported metadata type {kind!r}; supported: {sorted(constructors)}")
    return constructors[kind](raw)
