"""What every launcher does: run a step somewhere and hand back what it reported.

A launcher returns a :class:`LaunchReport`: the :class:`StepOutcome` of every transform that
finished (the one record a step produces per asset), the transforms that started, and why
the launch failed as a whole, if it did. What was reported before a failure is kept — the
catalog then matches what is on disk. :func:`results_for` is the one place where an outcome
becomes Dagster results, whichever launcher brought it.

:class:`PipesLauncher` is the shared base of every launcher that reaches its engine through
Dagster Pipes: it opens the Pipes session, lets the platform start the step and wait for
it, and reads the outcomes from the step's messages — also when the step failed.
"""

from __future__ import annotations

import threading
import traceback
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

import dagster as dg

from hydra_orchestration.cost import Usage
from hydra_orchestration.remote.step import CHECK_NAME, OUTCOME, STARTED, StepOutcome, StepRequest

__all__ = [
    "LaunchReport",
    "Launcher",
    "PipesLauncher",
    "StepFailed",
    "StepResult",
    "metadata_values",
    "results_for",
    "single_writer",
]

StepResult = dg.MaterializeResult | dg.AssetCheckResult
R = TypeVar("R", bound=dg.PipesMessageReader)


@dataclass(frozen=True)
class LaunchReport:
    """What one launch reported: the outcome of each transform that finished, the transforms
    that started, ``failure`` — why the launch ended early — when it did, and ``usage``: the
    compute it used as its platform reported it (None: not known; see
    :mod:`hydra_orchestration.cost`)."""

    outcomes: Sequence[StepOutcome] = ()
    started: Sequence[str] = ()
    failure: str | None = None
    usage: Usage | None = None


_METER = threading.local()  # the usage a launch on this thread recorded


def record_usage(usage: Usage) -> None:
    """Called by a launcher once its compute has ended (however the launch ends): what the
    platform reported the compute was, for its cost."""
    _METER.usage = usage


class Launcher(Protocol):
    def launch(self, context: dg.AssetExecutionContext, request: StepRequest) -> LaunchReport:
        """Run the step and return what it reported; raise only to stop the run (interrupt)."""
        ...


class StepFailed(Exception):
    """The step ended without finishing (killed, failed, never started); says why."""


def results_for(outcome: StepOutcome) -> list[StepResult]:
    """The Dagster results of one transform's outcome: its contract check, and its
    materialization when it published."""
    key = dg.AssetKey(outcome.transform)
    results: list[StepResult] = []
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
            dg.MaterializeResult(asset_key=key, metadata=metadata_values(outcome.materialization))
        )
    return results


class PipesLauncher(ABC):
    """A launcher that reaches its engine through Dagster Pipes.

    Subclasses give the transport (:meth:`transport`, fresh for each launch) and
    :meth:`run_step`, which starts the step on the platform, waits for it, and raises
    :class:`StepFailed` if it did not finish. Outcomes travel as custom messages and become
    Dagster results here, in :func:`results_for` — not as Pipes materializations, which
    Dagster would drop whole when the process fails, or fill in for assets that reported
    nothing. A step that ended without ever opening Pipes (it never reached the entrypoint)
    fails the launch, saying so.
    """

    def launch(self, context: dg.AssetExecutionContext, request: StepRequest) -> LaunchReport:
        failure = None
        _METER.usage = None
        request = self.prepare(request)
        context_injector, message_reader = self.transport(request)
        with dg.open_pipes_session(
            context=context.op_execution_context,
            context_injector=context_injector,
            message_reader=message_reader,
            extras={"step": request.to_dict()},
        ) as session:
            try:
                self.run_step(context, session, request)
            except StepFailed as exc:
                failure = str(exc)
            except Exception as exc:  # the platform's API failed (an outage, throttling):
                # the launch fails naming it, and what the step reported is kept
                context.log.error(f"the launch failed:\n{traceback.format_exc()}")
                failure = f"the launch failed: {type(exc).__name__}: {exc}"
        if failure is None and not session.message_handler.received_opened_message:
            failure = (
                "the step ended without opening Dagster Pipes: it never reached the project's "
                "entrypoint, or could not read the Pipes context (see the step's logs)"
            )
        usage, _METER.usage = getattr(_METER, "usage", None), None
        return _report(session.get_custom_messages(), failure, usage)

    def prepare(self, request: StepRequest) -> StepRequest:
        """The request as this platform's step needs it (e.g. with its own Spark settings)."""
        return request

    @abstractmethod
    def transport(
        self, request: StepRequest
    ) -> tuple[dg.PipesContextInjector, dg.PipesMessageReader]:
        """This launch's Pipes context injector and message reader."""

    @abstractmethod
    def run_step(
        self, context: dg.AssetExecutionContext, session: dg.PipesSession, request: StepRequest
    ) -> None:
        """Start the step with the session's bootstrap parameters and wait for it to end."""


def single_writer(reader: type[R]) -> type[R]:
    """``reader`` answering ``expected_writer_count`` itself.

    Dagster 1.13's own message handler reads that property for every session, and the base
    class marks it @preview, so each launch warned "expected_writer_count is currently in
    preview". A reader with one writer (every reader here) simply answers 1, as the base
    class does, without the warning.
    """

    class SingleWriter(reader):  # type: ignore[valid-type, misc]
        @property
        def expected_writer_count(self) -> int:
            return 1

    SingleWriter.__name__ = SingleWriter.__qualname__ = reader.__name__
    return cast("type[R]", SingleWriter)


def _report(messages: Sequence[Any], failure: str | None, usage: Usage | None) -> LaunchReport:
    outcomes, started = [], []
    for message in messages:
        if isinstance(message, Mapping) and OUTCOME in message:
            outcomes.append(StepOutcome.from_dict(message[OUTCOME]))
        elif isinstance(message, Mapping) and STARTED in message:
            started.append(str(message[STARTED]))
    return LaunchReport(outcomes=outcomes, started=started, failure=failure, usage=usage)


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
