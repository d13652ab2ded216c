"""What a launch cost, from what its platform reported, and what a launch would cost.

Prices come from the packaged price table, ``prices.toml``: list prices per region with their
date and source. The project config's ``[cost]`` section (:class:`CostConfig`) replaces any of
them. What a platform reports after a launch is described as a usage (:class:`EmrUsage`,
:class:`EmrServerlessUsage`, :class:`DatabricksUsage`, :class:`LocalUsage`; an
:class:`UnpricedUsage` is a launch whose cost cannot be known). :func:`estimate`
turns a usage into a :class:`Cost`, and :func:`split` shares that cost among the launch's
assets by their step time. Before a run, :func:`planned_emr_usage` and
:func:`planned_databricks_usage` give the usage that a launch of the configured shape would
have over a given time. docs/cost.md gives the formulas and their limits. This module does
not import Dagster.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Literal, TypeAlias, cast, get_args, get_origin

from pydantic import BaseModel, ValidationError

from hydra_orchestration.config import (
    PRICES_FILE,
    Architecture,
    CostConfig,
    DatabricksConfig,
    DbuRatesPrice,
    EmrConfig,
    EmrServerlessPrice,
    InstancePrice,
    _Prices,
    new_instance_type,
    packaged_prices,
    packaged_regions,
    unknown_region,
)

__all__ = [
    "ARCHITECTURES",
    "DATABRICKS_COMPUTE",
    "MARKETS",
    "Cost",
    "CostConfig",
    "DatabricksUsage",
    "DbuRates",
    "DbuRatesPrice",
    "EmrNodes",
    "EmrServerlessPrice",
    "EmrServerlessUsage",
    "EmrUsage",
    "InstancePrice",
    "InstanceRates",
    "LocalUsage",
    "PriceError",
    "PriceTable",
    "ServerlessRates",
    "UnpricedUsage",
    "Usage",
    "cost_metadata",
    "estimate",
    "planned_databricks_usage",
    "planned_emr_usage",
    "split",
    "unknown_cost_metadata",
]

Market = Literal["ON_DEMAND", "SPOT"]
DatabricksCompute = Literal["jobs", "all-purpose", "serverless"]
MARKETS: tuple[Market, ...] = ("ON_DEMAND", "SPOT")
ARCHITECTURES: tuple[Architecture, ...] = ("x86_64", "arm64")
DATABRICKS_COMPUTE: tuple[DatabricksCompute, ...] = ("jobs", "all-purpose", "serverless")
_DBU_RATE_OF = {"jobs": "jobs", "all-purpose": "all_purpose", "serverless": "serverless_jobs"}
# Parts of a split are whole multiples of this many dollars (hours, seconds): see _apportion.
_QUANTUM = 2.0**-20


class PriceError(ValueError):
    """A price the cost model needs is not in the price table or its overrides, or an
    override is not valid. The message names what is missing and what the table has."""


# The price table.


@dataclass(frozen=True)
class InstanceRates:
    """One instance type's prices in a region, in USD per hour (``dbu``: DBUs per hour).
    None means the price is not known. A platform that needs it then fails with a
    PriceError."""

    on_demand: float
    spot: float | None = None
    emr: float | None = None
    dbu: float | None = None


@dataclass(frozen=True)
class ServerlessRates:
    """EMR Serverless prices for one architecture: USD per vCPU-hour, per memory GB-hour,
    and per GB-hour of billable storage."""

    vcpu_hour: float
    gb_hour: float
    storage_gb_hour: float


@dataclass(frozen=True)
class DbuRates:
    """USD per Databricks DBU, by kind of compute."""

    jobs: float
    all_purpose: float
    serverless_jobs: float


@dataclass(frozen=True)
class PriceTable:
    """The prices of one region: the packaged table's (:meth:`load`), with whatever the
    project config replaces (:meth:`with_overrides`, :meth:`for_config`).

    ``overridden`` lists the prices that do not come from the table, by their key in
    ``[cost]``.
    """

    region: str
    date: datetime.date
    source: str
    instances: Mapping[str, InstanceRates]
    emr_serverless: Mapping[str, ServerlessRates]
    dbu_rates: DbuRates
    ebs_gb_month: float
    hours_per_month: float = 730.0
    overridden: tuple[str, ...] = ()

    @staticmethod
    def regions() -> tuple[str, ...]:
        """The regions that the packaged table has prices for."""
        return tuple(packaged_regions())

    @classmethod
    def load(cls, region: str = "us-east-1") -> PriceTable:
        """The packaged prices of ``region``. Raises PriceError for a region that the table
        does not have."""
        regions = packaged_regions()
        if region not in regions:
            raise PriceError(unknown_region(region))
        meta = _packaged_meta()
        return _table(
            region,
            date=meta["date"],
            source=meta["source"],
            hours_per_month=meta["hours_per_month"],
            prices=regions[region].model_dump(exclude_none=True, exclude={"region"}),
            overridden=(),
        )

    @classmethod
    def for_config(cls, config: CostConfig | None) -> PriceTable:
        """The prices that ``[cost]`` selects: its region's table with its overrides (the
        us-east-1 table when the section is absent)."""
        if config is None:
            return cls.load()
        return cls.load(config.region).with_overrides(config)

    def with_overrides(self, overrides: CostConfig | Mapping[str, Any]) -> PriceTable:
        """This table with some prices replaced or added. ``overrides`` is a :class:`CostConfig`
        or a mapping laid out like ``[cost]``, e.g.
        ``{"instances": {"m5.xlarge": {"spot": 0.07}}, "dbu_rates": {"jobs": 0.2}}``.

        Raises PriceError when the overrides are not valid: a wrong key or value, another
        region, or a new instance type without an on-demand price.
        """
        if isinstance(overrides, _Prices):
            given = overrides
        else:
            try:
                given = _Prices.model_validate(dict(overrides))
            except ValidationError as exc:
                problems = "; ".join(_problem(error) for error in exc.errors())
                raise PriceError(f"price overrides are not valid: {problems}") from None
        if "region" in given.model_fields_set and given.region != self.region:
            raise PriceError(
                f"price overrides are for region {given.region!r}, but this table is "
                f"{self.region!r}: load that region's table (PriceTable.load({given.region!r}))"
            )
        # [cost.databricks] holds estimates of consumption, not prices.
        changes = given.model_dump(exclude_none=True, exclude={"region", "databricks"})
        for name, price in changes["instances"].items():
            if name not in self.instances and "on_demand" not in price:
                raise PriceError(new_instance_type(name, self.region, list(self.instances)))
        merged = _merge(self._as_dict(), changes)
        return _table(
            self.region,
            date=self.date,
            source=self.source,
            hours_per_month=self.hours_per_month,
            prices=merged,
            overridden=tuple(dict.fromkeys([*self.overridden, *_paths(changes)])),
        )

    @property
    def instance_types(self) -> tuple[str, ...]:
        """The instance types that have prices, sorted."""
        return tuple(sorted(self.instances))

    def instance(self, instance_type: str) -> InstanceRates:
        """The prices of ``instance_type``. Raises PriceError naming the known types when
        the table does not have it."""
        rates = self.instances.get(instance_type)
        if rates is None:
            close = difflib.get_close_matches(instance_type, list(self.instances), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise PriceError(
                f"no prices for instance type {instance_type!r} in {self.region}{hint}; the "
                f"table has: {', '.join(self.instance_types)}. Add it to the project config "
                f'as [cost.instances."{instance_type}"] with on_demand (and spot, emr, dbu as '
                "its platforms need)"
            )
        return rates

    def serverless(self, architecture: str) -> ServerlessRates:
        """EMR Serverless prices for ``architecture`` (``x86_64`` or ``arm64``, any case)."""
        rates = self.emr_serverless.get(architecture.lower())
        if rates is None:
            raise PriceError(
                f"no EMR Serverless prices for architecture {architecture!r} in "
                f"{self.region}; the table has: {', '.join(self.emr_serverless)}"
            )
        return rates

    def dbu_rate(self, compute: str) -> float:
        """USD per DBU of ``compute``: ``jobs``, ``all-purpose`` or ``serverless``."""
        if compute not in _DBU_RATE_OF:
            raise PriceError(
                f"no DBU rate for Databricks compute {compute!r}; the kinds are: "
                f"{', '.join(DATABRICKS_COMPUTE)}"
            )
        return getattr(self.dbu_rates, _DBU_RATE_OF[compute])

    def describe(self) -> str:
        """Where these prices come from, in one line, e.g. to head a plan or a report."""
        text = f"{self.region} list prices of {self.date.isoformat()} ({PRICES_FILE})"
        if self.overridden:
            text += f", with [cost] overriding {', '.join(self.overridden)}"
        return text

    def _as_dict(self) -> dict[str, Any]:
        return {
            "instances": {
                name: {k: v for k, v in dataclasses.asdict(rates).items() if v is not None}
                for name, rates in self.instances.items()
            },
            "emr_serverless": {
                arch: dataclasses.asdict(rates) for arch, rates in self.emr_serverless.items()
            },
            "dbu_rates": dataclasses.asdict(self.dbu_rates),
            "ebs_gb_month": self.ebs_gb_month,
        }


def _required(prices: PriceTable, instance_type: str, what: Literal["spot", "emr", "dbu"]) -> float:
    """The ``what`` price of ``instance_type``; PriceError when the table has none."""
    value = getattr(prices.instance(instance_type), what)
    if value is None:
        label = {
            "spot": "spot estimate",
            "emr": "EMR charge (EMR may not offer this type)",
            "dbu": "DBUs per hour (Databricks may not offer this type)",
        }[what]
        raise PriceError(
            f"instance type {instance_type!r} has no {label} in {prices.region}; set "
            f'[cost.instances."{instance_type}"] {what} in the project config'
        )
    return value


def _packaged_meta() -> dict[str, Any]:
    data = packaged_prices()
    date = data.get("date")
    if not isinstance(date, datetime.date) or not isinstance(data.get("source"), str):
        raise PriceError(f"the packaged {PRICES_FILE} lacks its date or source")
    return {
        "date": date,
        "source": data["source"],
        "hours_per_month": float(data.get("hours_per_month", 730)),
    }


def _table(
    region: str,
    *,
    date: datetime.date,
    source: str,
    hours_per_month: float,
    prices: Mapping[str, Any],
    overridden: tuple[str, ...],
) -> PriceTable:
    """A PriceTable from a region's prices laid out as in prices.toml; PriceError names the
    first price that is missing."""
    instances: dict[str, InstanceRates] = {}
    for name, rates in prices.get("instances", {}).items():
        if "on_demand" not in rates:
            raise PriceError(f"instance type {name!r} in {region} has no on_demand price")
        instances[name] = InstanceRates(**rates)
    serverless: dict[str, ServerlessRates] = {}
    for arch, rates in prices.get("emr_serverless", {}).items():
        serverless[arch] = ServerlessRates(
            **_complete(rates, ServerlessRates, f"{region} emr-serverless.{arch}")
        )
    dbu = DbuRates(**_complete(prices.get("dbu_rates", {}), DbuRates, f"{region} dbu_rates"))
    if "ebs_gb_month" not in prices:
        raise PriceError(f"{region} has no ebs_gb_month price")
    return PriceTable(
        region=region,
        date=date,
        source=source,
        instances=MappingProxyType(instances),
        emr_serverless=MappingProxyType(serverless),
        dbu_rates=dbu,
        ebs_gb_month=prices["ebs_gb_month"],
        hours_per_month=hours_per_month,
        overridden=overridden,
    )


def _complete(rates: Mapping[str, float], kind: type, where: str) -> Mapping[str, float]:
    missing = [f.name for f in dataclasses.fields(kind) if f.name not in rates]
    if missing:
        raise PriceError(f"{where} lacks {', '.join(missing)}")
    return rates


def _merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _paths(changes: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The keys set in ``changes``, as ``[cost]`` writes them (``instances."m5.xlarge".spot``)."""
    paths: list[str] = []
    for key, value in changes.items():
        shown = "emr-serverless" if key == "emr_serverless" else key
        shown = f'"{shown}"' if "." in shown else shown
        path = f"{prefix}.{shown}" if prefix else shown
        paths += _paths(value, path) if isinstance(value, Mapping) else [path]
    return paths


