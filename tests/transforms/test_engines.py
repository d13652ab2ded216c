"""Same answer on every engine: written types, NaN in contracts, CSV dialects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandera.ibis as pa
import pyarrow
import pyarrow.parquet as pq
import pytest

from hydra_transforms.contracts import validate
from hydra_transforms.engines import CsvReadError, Engine, connect, to_arrow
from hydra_transforms.registry import CsvDialect, Registry, Source
from hydra_transforms.runner import read_dataset, run_transform
from hydra_transforms.storage import snapshot

# ---------------------------------------------------------------------------------------------
# Outputs are written with exactly the contract's types.


class Sales(pa.DataFrameModel):
    shop: str = pa.Field()
    day: int = pa.Field()
    units: int = pa.Field()  # written as int8, int16 and int32 below: inputs are not checked


class Ranked(pa.DataFrameModel):
    shop: str = pa.Field()
    day: int = pa.Field()
    row: int = pa.Field()
    rank: int = pa.Field()
    dense: int = pa.Field()


class PerShop(pa.DataFrameModel):
    shop: str = pa.Field()
    days: int = pa.Field()
    total: int = pa.Field()
    total_small: int = pa.Field()
    weeks: int = pa.Field()
    mean: float = pa.Field()
    share: dt.Float32 = pa.Field()


types_registry = Registry("types_demo")
types_registry.source("sales", format="parquet", contract=Sales)


@types_registry.transform(inputs={"sales": "sales"}, contract=Ranked)
def ranked(sales: ir.Table) -> ir.Table:
    """Window numbers: ibis says int64, Spark computes INT."""
    w = ibis.window(group_by="shop", order_by="day")
    return sales.select(
        "shop",
        "day",
        row=(ibis.row_number().over(w) + 1).cast("int64"),
        rank=ibis.rank().over(w).cast("int64"),
        dense=ibis.dense_rank().over(w),
    )


@types_registry.transform(inputs={"sales": "sales"}, contract=PerShop)
def per_shop(sales: ir.Table) -> ir.Table:
    """Counts, sums of narrow integers, integer division and floats of two widths."""
    return sales.group_by("shop").aggregate(
        days=sales.count(),
        total=sales.units.sum(),  # DuckDB: SUM(BIGINT) is HUGEINT
        total_small=sales.units.cast("int16").sum(),
        weeks=(sales.day.max() // 7),
        mean=sales.units.mean(),
        share=(sales.units.sum() / 100).cast("float32"),
    )


EXPECTED_TYPES = {
    "ranked": {
        "shop": pyarrow.string(),
        "day": pyarrow.int64(),
        "row": pyarrow.int64(),
        "rank": pyarrow.int64(),
        "dense": pyarrow.int64(),
    },
    "per_shop": {
        "shop": pyarrow.string(),
        "days": pyarrow.int64(),
        "total": pyarrow.int64(),
        "total_small": pyarrow.int64(),
        "weeks": pyarrow.int64(),
        "mean": pyarrow.float64(),
        "share": pyarrow.float32(),
    },
}


@pytest.mark.parametrize("units", [pyarrow.int8(), pyarrow.int16(), pyarrow.int32()])
@pytest.mark.parametrize("name", sorted(EXPECTED_TYPES))
def test_outputs_are_written_with_exactly_the_contract_types(
    engine: Engine, tmp_path: Path, name: str, units: pyarrow.DataType
) -> None:
    sales = tmp_path / "sales.parquet"
    pq.write_table(
        pyarrow.table(
            {
                "shop": ["a", "a", "a", "b"],
                "day": pyarrow.array([1, 2, 2, 9], pyarrow.int64()),
                "units": pyarrow.array([5, 7, 7, 1], units),
            }
        ),
        sales,
    )
    output = tmp_path / name
    run_transform(
        types_registry,
        name,
        engine=engine,
        inputs={"sales": sales},
        output=output,
        validate_inputs=False,  # the narrow units are the point
    )
    (directory,) = snapshot(output).parts.values()  # type: ignore[union-attr]
    (written,) = Path(directory).glob("*.parquet")
    schema = pq.read_schema(written)
    assert {f.name: f.type for f in schema} == EXPECTED_TYPES[name]
    # Nullability is the contract's business: every column is written OPTIONAL.
    assert all(f.nullable for f in schema), schema


def test_a_column_of_another_kind_is_not_converted_but_reported(
    duckdb_engine: Engine, tmp_path: Path
) -> None:
    registry = Registry("kinds")
    registry.source("sales", format="parquet", contract=Sales)

    @registry.transform(inputs={"sales": "sales"}, contract=Sales)
    def as_text(sales: ir.Table) -> ir.Table:
        return sales.mutate(units=sales.units.cast("string"))

    pq.write_table(pyarrow.table({"shop": ["a"], "day": [1], "units": [2]}), tmp_path / "s.parquet")
    with pytest.raises(Exception, match=r"column 'units' failed dtype\('int64'\)"):
        run_transform(
            registry, "as_text", engine=duckdb_engine, inputs={"sales": tmp_path / "s.parquet"}
        )


# ---------------------------------------------------------------------------------------------
# NaN is a missing value, whatever wrote the file and whichever engine checks it.


class Required(pa.DataFrameModel):
    x: float = pa.Field()


class AtMostOne(pa.DataFrameModel):
    x: float = pa.Field(nullable=True, le=1)


class AtMostATenth(pa.DataFrameModel):
    x: float = pa.Field(nullable=True, le=0.1)


class NotNegative(pa.DataFrameModel):
    x: float = pa.Field(nullable=True, ge=0)


NAN_VALUES = [0.25, float("nan"), None, float("inf")]
NAN_VERDICTS = {
    Required: ["column 'x' failed not_nullable (2 failing rows)"],
    AtMostOne: ["column 'x' failed less_than_or_equal_to(1) (1 failing row); e.g. inf"],
    AtMostATenth: ["column 'x' failed less_than_or_equal_to(0.1) (2 failing rows); e.g. 0.25, inf"],
    NotNegative: [],
}


def _write_with(writer: str, path: Path, request: pytest.FixtureRequest) -> None:
    if writer == "pyarrow":  # min/max statistics without NaN
        pq.write_table(pyarrow.table({"x": NAN_VALUES}), path)
    elif writer == "duckdb":
        duckdb.connect().execute(
            "COPY (SELECT * FROM (VALUES (0.25), ('nan'::DOUBLE), (NULL), ('inf'::DOUBLE)) t(x)) "
            f"TO '{path}' (FORMAT parquet)"
        )
    else:
        spark = request.getfixturevalue("spark_session")
        spark.createDataFrame([(v,) for v in NAN_VALUES], "x double").coalesce(1).write.parquet(
            str(path)
        )


def _assert_nan_verdicts(engine: Engine, path: Path) -> None:
    table = engine.read_parquet(str(path))
    for contract, failures in NAN_VERDICTS.items():
        report = validate(table, contract)
        assert report.rows == 4
        assert [f.describe() for f in report.failures] == failures, contract.__name__


@pytest.mark.parametrize("writer", ["pyarrow", "duckdb"])
def test_nan_is_a_missing_value_on_every_engine_whatever_wrote_the_file(
    engine: Engine, writer: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    path = tmp_path / "x.parquet"
    _write_with(writer, path, request)
    _assert_nan_verdicts(engine, path)


@pytest.mark.pyspark
def test_nan_is_a_missing_value_in_files_spark_wrote(
    duckdb_engine: Engine, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    path = tmp_path / "x.parquet"
    _write_with("spark", path, request)
    spark = connect("pyspark", spark=request.getfixturevalue("spark_session"))
    for engine in (duckdb_engine, spark):
        _assert_nan_verdicts(engine, path)


@pytest.mark.duckdb
def test_duckdb_answers_nan_predicates_from_pyarrow_statistics(tmp_path: Path) -> None:
    """The DuckDB defect that read_parquet works around: pyarrow writes float min/max without
    NaN, and DuckDB prunes with them. If this starts failing, DuckDB fixed it and the
    identity in DuckDBEngine.read_parquet can go."""
    path = tmp_path / "x.parquet"
    pq.write_table(pyarrow.table({"x": [0.25, float("nan")]}), path)
    con = duckdb.connect()
    assert con.execute(f"SELECT count(*) FROM '{path}' WHERE x > 1").fetchone() == (0,)  # wrong
    assert con.execute(f"SELECT count(*) FROM '{path}' WHERE x * 1 > 1").fetchone() == (1,)


# ---------------------------------------------------------------------------------------------
# CSV sources are read in their declared dialect, on both engines, with no guessing.


class Firms(pa.DataFrameModel):
    id: int = pa.Field()
    name: str = pa.Field(nullable=True)
    country: str = pa.Field(nullable=True)


def _firms(dialect: CsvDialect | None = None) -> Source:
    return Source(name="firms", format="csv", contract=Firms, csv=dialect)


def _read_csv(engine: Engine, path: Path, dialect: CsvDialect | None = None) -> list[dict]:
    table = read_dataset(engine, _firms(dialect), path)
    return sorted(to_arrow(table).to_pylist(), key=lambda r: r["id"])


CSV_CASES: dict[str, tuple[bytes, CsvDialect | None]] = {
    "rfc4180": (
        b'id,name,country\n1,"Firm, Inc.",DE\n2,"He said ""hi""",\n3,"two\nlines",""\n',
        None,
    ),
    "semicolon": (
        b'id;name;country\n1;Firm, Inc.;DE\n2;He said "hi";\n3;"two\nlines";\n',
        CsvDialect(delimiter=";"),
    ),
    "backslash escape": (
        b'id,name,country\n1,"Firm, Inc.",DE\n2,"He said \\"hi\\"",\n3,"two\nlines",\n',
        CsvDialect(escape="\\"),
    ),
    "crlf and bom": (
        b'\xef\xbb\xbfid,name,country\r\n1,"Firm, Inc.",DE\r\n2,"He said ""hi""",\r\n3,"two\nlines",\r\n',
        None,
    ),
    "latin-1": (
        'id,name,country\n1,"Firm, Inc.",DE\n2,"He said ""hi""",\n3,"two\nlines",\n'.encode(
            "latin-1"
        ),
        CsvDialect(encoding="latin-1"),
    ),
    "utf-16": (
        'id,name,country\n1,"Firm, Inc.",DE\n2,"He said ""hi""",\n3,"two\nlines",\n'.encode(
            "utf-16"
        ),
        CsvDialect(encoding="utf-16"),
    ),
    "no header": (
        b'1,"Firm, Inc.",DE\n2,"He said ""hi""",\n3,"two\nlines",\n',
        CsvDialect(header=False),
    ),
}
CSV_ROWS = [
    {"id": 1, "name": "Firm, Inc.", "country": "DE"},
    {"id": 2, "name": 'He said "hi"', "country": None},
    {"id": 3, "name": "two\nlines", "country": None},  # empty fields, quoted or not, are NULL
]


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_csv_is_read_in_exactly_the_declared_dialect(
    engine: Engine, tmp_path: Path, case: str
) -> None:
    content, dialect = CSV_CASES[case]
    path = tmp_path / "firms.csv"
    path.write_bytes(content)
    assert _read_csv(engine, path, dialect) == CSV_ROWS


