"""What runs cost, from the project's own records: `hydra cost report` and `hydra plan`.

Every launch records each published asset's share of its cost as materialization metadata
(``cost_usd``, ``platform``, ``instance_hours``, ``wall_s``, ``cost_basis``;
:mod:`hydra_orchestration.cost`); a share whose cost is not known has no ``cost_usd`` and is
left out.
The report reads the recent materializations of every asset from the Dagster instance and
gives, per asset and platform, the median cost and time; the cheapest platform per asset;
and the whole pipeline all on one platform versus each asset on its cheapest — with the run
config that applies the recommendation (``engines``). The plan lists the launches a run will
make and estimates each from that history, or, for assets with none on a remote platform,
from the hourly price of the compute the config describes.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from hydra_orchestration.cost import (
    PriceError,
    PriceTable,
    estimate,
    planned_databricks_usage,
    planned_emr_usage,
)
from hydra_orchestration.plan import Launch, engines_for, plan_launches, step_name
from hydra_orchestration.platforms import PLATFORMS, platform
from hydra_orchestration.settings import Settings
from hydra_transforms.registry import Registry

__all__ = [
    "CostReport",
    "LaunchEstimate",
    "Record",
    "cost_report",
    "estimate_launches",
    "history",
    "plot",
]

RECENT = 20  # materializations per asset the report reads


@dataclass(frozen=True)
class Record:
    """One materialization's cost: ``asset`` on ``platform``."""

    asset: str
    platform: str
    cost_usd: float
    wall_s: float
    run_id: str


def history(
    instance: dg.DagsterInstance, assets: Iterable[str], *, limit: int = RECENT
) -> list[Record]:
    """The cost of each asset's ``limit`` most recent materializations that recorded one."""
    records = []
    for asset in assets:
        found = instance.fetch_materializations(dg.AssetKey(asset), limit=limit).records
        for record in found:
            event = record.asset_materialization
            if event is None:
                continue
            metadata = event.metadata
            if "cost_usd" not in metadata or "platform" not in metadata:
                continue
            records.append(
                Record(
                    asset=asset,
                    platform=str(metadata["platform"].value),
                    cost_usd=float(metadata["cost_usd"].value),  # type: ignore[arg-type]
                    wall_s=float(metadata["wall_s"].value) if "wall_s" in metadata else 0.0,  # type: ignore[arg-type]
                    run_id=record.run_id,
                )
            )
    return records


@dataclass(frozen=True)
class Figure:
    """The median cost and time of ``runs`` materializations of an asset on a platform."""

    cost_usd: float
    wall_s: float
    runs: int


@dataclass(frozen=True)
class CostReport:
    """``figures[asset][platform]``; ``cheapest[asset]``: the platform with the lowest median
    cost (then time); ``totals[platform]``: the pipeline all on that platform (None when an
    asset has no record there); ``best``: each asset on its cheapest."""

    assets: tuple[str, ...]
    platforms: tuple[str, ...]
    figures: Mapping[str, Mapping[str, Figure]]
    cheapest: Mapping[str, str]
    totals: Mapping[str, float | None]
    best: float
    missing: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def engines(self) -> dict[str, str]:
        """The run config's ``engines`` that puts each asset on its cheapest platform."""
        return dict(self.cheapest)

    def render(self, op: str = "<the pipeline's op>") -> str:
        lines = [
            "Median cost (USD) and time (s) per asset and platform, from recent runs:",
            "",
        ]
        head = ["asset", *self.platforms, "cheapest"]
        rows = []
        for asset in self.assets:
            cells = [asset]
            for name in self.platforms:
                fig = self.figures.get(asset, {}).get(name)
                cells.append(
                    f"${fig.cost_usd:.4f} / {_seconds(fig.wall_s)} (n={fig.runs})" if fig else "-"
                )
            cells.append(self.cheapest.get(asset, "-"))
            rows.append(cells)
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        for row in [head, ["-" * w for w in widths], *rows]:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        lines += ["", "The whole pipeline, one run:"]
        for name in self.platforms:
            total = self.totals.get(name)
            if total is None:
                lines.append(
                    f"  all on {name}: unknown (no record of {', '.join(self.missing[name])})"
                )
            else:
                lines.append(f"  all on {name}: ${total:.4f}")
        lines.append(f"  each asset on its cheapest platform: ${self.best:.4f}")
        local = [name for name in self.platforms if not _remote(name)]
        if local:
            lines.append(
                f"  ({', '.join(local)}: $0 is the machine running Dagster, which is not "
                "counted; --remote compares the remote platforms only)"
            )
        if self.cheapest:
            config = {"ops": {op: {"config": {"engines": self.engines()}}}}
            lines += ["", "Apply it to a run (its run config):", "  " + json.dumps(config)]
        return "\n".join(lines)


