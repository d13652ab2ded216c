"""An offline EMR (on EC2) and EMR Serverless: moto's control plane plus a local data plane.

moto (in this process, on LocalS3's server) answers the API: ``run_job_flow``,
``describe_cluster``, ``list_steps``, ``add_job_flow_steps``, ``terminate_job_flows``, the
waiters; ``create_application``, ``start_job_run``, ``get_job_run``, ``cancel_job_run``. It
never advances a state by itself. ``LocalEMR`` is the data plane that does, as EMR does:

* a cluster goes STARTING -> BOOTSTRAPPING (its bootstrap actions run, as ``bash script
  args...`` in a directory of its own, with ``aws``/``sudo``/``python3``(``.11``)/``pip3`` shims first on
  PATH and pip installing only into the cluster's ``site-packages``) -> RUNNING (its steps, in
  order: ``command-runner.jar`` + ``spark-submit ...`` runs pyspark's own spark-submit with
  ``--master local[1]``, the S3A jars and the local S3 in place of EMRFS) -> WAITING, or
  TERMINATING -> TERMINATED / TERMINATED_WITH_ERRORS with EMR's state-change reason codes
  (ALL_STEPS_COMPLETED, STEP_FAILURE, BOOTSTRAP_FAILURE, USER_REQUEST);
* a job run goes SUBMITTED -> SCHEDULED -> RUNNING -> SUCCESS / FAILED / CANCELLED, its
  ``sparkSubmit`` entry point run by the same local spark-submit.

Logs land where EMR puts them (LogUri, S3 monitoring, CloudWatch Logs), so clients that read
them (Dagster's Pipes clients) find them. How it hooks into moto, in this process: the models of
the clusters and job runs it drives are given subclasses (``EmulatedCluster``, ``EmulatedStep``,
``EmulatedJobRun``: a reason code, FailureDetails, terminate / cancel as requests the data plane
carries out); ``ElasticMapReduceBackend.run_job_flow`` is wrapped while it runs, so that a new
cluster is STARTING from its first response; ``moto.emrserverless.models.JOB_STATUS`` is set to
SUBMITTED; ``GetDashboardForJobRun`` (a 404 in moto) is added to moto's EMR Serverless app. One
LocalEMR at a time per process (these are process-wide); ``stop()`` undoes them.
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import json
import logging
import os
import posixpath
import re
import shlex
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.utils import utcnow
from moto.emr import models as emr_models
from moto.emr.exceptions import ValidationException
from moto.emrserverless import models as serverless_models

from tests.emulators.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LocalS3
from tests.processes import session_processes

__all__ = ["ACCOUNT_ID", "Faults", "LocalEMR"]

log = logging.getLogger(__name__)

# The account moto puts everything in (an execution role ARN must name it).
ACCOUNT_ID = DEFAULT_ACCOUNT_ID
ROOT = Path(__file__).resolve().parents[2]
SHIMS = Path(__file__).resolve().with_name("emr_shims")
SPARK_JARS_DIR = ROOT / ".cache" / "spark-jars"

CLUSTER_ENDED = {"TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"}
RUN_ENDED = {"SUCCESS", "FAILED", "CANCELLED"}
# The master node's instance id in bootstrap messages and log keys (no EC2 behind it).
INSTANCE_ID = "i-0local0emr0master"
# Variables a node's processes keep from this process; everything else comes from the cluster.
ENV_PASSTHROUGH = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "JAVA_HOME", "USER", "LOGNAME")
# Variables the cluster's configuration may not override (they would point at the real nodes').
ENV_PROTECTED = {"PATH", "HOME", "PYTHONPATH", "SPARK_HOME", "JAVA_HOME"}
ENV_PROTECTED |= {"PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "LOCAL_EMR_PYTHON"}
# spark-submit options that take a value (the others are flags).
SPARK_SUBMIT_VALUE_OPTIONS = {
    "--master", "--deploy-mode", "--class", "--name", "--jars", "--packages",
    "--exclude-packages", "--repositories", "--py-files", "--files", "--archives", "--conf",
    "-c", "--properties-file", "--driver-memory", "--driver-java-options",
    "--driver-library-path", "--driver-class-path", "--executor-memory", "--proxy-user",
    "--driver-cores", "--total-executor-cores", "--executor-cores", "--num-executors",
    "--queue", "--principal", "--keytab",
}  # fmt: skip
# Spark settings that make an environment variable of the process (driver / executors).
ENV_CONF = re.compile(r"spark\.(?:yarn\.appMasterEnv|executorEnv|emr-serverless\.driverEnv)\.(.+)")
# Ignored locally: where and how YARN / EMR Serverless would place the job, and the Python of
# the real nodes (the local node's Python is the project's virtualenv).
DROPPED_CONF = {"spark.master", "spark.submit.deployMode", "spark.pyspark.python"}
DROPPED_CONF |= {"spark.pyspark.driver.python"}
# Runs a command after a delay, in one process (so that cancelling kills a process that exists).
DELAYED = (
    "import os, sys, time; time.sleep(float(sys.argv[1])); os.execvp(sys.argv[2], sys.argv[2:])"
)
SITECUSTOMIZE = '''\
"""Written by tests/emulators/emr.py. A cluster node has no checkout of the project: the source
directories of editable installs are taken off sys.path, so that the project is imported from
what a bootstrap action installed (or from --py-files), never from the checkout."""
import os
import sys

_hidden = {p for p in os.environ.get("LOCAL_EMR_HIDDEN_PATHS", "").split(os.pathsep) if p}
sys.path[:] = [p for p in sys.path if not p or os.path.realpath(p) not in _hidden]
'''


@dataclass
class Faults:
    """Faults to inject, read when a cluster or job run reaches the phase concerned."""

    # The next cluster's bootstrap fails with this message (used once, then reset to None).
    bootstrap_error: str | None = None
    # Each step / job run sleeps this long in its process before its command starts.
    step_delay_s: float = 0.0
    # Run this instead of a step's / job run's own command (same environment and logs).
    step_command: list[str] | None = None


# --- moto's models, as the data plane drives them ------------------------------------------
# (moto registers model classes by module name: these land under "emulators" in its registry.)


class EmulatedStep(emr_models.Step):
    """A step with EMR's FailureDetails when it failed."""

    @property
    def status(self) -> dict[str, Any]:
        status = super().status
        reason = getattr(self, "last_state_change_reason", None)
        status["StateChangeReason"] = {"Message": reason} if reason else {}
        failure = self.__dict__.get("failure_details")
        if failure:
            status["FailureDetails"] = failure
        return status