def _problem(error: Any) -> str:
    """One validation error of price overrides: where, what is wrong, and for an unknown key
    the valid ones."""
    loc = [str(part) for part in error["loc"]]
    where = ".".join(f'"{part}"' if "." in part else part for part in loc) or "<top level>"
    if error["type"] != "extra_forbidden":
        return f"{where}: {error['msg'].removeprefix('Value error, ')}"
    model: Any = _Prices
    parts = loc[:-1]
    while parts:
        fields = {f.alias or name: f for name, f in model.model_fields.items()}
        found = fields.get(parts.pop(0))
        annotation = found.annotation if found is not None else None
        if get_origin(annotation) is dict and parts:
            parts.pop(0)
            annotation = get_args(annotation)[1]
        model = annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return f"{where}: unknown key"
    valid = [f.alias or name for name, f in model.model_fields.items()]
    return f"{where}: unknown key; valid keys here: {', '.join(valid)}"


# What a platform reported.


def _check(owner: str, **values: float | None) -> None:
    for name, value in values.items():
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{owner}: {name} must be a finite number >= 0, not {value!r}")


@dataclass(frozen=True)
class EmrNodes:
    """Instances of one type and market that an EMR cluster ran: ``count`` instances for
    ``hours`` each, from the cluster's instance fleet (or group) details and timeline.
    ``count`` may be an average, for a fleet that scaled; one entry per instance is just as
    good. ``fleet`` names the fleet (``primary``, ``core``, ``task``) for reading only.
    ``ebs_gb`` is the EBS storage attached to each instance, priced only when given."""

    instance_type: str
    market: Market
    count: float
    hours: float
    fleet: str = ""
    ebs_gb: float = 0.0

    def __post_init__(self) -> None:
        if self.market not in MARKETS:
            raise ValueError(f"EmrNodes: market {self.market!r} is not one of {', '.join(MARKETS)}")
        _check("EmrNodes", count=self.count, hours=self.hours, ebs_gb=self.ebs_gb)


