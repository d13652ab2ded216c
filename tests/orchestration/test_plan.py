"""Engines per asset and the launches that run them."""

from __future__ import annotations

import inspect
import itertools
import re
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hydra_orchestration.plan import Launch, engines_for, plan_launches
from hydra_orchestration.settings import SettingsError
from hydra_transforms.example import registry as example
from hydra_transforms.registry import Registry
from tests.orchestration.demo import Numbers

NAMES = [t.name for t in example.transforms]
ENGINES = ["duckdb", "pyspark", "emr"]


def registry_of(inputs: Mapping[str, Sequence[str]]) -> Registry:
    """A registry whose transforms read the named datasets (``source`` is its one source)."""
    registry = Registry("graph")
    registry.source("source", format="csv", contract=Numbers)
    for name, reads in inputs.items():
        params = [f"in_{dataset}" for dataset in reads or ["source"]]

        def fn(**tables: object) -> object:  # never called: planning only reads the graph
            raise AssertionError

        fn.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY) for p in params]
        )
        fn.__name__ = name
        registry.transform(inputs={p: p.removeprefix("in_") for p in params}, contract=Numbers)(fn)
    return registry


def test_one_engine_is_one_launch_in_dependency_order() -> None:
    engine_of = engines_for(example, NAMES, default="pyspark", overrides={})
    assert plan_launches(example, engine_of) == [Launch("pyspark", tuple(NAMES))]


def test_an_asset_moved_to_another_engine_splits_the_run_where_its_dependencies_do() -> None:
    engine_of = engines_for(example, NAMES, default="pyspark", overrides={"edges": "duckdb"})
    assert plan_launches(example, engine_of) == [
        Launch("pyspark", ("nodes", "seed_rejections")),
        Launch("duckdb", ("edges",)),
        Launch("pyspark", ("graph", "graph_aggr")),
    ]


def test_a_transform_waits_when_that_saves_a_launch() -> None:
    # seed_rejections could run first, but then graph would need a second Spark launch.
    selected = ["seed_rejections", "edges", "graph"]
    engine_of = engines_for(example, selected, default="pyspark", overrides={"edges": "duckdb"})
    assert plan_launches(example, engine_of) == [
        Launch("duckdb", ("edges",)),
        Launch("pyspark", ("seed_rejections", "graph")),
    ]


def test_among_plans_of_equal_length_the_one_with_fewer_engine_starts_wins() -> None:
    # Two chains a -> b and c -> d; either engine can go first, three launches either way.
    registry = registry_of({"a": [], "b": ["a"], "c": [], "d": ["c"]})
    engine_of = {"a": "pyspark", "b": "duckdb", "c": "duckdb", "d": "pyspark"}
    assert plan_launches(registry, engine_of) == [
        Launch("duckdb", ("c",)),
        Launch("pyspark", ("a", "d")),
        Launch("duckdb", ("b",)),
    ]


def test_only_the_selected_transforms_are_planned() -> None:
    engine_of = engines_for(example, ["graph"], default="duckdb", overrides={"edges": "pyspark"})
    assert engine_of == {"graph": "duckdb"}
    assert plan_launches(example, engine_of) == [Launch("duckdb", ("graph",))]
    assert plan_launches(example, {}) == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "egdes",
            "engines: no transform 'egdes' in example; "
            "its transforms are nodes, seed_rejections, edges, graph, graph_aggr",
        ),
        (
            "seed_nodes",
            "engines: no transform 'seed_nodes' in example (seed_nodes: a source, read where it "
            "is, runs on no engine); its transforms are nodes, seed_rejections, edges, graph, "
            "graph_aggr",
        ),
    ],
)
def test_an_override_for_anything_but_a_transform_names_the_valid_ones(
    name: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=f"^{re.escape(message)}$"):
        engines_for(example, NAMES, default="duckdb", overrides={name: "pyspark"})


@st.composite
def graphs(draw: st.DrawFn) -> tuple[Registry, dict[str, str]]:
    """A random registry of up to six transforms, and a random engine for each."""
    names = [f"t{i}" for i in range(draw(st.integers(1, 6)))]
    inputs = {
        name: draw(st.lists(st.sampled_from(names[:i]), unique=True)) if i else []
        for i, name in enumerate(names)
    }
    engines = {name: draw(st.sampled_from(ENGINES)) for name in names}
    return registry_of(inputs), engines


def fewest_launches(registry: Registry, engine_of: Mapping[str, str]) -> int:
    """By brute force: the fewest ordered groups, one engine each, every input in an earlier
    group or the same one."""
    names = list(engine_of)
    for count in range(1, len(names) + 1):
        for group in itertools.product(range(count), repeat=len(names)):
            of = dict(zip(names, group, strict=True))
            if all(
                len({engine_of[n] for n in names if of[n] == g}) <= 1 for g in range(count)
            ) and all(
                of[i] <= of[n]
                for n in names
                for i in registry[n].inputs.values()  # type: ignore[union-attr]
                if i in of
            ):
                return count
    return 0


@given(graphs())
def test_every_plan_is_valid_and_has_the_fewest_launches(
    drawn: tuple[Registry, dict[str, str]],
) -> None:
    registry, engine_of = drawn
    launches = plan_launches(registry, engine_of)
    ran = [name for launch in launches for name in launch.transforms]
    assert sorted(ran) == sorted(engine_of)
    position = {name: i for i, name in enumerate(ran)}
    for launch in launches:
        assert {engine_of[name] for name in launch.transforms} == {launch.engine}
        for name in launch.transforms:
            for upstream in registry[name].inputs.values():  # type: ignore[union-attr]
                if upstream in engine_of:
                    assert position[upstream] < position[name]
    assert len(launches) == fewest_launches(registry, engine_of)
