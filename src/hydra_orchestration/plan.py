"""Which engine runs each selected transform, and in how few launches.

A run picks one engine for all its assets (``engine``) and may move single assets to another
(``engines``). Each launch starts an engine once — for Spark, one application — so the plan
uses as few launches as the dependencies allow: a transform whose input is made on another
engine waits for that launch to finish, and everything of one engine that is ready by then
goes together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hydra_orchestration.platforms import platform
from hydra_orchestration.settings import SettingsError
from hydra_transforms.registry import Registry

__all__ = ["Launch", "engines_for", "plan_launches"]


@dataclass(frozen=True)
class Launch:
    """Transforms run together on one engine, in dependency order."""

    engine: str
    transforms: tuple[str, ...]


def step_name(registry: Registry) -> str:
    """The op that materializes the registry's transforms (the key of its run config)."""
    return f"{registry.name}_transforms"


def engines_for(
    registry: Registry,
    selected: Sequence[str],
    *,
    default: str,
    overrides: Mapping[str, str],
) -> dict[str, str]:
    """Selected transform -> its engine: its override, else ``default``.

    Raises SettingsError naming the registry's transforms when an override names none of them;
    overrides for transforms that are not selected are legal and unused.
    """
    known = [t.name for t in registry.transforms]
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        sources = [name for name in unknown if name in registry]
        why = f" ({', '.join(sources)}: a source, read where it is, runs on no engine)"
        raise SettingsError(
            f"engines: no transform {', '.join(map(repr, unknown))} in {registry.name}"
            f"{why if sources else ''}; its transforms are {', '.join(known)}"
        )
    return {name: overrides.get(name, default) for name in selected}


def plan_launches(registry: Registry, engine_of: Mapping[str, str]) -> list[Launch]:
    """The fewest launches that run the transforms in ``engine_of`` after their inputs.

    Each launch takes every transform of its engine whose selected inputs are made before it or
    in it; which engine goes next is searched breadth-first, so the first complete plan found
    has the fewest launches. Among those, the plan with the fewest launches that start
    something (not in-process) wins, then the one that follows the registry's order.
    """
    order = [t for t in registry.transforms if t.name in engine_of]
    inputs = {t.name: {d for d in t.inputs.values() if d in engine_of} for t in order}
    everything = frozenset(engine_of)
    plans: dict[frozenset[str], list[Launch]] = {frozenset(): []}
    while everything not in plans:
        following: dict[frozenset[str], list[Launch]] = {}
        for done, plan in plans.items():
            ready = [t.name for t in order if t.name not in done and inputs[t.name] <= done]
            # The first waiting transform in registry order is always ready: start with its engine.
            for engine in dict.fromkeys(engine_of[name] for name in ready):
                batch: list[str] = []
                for transform in order:
                    name = transform.name
                    if (
                        name not in done
                        and engine_of[name] == engine
                        and inputs[name] <= done | set(batch)
                    ):
                        batch.append(name)
                after = done | frozenset(batch)
                candidate = [*plan, Launch(engine, tuple(batch))]
                if after not in following or _starts(candidate) < _starts(following[after]):
                    following[after] = candidate
        plans = following
    return plans[everything]


def _starts(plan: Sequence[Launch]) -> int:
    """How many launches start something (an in-process platform starts nothing)."""
    return sum(not platform(launch.engine).in_process for launch in plan)
