"""`import hydra_transforms` needs neither dagster nor pyspark; the DuckDB path runs without them."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import PROJECT_ROOT, SAMPLE_DIR

# Run in a fresh interpreter where importing dagster or pyspark fails, as in a base install.
BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"dagster", "dagster_pipes", "pyspark"}:
                raise ImportError(f"{name} is not installed (blocked by the test)")
            return None

    sys.meta_path.insert(0, Block())
    """
)


def start_example_run() -> subprocess.Popen[str]:
    """The example pipeline on the committed sample, on DuckDB, in a fresh interpreter that
    cannot import dagster or pyspark; prints the row count of each dataset."""
    script = BLOCKER + textwrap.dedent(
        f"""
        import tempfile

        import hydra_transforms as ht
        from hydra_transforms.example import registry

        engine = ht.connect("duckdb")
        with tempfile.TemporaryDirectory() as warehouse:
            results = ht.run_pipeline(registry, engine=engine, warehouse=warehouse, sources={{
                "seed_nodes": {str(SAMPLE_DIR / "seed_nodes.csv")!r},
                "crawl_records": {str(SAMPLE_DIR / "crawl_records")!r},
            }})
            assert not any(m.split(".")[0] in {{"dagster", "pyspark"}} for m in sys.modules)
            print({{name: r.rows for name, r in results.items()}})
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# The run takes seconds (mostly imports): it starts when collection ends, beside the other tests.
@pytest.mark.duckdb
@pytest.mark.early_subprocess(start=start_example_run)
def test_the_library_runs_the_example_on_duckdb_without_dagster_or_pyspark(
    early_subprocess: subprocess.Popen[str],
) -> None:
    stdout, stderr = early_subprocess.communicate(timeout=120)
    assert early_subprocess.returncode == 0, stderr
    rows = eval(stdout.strip().splitlines()[-1])  # a dict literal printed above
    assert set(rows) == {"nodes", "seed_rejections", "edges", "graph", "graph_aggr"}
    assert all(count > 0 for count in rows.values())


def test_asking_for_spark_without_pyspark_names_the_extra() -> None:
    script = BLOCKER + textwrap.dedent(
        """
        import hydra_transforms as ht
        try:
            ht.connect("pyspark")
        except ImportError as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert 'pip install "ascii-hydra[spark]"' in done.stdout, done.stderr


def start_import_check() -> subprocess.Popen[str]:
    """A fresh interpreter that imports the library, uses DuckDB, then ibis' other dialects
    and pyspark; prints what was loaded when."""
    script = textwrap.dedent(
        """
        import sys

        import hydra_transforms as ht

        ht.connect("duckdb").con.sql("SELECT 1 AS x").to_pyarrow()
        loaded = sorted(m for m in sys.modules if m == "pyspark" or ".compilers.trino" in m)
        print("loaded:", loaded)

        import ibis
        from ibis.backends.sql.compilers import TrinoCompiler

        t = ibis.table({"a": "int64"}, name="t")
        print(ibis.to_sql(t.filter(t.a > 1), dialect="trino").split())
        try:
            ibis.to_sql(t, dialect="no_such_dialect")
        except ValueError as exc:
            print(exc)
        import pyspark.sql  # imports normally once pandera is loaded
        print(TrinoCompiler.__name__, pyspark.sql.SparkSession.__name__)
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.duckdb
@pytest.mark.early_subprocess(start=start_import_check)
def test_the_duckdb_path_imports_neither_pyspark_nor_other_sql_compilers(
    early_subprocess: subprocess.Popen[str],
) -> None:
    """What hydra_transforms._imports keeps out, and that everything still loads on demand."""
    stdout, stderr = early_subprocess.communicate(timeout=60)
    assert early_subprocess.returncode == 0, stderr
    lines = stdout.splitlines()
    assert lines[0] == "loaded: []"
    assert '"t0"."a"' in lines[1]
    assert lines[2] == "Unknown dialect no_such_dialect"
    assert lines[3] == "TrinoCompiler SparkSession"
