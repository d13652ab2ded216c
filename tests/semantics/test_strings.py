"""String functions: length, substrings, case mapping, trimming, regular expressions, split."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from hydra_transforms.engines import Engine
from hydra_transforms.expr import WHITESPACE, split_literal, strip_whitespace
from tests.semantics.support import (
    Columns,
    Input,
    Rows,
    assert_rows,
    differs,
    for_all,
    nullable,
    texts,
)

TEXT = Columns(s=(pa.string(), nullable(texts())))
WS = " \t\n\r\x0b\x0c"  # the characters of expr.WHITESPACE


def _check_each(data: Input, expr, oracle) -> callable:  # type: ignore[valid-type]
    """A check comparing ``expr`` (id + columns) with ``oracle(s)`` (columns) row by row;
    a NULL string gives NULL in every column."""

    def check(rows: Rows) -> None:
        expected = {}
        for r in rows:
            want = oracle(r["s"] if r["s"] is not None else "")
            expected[r["id"]] = want if r["s"] is not None else dict.fromkeys(want)
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    return check


def _texts(*values: str | None) -> Rows:
    return TEXT.rows(*({"s": v} for v in values))


EDGES = _texts("", None, "abc", "a\u0301", "😀x中", "İΣ", " \x0bx\t\n", "a.b.c", "x\n", "é\u2028")

SUBSTRINGS = [(0, 2), (1, 3), (2, 0), (5, None), (1, None), (0, None)]


def test_length_substrings_and_find(engine: Engine) -> None:
    """Lengths count code points (a combining mark is one, an emoji is one); ``substr`` is
    0-based (negative starts: see the next test)."""
    data = Input(engine, TEXT)
    s = data.table.s
    expr = data.table.select(
        "id",
        length=s.length(),
        left=s.left(2),
        right=s.right(2),
        find=s.find("b"),
        **{f"substr_{i}": s.substr(a, n) for i, (a, n) in enumerate(SUBSTRINGS)},
    )

    def oracle(text: str) -> dict:
        out = {
            "length": len(text),
            "left": text[:2],
            "right": text[-2:],
            "find": text.find("b"),
        }
        for i, (a, n) in enumerate(SUBSTRINGS):
            out[f"substr_{i}"] = text[a:] if n is None else text[a : a + n]
        return out

    for_all(engine, TEXT.tables(), _check_each(data, expr, oracle), examples=[EDGES])


@pytest.mark.parametrize(
    "engine_name",
    [
        pytest.param(
            name,
            marks=[
                getattr(pytest.mark, name),
                pytest.mark.xfail(
                    raises=AssertionError,
                    strict=True,
                    reason="a negative substr start before the beginning (docs/engines.md)",
                ),
            ],
            id=name,
        )
        for name in ("duckdb", "pyspark")
    ],
)
def test_substr_with_a_start_before_the_beginning(engine: Engine) -> None:
    """ibis turns a negative start into a 1-based SQL position, which is 0 or negative when
    the start reaches before the first character: DuckDB then counts the positions before 1
    towards the length, Spark counts a negative position from the end again. Neither gives
    Python's slice (the oracle); a start within the string is the same on both."""
    data = Input(engine, TEXT)
    s = data.table.s
    expr = data.table.select("id", a=s.substr(-5), b=s.substr(-3, 2))
    rows = _texts("abc", "x\n")
    got = data.fetch(expr, rows)
    assert_rows(got, {r["id"]: {"a": r["s"][-5:], "b": r["s"][-3:][:2]} for r in rows})


NEEDLES = ["", "a", "é", "ab", ".", "\n"]


