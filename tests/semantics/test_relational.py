"""Sorting with NULLs and NaN, DISTINCT and GROUP BY keys, count distinct, joins on NULL keys."""

from __future__ import annotations

import math

import ibis
import pyarrow as pa
import pytest
from hypothesis import strategies as st

from hydra_transforms.engines import Engine
from tests.semantics.support import (
    Columns,
    Input,
    Rows,
    assert_multiset,
    assert_rows,
    differs,
    floats,
    for_all,
    norm,
    nullable,
    texts,
)

KEYS = Columns(
    x=(pa.float64(), nullable(floats(exact=True))),
    s=(pa.string(), nullable(texts("aAbéÉ😀 ", max_size=2))),
)
KEY_EDGES = KEYS.rows(
    *(
        {"x": x, "s": s}
        for x, s in [
            (None, "b"), (math.nan, None), (1.0, "a"), (-math.inf, "é"), (math.inf, "A"),
            (0.0, ""), (-0.0, "😀"), (math.nan, "b"), (None, None), (1.0, "É"),
        ]
    )
)  # fmt: skip


def _float_key(x: float | None, descending: bool, nulls_first: bool) -> tuple:
    null = x is None
    nan = not null and math.isnan(x)
    magnitude = 0.0 if null or nan else x
    rank = (nan, magnitude) if not descending else (not nan, -magnitude)
    return (null != nulls_first, rank)


def _text_key(s: str | None, descending: bool, nulls_first: bool) -> tuple:
    # Both engines compare strings by their UTF-8 bytes, the order of the code points.
    points = [] if s is None else [ord(c) for c in s]
    return (
        (s is None) != nulls_first,
        [-p for p in points] + [math.inf] if descending else points,
    )


ORDERS = {
    "asc": (ibis.asc, False, False),
    "desc": (ibis.desc, True, False),
    "asc_nulls_first": (lambda c: ibis.asc(c, nulls_first=True), False, True),
    "desc_nulls_first": (lambda c: ibis.desc(c, nulls_first=True), True, True),
}


@pytest.mark.parametrize("order", list(ORDERS))
def test_order_by_with_nulls_and_nan(engine: Engine, order: str) -> None:
    """ORDER BY puts NULLs last (first when asked), NaN above +inf; strings sort by code
    point. ibis writes NULLS LAST for ascending orders on Spark, whose default is NULLS
    FIRST; DuckDB's default (NULLS LAST) is pinned by engines.py."""
    make, descending, nulls_first = ORDERS[order]
    data = Input(engine, KEYS)
    expr = data.table.order_by([make("x"), make("s"), "id"]).select("id")

    def check(rows: Rows) -> None:
        ordered = sorted(
            rows,
            key=lambda r: (
                _float_key(r["x"], descending, nulls_first),
                _text_key(r["s"], descending, nulls_first),
                r["id"],
            ),
        )
        assert [r["id"] for r in data.fetch(expr, rows)] == [r["id"] for r in ordered]

    for_all(engine, KEYS.tables(), check, examples=[KEY_EDGES])


@pytest.mark.parametrize(
    "engine_name",
    differs("duckdb", "DuckDB's ORDER BY returns -0.0 as 0.0"),
)
def test_order_by_keeps_the_sign_of_zero(engine: Engine) -> None:
    data = Input(engine, KEYS)
    rows = KEYS.rows({"x": -0.0}, {"x": 1.0})
    got = [norm(r, zero_sign=True) for r in _raw(data, data.table.order_by("x"), rows)]
    assert [math.copysign(1, r["x"]) for r in got] == [-1, 1]


def _raw(data: Input, expr, rows: Rows) -> list[dict]:  # type: ignore[no-untyped-def]
    return data.arrow(expr, rows).to_pylist()


