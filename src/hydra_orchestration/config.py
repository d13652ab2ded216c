"""The project config (HYDRA_CONFIG): a declared schema, checked before anything runs.

Every key is a field of a frozen pydantic model below, with its type, default and
description; unknown keys and wrong types are errors that name the key's path, the expected
type and, for a misspelt key, the nearest valid one. docs/orchestration.md's key reference
is generated from these models (``python -m hydra_orchestration.config``) and a test keeps
the two equal.
"""

from __future__ import annotations

import difflib
import functools
import re
import sys
import tomllib
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

__all__ = [
    "ConfigError",
    "DatabricksConfig",
    "DatabricksCostConfig",
    "DuckDBConfig",
    "ModeConfig",
    "ProjectConfig",
    "parse_config",
    "reference_markdown",
]

EXECUTION_MODES = ("small_dev_sample_local", "small_dev_sample_s3", "full")
_MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")


class ConfigError(ValueError):
    """The project config is not valid: every problem found, one per line."""


class _Section(BaseModel):
    # strict: TOML has real types, so "8" for a number or a string for a list is a mistake.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


SparkConf = Annotated[
    dict[str, str],
    Field(
        description='Spark settings (`"spark.sql.shuffle.partitions" = "8"`); values are strings.'
    ),
]


class PartitionsConfig(_Section):
    crawl_id: list[str] = Field(
        default_factory=list,
        description="The crawl ids that partitioned assets are split by, e.g. "
        '`["CC-MAIN-2024-10"]`. Empty: the assets are not partitioned.',
    )


class S3Config(_Section):
    bucket: str | None = Field(
        default=None,
        description="The bucket that `{s3}` in locations stands for; required by the modes "
        "that read S3 (`small_dev_sample_s3`, `full`).",
    )
    prefix: str = Field(default="ascii-hydra", description="A key prefix inside the bucket.")
    endpoint_url: str | None = Field(
        default=None,
        description="An S3-compatible store's endpoint (`http://127.0.0.1:9000`); unset: AWS. "
        "Credentials come from ASCII_AWS_ACCESS_KEY_ID and ASCII_AWS_SECRET_ACCESS_KEY.",
    )
    region: str = Field(default="us-east-1", description="The bucket's region.")
    path_style: bool = Field(
        default=False,
        description="Path-style addressing (`endpoint/bucket/key`), as most S3-compatible "
        "stores other than AWS need.",
    )

    @field_validator("endpoint_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/]+/?$", value):
            raise ValueError("expected http://host:port or https://host")
        return value


class PySparkConfig(_Section):
    jars: str = Field(
        default=".cache/spark-jars",
        description="A directory of jars for the local Spark session: hadoop-aws and the AWS "
        "SDK, which `make jars` (run by make and pixi) fetches there. Relative to the config "
        "file (the project, for the packaged one).",
    )


class ModeConfig(_Section):
    warehouse: str = Field(
        description="Where outputs are written, one directory per dataset (a path relative to "
        "the config file, an absolute path, or a location with `{s3}`)."
    )
    sources: dict[str, str] = Field(
        default_factory=dict,
        description="Where each source dataset is read from (dataset name = location); the "
        "names must be the registry's sources.",
    )


class ModesConfig(_Section):
    small_dev_sample_local: ModeConfig | None = Field(
        default=None, description="The committed sample, on this machine."
    )
    small_dev_sample_s3: ModeConfig | None = Field(
        default=None, description="A small sample on S3."
    )
    full: ModeConfig | None = Field(default=None, description="The full data on S3.")


class SparkConfig(_Section):
    pyspark: SparkConf = Field(
        default_factory=dict,
        description="Settings of the `pyspark` engine's session; `spark.master` picks the cluster (`local[*]` by default).",
    )
    emr: SparkConf = Field(default_factory=dict, description="Spark settings passed to EMR steps.")
    emr_serverless: SparkConf = Field(
        default_factory=dict,
        alias="emr-serverless",
        description="Spark settings passed to EMR Serverless job runs.",
    )
    databricks: SparkConf = Field(
        default_factory=dict, description="Spark settings of Databricks job clusters."
    )
    spark_connect: SparkConf = Field(
        default_factory=dict,
        alias="spark-connect",
        description="Runtime SQL settings of the `spark-connect` engine's sessions (the "
        "server owns static ones: memory, cores, jars).",
    )


