"""What the AWS launchers (``emr``, ``emr-serverless``) share: clients, the Pipes S3
transport, waiting for a remote state, and the step's logs.

Clients come from a :data:`ClientFactory`: by default boto3 clients with the project's
credentials (ASCII_AWS_*) read when the launch makes them, and the region and endpoints of
the project config. Tests and the sandbox pass a factory of their own; the launchers do not
know the difference.
"""

from __future__ import annotations

import contextlib
import gzip
import sys
import time
import uuid
from abc import abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import dagster as dg
from dagster_aws.pipes import PipesS3ContextInjector, PipesS3MessageReader
from dagster_pipes import PipesBlobStoreMessageWriter

from hydra_orchestration.launchers.base import PipesLauncher, StepFailed, single_writer
from hydra_orchestration.remote.step import StepRequest
from hydra_orchestration.settings import Settings, aws_environment, s3_with_credentials
from hydra_transforms.stores import S3Options, S3Store, s3_client

__all__ = [
    "ClientFactory",
    "S3Location",
    "StepLogs",
    "aws_clients",
    "pipes_s3_transport",
    "poll",
    "tail",
]

# service name ("s3", "emr", "emr-serverless", "logs") -> a boto3 client
ClientFactory = Callable[[str], Any]


def aws_clients(settings: Settings) -> ClientFactory:
    """boto3 clients with the project's credentials, read now, and the config's region and
    endpoints (``[aws]``; S3's from ``[s3]``)."""

    def make(service: str) -> Any:
        if service == "s3":
            return s3_client(s3_with_credentials(settings))
        import boto3

        aws = settings.config.aws
        credentials = aws_environment()
        from botocore.config import Config

        return boto3.client(
            service,  # type: ignore[call-overload]
            region_name=aws.region or settings.s3.region,
            endpoint_url=aws.endpoint_urls.get(service),
            aws_access_key_id=credentials.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=credentials.get("AWS_SECRET_ACCESS_KEY"),
            config=Config(retries={"mode": "standard", "max_attempts": aws.max_attempts}),
        )

    return make


class AwsPipesLauncher(PipesLauncher):
    """What the AWS launchers share: boto3 clients from the settings (or given: tests and the
    sandbox point them at local endpoints), the staging prefix, Pipes over S3."""

    def __init__(self, settings: Settings, clients: ClientFactory | None = None) -> None:
        self.settings = settings
        self.clients = clients or aws_clients(settings)

    @property
    @abstractmethod
    def interval_s(self) -> float:
        """How often the launch asks for the compute's state and reads Pipes messages."""

    @property
    def staging(self) -> str:
        return self.settings.s3_location(self.settings.config.aws.staging)

    def transport(
        self, request: StepRequest
    ) -> tuple[dg.PipesContextInjector, dg.PipesMessageReader]:
        return pipes_s3_transport(
            self.staging, request.run_id, client=self.clients("s3"), interval=self.interval_s
        )


