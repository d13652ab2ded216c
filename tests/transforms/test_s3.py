"""Datasets on S3 (the local S3 server): both engines read and write s3:// natively, and
publication is a commit there too — atomic, one writer at a time, nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from hydra_transforms.engines import Engine, connect
from hydra_transforms.example import registry as example
from hydra_transforms.runner import run_pipeline, run_transform
from hydra_transforms.storage import (
    DatasetBusy,
    Publication,
    PublishError,
    publication,
    read_arrow,
    snapshot,
)
from hydra_transforms.stores import ABSENT, S3Store, store_for, upload
from tests.conftest import CONNECT, PROJECT_ROOT, S3_ENGINES, SAMPLE_DIR
from tests.transforms.slow import small

pytestmark = pytest.mark.s3
PARTITION = "CC-MAIN-2024-10"


# Spark Connect reaches S3 through S3A settings in its session (SparkConnectEngine).
S3_CONNECT = pytest.param(CONNECT, marks=[pytest.mark.connect, pytest.mark.s3], id=CONNECT)


@pytest.fixture(params=[*S3_ENGINES, S3_CONNECT])
def s3_engine(request: pytest.FixtureRequest, local_s3: Any) -> Engine:
    if request.param == "pyspark":
        spark = request.getfixturevalue("spark_session")
        return connect("pyspark", spark=spark, s3=local_s3.options())
    if request.param == CONNECT:
        spark = request.getfixturevalue("spark_connect_session")
        return connect(CONNECT, spark=spark, s3=local_s3.options())
    return connect("duckdb", s3=local_s3.options())


@pytest.fixture(scope="module")
def sample_on_s3(local_s3: Any) -> dict[str, str]:
    """The committed sample's sources, uploaded once."""
    root = f"{local_s3.bucket('hydra-sample')}/sample"
    sources = {
        "seed_nodes": f"{root}/seed_nodes.csv",
        "crawl_records": f"{root}/crawl_records",
    }
    upload(SAMPLE_DIR / "seed_nodes.csv", sources["seed_nodes"], local_s3.options())
    upload(SAMPLE_DIR / "crawl_records", sources["crawl_records"], local_s3.options())
    return sources


@pytest.fixture(scope="module")
def local_outputs(tmp_path_factory: pytest.TempPathFactory, sample_sources: dict) -> Path:
    """The example on the sample, written locally by DuckDB: what S3 runs must equal."""
    warehouse = tmp_path_factory.mktemp("local")
    run_pipeline(
        example,
        engine=connect("duckdb"),
        sources=sample_sources,
        warehouse=warehouse,
        partition=PARTITION,
    )
    return warehouse


def _warehouse(local_s3: Any) -> str:
    return f"{local_s3.bucket('hydra-warehouse')}/{uuid.uuid4().hex[:8]}"


def test_the_example_reads_and_writes_s3_with_outputs_equal_to_a_local_run(
    s3_engine: Engine, local_s3: Any, sample_on_s3: dict[str, str], local_outputs: Path
) -> None:
    warehouse = _warehouse(local_s3)
    results = run_pipeline(
        example, engine=s3_engine, sources=sample_on_s3, warehouse=warehouse, partition=PARTITION
    )
    assert all(r.rows > 0 for r in results.values())
    for transform in example.transforms:
        on_s3 = read_arrow(f"{warehouse}/{transform.name}", local_s3.options())
        local = read_arrow(local_outputs / transform.name)
        assert on_s3.num_rows == local.num_rows, transform.name
        assert sorted(map(str, on_s3.to_pylist())) == sorted(map(str, local.to_pylist()))
    committed = snapshot(f"{warehouse}/edges", local_s3.options())
    assert committed is not None
    assert list(committed.parts) == [PARTITION]
    assert committed.parts[PARTITION].startswith(f"{warehouse}/edges/_hydra/v/")


@pytest.mark.duckdb
def test_a_partition_run_replaces_only_that_partition_on_s3(
    local_s3: Any, sample_on_s3: dict[str, str]
) -> None:
    # The commit is the same whichever engine wrote the files: one engine is enough here.
    s3_engine = connect("duckdb", s3=local_s3.options())
    warehouse = _warehouse(local_s3)
    for crawl in ("CC-MAIN-2024-10", "CC-MAIN-2024-33"):
        run_pipeline(
            example, engine=s3_engine, sources=sample_on_s3, warehouse=warehouse, partition=crawl
        )
    first = snapshot(f"{warehouse}/graph", local_s3.options())
    run_pipeline(
        example,
        engine=s3_engine,
        sources=sample_on_s3,
        warehouse=warehouse,
        partition="CC-MAIN-2024-33",
    )
    second = snapshot(f"{warehouse}/graph", local_s3.options())
    assert first is not None
    assert second is not None
    assert second.parts["CC-MAIN-2024-10"] == first.parts["CC-MAIN-2024-10"]
    assert second.parts["CC-MAIN-2024-33"] != first.parts["CC-MAIN-2024-33"]


