"""The Dagster Definitions of the project: what `make start` loads.

Settings are resolved here, once, from the environment; everything below receives them.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from hydra_orchestration.assets import SOURCES_GROUP, build_assets
from hydra_orchestration.launchers import Launcher, build_launchers
from hydra_orchestration.settings import Settings, settings_from_environment
from hydra_orchestration.sweeper import build_sweeper

DEFAULT_REGISTRY = "hydra_transforms.example:registry"
PIPELINE_JOB = "example_pipeline"


def build_definitions(
    settings: Settings,
    *,
    registry: str = DEFAULT_REGISTRY,
    launchers: Mapping[str, Launcher] | None = None,
) -> dg.Definitions:
    """The Definitions of ``registry``'s pipeline. Each platform's launcher is built here from
    the settings; ``launchers`` replaces some (with their own clients and endpoints)."""
    built = build_launchers(settings, launchers)
    assets = build_assets(registry, settings, built)
    pipeline = dg.define_asset_job(
        PIPELINE_JOB,
        selection=dg.AssetSelection.all() - dg.AssetSelection.groups(SOURCES_GROUP),
        description="Every transform of the pipeline, in dependency order.",
    )
    sweeper = build_sweeper(settings, built, project=registry.partition(":")[0])
    return dg.Definitions(assets=assets, jobs=[pipeline], sensors=[sweeper])


defs = build_definitions(settings_from_environment())
