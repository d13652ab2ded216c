"""Dagster assets generated from a hydra_transforms registry.

Every transform is an asset of its own (lineage, partitions, checks and history per asset),
and all of them are produced by one subsettable step: a run on one engine launches it once
for the transforms it selected — one Spark application, not one per asset. Run config picks
the engine for the whole run (``engine``) or per asset (``engines``); a run on several
engines makes the fewest launches its dependencies allow (:mod:`hydra_orchestration.plan`).
"""

# No `from __future__ import annotations` here: Dagster reads the asset's annotations at run time.

import dataclasses
import difflib
import multiprocessing
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Any, Optional

import dagster as dg
from pydantic import Field

from hydra_orchestration.cost import (
    Cost,
    LocalUsage,
    PriceError,
    PriceTable,
    UnpricedUsage,
    cost_metadata,
    estimate,
    split,
    unknown_cost_metadata,
)
from hydra_orchestration.cost_report import estimate_launches, history, render_plan
from hydra_orchestration.launchers import (
    Launcher,
    LaunchReport,
    StepResult,
    results_for,
)
from hydra_orchestration.plan import Launch, engines_for, plan_launches, step_name
from hydra_orchestration.platforms import platform
from hydra_orchestration.remote.lifetime import die_with_parent
from hydra_orchestration.remote.step import CHECK_NAME, StepRequest, blocked
from hydra_orchestration.settings import ENGINES, Settings, SettingsError, check_engine_override
from hydra_transforms.registry import Registry, Source, Transform, load_registry

__all__ = ["SOURCES_GROUP", "StepConfig", "build_assets", "step_name"]

SOURCES_GROUP = "sources"


class StepConfig(dg.Config):
    """Run configuration of the step that materializes the selected transforms."""

    engine: Optional[str] = Field(  # noqa: UP045 - Dagster config needs Optional
        default=None,
        description=f"Engine for this run, overriding SPARK_PIPES_ENGINE: one of {', '.join(ENGINES)}.",
    )
    engines: dict[str, str] = Field(
        default_factory=dict,
        description="Engine per asset for this run (asset name -> engine), overriding `engine`.",
    )


def build_assets(
    registry_spec: str, settings: Settings, launchers: Mapping[str, Launcher]
) -> list[dg.AssetsDefinition | dg.AssetSpec]:
    """Source specs (external assets) and the transforms' assets, from the registry; the
    step launches each platform with ``launchers[platform]``."""
    registry = load_registry(registry_spec)
    _check_sources(registry, settings)
    partitions = (
        dg.StaticPartitionsDefinition(list(settings.partitions)) if settings.partitions else None
    )
    sources: list[dg.AssetsDefinition | dg.AssetSpec] = [
        _source_spec(source, settings, partitions) for source in registry.sources
    ]
    return [*sources, _transforms_step(registry, registry_spec, settings, partitions, launchers)]


def _check_sources(registry: Registry, settings: Settings) -> None:
    """Every source that is read from a location has one, and every location names a source."""
    where = f"{settings.config_path} [modes.{settings.mode}.sources]"
    names = [source.name for source in registry.sources]
    problems = []
    for name in sorted(set(settings.sources) - set(names)):
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        problems.append(f"{name!r} is no source of registry {registry.name!r}{hint}")
    missing = [s.name for s in registry.sources if not s.builtin and s.name not in settings.sources]
    if missing:
        problems.append(f"no location for {', '.join(map(repr, missing))}")
    if problems:
        raise SettingsError(
            f"{where}: {'; '.join(problems)} (the registry's sources read from a location: "
            f"{', '.join(s.name for s in registry.sources if not s.builtin)})"
        )


def _source_spec(
    source: Source, settings: Settings, partitions: dg.PartitionsDefinition | None
) -> dg.AssetSpec:
    location = settings.sources.get(source.name, "built into the code")
    return dg.AssetSpec(
        key=source.name,
        group_name=SOURCES_GROUP,
        description=source.description,
        kinds={source.format},
        partitions_def=partitions if source.partition_column else None,
        metadata={"location": location, "contract": source.contract.__name__},
    )


