"""The cost model: prices from the packaged table (and the project config's overrides), the cost
of what each platform reports, and a launch's cost shared among its assets.

Expected figures are worked out here by hand, from the entries of prices.toml as read with
tomllib, never by calling the model a second time."""

from __future__ import annotations

import datetime
import math
import tomllib
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hydra_orchestration.config import (
    ConfigError,
    DatabricksAutoscale,
    DatabricksConfig,
    EmrConfig,
    FleetConfig,
    TaskFleetConfig,
    parse_config,
)
from hydra_orchestration.cost import (
    Cost,
    CostConfig,
    DatabricksUsage,
    EmrNodes,
    EmrServerlessUsage,
    EmrUsage,
    LocalUsage,
    PriceError,
    PriceTable,
    UnpricedUsage,
    cost_metadata,
    estimate,
    planned_databricks_usage,
    planned_emr_usage,
    split,
    unknown_cost_metadata,
)

pytestmark = pytest.mark.cost

TYPES = [
    "m5.xlarge",
    "m5.2xlarge",
    "m6i.xlarge",
    "m6i.2xlarge",
    "r5.xlarge",
    "i3.xlarge",
    "c5.xlarge",
]


def raw() -> dict[str, Any]:
    text = resources.files("hydra_orchestration").joinpath("prices.toml").read_text("utf-8")
    return tomllib.loads(text)


RAW = raw()
US = RAW["regions"]["us-east-1"]
EU = RAW["regions"]["eu-west-1"]


def close(value: float) -> Any:
    return pytest.approx(value, rel=1e-12, abs=1e-12)


# The table.


def test_table_has_its_date_source_and_every_price_in_both_regions() -> None:
    assert isinstance(RAW["date"], datetime.date)
    assert "approximate; check your own contract" in RAW["source"]
    assert set(PriceTable.regions()) >= {"us-east-1", "eu-west-1"}
    for region in ("us-east-1", "eu-west-1"):
        table = PriceTable.load(region)
        assert table.date == RAW["date"]
        assert table.source == RAW["source"]
        assert table.overridden == ()
        for name in TYPES:
            rates = table.instance(name)
            assert rates.spot is not None
            assert rates.emr is not None
            assert rates.dbu is not None
            assert 0 < rates.spot < rates.on_demand, name
            assert 0 < rates.emr < rates.on_demand, name
        for arch in ("x86_64", "arm64"):
            assert table.serverless(arch).vcpu_hour > 0
        assert table.dbu_rate("jobs") < table.dbu_rate("all-purpose")
    assert PriceTable.load().describe() == f"us-east-1 list prices of {RAW['date']} (prices.toml)"


# EMR.


def test_emr_is_instance_hours_at_the_instance_price_plus_the_emr_charge() -> None:
    usage = EmrUsage(
        (
            EmrNodes("m5.xlarge", "ON_DEMAND", 1, 2.0, fleet="primary"),
            EmrNodes("m5.xlarge", "ON_DEMAND", 2, 2.0, fleet="core"),
            EmrNodes("m5.2xlarge", "SPOT", 3, 1.5, fleet="task"),
        ),
        wall_s=7300.0,
    )
    m5, m5x2 = US["instances"]["m5.xlarge"], US["instances"]["m5.2xlarge"]
    ec2 = 3 * 2.0 * m5["on_demand"] + 3 * 1.5 * m5x2["spot"]
    emr = 3 * 2.0 * m5["emr"] + 3 * 1.5 * m5x2["emr"]

    cost = estimate(usage, PriceTable.load())

    assert cost.platform == "emr"
    assert cost.usd == close(ec2 + emr)
    assert cost.breakdown == {"ec2": close(ec2), "emr": close(emr)}
    assert cost.instance_hours == close(10.5)
    assert cost.wall_s == 7300.0


def test_emr_spot_costs_the_spot_estimate_and_on_demand_the_list_price() -> None:
    table = PriceTable.load("eu-west-1")
    for name in TYPES:
        prices = EU["instances"][name]
        on_demand = estimate(EmrUsage((EmrNodes(name, "ON_DEMAND", 4, 0.5),)), table)
        spot = estimate(EmrUsage((EmrNodes(name, "SPOT", 4, 0.5),)), table)
        assert on_demand.usd == close(2.0 * (prices["on_demand"] + prices["emr"]))
        assert spot.usd == close(2.0 * (prices["spot"] + prices["emr"]))
        assert spot.usd < on_demand.usd
        assert spot.wall_s == on_demand.wall_s == 1800.0