class EmulatedCluster(emr_models.Cluster):
    """A cluster with a state-change reason code, whose termination and new steps go through
    the data plane (moto would set TERMINATED at once and make new steps RUNNING)."""

    @property
    def status(self) -> dict[str, Any]:
        status = super().status
        reason = {
            "Code": self.__dict__.get("state_change_code"),
            "Message": getattr(self, "last_state_change_reason", None),
        }
        status["StateChangeReason"] = {k: v for k, v in reason.items() if v}
        return status

    def terminate(self) -> None:  # terminate_job_flows
        drive: _ClusterDrive | None = self.__dict__.get("local_drive")
        if drive is None:
            super().terminate()
        else:
            drive.request_termination()

    def add_steps(self, steps: list[dict[str, Any]]) -> list[emr_models.Step]:
        if self.state in CLUSTER_ENDED:
            raise ValidationException(
                "A job flow that is shutting down, terminated, or finished may not be modified."
            )
        state = self.state
        added = super().add_steps(steps)
        for step in added:
            _adopt_step(step)
        self.state = state  # the data plane moves a WAITING cluster to RUNNING
        return added


class EmulatedJobRun(serverless_models.JobRun):
    """A job run whose cancellation goes through the data plane (CANCELLING, the process
    killed, then CANCELLED); moto would set CANCELLED at once, even on a finished run."""

    @property  # type: ignore[override]
    def state(self) -> str:
        return self.__dict__["state"]

    @state.setter
    def state(self, value: str) -> None:  # only moto's cancel_job_run sets it
        drive: _JobRunDrive | None = self.__dict__.get("local_drive")
        if drive is not None and value == "CANCELLED":
            drive.request_cancel()
        else:
            vars(self)["state"] = value


def _adopt_step(step: emr_models.Step) -> None:
    step.__class__ = EmulatedStep
    step.state = "PENDING"
    step.start_date_time = None


# --- the emulator --------------------------------------------------------------------------


