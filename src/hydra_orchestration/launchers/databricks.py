"""databricks: the step runs as a Databricks one-time run (``runs/submit``), through Pipes over
DBFS or a Unity Catalog volume.

One launch submits one run of one ``spark_python_task``, the bundle's ``entrypoint.py``: on a
new job cluster shaped by the config's ``[databricks]`` section (ended by Databricks with the
run), on the all-purpose cluster ``[databricks] cluster_id`` names, or, with ``[databricks]
serverless``, on serverless jobs compute. The code goes with it as the bundle
(:mod:`hydra_orchestration.shipping`), uploaded to ``[databricks] files`` once per content:
the wheel is a task library (an environment dependency on serverless), the entrypoint the
task's Python file. The run is named for its project, Dagster run and assets
(:func:`~hydra_orchestration.launchers.compute.name_with_tags`: one-time runs take no tags), which
is how the sweeper finds it. Pipes' parameters travel as the entrypoint's arguments; its context and
messages go through dagster-databricks' DBFS or volume injector and reader. The driver's
stdout and stderr, delivered by the job cluster to DBFS, are forwarded after the run (not by
dagster-databricks' DBFS log readers: they find the logs through the step's Pipes "opened"
message, so a step that failed before opening Pipes — when its logs matter most — held the
launch for 60 s and forwarded nothing).

This launcher does not call ``PipesDatabricksClient.run`` (nor the serverless client's).
Measured on dagster-databricks 0.29.27 (tests/orchestration/test_databricks.py proves the
points), ``run``:

- cancels the run when Dagster interrupts it, then swallows the interrupt and returns as if
  the run had finished: the Dagster run does not end as cancelled (the serverless client, the
  same);
- waits with no time limit (a hung run bills until someone notices) and cancels only on an
  interrupt, never when the launch fails otherwise (an API error while polling leaves the run
  and its cluster running);
- opens a Pipes session of its own and raises ``DagsterPipesExecutionError`` with only the
  state message on a failed run, so what the step reported before it failed is lost to the
  caller, and the run page and the task's error are not in the failure.

Here the session is the shared launcher's (:class:`~hydra_orchestration.launchers.base.
PipesLauncher`, which keeps every outcome reported before a failure); the run is polled up to
``[databricks] timeout_s`` (and the run's own ``timeout_seconds``, so Databricks ends it
should Dagster be gone, a minute later); a run that has not ended when the launch ends — interrupted, timed
out, an API error — is cancelled and awaited, and the interrupt is re-raised. Every terminal
state other than success (FAILED, TIMEDOUT, CANCELED, INTERNAL_ERROR, SKIPPED, ...) fails the
step with the run's state message, the task's error and the run page URL.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import posixpath
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster_databricks.pipes import (
    PipesDbfsContextInjector,
    PipesDbfsMessageReader,
    PipesUnityCatalogVolumesContextInjector,
    PipesUnityCatalogVolumesMessageReader,
    dbfs_tempdir,
)

from hydra_orchestration.cost import (
    DatabricksUsage,
    PriceError,
    UnpricedUsage,
    Usage,
    planned_databricks_usage,
)
from hydra_orchestration.launchers.aws import cleanup, poll, tail
from hydra_orchestration.launchers.base import (
    PipesLauncher,
    StepFailed,
    record_usage,
    single_writer,
)
from hydra_orchestration.launchers.compute import Compute, name_with_tags, tags_in_name
from hydra_orchestration.launchers.emr import tags_for
from hydra_orchestration.remote.step import StepRequest
from hydra_orchestration.settings import Settings, databricks_credentials
from hydra_orchestration.shipping import (
    Shipped,
    build_bundle,
    pinned_requirements,
    ship_to_databricks,
)

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.compute import ClusterDetails
    from databricks.sdk.service.jobs import Run

__all__ = ["ClientFactory", "DatabricksLauncher", "workspace_clients"]

# A new WorkspaceClient for one launch (credentials read when it is called).
ClientFactory = Callable[[], "WorkspaceClient"]

TASK_KEY = "hydra"
ENVIRONMENT_KEY = "hydra"
# life_cycle_state values after which a run does nothing more.
ENDED = frozenset({"TERMINATED", "SKIPPED", "INTERNAL_ERROR"})
CANCEL_WAIT_S = 300.0
DATABRICKS_GRACE_S = 60


def workspace_clients(settings: Settings) -> ClientFactory:
    """databricks-sdk clients authenticated as the service principal of DATABRICKS_HOST,
    DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET (OAuth machine-to-machine), read when a
    launch makes its client; throttled and unavailable calls retried up to ``[databricks]
    retry_timeout_s``."""

    def make() -> WorkspaceClient:
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.config import Config

        credentials = databricks_credentials()
        return WorkspaceClient(
            config=Config(
                host=credentials["host"],
                client_id=credentials["client_id"],
                client_secret=credentials["client_secret"],
                auth_type="oauth-m2m",
                retry_timeout_seconds=settings.config.databricks.retry_timeout_s,
            )
        )

    return make


class DatabricksLauncher(PipesLauncher):
    def __init__(self, settings: Settings, client: ClientFactory | None = None) -> None:
        self.settings = settings
        self.config = settings.config.databricks
        self.clients = client or workspace_clients(settings)
        self._launch = threading.local()  # this thread's launch: its client

    def running_compute(self) -> Iterator[Compute]:
        """One-time runs still going whose name carries a run id (:func:`name_with_tags`);
        ending one cancels it (and Databricks ends its job cluster with it)."""
        from databricks.sdk.service import jobs

        client = self.clients()
        for run in client.jobs.list_runs(active_only=True, run_type=jobs.RunType.SUBMIT_RUN):
            tags = tags_in_name(run.run_name)
            if tags and run.run_id is not None:
                yield Compute(
                    platform="databricks",
                    id=str(run.run_id),
                    tags=tags,
                    end=lambda r=run.run_id: client.jobs.cancel_run(r),
                )

    @property
    def pipes_transport(self) -> str:
        """``volumes`` when the files are on a Unity Catalog volume, else ``dbfs``."""
        return "volumes" if self.config.files.startswith("/Volumes/") else "dbfs"

    def transport(
        self, request: StepRequest
    ) -> tuple[dg.PipesContextInjector, dg.PipesMessageReader]:
        with _api("signing in to the workspace", self.config.retry_timeout_s):
            client = self._launch.client = self.clients()
        interval = self.config.poll_interval_s
        if self.pipes_transport == "volumes":
            # The step's stdout and stderr come back inside its messages.
            reader = single_writer(PipesUnityCatalogVolumesMessageReader)(
                client=client, volume_path=self.config.files, interval=interval
            )
            injector = PipesUnityCatalogVolumesContextInjector(
                client=client, volume_path=self.config.files
            )
            return injector, reader
        reader = single_writer(DbfsMessageReader)(client=client, interval=interval)
        return DbfsContextInjector(client=client), reader

    def run_step(
        self, context: dg.AssetExecutionContext, session: dg.PipesSession, request: StepRequest
    ) -> None:
        client: WorkspaceClient = self._launch.client
        bundle = build_bundle(request.registry)
        with _api("uploading the code bundle", self.config.retry_timeout_s):
            shipped = ship_to_databricks(bundle, self.config.files, client=client)
        context.log.info(
            f"code bundle {'uploaded to' if shipped.uploaded else 'already at'} {shipped.prefix}"
        )
        submit = self.submit_request(
            request, shipped, pinned_requirements(bundle), session.get_bootstrap_cli_arguments()
        )
        from databricks.sdk.service import jobs

        with _api("submitting the run", self.config.retry_timeout_s):
            run_id = client.jobs.submit(
                run_name=submit["run_name"],
                tasks=[jobs.SubmitTask.from_dict(t) for t in submit["tasks"]],
                environments=[jobs.JobEnvironment.from_dict(e) for e in submit["environments"]]
                or None,
                timeout_seconds=submit["timeout_seconds"],
                idempotency_token=submit["idempotency_token"],
            ).bind()["run_id"]
        self._launch.run = None  # the run as last read (polling it, or awaiting its cancel)
        cluster = None
        try:
            with self._cancelled_unless_ended(context, client, run_id):
                with _api(f"reading run {run_id}", self.config.retry_timeout_s):
                    url = client.jobs.get_run(run_id).run_page_url
                session.report_launched({"extras": {"run_id": run_id, "run_page_url": url}})
                context.log.info(f"Databricks run {run_id} submitted: {url}")
                run = self._wait(context, client, run_id)
        finally:
            with cleanup(context, f"reading run {run_id}'s duration for its cost"):
                usage, cluster = self.usage(client, self._ended_run(client, run_id))
                if usage is not None:
                    record_usage(usage)
        stderr = self._forward_logs(context, client, run, cluster)
        state = run.state
        life = state.life_cycle_state.value if state and state.life_cycle_state else "?"
        result = state.result_state.value if state and state.result_state else None
        if life == "TERMINATED" and result == "SUCCESS":
            return
        raise StepFailed(self._failure(client, run, life, result, stderr))

    def submit_request(
        self,
        request: StepRequest,
        shipped: Shipped,
        requirements: list[str],
        pipes: Mapping[str, str],
    ) -> dict[str, Any]:
        """``runs/submit``'s body (without credentials: there are none in it): one
        ``spark_python_task`` running the entrypoint with Pipes' parameters, on the compute
        the config names."""
        config = self.config
        parameters = [
            "--transport",
            self.pipes_transport,
            "--message-interval",
            f"{config.poll_interval_s:g}",
        ]
        for flag, value in pipes.items():
            parameters += [flag, value]
        task: dict[str, Any] = {
            "task_key": TASK_KEY,
            "spark_python_task": {"python_file": shipped.entrypoint, "parameters": parameters},
        }
        environments: list[dict[str, Any]] = []
        tags = tags_for(request, config.tags)
        if config.serverless:
            task["environment_key"] = ENVIRONMENT_KEY
            environments.append(
                {
                    "environment_key": ENVIRONMENT_KEY,
                    "spec": {
                        "client": config.environment_version,
                        "dependencies": [shipped.wheel, *requirements],
                    },
                }
            )
        else:
            task["libraries"] = [
                {"whl": shipped.wheel},
                *({"pypi": {"package": r}} for r in requirements),
            ]
            if config.cluster_id:
                task["existing_cluster_id"] = config.cluster_id
            else:
                task["new_cluster"] = self.new_cluster(request, tags)
        return {
            # runs/submit takes no tags: the run's name carries what the sweeper reads.
            "run_name": name_with_tags(tags),
            "tasks": [task],
            "environments": environments,
            # Databricks ends the run itself should this process be gone (a minute after the
            # launch would have cancelled it).
            "timeout_seconds": config.timeout_s + DATABRICKS_GRACE_S,
            "idempotency_token": uuid.uuid4().hex,
        }

    def new_cluster(self, request: StepRequest, tags: dict[str, str]) -> dict[str, Any]:
        """The job cluster of ``[databricks]``, with the request's Spark settings."""
        config = self.config
        cluster: dict[str, Any] = {
            "spark_version": config.spark_version,
            "node_type_id": config.node_type_id,
            "spark_conf": dict(request.spark_conf),
            "custom_tags": tags,
            "aws_attributes": {
                "availability": config.availability,
                "first_on_demand": config.first_on_demand,
            },
        }
        if config.driver_node_type_id:
            cluster["driver_node_type_id"] = config.driver_node_type_id
        if config.autoscale is not None:
            cluster["autoscale"] = {
                "min_workers": config.autoscale.min_workers,
                "max_workers": config.autoscale.max_workers,
            }
        else:
            cluster["num_workers"] = config.num_workers
        if config.instance_profile_arn:
            cluster["aws_attributes"]["instance_profile_arn"] = config.instance_profile_arn
        if config.policy_id:
            cluster["policy_id"] = config.policy_id
        if config.log_destination:
            cluster["cluster_log_conf"] = {"dbfs": {"destination": config.log_destination}}
        return cluster

    def _ended_run(self, client: WorkspaceClient, run_id: int) -> Run:
        """The run as the launch last read it once it had ended (no further call), else as
        it is now."""
        run = getattr(self._launch, "run", None)
        if run is not None and run.run_id == run_id and _life(run) in ENDED:
            return run
        return client.jobs.get_run(run_id)

    def usage(
        self, client: WorkspaceClient, run: Run
    ) -> tuple[Usage | None, ClusterDetails | None]:
        """What ``run`` (read once it has ended: its ``start_time`` to ``end_time`` is its
        duration) used, for its cost (None: it never started), and the named cluster's
        details when it ran on one:

        - on a job cluster, the shape ``[databricks]`` gave it for the run's duration (the
          cluster starts with the run and ends with it), at the jobs DBU rate;
        - on the all-purpose cluster ``cluster_id``, the cluster's shape as ``clusters/get``
          reports it, for the run's duration, at the all-purpose DBU rate: the run's
          occupancy of a cluster that is billed whether or not a run uses it;
        - on serverless, ``[cost.databricks] serverless_dbu_per_hour`` times the run's
          duration, an estimate, when it is set; otherwise the duration with the cost unknown
          (Databricks reports serverless DBUs in the workspace's billing tables only).
        """
        if not run.start_time:  # not started: nothing to say
            return None, None
        end = run.end_time or int(time.time() * 1000)
        hours = max(0, end - run.start_time) / 3.6e6
        took = f"the run's {hours * 3600:.1f} s (runs/get)"
        if self.config.serverless:
            return self._serverless_usage(hours, took), None
        if self.config.cluster_id:
            cluster = client.clusters.get(self.config.cluster_id)
            return _named_cluster_usage(cluster, hours, took), cluster
        usage = planned_databricks_usage(self.config, hours)
        basis = (
            f"job cluster: {_shape(usage)} as [databricks] gives it, for {took}, at the jobs "
            "DBU rate"
        )
        return dataclasses.replace(usage, basis=basis), None

    def _serverless_usage(self, hours: float, took: str) -> Usage:
        per_hour = self.settings.config.cost.databricks.serverless_dbu_per_hour
        if per_hour is None:
            reason = (
                "Databricks reports the DBUs of serverless compute in the workspace's billing "
                "tables only; set [cost.databricks] serverless_dbu_per_hour to record an estimate"
            )
            return UnpricedUsage(platform="databricks", reason=reason, wall_s=hours * 3600)
        usage = planned_databricks_usage(self.config, hours, serverless_dbu_per_hour=per_hour)
        basis = (
            f"estimated: [cost.databricks] serverless_dbu_per_hour = {per_hour:g} DBU/h for "
            f"{took}, at the serverless jobs DBU rate (Databricks reports the DBUs used in its "
            "billing tables only)"
        )
        return dataclasses.replace(usage, basis=basis)

    @contextlib.contextmanager
    def _cancelled_unless_ended(
        self, context: dg.AssetExecutionContext, client: WorkspaceClient, run_id: int
    ) -> Iterator[None]:
        """However the block ends before the run has (an interrupt, a timeout, an API error),
        the run is cancelled and waited for until it has ended (its job cluster with it); the
        exception goes on."""
        ended = False
        try:
            yield
            ended = True
        finally:
            if not ended:
                self._cancel(context, client, run_id)

    def _cancel(
        self, context: dg.AssetExecutionContext, client: WorkspaceClient, run_id: int
    ) -> None:
        context.log.info(f"cancelling Databricks run {run_id}")
        try:
            client.jobs.cancel_run(run_id)
        except Exception as exc:  # the launch's own error goes on
            context.log.error(
                f"could not cancel Databricks run {run_id} ({type(exc).__name__}: {exc}): "
                "cancel it in the workspace"
            )
            return
        try:
            poll(
                lambda: self._ended(client, run_id),
                interval_s=self.config.poll_interval_s,
                timeout_s=CANCEL_WAIT_S,
                what=f"cancelled Databricks run {run_id}",
                setting="nothing: see the run in the workspace",
            )
        except Exception as exc:
            context.log.warning(
                f"Databricks run {run_id} was asked to cancel; its end could not be confirmed "
                f"({type(exc).__name__}: {exc})"
            )
            return
        context.log.info(f"Databricks run {run_id} cancelled")

    def _ended(self, client: WorkspaceClient, run_id: int) -> str | None:
        run = self._launch.run = client.jobs.get_run(run_id)
        life = _life(run)
        return life if life in ENDED else None

    def _wait(self, context: dg.AssetExecutionContext, client: WorkspaceClient, run_id: int) -> Any:
        """Poll the run until it has ended; the run as last read."""
        seen: list[str] = []
        last: list[Any] = []

        def check() -> str | None:
            with _api(f"reading run {run_id}", self.config.retry_timeout_s):
                run = self._launch.run = client.jobs.get_run(run_id)
            last[:] = [run]
            state = run.state
            life = state.life_cycle_state.value if state and state.life_cycle_state else "?"
            result = state.result_state.value if state and state.result_state else None
            shown = f"{life}/{result}" if result else life
            if not seen or seen[-1] != shown:
                seen.append(shown)
                message = f": {state.state_message}" if state and state.state_message else ""
                context.log.info(f"Databricks run {run_id}: {shown}{message}")
            return life if life in ENDED else None

        poll(
            check,
            interval_s=self.config.poll_interval_s,
            timeout_s=self.config.timeout_s,
            what=f"Databricks run {run_id}",
            setting="[databricks] timeout_s",
        )
        return last[0]

    def _forward_logs(
        self,
        context: dg.AssetExecutionContext,
        client: WorkspaceClient,
        run: Any,
        cluster: ClusterDetails | None = None,
    ) -> str:
        """Copy the driver's stdout and stderr, as the cluster delivered them to DBFS, to this
        process' (Dagster keeps them with the step), waiting up to ``[databricks]
        logs_wait_s`` for them; stderr's text ("" without log delivery). On serverless the
        driver's output comes inside the Pipes messages instead. ``cluster``: the named
        cluster's details, if they were read already."""
        instance = run.cluster_instance
        if self.config.serverless or instance is None or not instance.cluster_id:
            return ""
        destination = self.config.log_destination if not self.config.cluster_id else None
        if self.config.cluster_id:
            with contextlib.suppress(Exception):
                cluster = cluster or client.clusters.get(self.config.cluster_id)
                conf = cluster.cluster_log_conf
                destination = conf.dbfs.destination if conf and conf.dbfs else None
        if not destination:
            return ""
        from databricks.sdk.errors import NotFound

        base = f"{destination.rstrip('/')}/{instance.cluster_id}/driver"
        deadline = time.monotonic() + self.config.logs_wait_s
        texts: dict[str, str] = {}
        for name, stream in (("stdout", sys.stdout), ("stderr", sys.stderr)):
            while True:
                try:
                    with client.dbfs.download(f"{base}/{name}") as remote:
                        text = remote.read().decode("utf-8", errors="replace")
                    break
                except NotFound:
                    if time.monotonic() >= deadline:
                        context.log.warning(
                            f"the driver's {name} is not at {base}/{name} (yet); it may come later"
                        )
                        text = ""
                        break
                    time.sleep(min(self.config.poll_interval_s, 5.0))
                except Exception as exc:
                    context.log.warning(f"could not read the driver's {name} at {base}: {exc}")
                    text = ""
                    break
            if text:
                stream.write(text if text.endswith("\n") else text + "\n")
                stream.flush()
            texts[name] = text
        return texts["stderr"]

    def _failure(
        self, client: WorkspaceClient, run: Any, life: str, result: str | None, stderr: str
    ) -> str:
        """Why the run did not succeed, in Databricks' words: its state, state message, the
        task's error and the end of its output, and its run page."""
        state = run.state
        message = (state.state_message if state else None) or "no message given"
        parts = [
            f"Databricks run {run.run_id} ended {life}{f'/{result}' if result else ''}: {message}"
        ]
        task_runs = [t.run_id for t in run.tasks or [] if t.run_id is not None]
        if task_runs:
            with contextlib.suppress(Exception):  # the failure is told without it, too
                output = client.jobs.get_run_output(task_runs[0])
                if output.error:
                    parts.append(f"\n  the task's error: {output.error}")
                if output.error_trace:
                    parts.append(f"\n  its trace ends with:\n{tail(output.error_trace, 10)}")
                elif output.logs:
                    parts.append(f"\n  its output ends with:\n{tail(output.logs, 10)}")
        if stderr:
            parts.append(f"\n  the driver's stderr ends with:\n{tail(stderr)}")
        parts.append(f"\n  run page: {run.run_page_url}")
        return "".join(parts)