def test_emr_counts_ebs_only_when_a_usage_reports_volumes() -> None:
    usage = EmrUsage((EmrNodes("r5.xlarge", "ON_DEMAND", 2, 3.0, ebs_gb=64),))
    r5 = US["instances"]["r5.xlarge"]
    ebs = 2 * 3.0 * 64 * US["ebs_gb_month"] / RAW["hours_per_month"]

    cost = estimate(usage, PriceTable.load())

    assert cost.breakdown["ebs"] == close(ebs)
    assert cost.usd == close(6.0 * (r5["on_demand"] + r5["emr"]) + ebs)
    assert (
        "ebs"
        not in estimate(
            EmrUsage((EmrNodes("r5.xlarge", "SPOT", 1, 1),)), PriceTable.load()
        ).breakdown
    )


def test_usage_values_are_checked() -> None:
    with pytest.raises(ValueError, match=r"market 'RESERVED' is not one of ON_DEMAND, SPOT"):
        EmrNodes("m5.xlarge", "RESERVED", 1, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"EmrNodes: hours must be a finite number >= 0, not -1"):
        EmrNodes("m5.xlarge", "SPOT", 1, -1)
    with pytest.raises(ValueError, match=r"spot_share is a share of worker-hours, from 0 to 1"):
        DatabricksUsage(compute="jobs", node_type="i3.xlarge", hours=1, spot_share=1.5)
    with pytest.raises(
        ValueError, match=r"compute 'sql' is not one of jobs, all-purpose, serverless"
    ):
        DatabricksUsage(compute="sql", node_type="i3.xlarge")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"jobs compute needs node_type"):
        DatabricksUsage(compute="jobs", hours=1)


# EMR Serverless.


def test_emr_serverless_is_billed_vcpu_memory_and_storage_hours() -> None:
    billed = {"vCPUHour": 10.5, "memoryGBHour": 42.0, "storageGBHour": 30.0}
    x86 = US["emr-serverless"]["x86_64"]
    expected = 10.5 * x86["vcpu_hour"] + 42.0 * x86["gb_hour"] + 30.0 * x86["storage_gb_hour"]

    cost = estimate(EmrServerlessUsage.from_billed(billed, wall_s=900.0), PriceTable.load())

    assert cost.platform == "emr-serverless"
    assert cost.usd == close(expected)
    assert cost.breakdown == {
        "vcpu": close(10.5 * x86["vcpu_hour"]),
        "memory": close(42.0 * x86["gb_hour"]),
        "storage": close(30.0 * x86["storage_gb_hour"]),
    }
    assert cost.instance_hours == 0.0
    assert cost.wall_s == 900.0
    arm = estimate(EmrServerlessUsage.from_billed(billed, architecture="ARM64"), PriceTable.load())
    arm64 = US["emr-serverless"]["arm64"]
    assert arm.usd == close(
        10.5 * arm64["vcpu_hour"] + 42.0 * arm64["gb_hour"] + 30.0 * arm64["storage_gb_hour"]
    )
    assert arm.usd < cost.usd


# Databricks.


def test_databricks_job_cluster_is_dbus_at_the_jobs_rate_plus_instances() -> None:
    usage = DatabricksUsage(
        compute="jobs",
        driver_node_type="m5.xlarge",
        node_type="i3.xlarge",
        workers=4,
        hours=1.5,
        spot_share=0.5,
    )
    driver, worker = US["instances"]["m5.xlarge"], US["instances"]["i3.xlarge"]
    dbus = 1.5 * driver["dbu"] + 4 * 1.5 * worker["dbu"]
    ec2 = 1.5 * driver["on_demand"] + 6.0 * (0.5 * worker["on_demand"] + 0.5 * worker["spot"])

    cost = estimate(usage, PriceTable.load())

    assert cost.platform == "databricks"
    assert cost.breakdown == {"dbu": close(dbus * US["dbu_rates"]["jobs"]), "ec2": close(ec2)}
    assert cost.usd == close(dbus * US["dbu_rates"]["jobs"] + ec2)
    assert cost.instance_hours == close(7.5)
    assert cost.wall_s == 5400.0