@dataclass(frozen=True)
class EmrUsage:
    """What an EMR cluster ran: its instances (``nodes``) and how long the launch took
    (``wall_s``; None means the longest-lived instance's time)."""

    nodes: tuple[EmrNodes, ...]
    wall_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", tuple(self.nodes))
        _check("EmrUsage", wall_s=self.wall_s)


@dataclass(frozen=True)
class EmrServerlessUsage:
    """What an EMR Serverless job run was billed for, as its ``billedResourceUtilization``
    reports it (:meth:`from_billed`): vCPU-hours, memory GB-hours and storage GB-hours. AWS
    has already left out the 20 GB of storage that each worker gets free, and has added its
    one-minute minimum per worker. ``wall_s`` is how long the job run took."""

    vcpu_hours: float
    memory_gb_hours: float
    storage_gb_hours: float = 0.0
    architecture: Architecture = "x86_64"
    wall_s: float = 0.0

    def __post_init__(self) -> None:
        arch = str(self.architecture).lower()
        if arch not in ARCHITECTURES:
            raise ValueError(
                f"EmrServerlessUsage: architecture {self.architecture!r} is not one of "
                f"{', '.join(ARCHITECTURES)}"
            )
        object.__setattr__(self, "architecture", arch)
        _check(
            "EmrServerlessUsage",
            vcpu_hours=self.vcpu_hours,
            memory_gb_hours=self.memory_gb_hours,
            storage_gb_hours=self.storage_gb_hours,
            wall_s=self.wall_s,
        )

    @classmethod
    def from_billed(
        cls, billed: Mapping[str, Any], *, architecture: str = "x86_64", wall_s: float = 0.0
    ) -> EmrServerlessUsage:
        """The usage in a job run's ``billedResourceUtilization`` (``vCPUHour``,
        ``memoryGBHour``, ``storageGBHour``; a missing key counts as zero). ``architecture``
        is the application's (``X86_64`` or ``ARM64``)."""
        return cls(
            vcpu_hours=float(billed.get("vCPUHour", 0.0)),
            memory_gb_hours=float(billed.get("memoryGBHour", 0.0)),
            storage_gb_hours=float(billed.get("storageGBHour", 0.0)),
            architecture=cast(Architecture, architecture),
            wall_s=wall_s,
        )


