"""Each transform of the example pipeline on small hand-written tables, on every engine."""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from hydra_transforms.contracts import Contract, contract_schema
from hydra_transforms.engines import Engine
from hydra_transforms.example import contracts as c
from hydra_transforms.example import registry
from hydra_transforms.runner import run_transform

A = "CC-MAIN-2024-10"
B = "CC-MAIN-2024-33"
T = datetime.datetime(2024, 3, 1, 12, 0)

Row = dict[str, Any]


def _table(engine: Engine, contract: Contract, rows: list[Row], name: str) -> ir.Table:
    """An in-memory table typed by ``contract`` (columns in the contract's order)."""
    schema = contract_schema(contract).to_pyarrow()
    return engine.from_arrow(pa.Table.from_pylist(rows, schema=schema), name=name)


def _run(engine: Engine, name: str, **inputs: ir.Table) -> list[Row]:
    """Run transform ``name`` (input and output contracts checked); its rows, sorted."""
    result = run_transform(registry, name, engine=engine, inputs=inputs)
    assert result.output_report is not None
    assert result.output_report.passed
    assert result.table is not None
    rows = result.table.to_pyarrow().to_pylist()
    assert result.rows == len(rows)
    return _sorted(rows)


def _sorted(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda row: [(v is None, "" if v is None else v) for v in row.values()])


def _seed(company_id: int, name: str | None, website: str | None, country: str | None) -> Row:
    return {"company_id": company_id, "company_name": name, "website": website, "country": country}


# --- seeds -> nodes, seed_rejections -------------------------------------------------------

SEEDS = [
    _seed(1, "Firm", "https://www.Firm.de/about", "DE"),
    _seed(1, "Firm", "firm.de", "DE"),  # same company twice: "firm.de" sorts first, is kept
    _seed(16, "Firm Blog", "https://blog.firm.de", "DE"),  # another company, same domain
    _seed(2, "Shop", "shop.example.co.uk", "GB"),
    _seed(3, "Example Ltd", "http://EXAMPLE.co.uk:8080/", "GB"),  # company 2 has the domain
    _seed(12, "Other", "https://other.com", "US"),
    _seed(12, "Other", "https://other.com", "US"),  # an identical row
    _seed(11, "Pages", "https://user.github.io/", "US"),  # private-section suffix github.io
    _seed(17, "Receiver", "receiver.org", None),
    _seed(4, "Blank", "   ", None),
    _seed(5, None, None, None),
    _seed(18, "Empty", "", None),
    _seed(6, "Mail", "mailto:info@mail.de", "DE"),
    _seed(19, "Files", "ftp://files.de/", "DE"),
    _seed(7, "IP", "http://10.0.0.1/", None),
    _seed(8, "Broken", "http//broken", None),
    _seed(13, "Unicode", "https://b\u00fccher.de", "DE"),
    _seed(9, "Social", "https://www.facebook.com/firm9", "US"),
    _seed(20, "Social 2", "linkedin.com/company/x", "US"),
    _seed(10, "Suffix", "co.uk", "GB"),
    _seed(14, "Wildcard parent", "kawasaki.jp", "JP"),
]


def _node(domain: str, host: str, seed: Row) -> Row:
    return {"domain": domain, "host": host, **seed}


def _rejected(seed: Row, host: str | None, domain: str | None, reason: str) -> Row:
    kept = {k: seed[k] for k in ("company_id", "company_name", "website")}
    return kept | {"host": host, "domain": domain, "reason": reason}


EXPECTED_NODES = [
    _node("example.co.uk", "shop.example.co.uk", SEEDS[3]),
    _node("firm.de", "firm.de", SEEDS[1]),
    _node("other.com", "other.com", SEEDS[5]),
    _node("receiver.org", "receiver.org", SEEDS[8]),
    _node("user.github.io", "user.github.io", SEEDS[7]),
]
EXPECTED_REJECTIONS = [
    _rejected(SEEDS[0], "firm.de", "firm.de", "duplicate_seed"),
    _rejected(SEEDS[2], "blog.firm.de", "firm.de", "duplicate_domain"),
    _rejected(SEEDS[4], "example.co.uk", "example.co.uk", "duplicate_domain"),
    _rejected(SEEDS[6], "other.com", "other.com", "duplicate_seed"),
    _rejected(SEEDS[9], None, None, "blank_url"),
    _rejected(SEEDS[10], None, None, "blank_url"),
    _rejected(SEEDS[11], None, None, "blank_url"),
    _rejected(SEEDS[12], None, None, "unsupported_scheme"),
    _rejected(SEEDS[13], None, None, "unsupported_scheme"),
    _rejected(SEEDS[14], "10.0.0.1", None, "invalid_host"),
    _rejected(SEEDS[15], "http", None, "invalid_host"),
    _rejected(SEEDS[16], "b\u00fccher.de", None, "invalid_host"),
    _rejected(SEEDS[17], "facebook.com", "facebook.com", "social_media"),
    _rejected(SEEDS[18], "linkedin.com", "linkedin.com", "social_media"),
    _rejected(SEEDS[19], "co.uk", None, "public_suffix"),
    _rejected(SEEDS[20], "kawasaki.jp", None, "public_suffix"),
]


