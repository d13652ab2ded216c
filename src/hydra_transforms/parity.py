"""Parity: run a transform on DuckDB and on PySpark over the same inputs and compare results.

What is compared is what each engine wrote: each engine runs the transform as a normal run
does (inputs checked, output cast to the contract's types, written as Parquet, checked) into a
scratch directory, and the two outputs are read back with pyarrow. So the comparison sees the
written types and every value exactly (NaN apart from NULL, 64-bit integers whole), which
fetching through ibis would not (see :func:`hydra_transforms.engines.to_arrow`).

Results are compared as multisets of rows (engines do not promise an order), floats equal
within a tolerance. A contract failure on either engine is reported, not raised: which engine,
which checks. A difference is reported with the first rows that differ.
"""

from __future__ import annotations

import datetime
import math
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from hydra_transforms import storage
from hydra_transforms.contracts import ContractViolation, ValidationReport, count_noun
from hydra_transforms.engines import Engine, connect
from hydra_transforms.registry import Registry
from hydra_transforms.runner import run_transform

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["ParityError", "ParityReport", "assert_parity", "check_parity", "compare_tables"]

Row = tuple[Any, ...]
MAX_SHOWN = 5


@dataclass(frozen=True)
class ParityReport:
    """How the results of one transform on two engines compare.

    ``rows`` is None for an engine whose run broke a contract; ``contracts`` holds, per
    engine, the contract reports that failed there (inputs or output).
    """

    transform: str
    engines: tuple[str, str]
    rows: tuple[int | None, int | None]
    differences: tuple[str, ...] = field(default=())
    contracts: tuple[tuple[ValidationReport, ...], tuple[ValidationReport, ...]] = ((), ())

    @property
    def equal(self) -> bool:
        return not self.differences

    def summary(self) -> str:
        left, right = self.engines
        counts = [count_noun(n, "row") if n is not None else "contract failed" for n in self.rows]
        head = f"transform '{self.transform}': {left} ({counts[0]}) vs {right} ({counts[1]}): "
        if self.equal and any(self.contracts):
            return head + "the same contract failures on both:\n" + _reports(self.contracts[0])
        return head + ("equal" if self.equal else "DIFFERENT\n" + "\n".join(self.differences))


class ParityError(AssertionError):
    def __init__(self, report: ParityReport) -> None:
        super().__init__(report.summary())
        self.report = report


@dataclass(frozen=True)
class _Outcome:
    table: pa.Table | None  # what the engine wrote; None when a contract failed
    failed: tuple[ValidationReport, ...] = ()


def check_parity(
    registry: Registry,
    name: str,
    *,
    inputs: Mapping[str, str | Path | pa.Table],
    spark: SparkSession | None = None,
    engines: Sequence[Engine] | None = None,
    partition: str | None = None,
    rel_tol: float = 1e-9,
    abs_tol: float = 1e-12,
) -> ParityReport:
    """Run transform ``name`` on two engines (DuckDB and PySpark by default) and compare.

    ``inputs`` maps dataset names to file locations or Arrow tables; each engine reads them
    itself. Contracts are checked on both engines as in a normal run; a contract that fails
    on one engine only is a difference, the same failures on both are not.
    """
    left, right = engines or (connect("duckdb"), connect("pyspark", spark=spark))
    names = (left.name, right.name)
    with tempfile.TemporaryDirectory(prefix="hydra-parity-") as scratch:
        outcomes = [
            _run(registry, name, engine, inputs, partition, Path(scratch) / f"{i}-{engine.name}")
            for i, engine in enumerate((left, right))
        ]
    first, second = outcomes
    differences = _contract_differences(names, first.failed, second.failed)
    if first.table is not None and second.table is not None:
        differences += _type_differences(first.table, second.table, names)
        differences += compare_tables(
            first.table, second.table, names=names, rel_tol=rel_tol, abs_tol=abs_tol
        )
    return ParityReport(
        transform=name,
        engines=names,
        rows=(_rows_of(first), _rows_of(second)),
        differences=tuple(differences),
        contracts=(first.failed, second.failed),
    )


def assert_parity(registry: Registry, name: str, **options: Any) -> ParityReport:
    """:func:`check_parity`, raising :class:`ParityError` (an AssertionError) on a difference."""
    report = check_parity(registry, name, **options)
    if not report.equal:
        raise ParityError(report)
    return report


def _run(
    registry: Registry,
    name: str,
    engine: Engine,
    inputs: Mapping[str, str | Path | pa.Table],
    partition: str | None,
    output: Path,
) -> _Outcome:
    tables = {
        dataset: engine.from_arrow(value, name=f"parity_{dataset}")
        if isinstance(value, pa.Table)
        else value
        for dataset, value in inputs.items()
    }
    try:
        run_transform(
            registry, name, engine=engine, inputs=tables, output=output, partition=partition
        )
    except ContractViolation as exc:
        return _Outcome(None, exc.reports)
    # What was published, read back with pyarrow (partition values as strings).
    return _Outcome(storage.read_arrow(output))