# AWS services whose endpoint the config may set (S3's is [s3] endpoint_url).
AWS_SERVICES = ("emr", "emr-serverless", "logs")
_S3_URI = re.compile(r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?|\{s3\}(/.*)?)$")


def _s3_uri(value: str | None) -> str | None:
    if value is not None and not _S3_URI.match(value):
        raise ValueError("expected s3://bucket/prefix or {s3}/prefix")
    return value


class AwsConfig(_Section):
    region: str | None = Field(
        default=None,
        description="The region of EMR and EMR Serverless. Unset: the `[s3]` region.",
    )
    endpoint_urls: dict[str, str] = Field(
        default_factory=dict,
        description="Endpoints of AWS services other than S3 (`emr`, `emr-serverless`, "
        "`logs`) when they are not AWS's own, e.g. a local AWS-compatible server.",
    )
    staging: str = Field(
        default="{s3}/staging",
        description="Where launches put what a cluster needs: the code bundle (under its "
        "content hash, uploaded once) and the Dagster Pipes context and messages (per launch, "
        "removed after it).",
    )
    max_attempts: int = Field(
        default=10,
        ge=1,
        le=50,
        description="Attempts per AWS API call before its throttling or 5xx error fails the "
        "launch (botocore's standard retries: exponential backoff with jitter, up to 20 s).",
    )

    @field_validator("endpoint_urls")
    @classmethod
    def _endpoints(cls, value: dict[str, str]) -> dict[str, str]:
        for service, url in value.items():
            if service not in AWS_SERVICES:
                raise ValueError(f"unknown service {service!r}; valid: {', '.join(AWS_SERVICES)}")
            if not re.match(r"^https?://[^/]+/?$", url):
                raise ValueError(f"{service}: expected http://host:port or https://host")
        return value

    @field_validator("staging")
    @classmethod
    def _s3(cls, value: str) -> str | None:
        return _s3_uri(value)


class FleetConfig(_Section):
    instance_types: list[str] = Field(
        description='EC2 instance types the fleet may use, e.g. `["m6i.xlarge", "m5.xlarge"]`.',
        min_length=1,
    )
    on_demand: int = Field(default=0, ge=0, description="On-demand capacity (units).")
    spot: int = Field(default=0, ge=0, description="Spot capacity (units).")


class TaskFleetConfig(FleetConfig):
    allocation_strategy: Literal[
        "price-capacity-optimized", "capacity-optimized", "lowest-price", "diversified"
    ] = Field(default="price-capacity-optimized", description="How spot capacity is chosen.")
    spot_timeout_minutes: int = Field(
        default=10,
        ge=5,
        le=1440,
        description="How long to wait for spot capacity before `on_spot_timeout`.",
    )
    on_spot_timeout: Literal["SWITCH_TO_ON_DEMAND", "TERMINATE_CLUSTER"] = Field(
        default="SWITCH_TO_ON_DEMAND",
        description="What happens when spot capacity does not come: on-demand instead, or give up.",
    )


class ScalingConfig(_Section):
    minimum: int = Field(ge=1, description="The fewest capacity units the cluster scales to.")
    maximum: int = Field(ge=1, description="The most capacity units the cluster scales to.")
    maximum_on_demand: int | None = Field(
        default=None, ge=0, description="At most this many of them on-demand (the rest spot)."
    )
    maximum_core: int | None = Field(
        default=None, ge=1, description="At most this many of them on core nodes."
    )
    unit_type: Literal["InstanceFleetUnits", "Instances", "VCPU"] = Field(
        default="InstanceFleetUnits", description="What a unit counts."
    )

    @model_validator(mode="after")
    def _ordered(self) -> ScalingConfig:
        if self.minimum > self.maximum:
            raise ValueError(f"minimum ({self.minimum}) is above maximum ({self.maximum})")
        return self


