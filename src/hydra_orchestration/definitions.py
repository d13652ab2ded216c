"""The Dagster Definitions of the project: what `make start` loads.

Settings are resolved here, once, from the environment; everything below receives them.
"""

from __future__ import annotations

import dagster as dg

from hydra_orchestration.assets import SOURCES_GROUP, build_assets
from hydra_orchestration.settings import Settings, settings_from_environment

DEFAULT_REGISTRY = "hydra_transforms.example:registry"
PIPELINE_JOB = "example_pipeline"


def build_definitions(settings: Settings, *, registry: str = DEFAULT_REGISTRY) -> dg.Definitions:
    assets = build_assets(registry, settings)
    pipeline = dg.define_asset_job(
        PIPELINE_JOB,
        selection=dg.AssetSelection.all() - dg.AssetSelection.groups(SOURCES_GROUP),
        description="Every transform of the pipeline, in dependency order.",
    )
    return dg.Definitions(assets=assets, jobs=[pipeline])


defs = build_definitions(settings_from_environment())
