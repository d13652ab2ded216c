"""A local Databricks: the REST routes the Databricks SDK and Dagster's Pipes clients use, and
a data plane that runs each submitted task with ``spark-submit`` on this machine.

Control plane: a stdlib HTTP server on 127.0.0.1 answering OAuth M2M (discovery and token),
Jobs ``runs/submit|get|list|cancel|get-output`` (API 2.0, 2.1 and 2.2), ``clusters/get``, DBFS
2.0 and the Files API (``fs/files``, ``fs/directories``) with Databricks' JSON shapes and
error codes, so that the SDK raises what it raises against a workspace (``NotFound``, an
``OSError``, for a missing file). Every request but discovery and the token call must carry
a bearer token the server issued. Every request is recorded (``requests``), without its
``Authorization`` header.

Data plane: a thread per run drives PENDING -> RUNNING -> TERMINATING -> TERMINATED,
``phase_s`` per phase. The task runs as on a cluster's driver: wheels unzipped onto
PYTHONPATH, the Python file run by pyspark's ``spark-submit --master local[1]`` in a private
mount namespace where ``/dbfs`` is ``root/dbfs`` and ``/Volumes`` is ``root/volumes``
(``unshare -m`` + ``mount --bind``, so root is needed; outside the task nothing is mounted,
only the two empty mount points ``/dbfs`` and ``/Volumes`` are created if missing), with the
cluster's ``spark_conf`` and the ``spark.databricks.clusterUsageTags.*`` settings Dagster's
``PipesDbfsMessageWriter`` reads, and the cluster's ``spark_env_vars`` as environment. The
driver's stdout and stderr are delivered where cluster log delivery puts them
(``<destination>/<cluster id>/driver/stdout|stderr``) when the cluster asks for it.

Faults (``faults``) inject throttling and outages per route, late Pipes message files,
terminal states, long tasks and tasks that die early.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import itertools
import json
import os
import posixpath
import re
import secrets
import shutil
import signal
import string
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.processes import descendants

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

    from tests.emulators.s3 import LocalS3

__all__ = ["Faults", "LocalDatabricks", "Recorded"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# hadoop-aws and the AWS SDK (`make jars`): on a real cluster S3 access is built in.
SPARK_JARS_DIR = PROJECT_ROOT / ".cache" / "spark-jars"

MAX_BLOCK = 1 << 20  # DBFS put / add-block / read limit (1 MB)
DEFAULT_READ = 1 << 19  # DBFS read's default length (0.5 MB)
KILL_GRACE_S = 3.0  # SIGTERM, then SIGKILL after this long
LOG_DELIVERY_S = 1.0  # how often the driver's logs are copied to the log destination
MESSAGE_CHUNK = re.compile(r"^\d+\.json$")  # a Pipes message chunk (1.json, 2.json, ...)

ERROR_CODES = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    409: "RESOURCE_CONFLICT",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# How each result ends up in runs/get's `status.termination_details` (code, type).
TERMINATION = {
    "SUCCESS": ("SUCCESS", "SUCCESS"),
    "FAILED": ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"),
    "CANCELED": ("USER_CANCELED", "SUCCESS"),
    "TIMEDOUT": ("CANCELED", "CLIENT_ERROR"),
    "INTERNAL_ERROR": ("INTERNAL_ERROR", "INTERNAL_ERROR"),
    "SKIPPED": ("SKIPPED", "SUCCESS"),
}
TERMINAL = ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")


@dataclass
class Faults:
    """What goes wrong, set on a started emulator (``emulator.faults.missing_reads = 2``).

    ``status_codes``: route prefix -> HTTP statuses answered in turn, before the route answers
    normally again (429 and 503 come with ``Retry-After: 1``, as Databricks sends them).
    ``missing_reads``: reads (DBFS ``read``, Files ``GET``) of Pipes message chunks that exist
    answer 404 this many times first, as if not written yet. ``terminal_state``: the next
    submitted run ends in this (life_cycle_state, result_state) without running its task
    (``state_message`` says so, or ``terminal_message``). ``task_delay_s``: every task sleeps
    this long, RUNNING, before it starts. ``task_command``: every task runs this command (in
    the task's namespace and environment, with the task's parameters appended) instead of
    spark-submit.
    """

    status_codes: dict[str, list[int]] = field(default_factory=dict)
    missing_reads: int = 0
    terminal_state: tuple[str, str | None] | None = None
    task_delay_s: float = 0.0
    task_command: list[str] | None = None
    terminal_message: str | None = None


@dataclass
class Recorded:
    """One request as received (``status`` is what the emulator answered)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any  # parsed JSON, raw bytes, or None when empty
    headers: dict[str, str]  # without Authorization
    status: int = 0
    at: float = field(default_factory=time.monotonic)  # when it arrived (time.monotonic())


class _ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        error_code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code or ERROR_CODES.get(status, "UNKNOWN")
        self.headers = headers or {}


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class _LaunchError(Exception):
    """The task cannot start: the run ends in ``life``/``result`` with this message."""

    def __init__(self, message: str, life: str = "INTERNAL_ERROR", result: str | None = None):
        super().__init__(message)
        self.message, self.life, self.result = message, life, result


def _not_found(what: str) -> _ApiError:
    return _ApiError(404, what, "RESOURCE_DOES_NOT_EXIST")


def _bad(what: str) -> _ApiError:
    return _ApiError(400, what, "INVALID_PARAMETER_VALUE")


def _ms(seconds: float | None = None) -> int:
    return int((time.time() if seconds is None else seconds) * 1000)


def _mtime_ms(path: Path) -> int:
    return path.stat().st_mtime_ns // 1_000_000


@dataclass
class _Cluster:
    cluster_id: str
    spec: dict[str, Any]
    state: str = "RUNNING"

    @property
    def log_destination(self) -> str | None:
        dbfs = (self.spec.get("cluster_log_conf") or {}).get("dbfs") or {}
        return dbfs.get("destination")

    def as_json(self) -> dict[str, Any]:
        """``clusters/get``'s answer: the spec as given, with what Databricks fills in (the
        driver's node type is the workers' unless set; a fixed size when not autoscaled)."""
        body = {
            "cluster_id": self.cluster_id,
            "cluster_name": self.spec.get("cluster_name", f"job-cluster-{self.cluster_id}"),
            "spark_version": "15.4.x-scala2.12",
            "node_type_id": "local",
            **self.spec,
            "state": self.state,
            "state_message": "",
            "spark_context_id": 1,
        }
        body.setdefault("driver_node_type_id", body["node_type_id"])
        if "autoscale" not in body:
            body.setdefault("num_workers", 0)
        return body