class EmrConfig(_Section):
    cluster_id: str | None = Field(
        default=None,
        description="Run steps on this existing cluster (`j-...`) instead of one cluster per "
        "launch; it is never terminated by a launch.",
    )
    release_label: str = Field(default="emr-7.5.0", description="The EMR release.")
    python: str = Field(
        default="python3.11",
        description="The Python that runs the step on the nodes (3.11 or newer); the "
        "bootstrap installs it with dnf when the image lacks it.",
    )
    log_uri: str = Field(
        default="{s3}/logs/emr", description="Where EMR writes cluster and step logs."
    )
    service_role: str = Field(default="EMR_DefaultRole", description="EMR's service role.")
    instance_profile: str = Field(
        default="EMR_EC2_DefaultRole",
        description="The nodes' instance profile: its role reads and writes the data.",
    )
    subnet_ids: list[str] = Field(
        default_factory=list,
        description="Subnets the fleets may use (EMR picks one). Empty: the default VPC.",
    )
    primary: FleetConfig = Field(
        default_factory=lambda: FleetConfig(instance_types=["m6i.xlarge"], on_demand=1),
        description="The primary node.",
    )
    core: FleetConfig = Field(
        default_factory=lambda: FleetConfig(instance_types=["m6i.xlarge"], on_demand=2),
        description="Core nodes (on-demand: they hold HDFS and shuffle data).",
    )
    task: TaskFleetConfig | None = Field(
        default=None, description="Task nodes, usually spot. Unset: no task fleet."
    )
    scaling: ScalingConfig | None = Field(
        default=None, description="EMR managed scaling. Unset: a fixed size."
    )
    idle_timeout_s: int = Field(
        default=900,
        ge=60,
        le=7 * 24 * 3600,
        description="EMR terminates a cluster idle this long, should a launch not (a "
        "killed Dagster).",
    )
    timeout_s: int = Field(
        default=6 * 3600,
        ge=1,
        description="A launch that has not finished after this long fails, and its cluster "
        "is terminated.",
    )
    poll_interval_s: float = Field(
        default=15, gt=0, description="How often the launch asks EMR for the step's state."
    )
    logs_wait_s: float = Field(
        default=120,
        ge=0,
        description="How long to wait after the step for EMR to upload its stdout and stderr.",
    )
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Tags of every cluster, beside the run id, assets, mode and project.",
    )

    @model_validator(mode="after")
    def _fleets(self) -> EmrConfig:
        if self.primary.on_demand + self.primary.spot != 1:
            raise ValueError("primary: a cluster has one primary node (on_demand = 1 or spot = 1)")
        for name, fleet in (("core", self.core), ("task", self.task)):
            if fleet is not None and fleet.on_demand + fleet.spot == 0:
                raise ValueError(f"{name}: no capacity (set on_demand or spot)")
        return self

    @field_validator("log_uri")
    @classmethod
    def _s3(cls, value: str) -> str | None:
        return _s3_uri(value)


class EmrServerlessConfig(_Section):
    application_id: str | None = Field(
        default=None,
        description="The EMR Serverless application (Spark) job runs go to; required by "
        "`emr-serverless`. Its image must hold the project's dependencies (docs).",
    )
    execution_role_arn: str | None = Field(
        default=None,
        description="The role job runs assume to read and write the data; required by "
        "`emr-serverless`.",
    )
    python: str | None = Field(
        default=None,
        description="PYSPARK_PYTHON of the job run (the image's Python 3.11+). Unset: the "
        "image's default.",
    )
    log_uri: str = Field(
        default="{s3}/logs/emr-serverless", description="Where job runs write their logs."
    )
    timeout_s: int = Field(
        default=6 * 3600,
        ge=1,
        description="A job run not finished after this long is cancelled and fails (EMR"
        " Serverless ends it itself a minute later, at least after 5 minutes, as its"
        " `executionTimeoutMinutes`, should Dagster be gone).",
    )
    poll_interval_s: float = Field(
        default=10, gt=0, description="How often the launch asks for the job run's state."
    )
    tags: dict[str, str] = Field(
        default_factory=dict, description="Tags of every job run, beside the run id and assets."
    )

    @field_validator("log_uri")
    @classmethod
    def _s3(cls, value: str) -> str | None:
        return _s3_uri(value)