def _transform_spec(
    transform: Transform, settings: Settings, partitions: dg.PartitionsDefinition | None
) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=transform.name,
        deps=list(transform.inputs.values()),
        group_name=transform.group,
        description=transform.description,
        kinds={settings.engine, "parquet"},
        tags=dict(transform.tags),
        metadata={
            "contract": transform.contract.__name__,
            "location": settings.output_location(transform.name),
        },
        partitions_def=partitions if transform.partition_column else None,
        skippable=True,  # not produced when an upstream transform of the same step failed
    )


def _transforms_step(
    registry: Registry,
    registry_spec: str,
    settings: Settings,
    partitions: dg.PartitionsDefinition | None,
    launchers: Mapping[str, Launcher],
) -> dg.AssetsDefinition:
    transforms = registry.transforms
    partitioned = partitions is not None and any(t.partition_column for t in transforms)

    @dg.multi_asset(
        name=step_name(registry),
        specs=[_transform_spec(t, settings, partitions) for t in transforms],
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_NAME,
                asset=t.name,
                blocking=True,
                description=f"The output honours its data contract {t.contract.__name__}.",
            )
            for t in transforms
        ],
        can_subset=True,
        # All partitions of one launch run in one step: one Spark start, not one per partition.
        backfill_policy=dg.BackfillPolicy.single_run() if partitioned else None,
    )
    def _step(context: dg.AssetExecutionContext, config: StepConfig) -> Iterator[StepResult]:
        selected = [
            t.name for t in transforms if dg.AssetKey(t.name) in context.selected_asset_keys
        ]
        _check_ops_in_run_config(context)
        if multiprocessing.parent_process() is not None:
            die_with_parent()  # a step process of a run worker: it ends when the worker does
        try:
            for engine in (config.engine, *config.engines.values()):
                if engine is not None:
                    check_engine_override(engine, settings)
            engine_of = engines_for(
                registry,
                selected,
                default=config.engine or settings.engine,
                overrides=config.engines,
            )
            missing = sorted(set(engine_of.values()) - set(launchers))
            if missing:
                raise SettingsError(
                    f"engine {', '.join(missing)} has no launcher in this version; available: "
                    f"{', '.join(launchers)}"
                )
        except SettingsError as exc:
            raise dg.Failure(description=f"run config for {', '.join(selected)}: {exc}") from exc
        keyed = partitioned and (context.has_partition_key or context.has_partition_key_range)
        step = _Step(
            registry=registry,
            registry_spec=registry_spec,
            settings=settings,
            partitions=tuple(context.partition_keys) if keyed else (),
            run_id=context.run.run_id,
        )
        launches = plan_launches(registry, engine_of)
        if len(launches) > 1:
            context.log.info(
                f"{len(launches)} launches: "
                + "; ".join(
                    f"{launch.engine} for {', '.join(launch.transforms)}" for launch in launches
                )
            )
        yield from _launch_all(context, step, launches, launchers)

    return _step


@dataclasses.dataclass(frozen=True)
class _Step:
    """What every launch of one step shares."""

    registry: Registry
    registry_spec: str
    settings: Settings
    partitions: tuple[str, ...]
    run_id: str

    def request(self, launch: Launch, transforms: Sequence[str]) -> StepRequest:
        """The request of one launch: its platform, its transforms, where their data is."""
        settings = self.settings
        return StepRequest(
            registry=self.registry_spec,
            transforms=tuple(transforms),
            engine=launch.engine,
            execution_mode=settings.mode,
            locations=_locations(self.registry, transforms, settings),
            partitions=self.partitions,
            spark_conf=settings.spark_conf_for(launch.engine),
            run_id=self.run_id,
            s3=settings.s3.public() if settings.uses_s3 else None,
        )


