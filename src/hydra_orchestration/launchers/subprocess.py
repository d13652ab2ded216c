"""pyspark: the step runs in a local subprocess with one Spark session, through Pipes.

Dagster's PipesSubprocessClient starts the remote entrypoint, injects the context, reads the
messages and forwards cancellation (SIGINT) to the subprocess; this launcher only adds the
command and turns a failed exit into a failure that says what happened.
"""

from __future__ import annotations

import signal
import sys

import dagster as dg

from hydra_orchestration.launchers.base import Launched
from hydra_orchestration.remote.step import StepRequest
from hydra_orchestration.settings import Settings

ENTRYPOINT = "hydra_orchestration.remote.entrypoint"


class PySparkSubprocessLauncher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = dg.PipesSubprocessClient(forward_termination=True)

    def command(self) -> list[str]:
        return [sys.executable, "-m", ENTRYPOINT]

    def launch(self, context: dg.AssetExecutionContext, request: StepRequest) -> Launched:
        try:
            invocation = self.client.run(
                context=context, command=self.command(), extras={"step": request.to_dict()}
            )
        except (
            Exception
        ) as exc:  # DagsterPipesExecutionError (not exported); interrupts are BaseException
            raise dg.Failure(
                description=f"the Spark subprocess for {', '.join(request.transforms)} failed: "
                + _explain(exc)
            ) from exc
        errors = {
            m["transform"]: m["error"]
            for m in invocation.get_custom_messages()
            if isinstance(m, dict) and {"transform", "error"} <= m.keys()
        }
        # No implicit results: an asset the step did not report on was not materialized.
        return Launched(invocation.get_results(implicit_materializations=False), errors)


def _explain(exc: Exception) -> str:
    """Name the signal when the process was killed (exit code -N)."""
    text = str(exc)
    code = text.rsplit(" ", 1)[-1]
    if code.lstrip("-").isdigit() and int(code) < 0:
        try:
            return f"{text} (killed by {signal.Signals(-int(code)).name})"
        except ValueError:
            return text
    return text + " (see the [pipes] error in the step's logs)"