_DATABRICKS_FILES = re.compile(r"^(dbfs:/[^\s]*|/Volumes/[^/\s]+/[^/\s]+/[^/\s]+(/[^\s]*)?)$")


class DatabricksAutoscale(_Section):
    min_workers: int = Field(ge=1, description="The fewest workers the job cluster scales to.")
    max_workers: int = Field(ge=1, description="The most workers the job cluster scales to.")

    @model_validator(mode="after")
    def _ordered(self) -> DatabricksAutoscale:
        if self.min_workers > self.max_workers:
            raise ValueError(
                f"min_workers ({self.min_workers}) is above max_workers ({self.max_workers})"
            )
        return self


class DatabricksConfig(_Section):
    serverless: bool = Field(
        default=False,
        description="Run on serverless jobs compute (the wheel as an environment dependency, "
        "Pipes over `files`, which must then be a Unity Catalog volume) instead of a job "
        "cluster.",
    )
    files: str = Field(
        default="dbfs:/hydra",
        description="Where launches put the code bundle (`<files>/code/<hash>/`, uploaded "
        "once): `dbfs:/...`, or a Unity Catalog volume `/Volumes/<catalog>/<schema>/"
        "<volume>/...` (required by `serverless`; then the Pipes context and messages go to "
        "`<files>/tmp/`, else to DBFS's `/tmp/`; removed after each launch).",
    )
    cluster_id: str | None = Field(
        default=None,
        description="Run on this existing all-purpose cluster instead of a new job cluster per "
        "launch; it is never terminated by a launch.",
    )
    spark_version: str = Field(
        default="15.4.x-scala2.12",
        description="The job cluster's Databricks Runtime (its Python must be 3.11 or newer).",
    )
    node_type_id: str = Field(default="i3.xlarge", description="The workers' node type.")
    driver_node_type_id: str | None = Field(
        default=None, description="The driver's node type. Unset: `node_type_id`."
    )
    num_workers: int = Field(
        default=2, ge=0, description="Workers of a fixed-size job cluster (without `autoscale`)."
    )
    autoscale: DatabricksAutoscale | None = Field(
        default=None, description="Autoscaling of the job cluster. Unset: `num_workers`."
    )
    availability: Literal["SPOT_WITH_FALLBACK", "SPOT", "ON_DEMAND"] = Field(
        default="SPOT_WITH_FALLBACK",
        description="AWS: spot workers that fall back to on-demand when spot is not there, "
        "spot only, or on-demand only.",
    )
    first_on_demand: int = Field(
        default=1, ge=0, description="This many nodes (the driver first) are on-demand."
    )
    policy_id: str | None = Field(
        default=None, description="A cluster policy the job cluster is created under."
    )
    instance_profile_arn: str | None = Field(
        default=None,
        description="The job cluster's instance profile: its role reads and writes the data on S3.",
    )
    log_destination: str | None = Field(
        default="dbfs:/hydra/logs",
        description="Where the job cluster delivers its driver's logs (`dbfs:/...`), which "
        "the launch forwards to Dagster. Unset: no log delivery.",
    )
    logs_wait_s: float = Field(
        default=120,
        ge=0,
        description="How long to wait after the run for the job cluster to deliver its "
        "driver's logs.",
    )
    environment_version: str = Field(
        default="2", description="The serverless environment's version (its `client`)."
    )
    timeout_s: int = Field(
        default=6 * 3600,
        ge=1,
        description="A run not finished after this long is cancelled and fails (Databricks "
        "ends it itself a minute later, as its `timeout_seconds`, should Dagster be gone).",
    )
    poll_interval_s: float = Field(
        default=10, gt=0, description="How often the launch asks for the run's state."
    )
    retry_timeout_s: int = Field(
        default=300,
        ge=1,
        description="How long a throttled (429) or unavailable (503) API call is retried "
        "before the launch fails.",
    )
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Tags of every job cluster and run, beside the run id, assets, mode and "
        "project.",
    )

    @field_validator("files")
    @classmethod
    def _files(cls, value: str) -> str:
        if not _DATABRICKS_FILES.match(value):
            raise ValueError("expected dbfs:/path or /Volumes/<catalog>/<schema>/<volume>/path")
        return value.rstrip("/")

    @field_validator("log_destination")
    @classmethod
    def _dbfs(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("dbfs:/"):
            raise ValueError("expected dbfs:/path")
        return value

    @model_validator(mode="after")
    def _serverless(self) -> DatabricksConfig:
        if self.serverless and not self.files.startswith("/Volumes/"):
            raise ValueError(
                "serverless: files must be a Unity Catalog volume (/Volumes/...), "
                f"not {self.files!r}"
            )
        if self.serverless and self.cluster_id:
            raise ValueError("serverless and cluster_id exclude each other")
        return self


class DuckDBConfig(_Section):
    memory_limit: str | None = Field(
        default=None,
        description='DuckDB\'s memory limit (`"8GB"`, `"512MiB"`); beyond it DuckDB spills '
        "to `temp_directory`. Unset: DuckDB's default, 80% of the machine's memory.",
    )
    threads: int | None = Field(
        default=None, ge=1, description="Threads DuckDB uses. Unset: one per core."
    )
    temp_directory: str | None = Field(
        default=None,
        description="Where DuckDB spills what does not fit in memory (relative to the config "
        "file). Unset: `hydra-duckdb` in the system's temporary directory.",
    )
    preserve_insertion_order: bool = Field(
        default=False,
        description="Keep row order in writes. Off: outputs have no order promise, and DuckDB "
        "then needs far less memory to write large results.",
    )

    @field_validator("memory_limit")
    @classmethod
    def _memory(cls, value: str | None) -> str | None:
        if value is not None and not _MEMORY.match(value.strip()):
            raise ValueError("expected a size such as '8GB' or '512MiB'")
        return value


_CONNECT_URL = re.compile(r"^sc://[^/;:]+(:[0-9]+)?/?(;[^;=]+=[^;]*)*$")


class SparkConnectConfig(_Section):
    """`[spark-connect]`: the Spark Connect server of the `spark-connect` engine."""

    remote: str | None = Field(
        default=None,
        description="The server: `sc://host:port`, with Spark's connection-string parameters "
        "(`sc://host:443/;use_ssl=true`). SPARK_REMOTE, when set, wins. A token never goes "
        "here: the engine reads it from SPARK_CONNECT_TOKEN at launch.",
    )

    @field_validator("remote")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not _CONNECT_URL.match(value):  # not echoed: it might hold a token
            raise ValueError("expected sc://host:port[/;param=value...]")
        if re.search(r";token=", value, flags=re.IGNORECASE):
            raise ValueError(
                "a token does not belong in the config file: set SPARK_CONNECT_TOKEN instead"
            )
        return value


class SweeperConfig(_Section):
    """`[sweeper]`: the sensor that ends compute whose Dagster run is over."""

    enabled: bool | Literal["auto"] = Field(
        default="auto",
        description=(
            "Whether the sweeper sensor runs by default. `auto`: when it has a platform to"
            " sweep: the default engine when remote, and each platform whose section (`[emr]`,"
            " `[emr-serverless]` or `[aws]`, `[databricks]`) is in this file."
        ),
    )
    interval_s: int = Field(
        default=300, ge=30, description="How often the sweeper lists this project's compute."
    )


# [cost]: the cost model's prices (hydra_orchestration.cost), with the layout of one region of
# its price table, prices.toml.


# The packaged price table (hydra_orchestration/prices.toml): `[cost]` is checked against its
# regions and instance types here; hydra_orchestration.cost prices with it.
PRICES_FILE = "prices.toml"


@functools.cache
def packaged_prices() -> dict[str, Any]:
    """The packaged price table as its TOML reads."""
    text = resources.files("hydra_orchestration").joinpath(PRICES_FILE).read_text("utf-8")
    return tomllib.loads(text)


@functools.cache
def packaged_regions() -> dict[str, _Prices]:
    """The packaged prices of each region, checked as `[cost]` would be."""
    regions: dict[str, _Prices] = {}
    for name, prices in packaged_prices().get("regions", {}).items():
        try:
            regions[name] = _Prices.model_validate({**prices, "region": name})
        except ValidationError as exc:
            raise ConfigError(f"the packaged {PRICES_FILE}, region {name}: {exc}") from None
    return regions


def unknown_region(region: str) -> str:
    valid = list(packaged_regions())
    return (
        f"the price table has no region {region!r}; its regions: {', '.join(valid)}. "
        "For another region, pick the nearest one and override its prices in [cost]"
    )


def new_instance_type(name: str, region: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"instance type {name!r} is not in the {region} price table{hint}, so it needs an "
        f"on_demand price; the table has: {', '.join(sorted(known))}"
    )


_INSTANCE_TYPE = re.compile(r"^[a-z0-9][a-z0-9-]*\.[a-z0-9-]+$")
Architecture = Literal["x86_64", "arm64"]


class InstancePrice(_Section):
    """One instance type's prices, in USD per hour. In `[cost.instances."<type>"]`, a key
    that is left out keeps the table's figure."""

    on_demand: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="EC2 on-demand USD per hour (Linux). Required for a type the table lacks.",
    )
    spot: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="An estimate of the spot USD per hour (spot prices change by the hour).",
    )
    emr: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="EMR's USD per hour, paid on top of the instance price.",
    )
    dbu: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="Databricks DBUs per hour for one node of this type.",
    )


