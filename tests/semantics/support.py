"""Machinery of the engine-semantics suite: generated rows, fast loading, exact fetching,
per-engine Hypothesis budgets, and comparison with an oracle (docs/engines.md).

A property is written once and runs on the engine of the test's parameter::

    TEXT = Columns(s=(pa.string(), nullable(texts())))

    def test_length(engine: Engine) -> None:
        data = Input(engine, TEXT)
        expr = data.table.select("id", n=data.table.s.length())  # built once per test

        def check(rows: Rows) -> None:
            expected = {r["id"]: {"n": None if r["s"] is None else len(r["s"])} for r in rows}
            assert_rows(data.fetch(expr, rows), expected, rows=rows)

        for_all(engine, TEXT.tables(), check, examples=[TEXT.rows({"s": "a\u0301"})])

Every table has an ``id`` column (the row's position), so results are compared per row
whatever order an engine returns them in. One query evaluates an operation over all the rows
of an example; ``for_all`` runs the explicit examples and a few generated ones (``EXAMPLES``),
the same ones on every run.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from hydra_transforms.engines import Engine, to_arrow

# Generated examples per property and engine (explicit examples run in addition). A DuckDB
# query costs ~3 ms, a Spark query 50-500 ms; the explicit examples carry the known edge cases.
# Spark Connect runs the pyspark engine's Spark behind gRPC, on which 3 are tried: 1 there
# (0 would leave the explicit examples only).
EXAMPLES = {"duckdb": 1, "pyspark": 3, "spark-connect": 1}
MAX_ROWS = 20

_SETTINGS = {
    name: settings(
        max_examples=max(count, 1),
        deadline=None,
        derandomize=True,  # the same examples on every run: CI cannot flake
        database=None,
        report_multiple_bugs=False,  # stop at the first failure (an expected one, under xfail)
        phases=(Phase.explicit, Phase.generate, Phase.shrink) if count else (Phase.explicit,),
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
        print_blob=False,
    )
    for name, count in EXAMPLES.items()
}


# ---------------------------------------------------------------------------------------------
# Parameters: every engine, or every engine with a known difference on one of them
# ---------------------------------------------------------------------------------------------


def differs(on: str, reason: str, raises: type[BaseException] | str = AssertionError) -> list:
    """The engine parameters, with a strict expected failure on ``on`` (see docs/engines.md).

    ``raises`` is the exception the differing engine's run ends with. A PySpark exception is
    named by its dotted path (``"pyspark.errors.exceptions.captured.ArithmeticException"``):
    importing pyspark costs ~0.4 s, so tests/semantics/conftest.py imports it only when a
    Spark test is selected.
    """
    marks = {"duckdb": [pytest.mark.duckdb], "pyspark": [pytest.mark.pyspark]}
    marks[on] = [
        *marks[on],
        pytest.mark.xfail(raises=raises, strict=True, reason=f"{reason} (docs/engines.md)"),
    ]
    return [pytest.param(name, marks=marks[name], id=name) for name in ("duckdb", "pyspark")]


# ---------------------------------------------------------------------------------------------
# Generated rows
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    """Input rows, each with its ``id`` (its position), and the Arrow types of the columns."""

    types: Mapping[str, pa.DataType]
    rows: tuple[dict[str, Any], ...]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.rows[index]

    def arrow(self) -> pa.Table:
        schema = pa.schema([("id", pa.int64()), *self.types.items()])
        return pa.Table.from_pylist(list(self.rows), schema=schema)

    def __repr__(self) -> str:
        body = "".join(f"\n    {row!r}," for row in self.rows)
        return f"Rows([{body}\n])"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how Hypothesis prints it
        printer.text(repr(self))


class Columns:
    """The input columns of a property: an Arrow type and a strategy for each.

    ``tables()`` generates Rows; ``rows(...)`` writes explicit ones (edge cases, or the
    witness of a difference), numbered like generated ones, missing columns NULL.
    """

    def __init__(self, **columns: tuple[pa.DataType, st.SearchStrategy[Any]]) -> None:
        self.types = {name: type_ for name, (type_, _) in columns.items()}
        self.strategies = {name: strategy for name, (_, strategy) in columns.items()}

    def tables(self, *, min_rows: int = 0, max_rows: int = MAX_ROWS) -> st.SearchStrategy[Rows]:
        row = st.fixed_dictionaries(self.strategies)
        return st.lists(row, min_size=min_rows, max_size=max_rows).map(self._number)

    def rows(self, *rows: Mapping[str, Any]) -> Rows:
        unknown = {c for row in rows for c in row} - set(self.types) - {"id"}
        assert not unknown, f"unknown columns {unknown}"
        return self._number([{c: row.get(c) for c in self.types} for row in rows])

    def _number(self, rows: Iterable[dict[str, Any]]) -> Rows:
        return Rows(self.types, tuple({"id": i, **row} for i, row in enumerate(rows)))


def nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def integers(bits: int = 64, *, small: int = 1000) -> st.SearchStrategy[int]:
    """Integers of a width: mostly small, sometimes at or near the limits."""
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    limits = [low, low + 1, high - 1, high, -1, 0, 1]
    return st.one_of(
        st.integers(max(low, -small), min(high, small)),
        st.sampled_from(limits),
        st.integers(low, high),
    )


FLOAT_SPECIALS = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -1e308, 5e-324]


def floats(*, exact: bool = False) -> st.SearchStrategy[float]:
    """Floats with NaN, infinities and signed zeros. ``exact``: finite values are multiples of
    1/4 below 1000, so that sums and means are exact whatever order an engine adds them in."""
    finite = (
        st.integers(-4000, 4000).map(lambda i: i / 4)
        if exact
        else st.floats(allow_nan=False, allow_infinity=False)
    )
    specials = st.sampled_from(FLOAT_SPECIALS[:5] if exact else FLOAT_SPECIALS)
    return st.one_of(finite, specials)


# Characters on which the engines have been seen to differ, plus plain ones.
TRICKY_CHARS = (
    "abcxyzABCXYZ0129 .,;:-_+*?|$^()[]{}\\/'\"%"  # ASCII text and regex syntax
    "\t\n\r\x0b\x0c\x85\u2028\u2029\u00a0"  # whitespace and line terminators
    "éÉàßẞİ\u0131Σ\u03c3ςﬁǅK\u017f"  # case mappings that are not one-to-one
    "\u0301😀中"  # a combining mark, a non-BMP character, CJK
)


def texts(alphabet: str = TRICKY_CHARS, *, max_size: int = 8) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), max_size=max_size)


# ---------------------------------------------------------------------------------------------
# Running an expression on an engine
# ---------------------------------------------------------------------------------------------

_names = itertools.count()


class Input:
    """A table of generated rows on an engine, reloaded for every example.

    The ibis table (``.table``) is bound once, so a test builds its expression once; each
    example replaces the data under the same name. DuckDB registers the Arrow table as a view
    (no copy: ~0.2 ms instead of ~5 ms for ``from_arrow``'s CREATE TABLE); Spark goes through
    ``Engine.from_arrow``, exactly as the library does.
    """

    def __init__(self, engine: Engine, columns: Columns) -> None:
        self.engine = engine
        self.types = columns.types
        self.name = f"semantics_{next(_names)}"
        self.table: ir.Table = self._load(columns.rows().arrow())  # type: ignore[assignment]
        if engine.name == "duckdb":
            self.table = engine.con.table(self.name)

    def _load(self, table: pa.Table) -> ir.Table | None:
        if self.engine.name == "duckdb":
            self.engine.con.con.register(self.name, table)  # replaces the previous data
            return None
        return self.engine.from_arrow(table, name=self.name)

    def load(self, rows: Rows) -> None:
        assert dict(rows.types) == self.types, "the rows must have the input's columns"
        self._load(rows.arrow())

    def fetch(self, expr: ir.Table, rows: Rows | None = None) -> list[dict[str, Any]]:
        """``expr``'s rows (normalised, see ``norm``) after loading ``rows``."""
        if rows is not None:
            self.load(rows)
        return [norm(row) for row in to_arrow(expr).to_pylist()]

    def arrow(self, expr: ir.Table, rows: Rows) -> pa.Table:
        self.load(rows)
        return to_arrow(expr)

    def outcome(self, expr: ir.Table, rows: Rows) -> list[dict[str, Any]] | Raised:
        """Like ``fetch``, but an error raised by the engine is a value (``Raised``)."""
        try:
            return self.fetch(expr, rows)
        except engine_errors(self.engine) as exc:
            return Raised(type(exc).__name__, str(exc).strip().splitlines()[0][:200])


@dataclass(frozen=True)
class Raised:
    """The outcome of a query that failed in the engine (compared by kind only)."""

    kind: str
    message: str = ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Raised)

    def __hash__(self) -> int:
        return 0