@dataclass(frozen=True, kw_only=True)
class DatabricksUsage:
    """What a Databricks run used.

    On classic compute (``compute`` ``jobs`` for a job cluster, ``all-purpose`` for an
    existing cluster), the cluster had one driver of ``driver_node_type`` (None means
    ``node_type``) and ``workers`` workers of ``node_type`` (the average, if it scaled) for
    ``hours``. ``spot_share`` is the share of worker-hours on spot instances; the driver is
    on-demand. On ``serverless`` compute there are no nodes: ``dbu_hours`` holds the DBUs
    that the run consumed, as the platform reports them (its billing usage), or an estimate.
    ``wall_s`` is how long the run took; None means ``hours``. ``basis`` says, for a reader,
    where the figures come from (it becomes the cost's ``basis``).
    """

    compute: DatabricksCompute
    hours: float = 0.0
    node_type: str | None = None
    driver_node_type: str | None = None
    workers: float = 0.0
    spot_share: float = 0.0
    dbu_hours: float | None = None
    wall_s: float | None = None
    basis: str = ""

    def __post_init__(self) -> None:
        if self.compute not in DATABRICKS_COMPUTE:
            raise ValueError(
                f"DatabricksUsage: compute {self.compute!r} is not one of "
                f"{', '.join(DATABRICKS_COMPUTE)}"
            )
        _check(
            "DatabricksUsage",
            hours=self.hours,
            workers=self.workers,
            spot_share=self.spot_share,
            dbu_hours=self.dbu_hours,
            wall_s=self.wall_s,
        )
        if self.spot_share > 1:
            raise ValueError(
                f"DatabricksUsage: spot_share is a share of worker-hours, from 0 to 1, "
                f"not {self.spot_share!r}"
            )
        if self.compute == "serverless" and self.dbu_hours is None:
            raise ValueError(
                "DatabricksUsage: serverless compute needs dbu_hours (the DBUs the run "
                "consumed, as reported): the DBUs per hour of serverless are not published"
            )
        if self.compute != "serverless" and not self.node_type:
            raise ValueError(f"DatabricksUsage: {self.compute} compute needs node_type")

    @classmethod
    def from_cluster(
        cls,
        cluster: Mapping[str, Any],
        hours: float,
        *,
        compute: DatabricksCompute = "all-purpose",
        basis: str = "",
    ) -> DatabricksUsage:
        """The usage of ``hours`` on the cluster that ``clusters/get`` describes
        (``cluster``, its JSON: ``node_type_id``, ``driver_node_type_id``, ``num_workers`` or
        ``autoscale``, ``aws_attributes``). An autoscaled cluster counts its ``min_workers``
        (its size over the time is not reported). Workers are spot per ``aws_attributes``'
        ``availability`` and ``first_on_demand`` (the driver is the first on-demand node), as
        for a job cluster; without ``aws_attributes`` they are on demand. Raises PriceError
        when the cluster has no node type (e.g. it takes its nodes from an instance pool)."""
        node_type = cluster.get("node_type_id")
        if not node_type:
            pool = cluster.get("instance_pool_id")
            raise PriceError(
                f"cluster {cluster.get('cluster_id', '?')} reports no node_type_id"
                + (f" (its nodes come from instance pool {pool})" if pool else "")
                + ", so its instances cannot be priced"
            )
        autoscale = cluster.get("autoscale") or {}
        workers = (
            int(autoscale.get("min_workers", 0))
            if autoscale
            else int(cluster.get("num_workers") or 0)
        )
        aws = cluster.get("aws_attributes")
        availability = str(aws.get("availability", "ON_DEMAND")) if aws else "ON_DEMAND"
        first_on_demand = int(aws.get("first_on_demand", 1)) if aws else 1
        return cls(
            compute=compute,
            hours=hours,
            node_type=str(node_type),
            driver_node_type=cluster.get("driver_node_type_id") or None,
            workers=workers,
            spot_share=_spot_share(workers, availability, first_on_demand),
            basis=basis,
        )


