"""`hydra upload-sample`: put the committed sample where `small_dev_sample_s3` reads it.

Each source of the example is copied from where `small_dev_sample_local` reads it (the
repository's data/sample) to where `small_dev_sample_s3` reads it (the project config's
bucket), with the store's endpoint from the config and the credentials from
ASCII_AWS_ACCESS_KEY_ID / ASCII_AWS_SECRET_ACCESS_KEY. Registered as a `hydra` command
through the `hydra_transforms.commands` entry point, so the library's command line gains it
without importing orchestration.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hydra_orchestration.settings import (
    SettingsError,
    s3_with_credentials,
    settings_from_environment,
)
from hydra_transforms.stores import upload

__all__ = ["command", "upload_sample"]

SOURCE_MODE, TARGET_MODE = "small_dev_sample_local", "small_dev_sample_s3"


def upload_sample() -> list[tuple[str, str]]:
    """Copy every source of the local sample mode to its place in the S3 sample mode."""
    local = settings_from_environment(SPARK_EXECUTION_MODE=SOURCE_MODE, SPARK_PIPES_ENGINE="duckdb")
    remote = settings_from_environment(
        SPARK_EXECUTION_MODE=TARGET_MODE, SPARK_PIPES_ENGINE="duckdb"
    )
    missing = sorted(set(remote.sources) - set(local.sources))
    if missing:
        raise SettingsError(
            f"{remote.config_path}: [modes.{TARGET_MODE}.sources] names {', '.join(missing)}, "
            f"which [modes.{SOURCE_MODE}.sources] has no location for"
        )
    s3 = s3_with_credentials(remote)
    copied = []
    for name, target in sorted(remote.sources.items()):
        upload(Path(local.sources[name]), target, s3)
        copied.append((local.sources[name], target))
    return copied


def command(parser: argparse.ArgumentParser) -> None:
    """The `hydra upload-sample` subcommand (see hydra_transforms.cli)."""
    parser.description = "Copy the sample data to where small_dev_sample_s3 reads it."
    parser.set_defaults(command=_run, needs_registry=False)


def _run(registry: object, args: argparse.Namespace) -> int:
    for source, target in upload_sample():
        print(f"{source} -> {target}")
    return 0
