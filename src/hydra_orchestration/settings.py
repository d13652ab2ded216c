"""Settings resolved once, where Definitions are built: engine, execution mode, locations.

This is the only module that reads the environment. Everything below it receives a frozen
``Settings`` object. Unknown values, impossible combinations and missing credentials are
errors here, before anything is launched or paid for. Secrets are not part of the settings:
only their presence is checked here; their values are read at launch, by the functions at
the end of this module, and handed to the engine that needs them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hydra_orchestration.config import (
    EXECUTION_MODES,
    ConfigError,
    DuckDBConfig,
    ProjectConfig,
    S3Config,
    parse_config,
)
from hydra_orchestration.platforms import (
    AWS_CREDENTIALS,
    DATABRICKS_CREDENTIALS,
    PLATFORMS,
    platform,
)
from hydra_transforms.engines import SPARK_CONNECT_TOKEN_ENV, SPARK_REMOTE_ENV
from hydra_transforms.stores import S3Options, is_remote

__all__ = [
    "ENGINES",
    "EXECUTION_MODES",
    "Settings",
    "SettingsError",
    "aws_environment",
    "check_engine",
    "check_engine_override",
    "child_environment",
    "dagster_home_from_environment",
    "databricks_credentials",
    "environment_with",
    "load_settings",
    "resolve_dagster_home",
    "s3_with_credentials",
    "settings_from_environment",
    "spark_connect_token",
]

ENGINES = tuple(PLATFORMS)
DEFAULT_ENGINE, DEFAULT_MODE = "pyspark", "small_dev_sample_local"
DEFAULT_DAGSTER_HOME_DIRNAME = ".dagster_home"
LOCAL_MODES = frozenset({"small_dev_sample_local"})


class SettingsError(ValueError):
    """A configuration value is unknown, impossible, or incomplete."""


@dataclass(frozen=True)
class Settings:
    """What Definitions are built from; frozen so that no run can change it for another."""

    engine: str
    mode: str
    dagster_home: Path
    sources: Mapping[str, str]
    warehouse: str
    partitions: tuple[str, ...]
    spark_conf: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    duckdb: Mapping[str, Any] = field(default_factory=dict)
    config_path: str = "<packaged default>"
    s3: S3Options = field(default_factory=S3Options)  # endpoint and region; no credentials
    spark_jars: tuple[str, ...] = ()  # for the local Spark session (S3A)
    config: ProjectConfig = field(default_factory=ProjectConfig)  # the checked file, whole
    s3_root: str | None = None  # what {s3} stands for: s3://<bucket>/<prefix>
    spark_remote: str | None = None  # the spark-connect engine's server (no token)

    def output_location(self, dataset: str) -> str:
        return f"{self.warehouse.rstrip('/')}/{dataset}"

    def spark_conf_for(self, engine: str) -> dict[str, str]:
        """The platform's default Spark settings, overridden by the config's [spark.<engine>]."""
        return {**platform(engine).spark_conf, **self.spark_conf.get(engine, {})}

    def s3_location(self, location: str) -> str:
        """An S3 location of the config (``{s3}/staging``) with ``{s3}`` resolved."""
        if "{s3}" not in location:
            return location
        if self.s3_root is None:
            raise SettingsError(f"location {location!r} needs an [s3] bucket")
        return location.replace("{s3}", self.s3_root)

    @property
    def uses_s3(self) -> bool:
        """Whether any location of this mode is on S3."""
        return any(is_remote(loc) for loc in (self.warehouse, *self.sources.values()))


def load_settings(
    environ: Mapping[str, str],
    *,
    cwd: Path,
    config_path: Path | None = None,
    require_credentials: bool = True,
) -> Settings:
    """Resolve and check the settings from the environment and the project config file.
    ``require_credentials=False`` is for what launches nothing (``hydra plan``): the
    engine's credentials need not be set there."""
    engine = _choice(environ, "SPARK_PIPES_ENGINE", ENGINES, DEFAULT_ENGINE)
    mode = _choice(environ, "SPARK_EXECUTION_MODE", EXECUTION_MODES, DEFAULT_MODE)
    path = config_path or _path_or_none(environ.get("HYDRA_CONFIG"))
    config, root, label = _read_config(path, cwd=cwd)
    check_engine(engine, mode=mode, environ=environ, config=config, credentials=require_credentials)
    mode_config = getattr(config.modes, mode)
    if mode_config is None:
        present = [name for name in EXECUTION_MODES if getattr(config.modes, name) is not None]
        raise SettingsError(f"{label} has no [modes.{mode}] section (it has {present})")
    s3_root = _s3_root(config.s3, mode=mode, label=label)
    locate = _locator(root=root, s3_root=s3_root)
    return Settings(
        engine=engine,
        mode=mode,
        dagster_home=resolve_dagster_home(environ, cwd=cwd),
        sources=MappingProxyType({name: locate(loc) for name, loc in mode_config.sources.items()}),
        warehouse=locate(mode_config.warehouse),
        partitions=tuple(config.partitions.crawl_id),
        spark_conf=MappingProxyType(
            {
                name: MappingProxyType(dict(conf))
                for name, conf in config.spark.model_dump(by_alias=True).items()
            }
        ),
        duckdb=MappingProxyType(_duckdb_options(config.duckdb, root=root)),
        config_path=label,
        s3=S3Options(
            endpoint_url=config.s3.endpoint_url,
            region=config.s3.region,
            path_style=config.s3.path_style,
        ),
        spark_jars=_jars(root / config.pyspark.jars),
        config=config,
        s3_root=s3_root,
        spark_remote=_spark_remote(environ, config),
    )


