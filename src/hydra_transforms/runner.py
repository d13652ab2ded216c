"""Run a transform: read inputs, check their contracts, build, write, check the output, publish."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping, MutableSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from hydra_transforms import storage
from hydra_transforms.contracts import (
    Contract,
    ContractViolation,
    ValidationReport,
    contract_schema,
    validate,
)
from hydra_transforms.engines import CsvReadError, Engine, to_arrow
from hydra_transforms.errors import EngineError, cancellable, describe_error
from hydra_transforms.expr import parse_text
from hydra_transforms.registry import Dataset, Registry, Source, Transform
from hydra_transforms.stores import is_remote

__all__ = ["RunResult", "read_dataset", "run_pipeline", "run_transform"]

Location = str | Path
# A dataset (or one partition of it) whose contract this run has checked: (name, partition).
Checked = MutableSet[tuple[str, str | None]]


@dataclass(frozen=True)
class RunResult:
    """What one run of a transform produced."""

    transform: str
    engine: str
    output: str | None
    partition: str | None
    rows: int
    schema: Mapping[str, str]
    duration_s: float
    input_reports: tuple[ValidationReport, ...] = ()
    output_report: ValidationReport | None = None
    preview: tuple[Mapping[str, Any], ...] = ()
    table: ir.Table | None = field(default=None, repr=False, compare=False)


def read_dataset(
    engine: Engine,
    dataset: Dataset,
    location: Location | None = None,
    *,
    partition: str | None = None,
) -> ir.Table:
    """A source or a transform's published output as an ibis table on ``engine``.

    A CSV source's columns get the contract's types (NULL where a value does not parse; the
    contract check names such values, see :func:`read_text`).
    """
    text = read_text(engine, dataset, location, partition=partition)
    if text is not None:
        return typed_from_text(text, dataset.contract)
    if isinstance(dataset, Source) and dataset.builtin:
        assert dataset.loader is not None
        table = engine.from_arrow(dataset.loader(), name=f"hydra_{dataset.name}")
    elif location is None:
        raise ValueError(f"dataset {dataset.name!r} needs a location (a path) to be read from")
    else:
        table = read_location(engine, dataset, location)
    return _in_partition(table, dataset.partition_column, partition)


def read_location(engine: Engine, dataset: Dataset, location: Location) -> ir.Table:
    """What is at ``location``: a published dataset (the version its manifest names) or,
    where there is no manifest, plain Parquet files written by another tool."""
    if is_remote(location) and engine.s3 is None:
        raise ValueError(
            f"{location}: reading s3:// needs the engine to know the store: "
            "connect(..., s3=S3Options(endpoint_url=..., region=...))"
        )
    published = storage.snapshot(location, engine.s3)
    if published is None:
        return engine.read_parquet(str(location))
    if published.empty:  # no rows were published: no files, but the contract's columns
        schema = contract_schema(dataset.contract)
        return engine.from_arrow(
            schema.to_pyarrow().empty_table(), name=ibis.util.gen_name("empty")
        )
    return engine.read_snapshot(published)


def read_text(
    engine: Engine,
    dataset: Dataset,
    location: Location | None,
    *,
    partition: str | None = None,
) -> ir.Table | None:
    """A CSV source as text, in its declared dialect (None for datasets that are not CSV).

    Validate the typed table with ``validate(..., text=<this>)`` so that values that do not
    parse are reported with their text.
    """
    if not (isinstance(dataset, Source) and dataset.format == "csv"):
        return None
    if location is None:
        raise ValueError(f"dataset {dataset.name!r} needs a location (a path) to be read from")
    assert dataset.csv is not None
    expected = list(contract_schema(dataset.contract))
    raw = engine.read_csv(str(location), dataset.csv, names=expected)
    if expected and not set(expected) & set(raw.columns):
        raise CsvReadError(
            f"{location} does not read as the CSV dialect declared for {dataset.name!r} "
            f"({dataset.csv.describe()}): its header gives "
            f"{', '.join(repr(c) for c in raw.columns[:5])}"
            f"{' ...' if len(raw.columns) > 5 else ''}, none of the contract's columns "
            f"({', '.join(expected)}). Declare the file's dialect on the source, e.g. "
            f"CsvDialect(delimiter=';')."
        )
    return _in_partition(raw, dataset.partition_column, partition)


def typed_from_text(text: ir.Table, contract: Contract) -> ir.Table:
    """Text columns as the contract's types (``expr.parse_text``: the same value on every
    engine), NULL where a value does not parse. Missing and extra columns are left for the
    contract to report."""
    schema = contract_schema(contract)
    return text.mutate(
        **{
            name: parse_text(cast(ir.StringValue, text[name]), schema[name])
            for name in text.columns
            if name in schema and not schema[name].is_string()
        }
    )


def _in_partition(table: ir.Table, column: str | None, partition: str | None) -> ir.Table:
    """The rows of one partition, when both the dataset and the run are partitioned."""
    if partition is None or column is None:
        return table
    return table.filter(table[column] == partition)


def run_transform(
    registry: Registry,
    name: str,
    *,
    engine: Engine,
    inputs: Mapping[str, Location | ir.Table],
    output: Location | None = None,
    partition: str | None = None,
    validate_inputs: bool = True,
    validate_output: bool = True,
    preview_rows: int = 0,
    checked: Checked | None = None,
    writer: str | None = None,
) -> RunResult:
    """Run one transform of ``registry`` on ``engine``.

    ``inputs`` maps the names of the datasets the transform reads to their locations (or
    to ibis tables already on ``engine``). With ``output``, the result is written as Parquet
    (hive-partitioned by the transform's partition column) and published atomically only if
    it passed its contract; without, it is only built and checked. ``partition`` restricts
    the run to one value of the partition column: inputs are filtered to it and only that
    partition of the output is replaced.

    ``checked`` lets several transforms of one run check each dataset once: inputs named in it
    are not checked again, and every input and output that passes is added to it.

    Writing holds the output's lock (:func:`storage.exclusive`): a second writer of the same
    dataset fails at once, naming this one — ``writer`` (e.g. ``"run 7f3a..."``; default:
    this process).
    """
    started = time.perf_counter()
    transform = _transform(registry, name)
    if partition is not None and transform.partition_column is None:
        raise ValueError(f"transform {name!r} is not partitioned; run it without a partition")
    tables = _read_inputs(registry, transform, engine, inputs, partition)
    input_reports = (
        _check_inputs(registry, transform, tables, partition, checked) if validate_inputs else ()
    )
    expr = transform(**{param: given.table for param, given in tables.items()})
    # The one place where outputs get exactly the contract's types, on every engine.
    expr = engine.conform(expr, declared_types(expr, transform.contract))
    if output is None:
        # Materialise once: checking and reading the result would otherwise recompute it per query.
        result_table = expr.cache()
        report = _check(result_table, transform, validate_output)
    else:
        result_table, report = _write(
            engine,
            transform,
            expr,
            output,
            partition,
            validate_output,
            writer or f"process {os.getpid()} on {socket.gethostname()}",
        )
    if report is not None and checked is not None:
        checked.add((name, partition))
    if report is not None and report.rows is not None:
        rows = report.rows
    else:
        rows = int(result_table.count().to_pyarrow().as_py()) if result_table is not None else 0
    return RunResult(
        transform=name,
        engine=engine.name,
        output=str(output) if output is not None else None,
        partition=partition,
        rows=rows,
        schema={
            col: str(dtype)
            for col, dtype in (expr if result_table is None else result_table).schema().items()
        },
        duration_s=time.perf_counter() - started,
        input_reports=input_reports,
        output_report=report,
        preview=_preview(result_table, preview_rows) if result_table is not None else (),
        table=result_table,
    )


def run_pipeline(
    registry: Registry,
    *,
    engine: Engine,
    sources: Mapping[str, Location],
    warehouse: Location,
    partition: str | None = None,
    validate_contracts: bool = True,
) -> dict[str, RunResult]:
    """Run every transform of ``registry`` in dependency order, each into ``warehouse/<name>``.

    Every source is checked to be given (and, for a local path, to exist) before anything is
    written, so that a missing one does not leave half a pipeline behind.
    """
    _check_sources(registry, sources)
    locations: dict[str, Location | ir.Table] = dict(sources)
    results = {}
    checked: Checked = set()  # each dataset's contract is checked once per pipeline run
    for transform in registry.transforms:
        output = location_in(warehouse, transform.name)
        results[transform.name] = run_transform(
            registry,
            transform.name,
            engine=engine,
            inputs={n: locations[n] for n in transform.inputs.values() if n in locations},
            output=output,
            partition=partition if transform.partition_column else None,
            validate_inputs=validate_contracts,
            validate_output=validate_contracts,
            checked=checked,
        )
        locations[transform.name] = output
    return results


def location_in(warehouse: Location, name: str) -> str:
    """The location of dataset ``name`` in ``warehouse`` (a directory or an s3:// prefix)."""
    return f"{str(warehouse).rstrip('/')}/{name}"


def _check_sources(registry: Registry, sources: Mapping[str, Location]) -> None:
    needed = [s.name for s in registry.sources if not s.builtin]
    unknown = sorted(set(sources) - {s.name for s in registry.sources})
    missing = [name for name in needed if name not in sources]
    absent = [
        f"{name}={sources[name]}"
        for name in needed
        if name in sources and not is_remote(sources[name]) and not Path(sources[name]).exists()
    ]
    problems = [
        *([f"no location for {', '.join(missing)}"] if missing else []),
        *([f"no such file or directory: {', '.join(absent)}"] if absent else []),
        *([f"{', '.join(unknown)}: not sources of {registry.name}"] if unknown else []),
    ]
    if problems:
        raise ValueError(
            f"{registry.name}: {'; '.join(problems)} (its sources: {', '.join(needed)}); "
            "nothing was written"
        )


def _transform(registry: Registry, name: str) -> Transform:
    dataset = registry[name]
    if not isinstance(dataset, Transform):
        raise ValueError(
            f"{name!r} is a source, not a transform; transforms: "
            f"{', '.join(t.name for t in registry.transforms)}"
        )
    return dataset


def _read_inputs(
    registry: Registry,
    transform: Transform,
    engine: Engine,
    inputs: Mapping[str, Location | ir.Table],
    partition: str | None,
) -> dict[str, _Input]:
    tables = {}
    for param, dataset_name in transform.inputs.items():
        dataset = registry[dataset_name]
        given = inputs.get(dataset_name)
        if given is None and not (isinstance(dataset, Source) and dataset.builtin):
            raise ValueError(
                f"transform {transform.name!r} needs input {dataset_name!r}; given: "
                f"{', '.join(sorted(inputs)) or 'nothing'}"
            )
        if isinstance(given, ir.Table):
            tables[param] = _Input(_in_partition(given, dataset.partition_column, partition))
        elif (text := read_text(engine, dataset, given, partition=partition)) is not None:
            tables[param] = _Input(typed_from_text(text, dataset.contract), text)
        else:
            tables[param] = _Input(read_dataset(engine, dataset, given, partition=partition))
    return tables


@dataclass(frozen=True)
class _Input:
    table: ir.Table
    text: ir.Table | None = None  # what a CSV source's table was parsed from


def _check_inputs(
    registry: Registry,
    transform: Transform,
    tables: Mapping[str, _Input],
    partition: str | None,
    checked: Checked | None,
) -> tuple[ValidationReport, ...]:
    keys = {
        param: (dataset, partition if registry[dataset].partition_column else None)
        for param, dataset in transform.inputs.items()
    }
    reports = tuple(
        validate(
            tables[param].table,
            registry[dataset].contract,
            dataset=dataset,
            text=tables[param].text,
        )
        for param, dataset in transform.inputs.items()
        if checked is None or keys[param] not in checked
    )
    failed = [r for r in reports if not r.passed]
    if failed:
        raise ContractViolation(*failed)
    if checked is not None:
        checked |= set(keys.values())
    return reports


def declared_types(expr: ir.Table, contract: Contract) -> dict[str, dt.DataType]:
    """The contract's type for each column of ``expr`` that it declares with a type of the same
    kind (an integer of another width, a float, a timestamp of another precision).

    A column of another kind (text where the contract wants a number) is not converted: the
    contract check reports it, as it is a mistake in the transform.
    """
    declared = contract_schema(contract)
    actual = expr.schema()
    return {
        name: declared[name]
        for name in actual
        if name in declared and _same_kind(actual[name], declared[name])
    }


def _same_kind(actual: dt.DataType, declared: dt.DataType) -> bool:
    kinds = ("is_integer", "is_floating", "is_decimal", "is_string", "is_boolean", "is_date")
    if actual.is_timestamp() and declared.is_timestamp():
        return actual.timezone == declared.timezone  # type: ignore[attr-defined]
    if actual.is_array() and declared.is_array():
        return _same_kind(actual.value_type, declared.value_type)  # type: ignore[attr-defined]
    return any(getattr(actual, kind)() and getattr(declared, kind)() for kind in kinds)


def _check(table: ir.Table, transform: Transform, enabled: bool) -> ValidationReport | None:
    if not enabled:
        return None
    return validate(table, transform.contract, dataset=transform.name).raise_for_failures()


def _write(
    engine: Engine,
    transform: Transform,
    expr: ir.Table,
    output: Location,
    partition: str | None,
    validate_output: bool,
    writer: str,
) -> tuple[ir.Table | None, ValidationReport | None]:
    """Write to staging, check the staged data, publish; None when there were no rows at all.

    Engines write no file for an empty partitioned result: the partition (or the dataset) is
    then empty, and publishing removes the previous one.
    """
    column = transform.partition_column
    with storage.publication(
        output, writer=writer, partition_column=column, s3=engine.s3
    ) as version:
        try:
            # A signal now stops the engine's job and raises once the engine has let go of
            # the staged version (errors.cancellable), instead of interrupting a call into it.
            with cancellable(engine.cancel):
                try:
                    engine.write_parquet(expr, version.staging, partition_by=column)
                except Exception as exc:
                    raise EngineError(
                        f"writing {transform.name} to {output}: {describe_error(exc)}"
                    ) from exc
                wrote = bool(version.written_partitions())
                staged = engine.read_parquet(version.staging) if wrote else None
                report = None if staged is None else _check(staged, transform, validate_output)
        except BaseException:
            engine.quiesce()  # no job of the engine may write into it once it is discarded
            raise
        committed = version.commit(partition=partition if column else None)
    if not wrote:
        return None, report
    return _in_partition(engine.read_snapshot(committed), column, partition), report


def _preview(table: ir.Table, rows: int) -> tuple[Mapping[str, Any], ...]:
    if rows <= 0:
        return ()
    return tuple(to_arrow(table.limit(rows)).to_pylist())
