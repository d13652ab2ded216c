"""Code shipping: the project as a cluster installs it, uploaded once per content.

A remote step needs this project's code on the cluster, at exactly the version that launched
it, with the dependency versions it was tested with. A :class:`Bundle` holds:

- a wheel of the installed ``hydra_transforms`` and ``hydra_orchestration`` packages, and of
  the package that holds the registry when it is another (the user's transforms), built
  here from their files (no build backend, no network: it works the same from a clone and from
  an installed release), with the content hash as its local version (``0.1.0+<hash>``), so
  that a cluster which has an older bundle installs the new one;
- ``constraints.txt``: every distribution the ``remote`` extra pulls in, pinned to the
  version installed here — never pyspark, which the cluster brings;
- ``entrypoint.py``, the file ``spark-submit`` runs, and ``bootstrap.sh``, which installs
  the wheel on a node (an EMR bootstrap action).

:func:`ship` uploads them under ``<staging>/code/<hash>/`` and writes ``COMPLETE`` last: a
bundle already complete there is not uploaded again, and parallel launches of different code
never write to the same prefix. :func:`ship_to_databricks` does the same on DBFS or a Unity
Catalog volume, through the workspace's Files and DBFS APIs, and :func:`pinned_requirements`
names the dependencies a Databricks library or environment installs beside the wheel.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.util
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from hydra_transforms.stores import ABSENT, Conflict, S3Options, S3Store, store_for

__all__ = [
    "DISTRIBUTION",
    "PACKAGES",
    "Bundle",
    "Shipped",
    "build_bundle",
    "pinned_requirements",
    "ship",
    "ship_to_databricks",
]

DISTRIBUTION = "ascii-hydra"
PACKAGES = ("hydra_transforms", "hydra_orchestration")
EXTRA = "remote"
# The cluster's Spark is the cluster's: never installed over it.
NOT_SHIPPED = frozenset({"pyspark", "py4j"})
COMPLETE = "COMPLETE"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so that equal content gives an equal wheel

ENTRYPOINT = '''\
"""The file spark-submit runs for an ascii-hydra step: the installed remote entrypoint."""

import sys

from hydra_orchestration.remote.entrypoint import main

sys.exit(main())
'''

BOOTSTRAP = """\
#!/bin/bash
# Installs ascii-hydra's code bundle on a cluster node (an EMR bootstrap action).
# Arguments: the bundle's S3 prefix, and the Python that runs the steps (3.11 or newer).
set -euo pipefail
bundle="$1"
python="$2"
if ! command -v "$python" >/dev/null 2>&1; then
  sudo dnf install -y "$python" "$python-pip"
fi
work="$(mktemp -d)"
aws s3 cp --only-show-errors "$bundle/constraints.txt" "$work/constraints.txt"
aws s3 cp --only-show-errors "$bundle/@WHEEL@" "$work/@WHEEL@"
sudo "$python" -m pip install --quiet --disable-pip-version-check \\
  --constraint "$work/constraints.txt" "$work/@WHEEL@[@EXTRA@]"
rm -rf "$work"
"""


@dataclass(frozen=True)
class Bundle:
    """What a cluster needs to run this project's steps; ``digest`` names its content."""

    digest: str
    wheel_name: str
    wheel: bytes
    constraints: str
    entrypoint: str
    bootstrap: str

    def files(self) -> dict[str, bytes]:
        return {
            self.wheel_name: self.wheel,
            "constraints.txt": self.constraints.encode(),
            "entrypoint.py": self.entrypoint.encode(),
            "bootstrap.sh": self.bootstrap.encode(),
        }


@dataclass(frozen=True)
class Shipped:
    """Where a bundle is on S3, and whether this launch uploaded it."""

    prefix: str
    wheel: str
    entrypoint: str
    bootstrap: str
    uploaded: bool


def build_bundle(registry: str | None = None) -> Bundle:
    """The bundle of the code this process runs: the project's packages and the one that
    holds ``registry`` (``package.module:attribute``, the user's transforms), if another."""
    top = (registry or "").partition(":")[0].split(".")[0]
    return _bundle(tuple(dict.fromkeys((*PACKAGES, top) if top else PACKAGES)))