# DBFS's REST API moves at most 1 MB per call: `put` refuses more inline (and `add-block` more
# per block) with MAX_BLOCK_SIZE_EXCEEDED, and `read` returns 0.5 MB unless asked for up to 1.
DBFS_BLOCK = 1 << 20


class DbfsContextInjector(PipesDbfsContextInjector):
    """Dagster's DBFS context injector, for a context of any size.

    Dagster's writes the context with one ``put``, which DBFS refuses over 1 MB
    (MAX_BLOCK_SIZE_EXCEEDED): a step with many assets, partitions or locations could not
    start. This one writes it through DBFS's streaming calls (``create``, ``add-block`` of at
    most 1 MB each, ``close``). Shown by
    tests/orchestration/test_databricks.py::test_oversized_contexts_and_messages_arrive_whole.
    """

    @contextlib.contextmanager
    def inject_context(self, context: Any) -> Iterator[dict[str, Any]]:
        with dbfs_tempdir(self.dbfs_client) as tempdir:
            path = posixpath.join(tempdir, "context.json")
            data = json.dumps(context).encode("utf-8")
            handle = self.dbfs_client.create(path, overwrite=True).handle
            assert handle is not None
            for start in range(0, len(data), DBFS_BLOCK):
                block = data[start : start + DBFS_BLOCK]
                self.dbfs_client.add_block(handle, base64.b64encode(block).decode("ascii"))
            self.dbfs_client.close(handle)
            yield {"path": path}


