"""Declare sources and transforms once; the registry knows their dependency graph."""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from hydra_transforms.formats import CsvDialect

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

    from hydra_transforms.contracts import Contract

__all__ = ["CsvDialect", "Dataset", "Registry", "Source", "Transform", "load_registry"]

SourceFormat = Literal["parquet", "csv", "builtin"]
SOURCE_FORMATS: tuple[str, ...] = ("parquet", "csv", "builtin")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Source:
    """A raw dataset: where it comes from is configuration; how to read it and its contract are not.

    ``format`` is ``parquet`` (a file or a hive-partitioned directory), ``csv`` (read in the
    declared ``csv`` dialect, RFC 4180 by default, and typed by the contract) or ``builtin``
    (data shipped with the code, made by ``loader``).
    """

    name: str
    format: SourceFormat
    contract: Contract
    description: str = ""
    partition_column: str | None = None
    loader: Callable[[], pa.Table] | None = None
    csv: CsvDialect | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.format not in SOURCE_FORMATS:
            raise ValueError(
                f"source {self.name!r}: unknown format {self.format!r}; valid: {SOURCE_FORMATS}"
            )
        if (self.format == "builtin") != (self.loader is not None):
            raise ValueError(f"source {self.name!r}: a loader goes with format 'builtin' only")
        if self.csv is not None and self.format != "csv":
            raise ValueError(f"source {self.name!r}: a csv dialect goes with format 'csv' only")
        if self.format == "csv" and self.csv is None:
            object.__setattr__(self, "csv", CsvDialect())

    @property
    def builtin(self) -> bool:
        """Data shipped with the code: it needs no location."""
        return self.format == "builtin"


@dataclass(frozen=True)
class Transform:
    """A pure function from named ibis tables to one ibis table, with contracts.

    ``inputs`` maps the function's parameter names to dataset names (sources or other
    transforms); each input's contract is the contract of the dataset it names.
    """

    name: str
    fn: Callable[..., ir.Table]
    inputs: Mapping[str, str]
    contract: Contract
    description: str = ""
    partition_column: str | None = None
    group: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_name(self.name)
        params = list(inspect.signature(self.fn).parameters)
        if sorted(params) != sorted(self.inputs):
            raise ValueError(
                f"transform {self.name!r}: inputs {sorted(self.inputs)} must name the "
                f"function's parameters {params}"
            )

    def __call__(self, **tables: ir.Table) -> ir.Table:
        missing = sorted(set(self.inputs) - set(tables))
        if missing:
            raise TypeError(f"transform {self.name!r} is missing inputs {missing}")
        return self.fn(**{name: tables[name] for name in self.inputs})


Dataset = Source | Transform


class Registry:
    """The sources and transforms of one pipeline, and the graph between them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._datasets: dict[str, Dataset] = {}

    def add(self, dataset: Dataset) -> Dataset:
        if dataset.name in self._datasets:
            raise ValueError(f"{self.name}: dataset {dataset.name!r} is declared twice")
        if isinstance(dataset, Transform):
            unknown = sorted(set(dataset.inputs.values()) - set(self._datasets))
            if unknown:
                raise ValueError(
                    f"transform {dataset.name!r} reads unknown datasets {unknown}; declare "
                    f"them first (known: {sorted(self._datasets)})"
                )
        self._datasets[dataset.name] = dataset
        return dataset

    def source(self, name: str, *, format: SourceFormat, contract: Contract, **options) -> Source:
        source = Source(name=name, format=format, contract=contract, **options)
        self.add(source)
        return source

    def transform(
        self,
        *,
        inputs: Mapping[str, str],
        contract: Contract,
        name: str | None = None,
        partition_column: str | None = None,
        group: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Callable[[Callable[..., ir.Table]], Transform]:
        """Decorator: register a function as a transform; its docstring is its description."""

        def register(fn: Callable[..., ir.Table]) -> Transform:
            transform = Transform(
                name=name or fn.__name__,
                fn=fn,
                inputs=MappingProxyType(dict(inputs)),
                contract=contract,
                description=inspect.cleandoc(fn.__doc__ or ""),
                partition_column=partition_column,
                group=group or self.name,
                tags=MappingProxyType(dict(tags or {})),
            )
            self.add(transform)
            return transform

        return register

    def __getitem__(self, name: str) -> Dataset:
        try:
            return self._datasets[name]
        except KeyError:
            raise KeyError(
                f"{self.name}: no dataset {name!r}; known: {', '.join(sorted(self._datasets))}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._datasets

    def __iter__(self) -> Iterator[Dataset]:
        return iter(self._datasets.values())

    @property
    def sources(self) -> list[Source]:
        return [d for d in self._datasets.values() if isinstance(d, Source)]

    @property
    def transforms(self) -> list[Transform]:
        """Transforms in dependency order (every transform after the ones it reads)."""
        order = TopologicalSorter(self.graph()).static_order()
        return [d for name in order if isinstance(d := self._datasets[name], Transform)]

    def graph(self) -> dict[str, set[str]]:
        """Dataset name -> names of the datasets it reads."""
        graph = {
            name: set(d.inputs.values()) if isinstance(d, Transform) else set()
            for name, d in self._datasets.items()
        }
        try:
            tuple(TopologicalSorter(graph).static_order())
        except CycleError as exc:  # pragma: no cover - add() makes cycles impossible
            raise ValueError(f"{self.name}: dependency cycle {exc.args[1]}") from exc
        return graph

    def upstream(self, name: str) -> list[Dataset]:
        """The datasets a transform reads, in the order of its inputs."""
        dataset = self[name]
        if not isinstance(dataset, Transform):
            return []
        return [self[n] for n in dataset.inputs.values()]


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(
            f"invalid dataset name {name!r}: use lower case letters, digits and underscores"
        )


def load_registry(spec: str) -> Registry:
    """``package.module:attribute`` -> the Registry it names (attribute defaults to ``registry``)."""
    module_name, _, attribute = spec.partition(":")
    try:
        registry = getattr(importlib.import_module(module_name), attribute or "registry")
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load registry {spec!r} ({exc}); use module:attribute") from exc
    if not isinstance(registry, Registry):
        raise ValueError(
            f"{spec!r} is a {type(registry).__name__}, not a hydra_transforms.Registry"
        )
    return registry
