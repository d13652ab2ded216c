"""Arrays: slices, join, length, contains, unnest and element access."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import strategies as st

from hydra_transforms.engines import Engine
from hydra_transforms.expr import element_at
from tests.semantics.support import (
    Columns,
    Input,
    Rows,
    assert_multiset,
    assert_rows,
    differs,
    for_all,
    nullable,
)

ELEMENTS = st.lists(nullable(st.sampled_from(["a", "b", "é", ""])), max_size=5)
# An array of NULLs only is joined differently (see test_join_of_nulls_only).
ARRAYS = Columns(
    a=(
        pa.list_(pa.string()),
        nullable(ELEMENTS.filter(lambda a: not a or any(x is not None for x in a))),
    )
)
EDGES = ARRAYS.rows(
    *({"a": a} for a in [["a", "b", "c"], [], None, ["x", None, "z"], ["q"], [""], [None, "b"]])
)
SLICES = [(1, 3), (-2, None), (None, 2), (1, None), (5, 9), (-3, -1)]


def test_slice_join_length_and_contains(engine: Engine) -> None:
    """Slices follow Python's (negative bounds count from the end, out-of-range bounds are
    clipped); ``join`` skips NULL elements and gives NULL for an empty array."""
    data = Input(engine, ARRAYS)
    a = data.table.a
    expr = data.table.select(
        "id",
        **{f"slice_{i}": a[lo:hi] for i, (lo, hi) in enumerate(SLICES)},
        joined=a.join(","),
        length=a.length(),
        has_a=a.contains("a"),
    )

    def check(rows: Rows) -> None:
        expected = {}
        for r in rows:
            a = r["a"]
            if a is None:
                expected[r["id"]] = dict.fromkeys(
                    [*(f"slice_{i}" for i in range(len(SLICES))), "joined", "length", "has_a"]
                )
                continue
            expected[r["id"]] = {
                **{f"slice_{i}": a[lo:hi] for i, (lo, hi) in enumerate(SLICES)},
                "joined": ",".join(x for x in a if x is not None) if a else None,
                "length": len(a),
                "has_a": "a" in a,
            }
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    for_all(engine, ARRAYS.tables(), check, examples=[EDGES])


@pytest.mark.parametrize(
    "engine_name",
    differs("duckdb", "DuckDB joins an array of NULLs only to NULL; Spark to ''"),
)
def test_join_of_nulls_only(engine: Engine) -> None:
    """Joining skips NULL elements; with none left, Spark gives '' (the oracle, as for
    ``",".join([])`` in Python) and DuckDB NULL. Both give NULL for an empty array."""
    data = Input(engine, ARRAYS)
    rows = ARRAYS.rows({"a": [None]}, {"a": [None, None]}, {"a": []})
    got = data.fetch(data.table.select("id", joined=data.table.a.join(",")), rows)
    assert_rows(got, {0: {"joined": ""}, 1: {"joined": ""}, 2: {"joined": None}})


def test_unnest(engine: Engine) -> None:
    """One row per element, NULL elements included; NULL and empty arrays give no row."""
    data = Input(engine, ARRAYS)
    expr = data.table.select("id", x=data.table.a.unnest())

    def check(rows: Rows) -> None:
        expected = [{"id": r["id"], "x": x} for r in rows for x in r["a"] or []]
        assert_multiset(data.fetch(expr, rows), expected)

    unnest_edges = ARRAYS.rows(*EDGES, {"a": [None]}, {"a": [None, None]})
    for_all(engine, ARRAYS.tables(), check, examples=[unnest_edges])


INDICES = [0, 2, -1, -3]


def test_elements_with_the_helper(engine: Engine) -> None:
    """``element_at``: 0-based, negative from the end, NULL out of range, on both engines."""
    data = Input(engine, ARRAYS)
    a = data.table.a
    expr = data.table.select("id", **{f"e{i}": element_at(a, n) for i, n in enumerate(INDICES)})

    def check(rows: Rows) -> None:
        expected = {}
        for r in rows:
            a = r["a"] or []
            expected[r["id"]] = {
                f"e{i}": a[n] if -len(a) <= n < len(a) else None for i, n in enumerate(INDICES)
            }
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    for_all(engine, ARRAYS.tables(), check, examples=[EDGES])


@pytest.mark.parametrize(
    "engine_name",
    differs(
        "pyspark",
        "an index past the end raises on Spark (ANSI); DuckDB gives NULL",
        raises="pyspark.errors.exceptions.captured.ArrayIndexOutOfBoundsException",
    ),
)
def test_element_past_the_end_without_the_helper(engine: Engine) -> None:
    """Why ``element_at`` is needed (1)."""
    data = Input(engine, ARRAYS)
    got = data.fetch(data.table.select("id", third=data.table.a[2]), ARRAYS.rows({"a": ["a"]}))
    assert_rows(got, {0: {"third": None}})


@pytest.mark.parametrize(
    "engine_name",
    differs(
        "pyspark",
        "ibis compiles a[-1] for Spark to ELEMENT_AT(a, 0), an error",
        raises="pyspark.errors.exceptions.captured.SparkRuntimeException",
    ),
)
def test_element_from_the_end_without_the_helper(engine: Engine) -> None:
    """Why ``element_at`` is needed (2)."""
    data = Input(engine, ARRAYS)
    got = data.fetch(data.table.select("id", last=data.table.a[-1]), ARRAYS.rows({"a": ["a", "b"]}))
    assert_rows(got, {0: {"last": "b"}})
