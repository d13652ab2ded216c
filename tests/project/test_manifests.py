"""The project's manifests: pixi.toml is valid and agrees with pyproject.toml."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import PROJECT_ROOT

# Vendored with its source and licence (vendor/pixi/README.md): the test needs nothing
# outside the repository.
SCHEMA_PATH = Path(__file__).parent / "vendor" / "pixi" / "schema.json"


def _load_toml(name: str) -> dict:
    with (PROJECT_ROOT / name).open("rb") as fh:
        return tomllib.load(fh)


def _names(requirements: list) -> set[str]:
    return {
        re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower()
        for r in requirements
        if isinstance(r, str)
    }


def _schema_errors(manifest: dict) -> list[str]:
    schema = json.loads(SCHEMA_PATH.read_text())
    return [
        f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(manifest)
    ]


def test_pixi_manifest_validates_against_the_pixi_schema() -> None:
    assert _schema_errors(_load_toml("pixi.toml")) == []


def test_the_schema_check_rejects_a_broken_manifest() -> None:
    manifest = _load_toml("pixi.toml")
    manifest["tasks"]["start"] = {"cmd": "x", "desciption": "typo"}
    manifest["workspace"]["channels"] = "conda-forge"
    errors = _schema_errors(manifest)
    assert any(e.startswith("tasks/start") for e in errors), errors
    assert any(e.startswith("workspace/channels") for e in errors), errors


def test_pixi_provides_python_a_jdk_and_the_editable_package() -> None:
    pixi = _load_toml("pixi.toml")
    assert pixi["workspace"]["channels"] == ["conda-forge"]
    assert {"python", "openjdk"} <= set(pixi["dependencies"])
    assert re.match(r"^(17|21)\b", pixi["dependencies"]["openjdk"])
    package = pixi["pypi-dependencies"]["ascii-hydra"]
    assert package["path"] == "."
    assert package["editable"] is True
    assert {"spark", "orchestration"} <= set(package["extras"])


def test_pixi_tasks_and_environments_cover_the_make_targets() -> None:
    pixi = _load_toml("pixi.toml")
    tasks = set(pixi["tasks"])
    for feature in pixi["feature"].values():
        tasks |= set(feature.get("tasks", {}))
    assert {"start", "test", "fmt", "lint", "bench"} <= tasks
    assert {"default", "test", "lint"} <= set(pixi["environments"])


@pytest.mark.parametrize("group", ["test", "lint", "bench"])
def test_pixi_features_list_the_same_packages_as_the_pyproject_groups(group: str) -> None:
    pyproject = _load_toml("pyproject.toml")
    pixi = _load_toml("pixi.toml")
    expected = _names(pyproject["dependency-groups"][group])
    assert set(pixi["feature"][group]["pypi-dependencies"]) == expected


def test_known_incompatible_versions_are_pinned() -> None:
    deps = _load_toml("pyproject.toml")["project"]
    base = " ".join(deps["dependencies"])
    assert "sqlglot>=30.0,<=30.10.0" in base  # >= 30.20 breaks ibis 12 DuckDB create_table
    # ibis 12 supports pyspark < 4.1 (with the Spark Connect client's extras)
    assert "pyspark[connect]>=4.0,<4.1" in deps["optional-dependencies"]["spark"]
    orchestration = deps["optional-dependencies"]["orchestration"]
    assert "dagster-aws==0.29.27" in orchestration
    assert "dagster==1.13.27" in orchestration


def test_lock_file_matches_the_pins() -> None:
    lock = _load_toml("uv.lock")
    versions = {p["name"]: p["version"] for p in lock["package"]}
    assert versions["ibis-framework"] == "12.0.0"
    assert versions["sqlglot"].split(".")[:2] <= ["30", "10"]
    assert versions["pyspark"].startswith("4.0.")
    assert versions["dagster-aws"] == "0.29.27"