class EmrServerlessPrice(_Section):
    """EMR Serverless prices for one architecture. A key that is left out keeps the table's
    figure."""

    vcpu_hour: float | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="USD per vCPU-hour."
    )
    gb_hour: float | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="USD per memory GB-hour."
    )
    storage_gb_hour: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="USD per GB-hour of ephemeral storage beyond the 20 GB each worker gets free.",
    )


class DbuRatesPrice(_Section):
    """USD per Databricks DBU, by kind of compute. A key that is left out keeps the table's
    figure."""

    jobs: float | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="Jobs compute (job clusters)."
    )
    all_purpose: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="All-purpose compute (`[databricks] cluster_id`).",
    )
    serverless_jobs: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="Serverless jobs compute (`[databricks] serverless`). This price "
        "includes the machines.",
    )


class _Prices(_Section):
    """The prices for one region. prices.toml has one such table per region, and
    ``[cost]`` uses the same layout for its overrides."""

    region: str = Field(
        default="us-east-1",
        description="The region whose prices apply. The table has us-east-1 and eu-west-1; "
        "for another region, pick the nearest one and override its prices here.",
    )
    instances: dict[str, InstancePrice] = Field(
        default_factory=dict,
        description='Prices per EC2 instance type (`[cost.instances."m5.xlarge"] spot = '
        "0.07`), replacing or adding to the table's.",
    )
    emr_serverless: dict[Architecture, EmrServerlessPrice] = Field(
        default_factory=dict,
        alias="emr-serverless",
        description="EMR Serverless prices per architecture (`x86_64`, `arm64`), "
        "replacing the table's.",
    )
    dbu_rates: DbuRatesPrice = Field(
        default_factory=DbuRatesPrice,
        description="USD per Databricks DBU (`jobs`, `all_purpose`, `serverless_jobs`), "
        "replacing the table's (e.g. a negotiated rate).",
    )
    ebs_gb_month: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="USD per GB-month of EBS volumes, for volumes a usage reports.",
    )

    @field_validator("instances")
    @classmethod
    def _instance_types(cls, value: dict[str, InstancePrice]) -> dict[str, InstancePrice]:
        for name in value:
            if not _INSTANCE_TYPE.match(name):
                raise ValueError(f"{name!r} is not an instance type such as 'm5.xlarge'")
        return value


