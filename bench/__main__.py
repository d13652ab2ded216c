"""Benchmarks: ``python -m bench --quick`` (make bench, < 10 min) or ``--full``.

Prints every ratio as it is measured, writes ``bench/results/<profile>.json`` and the PNG
plots in ``docs/img/``. Generated data and scratch outputs go to ``bench/results/raw/``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import ROOT, call_worker, load_average, median_ratio, timed_process

RAW = ROOT / "bench" / "results" / "raw"
RESULTS = ROOT / "bench" / "results"
PARTITION = "CC-MAIN-2024-10"
SAMPLE = ROOT / "data" / "sample"
ENGINES = ("duckdb", "pyspark")
ENGINES_SELECTED = set(ENGINES)  # --engines: which engines the abstraction and scaling suites run
PER_ENGINE = ("abstraction", "scaling")  # suites whose results are keyed by engine


@dataclass(frozen=True)
class Profile:
    name: str
    duckdb_sizes: tuple[int, ...]
    spark_sizes: tuple[int, ...]
    duckdb_abstraction: int
    spark_abstraction: int
    repeats: int
    spark_repeats: int
    devloop_repeats: int
    orchestration_repeats: int
    orchestration_sizes: tuple[int, ...] = ()  # generated data sets beside data/sample
    emr_rounds: int = 3  # the example on the offline EMR vs local Spark, interleaved
    databricks_rounds: int = 3  # the same on the offline Databricks (job cluster, serverless)
    single_run_from: int = 10**18  # sizes from here on are timed once (minutes per run)
    # DuckDB with a memory limit, on data larger than that limit: it must spill, not fail.
    memory_size: int = 10_000_000
    memory_limit: str = "1GB"


PROFILES = {
    # Spark on this shared 2-core machine takes minutes per run at 10^6 links (7.4 min measured
    # under load): quick compares Spark at 10^5 with one timed run after a warm-up.
    "quick": Profile(
        name="quick",
        duckdb_sizes=(100_000, 1_000_000),
        spark_sizes=(10_000, 100_000),
        duckdb_abstraction=1_000_000,
        spark_abstraction=100_000,
        repeats=3,
        spark_repeats=1,
        devloop_repeats=1,
        orchestration_repeats=1,
        emr_rounds=1,
        databricks_rounds=1,
    ),
    # The sizes. About an hour on an idle 2-core machine: the largest runs (DuckDB at
    # 10^8, Spark at 10^7) take minutes each and are timed once.
    "full": Profile(
        name="full",
        duckdb_sizes=(100_000, 1_000_000, 10_000_000, 100_000_000),
        spark_sizes=(100_000, 1_000_000, 10_000_000),
        duckdb_abstraction=10_000_000,
        spark_abstraction=10_000_000,
        repeats=3,
        spark_repeats=1,
        devloop_repeats=3,
        orchestration_repeats=3,
        orchestration_sizes=(1_000_000,),
        single_run_from=100_000_000,
        memory_size=300_000_000,
        memory_limit="8GB",
    ),
}


def _data(n: int) -> Path:
    from hydra_transforms.example.generate import generate_crawl_records

    out = RAW / "data" / f"n{n}"
    if not (out / "seed_nodes.csv").exists():
        generate_crawl_records(n, out_dir=out)
    return out


def _say(text: str) -> None:
    print(text, flush=True)


def _pipeline_runs(
    p: Profile, engine: str, n: int, *, work: Path, **variants: Any
) -> dict[str, Any]:
    """One worker timing the example pipeline on ``engine`` at ``n`` links."""
    return call_worker(
        "abstraction",
        engine=engine,
        data=str(_data(n)),
        work=str(work),
        repeats=variants.pop("repeats_override", None)
        or (1 if n >= p.single_run_from else p.repeats if engine == "duckdb" else p.spark_repeats),
        warmup_data=str(SAMPLE) if engine == "pyspark" else None,
        **variants,
    )


def abstraction(p: Profile, results: dict[str, Any]) -> None:
    for engine, n in (("duckdb", p.duckdb_abstraction), ("pyspark", p.spark_abstraction)):
        if engine not in ENGINES_SELECTED:
            continue
        r = _pipeline_runs(p, engine, n, work=RAW / "work" / f"{engine}-{n}")
        r["n"] = n
        v = r["variants"]
        r["ratio_hydra_vs_baseline"] = median_ratio(v["hydra"], v["baseline"])
        r["ratio_contracts_on_vs_off"] = median_ratio(v["hydra_contracts"], v["hydra"])
        results.setdefault("abstraction", {})[engine] = r
        _say(
            f"abstraction {engine} n={n:,}: hydra/baseline = {r['ratio_hydra_vs_baseline']}"
            f" (parity {'equal' if r['parity_equal'] else 'DIFFERENT'}); "
            f"contracts on/off = {r['ratio_contracts_on_vs_off']}"
        )


def scaling(p: Profile, results: dict[str, Any]) -> None:
    import numpy as np

    done = results.get("abstraction", {})
    for engine, sizes in (("duckdb", p.duckdb_sizes), ("pyspark", p.spark_sizes)):
        if engine not in ENGINES_SELECTED:
            continue
        points = []
        for n in sizes:
            if done.get(engine, {}).get("n") == n:
                v = done[engine]["variants"]["hydra"]
            else:
                work = RAW / "work" / f"scale-{engine}-{n}"
                r = _pipeline_runs(p, engine, n, work=work, baseline=False, contracts=False)
                v = r["variants"]["hydra"]
            points.append({"n": n, **v})
            _say(
                f"scaling {engine} n={n:,}: {v['median_s']:.2f} s, peak {v['max_peak_rss_mib']} MiB"
            )
        k = None
        if len(points) > 1:
            x = np.log([pt["n"] for pt in points])
            y = np.log([pt["median_s"] for pt in points])
            k = round(float(np.polyfit(x, y, 1)[0]), 3)
        results.setdefault("scaling", {})[engine] = {"points": points, "k": k}
        _say(f"scaling {engine}: time ~ n^{k}")


def devloop(p: Profile, results: dict[str, Any]) -> None:
    out: dict[str, Any] = {}
    for mark in ("duckdb", "pyspark"):
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            mark,
            "tests/example",
            "tests/transforms",
            "tests/semantics",
        ]
        # DuckDB's loop takes seconds: always time it several times (the median is quoted).
        repeats = p.devloop_repeats if mark == "pyspark" else max(5, p.devloop_repeats)
        runs = [timed_process(cmd) for _ in range(repeats)]
        out[mark] = {
            "command": " ".join(["python", *cmd[1:]]),
            "runs": runs,
            "median_s": round(sorted(r["seconds"] for r in runs)[len(runs) // 2], 2),
        }
        _say(f"devloop {mark}: {out[mark]['median_s']} s ({runs[-1]['tail']})")
    out["ratio_pyspark_vs_duckdb"] = round(
        out["pyspark"]["median_s"] / out["duckdb"]["median_s"], 2
    )
    results["devloop"] = out
    _say(f"devloop: pyspark/duckdb = {out['ratio_pyspark_vs_duckdb']}")


def orchestration(p: Profile, results: dict[str, Any]) -> None:
    import statistics

    out: dict[str, Any] = {}
    for label, data in (("sample", None), *((f"n{n}", _data(n)) for n in p.orchestration_sizes)):
        runs = [
            call_worker(
                "orchestration",
                work=str(RAW / "work" / "orch"),
                partition=PARTITION,
                data=str(data) if data else None,
            )
            for _ in range(p.orchestration_repeats)
        ]
        med = {
            v: statistics.median(r["variants"][v]["median_s"] for r in runs)
            for v in ("dagster", "plain")
        }
        start = statistics.median(r["first_spark_session_s"] for r in runs)
        out[label] = {
            "runs": runs,
            "median_s": med,
            "ratio_dagster_vs_plain": round(med["dagster"] / med["plain"], 2),
            "spark_session_start_s": round(start, 2),
            "spark_starts_per_dagster_run": runs[0]["spark_starts_per_dagster_run"],
        }
        _say(
            f"orchestration ({label}, {PARTITION}): dagster/plain = "
            f"{out[label]['ratio_dagster_vs_plain']} "
            f"({med['dagster']:.1f} s vs {med['plain']:.1f} s; one Spark start {start:.1f} s)"
        )
    results["orchestration"] = out


def emr(p: Profile, results: dict[str, Any]) -> None:
    """The example on the sample through the offline EMR vs the same step on local Spark
    through Pipes (bench/cloud.py), rounds interleaved in one process."""
    r = call_worker(
        "emr",
        root=str(ROOT),
        work=str(RAW / "work" / "emr"),
        rounds=p.emr_rounds,
        poll_interval_s=1.0,
        phase_s=0.1,
    )
    results["emr"] = r
    phases = ", ".join(f"{k} {v}" for k, v in r["emr_phases_median"].items())
    _say(
        f"emr: emr/pyspark = {r['ratio_emr_vs_pyspark']} "
        f"({r['variants']['emr']['median_s']:.1f} s vs {r['variants']['pyspark']['median_s']:.1f} s;"
        f" bundle build {r['bundle_build_s']} s; emr phases: {phases})"
    )


def databricks(p: Profile, results: dict[str, Any]) -> None:
    """The example on the sample through the offline Databricks, on a job cluster and on
    serverless, vs the same step on local Spark through Pipes (bench/cloud.py), rounds
    interleaved in one process."""
    r = call_worker(
        "databricks",
        root=str(ROOT),
        work=str(RAW / "work" / "databricks"),
        rounds=p.databricks_rounds,
        poll_interval_s=1.0,
        phase_s=0.1,
    )
    results["databricks"] = r
    for name, phases in r["phases_median"].items():
        shown = ", ".join(f"{k} {v}" for k, v in phases.items())
        _say(
            f"{name}: /pyspark = {r[f'ratio_{name}_vs_pyspark']} "
            f"({r['variants'][name]['median_s']:.1f} s vs "
            f"{r['variants']['pyspark']['median_s']:.1f} s; phases: {shown})"
        )


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    import psutil

    return {
        "platform": platform.platform(),
        "cpus": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "versions": {
            pkg: version(pkg)
            for pkg in ("duckdb", "ibis-framework", "pyspark", "pandera", "dagster")
        },
        "load_at_start": load_average(),
    }


def memory(p: Profile, results: dict[str, Any]) -> None:
    """The DuckDB pipeline with the project config's `[duckdb] memory_limit` on more data than
    fits in it: it completes by spilling to the temporary directory."""
    n, limit = p.memory_size, p.memory_limit
    spill = RAW / "work" / "duckdb-spill"
    r = _pipeline_runs(
        p,
        "duckdb",
        n,
        work=RAW / "work" / f"memory-{n}",
        baseline=False,
        plain=False,  # the pipeline as it runs for users: with its contracts
        contracts=True,
        repeats_override=1,
        duckdb_config={"memory_limit": limit, "temp_directory": str(spill)},
    )
    v = r["variants"]["hydra_contracts"]
    results["memory"] = {"n": n, "memory_limit": limit, **v}
    _say(
        f"memory duckdb n={n:,} memory_limit={limit}: {v['median_s']:.1f} s, peak {v['max_peak_rss_mib']} MiB"
    )


SUITES = {
    "abstraction": abstraction,
    "scaling": scaling,
    "devloop": devloop,
    "orchestration": orchestration,
    "memory": memory,
    "emr": emr,
    "databricks": databricks,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="the make bench run (default)")
    group.add_argument("--full", action="store_true", help="larger sizes, more repeats")
    parser.add_argument("--only", nargs="+", choices=list(SUITES), default=list(SUITES))
    parser.add_argument(
        "--engines",
        nargs="+",
        choices=ENGINES,
        default=list(ENGINES),
        help="engines for the abstraction and scaling suites (the others keep earlier figures)",
    )
    parser.add_argument(
        "--render", action="store_true", help="only redo the plots and doc tables from the JSON"
    )
    args = parser.parse_args(argv)
    profile = PROFILES["full" if args.full else "quick"]
    path = RESULTS / f"{profile.name}.json"
    if args.render:
        results = json.loads(path.read_text())
    else:
        ENGINES_SELECTED.clear()
        ENGINES_SELECTED.update(args.engines)
        results = measure(profile, args.only, args.engines)
        if (args.only != list(SUITES) or args.engines != list(ENGINES)) and path.exists():
            # A subset run replaces only its suites (and engines); the rest keep their figures.
            earlier = json.loads(path.read_text())
            for suite in PER_ENGINE:
                if suite in results and suite in earlier:
                    results[suite] = {**earlier[suite], **results[suite]}
            commands = {**earlier.get("commands", {}), **results["commands"]}
            results = {**earlier, **results, "commands": commands}
        path.write_text(json.dumps(results, indent=1) + "\n")
        _say(f"wrote {path.relative_to(ROOT)}")
    publish(results)


def measure(profile: Profile, suites: list[str], engines: list[str]) -> dict[str, Any]:
    command = f"python -m bench --{profile.name}"
    if suites != list(SUITES):
        command += " --only " + " ".join(suites)
    if engines != list(ENGINES):
        command += " --engines " + " ".join(engines)
    results: dict[str, Any] = {"profile": profile.name, "machine": machine(), "commands": {}}
    partial = RAW / f"{profile.name}.partial.json"
    partial.parent.mkdir(parents=True, exist_ok=True)
    for name in suites:
        SUITES[name](profile, results)
        for key in [f"{name}:{e}" for e in engines] if name in PER_ENGINE else [name]:
            results["commands"][key] = command
        partial.write_text(json.dumps(results, indent=1) + "\n")  # survives a later failure
    results["load_at_end"] = load_average()
    return results


def publish(results: dict[str, Any]) -> None:
    from bench.plots import plot_all
    from bench.report import update_doc

    if results["profile"] == "full":  # the plots in the docs show the full profile's figures
        for png in plot_all(results, ROOT / "docs" / "img"):
            _say(f"wrote {png.relative_to(ROOT)}")
    update_doc(ROOT / "docs" / "benchmarks.md", results)
    _say("updated docs/benchmarks.md")


if __name__ == "__main__":
    main()
