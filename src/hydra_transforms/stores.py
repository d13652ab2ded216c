"""Where datasets live — a local directory or an S3 bucket — behind one small interface.

The commit protocol (:mod:`hydra_transforms.storage`) needs little from a store: read an
object with a version tag, write one only if it is absent or unchanged (the compare-and-swap
a commit is made of), list and delete under a prefix, and hold a writer's lock. A local
directory does it with renames and ``flock``; S3 (or any S3-compatible store) with
conditional PUTs (``If-None-Match``, ``If-Match``), which AWS S3 has offered since 2024.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "ABSENT",
    "Conflict",
    "DatasetBusy",
    "Entry",
    "LocalStore",
    "S3Options",
    "S3Store",
    "Store",
    "is_remote",
    "store_for",
    "upload",
]

# write(expect=ABSENT): create the object only if there is none.
ABSENT = "<absent>"


@dataclass(frozen=True)
class S3Options:
    """How to reach an S3-compatible store. ``endpoint_url`` None is AWS itself; another
    (MinIO, Ceph, a local server) takes path-style addressing. Credentials are given when the
    store is used and never printed (they are left out of ``repr``); without them the AWS
    default chain applies (environment, profile, instance role)."""

    endpoint_url: str | None = None
    region: str = "us-east-1"
    path_style: bool = False
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    def with_credentials(
        self, access_key_id: str, secret_access_key: str, session_token: str | None = None
    ) -> S3Options:
        return replace(
            self,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            session_token=session_token,
        )

    def public(self) -> dict[str, Any]:
        """The options without credentials: what may be passed on to another process."""
        return {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "path_style": self.path_style,
        }

    @property
    def secure(self) -> bool:
        return not (self.endpoint_url or "").startswith("http://")

    @property
    def endpoint_host(self) -> str | None:
        """``host:port`` of the endpoint (what DuckDB and S3A take), None for AWS."""
        if not self.endpoint_url:
            return None
        return self.endpoint_url.split("://", 1)[-1].rstrip("/")


class Conflict(Exception):
    """A conditional write lost: the object exists, or changed since it was read."""


class DatasetBusy(RuntimeError):
    """Another writer holds the dataset's lock."""


@dataclass(frozen=True)
class Entry:
    key: str  # relative to the store's root
    size: int
    modified: float  # seconds since the epoch


class Store(ABC):
    """Objects under one root location (a dataset's directory or prefix)."""

    root: str

    @abstractmethod
    def read(self, key: str) -> tuple[bytes, str] | None:
        """The object and its version tag, or None when there is none."""

    @abstractmethod
    def write(self, key: str, data: bytes, *, expect: str | None = None) -> str:
        """Write the object; with ``expect``, only if it is absent (:data:`ABSENT`) or still
        has that version tag, else :class:`Conflict`. Returns the new tag."""

    @abstractmethod
    def put_file(self, key: str, path: Path) -> None:
        """Copy a local file to ``key`` ("" is the root itself)."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[Entry]:
        """Every object under ``prefix``."""

    @abstractmethod
    def delete(self, prefix: str) -> None:
        """Every object under ``prefix`` (nothing if there is none), and writes to it that
        never finished."""

    def unfinished(self, prefix: str = "") -> list[str]:
        """Keys under ``prefix`` still being written, invisible to readers (an S3 multipart
        upload that was never completed, as a killed writer leaves behind)."""
        return []

    @abstractmethod
    def uri(self, key: str = "") -> str:
        """Where an engine finds ``key``: a local path or an ``s3://`` URI."""

    @abstractmethod
    def lock(self, key: str, *, writer: str) -> contextlib.AbstractContextManager[None]:
        """Hold the lock ``key`` for ``writer``, or raise :class:`DatasetBusy` at once."""


def is_remote(location: str | Path) -> bool:
    return "://" in str(location)