def _spot_share(workers: float, availability: str, first_on_demand: int) -> float:
    """The share of ``workers`` on spot: all but the first ``first_on_demand - 1`` (the driver
    is the first on-demand node), none under ``ON_DEMAND``."""
    if not workers or availability == "ON_DEMAND":
        return 0.0
    return max(0.0, workers - max(0, first_on_demand - 1)) / workers


@dataclass(frozen=True, kw_only=True)
class UnpricedUsage:
    """A launch whose compute cannot be priced: it ran on ``platform`` for ``wall_s``, and
    ``reason`` says why its cost is not known (e.g. serverless DBUs that the platform reports
    only in its billing tables, with no estimate configured)."""

    platform: str
    reason: str
    wall_s: float = 0.0

    def __post_init__(self) -> None:
        _check("UnpricedUsage", wall_s=self.wall_s)


@dataclass(frozen=True)
class LocalUsage:
    """A launch on this machine (``duckdb``, ``pyspark``, ...): it costs nothing here and
    took ``wall_s``. ``platform`` is the engine's name."""

    wall_s: float
    platform: str = "local"

    def __post_init__(self) -> None:
        _check("LocalUsage", wall_s=self.wall_s)


Usage: TypeAlias = EmrUsage | EmrServerlessUsage | DatabricksUsage | LocalUsage | UnpricedUsage


