"""One measurement in a fresh process: ``python -m bench.worker <task> '<json params>'``.

Prints one JSON line (the last line of stdout) for :func:`bench.harness.call_worker`.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from bench.harness import Runs, load_average
from hydra_transforms.engines import Engine, connect, local_spark_session
from hydra_transforms.example.pipeline import registry
from hydra_transforms.parity import compare_tables
from hydra_transforms.runner import run_pipeline
from hydra_transforms.storage import read_arrow

OUTPUTS = ("nodes", "seed_rejections", "edges", "graph", "graph_aggr")
# Local Spark as the project's config runs it (hydra.toml [spark.pyspark]), on this machine.
SPARK_CONF = {"spark.sql.shuffle.partitions": "8", "spark.driver.memory": "4g"}


def _read(path: Path) -> pa.Table:
    """A dataset: hydra's output through its manifest, the baselines' plain Parquet files."""
    return read_arrow(path)


def _parity(left: Path, right: Path) -> dict[str, list[str]]:
    return {
        name: compare_tables(_read(left / name), _read(right / name), names=("baseline", "hydra"))[
            :5
        ]
        for name in OUTPUTS
    }


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


Variant = Callable[[Path, Path], None]  # (data directory, output warehouse)


def _variants(name: str, params: dict[str, Any]) -> dict[str, Variant]:
    """The runs to compare on engine ``name``: hydra, and optionally baseline and contracts."""
    if name == "pyspark":
        from bench.baselines import pyspark_df

        spark = local_spark_session(app_name="bench", conf=SPARK_CONF)
        engine: Engine = connect("pyspark", spark=spark)

        def baseline(data: Path, out: Path) -> None:
            pyspark_df.run(
                spark=spark,
                seed_nodes=data / "seed_nodes.csv",
                crawl_records=data / "crawl_records",
                warehouse=out,
            )
    else:
        from bench.baselines import duckdb_sql

        engine = connect("duckdb", duckdb_config=params.get("duckdb_config"))

        def baseline(data: Path, out: Path) -> None:
            duckdb_sql.run(
                seed_nodes=data / "seed_nodes.csv",
                crawl_records=data / "crawl_records",
                warehouse=out,
            )

    def hydra(data: Path, out: Path, contracts: bool) -> None:
        sources = {
            "seed_nodes": str(data / "seed_nodes.csv"),
            "crawl_records": str(data / "crawl_records"),
        }
        run_pipeline(
            registry, engine=engine, sources=sources, warehouse=out, validate_contracts=contracts
        )

    variants: dict[str, Variant] = {}
    if params.get("plain", True):
        variants["hydra"] = lambda d, o: hydra(d, o, False)
    if params.get("baseline", True):
        variants["baseline"] = baseline
    if params.get("contracts", True):
        variants["hydra_contracts"] = lambda d, o: hydra(d, o, True)
    return variants


def abstraction(params: dict[str, Any]) -> dict[str, Any]:
    """Baseline, hydra without and with contracts, interleaved ``repeats`` times; then parity.

    ``warmup_data`` (a small data set) is run through every variant first, untimed: the JVM
    compiles its hot paths there instead of in whichever variant happens to run first.
    """
    data, work = Path(params["data"]), Path(params["work"])
    started = time.perf_counter()
    variants = _variants(params["engine"], params)
    setup_s = time.perf_counter() - started
    if params.get("warmup_data"):
        for variant, fn in variants.items():
            fn(Path(params["warmup_data"]), _fresh(work / variant))
    runs = {v: Runs() for v in variants}
    for _ in range(params["repeats"]):
        for variant, fn in variants.items():
            out = _fresh(work / variant)
            runs[variant].record(lambda fn=fn, out=out: fn(data, out))
    parity = _parity(work / "baseline", work / "hydra") if "baseline" in variants else {}
    shutil.rmtree(work, ignore_errors=True)
    return {
        "engine": params["engine"],
        "data": str(data),
        "setup_s": round(setup_s, 2),
        "variants": {v: r.summary() for v, r in runs.items()},
        "parity": parity,
        "parity_equal": all(not d for d in parity.values()),
    }


def orchestration(params: dict[str, Any]) -> dict[str, Any]:
    """Dagster (pyspark engine, Pipes: one Spark subprocess per step) vs one plain session."""
    import dataclasses

    import dagster as dg

    from hydra_orchestration.definitions import PIPELINE_JOB, build_definitions
    from hydra_orchestration.settings import load_settings

    work, partition = Path(params["work"]), params["partition"]
    settings = load_settings({}, cwd=Path.cwd())
    if params.get("data"):
        data = Path(params["data"])
        sources = {
            "seed_nodes": str(data / "seed_nodes.csv"),
            "crawl_records": str(data / "crawl_records"),
        }
        settings = dataclasses.replace(settings, sources=sources)
    spark_conf = settings.spark_conf_for("pyspark")
    runs = {"dagster": Runs(), "plain": Runs()}
    spark_start_s: list[float] = []  # from the start of the plain run to a usable session
    steps: set[str] = set()  # each step of the Dagster run starts one Spark process

    def dagster_run(out: Path) -> None:
        s = dataclasses.replace(
            settings, engine="pyspark", warehouse=str(out), dagster_home=out / "home"
        )
        job = build_definitions(s).resolve_job_def(PIPELINE_JOB)
        result = job.execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), partition_key=partition
        )
        assert result.success
        steps.update(e.step_key for e in result.get_step_success_events() if e.step_key)

    def plain_run(out: Path) -> None:
        cores = spark_conf.get("spark.master", "local[*]")[len("local[") : -1]
        conf = {k: v for k, v in spark_conf.items() if k != "spark.master"}
        spark = local_spark_session(app_name="plain", cores=cores, conf=conf)
        spark_start_s.append(time.perf_counter() - begun)
        run_pipeline(
            registry,
            engine=connect("pyspark", spark=spark),
            sources=dict(settings.sources),
            warehouse=out,
            partition=partition,
        )

    # One repeat per fresh process: the plain run then pays for its one Spark start, as a
    # plain script would; the harness starts this worker several times for the median.
    begun = time.perf_counter()
    runs["plain"].record(lambda: plain_run(_fresh(work / "plain")))
    runs["dagster"].record(lambda: dagster_run(_fresh(work / "dagster")))
    shutil.rmtree(work, ignore_errors=True)
    return {
        "partition": partition,
        "spark_conf": spark_conf,
        "variants": {v: r.summary() for v, r in runs.items()},
        "first_spark_session_s": round(spark_start_s[0], 2),
        "spark_starts_per_dagster_run": len(steps),
        "dagster_steps": sorted(steps),
    }


def emr(params: dict[str, Any]) -> dict[str, Any]:
    from bench.cloud import emr as measure

    return measure(params)


def databricks(params: dict[str, Any]) -> dict[str, Any]:
    from bench.cloud import databricks as measure

    return measure(params)


TASKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "abstraction": abstraction,
    "orchestration": orchestration,
    "emr": emr,
    "databricks": databricks,
}


def main() -> None:
    task, params = sys.argv[1], json.loads(sys.argv[2])
    result = TASKS[task](params)
    result["load_at_end"] = load_average()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