@dataclass
class _Run:
    run_id: int
    task_run_id: int
    job_id: int
    request: dict[str, Any]  # the runs/submit body
    task: dict[str, Any]
    directory: Path
    cluster: _Cluster | None  # None: serverless, or an unknown existing cluster
    fault: tuple[str, str | None] | None
    fault_message: str | None
    start: float = field(default_factory=time.time)
    running_at: float | None = None
    terminating_at: float | None = None
    end: float | None = None
    life: str = "PENDING"
    result: str | None = None
    message: str = "Waiting for cluster"
    user_cancelled_or_timedout: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)
    process: subprocess.Popen[bytes] | None = None
    thread: threading.Thread | None = None
    error: str | None = None
    error_trace: str | None = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # no line per request
        pass

    def _any(self) -> None:
        server: Any = self.server
        server.emulator._handle(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    emulator: LocalDatabricks


class LocalDatabricks:
    """A Databricks workspace on 127.0.0.1 whose tasks run as local spark-submit processes."""

    def __init__(
        self,
        *,
        root: Path,
        phase_s: float = 0.2,
        client_id: str = "local-client",
        client_secret: str = "local-secret",
        s3: LocalS3 | None = None,
        port: int = 0,
        spark_lock: str | Path | None = None,
    ) -> None:
        """``root``: DBFS lives in ``root/dbfs``, UC volumes in ``root/volumes`` (``/Volumes/
        <catalog>/<schema>/<volume>``), each run's files in ``root/runs/<run id>``.
        ``s3``: tasks reach this local S3 (environment, S3A jars and settings).
        ``spark_lock``: a file each task holds with ``flock`` while it runs (None: no lock;
        give none when the process that starts the emulator already holds it, or the task
        would wait for its own parent)."""
        self.root = Path(root).resolve()
        self.phase_s = phase_s
        self.client_id = client_id
        self.client_secret = client_secret
        self.s3 = s3
        self.port = port
        self.spark_lock = str(spark_lock) if spark_lock else None
        self.faults = Faults()
        self.requests: list[Recorded] = []
        self.host = ""
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._server_thread: threading.Thread | None = None
        self._tokens: set[str] = set()
        self._runs: dict[int, _Run] = {}
        self._task_runs: dict[int, _Run] = {}
        self._idempotency: dict[str, int] = {}
        self._clusters: dict[str, _Cluster] = {}
        self._handles: dict[int, tuple[Path, bytearray]] = {}
        self._ids = itertools.count(1001)
        self._s3_conf: dict[str, str] = {}

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> LocalDatabricks:
        if self.s3 is not None:  # the S3 access a real cluster has (no secrets: by environment)
            from hydra_transforms.engines import spark_s3_conf

            self._s3_conf = spark_s3_conf(self.s3.options(), secrets=False)
        for sub in ("dbfs", "volumes", "runs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for mount_point in ("/dbfs", "/Volumes"):  # empty mount points for the tasks
            with contextlib.suppress(OSError):
                os.makedirs(mount_point, exist_ok=True)
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.emulator = self
        self._server = server
        self.port = server.server_address[1]
        self.host = f"http://127.0.0.1:{self.port}"
        self._server_thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            daemon=True,
            name="databricks-control-plane",
        )
        self._server_thread.start()
        return self

    def stop(self) -> None:
        """Stops the server, kills every task process still running, ends their runs."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.cancel.set()
            if run.process is not None and run.process.poll() is None:
                _kill_tree(run.process)
        for run in runs:
            if run.thread is not None:
                run.thread.join(timeout=KILL_GRACE_S + 5)

    def __enter__(self) -> LocalDatabricks:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- helpers for tests

    def workspace_client(self, **config: Any) -> WorkspaceClient:
        """A WorkspaceClient that authenticates as a service principal would (OAuth M2M);
        ``config``: more SDK settings (``retry_timeout_seconds=5``, ...)."""
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.config import Config

        return WorkspaceClient(
            config=Config(
                host=self.host,
                client_id=self.client_id,
                client_secret=self.client_secret,
                auth_type="oauth-m2m",
                **config,
            )
        )

    def environment(self) -> dict[str, str]:
        """The variables a process needs to reach this workspace (DATABRICKS_CREDENTIALS)."""
        return {
            "DATABRICKS_HOST": self.host,
            "DATABRICKS_CLIENT_ID": self.client_id,
            "DATABRICKS_CLIENT_SECRET": self.client_secret,
        }

    def add_cluster(
        self,
        cluster_id: str,
        *,
        spark_conf: dict[str, str] | None = None,
        spark_env_vars: dict[str, str] | None = None,
        cluster_log_conf: dict[str, Any] | None = None,
        **spec: Any,
    ) -> str:
        """Registers a running all-purpose cluster (for ``existing_cluster_id``)."""
        full = {"spark_conf": dict(spark_conf or {}), "spark_env_vars": dict(spark_env_vars or {})}
        if cluster_log_conf:
            full["cluster_log_conf"] = cluster_log_conf
        full.update(spec)
        with self._lock:
            self._clusters[cluster_id] = _Cluster(cluster_id, full)
        return cluster_id

    def volume(self, catalog: str, schema: str, name: str) -> str:
        """Creates a UC volume (if needed); returns its path, ``/Volumes/catalog/schema/name``."""
        (self.root / "volumes" / catalog / schema / name).mkdir(parents=True, exist_ok=True)
        return f"/Volumes/{catalog}/{schema}/{name}"

    def local_path(self, path: str) -> Path:
        """Where ``dbfs:/x``, ``/dbfs/x`` or ``/Volumes/...`` is on this machine."""
        if path.startswith("/Volumes/"):
            return self._volume_path(path, must_exist=False)[1]
        if path.startswith("/dbfs/"):
            path = path[len("/dbfs") :]
        return self._dbfs_path(path)[1]

    def run_states(self) -> dict[int, tuple[str, str | None]]:
        with self._lock:
            return {run_id: (run.life, run.result) for run_id, run in self._runs.items()}

    def run_directory(self, run_id: int) -> Path:
        """The run's files: ``driver/stdout``, ``driver/stderr``, ``site-packages``."""
        return self.root / "runs" / str(run_id)

    def task_process(self, run_id: int) -> subprocess.Popen[bytes] | None:
        with self._lock:
            return self._runs[run_id].process

    def wait(self, run_id: int, timeout: float = 120) -> tuple[str, str | None]:
        """Waits until the run is in a terminal state; returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.run_states()[run_id]
            if state[0] in TERMINAL:
                return state
            time.sleep(0.05)
        raise TimeoutError(f"run {run_id} still {self.run_states()[run_id]} after {timeout}s")

    # ----------------------------------------------------------------- HTTP

    def _handle(self, h: _Handler) -> None:
        split = urlsplit(h.path)
        path = unquote(split.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        raw = _read_body(h)
        body: Any = raw or None
        if raw and (h.headers.get("Content-Type", "").startswith("application/json")):
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        headers = {k: v for k, v in h.headers.items() if k.lower() != "authorization"}
        record = Recorded(h.command, path, query, body, headers)
        with self._lock:
            self.requests.append(record)
        try:
            self._fault(path)
            if path not in ("/oidc/.well-known/oauth-authorization-server", "/oidc/v1/token"):
                self._authenticate(h.headers.get("Authorization", ""))
            status, payload, extra = self._route(h.command, path, query, body, raw, h)
        except _OAuthError as e:  # OAuth's own error shape
            status, extra = e.status, {}
            payload = {"error": e.error, "error_description": e.description}
        except _ApiError as e:
            status, extra = e.status, e.headers
            payload = {"error_code": e.error_code, "message": e.message}
        except Exception as e:  # an emulator bug: say so, as a 500
            status, extra = 500, {}
            payload = {"error_code": "INTERNAL_ERROR", "message": f"emulator error: {e!r}"}
        record.status = status
        _respond(h, status, payload, extra)

    def _fault(self, path: str) -> None:
        with self._lock:
            for prefix, codes in self.faults.status_codes.items():
                if codes and path.startswith(prefix):
                    code = codes.pop(0)
                    retry = {"Retry-After": "1"} if code in (429, 503) else {}
                    raise _ApiError(code, f"emulated fault: HTTP {code} on {path}", headers=retry)

    def _authenticate(self, header: str) -> None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token not in self._tokens:
            raise _ApiError(401, "Invalid access token.", "UNAUTHENTICATED")

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any, raw: bytes, h: _Handler
    ) -> tuple[int, Any, dict[str, str]]:
        if path == "/oidc/.well-known/oauth-authorization-server" and method == "GET":
            return 200, self._discovery(), {}
        if path == "/oidc/v1/token" and method == "POST":
            return 200, self._token(h, raw), {}
        if m := re.fullmatch(r"/api/2\.[012]/jobs/runs/(submit|get|cancel|get-output)", path):
            op = m.group(1)
            want = "POST" if op in ("submit", "cancel") else "GET"
            if method == want:
                args = body if want == "POST" else query
                handler = {
                    "submit": self._submit,
                    "get": self._get_run,
                    "cancel": self._cancel,
                    "get-output": self._get_output,
                }[op]
                return 200, handler(args if isinstance(args, dict) else {}), {}
        if re.fullmatch(r"/api/2\.[12]/jobs/runs/list", path) and method == "GET":
            return 200, self._list_runs(query), {}
        if re.fullmatch(r"/api/2\.[01]/clusters/get", path) and method == "GET":
            return 200, self._get_cluster(query), {}
        if m := re.fullmatch(r"/api/2\.0/dbfs/([a-z-]+)", path):
            op = m.group(1)
            want = "GET" if op in ("get-status", "list", "read") else "POST"
            handler = getattr(self, "_dbfs_" + op.replace("-", "_"), None)
            if handler is not None and method == want:
                args = query if want == "GET" else body
                return 200, handler(args if isinstance(args, dict) else {}), {}
        if path.startswith("/api/2.0/fs/files/"):
            return self._files(method, path[len("/api/2.0/fs/files") :], query, raw, h)
        if path.startswith("/api/2.0/fs/directories/"):
            return self._directories(method, path[len("/api/2.0/fs/directories") :], query)
        raise _ApiError(404, f"No API found for '{method} {path}'", "ENDPOINT_NOT_FOUND")

    # ----------------------------------------------------------------- OAuth

    def _discovery(self) -> dict[str, Any]:
        return {
            "issuer": f"{self.host}/oidc",
            "authorization_endpoint": f"{self.host}/oidc/v1/authorize",
            "token_endpoint": f"{self.host}/oidc/v1/token",
            "grant_types_supported": ["client_credentials", "authorization_code"],
            "scopes_supported": ["all-apis", "offline_access"],
        }

    def _token(self, h: _Handler, raw: bytes) -> dict[str, Any]:
        scheme, _, encoded = h.headers.get("Authorization", "").partition(" ")
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        if scheme.lower() != "basic":  # client_secret_post
            user, password = form.get("client_id", ""), form.get("client_secret", "")
        if (user, password) != (self.client_id, self.client_secret):
            raise _OAuthError(401, "invalid_client", "Client authentication failed")
        if form.get("grant_type") != "client_credentials":
            raise _OAuthError(400, "unsupported_grant_type", repr(form.get("grant_type")))
        token = "dapi-local-" + secrets.token_hex(16)
        with self._lock:
            self._tokens.add(token)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": form.get("scope", "all-apis"),
        }

    # ----------------------------------------------------------------- Jobs

    def _submit(self, body: dict[str, Any]) -> dict[str, Any]:
        token = body.get("idempotency_token")
        with self._lock:
            if token and token in self._idempotency:
                return {"run_id": self._idempotency[token]}
        tasks = body.get("tasks") or []
        if not isinstance(tasks, list) or not tasks:
            raise _bad("At least one task is required.")
        if len(tasks) > 1:
            raise _bad("The emulator runs one task per submitted run.")
        task = tasks[0]
        if not task.get("task_key"):
            raise _bad("Task key is required.")
        if "spark_python_task" not in task:
            kinds = sorted(k for k in task if k.endswith("_task"))
            raise _bad(f"The emulator runs spark_python_task only, not {kinds}.")
        python_file = task["spark_python_task"].get("python_file")
        if not python_file:
            raise _bad("spark_python_task.python_file is required.")
        cluster = self._task_cluster(task, body)
        with self._lock:
            run_id, task_run_id, job_id = next(self._ids), next(self._ids), next(self._ids)
            fault = self.faults.terminal_state
            message = self.faults.terminal_message
            self.faults.terminal_state = None
            self.faults.terminal_message = None
            run = _Run(
                run_id=run_id,
                task_run_id=task_run_id,
                job_id=job_id,
                request=body,
                task=task,
                directory=self.run_directory(run_id),
                cluster=cluster,
                fault=fault,
                fault_message=message,
            )
            self._runs[run_id] = run
            self._task_runs[task_run_id] = run
            if token:
                self._idempotency[token] = run_id
        run.thread = threading.Thread(
            target=self._drive, args=(run,), daemon=True, name=f"databricks-run-{run_id}"
        )
        run.thread.start()
        return {"run_id": run_id}

    def _task_cluster(self, task: dict[str, Any], body: dict[str, Any]) -> _Cluster | None:
        if "new_cluster" in task:
            spec = task["new_cluster"]
            if not spec.get("spark_version"):
                raise _bad("Missing required field: new_cluster.spark_version")
            stamp = time.strftime("%m%d-%H%M%S", time.gmtime())
            suffix = "".join(
                secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8)
            )
            cluster = _Cluster(f"{stamp}-{suffix}", spec)
            with self._lock:
                self._clusters[cluster.cluster_id] = cluster
            return cluster
        if "existing_cluster_id" in task:
            with self._lock:
                return self._clusters.get(task["existing_cluster_id"])
        key = task.get("environment_key")
        if key is None:
            raise _bad(
                "One of new_cluster, existing_cluster_id or environment_key (serverless) "
                "is required."
            )
        keys = [e.get("environment_key") for e in body.get("environments") or []]
        if key not in keys:
            raise _bad(f"Environment key {key!r} is not among the job's environments {keys}.")
        return None

    def _run(self, args: dict[str, Any]) -> _Run:
        try:
            run_id = int(args.get("run_id", ""))
        except (TypeError, ValueError):
            raise _bad(f"Invalid run_id: {args.get('run_id')!r}") from None
        with self._lock:
            run = self._runs.get(run_id)
        if run is None:
            raise _bad(f"Run {run_id} does not exist.")
        return run

    def _get_run(self, args: dict[str, Any]) -> dict[str, Any]:
        run = self._run(args)
        with self._lock:
            return self._run_json(run)

    def _cancel(self, args: dict[str, Any]) -> dict[str, Any]:
        run = self._run(args)
        with self._lock:
            if run.life not in TERMINAL and not run.cancel.is_set():
                run.cancel.set()
                run.message = "Run cancellation requested."
                if run.life == "RUNNING":
                    self._set(run, "TERMINATING")
        return {}

    def _list_runs(self, query: dict[str, str]) -> dict[str, Any]:
        """``runs/list``: newest first, ``limit`` (1-25, default 20) a page, ``page_token`` the
        next page's; ``active_only``, ``completed_only``, ``run_type`` filter; ``tasks`` only
        with ``expand_tasks``. Every run here is a one-time run (``SUBMIT_RUN``)."""
        active, completed = (
            query.get("active_only") == "true",
            query.get("completed_only") == "true",
        )
        if active and completed:
            raise _bad("active_only and completed_only cannot both be true")
        try:
            limit = int(query.get("limit", "20"))
            offset = int(query.get("page_token") or query.get("offset") or "0")
        except ValueError:
            raise _bad(f"Invalid limit or page_token: {query}") from None
        if not 1 <= limit <= 25:
            raise _bad(f"limit must be between 1 and 25, got {limit}")
        if query.get("run_type", "SUBMIT_RUN") != "SUBMIT_RUN":
            return {"runs": [], "has_more": False}
        with self._lock:
            runs = sorted(self._runs.values(), key=lambda r: r.run_id, reverse=True)
            runs = [
                r
                for r in runs
                if (not active or r.life not in TERMINAL) and (not completed or r.life in TERMINAL)
            ]
            page = [self._run_json(r) for r in runs[offset : offset + limit]]
        if query.get("expand_tasks") != "true":
            for run in page:
                run.pop("tasks", None)
        body: dict[str, Any] = {"runs": page, "has_more": offset + limit < len(runs)}
        if body["has_more"]:
            body["next_page_token"] = str(offset + limit)
        return body

    def _get_output(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            task_run_id = int(args.get("run_id", ""))
        except (TypeError, ValueError):
            raise _bad(f"Invalid run_id: {args.get('run_id')!r}") from None
        with self._lock:
            run = self._task_runs.get(task_run_id)
            if run is None and task_run_id in self._runs:
                raise _bad(
                    "Retrieving the output of runs with multiple tasks is not supported. "
                    "Please retrieve the output of each individual task run instead."
                )
            if run is None:
                raise _bad(f"Run {task_run_id} does not exist.")
            output: dict[str, Any] = {"metadata": self._task_json(run)}
            if run.error:
                output["error"] = run.error
            if run.error_trace:
                output["error_trace"] = run.error_trace
        stdout = run.directory / "driver" / "stdout"
        if stdout.exists():
            data = stdout.read_bytes()
            output["logs"] = data[-5 * MAX_BLOCK :].decode("utf-8", "replace")
            output["logs_truncated"] = len(data) > 5 * MAX_BLOCK
        return output

    def _get_cluster(self, query: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            cluster = self._clusters.get(query.get("cluster_id", ""))
            if cluster is None:
                raise _bad(f"Cluster {query.get('cluster_id')} does not exist")
            return cluster.as_json()

    def _page_url(self, run: _Run) -> str:
        return f"{self.host}/?o=0#job/{run.job_id}/run/{run.run_id}"

    def _state_json(self, run: _Run) -> dict[str, Any]:
        state: dict[str, Any] = {
            "life_cycle_state": run.life,
            "state_message": run.message,
            "user_cancelled_or_timedout": run.user_cancelled_or_timedout,
        }
        if run.result is not None:
            state["result_state"] = run.result
        return state

    def _timing_json(self, run: _Run) -> dict[str, Any]:
        now = time.time()
        running = run.running_at
        terminating = run.terminating_at
        return {
            "start_time": _ms(run.start),
            "end_time": _ms(run.end) if run.end else 0,
            "setup_duration": _ms((running or run.end or now) - run.start),
            "execution_duration": _ms((terminating or run.end or now) - running) if running else 0,
            "cleanup_duration": _ms((run.end or now) - terminating) if terminating else 0,
        }

    def _task_json(self, run: _Run) -> dict[str, Any]:
        task = {
            **run.task,
            "run_id": run.task_run_id,
            "state": self._state_json(run),
            "attempt_number": 0,
            "run_page_url": self._page_url(run),
            **self._timing_json(run),
        }
        if run.cluster is not None and run.running_at is not None:
            task["cluster_instance"] = {
                "cluster_id": run.cluster.cluster_id,
                "spark_context_id": str(run.run_id),
            }
        return task

    def _run_json(self, run: _Run) -> dict[str, Any]:
        status: dict[str, Any] = {
            "state": run.life if run.life not in ("INTERNAL_ERROR", "SKIPPED") else "TERMINATED"
        }
        outcome = run.result or (run.life if run.life in ("INTERNAL_ERROR", "SKIPPED") else None)
        if outcome in TERMINATION and run.life in TERMINAL:
            code, kind = TERMINATION[outcome]
            status["termination_details"] = {"code": code, "type": kind, "message": run.message}
        timing = self._timing_json(run)
        body: dict[str, Any] = {
            "job_id": run.job_id,
            "run_id": run.run_id,
            "number_in_job": run.run_id,
            "original_attempt_run_id": run.run_id,
            "creator_user_name": self.client_id,
            "run_name": run.request.get("run_name", "Untitled"),
            "run_page_url": self._page_url(run),
            "run_type": "SUBMIT_RUN",
            "trigger": "ONE_TIME",
            "format": "MULTI_TASK",
            "attempt_number": 0,
            "state": self._state_json(run),
            "status": status,
            **timing,
            "run_duration": _ms((run.end or time.time()) - run.start),
            "tasks": [self._task_json(run)],
        }
        task = self._task_json(run)
        if "cluster_instance" in task:
            body["cluster_instance"] = task["cluster_instance"]
        if "new_cluster" in run.task:
            body["cluster_spec"] = {"new_cluster": run.task["new_cluster"]}
        elif "existing_cluster_id" in run.task:
            body["cluster_spec"] = {"existing_cluster_id": run.task["existing_cluster_id"]}
        return body

    # ----------------------------------------------------------------- data plane

    def _set(self, run: _Run, life: str, result: str | None = None, message: str = "") -> None:
        with self._lock:
            now = time.time()
            if life == "RUNNING" and run.running_at is None:
                run.running_at = now
            if life == "TERMINATING" and run.terminating_at is None:
                run.terminating_at = now
            if life in TERMINAL:
                run.end = now
                if run.cluster is not None and "new_cluster" in run.task:
                    run.cluster.state = "TERMINATED"
            run.life, run.result = life, result
            if message or life != "TERMINATING":
                run.message = message

    def _drive(self, run: _Run) -> None:
        try:
            self._drive_run(run)
        except Exception as e:  # an emulator bug: the run says so
            if run.process is not None and run.process.poll() is None:
                _kill_tree(run.process)
            self._set(run, "INTERNAL_ERROR", None, f"emulator error: {e!r}")

    def _drive_run(self, run: _Run) -> None:
        if run.cancel.wait(self.phase_s):  # PENDING
            return self._end_cancelled(run)
        if run.fault is not None:
            life, result = run.fault
            message = run.fault_message or f"emulated fault: the run ended {life}/{result}"
            if life == "TERMINATED":
                self._set(run, "RUNNING")
                time.sleep(self.phase_s)
                self._set(run, "TERMINATING")
                time.sleep(self.phase_s)
            with self._lock:
                run.user_cancelled_or_timedout = result in ("CANCELED", "TIMEDOUT")
            return self._set(run, life, result, message)
        if run.cluster is None and "existing_cluster_id" in run.task:
            return self._set(
                run,
                "INTERNAL_ERROR",
                None,
                f"Cluster {run.task['existing_cluster_id']} does not exist",
            )
        self._set(run, "RUNNING", message="In run")
        try:
            command, env = self._prepare(run)
        except _LaunchError as e:
            self._set(run, "TERMINATING", message=e.message)
            time.sleep(self.phase_s)
            return self._set(run, e.life, e.result, e.message)
        driver = run.directory / "driver"
        with (
            (driver / "stdout").open("ab") as out,
            (driver / "stderr").open("ab") as err,
            self._lock,
        ):
            if run.cancel.is_set():  # cancelled while it was being prepared
                return self._end_cancelled(run)
            run.process = subprocess.Popen(
                command,
                env=env,
                cwd=run.directory,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group: cancel kills it all
            )
        process = run.process
        timeout_s = run.request.get("timeout_seconds") or 0
        timed_out = False
        delivered = time.monotonic()
        while process.poll() is None:
            if run.cancel.wait(0.1):
                _kill_tree(process)
                break
            if timeout_s and time.time() - run.start > timeout_s:
                timed_out = True
                _kill_tree(process)
                break
            if time.monotonic() - delivered >= LOG_DELIVERY_S:
                self._deliver_logs(run)
                delivered = time.monotonic()
        code = process.wait()
        self._set(run, "TERMINATING")
        self._deliver_logs(run)
        time.sleep(self.phase_s)
        if run.cancel.is_set():
            return self._end_cancelled(run)
        if timed_out:
            with self._lock:
                run.user_cancelled_or_timedout = True
            return self._set(run, "TERMINATED", "TIMEDOUT", "Run timed out.")
        if code == 0:
            return self._set(run, "TERMINATED", "SUCCESS", "")
        error, trace = _python_error((driver / "stderr").read_text("utf-8", "replace"))
        with self._lock:
            run.error = error or f"The driver exited with code {code}."
            run.error_trace = trace
        self._set(run, "TERMINATED", "FAILED", "Workload failed, see run output for details")

    def _end_cancelled(self, run: _Run) -> None:
        if run.life not in ("TERMINATING",):
            self._set(run, "TERMINATING")
        with self._lock:
            run.user_cancelled_or_timedout = True
        self._set(run, "TERMINATED", "CANCELED", "Run cancelled.")

    def _prepare(self, run: _Run) -> tuple[list[str], dict[str, str]]:
        """The task's command line and environment; wheels installed."""
        task = run.task
        site = run.directory / "site-packages"
        (run.directory / "driver").mkdir(parents=True, exist_ok=True)
        site.mkdir(parents=True, exist_ok=True)
        notes: list[str] = []
        jars = [str(j) for j in sorted(SPARK_JARS_DIR.glob("*.jar"))] if self.s3 else []
        for library in self._libraries(run):
            if isinstance(library, dict) and "whl" in library:
                self._install_wheel(library["whl"], site)
            elif isinstance(library, dict) and "jar" in library:
                jars.append(str(self._library_path(library["jar"])))
            else:
                notes.append(f"emulator: library {library!r} not installed (offline)")
        if notes:
            (run.directory / "driver" / "stderr").write_text("\n".join(notes) + "\n")

        spec = run.cluster.spec if run.cluster is not None else {}
        env = self._base_env(site)
        env.update({str(k): str(v) for k, v in (spec.get("spark_env_vars") or {}).items()})
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)

        python_file = task["spark_python_task"]["python_file"]
        parameters = [str(p) for p in task["spark_python_task"].get("parameters") or []]
        inside = self._namespace_path(python_file)
        if not self.local_path(inside).is_file():
            raise _LaunchError(
                f"Cannot read the python file {python_file}. Please check driver logs for "
                "more details.",
                "INTERNAL_ERROR",
            )
        conf: dict[str, str] = {str(k): str(v) for k, v in (spec.get("spark_conf") or {}).items()}
        conf.update(self._s3_conf)
        conf.update(self._usage_tags(run))

        faults = self.faults
        if faults.task_command:
            task_argv = [*faults.task_command, *parameters]
        else:
            pyspark_home = _pyspark_home()
            task_argv = [str(pyspark_home / "bin" / "spark-submit"), "--master", "local[1]"]
            task_argv += ["--name", f"{task['task_key']}-{run.run_id}"]
            if jars:
                task_argv += ["--jars", ",".join(jars)]
            for key, value in conf.items():
                task_argv += ["--conf", f"{key}={value}"]
            task_argv += [inside, *parameters]
        mount = (
            'mount --bind "$1" /dbfs && mount --bind "$2" /Volumes '
            '|| { echo "emulator: cannot mount /dbfs and /Volumes (root needed)" >&2; exit 97; }; '
            'delay=$3; shift 3; if [ "$delay" != 0 ]; then sleep "$delay"; fi; exec "$@"'
        )
        delay = f"{faults.task_delay_s:g}" if faults.task_delay_s > 0 else "0"
        command = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c"]
        command += [mount, "sh", str(self.root / "dbfs"), str(self.root / "volumes"), delay]
        command += task_argv
        if self.spark_lock:
            command = ["flock", self.spark_lock, *command]
        return command, env

    def _libraries(self, run: _Run) -> list[Any]:
        libraries = list(run.task.get("libraries") or [])
        key = run.task.get("environment_key")
        for environment in run.request.get("environments") or []:
            if environment.get("environment_key") == key:
                for dependency in (environment.get("spec") or {}).get("dependencies") or []:
                    is_wheel = dependency.startswith(("/", "dbfs:")) and dependency.endswith(".whl")
                    libraries.append({"whl": dependency} if is_wheel else {"pypi": dependency})
        return libraries

    def _library_path(self, location: str) -> Path:
        path = self.local_path(self._namespace_path(location))
        if not path.is_file():
            raise _LaunchError(
                f"Library installation failed for library due to user error for "
                f"{location}. Error messages: file not found"
            )
        return path

    def _install_wheel(self, location: str, site: Path) -> None:
        path = self._library_path(location)
        try:
            with zipfile.ZipFile(path) as wheel:
                wheel.extractall(site)
        except zipfile.BadZipFile:
            raise _LaunchError(
                f"Library installation failed for library due to user error for {location}. "
                "Error messages: not a wheel (zip) file"
            ) from None

    def _namespace_path(self, location: str) -> str:
        """The path a task sees: dbfs:/x -> /dbfs/x; /Volumes/... unchanged."""
        if location.startswith("dbfs:/"):
            return "/dbfs/" + self._dbfs_path(location)[0].lstrip("/")
        if location.startswith(("/Volumes/", "/dbfs/")):
            return posixpath.normpath(location)
        raise _LaunchError(
            f"{location} is neither on DBFS nor in a UC volume (the emulator has no workspace "
            "files or cloud storage paths)",
            "TERMINATED",
            "FAILED",
        )

    def _usage_tags(self, run: _Run) -> dict[str, str]:
        cluster = run.cluster
        destination = cluster.log_destination if cluster else None
        spec = cluster.spec if cluster else {}
        prefix = "spark.databricks.clusterUsageTags."
        tags = {
            "clusterId": cluster.cluster_id if cluster else f"serverless-{run.run_id}",
            "clusterName": spec.get("cluster_name", f"job-{run.job_id}-run-{run.run_id}"),
            "sparkVersion": spec.get("spark_version", "client.1"),
            "clusterNodeType": spec.get("node_type_id", "local"),
            "clusterWorkers": str(spec.get("num_workers", 0)),
            # Empty turns PipesDbfsMessageWriter's log forwarding off (it tests truthiness).
            "clusterLogDeliveryEnabled": "true" if destination else "",
            "clusterLogDestination": destination or "",
        }
        return {prefix + k: v for k, v in tags.items()}

    def _base_env(self, site: Path) -> dict[str, str]:
        """What a driver has: not this process' environment (no secrets of the caller)."""
        python = sys.executable
        pyspark_home = _pyspark_home()
        env = {
            "PATH": f"{Path(python).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "SPARK_HOME": str(pyspark_home),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": python,
            "PYSPARK_DRIVER_PYTHON": python,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(site),
        }
        if "JAVA_HOME" in os.environ:
            env["JAVA_HOME"] = os.environ["JAVA_HOME"]
        if self.s3 is not None:
            options = self.s3.options()
            env["AWS_ENDPOINT_URL"] = options.endpoint_url or ""
            env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = options.region
            env["AWS_ACCESS_KEY_ID"] = options.access_key_id or ""
            env["AWS_SECRET_ACCESS_KEY"] = options.secret_access_key or ""
        return env

    def _deliver_logs(self, run: _Run) -> None:
        """Copies the driver's stdout and stderr to ``<destination>/<cluster id>/driver/``."""
        cluster = run.cluster
        destination = cluster.log_destination if cluster else None
        if cluster is None or not destination:
            return
        target = self.local_path(f"{destination.rstrip('/')}/{cluster.cluster_id}/driver")
        target.mkdir(parents=True, exist_ok=True)
        for name in ("stdout", "stderr"):
            source = run.directory / "driver" / name
            if not source.exists():
                continue
            delivered = target / name
            if delivered.exists() and delivered.stat().st_size == source.stat().st_size:
                continue
            partial = target / f".{name}.delivering"
            shutil.copyfile(source, partial)
            os.replace(partial, delivered)

    # ----------------------------------------------------------------- DBFS

    def _dbfs_path(self, raw: Any) -> tuple[str, Path]:
        if not isinstance(raw, str) or not raw:
            raise _bad("Path must be a non-empty string.")
        path = raw[len("dbfs:") :] if raw.startswith("dbfs:") else raw
        if not path.startswith("/"):
            raise _bad(f"Path must be absolute: {raw}")
        normal = "/" + posixpath.normpath(path).lstrip("/")
        return normal, self.root / "dbfs" / normal.lstrip("/")

    def _info(self, display: str, host: Path) -> dict[str, Any]:
        is_dir = host.is_dir()
        return {
            "path": display,
            "is_dir": is_dir,
            "file_size": 0 if is_dir else host.stat().st_size,
            "modification_time": _mtime_ms(host),
        }

    def _dbfs_get_status(self, args: dict[str, Any]) -> dict[str, Any]:
        display, host = self._dbfs_path(args.get("path"))
        if not host.exists():
            raise _not_found(f"No file or directory exists on path dbfs:{display}.")
        return self._info(display, host)

    def _dbfs_list(self, args: dict[str, Any]) -> dict[str, Any]:
        display, host = self._dbfs_path(args.get("path"))
        if not host.exists():
            raise _not_found(f"No file or directory exists on path dbfs:{display}.")
        if host.is_file():
            return {"files": [self._info(display, host)]}
        # Paths without the dbfs: prefix, as Databricks answers (PipesDbfsLogReader adds it).
        files = [
            self._info(posixpath.join(display, child.name), child)
            for child in sorted(host.iterdir())
        ]
        return {"files": files} if files else {}

    def _dbfs_mkdirs(self, args: dict[str, Any]) -> dict[str, Any]:
        display, host = self._dbfs_path(args.get("path"))
        self._no_file_on_prefix(display, host)
        host.mkdir(parents=True, exist_ok=True)
        return {}

    def _no_file_on_prefix(self, display: str, host: Path) -> None:
        base = self.root / "dbfs"
        for parent in [host, *host.parents]:
            if parent == base or base not in parent.parents:
                break
            if parent.is_file():
                raise _ApiError(
                    400,
                    f"Cannot create directory dbfs:{display}: a file exists at a prefix.",
                    "RESOURCE_ALREADY_EXISTS",
                )

    def _writable(self, display: str, host: Path, overwrite: bool) -> None:
        if host.is_dir():
            raise _ApiError(
                400,
                f"A directory already exists at the input path dbfs:{display}.",
                "RESOURCE_ALREADY_EXISTS",
            )
        if host.exists() and not overwrite:
            raise _ApiError(
                400,
                f"A file or directory already exists at the input path dbfs:{display}.",
                "RESOURCE_ALREADY_EXISTS",
            )
        self._no_file_on_prefix(display, host.parent)

    def _dbfs_put(self, args: dict[str, Any]) -> dict[str, Any]:
        display, host = self._dbfs_path(args.get("path"))
        data = _b64(args.get("contents", ""))
        if len(data) > MAX_BLOCK:
            raise _ApiError(400, "Size exceeds the 1 MB limit of put.", "MAX_BLOCK_SIZE_EXCEEDED")
        self._writable(display, host, bool(args.get("overwrite", False)))
        _write_atomically(host, data)
        return {}

    def _dbfs_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        display, host = self._dbfs_path(args.get("path"))
        if display == "/":
            raise _bad("Cannot delete the root directory.")
        if host.is_dir():
            if any(host.iterdir()) and not args.get("recursive"):
                raise _ApiError(
                    400,
                    f"Directory dbfs:{display} is not empty and recursive is false.",
                    "IO_ERROR",
                )
            shutil.rmtree(host)
        elif host.exists():
            host.unlink()
        return {}  # deleting what does not exist succeeds, as on Databricks

    def _dbfs_read(self, args: dict[str, Any]) -> dict[str, Any]:
        display, host = self._dbfs_path(args.get("path"))
        try:
            offset = int(args.get("offset", 0))
            length = int(args.get("length", DEFAULT_READ))
        except (TypeError, ValueError):
            raise _bad("offset and length must be integers.") from None
        if offset < 0 or length < 0:
            raise _bad("offset and length must not be negative.")
        if length > MAX_BLOCK:
            raise _ApiError(400, "Read length exceeds the 1 MB limit.", "MAX_READ_SIZE_EXCEEDED")
        if host.is_dir():
            raise _bad(f"Cannot read a directory: dbfs:{display}.")
        if not host.exists() or self._missing_read(host):
            raise _not_found(f"No file or directory exists on path dbfs:{display}.")
        with host.open("rb") as f:
            f.seek(offset)
            data = f.read(length)
        return {"bytes_read": len(data), "data": base64.b64encode(data).decode("ascii")}

    def _missing_read(self, host: Path) -> bool:
        with self._lock:
            if self.faults.missing_reads > 0 and MESSAGE_CHUNK.match(host.name):
                self.faults.missing_reads -= 1
                return True
        return False

    def _dbfs_create(self, args: dict[str, Any]) -> dict[str, Any]:
        display, host = self._dbfs_path(args.get("path"))
        self._writable(display, host, bool(args.get("overwrite", False)))
        _write_atomically(host, b"")
        with self._lock:
            handle = next(self._ids)
            self._handles[handle] = (host, bytearray())
        return {"handle": handle}

    def _handle_of(self, args: dict[str, Any]) -> tuple[Path, bytearray]:
        with self._lock:
            found = self._handles.get(args.get("handle"))  # type: ignore[arg-type]
        if found is None:
            raise _not_found(f"Handle {args.get('handle')} does not exist.")
        return found

    def _dbfs_add_block(self, args: dict[str, Any]) -> dict[str, Any]:
        _, buffer = self._handle_of(args)
        data = _b64(args.get("data", ""))
        if len(data) > MAX_BLOCK:
            raise _ApiError(400, "Block exceeds the 1 MB limit.", "MAX_BLOCK_SIZE_EXCEEDED")
        buffer.extend(data)
        return {}

    def _dbfs_close(self, args: dict[str, Any]) -> dict[str, Any]:
        host, buffer = self._handle_of(args)
        with self._lock:
            self._handles.pop(args["handle"], None)
        _write_atomically(host, bytes(buffer))
        return {}

    def _dbfs_move(self, args: dict[str, Any]) -> dict[str, Any]:
        source_display, source = self._dbfs_path(args.get("source_path"))
        target_display, target = self._dbfs_path(args.get("destination_path"))
        if not source.exists():
            raise _not_found(f"No file or directory exists on path dbfs:{source_display}.")
        if target.exists():
            raise _ApiError(
                400,
                f"A file or directory already exists at the input path dbfs:{target_display}.",
                "RESOURCE_ALREADY_EXISTS",
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        return {}

    # ----------------------------------------------------------------- Files API (volumes)

    def _volume_path(self, raw: str, *, must_exist: bool = True) -> tuple[str, Path]:
        normal = posixpath.normpath(raw)
        parts = normal.strip("/").split("/")
        if parts[0] != "Volumes" or len(parts) < 4:
            raise _bad(f"Path {raw} is not in a Unity Catalog volume (/Volumes/c/s/v/...).")
        volume = self.root / "volumes" / parts[1] / parts[2] / parts[3]
        if must_exist and not volume.is_dir():
            raise _ApiError(
                404, f"Volume '{parts[1]}.{parts[2]}.{parts[3]}' does not exist.", "NOT_FOUND"
            )
        return normal, self.root / "volumes" / Path(*parts[1:])

    def _files(
        self, method: str, raw: str, query: dict[str, str], data: bytes, h: _Handler
    ) -> tuple[int, Any, dict[str, str]]:
        display, host = self._volume_path(raw)
        if method == "PUT":
            overwrite = query.get("overwrite", "true").lower() != "false"
            if host.is_dir():
                raise _ApiError(409, f"{display} is a directory.", "ALREADY_EXISTS")
            if host.exists() and not overwrite:
                raise _ApiError(409, f"The file {display} already exists.", "ALREADY_EXISTS")
            for parent in host.parents:
                if parent.is_file():
                    raise _ApiError(409, f"{parent} is a file.", "ALREADY_EXISTS")
                if parent == self.root / "volumes":
                    break
            _write_atomically(host, data)
            return 204, None, {}
        if method in ("GET", "HEAD"):
            if not host.is_file() or (method == "GET" and self._missing_read(host)):
                raise _ApiError(404, "The file being accessed is not found.", "NOT_FOUND")
            content = host.read_bytes()
            headers = {
                "Content-Type": "application/octet-stream",
                "Last-Modified": formatdate(host.stat().st_mtime, usegmt=True),
            }
            status = 200
            if (span := re.fullmatch(r"bytes=(\d+)-(\d*)", h.headers.get("Range", ""))) is not None:
                start = int(span.group(1))
                end = int(span.group(2)) if span.group(2) else len(content) - 1
                headers["Content-Range"] = f"bytes {start}-{end}/{len(content)}"
                content, status = content[start : end + 1], 206
            if method == "HEAD":
                headers["Content-Length"] = str(len(content))
                return status, None, headers
            return status, content, headers
        if method == "DELETE":
            if not host.is_file():
                raise _ApiError(404, "The file being accessed is not found.", "NOT_FOUND")
            host.unlink()
            return 204, None, {}
        raise _ApiError(405, f"Method {method} is not allowed on files.", "BAD_REQUEST")

    def _directories(
        self, method: str, raw: str, query: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        display, host = self._volume_path(raw)
        if method == "PUT":
            for parent in [host, *host.parents]:
                if parent.is_file():
                    raise _ApiError(409, f"{parent} is a file.", "ALREADY_EXISTS")
                if parent == self.root / "volumes":
                    break
            host.mkdir(parents=True, exist_ok=True)
            return 204, None, {}
        if not host.is_dir():
            raise _ApiError(404, f"The directory {display} is not found.", "NOT_FOUND")
        if method == "HEAD":
            return 200, None, {}
        if method == "GET":
            children = sorted(host.iterdir())
            start = int(query.get("page_token") or 0)
            size = min(int(query.get("page_size") or 1000), 1000)
            page = children[start : start + size]
            contents = []
            for child in page:
                entry: dict[str, Any] = {
                    "path": posixpath.join(display, child.name) + ("/" if child.is_dir() else ""),
                    "is_directory": child.is_dir(),
                    "name": child.name,
                }
                if child.is_file():
                    entry["file_size"] = child.stat().st_size
                    entry["last_modified"] = _mtime_ms(child)
                contents.append(entry)
            answer: dict[str, Any] = {"contents": contents} if contents else {}
            if start + size < len(children):
                answer["next_page_token"] = str(start + size)
            return 200, answer, {}
        if method == "DELETE":
            if any(host.iterdir()):
                raise _ApiError(
                    409, f"The directory {display} is not empty.", "DIRECTORY_NOT_EMPTY"
                )
            host.rmdir()
            return 204, None, {}
        raise _ApiError(405, f"Method {method} is not allowed on directories.", "BAD_REQUEST")


# ----------------------------------------------------------------- module helpers


def _pyspark_home() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise _LaunchError("pyspark is not installed in the emulator's Python")
    return Path(spec.submodule_search_locations[0])


def _b64(text: Any) -> bytes:
    try:
        return base64.b64decode(text or "", validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise _bad("The data is not valid base64.") from None


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def _read_body(h: _Handler) -> bytes:
    if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(h.rfile.read(size))
            h.rfile.readline()
    length = int(h.headers.get("Content-Length") or 0)
    return h.rfile.read(length) if length else b""


def _respond(h: _Handler, status: int, payload: Any, headers: dict[str, str]) -> None:
    if isinstance(payload, (dict, list)):
        data, kind = json.dumps(payload).encode(), "application/json"
    elif isinstance(payload, bytes):
        data, kind = payload, headers.get("Content-Type", "application/octet-stream")
    else:
        data, kind = b"", headers.get("Content-Type")
    try:
        h.send_response(status)
        for key, value in headers.items():
            if key.lower() not in ("content-type", "content-length"):
                h.send_header(key, value)
        if kind:
            h.send_header("Content-Type", kind)
        if h.command == "HEAD":
            h.send_header("Content-Length", headers.get("Content-Length", "0"))
        else:
            h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD" and data:
            h.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def _python_error(stderr: str) -> tuple[str | None, str | None]:
    """The last Python traceback in a driver's stderr: (its last line, the traceback)."""
    start = stderr.rfind("Traceback (most recent call last):")
    if start < 0:  # no traceback (sys.exit("message"), a signal): its last line, if any
        last = [line for line in stderr.splitlines() if line.strip()][-1:]
        return (last[0] if last else None), None
    lines = stderr[start:].splitlines()
    trace: list[str] = [lines[0]]
    for line in lines[1:]:
        trace.append(line)
        continued = line.startswith((" ", "\t", "Traceback", "During handling", "The above"))
        if line and not continued:
            break
    return trace[-1], "\n".join(trace)


def _signal_tree(pid: int, sig: int, known: list[int]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)  # the task's process group (start_new_session)
    for child in {*known, *descendants(pid)}:  # and whoever left it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child, sig)


def _kill_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the task's process group and descendants, SIGKILL after a grace period."""
    known = descendants(process.pid)
    _signal_tree(process.pid, signal.SIGTERM, known)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=KILL_GRACE_S)
    _signal_tree(process.pid, signal.SIGKILL, known)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=KILL_GRACE_S)


def main(argv: list[str] | None = None) -> int:
    """A standalone workspace (for `make sandbox` and by hand): prints how to reach it."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--root", type=Path, default=PROJECT_ROOT / ".sandbox" / "databricks")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--spark-lock", default=None, help="flock this file around each task")
    args = parser.parse_args(argv)
    emulator = LocalDatabricks(root=args.root, port=args.port, spark_lock=args.spark_lock)
    emulator.start()
    for key, value in emulator.environment().items():
        print(f"{key}={value}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        return 130
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