def _remote(name: str) -> bool:
    return name in PLATFORMS and platform(name).remote


def _seconds(wall_s: float) -> str:
    return f"{wall_s:.1f} s" if wall_s < 10 else f"{wall_s:.0f} s"


def cost_report(
    records: Sequence[Record], assets: Sequence[str], *, remote_only: bool = False
) -> CostReport:
    """The report of ``records`` for ``assets`` (in this order); ``remote_only``: of the
    remote platforms' records only."""
    if remote_only:
        records = [r for r in records if _remote(r.platform)]
    by: dict[str, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        by[record.asset][record.platform].append(record)
    figures = {
        asset: {
            name: Figure(
                cost_usd=statistics.median(r.cost_usd for r in found),
                wall_s=statistics.median(r.wall_s for r in found),
                runs=len(found),
            )
            for name, found in sorted(by[asset].items())
        }
        for asset in assets
        if asset in by
    }
    platforms = tuple(sorted({name for per in figures.values() for name in per}))
    cheapest = {
        asset: min(per, key=lambda name: (per[name].cost_usd, per[name].wall_s))
        for asset, per in figures.items()
    }
    totals: dict[str, float | None] = {}
    missing: dict[str, tuple[str, ...]] = {}
    for name in platforms:
        lacking = tuple(a for a in assets if name not in figures.get(a, {}))
        missing[name] = lacking
        totals[name] = None if lacking else sum(figures[a][name].cost_usd for a in assets)
    best = sum(figures[a][cheapest[a]].cost_usd for a in cheapest)
    return CostReport(
        assets=tuple(assets),
        platforms=platforms,
        figures=figures,
        cheapest=cheapest,
        totals=totals,
        best=best,
        missing=missing,
    )


def plot(report: CostReport, path: Path) -> Path:
    """A grouped bar chart of the median cost per asset and platform, written to ``path``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise RuntimeError(
            f"writing a plot needs matplotlib ({exc}): pip install matplotlib"
        ) from None
    assets = [a for a in report.assets if a in report.figures]
    figure, axes = plt.subplots(figsize=(max(6.0, 1.6 * len(assets)), 4.0))
    width = 0.8 / max(1, len(report.platforms))
    for index, name in enumerate(report.platforms):
        values = [
            report.figures[a][name].cost_usd if name in report.figures[a] else 0.0 for a in assets
        ]
        positions = [i + index * width for i in range(len(assets))]
        axes.bar(positions, values, width=width, label=name)
    axes.set_xticks([i + width * (len(report.platforms) - 1) / 2 for i in range(len(assets))])
    axes.set_xticklabels(assets, rotation=20, ha="right")
    axes.set_ylabel("median cost per run (USD)")
    axes.set_title("Cost per asset and platform")
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


@dataclass(frozen=True)
class LaunchEstimate:
    """One launch of a planned run: its engine and assets, and what it is expected to cost
    and take (None: unknown), with where the figure comes from."""

    launch: Launch
    cost_usd: float | None
    wall_s: float | None
    basis: str


def estimate_launches(
    settings: Settings,
    registry: Registry,
    engine_of: Mapping[str, str],
    records: Sequence[Record],
) -> list[LaunchEstimate]:
    """The launches a run of ``engine_of`` (asset -> engine) makes, each estimated from the
    median of its assets' recorded runs on its engine; a local engine costs nothing; a
    remote launch without history is priced per hour of the configured compute."""
    report = cost_report(records, list(engine_of))
    estimates = []
    for launch in plan_launches(registry, engine_of):
        known = [report.figures.get(a, {}).get(launch.engine) for a in launch.transforms]
        if all(known):
            figures = [f for f in known if f is not None]
            runs = min(f.runs for f in figures)
            estimates.append(
                LaunchEstimate(
                    launch,
                    sum(f.cost_usd for f in figures),
                    sum(f.wall_s for f in figures),
                    f"the median of its assets' recorded runs (at least {runs} each)",
                )
            )
        elif not platform(launch.engine).remote:
            estimates.append(LaunchEstimate(launch, 0.0, None, _unpriced(launch.engine)))
        else:
            estimates.append(LaunchEstimate(launch, None, None, _hourly(settings, launch.engine)))
    return estimates


def _unpriced(engine: str) -> str:
    """Why a launch that starts no compute of the project's own costs nothing here."""
    if platform(engine).backend == "spark-connect":
        return "a Spark Connect server: its machines are not the project's to price"
    return "a local engine: no charge"


def _hourly(settings: Settings, engine: str) -> str:
    """No history: the configured compute's price per hour, as a basis to judge by."""
    try:
        prices = PriceTable.for_config(settings.config.cost)
        if engine == "emr":
            usage: Any = planned_emr_usage(settings.config.emr, 1.0)
        elif engine == "databricks":
            usage = planned_databricks_usage(
                settings.config.databricks,
                1.0,
                serverless_dbu_per_hour=settings.config.cost.databricks.serverless_dbu_per_hour,
            )
        else:
            return f"no recorded run on {engine}; its cost depends on the resources a run uses"
        return (
            f"no recorded run on {engine}: the configured compute costs "
            f"${estimate(usage, prices).usd:.2f} per hour"
        )
    except PriceError as exc:
        return f"no recorded run on {engine}, and no price: {exc}"


def render_plan(estimates: Sequence[LaunchEstimate]) -> str:
    lines = ["The run's launches, in order:"]
    total, unknown = 0.0, False
    for index, item in enumerate(estimates, start=1):
        cost = f"${item.cost_usd:.4f}" if item.cost_usd is not None else "cost unknown"
        wall = f", about {item.wall_s:.0f} s" if item.wall_s is not None else ""
        lines.append(
            f"  {index}. {item.launch.engine}: {', '.join(item.launch.transforms)} — "
            f"{cost}{wall}; {item.basis}"
        )
        if item.cost_usd is None:
            unknown = True
        else:
            total += item.cost_usd
    lines.append(
        f"Estimated total: ${total:.4f}" + (" plus the unknown launches" if unknown else "")
    )
    return "\n".join(lines)


# --- the `hydra cost` and `hydra plan` subcommands (see hydra_transforms.cli) ---


def cost_command(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Per asset and platform, the median cost and time of recent runs (recorded in the "
        "Dagster instance of DAGSTER_HOME), the cheapest platform of each asset, and the "
        "pipeline all on one platform versus each asset on its cheapest."
    )
    sub = parser.add_subparsers(dest="cost_command", required=True)
    report = sub.add_parser("report", help="the cost report")
    report.add_argument("--runs", type=int, default=RECENT, help="recent runs per asset")
    report.add_argument("--png", type=Path, help="also write a bar chart to this file")
    report.add_argument(
        "--remote",
        action="store_true",
        help="compare the remote platforms only (a local engine's machine is not priced)",
    )
    report.set_defaults(command=_report_command, needs_registry=True)


def _instance(home: Path) -> dg.DagsterInstance:
    if not home.is_dir():
        raise FileNotFoundError(
            f"no Dagster instance at {home} (DAGSTER_HOME, or the project's default): run the "
            "pipeline there first, or point DAGSTER_HOME at the instance whose runs to read"
        )
    return dg.DagsterInstance.from_config(str(home))


def _report_command(registry: Registry, args: argparse.Namespace) -> int:
    from hydra_orchestration.settings import dagster_home_from_environment

    assets = [t.name for t in registry.transforms]
    with _instance(dagster_home_from_environment()) as instance:
        records = history(instance, assets, limit=args.runs)
    report = cost_report(records, assets, remote_only=args.remote)
    print(report.render(step_name(registry)))
    if args.png:
        print(f"wrote {plot(report, args.png)}")
    return 0


def plan_command(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "The launches a run would make (engine and assets, in order) and the estimated cost "
        "and time of each, from the recorded runs of its assets."
    )
    parser.add_argument(
        "--engines",
        type=json.loads,
        default={},
        help='per-asset engines, as in run config: \'{"edges": "emr"}\' (the rest: '
        "SPARK_PIPES_ENGINE)",
    )
    parser.set_defaults(command=_plan_command, needs_registry=True)


def _plan_command(registry: Registry, args: argparse.Namespace) -> int:
    from hydra_orchestration.settings import settings_from_environment

    settings = settings_from_environment(require_credentials=False)  # it launches nothing
    names = [t.name for t in registry.transforms]
    engine_of = engines_for(registry, names, default=settings.engine, overrides=args.engines)
    with _instance(settings.dagster_home) as instance:
        records = history(instance, names)
    print(render_plan(estimate_launches(settings, registry, engine_of, records)))
    return 0
