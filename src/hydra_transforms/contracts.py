"""Run a pandera.ibis contract on the engine and report every failure in one readable error.

Contracts are declared as ``pandera.ibis.DataFrameModel`` classes (the spec). This module is
the one place that executes them. It evaluates the model's columns, dtypes, nullability,
uniqueness and checks itself instead of calling ``Model.validate`` because pandera's ibis
backend (0.35), tested upstream on DuckDB and SQLite only:

- collects the whole boolean check output of a failing check to pandas
  (``backends/ibis/base.py``) — on a large table that pulls millions of values to Python;
- ignores ``Field(unique=True)`` (only ``Config.unique`` is checked), on both engines;
- embeds the repr of the ibis expression in uniqueness messages (a long SQL dump);
- on PySpark, locates failing rows with an unordered ``row_number``, so the reported
  positions are meaningless and differ from run to run;
- runs one query per check.

Here every element check and null count is one aggregate query (one scan), uniqueness is a
group-by per key, and the examples of failing values are ordered and limited on the engine,
so the report is small and the same on every engine. The checks' ibis expressions are still
pandera's own (the registered check functions), so built-in and custom checks keep their meaning.
"""

# pyright: reportAttributeAccessIssue=false, reportOperatorIssue=false, reportArgumentType=false
# (ibis types a table's columns as the generic Column; their methods and operators resolve at run time)

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pandera.backends.ibis.builtin_checks  # noqa: F401  (registers the ibis check implementations)
import pandera.ibis as pa
from pandera.api.ibis.types import IbisData

from hydra_transforms.engines import to_arrow
from hydra_transforms.expr import parse_text

__all__ = [
    "CheckFailure",
    "ContractViolation",
    "ValidationReport",
    "contract_name",
    "contract_schema",
    "count_noun",
    "validate",
]

DEFAULT_EXAMPLES = 5

Contract = type[pa.DataFrameModel]