def test_nodes_and_seed_rejections_account_for_every_seed_once(engine: Engine) -> None:
    seeds = _table(engine, c.SeedNodes, SEEDS, "seed_nodes")
    nodes = _run(engine, "nodes", seed_nodes=seeds)
    rejections = _run(engine, "seed_rejections", seed_nodes=seeds)
    assert nodes == _sorted(EXPECTED_NODES)
    assert rejections == _sorted(EXPECTED_REJECTIONS)

    def key(row: Row) -> tuple:
        return row["company_id"], row["company_name"], row["website"]

    assert Counter(map(key, nodes + rejections)) == Counter(map(key, SEEDS))


# --- crawl records -> edges ----------------------------------------------------------------

NODES = [
    _node("firm.de", "firm.de", _seed(1, "Firm", "firm.de", "DE")),
    _node("example.co.uk", "shop.example.co.uk", _seed(2, "Shop", "shop.example.co.uk", "GB")),
    _node("other.com", "other.com", _seed(12, "Other", "https://other.com", "US")),
    _node("receiver.org", "receiver.org", _seed(17, "Receiver", "receiver.org", None)),
    _node("lonely.net", "lonely.net", _seed(21, "Lonely", "lonely.net", None)),
]
P1, P2, P3 = "https://www.firm.de/", "https://firm.de/contact", "https://blog.firm.de/post"
P4, P5 = "https://shop.example.co.uk/", "https://other.com/"


def _record(crawl: str, page: str, link: str | None, anchor: str | None = "a") -> Row:
    return {
        "crawl_id": crawl,
        "page_url": page,
        "fetch_time": T,
        "language": "deu",
        "link_url": link,
        "anchor_text": anchor,
        "html_path": "A@/href",
    }


RECORDS = [
    _record(A, P1, "https://shop.example.co.uk/products", "Partner"),
    _record(A, P1, "http://EXAMPLE.co.uk/", None),
    _record(A, P2, "https://example.co.uk/x"),
    _record(A, P3, "https://firm.de/"),  # self-link: blog.firm.de -> firm.de
    _record(A, P3, "http://www.firm.de/team"),  # self-link
    _record(A, P3, "https://receiver.org/"),
    _record(A, P2, "mailto:info@firm.de"),
    _record(A, P2, "javascript:void(0)"),
    _record(A, P2, "/about"),  # relative
    _record(A, P2, "page.html"),  # relative
    _record(A, P2, None),
    _record(A, P2, "https://co.uk/"),  # a public suffix is no domain
    _record(A, P2, "http://192.168.1.1/admin"),
    _record(A, P2, "https://nonseed.net/"),  # not a seed: kept in edges, not in graph
    _record(A, "https://nonseed.net/", "https://firm.de/"),  # page of a non-seed domain
    _record(A, "/relative-page", "https://firm.de/"),
    _record(A, P4, "//cdn.firm.de/lib.js"),  # protocol-relative
    _record(A, P4, "https://192.168.1.1/"),
    _record(B, "https://firm.de/", "https://example.co.uk/"),
    _record(B, P5, "https://firm.de/"),
    _record(B, P5, "https://www.firm.de/jobs"),
]


def _edge(crawl: str, src: str, dst: str, dst_host: str, page: str, link: str, anchor: Any) -> Row:
    return {
        "crawl_id": crawl,
        "src_domain": src,
        "dst_domain": dst,
        "dst_host": dst_host,
        "page_url": page,
        "link_url": link,
        "anchor_text": anchor,
        "html_path": "A@/href",
        "fetch_time": T,
    }


