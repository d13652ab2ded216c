"""Expression helpers that give the same answer on every engine, where ibis' own do not.

Each helper replaces an ibis expression that compiles to SQL meaning different things on
DuckDB and on Spark (or that ibis compiles wrongly for one of them). docs/engines.md lists
them next to the differences that remain, and tests/semantics checks both engines.
"""

from __future__ import annotations

import string
from typing import Any, cast

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
from ibis.common.deferred import deferrable
from ibis.expr.builders import LegacyWindowBuilder

__all__ = [
    "WHITESPACE",
    "cast_exactly",
    "divide",
    "element_at",
    "epoch_seconds",
    "is_inf",
    "is_null",
    "modulo",
    "parse_text",
    "running_window",
    "split_literal",
    "strip_whitespace",
]

# ASCII whitespace, spelled out: ``\s`` means [\t\n\f\r ] in DuckDB's RE2 but also includes the
# vertical tab in Java's regex (Spark), so the two engines would disagree on "\x0b".
WHITESPACE = r"[ \t\n\r\f\x0b]"

# ASCII punctuation, escaped with a backslash in a pattern that must match it literally: both
# RE2 and java.util.regex read a backslash before a non-alphanumeric ASCII character as that
# character (before a letter or digit it would start a class or a back-reference).
_REGEX_PUNCTUATION = frozenset(string.punctuation)


def strip_whitespace(value: ir.StringValue) -> ir.StringValue:
    """Remove leading and trailing whitespace.

    Use this instead of ``StringValue.strip()``: ibis 12 compiles ``strip()`` for PySpark to
    ``TRIM(' \\t\\n\\r\\v\\f' FROM x)``, and Spark's SQL parser reads ``\\v`` and ``\\f`` in that
    literal as the letters ``v`` and ``f`` — so on Spark ``'facebook.com'.strip()`` gives
    ``'acebook.com'``. A regular expression means the same on DuckDB and Spark, written with
    ``\\z`` and not ``$``: Java's ``$`` also matches before a final line terminator, so on Spark
    ``$`` stripped the space in ``"x \\x85"`` (and left the U+0085).
    """
    return value.re_replace(f"^{WHITESPACE}+|{WHITESPACE}+\\z", "")


@deferrable
def cast_exactly(value: ir.Value, to: Any) -> ir.Value:
    """``value`` cast to ``to`` in the SQL, even where ibis believes it already has that type.

    ``Value.cast`` leaves out a cast to the type ibis infers, and ibis' inference is not what
    the engines compute: ``row_number()``, ``rank()`` and ``dense_rank()`` are INT (32 bits) on
    Spark, so ``row_number().over(w) * 1_000_000_000`` overflows there and not on DuckDB;
    DuckDB's ``SUM`` of BIGINT is a 128-bit HUGEINT that does not overflow where Spark's BIGINT
    does; Spark's ``second()`` has a fraction. ``cast_exactly(ibis.row_number().over(w),
    "int64")`` is BIGINT on both. Accepts deferred expressions (``ibis.row_number()``).
    """
    return ops.Cast(cast(ops.Value, value.op()), to=dt.dtype(to)).to_expr()