class LocalEMR:
    """The data plane of an offline EMR and EMR Serverless, on ``s3``'s moto server."""

    def __init__(
        self,
        s3: LocalS3,
        *,
        region: str = "us-east-1",
        phase_s: float = 0.2,
        workdir: Path | None = None,
        spark_slots: int = 1,
    ) -> None:
        """``phase_s``: how long each state lasts (STARTING, BOOTSTRAPPING, ...); ``workdir``:
        where the nodes' directories go (a temporary directory, removed by stop(), if None);
        ``spark_slots``: how many spark-submits run at once (a step waiting for one is RUNNING,
        as on a busy YARN)."""
        self.s3 = s3
        self.region = region
        self.phase_s = phase_s
        self.faults = Faults()
        self._workdir_given = workdir
        self.workdir = Path()
        self._spark_slots = threading.Semaphore(spark_slots)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._clusters: dict[str, _ClusterDrive] = {}
        self._runs: dict[str, _JobRunDrive] = {}
        self._threads: list[threading.Thread] = []
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._undo: list[Callable[[], None]] = []
        self._s3_client: Any = None
        self._logs_client: Any = None
        self._s3a_conf: dict[str, str] = {}
        self._started = False

    # -- lifecycle --

    def start(self) -> LocalEMR:
        if self._started:
            return self
        for shim in SHIMS.iterdir():  # executable even if a checkout lost the mode bits
            if shim.suffix != ".py" and not os.access(shim, os.X_OK):
                shim.chmod(shim.stat().st_mode | 0o755)
        if self._workdir_given is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="local-emr-"))
        else:
            self.workdir = Path(self._workdir_given)
            self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "pyhide").mkdir(exist_ok=True)
        (self.workdir / "pyhide" / "sitecustomize.py").write_text(SITECUSTOMIZE)
        from hydra_transforms.engines import spark_s3_conf

        self._s3a_conf = spark_s3_conf(self.s3.options(), secrets=True)
        self._s3_client = self.client("s3")
        self._logs_client = self.client("logs")
        self._hook_moto()
        self._started = True
        self._spawn(self._poll, "local-emr-poll")
        return self

    def stop(self) -> None:
        """Stops the data plane: kills every process it started, undoes its hooks into moto."""
        if not self._started:
            return
        self._stopping.set()
        with self._lock:
            processes = list(self._processes.values())
        for process in processes:
            _kill_session(process.pid)
        for thread in list(self._threads):
            thread.join(timeout=10)
        with self._lock:  # moto's own behaviour again for what was driven
            for drive in self._clusters.values():
                drive.cluster.__dict__.pop("local_drive", None)
            for run in self._runs.values():
                run.job_run.__dict__.pop("local_drive", None)
            self._clusters.clear()
            self._runs.clear()
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()
        self._started = False
        if self._workdir_given is None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LocalEMR:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests and the sandbox use --

    @property
    def endpoint_url(self) -> str:
        return self.s3.endpoint_url

    def client(self, service: str = "emr") -> Any:
        """A boto3 client ("emr", "emr-serverless", "logs", "s3", ...) on the local endpoint."""
        if service == "s3":
            return self.s3.client()
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.s3.endpoint_url,
            region_name=self.region,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def cluster_states(self) -> dict[str, str]:
        """Cluster id -> current state, for every cluster moto holds (all accounts, regions)."""
        return {c.id: str(c.state) for _, _, c in _clusters_in_moto()}

    def job_run_states(self) -> dict[str, str]:
        """EMR Serverless "application/run" -> state, for every job run moto holds."""
        return {f"{r.application_id}/{r.id}": r.__dict__["state"] for r in _runs_in_moto()}

    def processes(self) -> dict[str, int]:
        """What runs now: "cluster/step", "cluster/bootstrap-N" or "app/run" -> process id (the
        leader of its own session: ``session_processes(pid)`` lists it and its descendants)."""
        with self._lock:
            return {label: p.pid for label, p in self._processes.items() if p.poll() is None}

    # -- hooks into moto --

    def _hook_moto(self) -> None:
        backend = emr_models.ElasticMapReduceBackend
        original_run_job_flow = backend.run_job_flow
        emulator = self

        def run_job_flow(self: Any, **kwargs: Any) -> emr_models.Cluster:
            with emulator._lock:  # adopted before the poller can see it half made
                cluster = original_run_job_flow(self, **kwargs)
                emulator._adopt_cluster(cluster, fresh=True)
            return cluster

        backend.run_job_flow = run_job_flow  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(backend, "run_job_flow", original_run_job_flow))

        job_status = serverless_models.JOB_STATUS
        serverless_models.JOB_STATUS = "SUBMITTED"
        self._undo.append(lambda: setattr(serverless_models, "JOB_STATUS", job_status))
        self._add_dashboard_route()

    def _add_dashboard_route(self) -> None:
        """GetDashboardForJobRun, which moto lacks: a route on a fresh copy of moto's EMR
        Serverless Flask app (routes cannot be added once an app has served a request)."""
        # ThreadedMotoServer keeps its werkzeug server (and its WSGI app) in a private field.
        dispatcher = getattr(getattr(self.s3.server, "_server", None), "app", None)
        if dispatcher is None or not hasattr(dispatcher, "app_instances"):
            log.warning("moto's server has no DomainDispatcherApplication: no dashboard route")
            return
        from flask import Response, request

        emulator = self

        def dashboard(application_id: str, job_run_id: str) -> Response:
            run = next(
                (
                    r
                    for r in _runs_in_moto()
                    if (r.application_id, r.id) == (application_id, job_run_id)
                ),
                None,
            )
            if run is None:
                body = {
                    "message": f"Job run {job_run_id} of application {application_id} not found"
                }
                return Response(
                    json.dumps(body),
                    status=404,
                    content_type="application/json",
                    headers={"x-amzn-ErrorType": "ResourceNotFoundException"},
                )
            url = emulator._dashboard_url(run, request.host_url)
            return Response(json.dumps({"url": url}), content_type="application/json")

        app = dispatcher.create_app("emrserverless")
        app.add_url_rule(
            "/applications/<application_id>/jobruns/<job_run_id>/dashboard",
            endpoint="local_emr_dashboard",
            view_func=dashboard,
            methods=["GET"],
        )
        with dispatcher.lock:
            previous = dispatcher.app_instances.get("emrserverless")
            dispatcher.app_instances["emrserverless"] = app

        def undo() -> None:
            with dispatcher.lock:
                if previous is None:
                    dispatcher.app_instances.pop("emrserverless", None)
                else:
                    dispatcher.app_instances["emrserverless"] = previous

        self._undo.append(undo)

    def _dashboard_url(self, run: Any, host_url: str) -> str:
        """The driver's stdout on the local S3 when the run logs to S3 (a browser opens it:
        moto does not check signatures), else this route's own address."""
        log_uri = _get(run.configuration_overrides, "monitoringConfiguration",
                       "s3MonitoringConfiguration", "logUri")  # fmt: skip
        if log_uri:
            bucket, prefix = _split_s3(log_uri)
            key = _join(prefix, _serverless_log_dir(run), "stdout.gz")
            return f"{self.s3.endpoint_url}/{bucket}/{key}"
        return f"{host_url}applications/{run.application_id}/jobruns/{run.id}/dashboard"

    # -- discovery --

    def _poll(self) -> None:
        # (the first round adopts what moto held before start(): existing clusters)
        while not self._stopping.is_set():
            self._stopping.wait(0.05)
            try:
                with self._lock:
                    for _, _, cluster in _clusters_in_moto():
                        self._maybe_adopt_existing(cluster)
                    for run in _runs_in_moto():
                        key = f"{run.application_id}/{run.id}"
                        if key not in self._runs and run.__dict__.get("state") == "SUBMITTED":
                            self._adopt_job_run(run)
            except RuntimeError:  # a dict of moto's changed size while read: next round
                continue

    def _maybe_adopt_existing(self, cluster: Any) -> None:
        constructed = "supported_products" in cluster.__dict__  # the last field __init__ sets
        if cluster.id not in self._clusters and constructed and cluster.state not in CLUSTER_ENDED:
            self._adopt_cluster(cluster, fresh=False)

    def _adopt_cluster(self, cluster: Any, *, fresh: bool) -> None:
        cluster.__class__ = EmulatedCluster
        for step in cluster.steps:
            if step.state in ("PENDING", "RUNNING"):  # moto's RUNNING step has not run
                _adopt_step(step)
            else:
                step.__class__ = EmulatedStep
        if fresh:  # what moto did in __init__ (WAITING, or TERMINATED without steps) is undone
            cluster.state = "STARTING"
            cluster.ready_datetime = None
            cluster.end_datetime = None
            cluster.last_state_change_reason = None
        drive = _ClusterDrive(self, cluster, fresh=fresh)
        cluster.local_drive = drive
        self._clusters[cluster.id] = drive
        self._spawn(drive.run, f"local-emr-{cluster.id}")

    def _adopt_job_run(self, run: Any) -> None:
        run.__class__ = EmulatedJobRun
        drive = _JobRunDrive(self, run)
        run.local_drive = drive
        self._runs[f"{run.application_id}/{run.id}"] = drive
        self._spawn(drive.run, f"local-emr-serverless-{run.id}")

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    # -- what nodes share --

    def _node_env(self, home: Path, pythonpath: list[Path]) -> dict[str, str]:
        """The environment of a node's processes: little of this process's, the local S3 as
        the AWS endpoint (with credentials, as an instance profile gives), pyspark's Spark."""
        home.mkdir(parents=True, exist_ok=True)
        (home / ".aws").mkdir(exist_ok=True)
        (home / ".aws" / "config").write_text(
            f"[default]\nregion = {self.region}\ns3 =\n    addressing_style = path\n"
        )
        env = {k: os.environ[k] for k in ENV_PASSTHROUGH if k in os.environ}
        env.update(
            PATH=os.pathsep.join([str(SHIMS), *_system_path()]),
            HOME=str(home),
            LOCAL_EMR_PYTHON=sys.executable,
            LOCAL_EMR_PIP_WHEEL=_pip_wheel(),
            LOCAL_EMR_HIDDEN_PATHS=os.pathsep.join(_editable_source_dirs()),
            PYTHONPATH=os.pathsep.join([*map(str, pythonpath), str(self.workdir / "pyhide")]),
            AWS_ENDPOINT_URL=self.s3.endpoint_url,
            AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
            AWS_DEFAULT_REGION=self.region,
            AWS_REGION=self.region,
            AWS_EC2_METADATA_DISABLED="true",
            SPARK_HOME=str(_pyspark_home()),
            PYSPARK_PYTHON=sys.executable,
            PYSPARK_DRIVER_PYTHON=sys.executable,
            SPARK_LOCAL_IP="127.0.0.1",
        )
        return env

    def _download(self, url: str, workdir: Path) -> Path:
        """An s3:// object, to ``workdir/s3/<bucket>/<key>``."""
        bucket, key = _split_s3(url)
        target = workdir / "s3" / bucket / key
        target.parent.mkdir(parents=True, exist_ok=True)
        self._s3_client.download_file(bucket, key, str(target))
        return target

    def _upload_gz(self, bucket: str, key: str, path: Path | None) -> bool:
        """Uploads a log gzipped (empty if ``path`` is None or missing); False, with a warning,
        if it could not be written (a LogUri's bucket that does not exist: logs are lost)."""
        data = path.read_bytes() if path is not None and path.exists() else b""
        try:
            self._s3_client.put_object(Bucket=bucket, Key=key, Body=gzip.compress(data))
        except Exception as error:
            log.warning("local EMR: cannot write the log s3://%s/%s: %s", bucket, key, error)
            return False
        return True

    def _spark_submit(
        self, argv: list[str], workdir: Path, defaults: dict[str, str], env: dict[str, str]
    ) -> tuple[list[str], list[Path]]:
        """The local command for ``argv`` (``spark-submit [options] resource [args]``), and
        the paths to put on PYTHONPATH. Settings that are environment variables go to ``env``;
        s3:// files (resource, --py-files, --jars, --files, --archives) are downloaded."""
        options, resource, app_args = _parse_spark_submit(argv[1:])
        if resource is None:
            raise StepError("spark-submit without an application resource")
        conf: dict[str, str] = {"spark.ui.enabled": "false", "spark.driver.host": "127.0.0.1"}
        conf |= defaults
        conf |= self._s3a_conf  # EMRFS's stand-in
        passed: list[str] = []
        jars = [str(p) for p in sorted(SPARK_JARS_DIR.glob("*.jar"))]
        pythonpath: list[Path] = []

        def local(urls: str) -> list[str]:
            out = []
            for url in filter(None, urls.split(",")):
                path, _, alias = url.partition("#")
                if path.startswith(("s3://", "s3a://", "s3n://")):
                    path = str(self._download(path, workdir))
                out.append(f"{path}#{alias}" if alias else path)
            return out

        for option, value in options:
            if option in ("--conf", "-c") and value is not None:
                key, _, setting = value.partition("=")
                conf[key] = setting
            elif option in ("--master", "--deploy-mode"):
                continue
            elif option == "--jars" and value is not None:
                jars += local(value)
            elif option == "--py-files" and value is not None:
                files = local(value)
                pythonpath += [Path(f) for f in files]
                passed += [option, ",".join(files)]
            elif option in ("--files", "--archives") and value is not None:
                passed += [option, ",".join(local(value))]
            else:
                passed += [option] if value is None else [option, value]
        settings: list[str] = []
        for key, setting in conf.items():
            if match := ENV_CONF.fullmatch(key):
                if match[1] not in ENV_PROTECTED:
                    env[match[1]] = setting
            elif key == "spark.submit.pyFiles":  # EMR Serverless's way to ship a wheel
                pythonpath += [Path(f) for f in local(setting)]
            elif key == "spark.jars":
                jars += local(setting)
            elif key in ("spark.files", "spark.archives"):
                settings += ["--conf", f"{key}={','.join(local(setting))}"]
            elif key not in DROPPED_CONF and not key.startswith("spark.emr-serverless."):
                settings += ["--conf", f"{key}={setting}"]
        if resource.startswith(("s3://", "s3a://", "s3n://")):
            resource = str(self._download(resource, workdir))
        command = [str(_pyspark_home() / "bin" / "spark-submit"), "--master", "local[1]"]
        if jars:
            command += ["--jars", ",".join(jars)]
        return [*command, *settings, *passed, resource, *app_args], pythonpath

    def _run(
        self,
        label: str,
        command: list[str],
        *,
        env: dict[str, str],
        cwd: Path,
        cancel: threading.Event,
        spark: bool,
        step: bool,
    ) -> int | None:
        """Runs ``command`` in a session of its own, stdout/stderr to files in ``cwd``; its
        exit code, or None if ``cancel`` was set (or the emulator stopped): the session's
        processes are then killed. A ``step`` (or job run) gets the step faults."""
        if step:
            if self.faults.step_command:  # (the step's own command was not even prepared)
                command, spark = list(self.faults.step_command), False
            if self.faults.step_delay_s:
                command = [sys.executable, "-c", DELAYED, str(self.faults.step_delay_s), *command]
        slot = self._spark_slots if spark else None
        while slot is not None and not slot.acquire(timeout=0.1):
            if cancel.is_set() or self._stopping.is_set():
                return None
        try:
            with open(cwd / "stdout", "ab") as out, open(cwd / "stderr", "ab") as err:
                process = subprocess.Popen(
                    command,
                    env=env,
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                )
            with self._lock:
                self._processes[label] = process
            try:
                while True:
                    try:
                        return process.wait(timeout=0.1)
                    except subprocess.TimeoutExpired:
                        if cancel.is_set() or self._stopping.is_set():
                            _kill_session(process.pid)
                            process.wait()
                            return None
            finally:
                _kill_session(process.pid)  # what the command left behind (daemons)
                with self._lock:
                    self._processes.pop(label, None)
        finally:
            if slot is not None:
                slot.release()


