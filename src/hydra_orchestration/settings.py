"""Settings resolved once from the environment, where Definitions are built."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

DEFAULT_DAGSTER_HOME_DIRNAME = ".dagster_home"


def resolve_dagster_home(environ: Mapping[str, str], *, cwd: Path) -> Path:
    """DAGSTER_HOME if set, else a directory inside the project (the working directory)."""
    value = environ.get("DAGSTER_HOME", "").strip()
    return Path(value).expanduser().resolve() if value else cwd / DEFAULT_DAGSTER_HOME_DIRNAME