def test_databricks_all_purpose_costs_its_rate_and_spot_workers_cost_less() -> None:
    shape = {"node_type": "r5.xlarge", "workers": 2.0, "hours": 2.0}
    table = PriceTable.load()
    jobs = estimate(DatabricksUsage(compute="jobs", **shape), table)
    all_purpose = estimate(DatabricksUsage(compute="all-purpose", **shape), table)
    spot = estimate(DatabricksUsage(compute="jobs", spot_share=1.0, **shape), table)
    r5 = US["instances"]["r5.xlarge"]

    assert all_purpose.breakdown["dbu"] == close(
        3 * 2.0 * r5["dbu"] * US["dbu_rates"]["all_purpose"]
    )
    assert all_purpose.breakdown["ec2"] == jobs.breakdown["ec2"] == close(6.0 * r5["on_demand"])
    assert spot.breakdown["ec2"] == close(2.0 * r5["on_demand"] + 4.0 * r5["spot"])
    assert spot.usd < jobs.usd < all_purpose.usd


def test_databricks_serverless_is_the_reported_dbus_at_the_serverless_rate() -> None:
    usage = DatabricksUsage(compute="serverless", dbu_hours=12.5, wall_s=600.0)

    cost = estimate(usage, PriceTable.load())

    assert cost.usd == close(12.5 * US["dbu_rates"]["serverless_jobs"])
    assert cost.breakdown == {"dbu": cost.usd}
    assert cost.instance_hours == 0.0
    assert cost.wall_s == 600.0
    with pytest.raises(ValueError, match=r"serverless compute needs dbu_hours .* not published"):
        DatabricksUsage(compute="serverless", hours=1.0)


# clusters/get's answer for an all-purpose cluster (its JSON, as the SDK's as_dict gives it).
NAMED_CLUSTER = {
    "cluster_id": "0101-000000-team",
    "node_type_id": "m6i.2xlarge",
    "driver_node_type_id": "m6i.xlarge",
    "num_workers": 4,
    "aws_attributes": {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 2},
    "state": "RUNNING",
}


def test_a_named_cluster_is_its_reported_shape_at_the_all_purpose_rate() -> None:
    usage = DatabricksUsage.from_cluster(NAMED_CLUSTER, 0.5, basis="the run's occupancy")
    assert (usage.compute, usage.driver_node_type, usage.node_type, usage.workers) == (
        "all-purpose",
        "m6i.xlarge",
        "m6i.2xlarge",
        4,
    )
    assert usage.spot_share == 0.75  # first_on_demand 2: the driver and one worker
    driver, worker = US["instances"]["m6i.xlarge"], US["instances"]["m6i.2xlarge"]
    dbus = 0.5 * (driver["dbu"] + 4 * worker["dbu"])
    ec2 = 0.5 * (driver["on_demand"] + worker["on_demand"] + 3 * worker["spot"])

    cost = estimate(usage, PriceTable.load())

    assert cost.breakdown == {
        "dbu": close(dbus * US["dbu_rates"]["all_purpose"]),
        "ec2": close(ec2),
    }
    assert cost.instance_hours == close(2.5)
    assert cost.basis == "the run's occupancy"
    assert all(part.basis == cost.basis for part in split(cost, {"a": 1.0, "b": 2.0}).values())


def test_a_named_clusters_autoscale_availability_and_missing_node_type() -> None:
    scaled = {**NAMED_CLUSTER, "autoscale": {"min_workers": 2, "max_workers": 8}}
    del scaled["num_workers"]
    assert DatabricksUsage.from_cluster(scaled, 1.0).workers == 2  # its minimum
    on_demand = {**NAMED_CLUSTER, "aws_attributes": {"availability": "ON_DEMAND"}}
    assert DatabricksUsage.from_cluster(on_demand, 1.0).spot_share == 0.0
    no_aws = {k: v for k, v in NAMED_CLUSTER.items() if k != "aws_attributes"}
    assert DatabricksUsage.from_cluster(no_aws, 1.0).spot_share == 0.0
    spot = {**NAMED_CLUSTER, "aws_attributes": {"availability": "SPOT"}}  # first_on_demand: 1
    assert DatabricksUsage.from_cluster(spot, 1.0).spot_share == 1.0
    alone = {**NAMED_CLUSTER, "num_workers": 0, "driver_node_type_id": None}
    single = DatabricksUsage.from_cluster(alone, 1.0)
    assert (single.workers, single.spot_share, single.driver_node_type) == (0, 0.0, None)
    pooled = {"cluster_id": "0101-pool", "instance_pool_id": "pool-1", "num_workers": 2}
    with pytest.raises(
        PriceError,
        match=r"cluster 0101-pool reports no node_type_id \(its nodes come from instance pool "
        r"pool-1\), so its instances cannot be priced",
    ):
        DatabricksUsage.from_cluster(pooled, 1.0)