EDGES = [
    _edge(
        A, "firm.de", "example.co.uk", "shop.example.co.uk", P1, RECORDS[0]["link_url"], "Partner"
    ),
    _edge(A, "firm.de", "example.co.uk", "example.co.uk", P1, "http://EXAMPLE.co.uk/", None),
    _edge(A, "firm.de", "example.co.uk", "example.co.uk", P2, "https://example.co.uk/x", "a"),
    _edge(A, "firm.de", "receiver.org", "receiver.org", P3, "https://receiver.org/", "a"),
    _edge(A, "firm.de", "nonseed.net", "nonseed.net", P2, "https://nonseed.net/", "a"),
    _edge(A, "example.co.uk", "firm.de", "cdn.firm.de", P4, "//cdn.firm.de/lib.js", "a"),
    _edge(
        B,
        "firm.de",
        "example.co.uk",
        "example.co.uk",
        "https://firm.de/",
        "https://example.co.uk/",
        "a",
    ),
    _edge(B, "other.com", "firm.de", "firm.de", P5, "https://firm.de/", "a"),
    _edge(B, "other.com", "firm.de", "firm.de", P5, "https://www.firm.de/jobs", "a"),
]


def test_edges_keep_links_between_domains_per_crawl(engine: Engine) -> None:
    records = _table(engine, c.CrawlRecords, RECORDS, "crawl_records")
    nodes = _table(engine, c.Nodes, NODES, "nodes")
    got = _run(engine, "edges", crawl_records=records, nodes=nodes)
    assert got == _sorted(EDGES)


# --- edges -> graph -> graph_aggr ----------------------------------------------------------


def _pair(crawl: str, src: str, dst: str, ids: tuple[int, int], links: int, pages: int) -> Row:
    return {
        "crawl_id": crawl,
        "src_domain": src,
        "dst_domain": dst,
        "src_company_id": ids[0],
        "dst_company_id": ids[1],
        "links": links,
        "pages": pages,
    }


GRAPH = [
    _pair(A, "firm.de", "example.co.uk", (1, 2), links=3, pages=2),
    _pair(A, "firm.de", "receiver.org", (1, 17), links=1, pages=1),
    _pair(A, "example.co.uk", "firm.de", (2, 1), links=1, pages=1),
    _pair(B, "firm.de", "example.co.uk", (1, 2), links=1, pages=1),
    _pair(B, "other.com", "firm.de", (12, 1), links=2, pages=1),
]


def test_graph_weighs_firm_to_firm_links_per_crawl(engine: Engine) -> None:
    edges = _table(engine, c.Edges, EDGES, "edges")
    nodes = _table(engine, c.Nodes, NODES, "nodes")
    assert _run(engine, "graph", edges=edges, nodes=nodes) == _sorted(GRAPH)


def _aggr(crawl: str, domain: str, company_id: int, *metrics: int) -> Row:
    names = ("out_links", "pages", "distinct_targets", "out_degree", "in_degree")
    names += ("seed_out_links", "seed_in_links")
    assert len(metrics) == len(names)
    return {"crawl_id": crawl, "domain": domain, "company_id": company_id} | dict(
        zip(names, metrics, strict=True)
    )


# Computed by hand from EDGES and GRAPH. Columns: out_links, pages, distinct_targets,
# out_degree, in_degree, seed_out_links, seed_in_links.
GRAPH_AGGR = [
    # 5 links from pages P1, P2, P3 to example.co.uk, receiver.org, nonseed.net; 2 seed targets
    # (4 links), linked by example.co.uk once
    _aggr(A, "firm.de", 1, 5, 3, 3, 2, 1, 4, 1),
    _aggr(A, "example.co.uk", 2, 1, 1, 1, 1, 1, 1, 3),
    _aggr(A, "receiver.org", 17, 0, 0, 0, 0, 1, 0, 1),  # only receives links
    _aggr(B, "firm.de", 1, 1, 1, 1, 1, 1, 1, 2),
    _aggr(B, "example.co.uk", 2, 0, 0, 0, 0, 1, 0, 1),
    _aggr(B, "other.com", 12, 2, 1, 1, 1, 0, 2, 0),
    # nonseed.net is no node; lonely.net has no links: neither has a row
]


def test_graph_aggr_metrics_computed_by_hand(engine: Engine) -> None:
    got = _run(
        engine,
        "graph_aggr",
        edges=_table(engine, c.Edges, EDGES, "edges"),
        graph=_table(engine, c.Graph, GRAPH, "graph"),
        nodes=_table(engine, c.Nodes, NODES, "nodes"),
    )
    assert got == _sorted(GRAPH_AGGR)


def test_empty_inputs_give_empty_outputs(engine: Engine) -> None:
    empty = {
        name: _table(engine, contract, [], f"empty_{name}")
        for name, contract in [
            ("seed_nodes", c.SeedNodes),
            ("crawl_records", c.CrawlRecords),
            ("nodes", c.Nodes),
            ("edges", c.Edges),
            ("graph", c.Graph),
        ]
    }
    for transform in registry.transforms:
        inputs = {d: empty[d] for d in transform.inputs.values() if d in empty}
        assert _run(engine, transform.name, **inputs) == [], transform.name