@contextlib.contextmanager
def cleanup(context: Any, what: str) -> Iterator[None]:
    """Around a launch's clean-up (ending compute, removing Pipes files), which runs in a
    ``finally``: its own error is logged instead of replacing the launch's outcome or error
    (the sweeper and the platform's time limits are the backstop)."""
    try:
        yield
    except Exception as exc:
        context.log.error(f"{what} failed: {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str  # without a trailing slash

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        scheme, sep, rest = uri.partition("://")
        # s3n:// is how EMR's DescribeCluster reports a LogUri
        if not sep or scheme not in ("s3", "s3a", "s3n") or not rest.split("/")[0]:
            raise ValueError(f"{uri!r}: expected s3://bucket/prefix")
        bucket, _, key = rest.partition("/")
        return cls(bucket, key.strip("/"))

    def join(self, *parts: str) -> S3Location:
        return S3Location(self.bucket, "/".join(p.strip("/") for p in (self.key, *parts) if p))

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.key else f"s3://{self.bucket}"


class _StagedS3MessageReader(PipesS3MessageReader):
    """Pipes' S3 message reader, with its messages under a prefix of ours, removed after the
    launch. dagster-aws 0.29.27's writes them under a random name at the bucket's root and
    never removes them: every launch would leave objects in the data bucket."""

    def __init__(self, *, prefix: S3Location, client: Any, interval: float) -> None:
        super().__init__(bucket=prefix.bucket, client=client, interval=interval)
        self.prefix = prefix

    @contextlib.contextmanager
    def get_params(self) -> Iterator[dict[str, Any]]:
        key_prefix = self.prefix.join(uuid.uuid4().hex).key
        try:
            yield {
                "bucket": self.bucket,
                "key_prefix": key_prefix,
                PipesBlobStoreMessageWriter.INCLUDE_STDIO_IN_MESSAGES_KEY: False,
            }
        finally:  # the reader's threads have read everything by now
            try:
                S3Store(self.bucket, key_prefix, S3Options(), client=self.client).delete("")
            except Exception as exc:  # never at the cost of the outcomes already read
                dg.get_dagster_logger().error(
                    f"removing the Pipes messages under s3://{self.bucket}/{key_prefix} "
                    f"failed: {type(exc).__name__}: {exc}"
                )


def pipes_s3_transport(
    staging: str, run_id: str, *, client: Any, interval: float
) -> tuple[dg.PipesContextInjector, dg.PipesMessageReader]:
    """The Pipes context injector and message reader of one launch, both under
    ``<staging>/pipes/<run id>/`` (fresh ones per launch: the reader counts chunks)."""
    prefix = S3Location.parse(staging).join("pipes", run_id or "no-run")
    injector = PipesS3ContextInjector(
        bucket=prefix.bucket, client=client, key_prefix=f"{prefix.key}/"
    )
    reader = single_writer(_StagedS3MessageReader)(prefix=prefix, client=client, interval=interval)
    return injector, reader


def poll(
    check: Callable[[], str | None],
    *,
    interval_s: float,
    timeout_s: float,
    what: str,
    setting: str,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Call ``check`` every ``interval_s`` until it returns a final state, which is returned.

    No attempt limit (botocore's waiters give up after 60 attempts, 30 minutes for EMR's);
    after ``timeout_s`` it raises :class:`StepFailed` naming ``what``, the limit and the
    ``setting`` that raises it.
    """
    deadline = clock() + timeout_s
    while True:
        final = check()
        if final is not None:
            return final
        if clock() >= deadline:
            raise StepFailed(
                f"{what} did not finish within {timeout_s:g} s (raise {setting} to wait longer)"
            )
        time.sleep(max(0.0, min(interval_s, deadline - clock())))


@dataclass(frozen=True)
class StepLogs:
    """A finished step's stdout and stderr on S3 (gzipped, as EMR writes them)."""

    stdout: S3Location
    stderr: S3Location

    def forward(
        self, client: Any, *, wait_s: float, interval_s: float, log: Callable[[str], None]
    ) -> str:
        """Copy both logs to this process' stdout and stderr (Dagster keeps them with the
        step), waiting up to ``wait_s`` for them to appear; returns stderr's text ("" if it
        never came)."""
        texts = {}
        deadline = time.monotonic() + wait_s
        for name, location, stream in (
            ("stdout", self.stdout, sys.stdout),
            ("stderr", self.stderr, sys.stderr),
        ):
            text = _read_when_there(client, location, deadline=deadline, interval_s=interval_s)
            if text is None:
                log(f"the step's {name} is not at {location.uri} (yet); it may come later")
                texts[name] = ""
                continue
            texts[name] = text
            _write(stream, text)
        return texts["stderr"]


def tail(text: str, lines: int = 20) -> str:
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join(f"    {line}" for line in kept)


def _read_when_there(
    client: Any, location: S3Location, *, deadline: float, interval_s: float
) -> str | None:
    while True:
        try:
            body = client.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
        except client.exceptions.NoSuchKey:
            if time.monotonic() >= deadline:
                return None
            time.sleep(min(interval_s, max(0.0, deadline - time.monotonic())))
            continue
        try:
            return gzip.decompress(body).decode("utf-8", errors="replace")
        except gzip.BadGzipFile:
            return body.decode("utf-8", errors="replace")


def _write(stream: IO[str], text: str) -> None:
    stream.write(text if text.endswith("\n") or not text else text + "\n")
    stream.flush()
