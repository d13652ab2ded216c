"""scripts/check-java.sh stops at once, naming what to install, when Java 17+ is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "check-java.sh"


def _fake_java(bin_dir: Path, version_line: str) -> None:
    java = bin_dir / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)


def _run(path_dirs: list[Path]) -> subprocess.CompletedProcess[str]:
    tools = Path(shutil.which("sed") or "/usr/bin/sed").parent
    env = {
        "PATH": os.pathsep.join([*map(str, path_dirs), str(tools)]),
        "HOME": os.environ.get("HOME", "/"),
    }
    # Hide any real java in the tools directory by shadowing it first on PATH.
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize(
    ("version_line", "ok"),
    [
        ('openjdk version "17.0.15" 2025-04-15', True),
        ('openjdk version "21.0.2" 2024-01-16', True),
        ('openjdk version "11.0.22" 2024-01-16', False),
        ('java version "1.8.0_391"', False),
    ],
)
def test_java_version_is_checked(tmp_path: Path, version_line: str, ok: bool) -> None:
    _fake_java(tmp_path, version_line)
    result = _run([tmp_path])
    assert (result.returncode == 0) is ok, result.stderr
    if not ok:
        assert "Java 17 or newer" in result.stderr
        assert "openjdk" in result.stderr


def test_missing_java_names_what_to_install(tmp_path: Path) -> None:
    # A PATH with bash's helpers but no java: build one from symlinks.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sed", "head", "cut", "bash"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    result = subprocess.run(
        [str(bin_dir / "bash"), str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert "no 'java' was found" in result.stderr
    assert "conda-forge" in result.stderr