def test_contains_startswith_endswith(engine: Engine) -> None:
    data = Input(engine, TEXT)
    s = data.table.s
    expr = data.table.select(
        "id",
        **{f"contains_{i}": s.contains(n) for i, n in enumerate(NEEDLES)},
        **{f"startswith_{i}": s.startswith(n) for i, n in enumerate(NEEDLES)},
        **{f"endswith_{i}": s.endswith(n) for i, n in enumerate(NEEDLES)},
    )

    def oracle(text: str) -> dict:
        out = {}
        for i, n in enumerate(NEEDLES):
            out |= {
                f"contains_{i}": n in text,
                f"startswith_{i}": text.startswith(n),
                f"endswith_{i}": text.endswith(n),
            }
        return out

    for_all(engine, TEXT.tables(), _check_each(data, expr, oracle), examples=[EDGES])


def test_replace_a_literal(engine: Engine) -> None:
    data = Input(engine, TEXT)
    s = data.table.s
    expr = data.table.select("id", r1=s.replace("a", "XY"), r2=s.replace(".", ""))

    def oracle(text: str) -> dict:
        return {"r1": text.replace("a", "XY"), "r2": text.replace(".", "")}

    for_all(engine, TEXT.tables(), _check_each(data, expr, oracle), examples=[EDGES])


@pytest.mark.parametrize(
    "engine_name",
    differs("pyspark", "Spark lower-cases with Java's full, context-sensitive mapping"),
)
def test_lower(engine: Engine) -> None:
    """DuckDB maps each character on its own (İ -> i, a capital sigma -> a small one everywhere); Spark uses Java's
    full mapping (İ -> i + U+0307, a final Σ -> ς)."""
    data = Input(engine, TEXT)
    expr = data.table.select("id", lower=data.table.s.lower())

    def oracle(text: str) -> dict:
        return {"lower": "".join("i" if c == "İ" else c.lower() for c in text)}

    for_all(engine, TEXT.tables(), _check_each(data, expr, oracle), examples=[_texts("İ", "ΣΑΣ")])


@pytest.mark.parametrize(
    "engine_name",
    differs("pyspark", "Spark upper-cases with Java's full mapping (ß -> SS, ﬁ -> FI)"),
)
def test_upper(engine: Engine) -> None:
    """DuckDB maps each character to one character (ß -> ẞ, ﬁ unchanged); Spark may map one
    character to several."""
    data = Input(engine, TEXT)
    expr = data.table.select("id", upper=data.table.s.upper())

    def one(c: str) -> str:
        return "ẞ" if c == "ß" else (c.upper() if len(c.upper()) == 1 else c)

    def oracle(text: str) -> dict:
        return {"upper": "".join(map(one, text))}

    for_all(engine, TEXT.tables(), _check_each(data, expr, oracle), examples=[_texts("ß", "ﬁ")])


def test_strip_whitespace(engine: Engine) -> None:
    """``strip_whitespace`` removes the six ASCII whitespace characters at both ends; the same
    patterns strip one end (the alternative to ``lstrip``/``rstrip``)."""
    data = Input(engine, TEXT)
    s = data.table.s
    expr = data.table.select(
        "id",
        s=strip_whitespace(s),
        l=s.re_replace(f"^{WHITESPACE}+", ""),
        r=s.re_replace(f"{WHITESPACE}+\\z", ""),
    )
    oracle = lambda text: {"s": text.strip(WS), "l": text.lstrip(WS), "r": text.rstrip(WS)}  # noqa: E731
    edge = _texts("facebook.com", " firm.de\x0b", "\x0c\r\n\t x \x85", "\u00a0y\u2028")
    for_all(engine, TEXT.tables(), _check_each(data, expr, oracle), examples=[edge])


@pytest.mark.parametrize(
    "engine_name",
    differs("pyspark", "ibis' TRIM literal for Spark trims the letters v and f"),
)
def test_strip_without_the_helper(engine: Engine) -> None:
    """Why ``strip_whitespace`` is needed."""
    data = Input(engine, TEXT)
    got = data.fetch(data.table.select("id", s=data.table.s.strip()), _texts("facebook.com"))
    assert_rows(got, {0: {"s": "facebook.com"}})


