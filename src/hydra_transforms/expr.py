"""Expression helpers that give the same answer on every engine, where ibis' own do not."""

from __future__ import annotations

import ibis.expr.types as ir

__all__ = ["WHITESPACE", "strip_whitespace"]

# ASCII whitespace, spelled out: ``\s`` means [\t\n\f\r ] in DuckDB's RE2 but also includes the
# vertical tab in Java's regex (Spark), so the two engines would disagree on "\x0b".
WHITESPACE = r"[ \t\n\r\f\x0b]"


def strip_whitespace(value: ir.StringValue) -> ir.StringValue:
    """Remove leading and trailing whitespace.

    Use this instead of ``StringValue.strip()``: ibis 12 compiles ``strip()`` for PySpark to
    ``TRIM(' \\t\\n\\r\\v\\f' FROM x)``, and Spark's SQL parser reads ``\\v`` and ``\\f`` in that
    literal as the letters ``v`` and ``f`` — so on Spark ``'facebook.com'.strip()`` gives
    ``'acebook.com'``. A regular expression means the same on DuckDB and Spark.
    """
    return value.re_replace(f"^{WHITESPACE}+|{WHITESPACE}+$", "")
