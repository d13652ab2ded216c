"""The parity helper: it reports contract failures per engine, and the way results come back
cannot hide a difference (NaN versus NULL, 64-bit integers, written types)."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pandera.ibis as pa
import pyarrow
import pytest

from hydra_transforms.engines import connect, to_arrow
from hydra_transforms.parity import ParityError, assert_parity, check_parity
from hydra_transforms.registry import Registry

pytestmark = pytest.mark.pyspark

BIG = [2**53 + 1, None, 2**63 - 1, -(2**63), 0]


class Values(pa.DataFrameModel):
    key: int = pa.Field()
    n: int = pa.Field(nullable=True)
    x: float = pa.Field(nullable=True)


class Flagged(pa.DataFrameModel):
    key: int = pa.Field()
    x: float = pa.Field(nullable=True)
    missing: bool = pa.Field()


class Label(pa.DataFrameModel):
    label: str = pa.Field(str_matches=r"^[a-z]+$")


class Numbered(pa.DataFrameModel):
    key: int = pa.Field()
    rn: int = pa.Field()


registry = Registry("parity_demo")
registry.source("values", format="parquet", contract=Values)
registry.source("labels", format="parquet", contract=Label)


@registry.transform(inputs={"values": "values"}, contract=Values)
def passed_through(values: ir.Table) -> ir.Table:
    """The input unchanged."""
    return values


@registry.transform(inputs={"values": "values"}, contract=Flagged)
def flagged(values: ir.Table) -> ir.Table:
    """``isnull()`` on a float column: ibis counts NaN as null on PySpark only."""
    return values.select("key", "x", missing=values.x.isnull())


@registry.transform(inputs={"labels": "labels"}, contract=Label)
def labels_out(labels: ir.Table) -> ir.Table:
    """The labels unchanged."""
    return labels


@registry.transform(inputs={"values": "values"}, contract=Numbered)
def numbered(values: ir.Table) -> ir.Table:
    """Rows numbered by key: ibis says int64, Spark's ROW_NUMBER is INT."""
    return values.select("key", rn=(ibis.row_number().over(order_by="key") + 1).cast("int64"))


def _values() -> pyarrow.Table:
    return pyarrow.table(
        {
            "key": pyarrow.array(range(len(BIG)), pyarrow.int64()),
            "n": pyarrow.array(BIG, pyarrow.int64()),
            "x": pyarrow.array([float("nan"), None, 0.5, float("inf"), -0.0]),
        }
    )


def test_ibis_fetches_spark_results_lossily_and_to_arrow_does_not(spark_session: Any) -> None:
    """The defect the parity helper works around: prove it, so the workaround can go when
    ibis fixes it."""
    table = connect("pyspark", spark=spark_session).from_arrow(_values(), name="lossy")
    with pytest.raises(pyarrow.ArrowInvalid):
        table.to_pyarrow()  # 2**63 - 1 goes through float64 and does not fit int64 any more
    assert repr(to_arrow(table).to_pylist()) == repr(_values().to_pylist())


def test_nan_null_and_extreme_integers_are_equal_when_equal(spark_session: Any) -> None:
    report = assert_parity(
        registry, "passed_through", inputs={"values": _values()}, spark=spark_session
    )
    assert report.rows == (len(BIG), len(BIG))


def test_nan_counted_as_null_on_one_engine_is_a_difference(spark_session: Any) -> None:
    report = check_parity(registry, "flagged", inputs={"values": _values()}, spark=spark_session)
    assert not report.equal
    text = "\n".join(report.differences)
    # The NaN row (key 0): missing is false on DuckDB, true on PySpark.
    assert "only in duckdb: 1 row (columns ['key', 'missing']), e.g.\n    (0, False)" in text
    assert "only in pyspark: 1 row (columns ['key', 'missing']), e.g.\n    (0, True)" in text
    with pytest.raises(ParityError, match="DIFFERENT"):
        assert_parity(registry, "flagged", inputs={"values": _values()}, spark=spark_session)


def test_a_contract_failing_on_one_engine_is_reported_not_raised(spark_session: Any) -> None:
    # Java's '$' also matches before a final line end; RE2's does not (docs/engines.md).
    labels = pyarrow.table({"label": ["abc", "def\n"]})
    report = check_parity(registry, "labels_out", inputs={"labels": labels}, spark=spark_session)
    assert not report.equal
    assert report.rows == (None, 2)
    duckdb_reports, spark_reports = report.contracts
    assert spark_reports == ()
    assert [r.dataset for r in duckdb_reports] == ["labels"]
    text = "\n".join(report.differences)
    assert "contracts differ: on duckdb: dataset 'labels' failed contract Label" in text
    assert "column 'label' failed str_matches('^[a-z]+$')" in text
    assert "on pyspark: all passed" in text


def test_written_types_are_compared(spark_session: Any) -> None:
    # The output is cast to the contract's int64 on both engines: equal types, equal rows.
    report = assert_parity(registry, "numbered", inputs={"values": _values()}, spark=spark_session)
    assert report.rows == (len(BIG), len(BIG))
