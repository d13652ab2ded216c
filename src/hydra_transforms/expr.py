"""Expression helpers that give the same answer on every engine, where ibis' own do not."""

from __future__ import annotations

import ibis.expr.types as ir

__all__ = ["strip_whitespace"]


def strip_whitespace(value: ir.StringValue) -> ir.StringValue:
    """Remove leading and trailing whitespace.

    Use this instead of ``StringValue.strip()``: ibis 12 compiles ``strip()`` for PySpark to
    ``TRIM(' \\t\\n\\r\\v\\f' FROM x)``, and Spark's SQL parser reads ``\\v`` and ``\\f`` in that
    literal as the letters ``v`` and ``f`` — so on Spark ``'facebook.com'.strip()`` gives
    ``'acebook.com'``. A regular expression means the same on DuckDB and Spark.
    """
    return value.re_replace(r"^\s+|\s+$", "")