def test_non_ascii_text_survives_each_encoding(engine: Engine, tmp_path: Path) -> None:
    for encoding in ("utf-8", "latin-1", "utf-16"):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes("id,name,country\n1,Müller Straße,AT\n".encode(encoding))
        rows = _read_csv(engine, path, CsvDialect(encoding=encoding))
        assert rows == [{"id": 1, "name": "Müller Straße", "country": "AT"}], encoding


def test_a_file_in_another_dialect_fails_saying_what_was_expected(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "firms.csv"
    path.write_text("id;name;country\n1;Firm;DE\n")
    with pytest.raises(CsvReadError) as raised:
        _read_csv(engine, path)  # declared: the default, comma-separated
    message = str(raised.value)
    assert str(path) in message
    assert "delimiter ','" in message
    assert "'id;name;country'" in message
    assert "CsvDialect(delimiter=';')" in message


def test_a_row_with_too_many_fields_fails_on_every_engine(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "firms.csv"
    path.write_text("id,name,country\n1,Firm,DE,extra\n2,Other,AT\n")
    with pytest.raises(Exception, match=r"(?i)(expected number of columns|malformed)"):
        _read_csv(engine, path)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"delimiter": ";;"}, "delimiter must be one character"),
        ({"quote": "\n"}, "quote must be one character other than a line end"),
        ({"delimiter": '"'}, "delimiter and quote are both"),
        ({"encoding": "cp1252"}, "valid: utf-8, utf-16, latin-1"),
    ],
)
def test_an_impossible_dialect_is_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CsvDialect(**options)
    with pytest.raises(ValueError, match="a csv dialect goes with format 'csv' only"):
        Source(name="x", format="parquet", contract=Firms, csv=CsvDialect())
