"""Publication is a commit: readers see the old version of a dataset or the new one, never a
part of one or a mix of two — on a local disk and on S3 alike, by one code path.

A dataset at location ``L`` (a directory, or an ``s3://`` prefix) is::

    L/_hydra/manifest.json        which version holds each partition (the commit point)
    L/_hydra/v/<version>/...      the Parquet files of each version, hive-partitioned
    L/_hydra/lock                 the writer's lock (an flock locally, a lease on S3)

A write takes the lock (a second writer fails at once, naming the first), writes a new
version under its own prefix, checks it, and commits by replacing the manifest with a
compare-and-swap: a rename locally, a conditional PUT (``If-Match``) on S3, where there is no
rename. Until then the manifest — and so every reader — still points at the previous
version; a writer killed at any moment leaves nothing a reader could pick up. Replacing one
partition is the same commit, with only that partition's entry changed. Versions a commit
replaced are kept for ``RETAIN_S`` (readers that resolved the manifest just before may still
be reading them) and deleted by a later writer; versions of writers that died are swept by
the next writer, which holds the lock and so knows that nobody else is writing.

Readers resolve through the manifest (:func:`snapshot`). A location without one is read as
plain Parquet (sources written by other tools). docs/architecture.md compares this protocol
with Delta Lake and says why this one.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from hydra_transforms.stores import ABSENT, Conflict, DatasetBusy, S3Options, Store, store_for

__all__ = [
    "DatasetBusy",
    "Publication",
    "PublishError",
    "Snapshot",
    "publication",
    "read_arrow",
    "snapshot",
]

MANIFEST, LOCK, VERSIONS = "_hydra/manifest.json", "_hydra/lock", "_hydra/v"
FORMAT = "hydra-dataset/1"
RETAIN_S = 600.0  # how long a replaced version stays readable
UNPARTITIONED = ""


class PublishError(RuntimeError):
    """The staged output does not have the shape that was promised, or the commit lost."""


@dataclass(frozen=True)
class Snapshot:
    """A committed version of a dataset: where the data of each partition is."""

    location: str
    partition_column: str | None
    parts: Mapping[str, str]  # partition value ("" unpartitioned) -> URI of its directory
    committed_by: str = ""
    committed_at: str = ""

    @property
    def empty(self) -> bool:
        return not self.parts


def snapshot(location: str | Path, s3: S3Options | None = None) -> Snapshot | None:
    """The dataset's committed version, or None when ``location`` has no manifest."""
    store = store_for(location, s3)
    found = store.read(MANIFEST)
    if found is None:
        return None
    return _snapshot(store, json.loads(found[0]))


def read_arrow(location: str | Path, s3: S3Options | None = None) -> pa.Table:
    """The dataset at ``location`` as one Arrow table, read with pyarrow alone: the version
    its manifest names (or, without a manifest, every Parquet file there). The partition
    column is a string. For tools outside the project, and for tests."""
    filesystem, root = _arrow_filesystem(location, s3)
    published = snapshot(location, s3)
    if published is None:
        directories = [root]
    else:
        prefix = len(str(location).rstrip("/")) - len(root.rstrip("/"))
        directories = [uri[prefix:] for uri in published.parts.values()]
    column = published.partition_column if published else None
    tables = []
    for directory in directories:
        dataset = ds.dataset(
            directory, filesystem=filesystem, format="parquet", partitioning="hive"
        )
        table = dataset.to_table()
        if column and column not in table.column_names:  # the directory is the partition
            value = directory.rsplit(f"{column}=", 1)[1]
            table = table.append_column(column, pa.array([value] * table.num_rows, pa.string()))
        if column and column in table.column_names:
            table = table.set_column(
                table.column_names.index(column), column, table[column].cast(pa.string())
            )
        tables.append(table)
    return pa.concat_tables(tables, promote_options="default") if tables else pa.table({})


def _arrow_filesystem(location: str | Path, s3: S3Options | None) -> tuple[pafs.FileSystem, str]:
    text = str(location)
    if "://" not in text:
        return pafs.LocalFileSystem(), text
    options = s3 or S3Options()
    filesystem = pafs.S3FileSystem(
        access_key=options.access_key_id,
        secret_key=options.secret_access_key,
        session_token=options.session_token,
        region=options.region,
        endpoint_override=options.endpoint_host,
        scheme="https" if options.secure else "http",
        force_virtual_addressing=not options.path_style and options.endpoint_url is None,
    )
    return filesystem, text.split("://", 1)[1]


def _snapshot(store: Store, manifest: Mapping) -> Snapshot:
    column = manifest.get("partition_column")
    parts = {
        value: store.uri(f"{prefix}/{column}={value}" if column and value else prefix)
        for value, prefix in manifest.get("parts", {}).items()
    }
    return Snapshot(
        location=store.root,
        partition_column=column,
        parts=parts,
        committed_by=manifest.get("committed_by", ""),
        committed_at=manifest.get("committed_at", ""),
    )


