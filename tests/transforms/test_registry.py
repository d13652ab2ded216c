"""Declaring sources and transforms: mistakes are caught at declaration, with names."""

from __future__ import annotations

import ibis.expr.types as ir
import pandera.ibis as pa
import pyarrow
import pytest

from hydra_transforms.example import registry as example
from hydra_transforms.registry import Registry, Source, Transform


class Anything(pa.DataFrameModel):
    x: int = pa.Field()


def _registry() -> Registry:
    registry = Registry("demo")
    registry.source("raw", format="parquet", contract=Anything)
    return registry


def test_transforms_are_listed_in_dependency_order_with_their_docstrings() -> None:
    registry = _registry()

    @registry.transform(inputs={"r": "raw"}, contract=Anything, name="z_first")
    def first(r: ir.Table) -> ir.Table:
        """Reads the raw data.

        More detail.
        """
        return r

    @registry.transform(inputs={"a": "z_first", "r": "raw"}, contract=Anything)
    def a_second(a: ir.Table, r: ir.Table) -> ir.Table:
        return a

    assert [t.name for t in registry.transforms] == ["z_first", "a_second"]
    assert registry.graph() == {"raw": set(), "z_first": {"raw"}, "a_second": {"raw", "z_first"}}
    assert first.description == "Reads the raw data.\n\nMore detail."
    assert [d.name for d in registry.upstream("a_second")] == ["z_first", "raw"]
    assert isinstance(registry["raw"], Source)
    assert isinstance(first, Transform)
    assert first.group == "demo"


def test_a_transform_must_read_declared_datasets() -> None:
    registry = _registry()
    with pytest.raises(ValueError, match=r"reads unknown datasets \['later'\]"):

        @registry.transform(inputs={"t": "later"}, contract=Anything)
        def step(t: ir.Table) -> ir.Table:
            return t


def test_inputs_must_match_the_function_parameters() -> None:
    registry = _registry()
    with pytest.raises(ValueError, match=r"must name the function's parameters \['table'\]"):

        @registry.transform(inputs={"r": "raw"}, contract=Anything)
        def step(table: ir.Table) -> ir.Table:
            return table


def test_names_are_unique_and_well_formed() -> None:
    registry = _registry()
    with pytest.raises(ValueError, match="declared twice"):
        registry.source("raw", format="csv", contract=Anything)
    with pytest.raises(ValueError, match="invalid dataset name 'Raw-2'"):
        registry.source("Raw-2", format="csv", contract=Anything)


def test_source_formats_are_checked() -> None:
    with pytest.raises(
        ValueError, match=r"unknown format 'xlsx'; valid: \('parquet', 'csv', 'builtin'\)"
    ):
        Source(name="s", format="xlsx", contract=Anything)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="loader goes with format 'builtin'"):
        Source(name="s", format="builtin", contract=Anything)
    Source(name="s", format="builtin", contract=Anything, loader=lambda: pyarrow.table({"x": [1]}))


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"no dataset 'edge'; known: .*edges"):
        example["edge"]


def test_calling_a_transform_checks_its_inputs() -> None:
    nodes = example["nodes"]
    assert isinstance(nodes, Transform)
    with pytest.raises(TypeError, match=r"missing inputs \['rules'\]"):
        nodes(seeds=None)  # type: ignore[arg-type]


def test_the_example_graph() -> None:
    assert [t.name for t in example.transforms] == [
        "nodes",
        "seed_rejections",
        "edges",
        "graph",
        "graph_aggr",
    ]
    assert example.graph()["graph_aggr"] == {"edges", "graph", "nodes"}
    partitioned = {t.name for t in example.transforms if t.partition_column == "crawl_id"}
    assert partitioned == {"edges", "graph", "graph_aggr"}