@pytest.mark.parametrize(
    "engine_name",
    differs("pyspark", "lstrip/rstrip trim only spaces on Spark"),
)
def test_lstrip_and_rstrip(engine: Engine) -> None:
    data = Input(engine, TEXT)
    s = data.table.s
    expr = data.table.select("id", l=s.lstrip(), r=s.rstrip())
    oracle = lambda text: {"l": text.lstrip(WS), "r": text.rstrip(WS)}  # noqa: E731
    for_all(engine, TEXT.tables(), _check_each(data, expr, oracle), examples=[_texts("\tx\n")])


def test_the_whitespace_class(engine: Engine) -> None:
    """``expr.WHITESPACE`` matches the same six characters on both engines."""
    data = Input(engine, TEXT)
    s = data.table.s
    expr = data.table.select(
        "id", any=s.re_search(WHITESPACE), only=s.re_search(f"^{WHITESPACE}+\\z")
    )

    def oracle(text: str) -> dict:
        return {
            "any": any(c in WS for c in text),
            "only": bool(text) and all(c in WS for c in text),
        }

    edge = _texts("\x0b", "a b", "\u00a0", "\x85", "\u2028", "\t\n")
    for_all(engine, TEXT.tables(), _check_each(data, expr, oracle), examples=[edge])


@pytest.mark.parametrize(
    "engine_name",
    differs("duckdb", r"\s does not match the vertical tab in RE2; it does in Java"),
)
def test_backslash_s_without_the_whitespace_class(engine: Engine) -> None:
    """Why ``WHITESPACE`` is needed: ``\\s`` differs on "\\x0b"."""
    data = Input(engine, TEXT)
    got = data.fetch(data.table.select("id", m=data.table.s.re_search(r"\s")), _texts("\x0b"))
    assert_rows(got, {0: {"m": True}})


# Patterns in the syntax RE2 and java.util.regex share, with one meaning in both (and in
# Python's re with re.ASCII, the oracle; Python spells \z as \Z).
SHARED_PATTERNS = [
    r"^ab",
    r"[0-9]{2,}",
    r"(ab|cd)+e?",
    r"[^a-z0-9 ]",
    r"\w+\d",
    r"a\.b",
    r"[éß]",
    r"x*y",
    r"[a-c]\z",
    r"\A[a-z]*\z",
    r"(?s)a.b",
]


def _py(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace(r"\z", r"\Z"), re.ASCII)


def test_regex_search_in_the_shared_syntax(engine: Engine) -> None:
    data = Input(engine, TEXT)
    s = data.table.s
    expr = data.table.select(
        "id", **{f"p{i}": s.re_search(p) for i, p in enumerate(SHARED_PATTERNS)}
    )

    def oracle(text: str) -> dict:
        return {f"p{i}": _py(p).search(text) is not None for i, p in enumerate(SHARED_PATTERNS)}

    edge = _texts("ab", "abcde", "x\n", "a.b", "ß", "12", "_9", "abc\n", "\u2028c")
    for_all(engine, TEXT.tables(), _check_each(data, expr, oracle), examples=[edge])


def _search_differs(
    engine: Engine, patterns: list[str], oracle_flags: int, witness: Rows, alphabet: str | None
) -> None:
    cols = TEXT if alphabet is None else Columns(s=(pa.string(), nullable(texts(alphabet))))
    data = Input(engine, cols)
    s = data.table.s
    expr = data.table.select("id", **{f"p{i}": s.re_search(p) for i, p in enumerate(patterns)})

    def oracle(text: str) -> dict:
        return {
            f"p{i}": re.search(p.replace("$", r"\Z"), text, oracle_flags) is not None
            for i, p in enumerate(patterns)
        }

    for_all(engine, cols.tables(), _check_each(data, expr, oracle), examples=[witness])


