"""The cost report and the plan, from costs recorded as materialization metadata in a real
Dagster instance (the records a launch writes: tests/orchestration/test_emr.py and
test_databricks.py check that launches write them)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from hydra_orchestration.config import DatabricksConfig, DatabricksCostConfig
from hydra_orchestration.cost import (
    DatabricksUsage,
    PriceTable,
    UnpricedUsage,
    estimate,
    planned_emr_usage,
    unknown_cost_metadata,
)
from hydra_orchestration.cost_report import (
    cost_report,
    estimate_launches,
    history,
    plot,
    render_plan,
)
from hydra_orchestration.launchers import LaunchReport
from hydra_orchestration.plan import Launch
from hydra_orchestration.remote.step import StepOutcome
from hydra_transforms.example import registry as example
from tests.orchestration.conftest import (
    demo_settings,
    example_settings,
    failure_messages,
    run_pipeline_job,
)

pytestmark = pytest.mark.cost

ASSETS = [t.name for t in example.transforms]
# Per run: (cost, seconds) of each asset on each platform. EMR is cheaper for the heavy
# assets, Databricks for the light ones; duckdb costs nothing but only ran two of them.
RUNS = {
    "emr": {a: (0.10 if a in ("edges", "graph") else 0.05, 60.0) for a in ASSETS},
    "databricks": {a: (0.20 if a in ("edges", "graph") else 0.02, 50.0) for a in ASSETS},
    "duckdb": {"nodes": (0.0, 3.0), "seed_rejections": (0.0, 1.0)},
}


def _record(instance: dg.DagsterInstance, asset: str, name: str, usd: float, wall: float) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=asset,
            metadata={
                "cost_usd": dg.MetadataValue.float(usd),
                "platform": dg.MetadataValue.text(name),
                "instance_hours": dg.MetadataValue.float(0.0),
                "wall_s": dg.MetadataValue.float(wall),
            },
        )
    )


@pytest.fixture
def instance(tmp_path: Path) -> dg.DagsterInstance:
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    for factor in (0.9, 1.0, 1.3):  # three runs each: the report takes the median
        for name, assets in RUNS.items():
            for asset, (usd, wall) in assets.items():
                _record(instance, asset, name, usd * factor, wall * factor)
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="nodes"))  # no cost
    return instance


def test_the_report_gives_medians_the_cheapest_platform_and_the_pipeline_totals(
    instance: dg.DagsterInstance,
) -> None:
    records = history(instance, ASSETS)
    assert len(records) == 3 * sum(len(a) for a in RUNS.values())  # the costless one left out
    report = cost_report(records, ASSETS)
    assert report.platforms == ("databricks", "duckdb", "emr")
    assert report.figures["edges"]["emr"].cost_usd == pytest.approx(0.10)
    assert report.figures["edges"]["emr"].runs == 3
    assert report.figures["graph_aggr"]["databricks"].wall_s == pytest.approx(50.0)
    assert report.cheapest == {
        "nodes": "duckdb",
        "seed_rejections": "duckdb",
        "edges": "emr",
        "graph": "emr",
        "graph_aggr": "databricks",
    }
    assert report.totals["emr"] == pytest.approx(0.10 * 2 + 0.05 * 3)
    assert report.totals["databricks"] == pytest.approx(0.20 * 2 + 0.02 * 3)
    assert report.totals["duckdb"] is None
    assert report.missing["duckdb"] == ("edges", "graph", "graph_aggr")
    assert report.best == pytest.approx(0.10 * 2 + 0.02)
    text = report.render()
    assert "all on emr: $0.3500" in text
    assert "all on duckdb: unknown (no record of edges, graph, graph_aggr)" in text
    assert "each asset on its cheapest platform: $0.2200" in text
    assert '"edges": "emr"' in text
    assert "(duckdb: $0 is the machine running Dagster, which is not counted" in text

    remote = cost_report(records, ASSETS, remote_only=True)
    assert remote.platforms == ("databricks", "emr")
    assert remote.cheapest == {
        "nodes": "databricks",
        "seed_rejections": "databricks",
        "edges": "emr",
        "graph": "emr",
        "graph_aggr": "databricks",
    }
    assert remote.best == pytest.approx(0.10 * 2 + 0.02 * 3)


def test_the_plot_is_a_png(instance: dg.DagsterInstance, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    report = cost_report(history(instance, ASSETS), ASSETS)
    path = plot(report, tmp_path / "cost.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_plan_estimates_from_history_and_prices_compute_without_any(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    settings = example_settings(tmp_path, "duckdb")
    engine_of = dict.fromkeys(ASSETS, "emr") | {"nodes": "duckdb", "seed_rejections": "duckdb"}
    estimates = estimate_launches(settings, example, engine_of, history(instance, ASSETS))
    assert [e.launch for e in estimates] == [
        Launch("duckdb", ("nodes", "seed_rejections")),
        Launch("emr", ("edges", "graph", "graph_aggr")),
    ]
    assert estimates[0].cost_usd == 0.0
    assert estimates[1].cost_usd == pytest.approx(0.10 * 2 + 0.05)
    assert estimates[1].wall_s == pytest.approx(180.0)
    assert "the median of its assets' recorded runs" in estimates[1].basis

    never_ran = estimate_launches(settings, example, engine_of, [])
    assert never_ran[1].cost_usd is None
    per_hour = estimate(planned_emr_usage(settings.config.emr, 1.0), PriceTable.load()).usd
    assert f"the configured compute costs ${per_hour:.2f} per hour" in never_ran[1].basis
    text = render_plan(never_ran)
    assert "2. emr: edges, graph, graph_aggr — cost unknown" in text
    assert "Estimated total: $0.0000 plus the unknown launches" in text


def test_the_plan_prices_serverless_databricks_per_hour_only_with_an_estimate(
    tmp_path: Path,
) -> None:
    settings = example_settings(tmp_path, "databricks")
    serverless = DatabricksConfig(serverless=True, files="/Volumes/main/hydra/files")
    config = settings.config.model_copy(update={"databricks": serverless})
    engine_of = dict.fromkeys(ASSETS, "databricks")
    unset = dataclasses.replace(settings, config=config)
    (launch,) = estimate_launches(unset, example, engine_of, [])
    assert "no price: [databricks] serverless: how many DBUs" in launch.basis
    estimated = config.model_copy(
        update={
            "cost": config.cost.model_copy(
                update={"databricks": DatabricksCostConfig(serverless_dbu_per_hour=4.0)}
            )
        }
    )
    (launch,) = estimate_launches(
        dataclasses.replace(settings, config=estimated), example, engine_of, []
    )
    per_hour = 4.0 * PriceTable.load().dbu_rate("serverless")
    assert f"the configured compute costs ${per_hour:.2f} per hour" in launch.basis


def test_hydra_cost_report_and_plan_read_dagster_home(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    home = Path(instance.root_directory)
    environ = {k: v for k, v in os.environ.items() if k != "HYDRA_CONFIG"}  # the packaged one
    environ |= {"DAGSTER_HOME": str(home), "SPARK_PIPES_ENGINE": "duckdb"}
    report = _hydra(tmp_path, environ, "cost", "report", "--png", "c.png")
    assert report.returncode == 0, report.stderr
    assert "each asset on its cheapest platform: $0.2200" in report.stdout
    assert '{"ops": {"example_transforms": {"config": {"engines": {' in report.stdout
    assert (tmp_path / "c.png").is_file()
    plan = _hydra(tmp_path, environ, "plan", "--engines", '{"edges": "emr"}')
    assert plan.returncode == 0, plan.stderr
    assert "emr: edges — $0.1000" in plan.stdout
    # A plan launches nothing: it needs no credentials, where a run would (here, on S3).
    config = tmp_path / "hydra.toml"
    config.write_text(
        '[s3]\nbucket = "b"\n[modes.small_dev_sample_s3]\nwarehouse = "{s3}/w"\n'
        '[modes.small_dev_sample_s3.sources]\nseed_nodes = "{s3}/s.csv"\n'
    )
    on_s3 = {k: v for k, v in environ.items() if not k.startswith("ASCII_AWS_")}
    on_s3 |= {
        "HYDRA_CONFIG": str(config),
        "SPARK_PIPES_ENGINE": "emr",
        "SPARK_EXECUTION_MODE": "small_dev_sample_s3",
    }
    plan = _hydra(tmp_path, on_s3, "plan")
    assert plan.returncode == 0, plan.stderr
    assert "emr: " in plan.stdout
    missing = _hydra(
        tmp_path, {**environ, "DAGSTER_HOME": str(tmp_path / "nothing")}, "cost", "report"
    )
    assert missing.returncode == 2
    assert "no Dagster instance at" in missing.stderr


def _hydra(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`hydra <args>` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "hydra_transforms.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.duckdb
def test_every_launch_records_its_cost_and_the_run_logs_its_plan(tmp_path: Path) -> None:
    """On a local engine the cost is zero and the time is the launch's; the second run's
    first lines give its plan from the first run's record."""
    settings = demo_settings(tmp_path, "duckdb", ["1", "2", "3"])
    instance = dg.DagsterInstance.ephemeral()
    first = run_pipeline_job(settings, instance=instance)
    assert first.success, failure_messages(first)
    recorded = {
        e.materialization.asset_key.to_user_string(): e.materialization.metadata
        for e in first.get_asset_materialization_events()
    }
    assert recorded
    for metadata in recorded.values():
        assert metadata["platform"].value == "duckdb"
        assert metadata["cost_usd"].value == 0.0
        assert metadata["instance_hours"].value == 0.0
        assert metadata["wall_s"].value > 0  # type: ignore[operator]
    second = run_pipeline_job(settings, instance=instance)
    assert second.success
    logs = [r.user_message for r in instance.all_logs(second.run_id)]
    plan = next(m for m in logs if m.startswith("The run's launches, in order:"))
    assert "1. duckdb: " in plan
    assert "$0.0000" in plan
    assert "the median of its assets' recorded runs (at least 1 each)" in plan
    assert any(m.startswith("cost of this duckdb launch: $0.0000") for m in logs)


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, message: str) -> None:
        self.lines.append(("info", message))

    def warning(self, message: str) -> None:
        self.lines.append(("warning", message))


