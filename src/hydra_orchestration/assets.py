"""Dagster assets generated from a hydra_transforms registry: one asset per transform."""

# No `from __future__ import annotations` here: Dagster reads the asset's annotations at run time.

from collections.abc import Iterator, Sequence
from typing import Optional

import dagster as dg
from pydantic import Field

from hydra_orchestration.launchers import StepResult, launcher_for
from hydra_orchestration.remote.step import CHECK_NAME, StepRequest
from hydra_orchestration.settings import ENGINES, Settings, SettingsError, check_engine_override
from hydra_transforms.registry import Registry, Source, Transform, load_registry

__all__ = ["SOURCES_GROUP", "StepConfig", "build_assets"]

SOURCES_GROUP = "sources"


class StepConfig(dg.Config):
    """Run configuration of one asset."""

    engine: Optional[str] = Field(  # noqa: UP045 - Dagster config needs Optional
        default=None,
        description=f"Engine for this asset in this run, overriding SPARK_PIPES_ENGINE: one of {', '.join(ENGINES)}.",
    )


def build_assets(
    registry_spec: str, settings: Settings
) -> list[dg.AssetsDefinition | dg.AssetSpec]:
    """Source specs (external assets) and one asset per transform, from the registry."""
    registry = load_registry(registry_spec)
    partitions = (
        dg.StaticPartitionsDefinition(list(settings.partitions)) if settings.partitions else None
    )
    sources: list[dg.AssetsDefinition | dg.AssetSpec] = [
        _source_spec(source, settings, partitions) for source in registry.sources
    ]
    return sources + [
        _transform_asset(registry, registry_spec, transform, settings, partitions)
        for transform in registry.transforms
    ]


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


def _transform_asset(
    registry: Registry,
    registry_spec: str,
    transform: Transform,
    settings: Settings,
    partitions: dg.PartitionsDefinition | None,
) -> dg.AssetsDefinition:
    partitioned = transform.partition_column is not None and partitions is not None

    @dg.asset(
        name=transform.name,
        deps=list(transform.inputs.values()),
        group_name=transform.group,
        description=transform.description,
        kinds={settings.engine, "parquet"},
        tags=dict(transform.tags),
        metadata={
            "contract": transform.contract.__name__,
            "location": settings.output_location(transform.name),
        },
        partitions_def=partitions if partitioned else None,
        # All partitions of one launch run in one step: one Spark start, not one per partition.
        backfill_policy=dg.BackfillPolicy.single_run() if partitioned else None,
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_NAME,
                asset=transform.name,
                blocking=True,
                description=f"The output honours its data contract {transform.contract.__name__}.",
            )
        ],
    )
    def _asset(context: dg.AssetExecutionContext, config: StepConfig) -> Iterator[StepResult]:
        engine = config.engine or settings.engine
        try:
            check_engine_override(engine, settings)
            launcher = launcher_for(engine, settings)
        except SettingsError as exc:
            raise dg.Failure(description=f"run config for {transform.name}: {exc}") from exc
        request = StepRequest(
            registry=registry_spec,
            transform=transform.name,
            engine=engine,
            execution_mode=settings.mode,
            inputs={
                name: settings.sources.get(name) or settings.output_location(name)
                for name in transform.inputs.values()
                if not _builtin(registry, name)
            },
            output=settings.output_location(transform.name),
            partitions=tuple(context.partition_keys) if partitioned else (),
            spark_conf=settings.spark_conf_for(engine),
        )
        context.log.info(f"{transform.name}: engine {engine}, mode {settings.mode}")
        yield from _finish(transform.name, launcher.launch(context, request))

    return _asset


def _builtin(registry: Registry, name: str) -> bool:
    dataset = registry[name]
    return isinstance(dataset, Source) and dataset.builtin


def _finish(name: str, results: Sequence[StepResult]) -> Iterator[StepResult]:
    """Pass the step's results on; a failed contract or a silent step fails the asset."""
    checks = [r for r in results if isinstance(r, dg.AssetCheckResult)]
    materializations = [r for r in results if isinstance(r, dg.MaterializeResult)]
    # Every step reports its contract check. Without one, nothing is known: note that Pipes'
    # get_results() fills in a bare MaterializeResult for an asset that reported nothing, so
    # a subprocess that exited 0 without opening Pipes would otherwise look like a success.
    if not checks:
        raise dg.Failure(
            description=f"{name}: the step reported no contract check (it never opened Dagster "
            "Pipes, or exited before reporting); it is not counted as materialized"
        )
    failed = [c for c in checks if not c.passed]
    if failed:
        yield from checks
        report = failed[0].metadata.get("report")
        raise dg.Failure(
            description=f"{name} broke its data contract; the previous output is kept.",
            metadata={"report": report} if report is not None else None,
        )
    if not materializations:
        raise dg.Failure(description=f"{name}: the step reported no materialization")
    yield from materializations
    yield from checks
