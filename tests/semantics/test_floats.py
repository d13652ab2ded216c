"""Floats: NaN and infinities in arithmetic, aggregates and comparisons; NULL tests."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import strategies as st

from hydra_transforms.engines import Engine
from hydra_transforms.expr import is_inf, is_null
from tests.semantics.support import (
    NAN,
    Columns,
    Input,
    Rows,
    assert_rows,
    differs,
    floats,
    for_all,
    nullable,
)

PAIRS = Columns(x=(pa.float64(), nullable(floats())), y=(pa.float64(), nullable(floats())))
SPECIALS = [math.nan, math.inf, -math.inf, 0.0, -0.0, 2.5, -2.5, 1e308]
ALL_PAIRS = PAIRS.rows(*({"x": x, "y": y} for x in [*SPECIALS, None] for y in SPECIALS[:3]))


def test_float_arithmetic_with_nan_and_infinities(engine: Engine) -> None:
    """IEEE arithmetic (NaN, ±inf, overflow to inf) for +, -, *, / and % by a non-zero
    divisor; ``%`` is C's fmod (the dividend's sign)."""
    cols = Columns(
        x=(pa.float64(), nullable(floats())),
        y=(pa.float64(), nullable(floats().filter(lambda v: v != 0))),
    )
    data = Input(engine, cols)
    t = data.table
    expr = t.select("id", add=t.x + t.y, sub=t.x - t.y, mul=t.x * t.y, div=t.x / t.y, mod=t.x % t.y)

    def check(rows: Rows) -> None:
        expected = {}
        with np.errstate(all="ignore"):
            for r in rows:
                x, y = r["x"], r["y"]
                if x is None or y is None:
                    expected[r["id"]] = dict.fromkeys(["add", "sub", "mul", "div", "mod"])
                    continue
                a, b = np.float64(x), np.float64(y)
                expected[r["id"]] = {
                    "add": float(a + b),
                    "sub": float(a - b),
                    "mul": float(a * b),
                    "div": float(a / b),
                    "mod": float(np.fmod(a, b)),
                }
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    edge = cols.rows(*(r for r in ALL_PAIRS if r["y"] != 0))
    for_all(engine, cols.tables(), check, examples=[edge])


def _order(v: float) -> tuple[int, float]:
    """Both engines order NaN above +inf and treat NaN as equal to NaN; -0.0 equals 0.0."""
    return (1, 0.0) if math.isnan(v) else (0, v)


def test_comparisons_with_nan(engine: Engine) -> None:
    data = Input(engine, PAIRS)
    t = data.table
    expr = t.select("id", eq=t.x == t.y, ne=t.x != t.y, lt=t.x < t.y, le=t.x <= t.y, gt=t.x > t.y)

    def check(rows: Rows) -> None:
        expected = {}
        for r in rows:
            if r["x"] is None or r["y"] is None:
                expected[r["id"]] = dict.fromkeys(["eq", "ne", "lt", "le", "gt"])
                continue
            x, y = _order(r["x"]), _order(r["y"])
            expected[r["id"]] = {"eq": x == y, "ne": x != y, "lt": x < y, "le": x <= y, "gt": x > y}
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    for_all(engine, PAIRS.tables(), check, examples=[ALL_PAIRS])


GROUPED = Columns(
    g=(pa.string(), st.sampled_from("abc")), x=(pa.float64(), nullable(floats(exact=True)))
)
GROUP_EDGES = GROUPED.rows(
    *(
        {"g": g, "x": x}
        for g, xs in {
            "a": [1.0, math.nan, 2.0],
            "b": [math.inf, -math.inf, None],
            "c": [math.nan, math.nan, 0.0, -0.0],
            "d": [None],
            "e": [math.inf, 1.0, math.inf],
        }.items()
        for x in xs
    )
)


def _finite_order_max(values: list[float]) -> float:
    return max(values, key=_order)


def test_aggregates_with_nan_and_infinities(engine: Engine) -> None:
    """sum and mean follow IEEE (NaN, or inf + -inf, gives NaN); NaN is the largest value for
    min and max; count distinct counts NaN once and 0.0 and -0.0 as one value."""
    data = Input(engine, GROUPED)
    t = data.table
    expr = t.group_by("g").aggregate(
        sum=t.x.sum(), mean=t.x.mean(), min=t.x.min(), max=t.x.max(),
        count=t.x.count(), distinct=t.x.nunique(),
    )  # fmt: skip

    def check(rows: Rows) -> None:
        groups: dict[str, list[float]] = {}
        for r in rows:
            groups.setdefault(r["g"], [])
            if r["x"] is not None:
                groups[r["g"]].append(r["x"])
        expected = {}
        for g, xs in groups.items():
            total = sum(xs) if xs else None  # exact: multiples of 1/4 (or NaN/inf)
            expected[g] = {
                "sum": total,
                "mean": total / len(xs) if xs else None,
                "min": min(xs, key=_order) if xs else None,
                "max": _finite_order_max(xs) if xs else None,
                "count": len(xs),
                "distinct": len({NAN if math.isnan(x) else x + 0.0 for x in xs}),
            }
        assert_rows(data.fetch(expr, rows), expected, key="g")

    for_all(engine, GROUPED.tables(), check, examples=[GROUP_EDGES])


def test_std_and_var_of_finite_values(engine: Engine) -> None:
    """Sample and population variance and standard deviation agree to 1e-12 (relative); a
    single value has no sample variance (NULL)."""
    cols = Columns(
        g=(pa.string(), st.sampled_from("ab")), x=(pa.float64(), st.integers(-99, 99).map(float))
    )
    data = Input(engine, cols)
    t = data.table
    expr = t.group_by("g").aggregate(
        var=t.x.var(), std=t.x.std(), pvar=t.x.var(how="pop"), pstd=t.x.std(how="pop")
    )

    def check(rows: Rows) -> None:
        groups: dict[str, list[float]] = {}
        for r in rows:
            groups.setdefault(r["g"], []).append(r["x"])
        got = {row["g"]: row for row in data.fetch(expr, rows)}
        assert set(got) == set(groups)
        for g, xs in groups.items():
            want = {
                "var": statistics.variance(xs) if len(xs) > 1 else None,
                "std": statistics.stdev(xs) if len(xs) > 1 else None,
                "pvar": statistics.pvariance(xs),
                "pstd": statistics.pstdev(xs),
            }
            for name, value in want.items():
                if value is None:
                    assert got[g][name] is None, (g, name, got[g])
                else:
                    assert math.isclose(got[g][name], value, rel_tol=1e-12, abs_tol=1e-12), (
                        g, name, got[g][name], value,
                    )  # fmt: skip

    for_all(engine, cols.tables(), check)


def test_std_and_var_without_infinities(engine: Engine) -> None:
    """``var(where=~is_inf(x))``: the alternative to var/std over infinities (below)."""
    cols = Columns(
        g=(pa.string(), st.sampled_from("ab")),
        x=(
            pa.float64(),
            st.one_of(st.integers(-99, 99).map(float), st.sampled_from([math.inf, -math.inf])),
        ),
    )
    data = Input(engine, cols)
    t = data.table
    expr = t.group_by("g").aggregate(var=t.x.var(where=~is_inf(t.x)))

    def check(rows: Rows) -> None:
        groups: dict[str, list[float]] = {}
        for r in rows:
            groups.setdefault(r["g"], [])
            if not math.isinf(r["x"]):
                groups[r["g"]].append(r["x"])
        got = {row["g"]: row["var"] for row in data.fetch(expr, rows)}
        assert set(got) == set(groups)
        for g, xs in groups.items():
            if len(xs) < 2:
                assert got[g] is None, (g, got[g])
            else:
                assert math.isclose(got[g], statistics.variance(xs), rel_tol=1e-12), (g, got[g])

    witness = cols.rows({"g": "a", "x": math.inf}, {"g": "a", "x": 1.0}, {"g": "a", "x": 2.0})
    for_all(engine, cols.tables(), check, examples=[witness])


@pytest.mark.parametrize(
    "engine_name",
    differs(
        "duckdb",
        "DuckDB raises OutOfRangeException for var/std over ±inf; Spark gives NaN",
        raises="duckdb.OutOfRangeException",
    ),
)
def test_std_and_var_with_infinities(engine: Engine) -> None:
    data = Input(engine, GROUPED)
    t = data.table
    rows = GROUPED.rows({"g": "a", "x": math.inf}, {"g": "a", "x": 1.0})
    got = data.fetch(t.group_by("g").aggregate(var=t.x.var(), std=t.x.std()), rows)
    assert_rows(got, {"a": {"var": math.nan, "std": math.nan}}, key="g")


SINGLE = Columns(x=(pa.float64(), nullable(floats())))
SINGLE_EDGES = SINGLE.rows(*({"x": x} for x in [*SPECIALS, None]))


def test_null_nan_and_infinity_tests_with_the_helpers(engine: Engine) -> None:
    """``is_null`` (NULL only: NaN is a number), ``is_inf`` and ``isnan`` of a number."""
    data = Input(engine, SINGLE)
    t = data.table
    expr = t.select(
        "id", null=is_null(t.x), not_null=~is_null(t.x), inf=is_inf(t.x),
        nan=t.x.isnan().fill_null(False),
    )  # fmt: skip

    def check(rows: Rows) -> None:
        expected = {}
        for r in rows:
            x = r["x"]
            expected[r["id"]] = {
                "null": x is None,
                "not_null": x is not None,
                "inf": None if x is None else math.isinf(x),
                "nan": x is not None and math.isnan(x),
            }
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    for_all(engine, SINGLE.tables(), check, examples=[SINGLE_EDGES])


@pytest.mark.parametrize(
    "engine_name",
    differs("pyspark", "ibis compiles isnull() as `x IS NULL OR isnan(x)` for Spark"),
)
def test_isnull_of_nan_without_the_helper(engine: Engine) -> None:
    """Why ``is_null`` is needed."""
    data = Input(engine, SINGLE)
    got = data.fetch(data.table.select("id", n=data.table.x.isnull()), SINGLE.rows({"x": math.nan}))
    assert_rows(got, {0: {"n": False}})


@pytest.mark.parametrize(
    "engine_name", differs("pyspark", "ibis compiles isinf() as `FALSE OR FALSE` for Spark")
)
def test_isinf_without_the_helper(engine: Engine) -> None:
    """Why ``is_inf`` is needed."""
    data = Input(engine, SINGLE)
    got = data.fetch(data.table.select("id", i=data.table.x.isinf()), SINGLE.rows({"x": math.inf}))
    assert_rows(got, {0: {"i": True}})


@pytest.mark.parametrize(
    "engine_name",
    differs("pyspark", "isnan(NULL) is FALSE on Spark, NULL on DuckDB"),
)
def test_isnan_of_null(engine: Engine) -> None:
    data = Input(engine, SINGLE)
    t = data.table
    expr = t.select("id", nan=t.x.isnan())

    def check(rows: Rows) -> None:
        expected = {r["id"]: {"nan": None if r["x"] is None else math.isnan(r["x"])} for r in rows}
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    for_all(engine, SINGLE.tables(), check, examples=[SINGLE.rows({"x": None})])