class DatabricksCostConfig(_Section):
    """`[cost.databricks]`: what the cost model cannot read from Databricks."""

    serverless_dbu_per_hour: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="An estimate of the DBUs per hour that a run on serverless jobs compute "
        "(`[databricks] serverless`) consumes, which Databricks does not publish. Set: each "
        "serverless run records this times its duration at the serverless rate, marked as an "
        "estimate (`cost_basis`), and a plan prices serverless per hour. Unset: a serverless "
        "run records its time, with its cost unknown.",
    )


class CostConfig(_Prices):
    """`[cost]`: the region whose prices apply, any prices that replace the table's, and
    estimates the platforms do not report (`[cost.databricks]`)."""

    databricks: DatabricksCostConfig = Field(
        default_factory=DatabricksCostConfig,
        description="Estimates for Databricks compute that the platform does not report.",
    )

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if value not in packaged_regions():
            raise ValueError(unknown_region(value))
        return value

    @field_validator("instances")
    @classmethod
    def _new_types(
        cls, value: dict[str, InstancePrice], info: ValidationInfo
    ) -> dict[str, InstancePrice]:
        table = packaged_regions().get(info.data.get("region", ""))
        if table is None:  # the region's own error says why
            return value
        for name, price in value.items():
            if name not in table.instances and price.on_demand is None:
                raise ValueError(new_instance_type(name, table.region, list(table.instances)))
        return value


