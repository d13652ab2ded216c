"""Casts between strings and numbers, and from non-integers to integers; rounding."""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal

import ibis
import pyarrow as pa
import pytest
from hypothesis import strategies as st

from hydra_transforms.engines import Engine
from hydra_transforms.expr import parse_text
from tests.semantics.support import (
    Columns,
    Input,
    Rows,
    assert_rows,
    differs,
    floats,
    for_all,
    integers,
    nullable,
    texts,
)

WS = " \t\n\r\x0b\x0c"
NUMERIC_TEXT = Columns(
    s=(pa.string(), nullable(texts("0123456789+-.e_xX \t\n\u00a0\u0661", max_size=6)))
)
_INTEGER = re.compile(f"[{WS}]*[+-]?[0-9]+[{WS}]*")


def _each(data: Input, expr, oracle, column: str = "s"):  # type: ignore[no-untyped-def]
    """A check: ``expr``'s column ``v`` is ``oracle(value of column)``, NULL for NULL."""

    def check(rows: Rows) -> None:
        expected = {}
        for r in rows:
            value = r[column]
            want = oracle(value) if value is not None else None
            expected[r["id"]] = {"v": want}
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    return check


def _strict_integer(text: str) -> int | None:
    if not _INTEGER.fullmatch(text):
        return None
    value = int(text.strip(WS))
    return value if -(2**63) <= value < 2**63 else None


def _text(*values: str) -> Rows:
    return NUMERIC_TEXT.rows(*({"s": v} for v in values))


@pytest.mark.parametrize(
    "engine_name",
    differs("duckdb", "DuckDB also reads '1.5' (rounded), '1e3', '0x1F' and '1_000' as integers"),
)
def test_text_to_integer(engine: Engine) -> None:
    """``try_cast(int64)`` of text: an optionally signed run of ASCII digits, with ASCII
    whitespace around it, in range; anything else is NULL (Spark)."""
    data = Input(engine, NUMERIC_TEXT)
    expr = data.table.select("id", v=data.table.s.try_cast("int64"))

    edge = _text(
        "12", " -7\t", "+5", "007", "", "1.5", "1e3", "0x1F", "1_000", "\u00a012", "\u0661\u0662"
    )
    for_all(engine, NUMERIC_TEXT.tables(), _each(data, expr, _strict_integer), examples=[edge])


def test_text_to_integer_checked_first(engine: Engine) -> None:
    """``expr.parse_text`` (how CSV sources are typed) checks the text with a pattern before
    ``try_cast``: Spark's answer on both engines."""
    data = Input(engine, NUMERIC_TEXT)
    expr = data.table.select("id", v=parse_text(data.table.s, ibis.dtype("int64")))
    edge = _text("12", " -7\t", "+5", "", "1.5", "1e3", "0x1F", "1_000", "\u00a012", "\u0661\u0662")
    for_all(engine, NUMERIC_TEXT.tables(), _each(data, expr, _strict_integer), examples=[edge])


@pytest.mark.parametrize(
    "engine_name",
    differs("pyspark", "Spark does not read '1_000' as a number; DuckDB does, as Python does"),
)
def test_text_to_float(engine: Engine) -> None:
    """``try_cast(float64)`` of text reads what Python's ``float()`` reads (the oracle)."""
    data = Input(engine, NUMERIC_TEXT)
    expr = data.table.select("id", v=data.table.s.try_cast("float64"))

    def oracle(text: str) -> float | None:
        try:
            return float(text)
        except ValueError:
            return None

    edge = _text("1_000", "1.5", " -7\t", "1e3", ".5", "5.", "", "inf", "-Infinity", "NaN")
    for_all(engine, NUMERIC_TEXT.tables(), _each(data, expr, oracle), examples=[edge])


def test_parse_text_to_float(engine: Engine) -> None:
    """``expr.parse_text`` reads what both engines read as a float: Python's ``float()``
    without underscores."""
    data = Input(engine, NUMERIC_TEXT)
    expr = data.table.select("id", v=parse_text(data.table.s, ibis.dtype("float64")))

    def oracle(text: str) -> float | None:
        try:
            return None if "_" in text else float(text)
        except ValueError:
            return None

    edge = _text("1_000", "1.5", " -7\t", "1e3", ".5", "5.", "", "inf", "-Infinity", "NaN")
    for_all(engine, NUMERIC_TEXT.tables(), _each(data, expr, oracle), examples=[edge])


INTS = Columns(i=(pa.int64(), nullable(integers())))