def divide(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.NumericValue:
    """``numerator / denominator``, NULL where the denominator is zero.

    Use this instead of ``/`` when the denominator can be zero: Spark (ANSI mode, which the
    library keeps on) raises DIVIDE_BY_ZERO for the whole query, while DuckDB returns
    ``inf``, ``-inf`` or ``NaN``. Both engines agree that a NULL operand gives NULL.
    """
    return numerator / denominator.nullif(ibis.literal(0))


def modulo(dividend: ir.NumericValue, divisor: ir.NumericValue) -> ir.NumericValue:
    """``dividend % divisor`` (the sign follows the dividend), NULL where the divisor is zero.

    Spark (ANSI mode) raises DIVIDE_BY_ZERO for ``x % 0``; DuckDB returns NULL for integers
    and NaN for floats.
    """
    return dividend % divisor.nullif(ibis.literal(0))


def is_null(value: ir.Value) -> ir.BooleanValue:
    """Whether ``value`` is SQL NULL; NaN is a number, not NULL (never NULL itself).

    Use this instead of ``isnull()`` on float columns: ibis compiles ``isnull()`` for PySpark
    to ``x IS NULL OR isnan(x)``, so NaN counts as null on Spark and not on DuckDB.
    (Contracts count NaN as null on both engines; see docs/transforms.md.)
    """
    if not value.type().is_floating():
        return value.isnull()
    # isnan(NULL) is NULL on DuckDB and FALSE on Spark: both take the ELSE branch.
    number = cast(ir.FloatingValue, value)
    return cast(ir.BooleanValue, ibis.ifelse(number.isnan(), False, value.isnull()))


def is_inf(value: ir.FloatingValue) -> ir.BooleanValue:
    """Whether ``value`` is ``inf`` or ``-inf`` (NULL for NULL).

    Use this instead of ``isinf()``: ibis 12 compiles ``isinf()`` for PySpark to
    ``FALSE OR FALSE`` (it compares sqlglot nodes in Python instead of building SQL), so it is
    false for every value on Spark.
    """
    return (value == ibis.literal(float("inf"))) | (value == ibis.literal(float("-inf")))


def epoch_seconds(value: ir.TimestampValue) -> ir.IntegerValue:
    """Whole seconds since 1970-01-01 00:00:00 UTC, rounded down, as int64.

    Use this instead of ``epoch_seconds()``: ibis types that as int32, but DuckDB computes a
    DOUBLE with the fraction of the second (fetching ``1.5`` fails, and casting it rounds to
    2) and Spark a BIGINT; after 2038 the int32 overflows. Truncating to the second first
    makes both engines count whole seconds, before and after 1970.
    """
    return cast(ir.IntegerValue, cast_exactly(value.truncate("s").epoch_seconds(), "int64"))


def running_window(*, order_by: Any, group_by: Any = None) -> LegacyWindowBuilder:
    """A window from the start of the partition to the current row *and its ties*.

    ``x.sum().over(running_window(order_by="day"))`` is a running total that is the same on
    every engine. ``cumsum()`` and ``ibis.cumulative_window`` frame by ROWS: rows that tie on
    the order key are then summed in whatever order the engine happens to read them, so the
    running totals of tied rows differ between DuckDB and Spark (and between runs). This
    window frames by RANGE: tied rows get the same total, which includes all of them.
    """
    return ibis.window(group_by=group_by, order_by=order_by, range=(None, 0))


def split_literal(value: ir.StringValue, separator: str) -> ir.ArrayValue:
    """``value`` split on every occurrence of the literal ``separator``.

    Use this instead of ``StringValue.split``: ibis compiles it to DuckDB's ``STR_SPLIT``,
    which splits on the text, and to Spark's ``SPLIT``, which reads the separator as a regular
    expression (``"a.b".split(".")`` is ``['', '', '', '']`` on Spark). Here the separator is
    escaped into a pattern that matches only itself in both regex dialects.
    """
    if not separator:
        raise ValueError("split_literal needs a non-empty separator")
    pattern = "".join(f"\\{c}" if c in _REGEX_PUNCTUATION else c for c in separator)
    return value.re_split(pattern)


def element_at(array: ir.ArrayValue, index: int) -> ir.Value:
    """The element at ``index`` (0-based; negative counts from the end), NULL when the array
    is shorter (or NULL).

    Use this instead of ``array[index]``: with ANSI mode on (see engines.py), Spark raises
    INVALID_ARRAY_INDEX for an index past the end where DuckDB gives NULL, and ibis compiles
    ``array[-1]`` for Spark to ``ELEMENT_AT(array, 0)``, which always raises. Spark evaluates
    only the branch of the condition that applies, so the guarded index never fails.
    """
    length: Any = array.length()  # ibis' annotations do not allow comparing it with an int
    if index >= 0:
        return ibis.ifelse(length > index, array[index], ibis.null())
    return ibis.ifelse(length >= -index, array[length + index], ibis.null())


# An integer as text: an optionally signed run of ASCII digits, ASCII whitespace around it.
_INTEGER_TEXT = f"^{WHITESPACE}*[+-]?[0-9]+{WHITESPACE}*\\z"


def parse_text(text: ir.StringValue, to: dt.DataType) -> ir.Value:
    """``text`` read as a value of type ``to``; NULL where it does not read as one.

    The same text gives the same value on every engine, where ``try_cast`` does not
    (docs/engines.md): DuckDB also reads ``1.5`` (rounded to 2), ``1e3``, ``0x1F`` and
    ``1_000`` as integers and ``1_000`` as a float, which Spark reads as NULL; and DuckDB
    drops a UTC offset when it reads text as a zone-less timestamp, where Spark converts to
    UTC. Here integers must look like integers, an underscore is no digit, and timestamps
    are read with their offset and converted to UTC. CSV sources are typed with this.
    """
    if to.is_integer():
        return ibis.ifelse(text.re_search(_INTEGER_TEXT), text.try_cast(to), ibis.null(to))
    if to.is_floating():
        return ibis.ifelse(text.contains("_"), ibis.null(to), text.try_cast(to))
    if to.is_timestamp() and to.timezone is None:  # type: ignore[attr-defined]
        aware: Any = text.try_cast(dt.Timestamp(timezone="UTC"))
        return aware.cast(to)
    return text.try_cast(to)
