"""Atomic publication of a dataset directory: readers see the old output or the new, never a part.

The engine writes into a staging directory beside the output (never inside it, so readers
of the output cannot see it); only after the data passed its contract is the staging
directory renamed into place — the whole dataset, or one hive partition of it. Any failure
before that removes the staging directory and leaves the previous output untouched.

One writer at a time: a write holds a lock on the dataset (an ``flock`` on a file beside
it, which the operating system releases when the writing process dies, however it dies).
A second writer fails at once, naming the first. Whoever holds the lock knows that any
staging directory of that dataset was left by a writer that is gone, and sweeps it.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "DatasetBusy",
    "PublishError",
    "discard",
    "exclusive",
    "has_data",
    "publish",
    "staging_path",
]


class PublishError(RuntimeError):
    """The staged output does not have the shape that was promised."""


class DatasetBusy(RuntimeError):
    """Another process is writing the dataset."""


def staging_path(output: str | Path) -> Path:
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    return output.parent / f".{output.name}.staging-{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def exclusive(output: str | Path, *, writer: str) -> Iterator[None]:
    """Hold the dataset's write lock; sweep what dead writers left. ``writer`` names this
    one in the error another writer gets (e.g. the Dagster run id)."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    lock = output.parent / f".{output.name}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatasetBusy(
                f"dataset {output.name!r} ({output}) is being written by {_holder(lock)}; "
                "run again when that write has finished"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(_me(writer)).encode())
        _sweep(output)
        yield
    finally:
        os.close(fd)  # releases the lock; the file stays, as a new one would race


def _me(writer: str) -> dict[str, object]:
    return {
        "writer": writer,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _holder(lock: Path) -> str:
    try:
        info = json.loads(lock.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process"
    return f"{info['writer']} (pid {info['pid']} on {info['host']}, since {info['since']})"


def _sweep(output: Path) -> None:
    """Remove staging left by writers that died; put back an output (or a partition of it)
    that a death left aside between the two renames of a publication."""
    _restore_or_remove(output)
    for staging in output.parent.glob(f".{output.name}.staging-*"):
        shutil.rmtree(staging, ignore_errors=True)
    if output.is_dir():
        for partition in {p.name.split(".replaced-")[0][1:] for p in output.glob(".*.replaced-*")}:
            _restore_or_remove(output / partition)


def _restore_or_remove(target: Path) -> None:
    replaced = sorted(
        target.parent.glob(f".{target.name}.replaced-*"), key=lambda p: p.stat().st_mtime
    )
    if replaced and not target.exists():
        replaced.pop().rename(target)  # the newest one aside is the last published version
    for leftover in replaced:
        shutil.rmtree(leftover, ignore_errors=True)


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