@dataclass(frozen=True)
class CheckFailure:
    """One failed check: which column, which check, how many rows, a few failing values."""

    check: str
    column: str | None = None
    failing_rows: int | None = None
    examples: tuple[Any, ...] = ()
    detail: str | None = None

    def describe(self) -> str:
        where = f"column '{self.column}'" if self.column else "table"
        text = f"{where} failed {self.check}"
        if self.detail:
            text += f": {self.detail}"
        if self.failing_rows is not None:
            text += f" ({count_noun(self.failing_rows, 'failing row')})"
        if self.examples:
            text += "; e.g. " + ", ".join(_short_repr(v) for v in self.examples)
        return text


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of checking one dataset against its contract."""

    dataset: str
    contract: str
    rows: int | None
    failures: tuple[CheckFailure, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        rows = count_noun(self.rows, "row") if self.rows is not None else "the table"
        if self.passed:
            return f"dataset '{self.dataset}' passed contract {self.contract} ({rows})"
        lines = [
            f"dataset '{self.dataset}' failed contract {self.contract}: "
            f"{count_noun(len(self.failures), 'check')} failed on {rows}"
        ]
        lines += [f"  - {failure.describe()}" for failure in self.failures]
        return "\n".join(lines)

    def raise_for_failures(self) -> ValidationReport:
        if not self.passed:
            raise ContractViolation(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "contract": self.contract,
            "rows": self.rows,
            "passed": self.passed,
            "failures": [
                {
                    "column": f.column,
                    "check": f.check,
                    "failing_rows": f.failing_rows,
                    "examples": [_short_repr(v) for v in f.examples],
                    "detail": f.detail,
                }
                for f in self.failures
            ],
        }


class ContractViolation(Exception):
    """Datasets broke their contracts; ``reports`` holds every failure found."""

    def __init__(self, *reports: ValidationReport) -> None:
        if not reports:
            raise ValueError("ContractViolation needs at least one failed report")
        super().__init__("\n".join(report.summary() for report in reports))
        self.reports = reports

    @property
    def report(self) -> ValidationReport:
        return self.reports[0]


def contract_name(contract: Contract) -> str:
    return contract.__name__


def contract_schema(contract: Contract) -> ibis.Schema:
    """The ibis schema a contract declares (all columns nullable at the storage level)."""
    schema = contract.to_schema()
    return ibis.schema(
        {name: _ibis_type(column) for name, column in schema.columns.items()}  # type: ignore[union-attr]
    )


def validate(
    table: ir.Table,
    contract: Contract,
    *,
    dataset: str | None = None,
    examples: int = DEFAULT_EXAMPLES,
    text: ir.Table | None = None,
) -> ValidationReport:
    """Check ``table`` against ``contract`` on its engine; collect every failure (lazy).

    ``text`` is the table of strings ``table`` was parsed from (a CSV source): values that do
    not parse as the contract's type are then reported with their text.
    """
    schema = contract.to_schema()
    name = dataset or getattr(schema, "name", None) or contract_name(contract)
    failures = list(_structure_failures(table, schema))
    if text is not None:
        failures += _parse_failures(text, schema, examples)
    broken = {f.column for f in failures if f.column}
    columns = {c: col for c, col in schema.columns.items() if c not in broken}
    probes = _element_probes(table, schema, columns)
    keys = _unique_keys(schema, columns)
    single = [key[0] for key in keys if len(key) == 1]
    counts = to_arrow(
        table.aggregate(
            __rows=table.count(),
            **{f"__p{i}": ibis.ifelse(p.fails, 1, 0).sum() for i, p in enumerate(probes)},
            # Single-column keys are screened in the same scan: a key with as many distinct
            # values as rows (NULL counted once) is unique and needs no GROUP BY of its own.
            **{f"__d{i}": table[c].nunique() for i, c in enumerate(single)},
            **{f"__n{i}": table[c].isnull().sum() for i, c in enumerate(single)},
        )
    )
    rows = int(counts["__rows"][0].as_py())
    screened = {(c,) for i, c in enumerate(single) if _distinct_or_none(counts, i, rows)}
    for i, probe in enumerate(probes):
        failing = counts[f"__p{i}"][0].as_py() or 0
        if failing:
            sample = _examples(table, probe, examples) if _has_examples(probe, examples) else ()
            failures.append(
                CheckFailure(
                    check=probe.check,
                    column=probe.column,
                    failing_rows=int(failing),
                    examples=sample,
                )
            )
    failures += _uniqueness_failures(table, [key for key in keys if key not in screened], examples)
    return ValidationReport(
        dataset=name, contract=contract_name(contract), rows=rows, failures=tuple(failures)
    )


@dataclass(frozen=True)
class _Probe:
    check: str
    column: str | None
    fails: ir.BooleanValue


def _ibis_type(column: Any) -> dt.DataType:
    return column.dtype.type.copy(nullable=True)


def _same_type(expected: dt.DataType, actual: dt.DataType) -> bool:
    if expected.is_timestamp() and actual.is_timestamp():
        # Engines differ in timestamp precision; the time zone is what matters.
        return expected.timezone == actual.timezone  # type: ignore[attr-defined]
    return expected.copy(nullable=True) == actual.copy(nullable=True)


def _structure_failures(table: ir.Table, schema: Any) -> list[CheckFailure]:
    actual = table.schema()
    failures = []
    for name, column in schema.columns.items():
        if name not in actual:
            failures.append(
                CheckFailure(check="column_in_dataframe", column=name, detail="column is missing")
            )
        elif column.dtype is not None and not _same_type(_ibis_type(column), actual[name]):
            failures.append(
                CheckFailure(
                    check=f"dtype('{_ibis_type(column)}')",
                    column=name,
                    detail=f"expected {_ibis_type(column)}, got {actual[name]}",
                )
            )
    if schema.strict:
        extra = [c for c in actual if c not in schema.columns]
        if extra:
            failures.append(
                CheckFailure(
                    check="column_in_schema",
                    detail=f"unexpected columns {extra}; the contract allows {list(schema.columns)}",
                )
            )
    return failures


def missing(value: ir.Value) -> ir.BooleanValue:
    """Whether a value is missing: NULL, or NaN in a float column (as pandera does on pandas).

    Spelled out for each engine alike: ibis' own ``isnull`` counts NaN on PySpark only.
    """
    isnull = value.isnull()
    if value.type().is_floating():
        isnull = isnull | value.isnan().fill_null(False)
    return isnull


def _element_probes(table: ir.Table, schema: Any, columns: dict[str, Any]) -> list[_Probe]:
    probes = []
    for name, column in columns.items():
        if not column.nullable:
            probes.append(_Probe("not_nullable", name, missing(table[name])))
        probes += [_check_probe(table, check, name) for check in column.checks]
    if set(schema.columns) - set(columns):
        return probes  # table-wide checks need every declared column
    probes += [_check_probe(table, check, None) for check in schema.checks]
    return probes


def _check_probe(table: ir.Table, check: Any, column: str | None) -> _Probe:
    out = _check_expression(table, check, column)
    failed = (~out).fill_null(False)  # NULL (unknown) passes, as in pandera's ibis backend
    if check.ignore_na and column is not None:
        failed = failed & ~missing(table[column])  # missing values are nullable's business
    return _Probe(_check_name(check), column, failed)


def _check_expression(table: ir.Table, check: Any, column: str | None) -> ir.BooleanValue:
    """The check as a boolean expression over ``table`` itself, so that all checks fuse."""
    if check.element_wise:
        raise TypeError(
            f"check {_check_name(check)} is element-wise (Python per row); write it as an "
            "ibis expression so that it runs on the engine"
        )
    out = check._check_fn(IbisData(table, column), **check._check_kwargs)
    if isinstance(out, dict):
        out = list(out.values())
    elif isinstance(out, ir.Table):
        # pandera's built-in checks return ``table.select(<boolean per column>)``: take the
        # boolean expressions out of that projection, which are bound to ``table``.
        node = out.op()
        if not isinstance(node, ops.Project) or node.parent != table.op():
            raise TypeError(f"check {_check_name(check)} returned a table not derived by select")
        out = [value.to_expr() for value in node.values.values()]
    values = out if isinstance(out, list) else [out]
    if not values or not all(isinstance(v, ir.BooleanValue) for v in values):
        raise TypeError(f"check {_check_name(check)} must return boolean column expressions")
    result = values[0]
    for value in values[1:]:
        result = result & value
    return result


def _check_name(check: Any) -> str:
    return str(check.error or check.name)


def _has_examples(probe: _Probe, examples: int) -> bool:
    return bool(examples) and probe.column is not None and probe.check != "not_nullable"


def _examples(table: ir.Table, probe: _Probe, limit: int) -> tuple[Any, ...]:
    assert probe.column is not None
    values = to_arrow(
        table.filter(probe.fails)
        .select(probe.column)
        .distinct()
        .order_by(probe.column)
        .limit(limit)
    )
    return tuple(values[probe.column].to_pylist())


def _parse_failures(text: ir.Table, schema: Any, examples: int) -> list[CheckFailure]:
    """Text values that do not parse as their column's declared type, with a few of them."""
    probes = [
        _Probe(
            f"dtype('{_ibis_type(column)}')",
            name,
            text[name].notnull() & parse_text(text[name], _ibis_type(column)).isnull(),
        )
        for name, column in schema.columns.items()
        if name in text.columns
        and column.dtype is not None
        and not _ibis_type(column).is_string()
        and text[name].type().is_string()
    ]
    if not probes:
        return []
    counts = to_arrow(
        text.aggregate(
            **{f"__p{i}": ibis.ifelse(p.fails, 1, 0).sum() for i, p in enumerate(probes)}
        )
    )
    failures = []
    for i, probe in enumerate(probes):
        failing = counts[f"__p{i}"][0].as_py() or 0
        if failing:
            failures.append(
                CheckFailure(
                    check=probe.check,
                    column=probe.column,
                    failing_rows=int(failing),
                    examples=_examples(text, probe, examples) if examples else (),
                    detail=f"text that does not parse as {probe.check[7:-2]}",
                )
            )
    return failures