class StepError(Exception):
    """A step or job run that cannot start (its message goes to its stderr)."""


# --- EMR on EC2 ------------------------------------------------------------------------------


class _ClusterDrive:
    """One cluster's life, on a thread of its own."""

    def __init__(self, emulator: LocalEMR, cluster: Any, *, fresh: bool) -> None:
        self.emr = emulator
        self.cluster = cluster
        self.fresh = fresh
        self.lock = threading.RLock()
        self.terminating = threading.Event()  # terminate_job_flows was called
        self.dir = emulator.workdir / "clusters" / cluster.id
        self.site_packages = self.dir / "site-packages"
        self.site_packages.mkdir(parents=True, exist_ok=True)
        self.env, self.defaults = _cluster_configuration(cluster.configurations)

    # - states -

    def set_state(self, state: str, code: str | None = None, message: str | None = None) -> bool:
        """False (and nothing changed) once termination was requested."""
        with self.lock:
            if self.terminating.is_set():
                return False
            self._set(state, code, message)
            return True

    def _set(self, state: str, code: str | None, message: str | None) -> None:
        cluster = self.cluster
        cluster.state = state
        cluster.state_change_code = code
        cluster.last_state_change_reason = message
        if state in ("RUNNING", "WAITING") and cluster.ready_datetime is None:
            cluster.ready_datetime = utcnow()
        if state in ("TERMINATED", "TERMINATED_WITH_ERRORS"):
            cluster.end_datetime = utcnow()
            for group in cluster.instance_groups:
                group.state, group.end_date_time = "TERMINATED", cluster.end_datetime

    def request_termination(self) -> None:  # from moto's request thread
        with self.lock:
            if self.cluster.state in CLUSTER_ENDED:
                return
            self.terminating.set()
            self._set("TERMINATING", "USER_REQUEST", "Terminated by user request")

    def wait(self, seconds: float) -> bool:
        """Sleeps; True if termination was requested (or the emulator stops) meanwhile."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.terminating.wait(min(left, 0.05)) or self.emr._stopping.is_set():
                return True
        return self.terminating.is_set() or self.emr._stopping.is_set()

    # - life -

    def run(self) -> None:
        try:
            self._life()
        except Exception as error:
            log.exception("local EMR: cluster %s failed", self.cluster.id)
            self._end(
                "TERMINATED_WITH_ERRORS", "INTERNAL_ERROR", f"local EMR data plane: {error!r}"
            )

    def _life(self) -> None:
        emr = self.emr
        if self.fresh:
            if self.wait(emr.phase_s) or not self.set_state(
                "BOOTSTRAPPING", None, "Running bootstrap actions"
            ):
                return self._user_terminated()
            error = self._bootstrap()
            if self.terminating.is_set() or emr._stopping.is_set():
                return self._user_terminated()
            if error:
                return self._end("TERMINATED_WITH_ERRORS", "BOOTSTRAP_FAILURE", error)
            if self.wait(emr.phase_s):
                return self._user_terminated()
        with_errors = False
        while True:
            if self.terminating.is_set() or emr._stopping.is_set():
                return self._user_terminated()
            step = next((s for s in list(self.cluster.steps) if s.state == "PENDING"), None)
            if step is None:
                if not self.cluster.keep_job_flow_alive_when_no_steps:
                    message = "Steps completed with errors" if with_errors else "Steps completed"
                    return self._end("TERMINATED", "ALL_STEPS_COMPLETED", message)
                if self.cluster.state != "WAITING":
                    self.set_state("WAITING", None, "Cluster ready to run steps.")
                self.wait(0.1)
                continue
            if self.cluster.state != "RUNNING":
                self.set_state("RUNNING", None, "Running step")
            outcome = self._step(step)
            if outcome == "CANCELLED":
                return self._user_terminated()
            if outcome == "FAILED":
                with_errors = True
                action = step.action_on_failure
                if action in ("TERMINATE_CLUSTER", "TERMINATE_JOB_FLOW"):
                    return self._end(
                        "TERMINATED_WITH_ERRORS", "STEP_FAILURE", "Shut down as step failed"
                    )
                if action == "CANCEL_AND_WAIT":
                    self._cancel_steps(f"Cancelled after step {step.id} failed (CANCEL_AND_WAIT)")

    def _end(self, state: str, code: str, message: str) -> None:
        with self.lock:
            by_user = self.terminating.is_set()  # a user's termination came first: it wins
            if not by_user:
                self._set("TERMINATING", code, message)
        if by_user:
            return self._user_terminated()
        self._cancel_steps("Cluster terminating")
        time.sleep(self.emr.phase_s)
        with self.lock:
            self._set(state, code, message)

    def _user_terminated(self) -> None:
        self._cancel_steps("Cancelled: the cluster was terminated")
        if not self.emr._stopping.is_set():
            time.sleep(self.emr.phase_s)
        with self.lock:
            self._set("TERMINATED", "USER_REQUEST", "Terminated by user request")

    def _cancel_steps(self, message: str) -> None:
        for step in list(self.cluster.steps):
            if step.state in ("PENDING", "RUNNING"):
                step.state = "CANCELLED"
                step.last_state_change_reason = message
                step.end_date_time = utcnow()

    def node_env(self) -> dict[str, str]:
        """The environment of the cluster's processes (bootstrap actions and steps): pip
        installs what it is given (no dependencies, no index) into the cluster's own
        site-packages, which is on PYTHONPATH."""
        env = self.emr._node_env(self.dir / "home", [self.site_packages])
        env.update(
            PIP_TARGET=str(self.site_packages),
            PIP_NO_DEPS="1",
            PIP_NO_INDEX="1",
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            PIP_NO_INPUT="1",
            PIP_NO_CACHE_DIR="1",
        )
        return env

    # - bootstrap actions -

    def _bootstrap(self) -> str | None:
        """Runs the bootstrap actions; the failure message, if one failed."""
        emr, cluster = self.emr, self.cluster
        fault, emr.faults.bootstrap_error = emr.faults.bootstrap_error, None
        if fault:
            return f"On the master instance ({INSTANCE_ID}), bootstrap action 1 failed: {fault}"
        env = self.node_env()
        for number, action in enumerate(cluster.bootstrap_actions, start=1):
            where = self.dir / "bootstrap-actions" / str(number)
            where.mkdir(parents=True, exist_ok=True)
            name = f"bootstrap action {number} ({action.name})"
            try:
                script = emr._download(action.script_path, where)
            except Exception as error:
                return f"On the master instance ({INSTANCE_ID}), {name}: cannot download {action.script_path}: {error}"
            rc = emr._run(
                f"{cluster.id}/bootstrap-{number}",
                ["bash", str(script), *action.args],
                env=env,
                cwd=where,
                cancel=self.terminating,
                spark=False,
                step=False,
            )
            self._upload_logs(f"node/{INSTANCE_ID}/bootstrap-actions/{number}", where)
            if rc is None:
                return None
            if rc != 0:
                tail = _tail(where / "stderr", 8) or _tail(where / "stdout", 8)
                return (
                    f"On the master instance ({INSTANCE_ID}), {name} returned a non-zero "
                    f"return code {rc}. Last output: {tail}"
                )
        return None

    # - steps -

    def _step(self, step: Any) -> str:
        """Runs one step; its final state."""
        emr, cluster = self.emr, self.cluster
        with self.lock:
            if self.terminating.is_set():
                return "CANCELLED"
            step.state = "RUNNING"
            step.start_date_time = utcnow()
        where = self.dir / "steps" / step.id
        where.mkdir(parents=True, exist_ok=True)
        env = self.node_env()
        env.update({k: v for k, v in self.env.items() if k not in ENV_PROTECTED})
        command: list[str] = []
        spark = False
        try:
            if not emr.faults.step_command:
                command, spark = self._step_command(step, where, env)
        except Exception as error:
            with open(where / "stderr", "a") as err:
                err.write(f"local EMR: the step cannot start: {error}\n")
            rc: int | None = 1
        else:
            rc = emr._run(f"{cluster.id}/{step.id}", command, env=env, cwd=where,
                          cancel=self.terminating, spark=spark, step=True)  # fmt: skip
        log_file = self._upload_logs(f"steps/{step.id}", where)
        if spark and cluster.log_uri:
            self._upload_container_logs(step)
        step.end_date_time = utcnow()
        if rc is None:
            step.state = "CANCELLED"
            step.last_state_change_reason = "Cancelled: the cluster was terminated"
            return "CANCELLED"
        if rc == 0:
            step.state = "COMPLETED"
            return "COMPLETED"
        details = {
            "Reason": "Unknown Error.",
            "Message": _tail(where / "stderr", 10) or f"exit code {rc}",
        }
        if log_file:
            details["LogFile"] = log_file
        step.failure_details = details
        step.last_state_change_reason = f"Step failed with exit code {rc}"
        step.state = "FAILED"
        return "FAILED"

    def _step_command(self, step: Any, where: Path, env: dict[str, str]) -> tuple[list[str], bool]:
        jar, args = step.jar, list(step.args)
        if jar != "command-runner.jar":
            raise StepError(f"only command-runner.jar steps run offline, not {jar!r}")
        if not args:
            raise StepError("command-runner.jar without arguments")
        if args[0] == "spark-submit":
            command, pythonpath = self.emr._spark_submit(args, where, self.defaults, env)
            env["PYTHONPATH"] = os.pathsep.join([*map(str, pythonpath), env["PYTHONPATH"]])
            return command, True
        return args, False  # any other command, as command-runner.jar runs it

    # - logs -

    def _upload_logs(self, relative: str, where: Path) -> str | None:
        """stdout/stderr of ``where`` to ``<LogUri>/<cluster>/<relative>/std*.gz``; the
        stderr's s3:// URL (None without a LogUri)."""
        if not self.cluster.log_uri:
            return None
        bucket, prefix = _split_s3(self.cluster.log_uri)
        written = {}
        for name in ("stdout", "stderr"):
            key = _join(prefix, self.cluster.id, relative, f"{name}.gz")
            written[name] = self.emr._upload_gz(bucket, key, where / name) and key
        return f"s3://{bucket}/{written['stderr']}" if written["stderr"] else None

    def _upload_container_logs(self, step: Any) -> None:
        """EMR also writes YARN container logs under containers/ (Dagster's PipesEMRClient lists
        them and fails when there are none). Locally the executors ran in the driver's process,
        whose output is the step's: a note says so."""
        bucket, prefix = _split_s3(self.cluster.log_uri)
        stamp = int(time.time() * 1000)
        number = list(self.cluster.steps).index(step) + 1
        app = f"application_{stamp}_{number:04d}"
        container = f"container_{stamp}_{number:04d}_01_000001"
        directory = self.dir / "steps" / step.id / "container"
        directory.mkdir(exist_ok=True)
        (directory / "stdout").write_text("")
        (directory / "stderr").write_text(
            f"local[1]: the executors ran in the step's driver process; see steps/{step.id}/\n"
        )
        for name in ("stdout", "stderr"):
            key = _join(prefix, self.cluster.id, "containers", app, container, f"{name}.gz")
            self.emr._upload_gz(bucket, key, directory / name)