class _Context:
    def __init__(self) -> None:
        self.log = _Log()


def _published(*steps: tuple[str, float]) -> list[StepOutcome]:
    return [
        StepOutcome(
            transform=name,
            check_passed=True,
            materialization={"duration_s": {"raw_value": seconds, "type": "float"}},
        )
        for name, seconds in steps
    ]


def _priced(
    settings: Any, outcomes: list[StepOutcome], usage: Any
) -> tuple[_Context, dict[str, Any]]:
    """The cost metadata of a databricks launch of 8 s that reported ``usage``, and what it
    logged."""
    from hydra_orchestration.assets import _costs

    context = _Context()
    report = LaunchReport(outcomes=outcomes, usage=usage)
    return context, _costs(context, settings, "databricks", report, 8.0)  # type: ignore[arg-type]


def test_a_launch_whose_cost_is_not_known_records_time_and_why_and_logs_it_once(
    tmp_path: Path,
) -> None:
    """A remote launch reporting compute it cannot price (serverless DBUs without an
    estimate, a price the table lacks): each published asset gets its share of the launch's
    time, its platform and ``cost_basis`` saying why, without ``cost_usd`` (so the report
    leaves it out); the reason is logged once. A priced usage's basis is its assets'
    ``cost_basis``, and ends the launch's log line."""

    settings = example_settings(tmp_path, "databricks")
    outcomes = _published(("nodes", 3.0), ("edges", 1.0))
    unpriced = UnpricedUsage(platform="databricks", reason="no DBUs reported", wall_s=9.0)
    context, costs = _priced(settings, outcomes, unpriced)
    assert costs == {
        "nodes": unknown_cost_metadata("databricks", 6.0, "no DBUs reported"),
        "edges": unknown_cost_metadata("databricks", 2.0, "no DBUs reported"),
    }
    assert context.log.lines == [
        ("info", "the cost of this databricks launch is not known: no DBUs reported")
    ]

    unknown_type = DatabricksUsage(compute="jobs", node_type="z9.xlarge", hours=1.0)
    context, costs = _priced(settings, outcomes, unknown_type)
    ((level, line),) = context.log.lines
    assert level == "warning"
    assert line.startswith("the cost of this databricks launch is not known: no prices for ")
    assert costs["nodes"]["cost_basis"]["raw_value"].startswith("unknown: no prices for ")
    assert "cost_usd" not in costs["nodes"]

    estimated = DatabricksUsage(
        compute="serverless", dbu_hours=2.0, hours=0.5, basis="estimated: 4 DBU/h"
    )
    context, costs = _priced(settings, outcomes, estimated)
    usd = 2.0 * PriceTable.load().dbu_rate("serverless")
    assert costs["nodes"]["cost_basis"] == {"raw_value": "estimated: 4 DBU/h", "type": "text"}
    assert costs["nodes"]["cost_usd"]["raw_value"] + costs["edges"]["cost_usd"][
        "raw_value"
    ] == pytest.approx(usd, abs=2e-6)
    ((_, line),) = context.log.lines
    assert (
        line
        == f"cost of this databricks launch: ${usd:.4f} (0.000 instance-hours, 8.0 s); estimated: 4 DBU/h"
    )
