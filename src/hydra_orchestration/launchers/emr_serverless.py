"""emr-serverless: the step runs as an EMR Serverless job run, through Pipes over S3.

Job runs go to the application ``[emr-serverless] application_id`` names, whose image holds
the project's dependencies (docs/orchestration.md shows how to build it from the bundle's
``constraints.txt``); the project's own code goes with each job run as the bundle's wheel
(``--py-files``), so the image does not change when the code does.

dagster-aws' ``PipesEMRServerlessClient`` (0.29.27) reads messages from CloudWatch only
(warning that an S3 reader "is not supported"), has no time limit and cancels the job run
only when Dagster interrupts it. Here the job run carries its own limit
(``executionTimeoutMinutes``, a minute past the launch's and at least 5: EMR Serverless
stops it even if Dagster is gone), is polled up
to ``[emr-serverless] timeout_s``, and is cancelled when the launch ends before it did,
however it ends.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from typing import Any

import dagster as dg

from hydra_orchestration.cost import EmrServerlessUsage
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
from hydra_orchestration.launchers.compute import RUN_ID_TAG, Compute
from hydra_orchestration.launchers.emr import entrypoint_args, tags_for
from hydra_orchestration.remote.step import StepRequest
from hydra_orchestration.settings import Settings
from hydra_orchestration.shipping import build_bundle, ship

__all__ = ["EMRServerlessLauncher"]

RUN_FINAL = frozenset({"SUCCESS", "FAILED", "CANCELLED"})
RUN_ALIVE = ["SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "QUEUED"]


class EMRServerlessLauncher(AwsPipesLauncher):
    def __init__(self, settings: Settings, clients: ClientFactory | None = None) -> None:
        super().__init__(settings, clients)
        self.config = settings.config.emr_serverless

    @property
    def interval_s(self) -> float:
        return self.config.poll_interval_s

    def running_compute(self) -> Iterator[Compute]:
        """Job runs alive on the configured application with a run id tag."""
        application = self.config.application_id
        if application is None:
            return
        serverless = self.clients("emr-serverless")
        pages = serverless.get_paginator("list_job_runs").paginate(
            applicationId=application, states=RUN_ALIVE
        )
        for page in pages:
            for summary in page["jobRuns"]:
                run_id = summary["id"]
                job = serverless.get_job_run(applicationId=application, jobRunId=run_id)["jobRun"]
                tags = dict(job.get("tags") or {})
                if RUN_ID_TAG in tags:
                    yield Compute(
                        platform="emr-serverless",
                        id=f"{application}/{run_id}",
                        tags=tags,
                        end=lambda r=run_id: serverless.cancel_job_run(
                            applicationId=application, jobRunId=r
                        ),
                    )

    def run_step(
        self, context: dg.AssetExecutionContext, session: dg.PipesSession, request: StepRequest
    ) -> None:
        s3, serverless = self.clients("s3"), self.clients("emr-serverless")
        shipped = ship(build_bundle(request.registry), self.staging, s3=self.settings.s3, client=s3)
        context.log.info(
            f"code bundle {'uploaded to' if shipped.uploaded else 'already at'} {shipped.prefix}"
        )
        application, role = self.config.application_id, self.config.execution_role_arn
        if not application or not role:  # the settings check this before any launch
            raise StepFailed("[emr-serverless] application_id and execution_role_arn are not set")
        log_uri = self.settings.s3_location(self.config.log_uri).rstrip("/") + "/"
        run = serverless.start_job_run(
            applicationId=application,
            clientToken=uuid.uuid4().hex,
            executionRoleArn=role,
            name=f"hydra {', '.join(request.transforms)}"[:256],
            jobDriver={
                "sparkSubmit": {
                    "entryPoint": shipped.entrypoint,
                    "entryPointArguments": entrypoint_args(
                        self.settings,
                        session.get_bootstrap_cli_arguments(),
                        self.config.poll_interval_s,
                    ),
                    "sparkSubmitParameters": self._spark_parameters(request, shipped.wheel),
                }
            },
            configurationOverrides={
                "monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": log_uri}}
            },
            executionTimeoutMinutes=execution_timeout_minutes(self.config.timeout_s),
            tags={**tags_for(request, self.config.tags)},
        )
        run_id = run["jobRunId"]
        session.report_launched({"extras": {"application_id": application, "job_run_id": run_id}})
        context.log.info(
            f"EMR Serverless job run {run_id} started on application {application}: "
            f"https://console.aws.amazon.com/emr/home?region={serverless.meta.region_name}"
            f"#/serverless-applications/{application}"
        )
        state = None
        try:
            state = self._wait(context, serverless, application, run_id)
        finally:
            if state is None:  # interrupted, timed out or failed while waiting: stop it
                context.log.info(f"cancelling EMR Serverless job run {run_id}")
                with cleanup(context, f"cancelling job run {run_id}"):
                    serverless.cancel_job_run(applicationId=application, jobRunId=run_id)
        if state is not None:  # ended: EMR Serverless says what it bills
            with cleanup(context, f"reading job run {run_id}'s billed resources for its cost"):
                job = serverless.get_job_run(applicationId=application, jobRunId=run_id)["jobRun"]
                billed = job.get("billedResourceUtilization")
                if billed:
                    seconds = float(job.get("totalExecutionDurationSeconds") or 0)
                    record_usage(EmrServerlessUsage.from_billed(billed, wall_s=seconds))
        base = S3Location.parse(log_uri).join(
            "applications", application, "jobs", run_id, "SPARK_DRIVER"
        )
        logs = StepLogs(stdout=base.join("stdout.gz"), stderr=base.join("stderr.gz"))
        stderr = logs.forward(
            s3,
            wait_s=60.0,
            interval_s=min(self.config.poll_interval_s, 5.0),
            log=context.log.warning,
        )
        if state != "SUCCESS":
            job = serverless.get_job_run(applicationId=application, jobRunId=run_id)["jobRun"]
            message = f"EMR Serverless job run {run_id} {state}: {job.get('stateDetails') or 'no details given'}"
            if stderr:
                message += f"\n  the driver's stderr ends with:\n{tail(stderr)}"
            raise StepFailed(message)

    def _spark_parameters(self, request: StepRequest, wheel: str) -> str:
        conf = dict(request.spark_conf)
        if self.config.python:
            conf.setdefault("spark.emr-serverless.driverEnv.PYSPARK_PYTHON", self.config.python)
            conf.setdefault("spark.executorEnv.PYSPARK_PYTHON", self.config.python)
        return " ".join(
            [f"--py-files {wheel}", *(f"--conf {key}={value}" for key, value in conf.items())]
        )

    def _wait(
        self, context: dg.AssetExecutionContext, serverless: Any, application: str, run_id: str
    ) -> str:
        seen: list[str] = []

        def check() -> str | None:
            state = serverless.get_job_run(applicationId=application, jobRunId=run_id)["jobRun"][
                "state"
            ]
            if not seen or seen[-1] != state:
                seen.append(state)
                context.log.info(f"EMR Serverless job run {run_id}: {state}")
                # Not get_dashboard_for_job_run: its URL carries a token valid for an hour,
                # which would stay in the event log (and it needs one more IAM action).
            return state if state in RUN_FINAL else None

        return poll(
            check,
            interval_s=self.config.poll_interval_s,
            timeout_s=self.config.timeout_s,
            what=f"EMR Serverless job run {run_id}",
            setting="[emr-serverless] timeout_s",
        )


def execution_timeout_minutes(timeout_s: int) -> int:
    """The job run's own time limit: a minute after the launch's, so that the launch's
    timeout (with its message) comes first and EMR Serverless ends the run should Dagster be
    gone; never under 5 minutes, which StartJobRun refuses ("RunTimeout must be at least 5
    minutes")."""
    return max(5, math.ceil(timeout_s / 60) + 1)
