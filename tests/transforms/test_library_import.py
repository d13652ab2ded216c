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
