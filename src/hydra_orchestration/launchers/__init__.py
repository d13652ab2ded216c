"""Launchers: how a step reaches its engine, looked up by engine name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from hydra_orchestration.launchers.base import Launcher, LaunchReport, StepResult, results_for
from hydra_orchestration.launchers.local import DuckDBLauncher
from hydra_orchestration.launchers.subprocess import PySparkSubprocessLauncher
from hydra_orchestration.settings import Settings, SettingsError

__all__ = ["LAUNCHERS", "LaunchReport", "Launcher", "StepResult", "launcher_for", "results_for"]

LAUNCHERS: Mapping[str, Callable[[Settings], Launcher]] = MappingProxyType(
    {
        "duckdb": DuckDBLauncher,
        "pyspark": PySparkSubprocessLauncher,
    }
)


def launcher_for(engine: str, settings: Settings) -> Launcher:
    if engine not in LAUNCHERS:
        raise SettingsError(
            f"engine {engine!r} has no launcher in this version; available: {', '.join(LAUNCHERS)}"
        )
    return LAUNCHERS[engine](settings)