def settings_from_environment(*, require_credentials: bool = True, **overrides: str) -> Settings:
    """The settings of this process: its environment (with ``overrides``, e.g.
    ``SPARK_EXECUTION_MODE="full"``), its working directory."""
    return load_settings(
        {**os.environ, **overrides}, cwd=Path.cwd(), require_credentials=require_credentials
    )


def dagster_home_from_environment() -> Path:
    """DAGSTER_HOME of this process, or the project default (for `make start`)."""
    return resolve_dagster_home(os.environ, cwd=Path.cwd())


def environment_with(**overrides: str) -> dict[str, str]:
    """This process' environment with some variables set (for a child process)."""
    return {**os.environ, **overrides}


# What a local step process needs of this one's environment: where programs, Java, Spark and
# the Python environment are, locale and temporary directories. Nothing else passes — in
# particular no credential meant for another engine (ASCII_AWS_*, DATABRICKS_*).
CHILD_ENVIRONMENT = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "JAVA_HOME",
    "SPARK_HOME",
    "SPARK_CONF_DIR",
    "SPARK_LOCAL_IP",
    "SPARK_LOCAL_DIRS",
    "HADOOP_CONF_DIR",
    "PYSPARK_PYTHON",
    "PYSPARK_DRIVER_PYTHON",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "PYTHONPATH",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
)


def s3_with_credentials(settings: Settings) -> S3Options:
    """The settings' S3 options with the credentials of this process' environment, read now
    (at launch), for the engine that reads and writes S3. Never logged or stored."""
    key = os.environ.get(AWS_CREDENTIALS[0], "").strip()
    secret = os.environ.get(AWS_CREDENTIALS[1], "").strip()
    return settings.s3.with_credentials(key, secret) if key and secret else settings.s3


def aws_environment() -> dict[str, str]:
    """The project's AWS credentials under the names the AWS SDKs read (for a step process
    that reads or writes S3), read now (at launch)."""
    key = os.environ.get(AWS_CREDENTIALS[0], "").strip()
    secret = os.environ.get(AWS_CREDENTIALS[1], "").strip()
    return {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret} if key and secret else {}


def spark_connect_token() -> str | None:
    """The Spark Connect server's bearer token (SPARK_CONNECT_TOKEN), read now (at launch);
    None when the server needs none. Handed to gRPC only, never logged or stored."""
    return os.environ.get(SPARK_CONNECT_TOKEN_ENV, "").strip() or None