# Costs.


@dataclass(frozen=True)
class Cost:
    """What a launch (or one asset's share of one) cost.

    ``usd`` is the total in US dollars. ``platform`` is the platform's name (``emr``,
    ``emr-serverless``, ``databricks``, or a local engine's). ``instance_hours`` counts the
    machine-hours of the instances (zero on serverless compute and locally). ``wall_s`` is
    the time the launch took. ``breakdown`` is the total by component (``ec2``, ``emr``,
    ``ebs``, ``dbu``, ``vcpu``, ``memory``, ``storage``), in USD. ``basis`` says where the
    figures come from, when the usage said ("" otherwise).
    """

    usd: float
    platform: str
    instance_hours: float = 0.0
    wall_s: float = 0.0
    breakdown: dict[str, float] = field(default_factory=dict)
    basis: str = ""


def cost_metadata(cost: Cost) -> dict[str, dict[str, Any]]:
    """An asset's share of a launch's cost as materialization metadata (Pipes' raw layout):
    ``cost_usd``, ``platform``, ``instance_hours``, ``wall_s``, and ``cost_basis`` when the
    cost has a basis."""
    metadata = {
        "cost_usd": {"raw_value": round(cost.usd, 6), "type": "float"},
        "platform": {"raw_value": cost.platform, "type": "text"},
        "instance_hours": {"raw_value": round(cost.instance_hours, 6), "type": "float"},
        "wall_s": {"raw_value": round(cost.wall_s, 3), "type": "float"},
    }
    if cost.basis:
        metadata["cost_basis"] = {"raw_value": cost.basis, "type": "text"}
    return metadata


def unknown_cost_metadata(platform: str, wall_s: float, reason: str) -> dict[str, dict[str, Any]]:
    """An asset's share of a launch whose cost is not known, as materialization metadata:
    ``platform``, ``wall_s`` and ``cost_basis`` (``unknown: <reason>``), without ``cost_usd``
    (so the cost report leaves it out)."""
    return {
        "platform": {"raw_value": platform, "type": "text"},
        "wall_s": {"raw_value": round(wall_s, 3), "type": "float"},
        "cost_basis": {"raw_value": f"unknown: {reason}", "type": "text"},
    }


def estimate(usage: Usage, prices: PriceTable) -> Cost:
    """What ``usage`` costs at ``prices``. docs/cost.md gives the formula for each platform.
    Raises PriceError for a price the table does not have (an unknown instance type, no spot
    estimate, ...)."""
    if isinstance(usage, EmrUsage):
        return _emr(usage, prices)
    if isinstance(usage, EmrServerlessUsage):
        rates = prices.serverless(usage.architecture)
        breakdown = {
            "vcpu": usage.vcpu_hours * rates.vcpu_hour,
            "memory": usage.memory_gb_hours * rates.gb_hour,
            "storage": usage.storage_gb_hours * rates.storage_gb_hour,
        }
        return Cost(
            usd=sum(breakdown.values()),
            platform="emr-serverless",
            wall_s=float(usage.wall_s),
            breakdown=breakdown,
        )
    if isinstance(usage, DatabricksUsage):
        return _databricks(usage, prices)
    if isinstance(usage, LocalUsage):
        return Cost(usd=0.0, platform=usage.platform, wall_s=float(usage.wall_s))
    if isinstance(usage, UnpricedUsage):
        raise PriceError(f"the cost of this {usage.platform} launch is not known: {usage.reason}")
    raise TypeError(
        f"estimate: {type(usage).__name__} is not a usage; the usages are EmrUsage, "
        "EmrServerlessUsage, DatabricksUsage, LocalUsage and UnpricedUsage"
    )


def _emr(usage: EmrUsage, prices: PriceTable) -> Cost:
    ec2 = emr = ebs = instance_hours = 0.0
    for nodes in usage.nodes:
        node_hours = nodes.count * nodes.hours
        rates = prices.instance(nodes.instance_type)
        price = (
            rates.on_demand
            if nodes.market == "ON_DEMAND"
            else _required(prices, nodes.instance_type, "spot")
        )
        ec2 += node_hours * price
        emr += node_hours * _required(prices, nodes.instance_type, "emr")
        ebs += node_hours * nodes.ebs_gb * prices.ebs_gb_month / prices.hours_per_month
        instance_hours += node_hours
    breakdown = {"ec2": ec2, "emr": emr}
    if any(nodes.ebs_gb for nodes in usage.nodes):
        breakdown["ebs"] = ebs
    wall_s = usage.wall_s
    if wall_s is None:
        wall_s = max((nodes.hours for nodes in usage.nodes), default=0.0) * 3600
    wall_s = float(wall_s)
    return Cost(
        usd=sum(breakdown.values()),
        platform="emr",
        instance_hours=instance_hours,
        wall_s=wall_s,
        breakdown=breakdown,
    )


