"""emr: the step runs as a Spark step on an AWS EMR cluster, through Pipes over S3.

One launch starts one cluster, shaped by the config's ``[emr]`` section, whose only step is
``spark-submit`` of the project's entrypoint; or, with ``[emr] cluster_id``, adds the step to
that cluster. The code goes with it as a bundle (:mod:`hydra_orchestration.shipping`)
installed on every node by a bootstrap action (on a named cluster, by a step before it).

This launcher does not use dagster-aws' ``PipesEMRClient``. Measured on dagster-aws 0.29.27
(tests/orchestration/test_emr.py proves each point), it:

- never checks the step's state: it compares EMR's state strings with members of an Enum
  (``EMR_CLUSTER_TERMINATED_STATES``), which never match, so a FAILED step with
  ``ActionOnFailure=CONTINUE`` ends as a success;
- waits with botocore's waiters (30 s x 60 attempts for ``cluster_terminated``): a step longer
  than 30 minutes raises WaiterError while the cluster keeps running, and billing;
- terminates the cluster only when Dagster interrupts it, not on its own errors or timeouts;
- injects the Pipes parameters as cluster configuration, which a running cluster cannot take.

Here the step's state is polled with no attempt limit up to ``[emr] timeout_s``; a cluster
this launch started is terminated when the launch ends, however it ends (success included:
the request is idempotent), and a step on a named cluster is cancelled if it has not
finished. Pipes' parameters travel as the entrypoint's arguments.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg

from hydra_orchestration.cost import EmrUsage, planned_emr_usage
from hydra_orchestration.launchers.aws import (
    AwsPipesLauncher,
    ClientFactory,
    S3Location,
    StepLogs,
    cleanup,
    poll,
    tail,
)
from hydra_orchestration.launchers.base import StepFailed, record_usage
from hydra_orchestration.launchers.compute import RUN_ID_TAG, Compute, compute_tags
from hydra_orchestration.remote.step import StepRequest
from hydra_orchestration.settings import Settings
from hydra_orchestration.shipping import Shipped, build_bundle, ship

__all__ = ["EMRLauncher", "spark_submit_args", "tags_for"]

STEP_FINAL = frozenset({"COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED"})
CLUSTER_ENDED = frozenset({"TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"})
CLUSTER_ALIVE = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]


class EMRLauncher(AwsPipesLauncher):
    def __init__(self, settings: Settings, clients: ClientFactory | None = None) -> None:
        super().__init__(settings, clients)
        self.config = settings.config.emr

    @property
    def interval_s(self) -> float:
        return self.config.poll_interval_s

    def running_compute(self) -> Iterator[Compute]:
        """Clusters alive with a run id tag (a launch's own; never ``[emr] cluster_id``)."""
        emr = self.clients("emr")
        for page in emr.get_paginator("list_clusters").paginate(ClusterStates=CLUSTER_ALIVE):
            for summary in page["Clusters"]:
                cluster_id = summary["Id"]
                if cluster_id == self.config.cluster_id:
                    continue
                cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
                tags = {tag["Key"]: tag["Value"] for tag in cluster.get("Tags", [])}
                if RUN_ID_TAG in tags:
                    yield Compute(
                        platform="emr",
                        id=cluster_id,
                        tags=tags,
                        end=lambda c=cluster_id: emr.terminate_job_flows(JobFlowIds=[c]),
                    )

    def run_step(
        self, context: dg.AssetExecutionContext, session: dg.PipesSession, request: StepRequest
    ) -> None:
        s3, emr = self.clients("s3"), self.clients("emr")
        shipped = ship(build_bundle(request.registry), self.staging, s3=self.settings.s3, client=s3)
        context.log.info(
            f"code bundle {'uploaded to' if shipped.uploaded else 'already at'} {shipped.prefix}"
        )
        step = {
            "Name": _limit(f"hydra {', '.join(request.transforms)}"),
            "HadoopJarStep": {
                "Jar": "command-runner.jar",
                "Args": spark_submit_args(
                    self.settings,
                    request,
                    shipped.entrypoint,
                    python=self.config.python,
                    pipes=session.get_bootstrap_cli_arguments(),
                    message_interval_s=self.config.poll_interval_s,
                ),
            },
        }
        with self._cluster(context, emr, request, shipped, step) as (cluster_id, step_id):
            session.report_launched({"extras": {"cluster_id": cluster_id, "step_id": step_id}})
            state = self._wait(context, emr, cluster_id, step_id)
        if state != "COMPLETED":
            raise StepFailed(self._failure(context, emr, s3, cluster_id, step_id, state))
        self._logs(context, emr, s3, cluster_id, step_id)

    @contextlib.contextmanager
    def _cluster(
        self,
        context: dg.AssetExecutionContext,
        emr: Any,
        request: StepRequest,
        shipped: Shipped,
        step: dict[str, Any],
    ) -> Iterator[tuple[str, str]]:
        """Start the step (on a new cluster, or the named one); when the block ends, however
        it ends, terminate the cluster started here, or cancel the step if it still runs."""
        if self.config.cluster_id:
            cluster_id = self.config.cluster_id
            install = {
                "Name": "hydra: install the code bundle",
                "ActionOnFailure": "CANCEL_AND_WAIT",
                "HadoopJarStep": {
                    "Jar": "command-runner.jar",
                    "Args": ["bash", "-c", _install_command(shipped, self.config.python)],
                },
            }
            step_ids = emr.add_job_flow_steps(
                JobFlowId=cluster_id,
                Steps=[install, {**step, "ActionOnFailure": "CONTINUE"}],
            )["StepIds"]
            step_id = step_ids[-1]
            context.log.info(f"EMR step {step_id} added to cluster {cluster_id}")
            try:
                yield cluster_id, step_id
            finally:
                state = emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]
                if state["Status"]["State"] not in STEP_FINAL:
                    context.log.info(f"cancelling EMR step {step_id} on cluster {cluster_id}")
                    with cleanup(context, f"cancelling step {step_id}"):
                        emr.cancel_steps(
                            ClusterId=cluster_id,
                            StepIds=step_ids,
                            StepCancellationOption="TERMINATE_PROCESS",
                        )
            return
        cluster_id = emr.run_job_flow(
            **self.job_flow(request, shipped, {**step, "ActionOnFailure": "TERMINATE_CLUSTER"})
        )["JobFlowId"]
        try:
            context.log.info(f"EMR cluster {cluster_id} started: {_console(emr, cluster_id)}")
            step_id = emr.list_steps(ClusterId=cluster_id)["Steps"][0]["Id"]
            yield cluster_id, step_id
        finally:
            context.log.info(f"terminating EMR cluster {cluster_id}")
            with cleanup(context, f"terminating cluster {cluster_id}"):
                emr.terminate_job_flows(JobFlowIds=[cluster_id])
            with cleanup(context, f"reading cluster {cluster_id}'s timeline for its cost"):
                record_usage(self._usage(emr, cluster_id))

    def _usage(self, emr: Any, cluster_id: str) -> EmrUsage:
        """The cluster's fleets as this launch asked for them, for as long as EMR's timeline
        says the cluster has existed (from its creation to its end, or to now while it
        terminates: billing stops a little later)."""
        timeline = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["Timeline"]
        created = timeline["CreationDateTime"]
        ended = timeline.get("EndDateTime") or datetime.datetime.now(tz=created.tzinfo)
        hours = max(0.0, (ended - created).total_seconds() / 3600)
        return planned_emr_usage(self.config, hours)

    def job_flow(
        self, request: StepRequest, shipped: Shipped, step: dict[str, Any]
    ) -> dict[str, Any]:
        """``run_job_flow``'s parameters: the cluster of ``[emr]``, with ``step`` its only
        step, the code bundle as a bootstrap action, terminated when the step ends."""
        config = self.config
        fleets = [
            _fleet("MASTER", config.primary),
            _fleet("CORE", config.core),
            *([_fleet("TASK", config.task)] if config.task else []),
        ]
        instances: dict[str, Any] = {
            "InstanceFleets": fleets,
            "KeepJobFlowAliveWhenNoSteps": False,
            "TerminationProtected": False,
        }
        if config.subnet_ids:
            instances["Ec2SubnetIds"] = list(config.subnet_ids)
        params: dict[str, Any] = {
            "Name": _limit(f"hydra {request.run_id[:8]} {', '.join(request.transforms)}"),
            "ReleaseLabel": config.release_label,
            "LogUri": self.settings.s3_location(config.log_uri).rstrip("/") + "/",
            "Applications": [{"Name": "Spark"}],
            "Instances": instances,
            "BootstrapActions": [
                {
                    "Name": "hydra: install the code bundle",
                    "ScriptBootstrapAction": {
                        "Path": shipped.bootstrap,
                        "Args": [shipped.prefix, config.python],
                    },
                }
            ],
            "Steps": [step],
            "ServiceRole": config.service_role,
            "JobFlowRole": config.instance_profile,
            "VisibleToAllUsers": True,
            "AutoTerminationPolicy": {"IdleTimeout": config.idle_timeout_s},
            "Tags": [
                {"Key": key, "Value": value}
                for key, value in tags_for(request, config.tags).items()
            ],
        }
        if config.scaling is not None:
            limits = {
                "UnitType": config.scaling.unit_type,
                "MinimumCapacityUnits": config.scaling.minimum,
                "MaximumCapacityUnits": config.scaling.maximum,
            }
            if config.scaling.maximum_on_demand is not None:
                limits["MaximumOnDemandCapacityUnits"] = config.scaling.maximum_on_demand
            if config.scaling.maximum_core is not None:
                limits["MaximumCoreCapacityUnits"] = config.scaling.maximum_core
            params["ManagedScalingPolicy"] = {"ComputeLimits": limits}
        return params

    def _wait(
        self, context: dg.AssetExecutionContext, emr: Any, cluster_id: str, step_id: str
    ) -> str:
        """Poll the step (and its cluster) until the step ends; its final state."""
        seen: dict[str, str] = {}

        def check() -> str | None:
            # The cluster first: EMR ends a step before its cluster, so a cluster seen ending
            # is never paired with a step state older than it.
            cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]
            step = emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]["Status"]
            for what, state in (("cluster", cluster["State"]), ("step", step["State"])):
                if seen.get(what) != state:
                    seen[what] = state
                    context.log.info(
                        f"EMR {what} {cluster_id if what == 'cluster' else step_id}: {state}"
                    )
            if step["State"] in STEP_FINAL - {"CANCELLED"}:
                return step["State"]
            if cluster["State"] in CLUSTER_ENDED:  # the step was cancelled, or never ran,
                return f"CLUSTER_{cluster['State']}"  # because its cluster failed
            return step["State"] if step["State"] == "CANCELLED" else None

        return poll(
            check,
            interval_s=self.config.poll_interval_s,
            timeout_s=self.config.timeout_s,
            what=f"EMR step {step_id} on cluster {cluster_id}",
            setting="[emr] timeout_s",
        )

    def _failure(
        self,
        context: dg.AssetExecutionContext,
        emr: Any,
        s3: Any,
        cluster_id: str,
        step_id: str,
        state: str,
    ) -> str:
        """Why the step did not complete, in EMR's words, with the end of its stderr."""
        status = emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]["Status"]
        if state.startswith("CLUSTER_") and status["State"] != "FAILED":
            cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
            reason = cluster["Status"].get("StateChangeReason", {})
            return (
                f"EMR cluster {cluster_id} stopped ({cluster['Status']['State']}) before step "
                f"{step_id} finished: {reason.get('Code', '?')}: {reason.get('Message', 'no reason given')}"
                f" (logs under {cluster.get('LogUri', '?')}{cluster_id}/)"
            )
        state = status["State"] if state.startswith("CLUSTER_") else state
        details = status.get("FailureDetails") or {}
        reason = details.get("Message") or details.get("Reason") or ""
        stderr = self._logs(context, emr, s3, cluster_id, step_id)
        parts = [f"EMR step {step_id} on cluster {cluster_id} {state}"]
        if reason:
            parts.append(f": {reason}")
        if stderr:
            parts.append(f"\n  the step's stderr ends with:\n{tail(stderr)}")
        return "".join(parts)

    def _logs(
        self, context: dg.AssetExecutionContext, emr: Any, s3: Any, cluster_id: str, step_id: str
    ) -> str:
        """Forward the step's stdout and stderr to Dagster; stderr's text."""
        log_uri = emr.describe_cluster(ClusterId=cluster_id)["Cluster"].get("LogUri")
        if not log_uri:
            return ""
        base = S3Location.parse(log_uri).join(cluster_id, "steps", step_id)
        logs = StepLogs(stdout=base.join("stdout.gz"), stderr=base.join("stderr.gz"))
        return logs.forward(
            s3,
            wait_s=self.config.logs_wait_s,
            interval_s=min(self.config.poll_interval_s, 5.0),
            log=context.log.warning,
        )


