"""Compute a remote launcher started: what the sweeper lists, and ends when its run is over.

Every cluster, job run or task a launch starts carries the tags of
:func:`compute_tags`: the Dagster run it belongs to, its assets and this project. A launcher
that starts compute lists what carries them (:class:`Sweepable`), so that compute whose run
has ended — a killed orchestrator, a lost worker — is found and ended (see
:mod:`hydra_orchestration.sweeper`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = [
    "RUN_ID_TAG",
    "Compute",
    "Sweepable",
    "compute_tags",
    "name_with_tags",
    "tags_in_name",
]

RUN_ID_TAG = "dagster/run-id"
ASSETS_TAG = "hydra/assets"
PROJECT_TAG = "hydra/project"


def compute_tags(
    *, run_id: str, assets: Iterable[str], mode: str, engine: str, project: str
) -> dict[str, str]:
    """The tags every piece of compute a launch starts carries. Values keep to what every
    platform allows (EMR Serverless: ``[A-Za-z0-9 /_.:=+@-]``, at most 256 characters): the
    asset names are separated by spaces, and as many whole names as fit are listed."""
    listed = ""
    for asset in assets:
        candidate = f"{listed} {asset}" if listed else asset
        if len(candidate) > 256:
            break
        listed = candidate
    return {
        RUN_ID_TAG: run_id,
        ASSETS_TAG: listed,
        "hydra/execution-mode": mode,
        "hydra/engine": engine,
        PROJECT_TAG: project,
    }


NAMED = re.compile(r"hydra\[(?P<project>[^\]\s]+)\] (?P<run>[0-9a-f-]{36}): (?P<assets>.*)", re.S)


def name_with_tags(tags: Mapping[str, str]) -> str:
    """A name that carries the tags the sweeper reads, for compute that has none of its own
    (a Databricks one-time run: ``runs/submit`` takes no tags, and serverless or all-purpose
    compute has no job cluster to carry them): ``hydra[<project>] <run id>: <assets>``."""
    return f"hydra[{tags[PROJECT_TAG]}] {tags[RUN_ID_TAG]}: {tags[ASSETS_TAG]}"


def tags_in_name(name: str | None) -> dict[str, str]:
    """The tags :func:`name_with_tags` put in ``name``; none from any other name."""
    found = NAMED.fullmatch(name or "")
    if found is None:
        return {}
    return {
        PROJECT_TAG: found["project"],
        RUN_ID_TAG: found["run"],
        ASSETS_TAG: found["assets"],
    }


@dataclass(frozen=True)
class Compute:
    """One running cluster, job run or task: ``end()`` terminates or cancels it."""

    platform: str
    id: str
    tags: Mapping[str, str]
    end: Callable[[], object] = field(compare=False, repr=False)

    @property
    def run_id(self) -> str | None:
        return self.tags.get(RUN_ID_TAG)

    @property
    def project(self) -> str | None:
        return self.tags.get(PROJECT_TAG)

    @property
    def assets(self) -> list[str]:
        return self.tags.get(ASSETS_TAG, "").split()


@runtime_checkable
class Sweepable(Protocol):
    """A launcher whose platform runs compute that outlives a dead orchestrator."""

    def running_compute(self) -> Iterable[Compute]:
        """This launcher's platform's running compute that carries a run id tag."""
        ...