@functools.cache
def _bundle(packages: tuple[str, ...]) -> Bundle:
    files = dict(_package_files(packages))
    constraints = _constraints()
    digest = hashlib.sha256()
    for name, data in sorted(files.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    dist = importlib.metadata.distribution(DISTRIBUTION)
    # Everything the bundle's bytes depend on but the digest itself: the wheel's version and
    # file names embed it, so a new release of the same files is a new bundle too.
    for text in (constraints, ENTRYPOINT, BOOTSTRAP, dist.version, EXTRA):
        digest.update(hashlib.sha256(text.encode()).digest())
    short = digest.hexdigest()[:20]
    version = f"{dist.version.split('+')[0]}+{short}"
    wheel_name = f"{DISTRIBUTION.replace('-', '_')}-{version}-py3-none-any.whl"
    bootstrap = BOOTSTRAP.replace("@WHEEL@", wheel_name).replace("@EXTRA@", EXTRA)
    return Bundle(
        digest=short,
        wheel_name=wheel_name,
        wheel=_wheel(files, dist, version),
        constraints=constraints,
        entrypoint=ENTRYPOINT,
        bootstrap=bootstrap,
    )


def ship(bundle: Bundle, staging: str, *, s3: S3Options, client: Any = None) -> Shipped:
    """Upload ``bundle`` under ``<staging>/code/<digest>/`` unless it is complete there."""
    store = store_for(f"{staging.rstrip('/')}/code/{bundle.digest}", s3, client=client)
    if not isinstance(store, S3Store):
        raise ValueError(f"staging location {staging!r}: a cluster reads code from s3:// only")
    uploaded = store.read(COMPLETE) is None
    if uploaded:
        for name, data in bundle.files().items():
            store.write(name, data)
        # Written last: a bundle whose upload was cut off is uploaded again. Conflict: a
        # parallel launch of the same code finished first.
        with contextlib.suppress(Conflict):
            store.write(COMPLETE, bundle.digest.encode(), expect=ABSENT)
    return Shipped(
        prefix=store.uri(),
        wheel=store.uri(bundle.wheel_name),
        entrypoint=store.uri("entrypoint.py"),
        bootstrap=store.uri("bootstrap.sh"),
        uploaded=uploaded,
    )


def ship_to_databricks(bundle: Bundle, files: str, *, client: Any) -> Shipped:
    """Upload ``bundle`` under ``<files>/code/<digest>/`` unless it is complete there.

    ``files`` is ``dbfs:/...`` (DBFS API) or ``/Volumes/<catalog>/<schema>/<volume>/...``
    (Files API); ``client`` a databricks-sdk ``WorkspaceClient``. ``COMPLETE`` is written last,
    as by :func:`ship` (DBFS and the Files API have no conditional write: a parallel launch
    of the same code writes the same bytes)."""
    prefix = f"{files.rstrip('/')}/code/{bundle.digest}"
    on_dbfs = prefix.startswith("dbfs:/")
    if not on_dbfs and not prefix.startswith("/Volumes/"):
        raise ValueError(f"{files!r}: a Databricks task reads code from dbfs:/ or /Volumes/ only")

    def exists(path: str) -> bool:
        from databricks.sdk.errors import NotFound

        try:
            if on_dbfs:
                client.dbfs.get_status(path)
            else:
                client.files.get_metadata(path)
        except NotFound:
            return False
        return True

    def write(path: str, data: bytes) -> None:
        if on_dbfs:
            client.dbfs.upload(path, io.BytesIO(data), overwrite=True)
        else:
            client.files.upload(path, io.BytesIO(data), overwrite=True)

    uploaded = not exists(f"{prefix}/{COMPLETE}")
    if uploaded:
        if on_dbfs:
            client.dbfs.mkdirs(prefix)
        else:
            client.files.create_directory(prefix)
        for name, data in bundle.files().items():
            write(f"{prefix}/{name}", data)
        write(f"{prefix}/{COMPLETE}", bundle.digest.encode())
    return Shipped(
        prefix=prefix,
        wheel=f"{prefix}/{bundle.wheel_name}",
        entrypoint=f"{prefix}/entrypoint.py",
        bootstrap=f"{prefix}/bootstrap.sh",
        uploaded=uploaded,
    )


def pinned_requirements(bundle: Bundle) -> list[str]:
    """The ``remote`` extra's own requirements, pinned to the bundle's constraints: what a
    Databricks cluster or serverless environment installs beside the wheel (the wheel's
    metadata brings the base dependencies; a library cannot name the extra)."""
    pins = dict(line.split("==", 1) for line in bundle.constraints.splitlines() if "==" in line)
    dist = importlib.metadata.distribution(DISTRIBUTION)
    wanted = []
    for line in dist.requires or []:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if (
            requirement.marker is not None
            and requirement.marker.evaluate({"extra": EXTRA})
            and name not in NOT_SHIPPED
        ):
            extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
            version = pins.get(name)
            wanted.append(f"{name}{extras}=={version}" if version else str(requirement))
    return sorted(dict.fromkeys(wanted))


def _package_files(packages: tuple[str, ...] = PACKAGES) -> Iterator[tuple[str, bytes]]:
    """Every file of ``packages`` as installed (source, data), by wheel path."""
    for package in packages:
        spec = importlib.util.find_spec(package)
        if spec is None:
            raise ImportError(f"{package} is not importable here: cannot ship it to a cluster")
        if not spec.submodule_search_locations:  # a module of its own, not a package
            assert spec.origin is not None
            yield f"{package}.py", Path(spec.origin).read_bytes()
            continue
        root = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                yield f"{package}/{path.relative_to(root).as_posix()}", path.read_bytes()


def _constraints() -> str:
    """``name==version`` of every distribution ``ascii-hydra[remote]`` needs, as installed."""
    pins: dict[str, str] = {}
    pending: list[tuple[str, frozenset[str]]] = [(DISTRIBUTION, frozenset({EXTRA}))]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, extras = pending.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # not installed here: not pinned; pip resolves it on the cluster
        if name != DISTRIBUTION:
            pins[canonicalize_name(name)] = dist.version
        for line in dist.requires or []:
            requirement = Requirement(line)
            wanted = requirement.marker is None or any(
                requirement.marker.evaluate({"extra": extra}) for extra in (extras or {""})
            )
            if wanted and canonicalize_name(requirement.name) not in NOT_SHIPPED:
                pending.append((requirement.name, frozenset(requirement.extras)))
    return "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def _wheel(files: dict[str, bytes], dist: importlib.metadata.Distribution, version: str) -> bytes:
    """A pure-Python wheel of ``files``, with the installed distribution's metadata."""
    info = f"{DISTRIBUTION.replace('-', '_')}-{version}.dist-info"
    header, blank, body = (dist.read_text("METADATA") or "").partition("\n\n")
    metadata = "".join(
        f"Version: {version}\n" if line.startswith("Version:") else line + "\n"
        for line in header.splitlines()
    ) + (blank + body if blank else "")
    contents = {
        **files,
        f"{info}/METADATA": metadata.encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: hydra_orchestration.shipping\n"
            b"Root-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    entry_points = dist.read_text("entry_points.txt")
    if entry_points:
        contents[f"{info}/entry_points.txt"] = entry_points.encode()
    record = "".join(f"{name},{_hash(data)},{len(data)}\n" for name, data in contents.items())
    contents[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            entry = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    return buffer.getvalue()


def _hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def command(parser: argparse.ArgumentParser) -> None:
    """The `hydra bundle` subcommand (see hydra_transforms.cli): the bundle written to a
    directory, e.g. to build an EMR Serverless image from its ``constraints.txt``."""
    parser.description = (
        "Write the code bundle a remote step installs (wheel, constraints.txt, entrypoint.py,"
        " bootstrap.sh) to a directory."
    )
    parser.add_argument("--out", type=Path, required=True, help="the directory to write to")
    parser.set_defaults(command=_run_command, needs_registry=True)


def _run_command(registry: object, args: argparse.Namespace) -> int:
    bundle = build_bundle(args.registry)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in bundle.files().items():
        (args.out / name).write_bytes(data)
        print(args.out / name)
    print(f"bundle {bundle.digest}")
    return 0
