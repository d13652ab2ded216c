"""Settings: defaults that work on a fresh machine, and clear errors naming the valid values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hydra_orchestration.settings import SettingsError, load_settings
from tests.conftest import PROJECT_ROOT
from tests.orchestration.test_config import LOCAL

AWS = {"ASCII_AWS_ACCESS_KEY_ID": "AKIA-test", "ASCII_AWS_SECRET_ACCESS_KEY": "secret-test"}
DATABRICKS = {
    "DATABRICKS_HOST": "https://dbc.example",
    "DATABRICKS_CLIENT_ID": "id",
    "DATABRICKS_CLIENT_SECRET": "secret",
}


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hydra.toml"
    path.write_text(text)
    return path


def test_defaults_need_nothing_and_point_at_the_sample() -> None:
    settings = load_settings({}, cwd=PROJECT_ROOT)
    assert (settings.engine, settings.mode) == ("pyspark", "small_dev_sample_local")
    assert settings.dagster_home == PROJECT_ROOT / ".dagster_home"
    assert settings.sources["seed_nodes"] == str(PROJECT_ROOT / "data/sample/seed_nodes.csv")
    assert Path(settings.sources["crawl_records"]).is_dir()
    assert settings.output_location("edges") == str(
        PROJECT_ROOT / "warehouse/small_dev_sample_local/edges"
    )
    assert settings.partitions == ("CC-MAIN-2024-10", "CC-MAIN-2024-33")
    assert settings.spark_conf_for("pyspark")["spark.master"] == "local[*]"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"SPARK_PIPES_ENGINE": "spark"},
            "SPARK_PIPES_ENGINE='spark' is not valid; valid values: pyspark, duckdb, spark-connect, emr, emr-serverless, databricks",
        ),
        (
            {"SPARK_EXECUTION_MODE": "prod"},
            "SPARK_EXECUTION_MODE='prod' is not valid; valid values: small_dev_sample_local, small_dev_sample_s3, full",
        ),
        (
            {"SPARK_PIPES_ENGINE": "emr", **AWS},
            "engine 'emr' cannot run in execution mode 'small_dev_sample_local'",
        ),
        (
            {"SPARK_PIPES_ENGINE": "databricks", **DATABRICKS},
            "engine 'databricks' cannot run in execution mode 'small_dev_sample_local'",
        ),
        (
            {"SPARK_PIPES_ENGINE": "databricks", "SPARK_EXECUTION_MODE": "full", **AWS},
            "needs credentials that are not set: DATABRICKS_HOST, DATABRICKS_CLIENT_ID, DATABRICKS_CLIENT_SECRET",
        ),
        (
            {
                "SPARK_PIPES_ENGINE": "emr",
                "SPARK_EXECUTION_MODE": "full",
                "ASCII_AWS_ACCESS_KEY_ID": "x",
            },
            "needs credentials that are not set: ASCII_AWS_SECRET_ACCESS_KEY",
        ),
        (
            {"SPARK_EXECUTION_MODE": "full", **AWS},
            "reads from S3, but the packaged hydra.toml sets no [s3] bucket",
        ),
        (
            {"SPARK_PIPES_ENGINE": "spark-connect"},
            "engine 'spark-connect' needs these keys of the project config, which are not set: "
            "spark-connect.remote (or SPARK_REMOTE)",
        ),
        (
            {"SPARK_PIPES_ENGINE": "spark-connect", "SPARK_REMOTE": "localhost:15002;token=t0k"},
            "SPARK_REMOTE is not a Spark Connect URL (sc://host:port)",
        ),
        (
            {"HYDRA_CONFIG": "/no/such/hydra.toml"},
            "HYDRA_CONFIG points to /no/such/hydra.toml, which is not a file",
        ),
    ],
)
def test_bad_settings_are_clear_errors(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ, cwd=PROJECT_ROOT)
    assert message in str(caught.value)


def test_the_spark_connect_server_comes_from_spark_remote_or_the_config(tmp_path: Path) -> None:
    environ = {"SPARK_PIPES_ENGINE": "spark-connect", "SPARK_CONNECT_TOKEN": "t0k"}
    by_variable = load_settings({**environ, "SPARK_REMOTE": "sc://a:1"}, cwd=PROJECT_ROOT)
    assert by_variable.spark_remote == "sc://a:1"
    assert "t0k" not in repr(by_variable)  # the token is read at launch, never kept
    path = tmp_path / "hydra.toml"
    path.write_text(LOCAL + '[spark-connect]\nremote = "sc://b:2/;use_ssl=true"\n')
    by_config = load_settings({**environ, "HYDRA_CONFIG": str(path)}, cwd=PROJECT_ROOT)
    assert by_config.spark_remote == "sc://b:2/;use_ssl=true"
    both = {**environ, "HYDRA_CONFIG": str(path), "SPARK_REMOTE": "sc://a:1"}
    assert load_settings(both, cwd=PROJECT_ROOT).spark_remote == "sc://a:1"
    for bad, message in [
        ("sc://b:2/;token=t0k", "a token does not belong in the config file"),
        ("http://b:2", "expected sc://host:port[/;param=value...]"),
    ]:
        path.write_text(LOCAL + f'[spark-connect]\nremote = "{bad}"\n')
        with pytest.raises(SettingsError, match=re.escape(message)) as caught:
            load_settings({**environ, "HYDRA_CONFIG": str(path)}, cwd=PROJECT_ROOT)
        assert "t0k" not in str(caught.value)


def test_secrets_never_appear_in_errors_or_settings() -> None:
    environ = {"SPARK_PIPES_ENGINE": "emr", "SPARK_EXECUTION_MODE": "full", **AWS}
    with pytest.raises(SettingsError) as caught:
        load_settings(environ, cwd=PROJECT_ROOT)
    assert "secret-test" not in str(caught.value)


def test_a_config_file_sets_s3_locations_relative_paths_and_spark(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        """
        [partitions]
        crawl_id = ["CC-MAIN-2025-05"]
        [s3]
        bucket = "team-bucket"
        prefix = "/hydra/"
        [modes.small_dev_sample_local]
        warehouse = "out"
        [modes.small_dev_sample_local.sources]
        seed_nodes = "seeds.csv"
        [modes.full]
        warehouse = "{s3}/full/warehouse"
        [modes.full.sources]
        crawl_records = "{s3}/full/crawl_records"
        [spark.emr]
        "spark.executor.memory" = "8g"
        """,
    )
    local = load_settings({"HYDRA_CONFIG": str(path)}, cwd=PROJECT_ROOT)
    assert local.sources["seed_nodes"] == str(tmp_path / "seeds.csv")
    assert local.warehouse == str(tmp_path / "out")
    assert local.partitions == ("CC-MAIN-2025-05",)
    full = load_settings(
        {
            "HYDRA_CONFIG": str(path),
            "SPARK_PIPES_ENGINE": "emr",
            "SPARK_EXECUTION_MODE": "full",
            **AWS,
        },
        cwd=PROJECT_ROOT,
    )
    assert full.sources["crawl_records"] == "s3://team-bucket/hydra/full/crawl_records"
    assert full.output_location("graph") == "s3://team-bucket/hydra/full/warehouse/graph"
    # The platform's defaults, with the config's settings over them.
    assert full.spark_conf_for("emr") == {
        "spark.sql.shuffle.partitions": "200",
        "spark.executor.memory": "8g",
    }


def test_a_config_file_without_the_mode_or_with_bad_toml(tmp_path: Path) -> None:
    path = _config(tmp_path, "[modes.full]\nwarehouse = 'x'\n")
    with pytest.raises(
        SettingsError,
        match=r"has no \[modes.small_dev_sample_local\] section \(it has \['full'\]\)",
    ):
        load_settings({"HYDRA_CONFIG": str(path)}, cwd=PROJECT_ROOT)
    path.write_text("[modes\n")
    with pytest.raises(SettingsError, match="is not valid TOML"):
        load_settings({"HYDRA_CONFIG": str(path)}, cwd=PROJECT_ROOT)


def test_dagster_home_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings({"DAGSTER_HOME": str(tmp_path)}, cwd=PROJECT_ROOT)
    assert settings.dagster_home == tmp_path.resolve()