def test_integer_to_text_and_float(engine: Engine) -> None:
    data = Input(engine, INTS)
    t = data.table
    expr = t.select("id", s=t.i.cast("string"), f=t.i.cast("float64"))

    def check(rows: Rows) -> None:
        expected = {
            r["id"]: {"s": None, "f": None}
            if r["i"] is None
            else {"s": str(r["i"]), "f": float(r["i"])}
            for r in rows
        }
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    edge = INTS.rows({"i": -(2**63)}, {"i": 2**63 - 1}, {"i": 2**53 + 1}, {"i": 0})
    for_all(engine, INTS.tables(), check, examples=[edge])


FLOATS = Columns(x=(pa.float64(), nullable(floats())))


def _duckdb_text(x: float) -> str:
    return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(x), repr(x))


@pytest.mark.parametrize(
    "engine_name",
    differs("pyspark", "Spark writes floats as Java does (1.0E20, Infinity, NaN)"),
)
def test_float_to_text(engine: Engine) -> None:
    """DuckDB writes the shortest text that reads back as the same float, as Python's
    ``repr`` does (the oracle)."""
    data = Input(engine, FLOATS)
    expr = data.table.select("id", v=data.table.x.cast("string"))
    edge = FLOATS.rows(*({"x": x} for x in [1e20, 0.1, 123456789.125, math.inf, math.nan]))
    for_all(engine, FLOATS.tables(), _each(data, expr, _duckdb_text, "x"), examples=[edge])


NON_INTEGERS = Columns(
    x=(pa.float64(), nullable(st.floats(-1e15, 1e15).map(lambda v: v + 0.0))),
    d=(
        pa.decimal128(10, 2),
        nullable(st.integers(-(10**9), 10**9).map(lambda i: Decimal(i).scaleb(-2))),
    ),
)
HALVES = NON_INTEGERS.rows(
    *(
        {"x": x, "d": Decimal(repr(x)).quantize(Decimal("0.01"))}
        for x in [0.5, 1.5, 2.5, -2.5, 3.7, -3.7, 0.49999999999999994, 0.125]
    )
)


@pytest.mark.parametrize(
    "engine_name",
    differs(
        "duckdb", "casting a float or decimal to an integer rounds on DuckDB, truncates on Spark"
    ),
)
def test_non_integers_cast_to_integers(engine: Engine) -> None:
    """Spark truncates toward zero (as Python's ``int()``, the oracle); DuckDB rounds to the
    nearest integer (ties to even for floats, away from zero for decimals)."""
    data = Input(engine, NON_INTEGERS)
    t = data.table
    expr = t.select("id", x=t.x.cast("int64"), d=t.d.cast("int64"))

    def check(rows: Rows) -> None:
        expected = {r["id"]: {c: None if r[c] is None else int(r[c]) for c in "xd"} for r in rows}
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    for_all(engine, NON_INTEGERS.tables(), check, examples=[HALVES])


def _half_up(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def test_round_floor_and_ceil_to_integers(engine: Engine) -> None:
    """``round()`` (half away from zero, on the float's exact value), ``floor()`` and
    ``ceil()`` give int64 on both engines: use them instead of a cast."""
    data = Input(engine, NON_INTEGERS)
    t = data.table
    expr = t.select("id", round=t.x.round(), floor=t.x.floor(), ceil=t.x.ceil())

    def check(rows: Rows) -> None:
        expected = {
            r["id"]: dict.fromkeys(["round", "floor", "ceil"])
            if r["x"] is None
            else {
                "round": int(_half_up(Decimal(r["x"]), 0)),
                "floor": math.floor(r["x"]),
                "ceil": math.ceil(r["x"]),
            }
            for r in rows
        }
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    for_all(engine, NON_INTEGERS.tables(), check, examples=[HALVES])


@pytest.mark.parametrize(
    "engine_name",
    differs(
        "duckdb", "round(x, n) of a float: DuckDB rounds the binary value, Spark the decimal text"
    ),
)
def test_round_floats_to_decimal_places(engine: Engine) -> None:
    """Spark rounds the shortest decimal text of the float half up (1.005 -> 1.01, the
    oracle); DuckDB scales the binary value (1.005 is 1.00499999999999989..., -> 1.0)."""
    data = Input(engine, NON_INTEGERS)
    expr = data.table.select("id", v=data.table.x.round(2))
    oracle = lambda x: float(_half_up(Decimal(repr(x)), 2))  # noqa: E731
    witness = NON_INTEGERS.rows({"x": 1.005}, {"x": 2.675}, {"x": -1.005})
    for_all(engine, NON_INTEGERS.tables(), _each(data, expr, oracle, "x"), examples=[witness])
