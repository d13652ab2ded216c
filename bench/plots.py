"""PNG plots for docs/benchmarks.md, regenerated from a results dict by every bench run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

from bench.harness import median_ratio

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after choosing the headless backend

__all__ = ["plot_all"]


def plot_all(results: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if "scaling" in results:
        written.append(_scaling(results["scaling"], out_dir / "bench-scaling.png"))
    if "abstraction" in results:
        written.append(_abstraction(results["abstraction"], out_dir / "bench-abstraction.png"))
    return written


def _scaling(scaling: dict[str, Any], path: Path) -> Path:
    fig, (time_ax, mem_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for engine, data in scaling.items():
        ns = [p["n"] for p in data["points"]]
        time_ax.loglog(
            ns, [p["median_s"] for p in data["points"]], "o-", label=f"{engine} (k={data['k']})"
        )
        mem_ax.semilogx(
            ns, [p["max_peak_rss_mib"] for p in data["points"]], "o-", label=f"{engine} Python RSS"
        )
        if engine == "pyspark":
            mem_ax.semilogx(
                ns, [p["max_peak_jvm_mib"] for p in data["points"]], "s--", label="pyspark JVM RSS"
            )
    time_ax.set(xlabel="link records", ylabel="median seconds", title="Pipeline time")
    mem_ax.set(xlabel="link records", ylabel="peak MiB", title="Peak memory")
    for ax in (time_ax, mem_ax):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _abstraction(abstraction: dict[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    labels, values = [], []
    for engine, r in abstraction.items():
        labels += [f"{engine}\nhydra/baseline", f"{engine}\ncontracts on/off"]
        v = r["variants"]
        values += [
            median_ratio(v["hydra"], v["baseline"]),
            median_ratio(v["hydra_contracts"], v["hydra"]),
        ]
    ax.bar(labels, values, color=["tab:blue", "tab:orange"] * len(abstraction))
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set(ylabel="median of per-round ratios", title="Abstraction and contract cost")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