@pytest.mark.parametrize(
    "engine_name",
    differs("pyspark", "Java's $ also matches before a final line terminator"),
)
def test_dollar_at_a_final_line_terminator(engine: Engine) -> None:
    """RE2's ``$`` matches only at the end of the text (the oracle: Python's ``\\Z``)."""
    witness = _texts("x\n", "x\r\n", "x\u2028", "x\x85")
    _search_differs(engine, [r"x$", r"^[a-z]*$"], re.ASCII, witness, None)


@pytest.mark.parametrize(
    "engine_name",
    differs("pyspark", "Java's . does not match \\r, U+0085, U+2028, U+2029"),
)
def test_dot_and_line_terminators(engine: Engine) -> None:
    """RE2's ``.`` matches everything but ``\\n`` (as Python's does)."""
    witness = _texts("a\rb", "a\x85b", "a\u2028b", "a\nb")
    _search_differs(engine, [r"a.b", r"^.+$"], re.ASCII, witness, None)


@pytest.mark.parametrize(
    "engine_name",
    differs("pyspark", "Java's (?i) folds ASCII letters only"),
)
def test_case_insensitive_matching_beyond_ascii(engine: Engine) -> None:
    """RE2 folds case by Unicode simple folding (é/É, long s/s, Kelvin sign/k), as Python's re does."""
    witness = _texts("É", "\u017f", "\u212a")
    patterns = ["(?i)é", "(?i)s", "(?i)k", "(?i)ab"]
    _search_differs(engine, patterns, 0, witness, "eEéÉsS\u017fkK\u212aaAbB")


@pytest.mark.parametrize(
    "engine_name",
    differs("pyspark", "Java 17's \\b treats non-ASCII letters as word characters"),
)
def test_word_boundary_beyond_ascii(engine: Engine) -> None:
    """RE2's ``\\b`` is between an ASCII word character and anything else."""
    witness = _texts("café bar", "été")
    _search_differs(engine, [r"caf\b", r"\bt"], re.ASCII, witness, "cafébr té_1")


EXTRACTS = [
    (r"([a-z]+)([0-9]*)", 1),
    (r"([a-z]+)([0-9]*)", 2),
    (r"(x)|(a)", 2),
    (r"[0-9]+", 0),
    (r"^(\W*)", 1),
]


def test_regex_extract(engine: Engine) -> None:
    """The group of the first match; '' when nothing matches or the group took no part."""
    data = Input(engine, TEXT)
    s = data.table.s
    expr = data.table.select(
        "id", **{f"e{i}": s.re_extract(p, g) for i, (p, g) in enumerate(EXTRACTS)}
    )

    def oracle(text: str) -> dict:
        out = {}
        for i, (p, g) in enumerate(EXTRACTS):
            m = _py(p).search(text)
            out[f"e{i}"] = (m.group(g) or "") if m else ""
        return out

    edge = _texts("abc12", "x", "a", "99", "!?a", "")
    for_all(engine, TEXT.tables(), _check_each(data, expr, oracle), examples=[edge])


REPLACEMENTS = [(r"[aeiou]", "#"), (r"b+", ""), (r"[0-9]+", "<n>"), (r"(ab|cd)", "-")]


def test_regex_replace(engine: Engine) -> None:
    """Every match replaced, for patterns that cannot match the empty string and replacement
    text without ``\\`` or ``$``."""
    data = Input(engine, TEXT)
    s = data.table.s
    expr = data.table.select(
        "id", **{f"r{i}": s.re_replace(p, r) for i, (p, r) in enumerate(REPLACEMENTS)}
    )

    def oracle(text: str) -> dict:
        return {f"r{i}": _py(p).sub(r, text) for i, (p, r) in enumerate(REPLACEMENTS)}

    edge = _texts("abba", "cdab12", "bbb", "")
    for_all(engine, TEXT.tables(), _check_each(data, expr, oracle), examples=[edge])