class DbfsMessageReader(PipesDbfsMessageReader):
    """Dagster's DBFS message reader, reading each chunk of messages whole.

    Dagster's reads a chunk file with one ``read`` of DBFS's default length, 0.5 MB: of a
    larger chunk (one large message, or many written between two uploads) it got the first
    0.5 MB, cut mid-line, and the messages after the cut were lost without a word. This one
    reads on, 1 MB at a time, to the end of the file. Shown by
    tests/orchestration/test_databricks.py::test_oversized_contexts_and_messages_arrive_whole.
    """

    def download_messages_chunk(self, index: int, params: Any) -> str | None:
        path = posixpath.join(params["path"], f"{index}.json")
        data = bytearray()
        try:
            while True:
                read = self.dbfs_client.read(path, offset=len(data), length=DBFS_BLOCK)
                data += base64.b64decode(read.data or "")
                if (read.bytes_read or 0) < DBFS_BLOCK:
                    return data.decode("utf-8")
        except OSError:  # not written yet (the SDK's errors are OSErrors), as dagster's
            return None


def _named_cluster_usage(cluster: ClusterDetails, hours: float, took: str) -> Usage:
    """The run's occupancy of an all-purpose cluster: the cluster's shape as ``clusters/get``
    reports it, for the run's duration, at the all-purpose DBU rate."""
    try:
        usage = DatabricksUsage.from_cluster(cluster.as_dict(), hours)
    except PriceError as exc:  # no node type to price
        return UnpricedUsage(platform="databricks", reason=str(exc), wall_s=hours * 3600)
    basis = (
        f"all-purpose cluster {cluster.cluster_id}: {_shape(usage)} as clusters/get reports "
        f"it, for {took}, at the all-purpose DBU rate; the cluster is billed whether or not a "
        "run uses it, and this is the run's occupancy of it"
    )
    return dataclasses.replace(usage, basis=basis)


def _shape(usage: DatabricksUsage) -> str:
    """A cluster's shape in words: its driver, workers and their spot share."""
    workers = f"{usage.workers:g} worker{'s' if usage.workers != 1 else ''} {usage.node_type}"
    spot = f" ({usage.spot_share:.0%} of the workers on spot)" if usage.workers else ""
    return f"driver {usage.driver_node_type or usage.node_type} and {workers}{spot}"


def _life(run: Any) -> str | None:
    state = run.state
    return state.life_cycle_state.value if state and state.life_cycle_state else None


@contextlib.contextmanager
def _api(what: str, retry_timeout_s: int) -> Iterator[None]:
    """Errors of the Databricks API as step failures that say what was being done."""
    from databricks.sdk.errors.base import DatabricksError

    try:
        yield
    except TimeoutError as exc:  # the SDK's retries of 429 and 503 ran out
        raise StepFailed(
            f"Databricks API: {what} kept failing (throttled or unavailable) for "
            f"[databricks] retry_timeout_s = {retry_timeout_s} s: {exc}"
        ) from exc
    except DatabricksError as exc:
        code = getattr(exc, "error_code", None) or type(exc).__name__
        raise StepFailed(f"Databricks API: {what} failed: {code}: {exc}") from exc