def spark_submit_args(
    settings: Settings,
    request: StepRequest,
    entrypoint: str,
    *,
    python: str | None,
    pipes: Mapping[str, str],
    message_interval_s: float,
    py_files: str | None = None,
    deploy_mode: str | None = "client",
) -> list[str]:
    """``spark-submit`` of the entrypoint with the request's Spark settings and Pipes'
    parameters (names of S3 objects, no secret); the cluster's own file system reads S3."""
    args = ["spark-submit"]
    if deploy_mode:
        args += ["--deploy-mode", deploy_mode]
    conf = dict(request.spark_conf)
    if python:
        conf.setdefault("spark.pyspark.python", python)
        conf.setdefault("spark.pyspark.driver.python", python)
    for key, value in conf.items():
        args += ["--conf", f"{key}={value}"]
    if py_files:
        args += ["--py-files", py_files]
    args += [entrypoint, *entrypoint_args(settings, pipes, message_interval_s)]
    return args


def entrypoint_args(
    settings: Settings, pipes: Mapping[str, str], message_interval_s: float
) -> list[str]:
    args = ["--transport", "s3", "--region", settings.s3.region]
    if settings.s3.endpoint_url:
        args += ["--endpoint-url", settings.s3.endpoint_url]
    if settings.s3.path_style:
        args += ["--path-style"]
    args += ["--message-interval", f"{message_interval_s:g}"]
    for flag, value in pipes.items():
        args += [flag, value]
    return args


