"""The spark-connect engine: reaching the server (URL, token), errors, cancelling."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hydra_transforms.engines import (
    SparkConnectEngine,
    connect,
    spark_connect_session,
    to_arrow,
)
from hydra_transforms.errors import describe_error
from tests.connect.server import environment

pytestmark = pytest.mark.connect

# pyspark's own fallback for the token: unset, so that only the engine's variable is read.
_PYSPARK_TOKEN = "SPARK_CONNECT_AUTHENTICATE_TOKEN"


def _answer(session: Any) -> int:
    return session.sql("SELECT 41 + 1 AS x").collect()[0].x


def test_the_token_goes_to_grpc_only_and_the_url_token_wins(spark_connect_server: Any) -> None:
    from pyspark.errors.exceptions.connect import SparkConnectGrpcException

    url, token = spark_connect_server.url, spark_connect_server.token
    with environment(**{_PYSPARK_TOKEN: None}):
        without = spark_connect_session(url)
        with pytest.raises(SparkConnectGrpcException, match="No authentication token"):
            _answer(without)
        without.stop()
        session = spark_connect_session(url, token=token)
        in_url = spark_connect_session(f"{url}/;token={token}", token="not-the-token")
    try:
        assert _answer(session) == 42
        assert _answer(in_url) == 42
        # Handed to gRPC only: not in the URL, nor in the metadata sent with each call.
        builder = session.client._builder
        assert token not in builder.url.geturl()
        assert all(token not in value for _, value in builder.metadata())
        assert all(token not in str(value) for value in session.conf.getAll.values())
    finally:
        session.stop()
        in_url.stop()


def test_connect_by_name_opens_a_session_with_the_engines_settings(
    spark_connect_server: Any,
) -> None:
    engine = connect(
        "spark-connect", remote=spark_connect_server.url, token=spark_connect_server.token
    )
    assert isinstance(engine, SparkConnectEngine)
    assert engine.name == "spark-connect"
    assert to_arrow(engine.con.sql("SELECT 1 AS x")).to_pylist() == [{"x": 1}]
    # The session settings that make results comparable with DuckDB's (SPARK_SQL_CONF).
    assert engine.session.conf.get("spark.sql.session.timeZone") == "UTC"
    assert engine.session.conf.get("spark.sql.ansi.enabled") == "true"
    engine.session.stop()


def test_connect_says_what_is_missing_or_mismatched(spark_connect_session: Any) -> None:
    with pytest.raises(ValueError, match=r"remote='sc://host:port'\) or a Connect session"):
        connect("spark-connect")
    with pytest.raises(ValueError, match=r"sc://host:port\[/;param=value...\]$") as raised:
        connect("spark-connect", remote="http://localhost:15002/;token=secret")
    assert "secret" not in str(raised.value)
    with pytest.raises(ValueError, match=r"connect\('spark-connect', spark=session\)"):
        connect("pyspark", spark=spark_connect_session)
    with pytest.raises(ValueError, match="needs a Spark Connect session"):
        connect("spark-connect", spark=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="a session or a URL, not both"):
        connect("spark-connect", spark=spark_connect_session, remote="sc://localhost:1")
    with pytest.raises(ValueError, match="engine 'duckdb' takes none"):
        connect("duckdb", remote="sc://localhost:1")
    with pytest.raises(ValueError, match="engine 'duckdb' takes none"):
        connect("duckdb", token="x")


def test_engine_errors_are_one_line_with_their_cause(
    connect_engine: SparkConnectEngine, tmp_path: Path
) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(Exception) as raised:  # noqa: PT011  # describe_error is under test
        to_arrow(connect_engine.read_parquet(str(missing)))
    line = describe_error(raised.value)
    assert "\n" not in line
    assert line.startswith("AnalysisException: [PATH_NOT_FOUND]")
    assert str(missing) in line


def test_cancel_stops_a_running_query_and_quiesce_waits_for_it(
    connect_engine: SparkConnectEngine,
) -> None:
    # Never ends by itself: 10^13 rows on 2 cores.
    endless = connect_engine.con.sql("SELECT max(hash(id)) AS h FROM range(0, 10000000000000)")
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            to_arrow(endless)
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    time.sleep(2)  # running on the server by now
    started = time.monotonic()
    connect_engine.cancel()
    worker.join(30)
    assert not worker.is_alive(), "the query was not cancelled"
    assert "[OPERATION_CANCELED]" in str(outcome["error"])
    connect_engine.quiesce(timeout_s=30)
    assert time.monotonic() - started < 30
    assert connect_engine.session.interruptAll() == []  # nothing left running
    assert to_arrow(connect_engine.con.sql("SELECT 1 AS x")).num_rows == 1  # still usable


def test_the_command_line_reaches_the_server_named_in_the_environment(
    spark_connect_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hydra_transforms.cli import EXIT_OK, EXIT_USAGE, main
    from hydra_transforms.engines import SPARK_CONNECT_TOKEN_ENV, SPARK_REMOTE_ENV
    from tests.conftest import SAMPLE_DIR

    argv = ["run", "nodes", "--input", f"seed_nodes={SAMPLE_DIR / 'seed_nodes.csv'}"]
    with environment(**{SPARK_REMOTE_ENV: None}):
        assert main([*argv, "--engine", "spark-connect"]) == EXIT_USAGE
    assert "needs a server: --remote sc://host:port or $SPARK_REMOTE" in capsys.readouterr().err
    with environment(
        **{
            SPARK_REMOTE_ENV: spark_connect_server.url,
            SPARK_CONNECT_TOKEN_ENV: spark_connect_server.token,
        }
    ):
        code = main([*argv, "--engine", "spark-connect", "--output", str(tmp_path / "nodes")])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert out.startswith("nodes on spark-connect: ")
    assert spark_connect_server.token not in out