def test_cost_metadata_says_its_basis_and_an_unknown_cost_records_only_time() -> None:
    cost = Cost(usd=0.25, platform="databricks", wall_s=12.0, basis="estimated: 4 DBU/h")
    assert cost_metadata(cost)["cost_basis"] == {"raw_value": "estimated: 4 DBU/h", "type": "text"}
    assert "cost_basis" not in cost_metadata(Cost(usd=0.0, platform="duckdb"))
    assert unknown_cost_metadata("databricks", 3.14159, "not reported") == {
        "platform": {"raw_value": "databricks", "type": "text"},
        "wall_s": {"raw_value": 3.142, "type": "float"},
        "cost_basis": {"raw_value": "unknown: not reported", "type": "text"},
    }
    unpriced = UnpricedUsage(platform="databricks", reason="not reported", wall_s=3.0)
    with pytest.raises(PriceError, match=r"databricks launch is not known: not reported"):
        estimate(unpriced, PriceTable.load())
    with pytest.raises(ValueError, match=r"UnpricedUsage: wall_s must be a finite number"):
        UnpricedUsage(platform="databricks", reason="r", wall_s=-1.0)


def test_local_costs_nothing_and_keeps_its_time() -> None:
    cost = estimate(LocalUsage(12.5, platform="duckdb"), PriceTable.load())
    assert cost == Cost(usd=0.0, platform="duckdb", instance_hours=0.0, wall_s=12.5)
    assert estimate(LocalUsage(3), PriceTable.load()).platform == "local"


# Overrides and errors.


def test_overrides_replace_only_the_prices_they_name() -> None:
    table = PriceTable.load().with_overrides(
        {
            "instances": {
                "m5.xlarge": {"spot": 0.05},
                "m7i.xlarge": {"on_demand": 0.2016, "emr": 0.0504},
            },
            "emr-serverless": {"arm64": {"gb_hour": 0.004}},
            "dbu_rates": {"jobs": 0.2},
        }
    )
    m5 = US["instances"]["m5.xlarge"]

    assert table.instance("m5.xlarge").spot == 0.05
    assert table.instance("m5.xlarge").on_demand == m5["on_demand"]
    assert table.instance("m7i.xlarge").on_demand == 0.2016
    assert table.instance("m7i.xlarge").spot is None
    assert table.serverless("arm64").gb_hour == 0.004
    assert table.serverless("arm64").vcpu_hour == US["emr-serverless"]["arm64"]["vcpu_hour"]
    assert table.dbu_rate("jobs") == 0.2
    assert table.dbu_rate("all-purpose") == US["dbu_rates"]["all_purpose"]
    assert table.overridden == (
        'instances."m5.xlarge".spot',
        'instances."m7i.xlarge".on_demand',
        'instances."m7i.xlarge".emr',
        "emr-serverless.arm64.gb_hour",
        "dbu_rates.jobs",
    )
    assert "with [cost] overriding" in table.describe()

    spot = estimate(EmrUsage((EmrNodes("m5.xlarge", "SPOT", 2, 1.0),)), table)
    assert spot.usd == close(2 * (0.05 + m5["emr"]))
    new = estimate(EmrUsage((EmrNodes("m7i.xlarge", "ON_DEMAND", 1, 2.0),)), table)
    assert new.usd == close(2.0 * (0.2016 + 0.0504))
    with pytest.raises(PriceError, match=r"'m7i.xlarge' has no spot estimate in us-east-1; set "):
        estimate(EmrUsage((EmrNodes("m7i.xlarge", "SPOT", 1, 1.0),)), table)
    with pytest.raises(PriceError, match=r"'m7i.xlarge' has no DBUs per hour"):
        estimate(DatabricksUsage(compute="jobs", node_type="m7i.xlarge", hours=1), table)
    assert (
        PriceTable.load().instance("m5.xlarge").spot == m5["spot"]
    )  # the packaged one is untouched


