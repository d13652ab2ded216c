"""Launchers: how a step reaches its platform. Built where the Definitions are built, one per
platform that has one, each from the settings (its own config section) — or given, with
clients and endpoints of their own, by whoever builds the Definitions (tests, the sandbox)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from hydra_orchestration.launchers.base import Launcher, LaunchReport, StepResult, results_for
from hydra_orchestration.platforms import PLATFORMS
from hydra_orchestration.settings import Settings

__all__ = ["LaunchReport", "Launcher", "StepResult", "build_launchers", "results_for"]


def build_launchers(
    settings: Settings, overrides: Mapping[str, Launcher] | None = None
) -> dict[str, Launcher]:
    """A launcher for every platform that declares one; ``overrides`` replace or add some."""
    launchers: dict[str, Launcher] = {}
    for name, declared in PLATFORMS.items():
        if declared.launcher is not None and name not in (overrides or {}):
            module, _, cls = declared.launcher.partition(":")
            launchers[name] = getattr(importlib.import_module(module), cls)(settings)
    return {**launchers, **(overrides or {})}