def _cluster_configuration(configurations: list[Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(environment, spark-defaults) from a cluster's Configurations: spark-env's ``export``,
    spark-defaults' spark.yarn.appMasterEnv.* / spark.executorEnv.* are environment variables;
    the other spark-defaults, and core-site as spark.hadoop.*, are Spark settings."""
    env: dict[str, str] = {}
    defaults: dict[str, str] = {}
    for configuration in map(_plain, configurations or []):
        classification = configuration.get("Classification")
        properties = configuration.get("Properties") or {}
        if classification == "spark-defaults":
            for key, value in properties.items():
                if match := ENV_CONF.fullmatch(key):
                    env[match[1]] = value
                else:
                    defaults[key] = value
        elif classification == "spark-env":
            for nested in configuration.get("Configurations") or []:
                if nested.get("Classification") == "export":
                    env.update(nested.get("Properties") or {})
        elif classification == "core-site":
            defaults.update({f"spark.hadoop.{k}": v for k, v in properties.items()})
    return env, defaults


# --- EMR Serverless --------------------------------------------------------------------------


# What one job run of the offline EMR Serverless is billed as: its driver at EMR Serverless'
# default size (4 vCPU, 16 GB, 20 GB of free storage), for at least a minute.
SERVERLESS_DRIVER = {"vCPU": 4, "memoryGB": 16}


def billed_resources(ran: datetime.timedelta) -> dict[str, float]:
    """``billedResourceUtilization`` of a job run that ran this long."""
    hours = max(ran.total_seconds(), 60.0) / 3600
    return {
        "vCPUHour": round(SERVERLESS_DRIVER["vCPU"] * hours, 6),
        "memoryGBHour": round(SERVERLESS_DRIVER["memoryGB"] * hours, 6),
        "storageGBHour": 0.0,
    }


class _JobRunDrive:
    """One EMR Serverless job run's life, on a thread of its own."""

    def __init__(self, emulator: LocalEMR, run: Any) -> None:
        self.emr = emulator
        self.job_run = run
        self.lock = threading.RLock()
        self.cancelling = threading.Event()
        self.dir = emulator.workdir / "serverless" / run.application_id / run.id

    def set_state(self, state: str, details: str | None = None) -> bool:
        with self.lock:
            if self.cancelling.is_set():
                return False
            self._set(state, details)
            return True

    def _set(self, state: str, details: str | None = None) -> None:
        run = self.job_run
        run.__dict__["state"] = state
        run.state_details = details
        run.updated_at = utcnow()
        if state == "RUNNING":
            run.started_at = run.updated_at
        if state in RUN_ENDED:
            run.ended_at = run.updated_at
            started = getattr(run, "started_at", None)
            if started is not None:
                run.total_execution_duration_seconds = int((run.ended_at - started).total_seconds())
                run.billed_resource_utilization = billed_resources(run.ended_at - started)

    def request_cancel(self) -> None:  # from moto's request thread
        with self.lock:
            if self.job_run.__dict__["state"] in RUN_ENDED:
                return
            self.cancelling.set()
            self._set("CANCELLING", "Job run cancellation requested")

    def wait(self, seconds: float) -> bool:
        return self.cancelling.wait(seconds) or self.emr._stopping.is_set()

    def run(self) -> None:
        run = self.job_run
        run.attempt = 1
        try:
            self._life()
        except Exception as error:
            log.exception("local EMR Serverless: job run %s failed", run.id)
            with self.lock:
                if run.__dict__["state"] not in RUN_ENDED:
                    self._set("FAILED", f"local EMR Serverless data plane: {error!r}")

    def _life(self) -> None:
        emr, run = self.emr, self.job_run
        self._start_application()
        if self.wait(emr.phase_s) or not self.set_state("SCHEDULED"):
            return self._cancelled()
        if self.wait(emr.phase_s) or not self.set_state("RUNNING"):
            return self._cancelled()
        self.dir.mkdir(parents=True, exist_ok=True)
        env = emr._node_env(self.dir / "home", [])
        command: list[str] = []
        try:
            if not emr.faults.step_command:
                command = self._command(env)
        except Exception as error:
            with open(self.dir / "stderr", "a") as err:
                err.write(f"local EMR Serverless: the job cannot start: {error}\n")
            rc: int | None = 1
        else:
            rc = emr._run(f"{run.application_id}/{run.id}", command, env=env, cwd=self.dir,
                          cancel=self.cancelling, spark=True, step=True)  # fmt: skip
        self._upload_logs()
        if rc is None:
            return self._cancelled()
        if rc == 0:
            self.set_state("SUCCESS")
        else:
            tail = _tail(self.dir / "stderr", 5)
            self.set_state(
                "FAILED",
                "Job failed, please check complete logs in configured logging destination. "
                f"ExitCode: {rc}. Last lines of stderr: {tail}",
            )

    def _cancelled(self) -> None:
        with self.lock:
            self._set("CANCELLED", "Job run cancelled by user request")

    def _start_application(self) -> None:
        """Auto-start, as EMR Serverless does for a job run on a CREATED or STOPPED one."""
        backends: list[tuple[str, str, Any]] = list(
            serverless_models.emrserverless_backends.iter_backends()
        )
        for _, _, backend in backends:
            app = backend.applications.get(self.job_run.application_id)
            if app is not None and app.state in ("CREATED", "STOPPED"):
                app.state = "STARTED"

    def _command(self, env: dict[str, str]) -> list[str]:
        run = self.job_run
        driver = _get(run.job_driver, "sparkSubmit")
        if not driver or not driver.get("entryPoint"):
            raise StepError("only jobDriver.sparkSubmit job runs run offline")
        argv = ["spark-submit", *shlex.split(driver.get("sparkSubmitParameters") or "")]
        argv += [driver["entryPoint"], *(driver.get("entryPointArguments") or [])]
        defaults: dict[str, str] = {}
        for configuration in _get(run.configuration_overrides, "applicationConfiguration") or []:
            if configuration.get("classification") == "spark-defaults":
                defaults.update(configuration.get("properties") or {})
        command, pythonpath = self.emr._spark_submit(argv, self.dir, defaults, env)
        env["PYTHONPATH"] = os.pathsep.join([*map(str, pythonpath), env["PYTHONPATH"]])
        return command

    def _upload_logs(self) -> None:
        """The driver's stdout/stderr to S3 and CloudWatch Logs, where the run's
        monitoringConfiguration says (as Dagster's PipesEMRServerlessClient reads them)."""
        run, emr = self.job_run, self.emr
        monitoring = _get(run.configuration_overrides, "monitoringConfiguration") or {}
        log_dir = _serverless_log_dir(run)
        if log_uri := _get(monitoring, "s3MonitoringConfiguration", "logUri"):
            bucket, prefix = _split_s3(log_uri)
            for name in ("stdout", "stderr"):
                emr._upload_gz(bucket, _join(prefix, log_dir, f"{name}.gz"), self.dir / name)
        cloudwatch = _get(monitoring, "cloudWatchLoggingConfiguration") or {}
        if cloudwatch.get("enabled") is True:
            group = cloudwatch.get("logGroupName") or "/aws/emr-serverless"
            prefix = cloudwatch.get("logStreamNamePrefix") or ""
            types = (cloudwatch.get("logTypes") or {}).get("SPARK_DRIVER", ["STDOUT", "STDERR"])
            for name in ("stdout", "stderr"):
                if name.upper() in types:
                    _put_log_lines(
                        emr._logs_client, group, f"{prefix}/{log_dir}/{name}", self.dir / name
                    )


def _serverless_log_dir(run: Any) -> str:
    return f"applications/{run.application_id}/jobs/{run.id}/SPARK_DRIVER"


def _put_log_lines(client: Any, group: str, stream: str, path: Path) -> None:
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_log_group(logGroupName=group)
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_log_stream(logGroupName=group, logStreamName=stream)
    text = path.read_text(errors="replace") if path.exists() else ""
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": line} for line in text.splitlines() if line]
    for start in range(0, len(events), 1000):
        client.put_log_events(
            logGroupName=group, logStreamName=stream, logEvents=events[start : start + 1000]
        )


# --- helpers ---------------------------------------------------------------------------------


def _clusters_in_moto() -> Iterator[tuple[str, str, Any]]:
    backends: list[tuple[str, str, Any]] = list(emr_models.emr_backends.iter_backends())
    for account, region, backend in backends:
        for cluster in list(backend.clusters.values()):
            yield account, region, cluster


def _runs_in_moto() -> Iterator[Any]:
    backends: list[tuple[str, str, Any]] = list(
        serverless_models.emrserverless_backends.iter_backends()
    )
    for _, _, backend in backends:
        for runs in list(backend.job_runs.values()):
            yield from list(runs)


def _plain(value: Any) -> Any:
    """moto's request structures (XFormedDict, keys case-folded) as plain dicts and lists."""
    if hasattr(value, "original_dict"):
        value = value.original_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict) and not hasattr(value, "original_dict"):
            return None
        value = _plain(value).get(key)
    return value


def _split_s3(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    if parsed.scheme not in ("s3", "s3a", "s3n") or not parsed.netloc:
        raise StepError(f"not an s3:// URL: {url!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def _join(prefix: str, *parts: str) -> str:
    """A key under ``prefix`` as os.path.join makes it (what Dagster's clients compute)."""
    return posixpath.join(prefix, *parts)


# Lines of Spark's and the JVM's own logging in a driver's stderr (skipped in failure messages).
SPARK_LOG_LINE = re.compile(
    r"\d\d/\d\d/\d\d \d\d:\d\d:\d\d (TRACE|DEBUG|INFO|WARN) |WARNING: Using incubator"
)


def _tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a log that are not Spark's INFO/WARN logging (what EMR's
    FailureDetails shows: the error, not the shutdown chatter after it), at most 2000 chars."""
    if not path.exists():
        return ""
    text = path.read_text(errors="replace").strip().splitlines()
    relevant = [line for line in text if not SPARK_LOG_LINE.match(line)] or text
    return "\n".join(relevant[-lines:])[-2000:]


def _parse_spark_submit(
    args: list[str],
) -> tuple[list[tuple[str, str | None]], str | None, list[str]]:
    """spark-submit's arguments: (options with their values, resource, application args)."""
    options: list[tuple[str, str | None]] = []
    index = 0
    while index < len(args):
        arg = args[index]
        name, eq, value = arg.partition("=")
        if arg.startswith("--") and eq and name in SPARK_SUBMIT_VALUE_OPTIONS:
            options.append((name, value))
            index += 1
        elif arg in SPARK_SUBMIT_VALUE_OPTIONS:
            if index + 1 >= len(args):
                raise StepError(f"spark-submit: {arg} needs a value")
            options.append((arg, args[index + 1]))
            index += 2
        elif arg.startswith("-"):
            options.append((arg, None))
            index += 1
        else:
            return options, arg, args[index + 1 :]
    return options, None, []


_cache: dict[str, Any] = {}


def _pyspark_home() -> Path:
    if "pyspark" not in _cache:
        import importlib.util

        spec = importlib.util.find_spec("pyspark")
        if spec is None or not spec.submodule_search_locations:
            raise StepError("pyspark is not installed")
        _cache["pyspark"] = Path(spec.submodule_search_locations[0])
    return _cache["pyspark"]


def _pip_wheel() -> str:
    """ "" if this virtualenv has pip; else the pip wheel Python bundles for ensurepip (pip runs
    from it: ``python pip.whl/pip ...``), which the python3 shim uses for ``python3 -m pip``."""
    if "pip" not in _cache:
        import importlib.util

        wheel = ""
        if importlib.util.find_spec("pip") is None:
            ensurepip = importlib.util.find_spec("ensurepip")
            if ensurepip is not None and ensurepip.origin:
                bundled = Path(ensurepip.origin).parent / "_bundled"
                wheel = str(max(bundled.glob("pip-*.whl"), default=""))
        _cache["pip"] = wheel
    return _cache["pip"]


def _system_path() -> list[str]:
    """This process's PATH without its virtualenv's bin directory (a node has no venv)."""
    venv_bin = str(Path(sys.executable).parent) if sys.prefix != sys.base_prefix else None
    return [p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if p and p != venv_bin]


def _editable_source_dirs() -> list[str]:
    """Directories that .pth files of this virtualenv put on sys.path from outside it: the
    source trees of editable installs (the checkout's src/)."""
    if "hidden" not in _cache:
        inside = [
            os.path.realpath(p) for p in (*site.getsitepackages(), sys.prefix, sys.base_prefix)
        ]
        hidden: list[str] = []
        for directory in site.getsitepackages():
            for pth in sorted(Path(directory).glob("*.pth")):
                for line in pth.read_text(errors="replace").splitlines():
                    line = line.strip()
                    if not line or line.startswith(("#", "import ")) or not os.path.isdir(line):
                        continue
                    real = os.path.realpath(line)
                    if not any(real == p or real.startswith(p + os.sep) for p in inside):
                        hidden.append(real)
        _cache["hidden"] = hidden
    return _cache["hidden"]


def _kill_session(session_id: int) -> None:
    """SIGKILL every process of a session (a step's spark-submit, its JVM, its Pythons), as a
    terminated node would; waits up to 2 s for them to be gone."""
    deadline = time.monotonic() + 2
    while (members := session_processes(session_id)) and time.monotonic() < deadline:
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