class ProjectConfig(_Section):
    """The whole file. Every section may be left out; its defaults then apply."""

    partitions: PartitionsConfig = Field(
        default_factory=PartitionsConfig, description="How partitioned assets are split."
    )
    s3: S3Config = Field(default_factory=S3Config, description="The object store.")
    modes: ModesConfig = Field(
        default_factory=ModesConfig,
        description="Dataset locations per execution mode (SPARK_EXECUTION_MODE).",
    )
    spark: SparkConfig = Field(
        default_factory=SparkConfig, description="Spark settings per engine."
    )
    pyspark: PySparkConfig = Field(
        default_factory=PySparkConfig, description="The local Spark session of `pyspark`."
    )
    duckdb: DuckDBConfig = Field(
        default_factory=DuckDBConfig, description="Resources of the `duckdb` engine."
    )
    aws: AwsConfig = Field(
        default_factory=AwsConfig, description="What `emr` and `emr-serverless` share."
    )
    emr: EmrConfig = Field(
        default_factory=EmrConfig, description="The `emr` engine: its clusters and steps."
    )
    emr_serverless: EmrServerlessConfig = Field(
        default_factory=EmrServerlessConfig,
        alias="emr-serverless",
        description="The `emr-serverless` engine: its application and job runs.",
    )
    databricks: DatabricksConfig = Field(
        default_factory=DatabricksConfig,
        description="The `databricks` engine: its job clusters or serverless runs.",
    )
    spark_connect: SparkConnectConfig = Field(
        default_factory=SparkConnectConfig,
        alias="spark-connect",
        description="The `spark-connect` engine: its server.",
    )
    sweeper: SweeperConfig = Field(
        default_factory=SweeperConfig,
        description="The sensor that ends compute whose Dagster run is over.",
    )
    cost: CostConfig = Field(
        default_factory=CostConfig,
        description="The prices the cost model uses: a region, and any prices that replace "
        "the packaged table's (docs/cost.md).",
    )