def test_cost_config_section_selects_a_region_and_overrides_it() -> None:
    section = tomllib.loads(
        """
        region = "eu-west-1"
        ebs_gb_month = 0.1
        [instances."c5.xlarge"]
        spot = 0.06
        [dbu_rates]
        serverless_jobs = 0.5
        """
    )
    config = CostConfig.model_validate(section)
    table = PriceTable.for_config(config)

    assert table.region == "eu-west-1"
    assert table.instance("c5.xlarge").spot == 0.06
    assert table.instance("c5.xlarge").on_demand == EU["instances"]["c5.xlarge"]["on_demand"]
    assert table.ebs_gb_month == 0.1
    assert table.dbu_rate("serverless") == 0.5
    assert PriceTable.for_config(None).region == "us-east-1"
    assert PriceTable.for_config(CostConfig()) == PriceTable.load()


def test_cost_databricks_holds_the_serverless_estimate_which_is_not_a_price() -> None:
    config = parse_config("[cost.databricks]\nserverless_dbu_per_hour = 6.5\n", source="t")
    assert config.cost.databricks.serverless_dbu_per_hour == 6.5
    assert CostConfig().databricks.serverless_dbu_per_hour is None
    table = PriceTable.for_config(config.cost)
    assert table == PriceTable.load()  # not an override of any price
    assert "[cost] overriding" not in table.describe()
    with pytest.raises(
        ConfigError, match=r"serverless_dbu_per_hour: input should be greater than 0"
    ):
        parse_config("[cost.databricks]\nserverless_dbu_per_hour = 0\n", source="t")
    with pytest.raises(
        ConfigError,
        match=r"cost.databricks.serverless_dbu: unknown key; did you mean "
        r"'serverless_dbu_per_hour'\? valid keys here: serverless_dbu_per_hour",
    ):
        parse_config("[cost.databricks]\nserverless_dbu = 6.5\n", source="t")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('region = "us-west-2"', r"no region 'us-west-2'; its regions: us-east-1, eu-west-1"),
        (
            '[instances."m7i.xlarge"]\nspot = 0.1',
            r"'m7i.xlarge' is not in the us-east-1 price table .*needs an on_demand price",
        ),
        ('[instances."m5.xlarge"]\nspot = "0.1"', r"spot\n  Input should be a valid number"),
        ('[instances."m5.xlarge"]\nspot = -0.1', r"greater than or equal to 0"),
        ("[instances.M5]\non_demand = 1", r"'M5' is not an instance type such as 'm5.xlarge'"),
        ("[emr-serverless.graviton]\nvcpu_hour = 1", r"'x86_64' or 'arm64'"),
        ("regoin = 1", r"regoin\n  Extra inputs are not permitted"),
    ],
)
def test_cost_config_rejects_what_it_cannot_price(section: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CostConfig.model_validate(tomllib.loads(section))


def test_unknown_instance_type_names_it_the_region_and_the_known_types() -> None:
    usage = EmrUsage((EmrNodes("m5.xlarg", "ON_DEMAND", 1, 1.0),))
    with pytest.raises(PriceError) as error:
        estimate(usage, PriceTable.load("eu-west-1"))
    message = str(error.value)
    assert (
        "no prices for instance type 'm5.xlarg' in eu-west-1 (did you mean 'm5.xlarge'?)" in message
    )
    assert (
        "the table has: c5.xlarge, i3.xlarge, m5.2xlarge, m5.xlarge, m6i.2xlarge, m6i.xlarge, r5.xlarge"
        in message
    )
    assert '[cost.instances."m5.xlarg"] with on_demand' in message


def test_bad_overrides_and_regions_are_price_errors_that_say_what_is_valid() -> None:
    table = PriceTable.load()
    with pytest.raises(
        PriceError,
        match=r"instancs: unknown key; valid keys here: region, instances, emr-serverless, dbu_rates, ebs_gb_month",
    ):
        table.with_overrides({"instancs": {}})
    with pytest.raises(
        PriceError,
        match=r'instances."m5.xlarge".spto: unknown key; valid keys here: on_demand, spot, emr, dbu',
    ):
        table.with_overrides({"instances": {"m5.xlarge": {"spto": 0.1}}})
    with pytest.raises(PriceError, match=r"'z9.xlarge' is not in the us-east-1 price table"):
        table.with_overrides({"instances": {"z9.xlarge": {"spot": 0.1}}})
    with pytest.raises(PriceError, match=r"for region 'eu-west-1', but this table is 'us-east-1'"):
        table.with_overrides({"region": "eu-west-1"})
    with pytest.raises(
        PriceError, match=r"no region 'ap-south-1'; its regions: us-east-1, eu-west-1"
    ):
        PriceTable.load("ap-south-1")
    with pytest.raises(PriceError, match=r"architecture 'riscv' .* the table has: x86_64, arm64"):
        table.serverless("riscv")
    with pytest.raises(
        PriceError, match=r"compute 'sql'; the kinds are: jobs, all-purpose, serverless"
    ):
        table.dbu_rate("sql")


# Sharing a launch's cost among its assets.


def test_split_follows_step_time_and_sums_exactly() -> None:
    cost = Cost(
        usd=1.0,
        platform="emr",
        instance_hours=3.0,
        wall_s=600.0,
        breakdown={"ec2": 0.7, "emr": 0.3},
    )

    parts = split(cost, {"a": 30.0, "b": 10.0, "c": 20.0})

    assert list(parts) == ["a", "b", "c"]
    assert [p.usd for p in parts.values()] == [
        close(0.5),
        pytest.approx(1 / 6, abs=1e-6),
        pytest.approx(1 / 3, abs=1e-6),
    ]
    assert parts["b"].instance_hours == pytest.approx(0.5, abs=1e-6)
    assert parts["c"].wall_s == pytest.approx(200.0, abs=1e-5)
    assert parts["a"].breakdown["ec2"] == pytest.approx(0.35, abs=1e-6)
    assert {p.platform for p in parts.values()} == {"emr"}
    assert sum(p.usd for p in parts.values()) == cost.usd
    assert sum(p.instance_hours for p in parts.values()) == cost.instance_hours
    assert sum(p.wall_s for p in parts.values()) == cost.wall_s
    for key in ("ec2", "emr"):
        assert sum(p.breakdown[key] for p in parts.values()) == cost.breakdown[key]


def test_split_is_equal_when_no_step_took_time() -> None:
    parts = split(Cost(usd=0.9, platform="databricks"), {"a": 0.0, "b": 0.0, "c": 0.0})
    assert [p.usd for p in parts.values()] == [pytest.approx(0.3, abs=1e-6)] * 3
    assert sum(p.usd for p in parts.values()) == 0.9


def test_split_rejects_no_assets_and_negative_times() -> None:
    with pytest.raises(ValueError, match=r"no assets to share the cost among"):
        split(Cost(usd=1.0, platform="emr"), {})
    with pytest.raises(
        ValueError, match=r"step time of 'b' must be a finite number of seconds >= 0, not -1"
    ):
        split(Cost(usd=1.0, platform="emr"), {"a": 1.0, "b": -1.0})


amounts = st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False)
seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    usd=amounts,
    hours=amounts,
    times=st.dictionaries(st.text(min_size=1, max_size=5), seconds, min_size=1, max_size=8),
)
def test_split_parts_add_up_to_the_total_exactly_in_any_order(
    usd: float, hours: float, times: dict[str, float]
) -> None:
    cost = Cost(usd=usd, platform="emr", instance_hours=hours, wall_s=usd, breakdown={"ec2": hours})

    parts = list(split(cost, times).values())

    for value, total in (
        ([p.usd for p in parts], usd),
        ([p.instance_hours for p in parts], hours),
        ([p.breakdown["ec2"] for p in parts], hours),
    ):
        assert all(v >= 0 for v in value)
        assert sum(value) == total
        assert sum(reversed(value)) == total
        assert math.fsum(value) == total
    whole = sum(times.values())
    for part, time in zip(parts, times.values(), strict=True):
        share = time / whole if whole else 1 / len(times)
        assert part.usd == pytest.approx(usd * share, abs=2**-19 + usd * 1e-12)


