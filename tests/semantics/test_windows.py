"""Window functions: ranking, offsets, running totals and NULLs in window orders."""

from __future__ import annotations

import math

import ibis
import pyarrow as pa
import pytest
from hypothesis import strategies as st

from hydra_transforms.engines import Engine
from hydra_transforms.expr import cast_exactly, running_window
from tests.semantics.support import (
    RAISES,
    Columns,
    Input,
    Rows,
    assert_rows,
    differs,
    floats,
    for_all,
    integers,
    nullable,
)

# Few groups and few order keys: ties and NULLs in both.
COLUMNS = Columns(
    g=(pa.string(), nullable(st.sampled_from("ab"))),
    k=(pa.int64(), nullable(st.integers(-2, 2))),
    v=(pa.int64(), nullable(st.integers(-1000, 1000))),
)
TIES = COLUMNS.rows(
    *({"g": "a", "k": k, "v": v} for k, v in [(1, 5), (1, None), (None, 7), (0, 1), (None, 2)]),
    {"g": None, "k": 2, "v": 3},
    {"g": None, "k": 2, "v": 4},
    {"g": "b", "k": None, "v": None},
)


def _partitions(rows: Rows) -> dict[str | None, list[dict]]:
    parts: dict[str | None, list[dict]] = {}
    for row in rows:
        parts.setdefault(row["g"], []).append(row)
    return parts


def _k(row: dict) -> tuple[bool, int]:
    """Ascending order of k with NULLs last (ibis' default order on both engines)."""
    return (row["k"] is None, row["k"] or 0)


def test_ranking_functions(engine: Engine) -> None:
    """row_number (from 0, as ibis numbers it), rank and dense_rank (from 0), percent_rank."""
    data = Input(engine, COLUMNS)
    t = data.table
    by_k = ibis.window(group_by="g", order_by="k")
    expr = t.select(
        "id",
        row_number=ibis.row_number().over(ibis.window(group_by="g", order_by=["k", "id"])),
        rank=ibis.rank().over(by_k),
        dense_rank=ibis.dense_rank().over(by_k),
        percent_rank=ibis.percent_rank().over(by_k),
    )

    def check(rows: Rows) -> None:
        expected = {}
        for part in _partitions(rows).values():
            ordered = sorted(part, key=lambda r: (_k(r), r["id"]))
            keys = sorted({_k(r) for r in part})
            for number, row in enumerate(ordered):
                rank = sum(_k(other) < _k(row) for other in part)
                expected[row["id"]] = {
                    "row_number": number,
                    "rank": rank,
                    "dense_rank": keys.index(_k(row)),
                    "percent_rank": rank / (len(part) - 1) if len(part) > 1 else 0.0,
                }
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    for_all(engine, COLUMNS.tables(), check, examples=[TIES])


def test_lag_and_lead(engine: Engine) -> None:
    """lag/lead over a total order, with NULL values and a default for missing rows."""
    data = Input(engine, COLUMNS)
    t = data.table
    w = ibis.window(group_by="g", order_by=["k", "id"])
    expr = t.select(
        "id", lag=t.v.lag().over(w), lead=t.v.lead().over(w), lag2=t.v.lag(2, -1).over(w)
    )

    def check(rows: Rows) -> None:
        expected = {}
        for part in _partitions(rows).values():
            ordered = sorted(part, key=lambda r: (_k(r), r["id"]))
            for i, row in enumerate(ordered):
                expected[row["id"]] = {
                    "lag": ordered[i - 1]["v"] if i >= 1 else None,
                    "lead": ordered[i + 1]["v"] if i + 1 < len(ordered) else None,
                    "lag2": ordered[i - 2]["v"] if i >= 2 else -1,
                }
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    for_all(engine, COLUMNS.tables(), check, examples=[TIES])


FLOAT_KEYS = Columns(x=(pa.float64(), nullable(floats(exact=True))))


def test_null_and_nan_order_in_windows(engine: Engine) -> None:
    """Window orders put NULLs last, ascending or descending, unless told otherwise; NaN
    sorts above every number. (ibis writes NULLS LAST for Spark's ascending order; DuckDB's
    default_null_order is pinned to nulls_last.)"""
    data = Input(engine, FLOAT_KEYS)
    t = data.table
    orders = {
        "asc": ibis.asc("x"),
        "desc": ibis.desc("x"),
        "asc_nulls_first": ibis.asc("x", nulls_first=True),
        "desc_nulls_first": ibis.desc("x", nulls_first=True),
    }
    expr = t.select(
        "id",
        **{
            name: ibis.row_number().over(ibis.window(order_by=[key, "id"]))
            for name, key in orders.items()
        },
    )

    def check(rows: Rows) -> None:
        def position(row: dict, descending: bool, nulls_first: bool) -> int:
            def key(r: dict) -> tuple:  # NaN above +inf; -0.0 ties with 0.0 (broken by id)
                null = r["x"] is None
                nan = not null and math.isnan(r["x"])
                magnitude = 0.0 if null or nan else r["x"]
                rank = (nan, magnitude) if not descending else (not nan, -magnitude)
                return (null != nulls_first, rank, r["id"])

            return sorted(rows, key=key).index(row)

        expected = {
            row["id"]: {
                "asc": position(row, False, False),
                "desc": position(row, True, False),
                "asc_nulls_first": position(row, False, True),
                "desc_nulls_first": position(row, True, True),
            }
            for row in rows
        }
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    edge = FLOAT_KEYS.rows(
        *({"x": x} for x in [None, math.nan, 1.0, -math.inf, math.inf, None, 0.0, -0.0, math.nan])
    )
    for_all(engine, FLOAT_KEYS.tables(), check, examples=[edge])


