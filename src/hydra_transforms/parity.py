"""Parity: run a transform on DuckDB and on PySpark over the same inputs and compare results.

Results are compared as multisets of rows (engines do not promise an order), with types
normalised (integer widths, string flavours, timestamp precision and zone) and floats
equal within a tolerance. A difference is reported with the first rows that differ.
"""

from __future__ import annotations

import datetime
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir
import pyarrow as pa

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
    """How the results of one transform on two engines compare."""

    transform: str
    engines: tuple[str, str]
    rows: tuple[int, int]
    differences: tuple[str, ...] = field(default=())

    @property
    def equal(self) -> bool:
        return not self.differences

    def summary(self) -> str:
        left, right = self.engines
        head = (
            f"transform '{self.transform}': {left} ({self.rows[0]:,} rows) vs "
            f"{right} ({self.rows[1]:,} rows): "
        )
        return head + ("equal" if self.equal else "DIFFERENT\n" + "\n".join(self.differences))


class ParityError(AssertionError):
    def __init__(self, report: ParityReport) -> None:
        super().__init__(report.summary())
        self.report = report


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
    itself. Contracts are checked on both engines as in a normal run.
    """
    left, right = engines or (connect("duckdb"), connect("pyspark", spark=spark))
    results = []
    for engine in (left, right):
        tables = {
            dataset: engine.from_arrow(value, name=f"parity_{dataset}")
            if isinstance(value, pa.Table)
            else value
            for dataset, value in inputs.items()
        }
        result = run_transform(registry, name, engine=engine, inputs=tables, partition=partition)
        assert isinstance(result.table, ir.Table)
        results.append(result.table.to_pyarrow())
    differences = compare_tables(
        results[0], results[1], names=(left.name, right.name), rel_tol=rel_tol, abs_tol=abs_tol
    )
    return ParityReport(
        transform=name,
        engines=(left.name, right.name),
        rows=(results[0].num_rows, results[1].num_rows),
        differences=tuple(differences),
    )


def assert_parity(registry: Registry, name: str, **options: Any) -> ParityReport:
    """:func:`check_parity`, raising :class:`ParityError` (an AssertionError) on a difference."""
    report = check_parity(registry, name, **options)
    if not report.equal:
        raise ParityError(report)
    return report


def compare_tables(
    left: pa.Table,
    right: pa.Table,
    *,
    names: tuple[str, str] = ("left", "right"),
    rel_tol: float = 1e-9,
    abs_tol: float = 1e-12,
) -> list[str]:
    """Differences between two tables as multisets of normalised rows (empty if equal)."""
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
    lines = [f"{label}: {sum(rows.values()):,} rows (columns {columns}), e.g."]
    return lines + [f"    {row}" for row in shown]


def _rows(table: pa.Table, order: list[str]) -> list[Row]:
    columns = [[_normalise(v) for v in table.column(c).to_pylist()] for c in order]
    return sorted(zip(*columns, strict=True), key=_sort_key) if columns else []


def _normalise(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None  # engines disagree on NaN versus NULL after aggregation
    if isinstance(value, Decimal):
        return float(value)
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