def _databricks(usage: DatabricksUsage, prices: PriceTable) -> Cost:
    rate = prices.dbu_rate(usage.compute)
    wall_s = float(usage.wall_s if usage.wall_s is not None else usage.hours * 3600)
    if usage.compute == "serverless":
        breakdown = {"dbu": (usage.dbu_hours or 0.0) * rate}
        return Cost(
            usd=breakdown["dbu"],
            platform="databricks",
            wall_s=wall_s,
            breakdown=breakdown,
            basis=usage.basis,
        )
    worker_type = usage.node_type or ""
    driver_type = usage.driver_node_type or worker_type
    driver_hours = usage.hours
    worker_hours = usage.workers * usage.hours
    dbus = driver_hours * _required(prices, driver_type, "dbu") + worker_hours * _required(
        prices, worker_type, "dbu"
    )
    worker_price = prices.instance(worker_type).on_demand
    if usage.spot_share:
        worker_price = (1 - usage.spot_share) * worker_price + usage.spot_share * _required(
            prices, worker_type, "spot"
        )
    breakdown = {
        "dbu": dbus * rate,
        "ec2": driver_hours * prices.instance(driver_type).on_demand + worker_hours * worker_price,
    }
    return Cost(
        usd=sum(breakdown.values()),
        platform="databricks",
        instance_hours=float(driver_hours + worker_hours),
        wall_s=wall_s,
        breakdown=breakdown,
        basis=usage.basis,
    )


def split(cost: Cost, step_seconds: Mapping[str, float]) -> dict[str, Cost]:
    """``cost`` shared among the assets of its launch in proportion to their step time
    (``step_seconds``: asset -> seconds). If every time is zero, the assets get equal shares.

    ``usd``, ``instance_hours``, ``wall_s`` and each breakdown entry are shared this way. The
    parts add up exactly to the total, in any order and in floating point: each part is its
    exact share rounded to a whole multiple of 2^-20 (about a millionth of a dollar), and the
    asset with the most time takes what rounding left over. Round the parts only for
    display. A part's breakdown may differ
    from its ``usd`` by such rounding.
    """
    if not step_seconds:
        raise ValueError("split: no assets to share the cost among (step_seconds is empty)")
    for asset, seconds in step_seconds.items():
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(
                f"split: step time of {asset!r} must be a finite number of seconds >= 0, "
                f"not {seconds!r}"
            )
    weights = [Fraction(seconds) for seconds in step_seconds.values()]
    if not any(weights):
        weights = [Fraction(1)] * len(weights)
    usd = _apportion(cost.usd, weights, "usd")
    hours = _apportion(cost.instance_hours, weights, "instance_hours")
    wall = _apportion(cost.wall_s, weights, "wall_s")
    parts = {key: _apportion(value, weights, key) for key, value in cost.breakdown.items()}
    return {
        asset: Cost(
            usd=usd[i],
            platform=cost.platform,
            instance_hours=hours[i],
            wall_s=wall[i],
            breakdown={key: shares[i] for key, shares in parts.items()},
            basis=cost.basis,
        )
        for i, asset in enumerate(step_seconds)
    }


def _apportion(total: float, weights: Sequence[Fraction], what: str) -> list[float]:
    """``total`` in parts proportional to ``weights`` that add up to it exactly.

    The total, rounded down to a whole number of ``quantum`` (a power of two, at least the
    last binary digit of ``total``), is shared by largest remainders, so each part is within
    one quantum of its exact share. The largest weight's part is then ``total`` minus the
    others. Every sum of a subset of the parts is then a multiple of
    ``total``'s last digit and at most ``total``, so it is exact in floating point, whatever
    order the sum is taken in.
    """
    if not (math.isfinite(total) and total >= 0):
        raise ValueError(f"split: {what} must be a finite amount >= 0, not {total!r}")
    if total == 0:
        return [0.0] * len(weights)
    quantum = max(_QUANTUM, math.ulp(total))
    units = math.floor(total / quantum)
    whole = sum(weights)
    shares = [units * weight / whole for weight in weights]
    counts = [math.floor(share) for share in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: units - sum(counts)]:
        counts[i] += 1
    parts = [count * quantum for count in counts]
    largest = max(range(len(weights)), key=lambda i: weights[i])
    parts[largest] = 0.0
    parts[largest] = total - sum(parts)
    return parts


