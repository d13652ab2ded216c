"""Which engine runs each selected transform, and in how few launches.

A run picks one engine for all its assets (``engine``) and may move single assets to another
(``engines``). Transforms that share an engine go into one launch — one Spark application —
whenever their dependencies allow; a transform whose input is made on another engine waits
for that launch to finish.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hydra_transforms.registry import Registry, Transform

__all__ = ["Launch", "engines_for", "plan_launches"]


@dataclass(frozen=True)
class Launch:
    """Transforms run together on one engine, in dependency order."""

    engine: str
    transforms: tuple[str, ...]


def engines_for(
    registry: Registry,
    selected: Sequence[str],
    *,
    default: str,
    overrides: Mapping[str, str],
) -> dict[str, str]:
    """Selected transform -> its engine: its override, else ``default``.

    Raises ValueError naming the registry's transforms when an override names none of them;
    overrides for transforms that are not selected are legal and unused.
    """
    known = [t.name for t in registry.transforms]
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ValueError(
            f"engines: no asset {', '.join(map(repr, unknown))} in {registry.name}; "
            f"its assets are {', '.join(known)}"
        )
    return {name: overrides.get(name, default) for name in selected}


def plan_launches(registry: Registry, engine_of: Mapping[str, str]) -> list[Launch]:
    """Launches for the transforms in ``engine_of``, in an order that honours dependencies.

    Each launch takes the first transform still waiting and every later one of the same engine
    whose selected inputs are made before it or in the same launch.
    """
    pending: list[Transform] = [t for t in registry.transforms if t.name in engine_of]
    done: set[str] = set()
    launches = []
    while pending:
        # The first waiting transform is always ready: everything before it in dependency
        # order has been launched.
        engine = engine_of[pending[0].name]
        batch: list[str] = []
        for transform in pending:
            waits_on = {d for d in transform.inputs.values() if d in engine_of} - done
            if engine_of[transform.name] == engine and waits_on <= set(batch):
                batch.append(transform.name)
        launches.append(Launch(engine, tuple(batch)))
        done.update(batch)
        pending = [t for t in pending if t.name not in done]
    return launches
