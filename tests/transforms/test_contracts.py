"""The contract runner: every kind of failure, found on the engine, reported alike everywhere."""

from __future__ import annotations

import ibis.expr.types as ir
import pandera.ibis as pa
import pyarrow
import pytest
from pandera.api.ibis.types import IbisData

from hydra_transforms.contracts import ContractViolation, ValidationReport, validate
from hydra_transforms.engines import Engine
from tests.conftest import arrow


class Accounts(pa.DataFrameModel):
    account_id: int = pa.Field(unique=True, ge=1)
    email: str = pa.Field(nullable=True, str_matches=r"^[^@]+@[^@]+$")
    plan: str = pa.Field(isin=["free", "pro"])
    balance: float = pa.Field(nullable=True, in_range={"min_value": 0, "max_value": 1000})
    spent: float = pa.Field(nullable=True)

    class Config:
        name = "accounts"
        strict = True
        unique = ["email", "plan"]

    @pa.dataframe_check
    def spent_within_balance(cls, data: IbisData) -> ir.BooleanValue:
        return data.table.spent <= data.table.balance


GOOD = {
    "account_id": [1, 2, 3],
    "email": ["a@x.org", None, "c@x.org"],
    "plan": ["free", "pro", "pro"],
    "balance": [10.0, 0.0, None],
    "spent": [5.0, 0.0, 1.0],
}


def _table(engine: Engine, columns: dict, name: str = "accounts") -> ir.Table:
    return engine.from_arrow(arrow(columns), name=name)


def _failures(report: ValidationReport) -> dict[tuple[str | None, str], object]:
    return {(f.column, f.check): (f.failing_rows, f.examples) for f in report.failures}


def test_a_good_table_passes(engine: Engine) -> None:
    report = validate(_table(engine, GOOD), Accounts)
    assert report.passed
    assert report.rows == 3
    assert report.dataset == "accounts"
    assert "passed contract Accounts (3 rows)" in report.summary()


def test_every_failure_is_collected_with_counts_and_examples(engine: Engine) -> None:
    bad = {
        "account_id": [1, 1, -4, 5, 6],
        "email": ["a@x.org", "no-at-sign", "b@x.org@y", "a@x.org", None],
        "plan": ["free", "gold", "pro", "free", "pro"],
        "balance": [10.0, 2000.0, 5.0, 1.0, None],
        "spent": [5.0, 0.0, 9.0, 0.0, 3.0],
    }
    report = validate(_table(engine, bad), Accounts)
    assert not report.passed
    assert report.rows == 5
    assert _failures(report) == {
        ("account_id", "greater_than_or_equal_to(1)"): (1, (-4,)),
        ("email", "str_matches('^[^@]+@[^@]+$')"): (2, ("b@x.org@y", "no-at-sign")),
        ("plan", "isin(['free', 'pro'])"): (1, ("gold",)),
        ("balance", "in_range(0, 1000)"): (1, (2000.0,)),
        (None, "spent_within_balance"): (1, ()),
        ("account_id", "unique"): (2, (1,)),
        (None, "unique('email', 'plan')"): (2, (("a@x.org", "free"),)),
    }


def test_nulls_in_a_not_null_column_are_counted(engine: Engine) -> None:
    rows = {**GOOD, "plan": ["free", None, None]}
    report = validate(_table(engine, rows), Accounts)
    assert _failures(report)[("plan", "not_nullable")] == (2, ())


def test_structure_missing_wrong_type_and_extra_columns(engine: Engine) -> None:
    rows = {k: v for k, v in GOOD.items() if k != "spent"}
    rows["balance"] = ["10", "0", None]
    rows["notes"] = ["x", "y", "z"]
    report = validate(_table(engine, rows), Accounts)
    by_check = {f.check: f for f in report.failures}
    assert by_check["column_in_dataframe"].column == "spent"
    assert "expected float64, got string" in (by_check["dtype('float64')"].detail or "")
    assert "unexpected columns ['notes']" in (by_check["column_in_schema"].detail or "")
    # checks on a broken column are not attempted; the rest still run
    assert all(f.column != "balance" or f.check.startswith("dtype") for f in report.failures)


def test_the_error_names_dataset_column_check_and_values_but_no_sql(engine: Engine) -> None:
    rows = {**GOOD, "plan": ["free", "gold", "silver"]}
    with pytest.raises(ContractViolation) as caught:
        validate(_table(engine, rows), Accounts, dataset="accounts_2024").raise_for_failures()
    message = str(caught.value)
    assert message.splitlines()[0] == (
        "dataset 'accounts_2024' failed contract Accounts: 1 check failed on 3 rows"
    )
    assert (
        "column 'plan' failed isin(['free', 'pro']) (2 failing rows); e.g. 'gold', 'silver'"
        in message
    )
    assert "SELECT" not in message.upper()
    assert len(message.splitlines()) == 2


def test_examples_are_few_and_ordered(engine: Engine) -> None:
    n = 200
    rows = {
        "account_id": list(range(1, n + 1)),
        "email": [f"user{i:03d}" for i in range(n)],
        "plan": ["free"] * n,
        "balance": [1.0] * n,
        "spent": [0.0] * n,
    }
    report = validate(_table(engine, rows), Accounts, examples=3)
    failure = next(f for f in report.failures if f.column == "email" and "str_matches" in f.check)
    assert failure.failing_rows == n
    assert failure.examples == ("user000", "user001", "user002")


def test_reports_are_identical_on_both_engines(spark_session) -> None:
    from hydra_transforms.engines import connect

    bad = {**GOOD, "account_id": [3, 3, 0], "plan": ["pro", "x", "y"]}
    reports = [
        validate(engine.from_arrow(arrow(bad), name="accounts_same"), Accounts)
        for engine in (connect("duckdb"), connect("pyspark", spark=spark_session))
    ]
    assert reports[0] == reports[1]
    assert not reports[0].passed


def test_element_wise_checks_are_refused_with_a_reason(engine: Engine) -> None:
    class Slow(pa.DataFrameModel):
        account_id: int = pa.Field(nullable=False)

        @pa.check("account_id", element_wise=True)
        def positive(cls, value: int) -> bool:
            return value > 0

    with pytest.raises(TypeError, match="element-wise"):
        validate(_table(engine, GOOD), Slow)


def test_report_as_dict_is_json_ready(engine: Engine) -> None:
    import json

    report = validate(_table(engine, {**GOOD, "plan": ["x", "pro", "pro"]}), Accounts)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["passed"] is False
    assert data["failures"][0]["column"] == "plan"
    assert data["failures"][0]["examples"] == ["'x'"]


def test_empty_table_passes_with_zero_rows(engine: Engine) -> None:
    schema = {
        "account_id": pyarrow.int64(),
        "email": pyarrow.string(),
        "plan": pyarrow.string(),
        "balance": pyarrow.float64(),
        "spent": pyarrow.float64(),
    }
    empty = engine.from_arrow(arrow({k: [] for k in GOOD}, schema), name="accounts_empty")
    report = validate(empty, Accounts)
    assert report.passed
    assert report.rows == 0
