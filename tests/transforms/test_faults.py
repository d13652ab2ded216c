"""Bad files, killed writers, a second writer: a clear error every time, nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow
import pyarrow.parquet as pq
import pytest

from hydra_transforms.cli import EXIT_USAGE, main
from hydra_transforms.engines import Engine, connect
from hydra_transforms.errors import EngineError, describe_error
from hydra_transforms.example import registry as example
from hydra_transforms.runner import run_pipeline, run_transform
from hydra_transforms.storage import DatasetBusy, publication, read_arrow, snapshot
from tests.conftest import PROJECT_ROOT, SAMPLE_DIR
from tests.transforms.slow import small

# ---------------------------------------------------------------------------------------------
# D3: `hydra validate` on a file that is not what it should be: one line, exit 2.

UNREADABLE = {
    "empty file": (lambda p: p.write_bytes(b""), "too small to be a Parquet file"),
    "truncated": (lambda p: p.write_bytes(_parquet_bytes()[:-40]), "No magic bytes"),
    "text": (lambda p: p.write_text("hello\n"), "too small to be a Parquet file"),
    "csv as parquet": (
        lambda p: p.write_text("company_id,website\n" + "1,a.de\n" * 50),
        "No magic bytes",
    ),
    "empty directory": (lambda p: p.mkdir(), "No files found"),
}


def _parquet_bytes() -> bytes:
    sink = pyarrow.BufferOutputStream()
    pq.write_table(pyarrow.table({"x": list(range(100))}), sink)
    return sink.getvalue().to_pybytes()


@pytest.mark.duckdb
@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_an_unreadable_input_is_one_line_and_exit_2(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, cause = UNREADABLE[case]
    path = tmp_path / "records.parquet"
    make(path)
    code = main(["validate", "crawl_records", str(path)])
    out, err = capsys.readouterr()
    assert code == EXIT_USAGE
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"hydra: error: cannot read {path} as parquet: ")
    assert cause in err
    with pytest.raises(Exception, match=cause):  # --debug: the traceback, not one line
        main(["--debug", "validate", "crawl_records", str(path)])


# ---------------------------------------------------------------------------------------------
# D7: engine errors say their cause first.


@pytest.mark.pyspark
def test_spark_errors_lead_with_their_cause(spark_session: object, tmp_path: Path) -> None:
    engine = connect("pyspark", spark=spark_session)
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(_parquet_bytes()[:-40])
    with pytest.raises(Exception, match="PATH_NOT_FOUND") as missing:
        engine.read_parquet(str(tmp_path / "nope")).count().execute()
    assert describe_error(missing.value).startswith("AnalysisException: [PATH_NOT_FOUND]")
    with pytest.raises(Exception, match="not a Parquet file") as broken:
        engine.read_parquet(str(corrupt)).count().execute()
    assert "Py4JJavaError" not in describe_error(broken.value)
    assert f"{corrupt} is not a Parquet file" in describe_error(broken.value)
    # A write that fails names the dataset, the place and the cause, in one line.
    with pytest.raises(EngineError) as write:
        run_transform(small, "divided", engine=engine, inputs={}, output=tmp_path / "divided")
    message = str(write.value)
    assert message.startswith(
        f"writing divided to {tmp_path / 'divided'}: SparkArithmeticException"
    )
    assert "DIVIDE_BY_ZERO" in message
    assert "\n" not in message
    assert snapshot(tmp_path / "divided") is None


# ---------------------------------------------------------------------------------------------
# D8: two writers of one dataset.


@pytest.mark.duckdb
def test_a_second_writer_fails_at_once_naming_the_first(
    duckdb_engine: Engine, tmp_path: Path
) -> None:
    output = tmp_path / "cube"
    with (
        publication(output, writer="run 1234-abcd", partition_column=None),
        pytest.raises(DatasetBusy) as busy,
    ):
        run_transform(small, "cube", engine=duckdb_engine, inputs={}, output=output)
    assert f"dataset 'cube' ({output}) is being written by run 1234-abcd (pid {os.getpid()}" in str(
        busy.value
    )
    assert snapshot(output) is None  # nothing was committed
    run_transform(small, "cube", engine=duckdb_engine, inputs={}, output=output)  # released
    assert read_arrow(output).num_rows == 8


# ---------------------------------------------------------------------------------------------
# D10: a pipeline checks its sources before writing anything.


@pytest.mark.duckdb
def test_a_pipeline_with_a_missing_source_writes_nothing(
    duckdb_engine: Engine, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse"
    with pytest.raises(ValueError, match=r"no such file or directory: crawl_records=") as error:
        run_pipeline(
            example,
            engine=duckdb_engine,
            warehouse=warehouse,
            sources={
                "seed_nodes": SAMPLE_DIR / "seed_nodes.csv",
                "crawl_records": tmp_path / "no-such-records",
            },
        )
    assert "nothing was written" in str(error.value)
    assert not warehouse.exists()
    with pytest.raises(ValueError, match="no location for crawl_records"):
        run_pipeline(
            example,
            engine=duckdb_engine,
            warehouse=warehouse,
            sources={"seed_nodes": SAMPLE_DIR / "seed_nodes.csv"},
        )


# ---------------------------------------------------------------------------------------------
# D5, D6: a writer killed or stopped in the middle of a write.


def _hydra(engine: str, output: Path, registry: str = "tests.transforms.slow:registry"):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hydra_transforms.cli",
            "--registry",
            registry,
            "run",
            "cube",
            "--engine",
            engine,
            "--output",
            str(output),
            "--preview",
            "0",
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _staging(output: Path) -> list[Path]:
    """Versions of the dataset that its manifest neither names nor keeps for readers: writes
    in progress, or left by a writer that died."""
    manifest = json.loads((output / "_hydra" / "manifest.json").read_text())
    kept = {*manifest["parts"].values(), *(r["prefix"] for r in manifest["retired"])}
    versions = (output / "_hydra" / "v").iterdir()
    return sorted(v for v in versions if f"_hydra/v/{v.name}" not in kept)


def _wait_for_a_file_in_staging(output: Path, process: subprocess.Popen[str], timeout: float):
    deadline = time.monotonic() + timeout
    while not any(p.is_file() for s in _staging(output) for p in s.rglob("*")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the write never started"
        time.sleep(0.1)


@pytest.fixture
def published(duckdb_engine: Engine, tmp_path: Path) -> Path:
    """A published small `cube`, the version a killed writer must leave readable."""
    output = tmp_path / "cube"
    run_transform(small, "cube", engine=duckdb_engine, inputs={}, output=output)
    return output


@pytest.mark.faults
@pytest.mark.duckdb
def test_staging_left_by_a_killed_writer_is_swept_by_the_next_write(
    duckdb_engine: Engine, published: Path
) -> None:
    before = read_arrow(published)
    writer = _hydra("duckdb", published)
    _wait_for_a_file_in_staging(published, writer, timeout=60)
    writer.send_signal(signal.SIGKILL)
    writer.communicate()
    assert _staging(published), "the killed writer left its staging behind"
    assert read_arrow(published).equals(before)  # readers see the previous version
    run_transform(small, "cube", engine=duckdb_engine, inputs={}, output=published)
    assert _staging(published) == []  # the next writer of the dataset swept it
    assert read_arrow(published).num_rows == 8


@pytest.mark.faults
@pytest.mark.pyspark
def test_sigterm_cancels_the_spark_job_before_removing_staging(published: Path) -> None:
    before = read_arrow(published)
    writer = _hydra("pyspark", published)
    _wait_for_a_file_in_staging(published, writer, timeout=120)
    writer.send_signal(signal.SIGTERM)
    _, err = writer.communicate(timeout=60)
    assert writer.returncode == 128 + signal.SIGTERM, err
    assert "hydra: interrupted by SIGTERM; nothing was published" in err
    assert "reentrant call" not in err
    time.sleep(3)  # a job still running would recreate staging/_temporary meanwhile
    assert _staging(published) == []
    assert read_arrow(published).equals(before)