def store_for(location: str | Path, s3: S3Options | None = None, *, client: Any = None) -> Store:
    """The store of a location: ``s3://bucket/prefix`` (or ``s3a://``) or a local path;
    ``client``, a boto3 S3 client to use instead of one made from ``s3``."""
    text = str(location)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return LocalStore(Path(text))
    if scheme not in ("s3", "s3a"):
        raise ValueError(f"{text}: unsupported location scheme {scheme!r}; use s3:// or a path")
    bucket, _, prefix = rest.partition("/")
    return S3Store(bucket, prefix.strip("/"), s3 or S3Options(), client=client)


def _holder(info: dict[str, Any]) -> str:
    if not info:
        return "another process"
    since = f", since {info['since']}" if "since" in info else ""
    return (
        f"{info.get('writer', '?')} (pid {info.get('pid', '?')} on {info.get('host', '?')}{since})"
    )


def _me(writer: str, **extra: Any) -> dict[str, Any]:
    return {
        "writer": writer,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
        **extra,
    }


class LocalStore(Store):
    """A directory on this machine (or a mounted filesystem)."""

    def __init__(self, root: Path) -> None:
        self.path = root
        self.root = str(root)

    def read(self, key: str) -> tuple[bytes, str] | None:
        try:
            data = (self.path / key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):  # nothing there, or the root is a file
            return None
        return data, hashlib.sha256(data).hexdigest()

    def write(self, key: str, data: bytes, *, expect: str | None = None) -> str:
        target = self.path / key
        target.parent.mkdir(parents=True, exist_ok=True)
        # Compare and write under a lock of its own, then replace with a rename: readers see
        # the old object or the new one, never a part.
        with self._mutex(target):
            if expect is not None:
                current = self.read(key)
                if (current is None) != (expect == ABSENT) or (
                    current is not None and current[1] != expect
                ):
                    raise Conflict(f"{target} changed while it was being replaced")
            temporary = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}"
            temporary.write_bytes(data)
            os.replace(temporary, target)
        return hashlib.sha256(data).hexdigest()

    def put_file(self, key: str, path: Path) -> None:
        target = self.path / key if key else self.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)

    def list(self, prefix: str = "") -> list[Entry]:
        base = self.path / prefix
        if not base.exists():
            return []
        found = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file()]
        entries = []
        for path in found:
            stat = path.stat()
            entries.append(Entry(str(path.relative_to(self.path)), stat.st_size, stat.st_mtime))
        return entries

    def delete(self, prefix: str) -> None:
        target = self.path / prefix
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)

    def uri(self, key: str = "") -> str:
        return str(self.path / key) if key else self.root

    @contextlib.contextmanager
    def lock(self, key: str, *, writer: str) -> Iterator[None]:
        # An flock: the operating system releases it when the writer ends, however it ends,
        # so the holder of the lock knows that nobody else is writing.
        path = self.path / key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    info = json.loads(path.read_text() or "{}")
                except (OSError, ValueError):
                    info = {}
                raise DatasetBusy(_holder(info)) from None
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(_me(writer)).encode())
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _mutex(self, target: Path) -> Iterator[None]:
        fd = os.open(target.parent / f".{target.name}.mutex", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


class S3Store(Store):
    """A prefix in an S3 bucket (or an S3-compatible store)."""

    # A writer's lock is a lease it renews; one that a dead writer stopped renewing expires.
    LEASE_S = 300.0

    def __init__(self, bucket: str, prefix: str, options: S3Options, client: Any = None) -> None:
        if len(bucket) < 3:
            raise ValueError(f"s3://{bucket}: a bucket name has at least 3 characters")
        self.bucket, self.prefix, self.options = bucket, prefix, options
        self.root = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client(self.options)
        return self._client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def read(self, key: str) -> tuple[bytes, str] | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey:
            return None
        return response["Body"].read(), response["ETag"]

    def write(self, key: str, data: bytes, *, expect: str | None = None) -> str:
        conditions = (
            {}
            if expect is None
            else ({"IfNoneMatch": "*"} if expect == ABSENT else {"IfMatch": expect})
        )
        try:
            response = self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, **conditions
            )
        except self.client.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey"):
                raise Conflict(f"{self.uri(key)} changed while it was being replaced") from None
            raise
        return response["ETag"]

    def put_file(self, key: str, path: Path) -> None:
        # Multipart for large files, as the SDK decides.
        self.client.upload_file(str(path), self.bucket, self._key(key) if key else self.prefix)

    def list(self, prefix: str = "") -> list[Entry]:
        entries = []
        paginator = self.client.get_paginator("list_objects_v2")
        start = self._key(prefix)
        for page in paginator.paginate(Bucket=self.bucket, Prefix=start):
            for item in page.get("Contents", []):
                key = item["Key"][len(self.prefix) + 1 :] if self.prefix else item["Key"]
                entries.append(Entry(key, item["Size"], item["LastModified"].timestamp()))
        return entries

    def delete(self, prefix: str) -> None:
        keys = [{"Key": self._key(e.key)} for e in self.list(prefix)]
        for start in range(0, len(keys), 1000):
            self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True}
            )
        for upload in self._uploads(prefix):
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )

    def unfinished(self, prefix: str = "") -> list[str]:
        start = len(self.prefix) + 1 if self.prefix else 0
        return [upload["Key"][start:] for upload in self._uploads(prefix)]

    def _uploads(self, prefix: str) -> list[dict[str, Any]]:
        paginator = self.client.get_paginator("list_multipart_uploads")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix))
        return [upload for page in pages for upload in page.get("Uploads", [])]

    def uri(self, key: str = "") -> str:
        return f"{self.root}/{key}" if key else self.root

    @contextlib.contextmanager
    def lock(self, key: str, *, writer: str) -> Iterator[None]:
        tag = self._acquire(key, writer)
        stop = threading.Event()
        renewer = threading.Thread(
            target=self._renew, args=(key, writer, tag, stop), name="hydra-lease", daemon=True
        )
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()
            current = self.read(key)
            if current is not None and json.loads(current[0]).get("token") == self._token:
                self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def _acquire(self, key: str, writer: str) -> str:
        self._token = uuid.uuid4().hex
        lease = json.dumps(_me(writer, token=self._token, expires=time.time() + self.LEASE_S))
        try:
            return self.write(key, lease.encode(), expect=ABSENT)
        except Conflict:
            pass
        current = self.read(key)
        info = json.loads(current[0]) if current else {}
        if current is not None and info.get("expires", 0) > time.time():
            raise DatasetBusy(_holder(info))
        try:  # the holder stopped renewing its lease: it is gone; take over
            return self.write(key, lease.encode(), expect=current[1] if current else ABSENT)
        except Conflict:
            raise DatasetBusy("another writer that took over at the same moment") from None

    def _renew(self, key: str, writer: str, tag: str, stop: threading.Event) -> None:
        while not stop.wait(self.LEASE_S / 3):
            lease = json.dumps(_me(writer, token=self._token, expires=time.time() + self.LEASE_S))
            try:
                tag = self.write(key, lease.encode(), expect=tag)
            except Exception:  # lost: the commit's compare-and-swap still guards the data
                return


def s3_client(options: S3Options) -> Any:
    """A boto3 S3 client for ``options``."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=options.endpoint_url,
        region_name=options.region,
        aws_access_key_id=options.access_key_id,
        aws_secret_access_key=options.secret_access_key,
        aws_session_token=options.session_token,
        config=Config(s3={"addressing_style": "path" if options.path_style else "auto"}),
    )


def upload(local: Path, location: str | Path, s3: S3Options | None = None) -> list[str]:
    """Copy a local file, or a directory tree, to ``location`` (a path or s3://bucket/prefix);
    returns what was written. A file goes to ``location`` itself."""
    local = Path(local)
    if not local.exists():
        raise FileNotFoundError(f"no such file or directory: {local}")
    store = store_for(location, s3)
    if local.is_file():
        files = {"": local}
    else:
        files = {str(p.relative_to(local)): p for p in sorted(local.rglob("*")) if p.is_file()}
    for relative, path in files.items():
        store.put_file(relative, path)
    return [store.uri(relative) for relative in files]