def test_distinct_and_group_by_keys(engine: Engine) -> None:
    """DISTINCT and GROUP BY put all NULLs in one group and all NaNs in another; 0.0 and
    -0.0 are one key. Count distinct counts neither NULL, and NaN once."""
    data = Input(engine, KEYS)
    t = data.table
    distinct = t.select("x", "s").distinct()
    groups = t.group_by("x").aggregate(n=t.count(), strings=t.s.nunique())

    def check(rows: Rows) -> None:
        keys = [(norm(r["x"]), r["s"]) for r in rows]
        assert_multiset(data.fetch(distinct, rows), [{"x": x, "s": s} for x, s in set(keys)])
        by_x: dict = {}
        for r in rows:
            by_x.setdefault(norm(r["x"]), []).append(r["s"])
        expected = {
            x: {"n": len(ss), "strings": len({s for s in ss if s is not None})}
            for x, ss in by_x.items()
        }
        assert_rows(data.fetch(groups), expected, key="x")

    for_all(engine, KEYS.tables(), check, examples=[KEY_EDGES])


@pytest.mark.parametrize(
    "engine_name",
    differs("pyspark", "Spark's DISTINCT and GROUP BY turn a -0.0 key into 0.0"),
)
def test_distinct_and_group_by_keep_the_sign_of_zero(engine: Engine) -> None:
    """DuckDB keeps the first key's sign. (Spark skips DISTINCT on a table it knows has one
    row, so the witness has two.)"""
    data = Input(engine, KEYS)
    t = data.table
    rows = KEYS.rows({"x": -0.0}, {"x": -0.0})
    distinct = _raw(data, t.select("x").distinct(), rows)
    grouped = _raw(data, t.group_by("x").aggregate(n=t.count()), rows)
    assert [math.copysign(1, r["x"]) for r in distinct + grouped] == [-1, -1]


LEFT = Columns(
    k=(pa.int64(), nullable(st.integers(0, 3))),
    f=(pa.float64(), nullable(floats(exact=True).filter(lambda v: not math.isnan(v)))),
)


def test_joins_on_null_keys(engine: Engine) -> None:
    """A NULL key matches nothing (inner, left, anti joins); 0.0 matches -0.0. (NaN keys:
    see the next test.)"""
    data = Input(engine, LEFT)
    t = data.table
    right = t.select(rk=t.k, rf=t.f, rid=t.id)
    on = [t.k == right.rk, t.f == right.rf]
    inner = t.join(right, on, how="inner").select("id", "rid")
    left = t.join(right, on, how="left").select("id", "rid")
    anti = t.anti_join(right, on).select("id")

    def check(rows: Rows) -> None:
        def match(a: dict, b: dict) -> bool:
            if None in (a["k"], a["f"], b["k"], b["f"]):
                return False
            return a["k"] == b["k"] and norm(a["f"]) == norm(b["f"])

        pairs = [{"id": a["id"], "rid": b["id"]} for a in rows for b in rows if match(a, b)]
        lonely = [a["id"] for a in rows if not any(match(a, b) for b in rows)]
        assert_multiset(data.fetch(inner, rows), pairs)
        assert_multiset(data.fetch(left), pairs + [{"id": i, "rid": None} for i in lonely])
        assert_multiset(data.fetch(anti), [{"id": i} for i in lonely])

    edge = LEFT.rows(
        {"k": 1, "f": math.inf}, {"k": 1, "f": math.inf}, {"k": None, "f": 1.0},
        {"k": 2, "f": 0.0}, {"k": 2, "f": -0.0}, {"k": 3, "f": None}, {"k": None, "f": None},
    )  # fmt: skip
    for_all(engine, LEFT.tables(max_rows=12), check, examples=[edge])


@pytest.mark.parametrize(
    "engine_name",
    differs("duckdb", "DuckDB's joins never match a NaN key, though NaN = NaN is true there"),
)
def test_joins_on_nan_keys(engine: Engine) -> None:
    """Spark matches NaN with NaN in a join, as both engines do in ``x == y`` (the oracle)."""
    data = Input(engine, LEFT)
    t = data.table
    right = t.select(rf=t.f, rid=t.id)
    inner = t.join(right, t.f == right.rf).select("id", "rid")
    rows = LEFT.rows({"f": math.nan}, {"f": 1.0})
    assert_multiset(data.fetch(inner, rows), [{"id": 0, "rid": 0}, {"id": 1, "rid": 1}])