def _rows_of(outcome: _Outcome) -> int | None:
    return outcome.table.num_rows if outcome.table is not None else None


def _contract_differences(
    names: tuple[str, str],
    left: Sequence[ValidationReport],
    right: Sequence[ValidationReport],
) -> list[str]:
    if [r.summary() for r in left] == [r.summary() for r in right]:
        return []
    return [
        f"contracts differ: on {engine}: " + (_reports(reports) if reports else "all passed")
        for engine, reports in zip(names, (left, right), strict=True)
    ]


def _reports(reports: Sequence[ValidationReport]) -> str:
    return "\n".join(report.summary() for report in reports)


def _type_differences(left: pa.Table, right: pa.Table, names: tuple[str, str]) -> list[str]:
    if not left.num_columns or not right.num_columns:
        return []  # nothing written on one side: no types to compare
    return [
        f"column {column!r} is written as {left.schema.field(column).type} on {names[0]}, "
        f"{right.schema.field(column).type} on {names[1]}"
        for column in left.column_names
        if column in right.column_names
        and left.schema.field(column).type != right.schema.field(column).type
    ]


def compare_tables(
    left: pa.Table,
    right: pa.Table,
    *,
    names: tuple[str, str] = ("left", "right"),
    rel_tol: float = 1e-9,
    abs_tol: float = 1e-12,
) -> list[str]:
    """Differences between two tables as multisets of normalised rows (empty if equal).

    NaN equals NaN and differs from NULL; timestamps with a zone compare as UTC; lists and
    structs compare element by element; floats are equal within the tolerances.
    """
    if not left.num_rows and not right.num_rows:
        return []  # two empty results (an engine may write no file, hence no columns)
    if sorted(left.column_names) != sorted(right.column_names):
        return [
            f"columns differ: {names[0]} {left.column_names} vs {names[1]} {right.column_names}"
        ]
    columns = sorted(left.column_names)
    floats = [c for c in columns if pa.types.is_floating(left.schema.field(c).type)]
    order = [c for c in columns if c not in floats] + floats
    rows_l, rows_r = _rows(left, order), _rows(right, order)
    if len(rows_l) == len(rows_r) and all(
        _row_close(a, b, rel_tol, abs_tol) for a, b in zip(rows_l, rows_r, strict=True)
    ):
        return []
    exact = len(order) - len(floats)
    only_l = Counter(r[:exact] for r in rows_l) - Counter(r[:exact] for r in rows_r)
    only_r = Counter(r[:exact] for r in rows_r) - Counter(r[:exact] for r in rows_l)
    differences = []
    if len(rows_l) != len(rows_r):
        differences.append(f"row counts: {names[0]} {len(rows_l):,}, {names[1]} {len(rows_r):,}")
    differences += _shown(f"only in {names[0]}", order[:exact], only_l)
    differences += _shown(f"only in {names[1]}", order[:exact], only_r)
    if not only_l and not only_r:
        first = next(
            i
            for i, (a, b) in enumerate(zip(rows_l, rows_r, strict=False))
            if not _row_close(a, b, rel_tol, abs_tol)
        )
        differences.append(
            f"first differing row (columns {order}):\n    {names[0]}: {rows_l[first]}\n"
            f"    {names[1]}: {rows_r[first]}"
        )
    return differences


def _shown(label: str, columns: list[str], rows: Counter[Row]) -> list[str]:
    if not rows:
        return []
    shown = sorted(rows.elements(), key=_sort_key)[:MAX_SHOWN]
    lines = [f"{label}: {count_noun(sum(rows.values()), 'row')} (columns {columns}), e.g."]
    return lines + [f"    {row}" for row in shown]


def _rows(table: pa.Table, order: list[str]) -> list[Row]:
    columns = [[_normalise(v) for v in table.column(c).to_pylist()] for c in order]
    return sorted(zip(*columns, strict=True), key=_sort_key) if columns else []


class _NaN:
    """NaN as a value that equals itself, so that rows holding it compare and sort."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _NaN)

    def __lt__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return hash("nan")

    def __repr__(self) -> str:
        return "nan"


NAN = _NaN()


def _normalise(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return NAN
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return value.astimezone(datetime.UTC).replace(tzinfo=None)
    if isinstance(value, list):
        return tuple(_normalise(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _normalise(v)) for k, v in value.items()))
    return value


def _sort_key(row: Row) -> tuple[Any, ...]:
    return tuple((v is None, "" if v is None else (type(v).__name__, v)) for v in row)


def _row_close(a: Row, b: Row, rel_tol: float, abs_tol: float) -> bool:
    return all(
        math.isclose(x, y, rel_tol=rel_tol, abs_tol=abs_tol)
        if isinstance(x, float) and isinstance(y, float)
        else x == y
        for x, y in zip(a, b, strict=True)
    )
