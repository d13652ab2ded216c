"""The sweeper: no compute outlives its Dagster run.

A launch ends its compute however it ends — unless the process running it dies (a SIGKILL, a
lost machine, a lost network). EMR's idle timeout and a job run's own time limit bound the
cost of that; the sweeper shortens it to one interval. It is a Dagster sensor that lists the
running compute of every remote launcher (:class:`~hydra_orchestration.launchers.compute.Sweepable`)
and ends each piece that

- carries this project's tag (``hydra/project``: the registry's module), and
- belongs to a Dagster run of this instance that is no longer in progress (it failed, was
  cancelled, or succeeded and its launch could not end the compute).

It never touches compute without this project's tags, nor compute of a run this instance
does not know (another deployment's, which has its own sweeper). A run whose worker died is
marked failed by run monitoring (docs/orchestration.md), after which the sweeper ends its
compute. What it ends is recorded as an observation of each asset the compute was for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import dagster as dg

from hydra_orchestration.launchers import Launcher
from hydra_orchestration.launchers.compute import Compute, Sweepable
from hydra_orchestration.platforms import platform
from hydra_orchestration.settings import Settings

__all__ = ["SWEEPER", "Swept", "build_sweeper", "sweep", "sweeper_active", "swept_platforms"]

SWEEPER = "hydra_sweeper"
# The project config's sections that say a platform is in use (``[aws]``: where AWS calls go).
SECTIONS = {
    "emr": frozenset({"emr", "aws"}),
    "emr-serverless": frozenset({"emr_serverless", "aws"}),
    "databricks": frozenset({"databricks"}),
}
IN_PROGRESS = frozenset(
    {
        dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
    }
)


@dataclass(frozen=True)
class Swept:
    compute: Compute
    run_status: str


def sweep(
    instance: dg.DagsterInstance,
    launchers: Mapping[str, Launcher],
    *,
    project: str,
    log: logging.Logger | None = None,
) -> Iterator[Swept]:
    """End the running compute of ``project`` whose run on ``instance`` is over; yield it."""
    for name, launcher in launchers.items():
        if not isinstance(launcher, Sweepable):
            continue
        try:
            found = list(launcher.running_compute())
        except Exception as exc:  # one platform's outage must not stop the others' sweep
            if log is not None:
                log.warning(f"sweeper: could not list {name}'s compute: {exc}")
            continue
        for compute in found:
            if compute.project != project or compute.run_id is None:
                continue
            run = instance.get_run_by_id(compute.run_id)
            if run is None or run.status in IN_PROGRESS:
                continue
            if log is not None:
                log.info(
                    f"sweeper: ending {compute.platform} {compute.id}: its run "
                    f"{compute.run_id} is {run.status.value}"
                )
            try:
                compute.end()
            except Exception as exc:  # e.g. it ended meanwhile: the others are still swept
                if log is not None:
                    log.warning(f"sweeper: ending {compute.platform} {compute.id} failed: {exc}")
                continue
            yield Swept(compute=compute, run_status=run.status.value)


def swept_platforms(settings: Settings) -> frozenset[str]:
    """The platforms whose compute the sweeper lists: the default engine when it is remote, and
    every platform whose section is in the project config. Listing a platform nobody uses
    would cost each evaluation its API's retries (an unreachable or unauthorised endpoint)."""
    configured = settings.config.model_fields_set
    used = {name for name, sections in SECTIONS.items() if sections & configured}
    if platform(settings.engine).remote:
        used.add(settings.engine)
    return frozenset(used)


def sweeper_active(settings: Settings) -> bool:
    """Whether the sweeper runs by default (``[sweeper] enabled``; ``auto``: when a platform is
    swept, see :func:`swept_platforms`)."""
    enabled = settings.config.sweeper.enabled
    if enabled != "auto":
        return enabled
    return bool(swept_platforms(settings))


def build_sweeper(
    settings: Settings, launchers: Mapping[str, Launcher], *, project: str
) -> dg.SensorDefinition:
    """The sweeper sensor: every ``[sweeper] interval_s``; running by default when a remote
    platform is configured (``[sweeper] enabled``)."""
    config = settings.config.sweeper
    swept = swept_platforms(settings)
    launchers = {name: launcher for name, launcher in launchers.items() if name in swept}

    @dg.sensor(
        name=SWEEPER,
        minimum_interval_seconds=config.interval_s,
        default_status=(
            dg.DefaultSensorStatus.RUNNING
            if sweeper_active(settings)
            else dg.DefaultSensorStatus.STOPPED
        ),
        description="Ends clusters and job runs of this project whose Dagster run is over.",
    )
    def hydra_sweeper(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        swept = list(sweep(context.instance, launchers, project=project, log=context.log))
        events = [
            dg.AssetObservation(
                asset_key=asset,
                metadata={
                    "swept": f"{s.compute.platform} {s.compute.id}",
                    "dagster_run": s.compute.run_id or "",
                    "run_status": s.run_status,
                },
            )
            for s in swept
            for asset in s.compute.assets
        ]
        if not swept:
            return dg.SensorResult(skip_reason="no compute of a finished run")
        return dg.SensorResult(asset_events=events)

    return hydra_sweeper
