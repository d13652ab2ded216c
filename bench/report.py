"""Render a results dict as the generated tables of docs/benchmarks.md (between markers)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bench.harness import median_ratio

__all__ = ["render", "update_doc"]


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _verdict(value: float | None, goal: float, *, runs: int = 3) -> str:
    if value is None:
        return "not measured"
    verdict = "met" if value <= goal else "**missed**"
    return verdict + (f" (n={runs}: indicative only)" if runs < 3 else "")


def _loads(runs: dict[str, Any]) -> str:
    loads = [x for v in runs.values() for x in v.get("load", [])]
    return f"{min(loads):.1f} to {max(loads):.1f}" if loads else "?"


def render(results: dict[str, Any]) -> str:
    def command(suite: str, engine: str = "") -> str:
        commands = results.get("commands", {})
        found = commands.get(f"{suite}:{engine}") or commands.get(suite)
        return f"`{found or results.get('command', '?')}`"

    lines = [
        _row("measure", "figure", "goal", "verdict", "load (1 min)", "command"),
        _row(*["---"] * 6),
    ]
    for engine, r in results.get("abstraction", {}).items():
        goal = 1.10 if engine == "duckdb" else 1.05
        v = r["variants"]
        n_runs = len(v["hydra"]["seconds"])
        abstraction = median_ratio(v["hydra"], v["baseline"])
        contracts = median_ratio(v["hydra_contracts"], v["hydra"])
        lines.append(
            _row(
                f"abstraction {engine}, {r['n']:,} links: hydra / hand-written "
                f"({v['hydra']['median_s']:.2f} s / {v['baseline']['median_s']:.2f} s, "
                f"n={n_runs}), parity {'equal' if r['parity_equal'] else 'DIFFERENT'}",
                f"{abstraction:.3f}x",
                f"≤ {goal:.2f}x",
                _verdict(abstraction, goal, runs=n_runs),
                _loads(v),
                command("abstraction", engine),
            )
        )
        lines.append(
            _row(
                f"contracts on / off, {engine}, {r['n']:,} links (peak Python RSS "
                f"{v['hydra_contracts']['max_peak_rss_mib']:.0f} / {v['hydra']['max_peak_rss_mib']:.0f} MiB"
                + (
                    f"; JVM {v['hydra_contracts']['max_peak_jvm_mib']:.0f} / {v['hydra']['max_peak_jvm_mib']:.0f} MiB)"
                    if engine == "pyspark"
                    else ")"
                ),
                f"{contracts:.3f}x",
                "≤ 1.10x",
                _verdict(contracts, 1.10, runs=n_runs),
                _loads(v),
                command("abstraction", engine),
            )
        )
    for engine, s in results.get("scaling", {}).items():
        points = ", ".join(
            f"{p['n']:,}: {p['median_s']:.2f} s / {p['max_peak_rss_mib']:.0f} MiB"
            + (f" + JVM {p['max_peak_jvm_mib']:.0f} MiB" if engine == "pyspark" else "")
            for p in s["points"]
        )
        loads = {str(i): p for i, p in enumerate(s["points"])}
        lines.append(
            _row(
                f"scaling {engine} ({points})",
                f"k = {s['k']}",
                "(reported)",
                "—",
                _loads(loads),
                command("scaling", engine),
            )
        )
    if d := results.get("devloop"):
        lines.append(
            _row(
                f"dev loop: `{d['pyspark']['command']}` / `{d['duckdb']['command']}` "
                f"({d['pyspark']['median_s']:.1f} s / {d['duckdb']['median_s']:.1f} s)",
                f"{d['ratio_pyspark_vs_duckdb']:.1f}x; DuckDB {d['duckdb']['median_s']:.1f} s",
                "≥ 20x and < 5 s",
                (
                    "met"
                    if d["ratio_pyspark_vs_duckdb"] >= 20 and d["duckdb"]["median_s"] < 5
                    else "**missed**"
                )
                + (" (n=1)" if len(d["duckdb"]["runs"]) < 3 else ""),
                f"{d['duckdb']['runs'][0]['load']:.1f}, {d['pyspark']['runs'][0]['load']:.1f}",
                command("devloop"),
            )
        )
    if m := results.get("memory"):
        lines.append(
            _row(
                f'DuckDB with `[duckdb] memory_limit = "{m["memory_limit"]}"`, {m["n"]:,} links, '
                "contracts on (spills to the temporary directory)",
                f"{m['median_s']:.1f} s, peak RSS {m['max_peak_rss_mib']:,.0f} MiB",
                "completes",
                "met",
                _loads({"0": m}),
                command("memory"),
            )
        )
    orchestration = results.get("orchestration", {})
    if "median_s" in orchestration:  # results of an earlier layout: one data set
        orchestration = {"sample": orchestration}
    for label, o in orchestration.items():
        med = o["median_s"]
        starts = o.get("spark_starts_per_dagster_run", "?")
        lines.append(
            _row(
                f"orchestration: Dagster job (pyspark, Pipes) / plain script, {label}, one crawl "
                f"({med['dagster']:.1f} s / {med['plain']:.1f} s; {starts} Spark start(s) per "
                f"Dagster run, one session start {o['spark_session_start_s']:.1f} s)",
                f"{o['ratio_dagster_vs_plain']:.2f}x",
                "≤ 1.5x",
                _verdict(o["ratio_dagster_vs_plain"], 1.5, runs=len(o["runs"])),
                _loads({str(i): r["variants"]["dagster"] for i, r in enumerate(o["runs"])}),
                command("orchestration"),
            )
        )
    if e := results.get("emr"):
        ph = e["emr_phases_median"]
        lines.append(
            _row(
                "emr (the offline EMR) / pyspark (a local Spark subprocess), both through Pipes "
                f"on the S3 sample, one crawl, one Spark core ({e['variants']['emr']['median_s']:.1f}"
                f" s / {e['variants']['pyspark']['median_s']:.1f} s; EMR launch: bundle build "
                f"{e['bundle_build_s']} s, ship {ph['ship_s']} s, cluster start and bootstrap "
                f"{ph['start_s']} s, step {ph['step_s']} s, poll lag {ph['poll_lag_s']} s at "
                f"{e['poll_interval_s']} s polling, logs and termination {ph['after_s']} s)",
                f"{e['ratio_emr_vs_pyspark']:.2f}x",
                "≤ 1.5x",
                _verdict(e["ratio_emr_vs_pyspark"], 1.5, runs=len(e["emr_phases"])),
                _loads({"0": e["variants"]["emr"], "1": e["variants"]["pyspark"]}),
                command("emr"),
            )
        )
    if d := results.get("databricks"):
        for name, where in (
            ("databricks", "a job cluster"),
            ("databricks-serverless", "serverless, Pipes through a UC volume"),
        ):
            ph = d["phases_median"][name]
            lines.append(
                _row(
                    f"{name} (the offline Databricks, {where}) / pyspark (a local Spark "
                    "subprocess), both through Pipes on the S3 sample, one crawl, one Spark core "
                    f"({d['variants'][name]['median_s']:.1f} s / "
                    f"{d['variants']['pyspark']['median_s']:.1f} s; launch: ship {ph['ship_s']} "
                    f"s, run pending {ph['start_s']} s, task {ph['step_s']} s, poll lag "
                    f"{ph['poll_lag_s']} s at {d['poll_interval_s']} s polling, logs and clean-up "
                    f"{ph['after_s']} s)",
                    f"{d[f'ratio_{name}_vs_pyspark']:.2f}x",
                    "≤ 1.5x",
                    _verdict(d[f"ratio_{name}_vs_pyspark"], 1.5, runs=len(d["phases"][name])),
                    _loads({"0": d["variants"][name], "1": d["variants"]["pyspark"]}),
                    command("databricks"),
                )
            )
    m = results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    head = (
        f"Machine: {m['platform']}, {m['cpus']} CPUs, {m['memory_gib']} GiB; Python {m['python']}; "
        f"{versions}. Load average at start {m['load_at_start']}, at end "
        f"{results.get('load_at_end', '?')}."
    )
    return head + "\n\n" + "\n".join(lines) + "\n"


def update_doc(doc: Path, results: dict[str, Any]) -> None:
    """Replace the block between the profile's markers (append it if there are none)."""
    begin = f"<!-- bench:{results['profile']}:begin -->"
    end = f"<!-- bench:{results['profile']}:end -->"
    block = f"{begin}\n{render(results)}{end}"
    text = doc.read_text() if doc.exists() else ""
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _: block, text) if pattern.search(text) else text + "\n" + block + "\n"
    )
    doc.write_text(text)