def _check_ops_in_run_config(context: dg.AssetExecutionContext) -> None:
    """Fail on run config for ops this job does not have.

    Dagster checks the keys inside a known op's config, but the implicit asset job (what
    `dagster asset materialize` and the UI's Materialize run) accepts config for ops it does not
    have and drops it: a misspelt step name would silently run on the default engine.
    """
    valid = sorted(node.name for node in context.job_def.nodes)
    run_config: dict[str, Any] = dict(context.run.run_config)
    ops = run_config.get("ops") or {}
    unknown = sorted(set(ops) - set(valid))
    if unknown:
        raise dg.Failure(
            description=f"run config has config for ops this run does not have: "
            f"{', '.join(unknown)}; valid: {', '.join(valid)}"
        )


def _launch_all(
    context: dg.AssetExecutionContext,
    step: _Step,
    launches: Sequence[Launch],
    launchers: Mapping[str, Launcher],
) -> Iterator[StepResult]:
    """Run the launches in order, passing each one's results on as soon as it ends; then fail
    the step if any selected transform did not publish.

    A transform whose input failed in an earlier launch is not run; a launch that fails as a
    whole (a killed subprocess) fails its transforms, and the other launches still run.
    """
    _log_plan(context, step, launches)
    failed: set[str] = set()
    problems: list[str] = []
    report = None
    for launch in launches:
        runnable = []
        for name in launch.transforms:
            reason = blocked(step.registry, name, failed)
            if reason:
                failed.add(name)
                problems.append(f"{name}: {reason}")
            else:
                runnable.append(name)
        if not runnable:
            continue
        request = step.request(launch, runnable)
        settings = step.settings
        context.log.info(f"{', '.join(runnable)}: engine {launch.engine}, mode {settings.mode}")
        began = time.monotonic()
        try:
            launched = launchers[launch.engine].launch(context, request)
        except Exception as exc:  # the launch could not start: nothing it ran is known
            launched = LaunchReport(failure=f"the {launch.engine} launch failed: {exc}")
        costs = _costs(context, settings, launch.engine, launched, time.monotonic() - began)
        reported = yield from _reported(runnable, launched, costs)
        failed.update(reported.failed)
        problems.extend(reported.problems)
        report = report or reported.report
    if problems:
        raise dg.Failure(
            description="\n".join(problems),
            metadata={"report": report} if report is not None else None,
        )


def _locations(registry: Registry, selected: Sequence[str], settings: Settings) -> dict[str, str]:
    """Where each dataset the selected transforms read or write is (built-ins have none)."""
    names = set(selected)
    for name in selected:
        transform = registry[name]
        assert isinstance(transform, Transform)
        names.update(transform.inputs.values())
    return {
        name: settings.sources.get(name) or settings.output_location(name)
        for name in sorted(names)
        if not _builtin(registry, name)
    }


def _builtin(registry: Registry, name: str) -> bool:
    dataset = registry[name]
    return isinstance(dataset, Source) and dataset.builtin


@dataclasses.dataclass
class _Reported:
    failed: list[str] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)
    report: Any = None  # the first broken contract's report, for the step's failure


def _log_plan(context: dg.AssetExecutionContext, step: _Step, launches: Sequence[Launch]) -> None:
    """The run's launches with their estimated cost and time (as `hydra plan` gives them),
    from the recorded runs of their assets in this instance."""
    engine_of = {name: launch.engine for launch in launches for name in launch.transforms}
    try:
        records = history(context.instance, list(engine_of))
        estimates = estimate_launches(step.settings, step.registry, engine_of, records)
    except Exception as exc:  # an estimate is advice: it never stops a run
        context.log.warning(f"no cost estimate for this run: {type(exc).__name__}: {exc}")
        return
    context.log.info(render_plan(estimates))