# What a launch would use.


def test_planned_emr_usage_prices_the_configured_fleets() -> None:
    config = EmrConfig(
        primary=FleetConfig(instance_types=["m6i.xlarge"], on_demand=1),
        core=FleetConfig(instance_types=["m6i.2xlarge"], on_demand=2),
        task=TaskFleetConfig(instance_types=["r5.xlarge", "c5.xlarge"], spot=4),
    )
    m6i, m6i2, r5, c5 = (
        US["instances"][t] for t in ("m6i.xlarge", "m6i.2xlarge", "r5.xlarge", "c5.xlarge")
    )

    usage = planned_emr_usage(config, 0.5)
    cost = estimate(usage, PriceTable.load())

    assert [(n.fleet, n.instance_type, n.market, n.count) for n in usage.nodes] == [
        ("primary", "m6i.xlarge", "ON_DEMAND", 1),
        ("core", "m6i.2xlarge", "ON_DEMAND", 2),
        ("task", "r5.xlarge", "SPOT", 4),
    ]
    assert cost.usd == close(
        0.5 * (m6i["on_demand"] + m6i["emr"])
        + 1.0 * (m6i2["on_demand"] + m6i2["emr"])
        + 2.0 * (r5["spot"] + r5["emr"])
    )
    assert cost.wall_s == 1800.0
    cheapest = planned_emr_usage(config, 0.5, prices=PriceTable.load())
    assert cheapest.nodes[2].instance_type == "c5.xlarge"
    assert estimate(cheapest, PriceTable.load()).usd == close(
        cost.usd - 2.0 * (r5["spot"] + r5["emr"]) + 2.0 * (c5["spot"] + c5["emr"])
    )


