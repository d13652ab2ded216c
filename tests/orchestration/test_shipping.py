"""The code bundle a cluster installs: a valid wheel of exactly the code that runs here, pinned
constraints without pyspark, uploaded once per content."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from hydra_orchestration import shipping
from hydra_orchestration.shipping import build_bundle, ship
from tests.conftest import PROJECT_ROOT


def test_the_wheel_holds_every_module_with_a_valid_record() -> None:
    bundle = build_bundle()
    archive = zipfile.ZipFile(BytesIO(bundle.wheel))
    names = set(archive.namelist())
    assert "hydra_orchestration/remote/entrypoint.py" in names
    assert "hydra_orchestration/hydra.toml" in names  # data files too
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    info = bundle.wheel_name.removesuffix("-py3-none-any.whl") + ".dist-info"
    record = archive.read(f"{info}/RECORD").decode().splitlines()
    assert len(record) == len(names)
    for line in record:
        name, digest, size = line.rsplit(",", 2)
        if name.endswith("RECORD"):
            continue
        data = archive.read(name)
        expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        assert digest == f"sha256={expected.decode()}", name
        assert int(size) == len(data), name
    metadata = archive.read(f"{info}/METADATA").decode()
    version = importlib.metadata.version("ascii-hydra")
    assert f"Version: {version}+{bundle.digest}\n" in metadata
    assert "Provides-Extra: remote" in metadata


def test_the_wheel_runs_the_code_it_holds(tmp_path: Path) -> None:
    """Imported from the wheel alone (a zip on sys.path), not from this checkout."""
    wheel = tmp_path / build_bundle().wheel_name
    wheel.write_bytes(build_bundle().wheel)
    code = (  # the checkout's src/ (the editable install) off the path, the wheel first
        "import os, sys\n"
        "sys.path[:] = [sys.argv[1]] + [p for p in sys.path if os.path.realpath(p) != sys.argv[2]]\n"
        "import hydra_orchestration.remote.entrypoint as e, hydra_transforms.example as x\n"
        "print(e.__file__); print(x.registry.name)"
    )
    source = str((PROJECT_ROOT / "src").resolve())
    done = subprocess.run(
        [sys.executable, "-c", code, str(wheel), source],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{wheel}/hydra_orchestration/remote/entrypoint.py",
        "example",
    ]


def test_the_constraints_pin_what_runs_here_but_never_spark() -> None:
    pins = dict(line.split("==") for line in build_bundle().constraints.splitlines())
    for name in ("dagster-pipes", "boto3", "ibis-framework", "pandera", "duckdb", "pyarrow"):
        assert pins[name] == importlib.metadata.version(name), name
    assert "pyspark" not in pins
    assert "py4j" not in pins
    assert "dagster" not in pins  # the clusters run dagster-pipes only
    assert "ascii-hydra" not in pins


def test_equal_code_gives_an_equal_bundle_and_changed_code_another() -> None:
    files = dict(shipping._package_files())
    dist = importlib.metadata.distribution("ascii-hydra")
    assert shipping._wheel(files, dist, "1+a") == shipping._wheel(dict(files), dist, "1+a")
    changed = {**files, "hydra_transforms/__init__.py": b"# changed\n"}
    assert shipping._wheel(changed, dist, "1+a") != shipping._wheel(files, dist, "1+a")


@pytest.mark.s3
def test_a_bundle_is_uploaded_once_and_again_when_cut_off(local_s3: Any) -> None:
    bucket = local_s3.bucket("hydra-shipping")
    staging = f"{bucket}/staging"
    bundle = build_bundle()
    client = local_s3.client()
    first = ship(bundle, staging, s3=local_s3.options(), client=client)
    assert first.uploaded
    assert first.prefix == f"{staging}/code/{bundle.digest}"
    keys = {
        o["Key"]
        for o in client.list_objects_v2(Bucket="hydra-shipping", Prefix="staging/")["Contents"]
    }
    prefix = f"staging/code/{bundle.digest}"
    assert keys == {f"{prefix}/{name}" for name in [*bundle.files(), "COMPLETE"]}
    assert not ship(bundle, staging, s3=local_s3.options(), client=client).uploaded
    # An upload cut off before COMPLETE is done again, whole.
    client.delete_object(Bucket="hydra-shipping", Key=f"{prefix}/COMPLETE")
    client.delete_object(Bucket="hydra-shipping", Key=f"{prefix}/{bundle.wheel_name}")
    assert ship(bundle, staging, s3=local_s3.options(), client=client).uploaded
    wheel = client.get_object(Bucket="hydra-shipping", Key=f"{prefix}/{bundle.wheel_name}")
    assert wheel["Body"].read() == bundle.wheel


def test_a_local_staging_location_is_refused() -> None:
    with pytest.raises(ValueError, match="a cluster reads code from s3:// only"):
        ship(build_bundle(), "/tmp/staging", s3=None)  # type: ignore[arg-type]


def test_the_package_of_a_users_registry_goes_with_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "team_transforms").mkdir()
    (tmp_path / "team_transforms" / "__init__.py").write_text("")
    (tmp_path / "team_transforms" / "pipeline.py").write_text("registry = None\n")
    (tmp_path / "single_module.py").write_text("registry = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    names = set(
        zipfile.ZipFile(BytesIO(build_bundle("team_transforms.pipeline:registry").wheel)).namelist()
    )
    assert {"team_transforms/__init__.py", "team_transforms/pipeline.py"} <= names
    assert "hydra_transforms/runner.py" in names
    single = build_bundle("single_module:registry")
    assert "single_module.py" in zipfile.ZipFile(BytesIO(single.wheel)).namelist()
    assert single.digest != build_bundle().digest
    assert build_bundle("hydra_transforms.example:registry") is build_bundle()


def test_hydra_bundle_writes_the_bundle_a_launch_ships(tmp_path: Path) -> None:
    """What a user builds an EMR Serverless image from (docs/orchestration.md)."""
    out = tmp_path / "bundle"
    done = subprocess.run(
        [sys.executable, "-m", "hydra_transforms.cli", "bundle", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    bundle = build_bundle("hydra_transforms.example:registry")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == bundle.files()
    assert done.stdout.splitlines()[-1] == f"bundle {bundle.digest}"


def test_log_locations_as_emr_reports_them_are_understood() -> None:
    """DescribeCluster reports a LogUri as s3n://..."""
    from hydra_orchestration.launchers.aws import S3Location

    assert S3Location.parse("s3n://logs-bucket/emr/").join("j-1", "steps").uri == (
        "s3://logs-bucket/emr/j-1/steps"
    )
    with pytest.raises(ValueError, match="expected s3://bucket/prefix"):
        S3Location.parse("hdfs://namenode/logs")


def test_tags_list_whole_asset_names_in_characters_every_platform_allows() -> None:
    from hydra_orchestration.launchers.compute import compute_tags

    names = [f"asset_number_{i:03d}" for i in range(40)]
    tags = compute_tags(run_id="r", assets=names, mode="full", engine="emr", project="p")
    listed = tags["hydra/assets"].split()
    assert listed == names[: len(listed)]
    assert len(tags["hydra/assets"]) <= 256 < len(" ".join(names))