def parse_config(text: str, *, source: str) -> ProjectConfig:
    """The config in ``text`` (TOML), or ConfigError listing every problem with its key path."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from exc
    try:
        return ProjectConfig.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors()]
        raise ConfigError(
            f"{source} is not a valid project config:\n" + "\n".join(f"  - {p}" for p in problems)
        ) from None


# Keys whose value an error does not repeat: a mistaken one may hold a secret.
_NOT_ECHOED = {("spark-connect", "remote")}


def _describe(error: Any) -> str:
    loc = tuple(str(part) for part in error["loc"])
    where = ".".join(f'"{part}"' if "." in part else part for part in loc) or "<top level>"
    if error["type"] == "extra_forbidden":
        valid = _keys_at(loc[:-1])
        close = difflib.get_close_matches(loc[-1], valid, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"{where}: unknown key; {hint}valid keys here: {', '.join(valid)}"
    if error["type"] == "missing":
        return f"{where}: required, not set"
    got = error.get("input")
    shown = f"{got!r} ({type(got).__name__})" if not isinstance(got, dict) else "a table"
    if loc in _NOT_ECHOED:
        shown = "a value not shown here (it may hold a secret)"
    if error["type"].endswith("_type"):  # string_type, list_type, model_type, ...
        return f"{where}: expected {_expected(loc)}, got {shown}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message[:1].lower()}{message[1:]}, got {shown}"


def _keys(model: Any) -> dict[str, FieldInfo]:
    """A model's fields by the key the file uses (the alias, e.g. ``emr-serverless``)."""
    fields = getattr(model, "model_fields", {})
    return {field.alias or name: field for name, field in fields.items()}


def _model_at(loc: tuple[str, ...]) -> type[BaseModel] | None:
    model: Any = ProjectConfig
    for part in loc:
        if get_origin(model) is dict:  # a table of tables: ``part`` is one of its keys
            model = _model_of(get_args(model)[1])
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = _keys(model).get(part)
        if field is None:
            return None
        model = _model_of(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _keys_at(loc: tuple[str, ...]) -> list[str]:
    model = _model_at(loc)
    return list(_keys(model)) if model is not None else []


def _expected(loc: tuple[str, ...]) -> str:
    parent = _model_at(loc[:-1])
    field = _keys(parent).get(loc[-1]) if parent is not None else None
    if field is None:  # inside a table of strings (sources, Spark settings)
        return "a string"
    return _type_name(field.annotation)


def _model_of(annotation: Any) -> Any:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is Annotated:
        return _model_of(args[0])
    if args and get_origin(annotation) not in (list, dict):
        return _model_of(args[0])  # X | None
    return annotation


def _type_name(annotation: Any) -> str:
    origin, args = get_origin(annotation), [a for a in get_args(annotation) if a is not type(None)]
    if origin is Annotated:
        return _type_name(args[0])
    if origin is list:
        return f"a list of {_plural(args[0])}"
    if origin is dict:
        return f"a table of {_plural(args[1])}"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if args:  # X | None
        return _type_name(args[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "a table"
    names = {str: "a string", int: "an integer", bool: "true or false", float: "a number"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _plural(annotation: Any) -> str:
    return {str: "strings", int: "integers", bool: "booleans"}.get(annotation, "values")


def reference_markdown() -> str:
    """Every key of the config, as the Markdown table docs/orchestration.md shows."""
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for path, field in _fields(ProjectConfig, ()):
        default = "required" if field.is_required() else _default(field)
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `{path}` | {_type_name(field.annotation)} | {default} | {description} |")
    return "\n".join(lines)


def _fields(model: type[BaseModel], prefix: tuple[str, ...]) -> Iterator[tuple[str, FieldInfo]]:
    for name, field in _keys(model).items():
        inner = _model_of(field.annotation)
        path = (*prefix, name)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            yield from _fields(inner, path)
        else:
            section, key = ".".join(path[:-1]), path[-1]
            yield (f"[{section}] {key}" if section else key), field


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if value in ({}, []):
        return "empty"
    return f"`{value!r}`".replace("True", "true").replace("False", "false")


def _print_reference() -> None:  # pragma: no cover - a maintenance command
    sys.stdout.write(reference_markdown() + "\n")


if __name__ == "__main__":  # pragma: no cover
    _print_reference()