def _costs(
    context: dg.AssetExecutionContext,
    settings: Settings,
    engine: str,
    launched: LaunchReport,
    wall_s: float,
) -> dict[str, dict[str, Any]]:
    """What the launch cost, logged, and each published asset's share (by its step time) as
    its cost metadata. A local engine's cost is zero; a remote one's comes from the usage its
    platform reported. A cost that cannot be known (compute the platform does not price, a
    price the table lacks) is logged once, saying why, and each asset records its share of
    the launch's time with ``cost_basis`` saying why the cost is unknown; no usage reported
    at all leaves the assets without cost metadata. A cost never fails the run."""
    usage = launched.usage
    if usage is None and not platform(engine).remote:
        usage = LocalUsage(wall_s=wall_s, platform=engine)
    if usage is None:
        context.log.info(f"the cost of this {engine} launch is not known: no usage reported")
        return {}
    published = {
        o.transform: float(o.materialization.get("duration_s", {}).get("raw_value", 0.0))
        for o in launched.outcomes
        if o.materialization is not None
    }
    total: Cost | None = None
    reason = ""
    if isinstance(usage, UnpricedUsage):
        reason = usage.reason
        context.log.info(f"the cost of this {engine} launch is not known: {reason}")
    else:
        try:
            total = estimate(usage, PriceTable.for_config(settings.config.cost))
        except PriceError as exc:
            reason = str(exc)
            context.log.warning(f"the cost of this {engine} launch is not known: {reason}")
    if total is None:
        time_only = Cost(usd=0.0, platform=engine, wall_s=wall_s)
        shares = split(time_only, published) if published else {}
        return {
            name: unknown_cost_metadata(share.platform, share.wall_s, reason)
            for name, share in shares.items()
        }
    total = dataclasses.replace(total, wall_s=wall_s)
    basis = f"; {total.basis}" if total.basis else ""
    context.log.info(
        f"cost of this {engine} launch: ${total.usd:.4f} ({total.instance_hours:.3f} "
        f"instance-hours, {wall_s:.1f} s){basis}"
    )
    shares = split(total, published) if published else {}
    return {name: cost_metadata(share) for name, share in shares.items()}


def _reported(
    selected: Sequence[str], launched: LaunchReport, costs: Mapping[str, Mapping[str, Any]]
) -> Generator[StepResult, None, _Reported]:
    """Pass one launch's results on, and say which transforms did not publish and why.

    What a transform reported is kept even when the launch failed afterwards: a transform
    that published is materialized, so the catalog matches what is on disk. A transform with
    no outcome was interrupted (it had started) or never ran; it is not counted as
    materialized.
    """
    outcomes = {o.transform: o for o in launched.outcomes if o.transform in selected}
    ended = f": {launched.failure}" if launched.failure else ""
    reported = _Reported()
    for name in selected:
        outcome = outcomes.get(name)
        problem = None
        if outcome is None and name in launched.started:
            problem = f"{name}: interrupted{ended}; nothing of it was published"
        elif outcome is None:
            problem = (
                f"{name}: not run, the step ended before it{ended}"
                if launched.failure
                else f"{name}: the step reported nothing (it never opened Dagster Pipes, or "
                "exited before reporting); it is not counted as materialized"
            )
        elif outcome.error is not None:
            problem = f"{name}: {outcome.error}"
        elif not outcome.check_passed:
            problem = f"{name} broke its data contract; the previous output is kept."
            if reported.report is None:
                text = outcome.check_metadata.get("report", {}).get("raw_value")
                reported.report = dg.MetadataValue.md(text) if text else None
        if outcome is not None and outcome.materialization is not None and name in costs:
            metadata = {**outcome.materialization, **costs[name]}
            outcome = dataclasses.replace(outcome, materialization=metadata)
        if outcome is not None:
            yield from results_for(outcome)
        if problem is not None:
            reported.failed.append(name)
            reported.problems.append(problem)
    if launched.failure and not reported.problems:
        reported.problems.append(f"the launch failed after its transforms: {launched.failure}")
    return reported
