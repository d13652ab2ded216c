"""Timestamps: truncation, fields, epoch seconds, time zones, parsing and formatting.

Both sessions compute in UTC (``SET TimeZone = 'UTC'`` on DuckDB, ``spark.sql.session.timeZone``
on Spark). Results are compared as naive UTC values; their Arrow types have their own test.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.common.exceptions as ibis_exceptions
import pyarrow as pa
import pytest
from hypothesis import strategies as st

from hydra_transforms.engines import Engine
from hydra_transforms.expr import cast_exactly, epoch_seconds, parse_text
from tests.semantics.support import (
    RAISES,
    Columns,
    Input,
    Rows,
    assert_rows,
    differs,
    for_all,
    nullable,
)

MOMENTS = st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(2999, 12, 31))
TS = Columns(ts=(pa.timestamp("us"), nullable(MOMENTS)))
EDGES = TS.rows(
    *(
        {"ts": v}
        for v in [
            dt.datetime(2024, 3, 10, 1, 59, 59, 999999),
            dt.datetime(1969, 12, 31, 23, 59, 59, 500000),
            dt.datetime(2021, 1, 3, 0, 0, 0, 1),  # ISO week 53 of 2020
            dt.datetime(2024, 12, 30, 12),  # ISO week 1 of 2025
            dt.datetime(2020, 2, 29, 23),
            dt.datetime(1582, 10, 15),  # the first Gregorian day
            dt.datetime(2100, 1, 1),
            None,
        ]
    )
)
UNITS = ["Y", "Q", "M", "W", "D", "h", "m", "s", "ms"]
EPOCH = dt.datetime(1970, 1, 1)


def _each(data: Input, expr, oracle):  # type: ignore[no-untyped-def]
    def check(rows: Rows) -> None:
        expected = {}
        for r in rows:
            want = oracle(r["ts"] or EPOCH)
            expected[r["id"]] = want if r["ts"] is not None else dict.fromkeys(want)
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    return check


def _truncate(ts: dt.datetime, unit: str) -> dt.datetime:
    day = ts.replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "Y": day.replace(month=1, day=1),
        "Q": day.replace(month=(ts.month - 1) // 3 * 3 + 1, day=1),
        "M": day.replace(day=1),
        "W": day - dt.timedelta(days=ts.weekday()),
        "D": day,
        "h": ts.replace(minute=0, second=0, microsecond=0),
        "m": ts.replace(second=0, microsecond=0),
        "s": ts.replace(microsecond=0),
        "ms": ts.replace(microsecond=ts.microsecond // 1000 * 1000),
    }[unit]


def test_truncate(engine: Engine) -> None:
    """Truncation to year, quarter, month, ISO week (Monday), day, hour, minute, second, ms."""
    data = Input(engine, TS)
    ts = data.table.ts
    expr = data.table.select("id", **{u: ts.truncate(u) for u in UNITS})
    oracle = lambda ts: {u: _truncate(ts, u) for u in UNITS}  # noqa: E731
    for_all(engine, TS.tables(), _each(data, expr, oracle), examples=[EDGES])


def test_fields(engine: Engine) -> None:
    """Calendar fields; weeks are ISO weeks and days of the week count from Monday = 0."""
    data = Input(engine, TS)
    ts = data.table.ts
    expr = data.table.select(
        "id", year=ts.year(), quarter=ts.quarter(), month=ts.month(), day=ts.day(),
        hour=ts.hour(), minute=ts.minute(), millisecond=ts.millisecond(),
        day_of_year=ts.day_of_year(), week=ts.week_of_year(),
        weekday=ts.day_of_week.index(), weekday_name=ts.day_of_week.full_name(),
        date=ts.date(),
    )  # fmt: skip

    def oracle(ts: dt.datetime) -> dict:
        return {
            "year": ts.year, "quarter": (ts.month - 1) // 3 + 1, "month": ts.month,
            "day": ts.day, "hour": ts.hour, "minute": ts.minute,
            "millisecond": ts.microsecond // 1000, "day_of_year": ts.timetuple().tm_yday,
            "week": ts.isocalendar()[1], "weekday": ts.weekday(),
            "weekday_name": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                             "Saturday", "Sunday"][ts.weekday()],
            "date": ts.date(),
        }  # fmt: skip

    for_all(engine, TS.tables(), _each(data, expr, oracle), examples=[EDGES])


def test_epoch_seconds_with_the_helper(engine: Engine) -> None:
    """``epoch_seconds``: whole seconds since 1970, rounded down, as int64."""
    data = Input(engine, TS)
    expr = data.table.select("id", e=epoch_seconds(data.table.ts))
    oracle = lambda ts: {"e": (ts - EPOCH) // dt.timedelta(seconds=1)}  # noqa: E731
    for_all(engine, TS.tables(), _each(data, expr, oracle), examples=[EDGES])


@pytest.mark.parametrize(
    "engine_name",
    differs(
        "duckdb",
        "ibis types epoch_seconds() as int32; DuckDB computes a DOUBLE with the fraction",
        raises="pyarrow.lib.ArrowInvalid",
    ),
)
def test_epoch_seconds_without_the_helper(engine: Engine) -> None:
    """Why ``epoch_seconds`` (the helper) is needed."""
    data = Input(engine, TS)
    rows = TS.rows({"ts": dt.datetime(2024, 3, 10, 1, 59, 59, 500000)})
    got = data.fetch(data.table.select("id", e=data.table.ts.epoch_seconds()), rows)
    assert_rows(got, {0: {"e": 1710035999}})


def test_second_with_cast_exactly(engine: Engine) -> None:
    """``cast_exactly(ts.second(), "int32")``: the whole seconds on both engines."""
    data = Input(engine, TS)
    expr = data.table.select("id", s=cast_exactly(data.table.ts.second(), "int32"))
    for_all(engine, TS.tables(), _each(data, expr, lambda ts: {"s": ts.second}), examples=[EDGES])


@pytest.mark.parametrize(
    "engine_name",
    differs("pyspark", "Spark's second() is a DECIMAL(8, 6) with the fraction of the second"),
)
def test_second_without_cast_exactly(engine: Engine) -> None:
    """Why ``cast_exactly`` is needed for seconds (ibis types second() as int32)."""
    data = Input(engine, TS)
    rows = TS.rows({"ts": dt.datetime(2024, 3, 10, 1, 59, 59, 999999)})
    got = data.fetch(data.table.select("id", s=data.table.ts.second()), rows)
    assert_rows(got, {0: {"s": 59}})


@pytest.mark.parametrize(
    "engine_name",
    differs(
        "pyspark",
        "ibis cannot compile microsecond() for PySpark",
        raises=ibis_exceptions.UnsupportedOperationError,
    ),
)
def test_microsecond(engine: Engine) -> None:
    data = Input(engine, TS)
    expr = data.table.select("id", us=data.table.ts.microsecond())
    oracle = lambda ts: {"us": ts.microsecond}  # noqa: E731
    for_all(engine, TS.tables(), _each(data, expr, oracle), examples=[EDGES])


@pytest.mark.parametrize(
    "engine_name",
    differs("pyspark", "Spark returns zone-less timestamp results as TIMESTAMP (UTC)"),
)
def test_result_types_of_zone_less_timestamps(engine: Engine) -> None:
    """A truncated or parsed zone-less timestamp is zone-less (``timestamp[us]``) on DuckDB
    and ``timestamp[us, tz=UTC]`` on Spark; ``run_transform`` casts outputs to the contract."""
    cols = Columns(ts=(pa.timestamp("us"), MOMENTS), s=(pa.string(), st.just("2024-01-01")))
    data = Input(engine, cols)
    t = data.table
    expr = t.select(day=t.ts.truncate("D"), parsed=t.s.try_cast("timestamp"))
    got = data.arrow(expr, cols.rows({"ts": dt.datetime(2024, 1, 1, 12), "s": "2024-01-01"}))
    assert got.schema.field("day").type == pa.timestamp("us")
    assert got.schema.field("parsed").type == pa.timestamp("us")


ZONED = Columns(
    ts=(
        pa.timestamp("us", tz="Asia/Kolkata"),
        nullable(MOMENTS.map(lambda v: v.replace(tzinfo=dt.UTC))),
    )
)


def test_fields_of_zoned_timestamps_are_utc(engine: Engine) -> None:
    """Fields, dates and truncation of time-zone-aware timestamps are taken in UTC, whatever
    zone the data carries: both sessions are set to UTC (engines.py)."""
    data = Input(engine, ZONED)
    ts = data.table.ts
    expr = data.table.select("id", hour=ts.hour(), date=ts.date(), day=ts.truncate("D"))

    def check(rows: Rows) -> None:
        expected = {}
        for r in rows:
            v = r["ts"]
            u = v.astimezone(dt.UTC).replace(tzinfo=None) if v is not None else None
            expected[r["id"]] = (
                {"hour": u.hour, "date": u.date(), "day": _truncate(u, "D")}
                if u is not None
                else {"hour": None, "date": None, "day": None}
            )
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    edge = ZONED.rows({"ts": dt.datetime(2024, 3, 9, 20, 0, tzinfo=dt.UTC)})  # 01:30 in Kolkata
    for_all(engine, ZONED.tables(), check, examples=[edge])


def _iso(ts: dt.datetime, form: int) -> str:
    date = f"{ts.year:04d}-{ts.month:02d}-{ts.day:02d}"
    time = f"{ts.hour:02d}:{ts.minute:02d}:{ts.second:02d}"
    return [f"{date} {time}", f"{date}T{time}", f"{date} {time}.{ts.microsecond:06d}", date][form]


INVALID = ["", "garbage", "2024-02-30 00:00:00", "2024-13-01", "20240310", "2024-01-01 25:00:00"]
TEXTS = Columns(s=(pa.string(), nullable(st.one_of(
    st.tuples(MOMENTS, st.integers(0, 3)).map(lambda p: _iso(*p)), st.sampled_from(INVALID)
))))  # fmt: skip


def _parse_iso(text: str) -> dt.datetime | None:
    for pattern in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d"]:
        try:
            return dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def test_parse_iso_timestamps(engine: Engine) -> None:
    """``try_cast`` of ISO text (space or T, optional fraction, or a date) to a timestamp;
    NULL for text that is not a valid timestamp."""
    data = Input(engine, TEXTS)
    expr = data.table.select("id", ts=data.table.s.try_cast("timestamp"))

    def check(rows: Rows) -> None:
        expected = {r["id"]: {"ts": None if r["s"] is None else _parse_iso(r["s"])} for r in rows}
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    edge = TEXTS.rows(*({"s": s} for s in [*INVALID, "2024-03-10T01:59:59", "0999-01-01"]))
    for_all(engine, TEXTS.tables(), check, examples=[edge])


OFFSETS = Columns(s=(pa.string(), st.tuples(MOMENTS, st.integers(-14 * 60, 14 * 60)).map(
    lambda p: _iso(p[0], 0) + f"{'+' if p[1] >= 0 else '-'}{abs(p[1]) // 60:02d}:{abs(p[1]) % 60:02d}"
)))  # fmt: skip


@pytest.mark.parametrize(
    "engine_name",
    differs("duckdb", "DuckDB drops a UTC offset when casting text to a zone-less timestamp"),
)
def test_parse_timestamps_with_an_offset(engine: Engine) -> None:
    """Spark converts ``... +02:00`` to UTC; DuckDB keeps the local time and ignores the
    offset (the oracle converts, as Python's ``fromisoformat`` does)."""
    data = Input(engine, OFFSETS)
    expr = data.table.select("id", ts=data.table.s.try_cast("timestamp"))

    def check(rows: Rows) -> None:
        expected = {}
        for r in rows:
            aware = dt.datetime.fromisoformat(r["s"])
            expected[r["id"]] = {"ts": aware.astimezone(dt.UTC).replace(tzinfo=None)}
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    for_all(
        engine, OFFSETS.tables(), check, examples=[OFFSETS.rows({"s": "2024-03-10 01:59:59+02:00"})]
    )


def test_parse_timestamps_with_an_offset_to_utc(engine: Engine) -> None:
    """``try_cast("timestamp('UTC')")`` converts an offset to UTC on both engines."""
    data = Input(engine, OFFSETS)
    expr = data.table.select("id", ts=data.table.s.try_cast("timestamp('UTC')"))

    def check(rows: Rows) -> None:
        expected = {}
        for r in rows:
            aware = dt.datetime.fromisoformat(r["s"])
            expected[r["id"]] = {"ts": aware.astimezone(dt.UTC).replace(tzinfo=None)}
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    for_all(
        engine, OFFSETS.tables(), check, examples=[OFFSETS.rows({"s": "2024-03-10 01:59:59+02:00"})]
    )


def test_parse_text_converts_an_offset_to_utc(engine: Engine) -> None:
    """``expr.parse_text`` to a zone-less timestamp (how CSV sources are typed) converts an
    offset to UTC on both engines, where ``try_cast("timestamp")`` drops it on DuckDB."""
    data = Input(engine, OFFSETS)
    expr = data.table.select("id", ts=parse_text(data.table.s, ibis.dtype("timestamp")))

    def check(rows: Rows) -> None:
        expected = {}
        for r in rows:
            aware = dt.datetime.fromisoformat(r["s"])
            expected[r["id"]] = {"ts": aware.astimezone(dt.UTC).replace(tzinfo=None)}
        assert_rows(data.fetch(expr, rows), expected, rows=rows)

    for_all(
        engine, OFFSETS.tables(), check, examples=[OFFSETS.rows({"s": "2024-03-10 01:59:59+02:00"})]
    )


FORMAT = "%Y-%m-%d %H:%M:%S"
PADDED = Columns(s=(pa.string(), nullable(MOMENTS.map(lambda v: _iso(v, 0)))))


def test_parse_with_a_format(engine: Engine) -> None:
    """``as_timestamp(format)`` of zero-padded text; text that does not match fails the query
    on both engines (there is no try_ variant)."""
    data = Input(engine, PADDED)
    expr = data.table.select("id", ts=data.table.s.as_timestamp(FORMAT))

    def check(rows: Rows) -> None:
        expected = {
            r["id"]: {"ts": None if r["s"] is None else dt.datetime.strptime(r["s"], FORMAT)}
            for r in rows
        }
        assert_rows(data.outcome(expr, rows), expected, rows=rows)

    for_all(engine, PADDED.tables(), check)
    for bad in ["2024-03-10T01:59:59", "2024-02-30 00:00:00", "garbage"]:
        assert_rows(data.outcome(expr, PADDED.rows({"s": bad})), RAISES)


@pytest.mark.parametrize(
    "engine_name",
    differs("duckdb", "DuckDB's strptime accepts unpadded fields and surrounding spaces"),
)
def test_parse_with_a_format_is_strict(engine: Engine) -> None:
    data = Input(engine, PADDED)
    expr = data.table.select("id", ts=data.table.s.as_timestamp(FORMAT))
    for text in ["2024-3-1 1:2:3", " 2024-03-10 01:59:59 "]:
        assert_rows(data.outcome(expr, PADDED.rows({"s": text})), RAISES)


FORMATS = ["%Y-%m-%d %H:%M:%S", "%d/%m/%Y", "%H:%M", "%Y%m%d"]


def test_format(engine: Engine) -> None:
    """``strftime`` with numeric fields and punctuation; a literal letter (the T of ISO 8601)
    concatenated between two formats."""
    data = Input(engine, TS)
    ts = data.table.ts
    expr = data.table.select(
        "id",
        **{f"f{i}": ts.strftime(f) for i, f in enumerate(FORMATS)},
        iso=ts.strftime("%Y-%m-%d") + "T" + ts.strftime("%H:%M:%S"),  # letters: concatenate
    )

    def oracle(ts: dt.datetime) -> dict:
        # Python's %Y does not pad years below 1000; the engines do.
        out = {
            f"f{i}": ts.strftime(f.replace("%Y", f"{ts.year:04d}")) for i, f in enumerate(FORMATS)
        }
        return out | {"iso": _iso(ts, 1)}

    for_all(engine, TS.tables(), _each(data, expr, oracle), examples=[EDGES])


@pytest.mark.parametrize(
    "engine_name",
    differs(
        "pyspark",
        "ibis passes letters in a strftime format to Spark unquoted: 'T' is a bad pattern",
        raises="pyspark.errors.exceptions.captured.IllegalArgumentException",
    ),
)
def test_format_with_a_letter(engine: Engine) -> None:
    data = Input(engine, TS)
    expr = data.table.select("id", f=data.table.ts.strftime("%Y-%m-%dT%H:%M:%S"))
    rows = TS.rows({"ts": dt.datetime(2024, 3, 10, 1, 2, 3)})
    assert_rows(data.fetch(expr, rows), {0: {"f": "2024-03-10T01:02:03"}})