def databricks_credentials() -> dict[str, str]:
    """The workspace and service principal (OAuth machine-to-machine) of this process'
    environment, read now (at launch): ``host``, ``client_id``, ``client_secret`` as the
    Databricks SDK's ``Config`` takes them. Never logged or stored."""
    host, client_id, secret = (os.environ.get(name, "").strip() for name in DATABRICKS_CREDENTIALS)
    missing = [
        name
        for name, value in zip(DATABRICKS_CREDENTIALS, (host, client_id, secret), strict=True)
        if not value
    ]
    if missing:
        raise SettingsError(f"Databricks credentials are not set: {', '.join(missing)}")
    return {"host": host, "client_id": client_id, "client_secret": secret}


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of a step process started on this machine: the variables it needs
    from this one (:data:`CHILD_ENVIRONMENT`) and ``extra`` (Pipes' bootstrap variables)."""
    return {
        **{name: os.environ[name] for name in CHILD_ENVIRONMENT if name in os.environ},
        **extra,
    }


def check_engine_override(engine: str, settings: Settings) -> None:
    """Check an engine chosen per run (run config) exactly like SPARK_PIPES_ENGINE."""
    # The server the settings resolved (SPARK_REMOTE or the config's) counts as given.
    resolved = {SPARK_REMOTE_ENV: settings.spark_remote} if settings.spark_remote else {}
    environ = {**os.environ, **resolved}
    check_engine(engine, mode=settings.mode, environ=environ, config=settings.config)


def check_engine(
    engine: str,
    *,
    mode: str,
    environ: Mapping[str, str],
    config: ProjectConfig,
    credentials: bool = True,
) -> None:
    """Raise SettingsError if ``engine`` cannot run in ``mode`` with these credentials (unless
    ``credentials`` is False) and this config."""
    try:
        declared = platform(engine)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    if declared.remote and mode in LOCAL_MODES:
        raise SettingsError(
            f"engine {engine!r} cannot run in execution mode {mode!r}: its files live on this "
            f"machine. Use small_dev_sample_s3 or full with {engine}, or a local engine "
            f"({', '.join(p.name for p in PLATFORMS.values() if not p.remote)}) with {mode}."
        )
    needed = list(declared.credentials)
    if mode not in LOCAL_MODES:  # the data is on S3, whichever engine reads it
        needed += [name for name in AWS_CREDENTIALS if name not in needed]
    missing = [name for name in needed if not environ.get(name, "").strip()]
    if missing and credentials:
        raise SettingsError(
            f"engine {engine!r} in mode {mode!r} needs credentials that are not set: "
            f"{', '.join(missing)}"
        )
    given = declared.config_from_environment
    unset = [
        key
        for key in declared.config_required
        if not _config_value(config, key) and not environ.get(given.get(key, ""), "").strip()
    ]
    if unset:
        raise SettingsError(
            f"engine {engine!r} needs these keys of the project config, which are not set: "
            + ", ".join(f"{key} (or {given[key]})" if key in given else key for key in unset)
        )


def _spark_remote(environ: Mapping[str, str], config: ProjectConfig) -> str | None:
    """The Spark Connect server: SPARK_REMOTE (pyspark's own variable) or the config's."""
    remote = environ.get(SPARK_REMOTE_ENV, "").strip() or config.spark_connect.remote
    if remote and not remote.startswith("sc://"):  # not echoed: it may hold a token
        raise SettingsError(f"{SPARK_REMOTE_ENV} is not a Spark Connect URL (sc://host:port)")
    return remote or None


def _config_value(config: ProjectConfig, dotted: str) -> Any:
    value: Any = config.model_dump(by_alias=True)
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def resolve_dagster_home(environ: Mapping[str, str], *, cwd: Path) -> Path:
    """DAGSTER_HOME if set, else a directory inside the project (the working directory)."""
    value = environ.get("DAGSTER_HOME", "").strip()
    return Path(value).expanduser().resolve() if value else cwd / DEFAULT_DAGSTER_HOME_DIRNAME


def _choice(environ: Mapping[str, str], name: str, valid: tuple[str, ...], default: str) -> str:
    value = environ.get(name, "").strip() or default
    if value not in valid:
        raise SettingsError(f"{name}={value!r} is not valid; valid values: {', '.join(valid)}")
    return value


def _path_or_none(value: str | None) -> Path | None:
    return Path(value).expanduser() if value and value.strip() else None


def _read_config(path: Path | None, *, cwd: Path) -> tuple[ProjectConfig, Path, str]:
    """The checked config, the directory its relative paths start from, and its name."""
    if path is None:
        text = resources.files("hydra_orchestration").joinpath("hydra.toml").read_text("utf-8")
        return _parsed(text, "the packaged hydra.toml"), cwd, "the packaged hydra.toml"
    if not path.is_file():
        raise SettingsError(f"HYDRA_CONFIG points to {path}, which is not a file")
    return _parsed(path.read_text("utf-8"), str(path)), path.parent.resolve(), str(path)


def _parsed(text: str, label: str) -> ProjectConfig:
    try:
        return parse_config(text, source=label)
    except ConfigError as exc:
        raise SettingsError(str(exc)) from None


def _jars(directory: Path) -> tuple[str, ...]:
    """The jars in ``directory`` (none yet before `make jars` ran: S3 then fails, saying so)."""
    return tuple(sorted(str(jar) for jar in directory.glob("*.jar"))) if directory.is_dir() else ()


def _duckdb_options(config: DuckDBConfig, *, root: Path) -> dict[str, Any]:
    """DuckDB settings for every connection the DuckDB engine opens."""
    temp = Path(config.temp_directory).expanduser() if config.temp_directory else None
    options: dict[str, Any] = {
        "temp_directory": str(
            (root / temp).resolve() if temp else Path(tempfile.gettempdir()) / "hydra-duckdb"
        ),
        "preserve_insertion_order": config.preserve_insertion_order,
    }
    if config.memory_limit:
        options["memory_limit"] = config.memory_limit
    if config.threads:
        options["threads"] = config.threads
    return options


def _s3_root(s3: S3Config, *, mode: str, label: str) -> str | None:
    bucket = (s3.bucket or "").strip()
    if not bucket:
        if mode not in LOCAL_MODES:
            raise SettingsError(
                f"execution mode {mode!r} reads from S3, but {label} sets no [s3] bucket; "
                "set one in a config file and point HYDRA_CONFIG to it"
            )
        return None
    prefix = s3.prefix.strip("/")
    return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"


def _locator(*, root: Path, s3_root: str | None):
    def locate(location: str) -> str:
        if "{s3}" in location:
            if s3_root is None:
                raise SettingsError(f"location {location!r} needs an [s3] bucket")
            return location.replace("{s3}", s3_root)
        if "://" in location:
            return location
        path = Path(location).expanduser()
        return str(path if path.is_absolute() else (root / path).resolve())

    return locate