def _running(rows: Rows, order: str) -> dict[int, dict]:
    """Per row, the sum of v over its partition up to it: ``rows`` frame (a total order by k
    then id) or ``range`` frame (k only: tied rows are summed together)."""
    expected = {}
    for part in _partitions(rows).values():
        for row in part:
            if order == "rows":
                before = [r for r in part if (_k(r), r["id"]) <= (_k(row), row["id"])]
            else:
                before = [r for r in part if _k(r) <= _k(row)]
            values = [r["v"] for r in before if r["v"] is not None]
            expected[row["id"]] = {"total": sum(values) if values else None}
    return expected


def test_cumulative_sum_over_a_total_order(engine: Engine) -> None:
    data = Input(engine, COLUMNS)
    t = data.table
    expr = t.select("id", total=t.v.cumsum(group_by="g", order_by=["k", "id"]))

    def check(rows: Rows) -> None:
        assert_rows(data.fetch(expr, rows), _running(rows, "rows"), rows=rows)

    for_all(engine, COLUMNS.tables(), check, examples=[TIES])


def test_running_window_sums_ties_together(engine: Engine) -> None:
    """``running_window``: rows that tie on the order key get the same running total."""
    data = Input(engine, COLUMNS)
    t = data.table
    expr = t.select("id", total=t.v.sum().over(running_window(group_by="g", order_by="k")))

    def check(rows: Rows) -> None:
        assert_rows(data.fetch(expr, rows), _running(rows, "range"), rows=rows)

    for_all(engine, COLUMNS.tables(), check, examples=[TIES])


RANKS = Columns(g=(pa.string(), st.sampled_from("ab")), k=(pa.int64(), st.integers(0, 3)))
MANY_IN_ONE_PARTITION = RANKS.rows(*({"g": "a", "k": k} for k in [0, 1, 1, 2, 3, 3]))


def _ranks_times_a_billion(rows: Rows) -> dict[int, dict]:
    expected = {}
    for part in _partitions(rows).values():
        ordered = sorted(part, key=lambda r: (r["k"], r["id"]))
        keys = sorted({r["k"] for r in part})
        for number, row in enumerate(ordered):
            rank = sum(other["k"] < row["k"] for other in part)
            expected[row["id"]] = {
                "row_number": number * 10**9,
                "rank": rank * 10**9,
                "dense_rank": keys.index(row["k"]) * 10**9,
            }
    return expected


def test_ranking_functions_as_int64_with_cast_exactly(engine: Engine) -> None:
    """Spark computes row_number/rank/dense_rank as INT; ``cast_exactly`` makes them BIGINT,
    so arithmetic on them overflows (or not) as on DuckDB."""
    data = Input(engine, RANKS)
    by_k = ibis.window(group_by="g", order_by="k")
    w = ibis.window(group_by="g", order_by=["k", "id"])
    billion = 1_000_000_000  # an int32 literal: INT * INT stays INT on Spark
    expr = data.table.select(
        "id",
        row_number=cast_exactly(ibis.row_number().over(w), "int64") * billion,
        rank=cast_exactly(ibis.rank().over(by_k), "int64") * billion,
        dense_rank=cast_exactly(ibis.dense_rank().over(by_k), "int64") * billion,
    )

    def check(rows: Rows) -> None:
        assert_rows(data.fetch(expr, rows), _ranks_times_a_billion(rows), rows=rows)

    for_all(engine, RANKS.tables(), check, examples=[MANY_IN_ONE_PARTITION])


@pytest.mark.parametrize(
    "engine_name",
    differs(
        "pyspark",
        "without cast_exactly, Spark's INT row_number overflows where DuckDB's BIGINT does not",
        raises="pyspark.errors.exceptions.captured.ArithmeticException",
    ),
)
def test_row_number_without_cast_exactly_is_int32_on_spark(engine: Engine) -> None:
    """Why ``cast_exactly`` is needed (this starts passing on Spark when ibis fixes it)."""
    data = Input(engine, RANKS)
    w = ibis.window(group_by="g", order_by=["k", "id"])
    expr = data.table.select("id", row_number=ibis.row_number().over(w) * 1_000_000_000)
    got = data.fetch(expr, MANY_IN_ONE_PARTITION)
    expected = _ranks_times_a_billion(MANY_IN_ONE_PARTITION)
    assert_rows(got, {i: {"row_number": e["row_number"]} for i, e in expected.items()})


def test_int64_sums_in_windows(engine: Engine) -> None:
    """An int64 running sum that leaves the int64 range fails on both engines."""
    cols = Columns(v=(pa.int64(), integers()))
    data = Input(engine, cols)
    expr = data.table.select("id", total=data.table.v.cumsum(order_by="id"))

    def check(rows: Rows) -> None:
        totals, running, overflow = {}, 0, False
        for row in rows:
            running += row["v"]
            overflow |= not -(2**63) <= running < 2**63
            totals[row["id"]] = {"total": running}
        assert_rows(data.outcome(expr, rows), RAISES if overflow else totals, rows=rows)

    for_all(engine, cols.tables(), check, examples=[cols.rows({"v": 2**62}, {"v": 2**62})])