def tags_for(request: StepRequest, extra: Mapping[str, str]) -> dict[str, str]:
    """What every cluster and job run is tagged with: who started it and for what."""
    return {
        **compute_tags(
            run_id=request.run_id,
            assets=request.transforms,
            mode=request.execution_mode,
            engine=request.engine,
            project=request.registry.partition(":")[0],
        ),
        **extra,
    }


def _fleet(kind: str, fleet: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "Name": kind.lower(),
        "InstanceFleetType": kind,
        "TargetOnDemandCapacity": fleet.on_demand,
        "TargetSpotCapacity": fleet.spot,
        "InstanceTypeConfigs": [{"InstanceType": t} for t in fleet.instance_types],
    }
    if getattr(fleet, "allocation_strategy", None) and fleet.spot:
        spec["LaunchSpecifications"] = {
            "SpotSpecification": {
                "TimeoutDurationMinutes": fleet.spot_timeout_minutes,
                "TimeoutAction": fleet.on_spot_timeout,
                "AllocationStrategy": fleet.allocation_strategy,
            },
            "OnDemandSpecification": {"AllocationStrategy": "lowest-price"},
        }
    return spec


def _install_command(shipped: Shipped, python: str) -> str:
    return (
        f"aws s3 cp --only-show-errors {shipped.bootstrap} /tmp/hydra-bootstrap.sh && "
        f"bash /tmp/hydra-bootstrap.sh {shipped.prefix} {python}"
    )


def _console(emr: Any, cluster_id: str) -> str:
    region = emr.meta.region_name
    return (
        f"https://{region}.console.aws.amazon.com/emr/home?region={region}"
        f"#/clusterDetails/{cluster_id}"
    )


def _limit(text: str, size: int = 256) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"