def test_planned_emr_usage_of_the_default_config() -> None:
    usage = planned_emr_usage(EmrConfig(), 2.0)
    m6i = US["instances"]["m6i.xlarge"]
    assert estimate(usage, PriceTable.load()).usd == close(
        3 * 2.0 * (m6i["on_demand"] + m6i["emr"])
    )
    with pytest.raises(PriceError, match=r"\[emr\] core: none of its instance types \(z9.xlarge\)"):
        planned_emr_usage(
            EmrConfig(core=FleetConfig(instance_types=["z9.xlarge"], on_demand=1)),
            1.0,
            prices=PriceTable.load(),
        )


def test_planned_databricks_usage_follows_availability_and_first_on_demand() -> None:
    default = planned_databricks_usage(DatabricksConfig(), 1.0)
    i3 = US["instances"]["i3.xlarge"]
    assert (default.compute, default.node_type, default.workers, default.spot_share) == (
        "jobs",
        "i3.xlarge",
        2,
        1.0,
    )
    assert estimate(default, PriceTable.load()).usd == close(
        3 * i3["dbu"] * US["dbu_rates"]["jobs"] + i3["on_demand"] + 2 * i3["spot"]
    )

    half = planned_databricks_usage(DatabricksConfig(num_workers=4, first_on_demand=3), 1.0)
    assert half.spot_share == 0.5
    on_demand = planned_databricks_usage(DatabricksConfig(availability="ON_DEMAND"), 1.0)
    assert on_demand.spot_share == 0.0
    scaled = planned_databricks_usage(
        DatabricksConfig(autoscale=DatabricksAutoscale(min_workers=3, max_workers=8)), 1.0
    )
    assert scaled.workers == 3
    named = planned_databricks_usage(DatabricksConfig(cluster_id="0101-abc"), 1.0)
    assert named.compute == "all-purpose"


def test_planned_databricks_serverless_needs_a_dbu_rate_per_hour() -> None:
    config = DatabricksConfig(serverless=True, files="/Volumes/main/hydra/files")
    with pytest.raises(
        PriceError, match=r"DBUs serverless compute consumes per hour is not published"
    ):
        planned_databricks_usage(config, 1.0)
    usage = planned_databricks_usage(config, 0.5, serverless_dbu_per_hour=8.0)
    assert estimate(usage, PriceTable.load()).usd == close(4.0 * US["dbu_rates"]["serverless_jobs"])
