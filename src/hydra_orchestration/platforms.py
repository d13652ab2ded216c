"""Every platform a step can run on, declared once.

A platform is what SPARK_PIPES_ENGINE (or run config) names: where the transforms run, how
Dagster reaches them, what credentials that needs. Settings check a chosen platform against
this declaration, the planner asks whether launching it starts anything, the launchers are
found through it, and the remote entrypoint knows its transports from it. Nothing else lists
platforms. No dagster import: the remote entrypoint reads this module too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

__all__ = [
    "AWS_CREDENTIALS",
    "DATABRICKS_CREDENTIALS",
    "PLATFORMS",
    "TRANSPORTS",
    "Platform",
    "platform",
]

Backend = Literal["duckdb", "spark", "spark-connect"]
Runs = Literal["in-process", "local", "remote"]
Transport = Literal["none", "subprocess", "s3", "dbfs", "volumes"]
SparkS3 = Literal["s3a", "cluster"]

AWS_CREDENTIALS = ("ASCII_AWS_ACCESS_KEY_ID", "ASCII_AWS_SECRET_ACCESS_KEY")
DATABRICKS_CREDENTIALS = ("DATABRICKS_HOST", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET")


@dataclass(frozen=True)
class Platform:
    """One place a step can run.

    ``runs``: ``in-process`` (the Dagster process itself: a launch starts nothing), ``local``
    (a process on this machine) or ``remote`` (a cluster: its files must be on an object
    store). ``transport`` is how Dagster Pipes talks to the step. ``credentials`` are the
    environment variables it needs (names only; values are read at launch). ``spark_conf``
    is the default under the project config's ``[spark.<name>]``. ``spark_s3`` says who
    makes Spark read ``s3://``: the step itself, through S3A pointed at the configured store
    (``s3a``: a Spark of our own), or the cluster's own file system (``cluster``: EMRFS,
    Databricks), which the step leaves alone. ``config_required`` are keys of the project
    config the platform cannot run without. ``launcher`` is ``module:Class`` of its
    launcher, None while this version has none.
    """

    name: str
    description: str
    backend: Backend
    runs: Runs
    transport: Transport
    credentials: tuple[str, ...] = ()
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    spark_s3: SparkS3 = "s3a"
    config_required: tuple[str, ...] = ()
    config_from_environment: Mapping[str, str] = field(default_factory=dict)
    launcher: str | None = None
    other_transports: tuple[Transport, ...] = ()

    @property
    def in_process(self) -> bool:
        return self.runs == "in-process"

    @property
    def remote(self) -> bool:
        return self.runs == "remote"


PLATFORMS: Mapping[str, Platform] = MappingProxyType(
    {
        p.name: p
        for p in (
            Platform(
                name="pyspark",
                description="Spark in a local subprocess (or the cluster spark.master names)",
                backend="spark",
                runs="local",
                transport="subprocess",
                spark_conf=MappingProxyType(
                    {"spark.master": "local[*]", "spark.sql.shuffle.partitions": "8"}
                ),
                launcher="hydra_orchestration.launchers.subprocess:PySparkSubprocessLauncher",
            ),
            Platform(
                name="duckdb",
                description="DuckDB in the Dagster process",
                backend="duckdb",
                runs="in-process",
                transport="none",
                launcher="hydra_orchestration.launchers.local:DuckDBLauncher",
            ),
            Platform(
                name="spark-connect",
                description="a Spark Connect server (sc://host:port), reached from the Dagster "
                "process over gRPC",
                backend="spark-connect",
                runs="in-process",
                transport="none",
                spark_conf=MappingProxyType({"spark.sql.shuffle.partitions": "8"}),
                config_required=("spark-connect.remote",),
                config_from_environment=MappingProxyType({"spark-connect.remote": "SPARK_REMOTE"}),
                launcher="hydra_orchestration.launchers.local:SparkConnectLauncher",
            ),
            Platform(
                name="emr",
                description="an AWS EMR cluster (one per launch, or a named one), one Spark "
                "step per launch",
                backend="spark",
                runs="remote",
                transport="s3",
                credentials=AWS_CREDENTIALS,
                spark_conf=MappingProxyType({"spark.sql.shuffle.partitions": "200"}),
                spark_s3="cluster",
                launcher="hydra_orchestration.launchers.emr:EMRLauncher",
            ),
            Platform(
                name="emr-serverless",
                description="an EMR Serverless job run on a configured application",
                backend="spark",
                runs="remote",
                transport="s3",
                credentials=AWS_CREDENTIALS,
                spark_conf=MappingProxyType({"spark.sql.shuffle.partitions": "200"}),
                spark_s3="cluster",
                config_required=(
                    "emr-serverless.application_id",
                    "emr-serverless.execution_role_arn",
                ),
                launcher="hydra_orchestration.launchers.emr_serverless:EMRServerlessLauncher",
            ),
            Platform(
                name="databricks",
                description="a Databricks one-time run: on a new job cluster, a named cluster, "
                "or serverless",
                backend="spark",
                runs="remote",
                transport="dbfs",
                credentials=DATABRICKS_CREDENTIALS,
                spark_s3="cluster",
                launcher="hydra_orchestration.launchers.databricks:DatabricksLauncher",
                other_transports=("volumes",),
            ),
        )
    }
)

# How a step's Pipes messages travel, for the remote entrypoint's --transport.
TRANSPORTS: tuple[str, ...] = tuple(
    dict.fromkeys(
        t for p in PLATFORMS.values() for t in (p.transport, *p.other_transports) if t != "none"
    )
)


def platform(name: str) -> Platform:
    """The platform called ``name``, or ValueError naming the valid ones."""
    try:
        return PLATFORMS[name]
    except KeyError:
        raise ValueError(
            f"unknown engine {name!r}; valid engines: {', '.join(PLATFORMS)}"
        ) from None