# What a launch would use.


def planned_emr_usage(
    emr_config: EmrConfig, hours: float, *, prices: PriceTable | None = None
) -> EmrUsage:
    """The usage of a cluster shaped by ``[emr]`` (``emr_config``) running for ``hours``:
    each fleet's on-demand and spot capacity, at the size it starts with (managed scaling is
    not projected), each unit one instance.

    Each fleet's instance type is its first type, or with ``prices`` the cheapest of its
    types for each market (EMR's ``lowest-price`` on-demand strategy does the same; spot
    picks by capacity too). A named cluster (``cluster_id``) is not described by ``[emr]``,
    so its fleets are priced as if this project had started it.
    """
    _check("planned_emr_usage", hours=hours)
    fleets = [("primary", emr_config.primary), ("core", emr_config.core)]
    if emr_config.task is not None:
        fleets.append(("task", emr_config.task))
    nodes: list[EmrNodes] = []
    for name, fleet in fleets:
        capacity: tuple[tuple[Market, int], ...] = (
            ("ON_DEMAND", fleet.on_demand),
            ("SPOT", fleet.spot),
        )
        for market, count in capacity:
            if count:
                instance_type = _cheapest(fleet.instance_types, market, prices, name)
                nodes.append(EmrNodes(instance_type, market, count, hours, fleet=name))
    return EmrUsage(nodes=tuple(nodes), wall_s=float(hours) * 3600)


def _cheapest(types: Sequence[str], market: Market, prices: PriceTable | None, fleet: str) -> str:
    if prices is None:
        return types[0]
    priced: list[tuple[float, str]] = []
    for name in types:
        rates = prices.instances.get(name)
        price = None if rates is None else rates.on_demand if market == "ON_DEMAND" else rates.spot
        if rates is not None and price is not None and rates.emr is not None:
            priced.append((price + rates.emr, name))
    if not priced:
        raise PriceError(
            f"[emr] {fleet}: none of its instance types ({', '.join(types)}) has "
            f"{'an on-demand' if market == 'ON_DEMAND' else 'a spot'} and an EMR price in "
            f"{prices.region}; the table has: {', '.join(prices.instance_types)}"
        )
    return min(priced, key=lambda p: p[0])[1]


def planned_databricks_usage(
    databricks_config: DatabricksConfig,
    hours: float,
    *,
    serverless_dbu_per_hour: float | None = None,
) -> DatabricksUsage:
    """The usage of a Databricks run on the compute of ``[databricks]``
    (``databricks_config``) for ``hours``.

    A job cluster runs its driver and ``num_workers`` workers (with ``autoscale``, the
    ``min_workers`` it starts with). Its workers are on spot except the first
    ``first_on_demand - 1`` (the driver is the first), unless ``availability`` is
    ``ON_DEMAND``. A named all-purpose cluster (``cluster_id``) is not described by
    ``[databricks]``, so it is priced with the job cluster's shape at the all-purpose rate.
    Serverless compute needs ``serverless_dbu_per_hour``, since Databricks does not publish
    it; without it, this raises PriceError.
    """
    _check("planned_databricks_usage", hours=hours, serverless_dbu_per_hour=serverless_dbu_per_hour)
    config = databricks_config
    if config.serverless:
        if serverless_dbu_per_hour is None:
            raise PriceError(
                "[databricks] serverless: how many DBUs serverless compute consumes per hour "
                "is not published, so a size-based estimate needs serverless_dbu_per_hour "
                "(or the history of recorded runs)"
            )
        return DatabricksUsage(
            compute="serverless",
            hours=hours,
            dbu_hours=serverless_dbu_per_hour * hours,
        )
    workers = config.autoscale.min_workers if config.autoscale else config.num_workers
    return DatabricksUsage(
        compute="all-purpose" if config.cluster_id else "jobs",
        hours=hours,
        node_type=config.node_type_id,
        driver_node_type=config.driver_node_type_id,
        workers=workers,
        spot_share=_spot_share(workers, config.availability, config.first_on_demand),
    )