def _unique_keys(schema: Any, columns: dict[str, Any]) -> list[tuple[str, ...]]:
    keys = [(name,) for name, column in columns.items() if column.unique]
    declared = schema.unique or []
    if declared and all(isinstance(c, str) for c in declared):
        declared = [declared]
    keys += [tuple(k) for k in declared if all(c in columns for c in k)]
    return keys


def _distinct_or_none(counts: Any, i: int, rows: int) -> bool:
    """Whether the screened column i holds no duplicated value (at most one NULL)."""
    distinct = counts[f"__d{i}"][0].as_py() or 0
    nulls = counts[f"__n{i}"][0].as_py() or 0
    return nulls <= 1 and distinct + nulls == rows


def _uniqueness_failures(
    table: ir.Table, keys: Sequence[tuple[str, ...]], examples: int
) -> list[CheckFailure]:
    failures = []
    for key in keys:
        dups = table.group_by(list(key)).aggregate(__n=ibis._.count()).filter(ibis._.__n > 1)
        stats = to_arrow(dups.aggregate(groups=dups.count(), rows=dups.__n.sum()))
        groups = stats["groups"][0].as_py() or 0
        if not groups:
            continue
        sample = to_arrow(dups.order_by(list(key)).limit(examples)) if examples else None
        values: Sequence[Any] = ()
        if sample is not None:
            rows = sample.select(list(key)).to_pylist()
            values = [r[key[0]] if len(key) == 1 else tuple(r.values()) for r in rows]
        failures.append(
            CheckFailure(
                check="unique" if len(key) == 1 else f"unique{key}",
                column=key[0] if len(key) == 1 else None,
                failing_rows=int(stats["rows"][0].as_py()),
                examples=tuple(values),
                detail=f"{count_noun(groups, 'duplicated value')}",
            )
        )
    return failures


def count_noun(n: int, noun: str) -> str:
    """``1 row``, ``2 rows``, ``1,000 rows``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
