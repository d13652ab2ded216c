"""Engines per asset and the launches that run them."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hydra_orchestration.plan import Launch, engines_for, plan_launches
from hydra_transforms.example import registry as example
from tests.orchestration.branches import registry as branches

NAMES = [t.name for t in example.transforms]


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


def test_independent_transforms_of_one_engine_share_a_launch() -> None:
    # squared does not wait for after_negated: it joins negated's launch.
    selected = ["negated", "after_negated", "squared"]
    engine_of = engines_for(
        branches, selected, default="pyspark", overrides={"after_negated": "duckdb"}
    )
    assert plan_launches(branches, engine_of) == [
        Launch("pyspark", ("negated", "squared")),
        Launch("duckdb", ("after_negated",)),
    ]


def test_only_the_selected_transforms_are_planned() -> None:
    engine_of = engines_for(example, ["graph"], default="duckdb", overrides={"edges": "pyspark"})
    assert engine_of == {"graph": "duckdb"}
    assert plan_launches(example, engine_of) == [Launch("duckdb", ("graph",))]


def test_an_override_for_an_unknown_asset_names_the_valid_ones() -> None:
    message = (
        "engines: no asset 'egdes' in example; "
        "its assets are nodes, seed_rejections, edges, graph, graph_aggr"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        engines_for(example, NAMES, default="duckdb", overrides={"egdes": "pyspark"})


@given(
    st.fixed_dictionaries({name: st.sampled_from(["duckdb", "pyspark"]) for name in NAMES}),
    st.sets(st.sampled_from(NAMES), min_size=1),
)
def test_every_plan_runs_each_transform_once_after_its_selected_inputs(
    engines: dict[str, str], selected: set[str]
) -> None:
    engine_of = {name: engines[name] for name in selected}
    launches = plan_launches(example, engine_of)
    ran = [name for launch in launches for name in launch.transforms]
    assert sorted(ran) == sorted(selected)
    position = {name: i for i, name in enumerate(ran)}
    for launch in launches:
        assert {engine_of[name] for name in launch.transforms} == {launch.engine}
        for name in launch.transforms:
            for upstream in example[name].inputs.values():  # type: ignore[union-attr]
                if upstream in selected:
                    assert position[upstream] < position[name]
    # Consecutive launches on one engine would have been one launch.
    assert all(a.engine != b.engine for a, b in itertools.pairwise(launches))
