"""Parity: every transform of the example gives the same answer on DuckDB and on local PySpark."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hydra_transforms.engines import connect
from hydra_transforms.example import registry
from hydra_transforms.parity import assert_parity
from hydra_transforms.runner import run_pipeline

pytestmark = pytest.mark.pyspark

TRANSFORMS = [t.name for t in registry.transforms]


@pytest.fixture(scope="module")
def sample_inputs(
    sample_sources: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The sample's sources plus every upstream output (made once, on DuckDB)."""
    warehouse = tmp_path_factory.mktemp("parity_warehouse")
    run_pipeline(registry, engine=connect("duckdb"), sources=sample_sources, warehouse=warehouse)
    return {**sample_sources, **{name: warehouse / name for name in TRANSFORMS}}


@pytest.mark.parametrize("name", TRANSFORMS)
def test_every_transform_agrees_on_the_sample(
    name: str, sample_inputs: dict[str, Any], spark_session: Any
) -> None:
    inputs = {d: sample_inputs[d] for d in registry[name].inputs.values() if d in sample_inputs}  # type: ignore[union-attr]
    report = assert_parity(registry, name, inputs=inputs, spark=spark_session)
    assert report.rows[0] == report.rows[1] > 0


# Generated inputs: URLs built from the pieces that make real ones odd.
_SCHEMES = ["", "http://", "https://", "HTTPS://", "//", "mailto:", "ftp://", "javascript:", " "]
_LABELS = [
    "firm",
    "Shop",
    "example",
    "co",
    "uk",
    "de",
    "com",
    "jp",
    "kawasaki",
    "city",
    "github",
    "io",
    "x-y",
    "b\u00fccher",
    "\u4f8b",
    "www",
    "",
    "127",
    "0",
]
_TAILS = ["", "/", ".", "..", ":8080", ":8080/a?b=1#c", "/about us", "?q=1", "#top", "/a\nb"]

hosts = st.lists(st.sampled_from(_LABELS), min_size=1, max_size=4).map(".".join)
urls = st.one_of(
    st.none(),
    st.builds(
        lambda s, u, h, t: s + u + h + t,
        st.sampled_from(_SCHEMES),
        st.sampled_from(["", "user@", "a:b@"]),
        hosts,
        st.sampled_from(_TAILS),
    ),
    st.text(max_size=12),
)
seed_rows = st.lists(
    st.tuples(
        st.integers(1, 6),
        st.one_of(st.none(), st.text(max_size=5)),
        urls,
        st.sampled_from([None, "DE", "GB"]),
    ),
    max_size=12,
)
PROPERTY = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _seeds(rows: list[tuple]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    return pa.table(
        {
            "company_id": pa.array(columns[0], pa.int64()),
            "company_name": pa.array(columns[1], pa.string()),
            "website": pa.array(columns[2], pa.string()),
            "country": pa.array(columns[3], pa.string()),
        }
    )


@PROPERTY
@given(rows=seed_rows)
def test_nodes_and_rejections_agree_on_generated_seeds(
    rows: list[tuple], spark_session: Any
) -> None:
    seeds = _seeds(rows)
    for name in ("nodes", "seed_rejections"):
        assert_parity(registry, name, inputs={"seed_nodes": seeds}, spark=spark_session)


@PROPERTY
@given(
    links=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "https://firm.de/a",
                    "http://blog.firm.de/",
                    "https://shop.example.co.uk/x",
                    "https://other.org/",
                ]
            ),
            urls,
            st.one_of(st.none(), st.text(max_size=6)),
            st.sampled_from(["CC-MAIN-2024-10", "CC-MAIN-2024-33"]),
        ),
        max_size=15,
    )
)
def test_edges_agree_on_generated_links(links: list[tuple], spark_session: Any) -> None:
    nodes = pa.table(
        {
            "domain": ["firm.de", "example.co.uk", "b.com"],
            "host": ["firm.de", "shop.example.co.uk", "b.com"],
            "company_id": pa.array([1, 2, 3], pa.int64()),
            "company_name": ["F", "E", None],
            "country": ["DE", "GB", None],
            "website": ["firm.de", "shop.example.co.uk", "b.com"],
        }
    )
    columns = list(zip(*links, strict=True)) if links else [[], [], [], []]
    n = len(links)
    records = pa.table(
        {
            "crawl_id": pa.array(columns[3], pa.string()),
            "page_url": pa.array(columns[0], pa.string()),
            "fetch_time": pa.array([datetime.datetime(2024, 3, 1, 12)] * n, pa.timestamp("us")),
            "language": pa.array(["deu"] * n, pa.string()),
            "link_url": pa.array(columns[1], pa.string()),
            "anchor_text": pa.array(columns[2], pa.string()),
            "html_path": pa.array(["A@/href"] * n, pa.string()),
        }
    )
    assert_parity(
        registry, "edges", inputs={"crawl_records": records, "nodes": nodes}, spark=spark_session
    )
