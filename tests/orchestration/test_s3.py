"""The S3 execution mode through Dagster, on the local S3 server: the sample uploaded by
`hydra upload-sample`, the example materialized on DuckDB and on PySpark, outputs equal to
the local run's, no secret in what Dagster recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from hydra_orchestration.definitions import PIPELINE_JOB, build_definitions
from hydra_transforms.example import registry as example
from hydra_transforms.storage import read_arrow
from tests.conftest import S3_ENGINES
from tests.emulators.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY
from tests.orchestration.cloud import PARTITION, S3Project, local_outputs, s3_project
from tests.orchestration.conftest import failure_messages

pytestmark = pytest.mark.s3


@pytest.fixture(scope="module")
def project(local_s3: Any, tmp_path_factory: pytest.TempPathFactory) -> S3Project:
    return s3_project(local_s3, tmp_path_factory.mktemp("s3project"))


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return local_outputs(tmp_path_factory.mktemp("local"))


@pytest.mark.parametrize("engine", S3_ENGINES)
def test_the_example_materializes_on_s3_through_dagster(
    engine: str,
    project: S3Project,
    local_s3: Any,
    local: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in project.environ.items():
        monkeypatch.setenv(name, value)  # read at launch, as in a real run
    settings = project.settings(engine, tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    job = build_definitions(settings).resolve_job_def(PIPELINE_JOB)
    result = job.execute_in_process(
        instance=instance, partition_key=PARTITION, raise_on_error=False
    )
    assert result.success, failure_messages(result)
    materialized = {
        e.materialization.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert set(materialized) == {t.name for t in example.transforms}
    for transform in example.transforms:
        location = settings.output_location(transform.name)
        assert str(materialized[transform.name]["output"].value) == location
        on_s3 = read_arrow(location, local_s3.options())
        here = read_arrow(local / transform.name)
        assert sorted(map(str, on_s3.to_pylist())) == sorted(map(str, here.to_pylist()))
    # No secret in anything Dagster recorded: events, metadata, logs, Pipes extras.
    records = instance.all_logs(result.run_id)
    text = "\n".join(str(record) for record in records)
    assert SECRET_ACCESS_KEY not in text
    assert ACCESS_KEY_ID not in text