@pytest.mark.parametrize(
    "engine_name",
    [
        pytest.param(
            name,
            marks=[
                getattr(pytest.mark, name),
                pytest.mark.xfail(raises=AssertionError, strict=True, reason=reason),
            ],
            id=name,
        )
        for name, reason in [
            ("duckdb", "RE2 skips an empty match right after a match (docs/engines.md)"),
            (
                "pyspark",
                "Java matches empty strings inside a UTF-16 surrogate pair (docs/engines.md)",
            ),
        ]
    ],
)
def test_regex_replace_of_empty_matches(engine: Engine) -> None:
    """A pattern that matches the empty string: after a match, RE2 does not try an empty
    match at the same place, Java and Python (the oracle) do; Java also tries between the two
    UTF-16 halves of a character outside the BMP (an emoji), whose halves then become '?'."""
    data = Input(engine, TEXT)
    expr = data.table.select("id", r=data.table.s.re_replace("x*", "-"))
    oracle = lambda text: {"r": re.sub("x*", "-", text)}  # noqa: E731
    witness = _texts("x\ny", "\U0001f600")
    for_all(engine, TEXT.tables(), _check_each(data, expr, oracle), examples=[witness])


@pytest.mark.parametrize(
    "engine_name",
    differs("pyspark", "Spark's replacement refers to groups as $1; \\1 is a literal 1"),
)
def test_regex_replace_with_a_group_reference(engine: Engine) -> None:
    """DuckDB (RE2) reads ``\\1`` in the replacement as group 1, as Python's re does."""
    data = Input(engine, TEXT)
    expr = data.table.select("id", r=data.table.s.re_replace("([a-z])", r"<\1>"))
    oracle = lambda text: {"r": re.sub("([a-z])", r"<\1>", text)}  # noqa: E731
    for_all(engine, TEXT.tables(), _check_each(data, expr, oracle), examples=[_texts("ab")])


SEPARATORS = [".", "|", ", ", "\\", "a", "é"]


def test_split_on_a_literal_separator(engine: Engine) -> None:
    """``split_literal`` splits on the text of the separator on both engines."""
    data = Input(engine, TEXT)
    s = data.table.s
    expr = data.table.select(
        "id", **{f"p{i}": split_literal(s, sep) for i, sep in enumerate(SEPARATORS)}
    )
    oracle = lambda text: {f"p{i}": text.split(sep) for i, sep in enumerate(SEPARATORS)}  # noqa: E731
    edge = _texts("a.b", "..", "", "x|y|", "a, b,c", "\\a\\", "été")
    for_all(engine, TEXT.tables(), _check_each(data, expr, oracle), examples=[edge])


@pytest.mark.parametrize(
    "engine_name",
    differs("pyspark", "Spark's split reads the separator as a regular expression"),
)
def test_split_without_the_helper(engine: Engine) -> None:
    """Why ``split_literal`` is needed."""
    data = Input(engine, TEXT)
    got = data.fetch(data.table.select("id", p=data.table.s.split(".")), _texts("a.b"))
    assert_rows(got, {0: {"p": ["a", "b"]}})


SPLIT_PATTERNS = [r"[.,]", r"[0-9]+", r" +", r"a|b"]


def test_regex_split(engine: Engine) -> None:
    """``re_split`` with patterns that cannot match the empty string; empty pieces (leading,
    trailing, between adjacent matches) are kept."""
    data = Input(engine, TEXT)
    s = data.table.s
    expr = data.table.select("id", **{f"p{i}": s.re_split(p) for i, p in enumerate(SPLIT_PATTERNS)})
    oracle = lambda text: {f"p{i}": _py(p).split(text) for i, p in enumerate(SPLIT_PATTERNS)}  # noqa: E731
    edge = _texts(",a.b,", "1a22b", "  x ", "", "ab")
    for_all(engine, TEXT.tables(), _check_each(data, expr, oracle), examples=[edge])