RAISES = Raised("an error")


def engine_errors(engine: Engine) -> tuple[type[BaseException], ...]:
    """The exceptions an engine raises for a failed query (imported when running)."""
    if engine.name == "duckdb":
        import duckdb

        # pyarrow: ibis converts DuckDB's result to the types ibis inferred
        return (duckdb.Error, pa.ArrowInvalid)
    from pyspark.errors.exceptions.base import PySparkException

    return (PySparkException,)


def for_all(
    engine: Engine,
    strategy: st.SearchStrategy[Any],
    check: Callable[[Any], None],
    *,
    examples: Sequence[Any] = (),
) -> None:
    """Run ``check`` on the explicit ``examples`` and on generated ones (a budget per engine).

    The first failure ends the run (explicit examples first, so that a known difference
    fails with its witness, in one query).
    """
    test = given(strategy)(check)
    for value in reversed(examples):
        test = example(value)(test)
    try:
        _SETTINGS[engine.name](test)()
    except BaseException as exc:
        # Hypothesis' own frames add nothing to a report (it prints the failing example), and
        # rendering them costs pytest ~30 ms per failure: every expected failure pays it.
        raise exc.with_traceback(_own_frames(exc.__traceback__)) from exc.__cause__


def _own_frames(tb: TracebackType | None) -> TracebackType | None:
    """The traceback without the frames of installed packages (site-packages)."""
    frames = []
    while tb is not None:
        if "site-packages" not in tb.tb_frame.f_code.co_filename:
            frames.append(tb)
        tb = tb.tb_next
    trimmed = None
    for frame in reversed(frames):
        trimmed = TracebackType(trimmed, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return trimmed


# ---------------------------------------------------------------------------------------------
# Comparing with the oracle
# ---------------------------------------------------------------------------------------------


class _NaN:
    """NaN as a value equal to itself, so that rows holding NaN compare equal."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _NaN)

    def __hash__(self) -> int:
        return 7

    def __repr__(self) -> str:
        return "nan"


NAN = _NaN()


def norm(value: Any, *, zero_sign: bool = False) -> Any:
    """A fetched or expected value in comparable form.

    NaN becomes ``NAN`` (equal to itself); -0.0 becomes 0.0 unless ``zero_sign``; a
    time-zone-aware timestamp becomes the naive UTC one (both sessions compute in UTC; the
    result *types* are checked by their own tests); Decimals compare by value already.
    """
    if isinstance(value, float):
        if math.isnan(value):
            return NAN
        return value if zero_sign else value + 0.0
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, list):
        return [norm(v, zero_sign=zero_sign) for v in value]
    if isinstance(value, dict):
        return {k: norm(v, zero_sign=zero_sign) for k, v in value.items()}
    return value


def _canon(value: Any) -> Any:
    """A hashable form of a normalised value (for comparing multisets of rows)."""
    if isinstance(value, dict):
        return tuple(sorted((k, _canon(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_canon(v) for v in value)
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def assert_rows(
    got: list[dict[str, Any]] | Raised,
    expected: Mapping[Any, dict[str, Any]] | Raised,
    *,
    rows: Rows | None = None,
    key: str | Sequence[str] = "id",
) -> None:
    """``got`` has exactly the rows of ``expected`` (keyed by ``key``; other columns compared).

    The message lists the first differing rows with their input row (when keyed by ``id``).
    """
    if isinstance(got, Raised) or isinstance(expected, Raised):
        assert type(got) is type(expected), f"expected {_show(expected)}, got {_show(got)}"
        return
    keys = [key] if isinstance(key, str) else list(key)
    by_key: dict[Any, dict[str, Any]] = {}
    for row in got:
        k = tuple(_canon(row[c]) for c in keys)
        assert k not in by_key, f"duplicate result row for {keys}={k}: {row}"
        by_key[k] = {c: v for c, v in row.items() if c not in keys}
    want = {
        (tuple(_canon(c) for c in k) if isinstance(k, tuple) else (_canon(k),)): norm(v)
        for k, v in expected.items()
    }
    problems = []
    for k in sorted(set(want) | set(by_key), key=repr):
        g, w = by_key.get(k), want.get(k)
        if g != w:
            diff = (
                {c: (w[c], g.get(c)) for c in w if g.get(c) != w[c]}
                if g is not None and w is not None
                else None
            )
            source = rows[k[0]] if rows is not None and keys == ["id"] and g is not None else None
            problems.append(
                f"  {dict(zip(keys, k, strict=True))}: expected {w}, got {g}"
                + (f"\n    differing (expected, got): {diff}" if diff else "")
                + (f"\n    input: {source}" if source else "")
            )
    assert not problems, f"{len(problems)} rows differ:\n" + "\n".join(problems[:6])


def assert_multiset(got: Iterable[dict[str, Any]] | Raised, expected: Iterable[Any]) -> None:
    """The same rows, in any order, duplicates counted."""
    if isinstance(got, Raised):
        raise AssertionError(f"expected rows, got {got}")
    g, w = Counter(map(_canon, got)), Counter(_canon(norm(v)) for v in expected)
    missing, extra = w - g, g - w
    problems = missing + extra
    assert not problems, f"missing {dict(missing)}; unexpected {dict(extra)}"


def _show(value: Any) -> str:
    if isinstance(value, Raised):
        return f"{value.kind}: {value.message}" if value.message else value.kind
    return repr(value)[:500]