@dataclass
class Publication:
    """One write of a dataset: a staging version the engine writes to, then a commit."""

    store: Store
    writer: str
    partition_column: str | None
    # The manifest's tag when the write began: the commit succeeds only if it is unchanged.
    base: str = ABSENT
    version: str = field(default_factory=lambda: _new_version())

    @property
    def staging(self) -> str:
        """Where the engine writes this version (a path or an s3:// URI)."""
        return self.store.uri(self.staging_key)

    @property
    def staging_key(self) -> str:
        return f"{VERSIONS}/{self.version}"

    def written_partitions(self) -> list[str]:
        """The partition values the engine wrote (``[""]`` for unpartitioned data)."""
        values = set()
        for entry in self.store.list(self.staging_key):
            relative = entry.key[len(self.staging_key) + 1 :]
            if not relative.endswith(".parquet") or "/_" in f"/{relative}":
                continue  # Spark's _SUCCESS, _temporary/, .crc files
            if self.partition_column is None:
                values.add(UNPARTITIONED)
            else:
                head = relative.split("/", 1)[0]
                column, _, value = head.partition("=")
                if column == self.partition_column:
                    values.add(value)
        return sorted(values)

    def commit(self, *, partition: str | None) -> Snapshot:
        """Make this version current: the whole dataset, or only ``partition``.

        A partition run must have written that partition and no other (a transform that
        returned rows of other partitions is a bug, and its output is refused); an empty
        result makes the dataset (or the partition) empty.
        """
        written = self.written_partitions()
        if partition is not None:
            others = [value for value in written if value != partition]
            if others:
                raise PublishError(
                    f"writing partition {self.partition_column}={partition} of {self.store.root} "
                    f"produced other partitions {[f'{self.partition_column}={v}' for v in others]}"
                )
        found = self.store.read(MANIFEST)
        if (found[1] if found else ABSENT) != self.base:
            raise self._lost()
        manifest = json.loads(found[0]) if found else _new_manifest(self.partition_column)
        parts = dict(manifest.get("parts", {}))
        replaced_values = [partition] if partition is not None else list(parts)
        replaced = {parts.pop(value) for value in replaced_values if value in parts}
        parts.update(dict.fromkeys(written, self.staging_key))
        now = time.time()
        retired = [r for r in manifest.get("retired", []) if now - r["since"] < RETAIN_S] + [
            {"prefix": p, "since": now} for p in sorted(replaced - set(parts.values()))
        ]
        manifest.update(
            parts=parts,
            retired=retired,
            partition_column=self.partition_column,
            committed_by=self.writer,
            committed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        try:
            self.store.write(
                MANIFEST,
                json.dumps(manifest, indent=1).encode(),
                expect=found[1] if found else ABSENT,
            )
        except Conflict:
            raise PublishError(
                f"{self.store.root} was committed by another writer while {self.writer} was "
                "writing it; nothing of this write is published"
            ) from None
        if not written:
            self.discard()  # an empty result: the version holds no data anybody reads
        return _snapshot(self.store, manifest)

    def discard(self) -> None:
        self.store.delete(self.staging_key)

    def _lost(self) -> PublishError:
        return PublishError(
            f"{self.store.root} was committed by another writer while {self.writer} was "
            "writing it (its lock was lost); nothing of this write is published"
        )


@contextlib.contextmanager
def publication(
    location: str | Path,
    *,
    writer: str,
    partition_column: str | None,
    s3: S3Options | None = None,
) -> Iterator[Publication]:
    """Lock the dataset, sweep what earlier writers left, and give a new version to write.

    The caller writes to ``staging``, checks it, and calls ``commit``; if it leaves the block
    without committing (an error, an interrupt), the version is removed.
    """
    store = store_for(location, s3)
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(store.lock(LOCK, writer=writer))
        except DatasetBusy as exc:
            raise DatasetBusy(
                f"dataset {Path(str(location)).name!r} ({location}) is being written by {exc}; "
                "run again when that write has finished"
            ) from None
        base = _sweep(store)
        job = Publication(store, writer, partition_column, base=base)
        committed = False
        try:
            yield job
            committed = True
        finally:
            if not committed:
                job.discard()


def _sweep(store: Store) -> str:
    """Delete versions nobody reads: uncommitted ones (their writers are gone: this one holds
    the lock) and replaced ones older than RETAIN_S. Returns the manifest's tag."""
    found = store.read(MANIFEST)
    manifest = json.loads(found[0]) if found else {}
    keep = set(manifest.get("parts", {}).values())
    now = time.time()
    keep |= {r["prefix"] for r in manifest.get("retired", []) if now - r["since"] < RETAIN_S}
    keys = [e.key for e in store.list(VERSIONS)] + store.unfinished(VERSIONS)
    versions = {"/".join(key.split("/")[:3]) for key in keys}
    for prefix in sorted(versions - keep):
        store.delete(prefix)
    return found[1] if found else ABSENT


def _new_manifest(partition_column: str | None) -> dict:
    return {"format": FORMAT, "partition_column": partition_column, "parts": {}, "retired": []}


def _new_version() -> str:
    # Sortable by time, unique across writers.
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
