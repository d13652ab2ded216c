"""`import hydra_transforms` needs neither dagster nor pyspark; the DuckDB path runs without them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

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


@pytest.mark.duckdb
def test_the_library_runs_the_example_on_duckdb_without_dagster_or_pyspark(tmp_path: Path) -> None:
    script = BLOCKER + textwrap.dedent(
        f"""
        import hydra_transforms as ht
        from hydra_transforms.example import registry

        engine = ht.connect("duckdb")
        results = ht.run_pipeline(registry, engine=engine, warehouse={str(tmp_path)!r}, sources={{
            "seed_nodes": {str(SAMPLE_DIR / "seed_nodes.csv")!r},
            "crawl_records": {str(SAMPLE_DIR / "crawl_records")!r},
        }})
        assert not any(m.split(".")[0] in {{"dagster", "pyspark"}} for m in sys.modules)
        print({{name: r.rows for name, r in results.items()}})
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = eval(done.stdout.strip().splitlines()[-1])  # a dict literal printed above
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
