"""The project config has a declared schema: unknown keys and wrong types stop the code location
from loading, naming the key's path, the expected type, and the nearest valid key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hydra_orchestration.config import parse_config, reference_markdown
from hydra_orchestration.definitions import build_definitions
from hydra_orchestration.settings import SettingsError, load_settings
from tests.conftest import PROJECT_ROOT

LOCAL = """
[modes.small_dev_sample_local]
warehouse = "out"
[modes.small_dev_sample_local.sources]
seed_nodes = "seeds.csv"
crawl_records = "records"
"""


def _load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "hydra.toml"
    path.write_text(text)
    return load_settings({"HYDRA_CONFIG": str(path)}, cwd=PROJECT_ROOT)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # D1: a misspelt section or key is an error with the nearest valid key
        (
            '[partitons]\ncrawl_id = ["CC-MAIN-2024-10"]\n' + LOCAL,
            "partitons: unknown key; did you mean 'partitions'? valid keys here: partitions, "
            "s3, modes, spark, pyspark, duckdb",
        ),
        (
            LOCAL.replace("[modes.small_dev_sample_local]", "[modes.small_dev_sample_locl]"),
            "modes.small_dev_sample_locl: unknown key; did you mean 'small_dev_sample_local'?",
        ),
        # inside a table of tables: the keys of one entry
        (
            LOCAL + '[cost.instances."m5.xlarge"]\nspott = 0.07\n',
            "cost.instances.\"m5.xlarge\".spott: unknown key; did you mean 'spot'? valid keys "
            "here: on_demand, spot, emr, dbu",
        ),
        (
            LOCAL + '[cost.instances."m5.xlarge"]\nspot = "cheap"\n',
            "cost.instances.\"m5.xlarge\".spot: expected a number, got 'cheap' (str)",
        ),
        (
            LOCAL + '[duckdb]\nmemory_limt = "8GB"\n',
            "duckdb.memory_limt: unknown key; did you mean 'memory_limit'?",
        ),
        # D2: a wrong type names the key and the expected type
        (
            '[partitions]\ncrawl_id = "CC-MAIN-2024-10"\n' + LOCAL,
            "partitions.crawl_id: expected a list of strings, got 'CC-MAIN-2024-10' (str)",
        ),
        ('spark = "local"\n' + LOCAL, "spark: expected a table, got 'local' (str)"),
        ('sources = ["a.csv"]\n' + LOCAL, "sources: unknown key; valid keys here:"),
        (
            LOCAL.replace('warehouse = "out"', "warehouse = 123"),
            "modes.small_dev_sample_local.warehouse: expected a string, got 123 (int)",
        ),
        (
            LOCAL + '[spark.pyspark]\n"spark.sql.shuffle.partitions" = 8\n',
            'spark.pyspark."spark.sql.shuffle.partitions": expected a string, got 8 (int)',
        ),
        (
            LOCAL + '[duckdb]\nmemory_limit = "8 gigs"\nthreads = 0\n',
            "duckdb.memory_limit: expected a size such as '8GB' or '512MiB', got '8 gigs' (str)",
        ),
        (
            LOCAL + "[duckdb]\nthreads = 0\n",
            "duckdb.threads: input should be greater than or equal to 1, got 0 (int)",
        ),
        # The cloud sections: a misspelt service, a bad URI, an impossible cluster
        (
            LOCAL + '[aws.endpoint_urls]\nec2 = "http://127.0.0.1:5000"\n',
            "aws.endpoint_urls: unknown service 'ec2'; valid: emr, emr-serverless, logs",
        ),
        (
            LOCAL + '[emr]\nlog_uri = "s3:/bucket/logs"\n',
            "emr.log_uri: expected s3://bucket/prefix or {s3}/prefix, got 's3:/bucket/logs'",
        ),
        (
            LOCAL + '[emr.primary]\ninstance_types = ["m6i.xlarge"]\non_demand = 3\n',
            "emr: primary: a cluster has one primary node (on_demand = 1 or spot = 1)",
        ),
        (
            LOCAL + '[emr.task]\ninstance_types = ["m6i.xlarge"]\nallocation = "cheap"\n',
            "emr.task.allocation: unknown key; did you mean 'allocation_strategy'?",
        ),
        (
            LOCAL + "[emr.scaling]\nminimum = 8\nmaximum = 4\n",
            "emr.scaling: minimum (8) is above maximum (4)",
        ),
        (
            LOCAL + '[emr-serverles]\napplication_id = "00abc"\n',
            "emr-serverles: unknown key; did you mean 'emr-serverless'?",
        ),
    ],
)
def test_bad_config_is_refused_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        _load(tmp_path, text)
    assert message in str(caught.value)
    assert str(tmp_path / "hydra.toml") in str(caught.value)


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ValueError, match="is not a valid project config") as caught:
        parse_config('[partitons]\n[duckdb]\nthreads = "2"\n', source="hydra.toml")
    lines = str(caught.value).splitlines()
    assert lines[0] == "hydra.toml is not a valid project config:"
    assert len(lines) == 3


def test_a_location_for_no_source_is_refused_with_the_nearest_name(tmp_path: Path) -> None:
    # D1: `seed_nodez = ...` made the run look for seed_nodes in the warehouse.
    settings = _load(tmp_path, LOCAL.replace("seed_nodes =", "seed_nodez ="))
    with pytest.raises(SettingsError) as caught:
        build_definitions(settings, registry="hydra_transforms.example:registry")
    message = str(caught.value)
    assert "[modes.small_dev_sample_local.sources]" in message
    assert "'seed_nodez' is no source of registry 'example'; did you mean 'seed_nodes'?" in message
    assert "no location for 'seed_nodes'" in message


def test_duckdb_resources_reach_the_settings(tmp_path: Path) -> None:
    settings = _load(tmp_path, LOCAL + '[duckdb]\nmemory_limit = "8GB"\nthreads = 2\n')
    assert settings.duckdb == {
        "memory_limit": "8GB",
        "threads": 2,
        "temp_directory": settings.duckdb["temp_directory"],
        "preserve_insertion_order": False,
    }
    assert Path(settings.duckdb["temp_directory"]).name == "hydra-duckdb"


def test_the_packaged_config_is_valid() -> None:
    text = (PROJECT_ROOT / "src/hydra_orchestration/hydra.toml").read_text()
    config = parse_config(text, source="hydra.toml")
    assert config.partitions.crawl_id == ["CC-MAIN-2024-10", "CC-MAIN-2024-33"]


def test_the_docs_list_every_key_of_the_schema() -> None:
    """docs/orchestration.md holds the reference generated from the schema, unchanged."""
    docs = (PROJECT_ROOT / "docs/orchestration.md").read_text()
    block = re.search(r"<!-- config:begin -->\n(.*?)\n<!-- config:end -->", docs, re.S)
    assert block, "docs/orchestration.md has no <!-- config:begin/end --> block"
    assert block.group(1) == reference_markdown(), (
        "regenerate it: python -m hydra_orchestration.config"
    )


def test_a_platform_without_its_required_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hydra.toml"
    path.write_text(
        LOCAL + '[s3]\nbucket = "b"\n[modes.small_dev_sample_s3]\nwarehouse = "{s3}/w"\n'
    )
    environ = {
        "HYDRA_CONFIG": str(path),
        "SPARK_PIPES_ENGINE": "emr-serverless",
        "SPARK_EXECUTION_MODE": "small_dev_sample_s3",
        "ASCII_AWS_ACCESS_KEY_ID": "key",
        "ASCII_AWS_SECRET_ACCESS_KEY": "secret",
    }
    with pytest.raises(SettingsError) as caught:
        load_settings(environ, cwd=PROJECT_ROOT)
    assert str(caught.value) == (
        "engine 'emr-serverless' needs these keys of the project config, which are not set: "
        "emr-serverless.application_id, emr-serverless.execution_role_arn"
    )
    path.write_text(
        path.read_text()
        + '[emr-serverless]\napplication_id = "00abc"\nexecution_role_arn = "arn:aws:iam::1:role/r"\n'
    )
    assert load_settings(environ, cwd=PROJECT_ROOT).config.emr_serverless.application_id == "00abc"
