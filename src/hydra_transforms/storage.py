"""Atomic publication of a dataset directory: readers see the old output or the new, never a part.

The engine writes into a staging directory beside the output (never inside it, so readers
of the output cannot see it); only after the data passed its contract is the staging
directory renamed into place — the whole dataset, or one hive partition of it. Any failure
before that removes the staging directory and leaves the previous output untouched.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

__all__ = ["PublishError", "discard", "has_data", "publish", "staging_path"]


class PublishError(RuntimeError):
    """The staged output does not have the shape that was promised."""


def staging_path(output: str | Path) -> Path:
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    return output.parent / f".{output.name}.staging-{uuid.uuid4().hex[:12]}"


def has_data(directory: str | Path) -> bool:
    """Whether an engine wrote any Parquet file there (an empty result writes none)."""
    return any(Path(directory).rglob("*.parquet"))


def discard(staging: str | Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


def publish(
    staging: str | Path,
    output: str | Path,
    *,
    partition: tuple[str, str] | None = None,
) -> None:
    """Move ``staging`` into ``output``, or only its ``column=value`` partition directory.

    With a partition, the staging directory must hold that partition and no other (a
    transform that returned rows of other partitions is a bug, and its output is refused).
    """
    staging, output = Path(staging), Path(output)
    try:
        if partition is None:
            _swap(staging, output)
            return
        name = f"{partition[0]}={partition[1]}"
        produced = (
            sorted(p.name for p in staging.iterdir() if p.is_dir()) if staging.exists() else []
        )
        unexpected = [p for p in produced if p != name]
        if unexpected:
            raise PublishError(
                f"writing partition {name} of {output} produced other partitions {unexpected}"
            )
        output.mkdir(parents=True, exist_ok=True)
        _swap(staging / name, output / name)
    finally:
        discard(staging)


def _swap(new: Path, target: Path) -> None:
    """Replace ``target`` by ``new`` (or remove it if ``new`` does not exist) with renames."""
    trash = target.parent / f".{target.name}.replaced-{uuid.uuid4().hex[:12]}"
    if target.exists():
        target.rename(trash)
    try:
        if new.exists():
            new.rename(target)
    except BaseException:
        if trash.exists() and not target.exists():
            trash.rename(target)  # put the previous output back
        raise
    shutil.rmtree(trash, ignore_errors=True)