@pytest.mark.duckdb
def test_the_commit_is_a_compare_and_swap(local_s3: Any, tmp_path: Path) -> None:
    """Two writers that both got past the lock (a lease that expired while one was still
    writing): the second commit finds the manifest changed and publishes nothing."""
    for location in (f"{_warehouse(local_s3)}/cube", tmp_path / "cube"):
        store = store_for(location, local_s3.options())
        first, second = (Publication(store, f"run {i}", None, base=ABSENT) for i in (1, 2))
        for version in (first, second):
            store.put_file(f"{version.staging_key}/part-0.parquet", _tiny_parquet(tmp_path))
        first.commit(partition=None)
        with pytest.raises(PublishError, match="was committed by another writer while run 2"):
            second.commit(partition=None)
        published = snapshot(location, local_s3.options())
        assert published is not None
        assert published.committed_by == "run 1"


def _tiny_parquet(tmp_path: Path) -> Path:
    import pyarrow
    import pyarrow.parquet as pq

    path = tmp_path / "tiny.parquet"
    pq.write_table(pyarrow.table({"x": [1]}), path)
    return path


@pytest.mark.duckdb
def test_a_second_writer_on_s3_fails_at_once_and_a_dead_ones_lease_expires(
    local_s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    location = f"{_warehouse(local_s3)}/cube"
    engine = connect("duckdb", s3=local_s3.options())
    with (
        publication(location, writer="run A", partition_column=None, s3=local_s3.options()),
        pytest.raises(DatasetBusy, match=r"is being written by run A \(pid \d+ on"),
    ):
        run_transform(small, "cube", engine=engine, inputs={}, output=location)
    # A writer that died holding the lock stops renewing its lease; once it has expired, the
    # next writer takes over.
    store = store_for(location, local_s3.options())
    assert isinstance(store, S3Store)
    dead = {"writer": "run B", "pid": 1, "host": "gone", "expires": time.time() - 1}
    store.write("_hydra/lock", json.dumps(dead).encode())
    run_transform(small, "cube", engine=engine, inputs={}, output=location)
    assert read_arrow(location, local_s3.options()).num_rows == 8
    assert store.read("_hydra/lock") is None  # released


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from hydra_transforms.engines import connect
    from hydra_transforms.runner import run_transform
    from hydra_transforms.stores import S3Options
    from tests.transforms.slow import registry

    options = S3Options(endpoint_url=sys.argv[2], path_style=True).with_credentials("k", "s")
    engine = connect("duckdb", s3=options)
    run_transform(registry, "cube", engine=engine, inputs={}, output=sys.argv[1])
    """
)


@pytest.mark.faults
@pytest.mark.duckdb
def test_a_writer_killed_mid_write_on_s3_leaves_nothing_a_reader_sees(local_s3: Any) -> None:
    location = f"{_warehouse(local_s3)}/cube"
    options = local_s3.options()
    engine = connect("duckdb", s3=options)
    run_transform(small, "cube", engine=engine, inputs={}, output=location)
    before = read_arrow(location, options)
    store = store_for(location, options)
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, location, local_s3.endpoint_url],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not _uncommitted(store):
        assert writer.poll() is None, writer.communicate()
        assert time.monotonic() < deadline, "the write never started"
        time.sleep(0.1)
    writer.send_signal(signal.SIGKILL)
    writer.communicate()
    assert _uncommitted(store), "the killed writer left what it was uploading"
    assert read_arrow(location, options).equals(before)  # readers see the previous version
    # Its lease expires; the next writer takes over and sweeps what it left.
    lock = json.loads(store.read("_hydra/lock")[0])  # type: ignore[index]
    store.write("_hydra/lock", json.dumps({**lock, "expires": time.time() - 1}).encode())
    run_transform(small, "cube", engine=engine, inputs={}, output=location)
    assert _uncommitted(store) == []
    assert read_arrow(location, options).num_rows == 8


def _uncommitted(store: Any) -> list[str]:
    found = store.read("_hydra/manifest.json")
    manifest = json.loads(found[0]) if found else {"parts": {}, "retired": []}
    kept = {*manifest["parts"].values(), *(r["prefix"] for r in manifest["retired"])}
    keys = [e.key for e in store.list("_hydra/v")] + store.unfinished("_hydra/v")
    return sorted({"/".join(key.split("/")[:3]) for key in keys} - kept)
