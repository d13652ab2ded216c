"""Decimals: exact arithmetic, rounding, aggregates (compared by value, not by scale)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

import pyarrow as pa
import pytest
from hypothesis import strategies as st

from hydra_transforms.engines import Engine
from hydra_transforms.expr import divide
from tests.semantics.support import (
    Columns,
    Input,
    Rows,
    assert_rows,
    differs,
    for_all,
    nullable,
)


def _decimals(places: int, bound: int) -> st.SearchStrategy[Decimal]:
    step = Decimal(1).scaleb(-places)
    return st.integers(-bound * 10**places, bound * 10**places).map(lambda i: i * step)


# Magnitudes that keep every result within the type ibis infers for it (see the
# multiplication test for what happens otherwise).
COLUMNS = Columns(
    g=(pa.string(), st.sampled_from("ab")),
    a=(pa.decimal128(10, 2), nullable(_decimals(2, 10**6))),
    b=(pa.decimal128(12, 3), nullable(_decimals(3, 10**6))),
)
EDGES = COLUMNS.rows(
    *(
        {"g": "a", "a": Decimal(a), "b": Decimal(b)}
        for a, b in [("1.15", "3.000"), ("-2.55", "0.300"), ("0.05", "-0.100"), ("-0.05", "0.005")]
    ),
    {"g": "b", "a": Decimal("999999.99"), "b": None},
)


def _round(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def test_decimal_arithmetic_and_rounding(engine: Engine) -> None:
    """+, -, unary minus, abs and comparisons are exact; round() and casts to fewer decimals
    round half away from zero. A product cast to a type that holds it is exact, and a
    quotient of floats is the same double (the alternatives to ``*`` and ``/``, below)."""
    data = Input(engine, COLUMNS)
    t = data.table
    expr = t.select(
        "id", add=t.a + t.b, sub=t.a - t.b, neg=-t.a, abs=t.b.abs(), lt=t.a < t.b,
        eq=t.a == t.b, round=t.a.round(1), narrower=t.b.cast("decimal(12, 1)"),
        product=(t.a * t.b).cast("decimal(24, 5)"),
        quotient=divide(t.a.cast("float64"), t.b.cast("float64")),
    )  # fmt: skip

    def check(rows: Rows) -> None:
        expected = {}
        for r in rows:
            a, b = r["a"], r["b"]
            both = a is not None and b is not None
            expected[r["id"]] = {
                "add": a + b if both else None,
                "sub": a - b if both else None,
                "neg": -a if a is not None else None,
                "abs": abs(b) if b is not None else None,
                "lt": a < b if both else None,
                "eq": a == b if both else None,
                "round": _round(a, 1) if a is not None else None,
                "narrower": _round(b, 1) if b is not None else None,
                "product": a * b if both else None,
                "quotient": float(a) / float(b) if both and b != 0 else None,
            }
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    for_all(engine, COLUMNS.tables(), check, examples=[EDGES])


def test_decimal_sum(engine: Engine) -> None:
    data = Input(engine, COLUMNS)
    t = data.table
    expr = t.group_by("g").aggregate(a=t.a.sum(), b=t.b.sum())

    def check(rows: Rows) -> None:
        groups: dict[str, dict[str, list[Decimal]]] = {}
        for r in rows:
            group = groups.setdefault(r["g"], {"a": [], "b": []})
            for c in "ab":
                if r[c] is not None:
                    group[c].append(r[c])
        expected = {g: {c: sum(vs[c]) if vs[c] else None for c in "ab"} for g, vs in groups.items()}
        assert_rows(data.fetch(expr, rows), expected, key="g")

    for_all(engine, COLUMNS.tables(), check, examples=[EDGES])


@pytest.mark.parametrize(
    "engine_name",
    differs(
        "duckdb",
        "ibis types a decimal product with the operands' scale; DuckDB's result does not fit it",
        raises=pa.ArrowInvalid,
    ),
)
def test_decimal_multiplication(engine: Engine) -> None:
    """The exact product has the sum of the scales (DECIMAL(22, 5) here); ibis says
    DECIMAL(12, 3), and fetching DuckDB's result into that fails."""
    data = Input(engine, COLUMNS)
    t = data.table
    expr = t.select("id", product=t.a * t.b)

    def check(rows: Rows) -> None:
        expected = {
            r["id"]: {"product": r["a"] * r["b"] if None not in (r["a"], r["b"]) else None}
            for r in rows
        }
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    for_all(engine, COLUMNS.tables(), check, examples=[EDGES])


@pytest.mark.parametrize(
    "engine_name",
    differs(
        "pyspark",
        "decimal / decimal is a DOUBLE on DuckDB (as ibis types it), a rounded DECIMAL on Spark",
    ),
)
def test_decimal_division(engine: Engine) -> None:
    data = Input(engine, COLUMNS)
    t = data.table
    expr = t.select("id", q=t.a / t.b)

    def check(rows: Rows) -> None:
        expected = {
            r["id"]: {"q": float(r["a"]) / float(r["b"]) if r["a"] is not None and r["b"] else None}
            for r in rows
        }
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    nonzero = COLUMNS.tables().filter(lambda rows: all(r["b"] != 0 for r in rows))
    for_all(engine, nonzero, check, examples=[EDGES])


@pytest.mark.parametrize(
    "engine_name",
    differs(
        "duckdb",
        "DuckDB's decimal mean comes back with the column's scale, Spark's with 4 more digits",
    ),
)
def test_decimal_mean(engine: Engine) -> None:
    """Spark's AVG of DECIMAL(p, s) is exact to s + 4 digits (rounded half up); through ibis,
    DuckDB's comes back with s digits."""
    data = Input(engine, COLUMNS)
    t = data.table
    expr = t.group_by("g").aggregate(mean=t.a.mean())

    def check(rows: Rows) -> None:
        groups: dict[str, list[Decimal]] = {}
        for r in rows:
            groups.setdefault(r["g"], [])
            if r["a"] is not None:
                groups[r["g"]].append(r["a"])
        with localcontext() as ctx:
            ctx.prec = 50
            expected = {
                g: {"mean": _round(sum(vs) / len(vs), 6) if vs else None}
                for g, vs in groups.items()
            }
        assert_rows(data.fetch(expr, rows), expected, key="g")

    witness = COLUMNS.rows({"g": "a", "a": Decimal("0.01")}, {"g": "a", "a": Decimal("0.02")})
    for_all(engine, COLUMNS.tables(), check, examples=[witness])
