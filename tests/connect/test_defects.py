"""The pyspark and ibis defects on Spark Connect that hydra_transforms.engines works around.

Each test shows the defect on the library itself, then that the engine does not have it. When
one of them starts failing at its first step, the library was fixed and the workaround named
in its docstring can go.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest

from hydra_transforms import engines
from hydra_transforms.engines import SparkConnectEngine, to_arrow

pytestmark = pytest.mark.connect


def test_an_empty_arrow_table_is_refused_by_create_data_frame(
    connect_engine: SparkConnectEngine,
) -> None:
    """pyspark 4.0's Connect ``createDataFrame`` tests ``len(data) == 0`` before it looks at the
    type, so an empty Arrow table, which has a schema, raises CANNOT_INFER_EMPTY_SCHEMA.
    Workaround: ``SparkConnectEngine._data_frame`` passes the table's schema."""
    from pyspark.errors import PySparkValueError

    empty = pa.table({"x": pa.array([], pa.int64()), "t": pa.array([], pa.timestamp("us"))})
    with pytest.raises(PySparkValueError, match="CANNOT_INFER_EMPTY_SCHEMA"):
        connect_engine.session.createDataFrame(empty)
    table = connect_engine.from_arrow(empty, name="defects_empty")
    assert to_arrow(table).num_rows == 0
    assert table.schema() == ibis.schema({"x": "int64", "t": "timestamp"})


def test_the_writer_refuses_the_mode_errorifexists(
    connect_engine: SparkConnectEngine, tmp_path: Path
) -> None:
    """Connect's DataFrameWriter knows "error" but not its documented synonym "errorifexists"
    (UNSUPPORTED_OPERATION). Workaround: SparkEngine.write_parquet says "error" (the same
    SaveMode.ErrorIfExists on a classic session)."""
    from pyspark.errors import AnalysisException, PySparkValueError

    frame = connect_engine.session.range(3)
    with pytest.raises(PySparkValueError, match="errorifexists is not supported"):
        frame.write.mode("errorifexists").parquet(str(tmp_path / "a"))
    connect_engine.write_parquet(
        connect_engine.con.table(_view(frame)), str(tmp_path / "b"), partition_by=None
    )
    with pytest.raises(AnalysisException, match="PATH_ALREADY_EXISTS"):  # still refused
        connect_engine.write_parquet(
            connect_engine.con.table(_view(frame)), str(tmp_path / "b"), partition_by=None
        )


def test_ibis_cache_of_a_query_with_a_cte_fails(connect_engine: SparkConnectEngine) -> None:
    """ibis caches with ``DataFrame.cache()`` and asserts ``is_cached``, which a Connect
    session answers by analyzing the query again: a CTE gets new ids and never matches. So
    the assert fails, and a later read recomputes instead of reading the cache. Workaround:
    the engine's ibis backend (engines._connect_backend) makes the view first and caches it
    (CACHE LAZY TABLE), so that every read finds the plan that was cached."""
    base = connect_engine.from_arrow(pa.table({"g": [1, 1, 2], "v": [1, 2, 3]}), name="defects_cte")
    totals = base.group_by("g").aggregate(s=base.v.sum())
    expr = totals.join(totals.view(), "g")  # the subquery twice: ibis writes WITH
    assert "WITH" in str(ibis.to_sql(expr, dialect="pyspark"))

    plain = ibis.pyspark.connect(connect_engine.session)
    with pytest.raises(AssertionError):
        plain._cached_table(expr)
    frame = connect_engine.session.sql(plain.compile(expr)).cache()
    assert not frame.is_cached
    assert "InMemoryRelation" not in frame._explain_string()

    cached = expr.cache()  # through the engine's backend
    name = cached.op().name
    assert connect_engine.session.catalog.isCached(name)
    assert sorted(to_arrow(cached).to_pylist(), key=str) == sorted(
        to_arrow(expr).to_pylist(), key=str
    )
    read = connect_engine.session.table(name)
    assert "InMemoryRelation" in read._explain_string()
    # What ibis does when the cached table is garbage: the cache and the view go.
    connect_engine.con._finalize_cached_table(name)
    assert not connect_engine.session.catalog.tableExists(name)


def test_get_or_create_ignores_the_url_when_a_session_exists(spark_connect_session: Any) -> None:
    """pyspark's ``builder.remote(url).getOrCreate()`` returns the Connect session this
    process already has, whatever server ``url`` names: the engine would silently use another
    server. Workaround: ``spark_connect_session`` creates a session with ``create()``."""
    from pyspark.sql.connect.session import SparkSession

    other = SparkSession.builder.remote("sc://nowhere.invalid:1").getOrCreate()
    assert other.range(1).count() == 1  # answered by the test server, not by nowhere.invalid


def test_builder_config_drops_a_static_setting_with_a_warning(spark_connect_server: Any) -> None:
    """pyspark's Connect builder applies ``config(...)`` settings with failures ignored: a
    static setting (memory, cores) is dropped with a UserWarning and the session is made
    anyway. Workaround: ``spark_connect_session(conf=...)`` sets each one and raises
    CANNOT_MODIFY_CONFIG."""
    from pyspark.errors import AnalysisException
    from pyspark.sql.connect.client import DefaultChannelBuilder
    from pyspark.sql.connect.session import SparkSession

    channel = DefaultChannelBuilder(spark_connect_server.url)
    channel.set("token", spark_connect_server.token)
    quiet = SparkSession.builder.channelBuilder(channel).config("spark.executor.memory", "3g")
    with pytest.warns(UserWarning, match="CANNOT_MODIFY_CONFIG"):
        session = quiet.create()
    try:
        assert session.conf.get("spark.executor.memory", None) != "3g"
    finally:
        session.stop()
    with pytest.raises(AnalysisException, match="CANNOT_MODIFY_CONFIG"):
        engines.spark_connect_session(
            spark_connect_server.url,
            token=spark_connect_server.token,
            conf={"spark.executor.memory": "3g"},
        )


def _view(frame: Any) -> str:
    name = ibis.util.gen_name("defects")
    frame.createOrReplaceTempView(name)
    return name
