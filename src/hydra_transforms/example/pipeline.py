"""The example pipeline: seed websites -> nodes -> edges -> graph -> graph_aggr.

Mines an inter-firm hyperlink network from Common Crawl: which firms' websites link to
which other firms, per crawl. Each step is a pure ibis function; the registry below is what
the runner, the command line and the Dagster assets are built from.
"""

# pyright: reportAttributeAccessIssue=false, reportOperatorIssue=false, reportArgumentType=false
# (ibis types a table's columns as the generic Column; their methods and operators resolve at run time)

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from hydra_transforms.example import contracts as c
from hydra_transforms.example.psl import public_suffix_rules
from hydra_transforms.example.urls import (
    SOCIAL_MEDIA_DOMAINS,
    has_unsupported_scheme,
    is_valid_host,
    registered_domains,
    url_host,
)
from hydra_transforms.expr import strip_whitespace
from hydra_transforms.registry import Registry

__all__ = ["classify_seeds", "registry"]

registry = Registry("example")

registry.source(
    "seed_nodes",
    format="csv",
    contract=c.SeedNodes,
    description="Company websites of the seed list, as users typed them (CSV).",
)
registry.source(
    "crawl_records",
    format="parquet",
    contract=c.CrawlRecords,
    partition_column="crawl_id",
    description="Outgoing links of crawled pages (Common Crawl WAT metadata), per crawl.",
)
registry.source(
    "public_suffixes",
    format="builtin",
    contract=c.PublicSuffixes,
    loader=public_suffix_rules,
    description="The public suffix list (from the publicsuffixlist package).",
)


def classify_seeds(seeds: ir.Table, rules: ir.Table) -> ir.Table:
    """Every seed row with its host, registered domain and, if it is dropped, the reason.

    Of several seeds with one registered domain, the one with the lowest company id (then
    website) is kept; the others are ``duplicate_seed`` (same company) or ``duplicate_domain``.
    """
    hosted = seeds.mutate(host=url_host(seeds.website))
    valid = hosted.filter(is_valid_host(hosted.host))
    domains = registered_domains(valid.select("host"), rules)
    joined = hosted.left_join(domains, hosted.host == domains.host).select(
        hosted, domain=domains.domain
    )
    blank = joined.website.isnull() | (strip_whitespace(joined.website) == "")
    reason = ibis.cases(
        (blank, "blank_url"),
        (has_unsupported_scheme(joined.website), "unsupported_scheme"),
        (~is_valid_host(joined.host), "invalid_host"),
        (joined.domain.isnull(), "public_suffix"),
        (joined.domain.isin(SOCIAL_MEDIA_DOMAINS), "social_media"),
        else_=ibis.null(str),
    )
    classified = joined.mutate(reason=reason)
    window = ibis.window(
        group_by=[classified.domain, classified.reason.isnull()],
        order_by=[classified.company_id, classified.website],
    )
    ranked = classified.mutate(
        rank=ibis.row_number().over(window),
        kept_company=classified.company_id.first().over(window),
    )
    duplicate = ranked.reason.isnull() & (ranked.rank > 0)
    return ranked.mutate(
        reason=ibis.ifelse(
            duplicate,
            ibis.ifelse(
                ranked.company_id == ranked.kept_company, "duplicate_seed", "duplicate_domain"
            ),
            ranked.reason,
        )
    ).drop("rank", "kept_company")


@registry.transform(inputs={"seeds": "seed_nodes", "rules": "public_suffixes"}, contract=c.Nodes)
def nodes(seeds: ir.Table, rules: ir.Table) -> ir.Table:
    """Seed companies normalised to hosts and registered domains, one row per domain.

    Websites are normalised (case, scheme, www., ports, paths, trailing dots) to a host whose
    registered domain respects the public suffix list (shop.example.co.uk -> example.co.uk).
    Blank, malformed, social-media and duplicate seeds are left out; seed_rejections says why.
    """
    kept = classify_seeds(seeds, rules)
    kept = kept.filter(kept.reason.isnull())
    return kept.select("domain", "host", "company_id", "company_name", "country", "website")


@registry.transform(
    inputs={"seeds": "seed_nodes", "rules": "public_suffixes"}, contract=c.SeedRejections
)
def seed_rejections(seeds: ir.Table, rules: ir.Table) -> ir.Table:
    """Every seed row that did not become a node, with the reason it was dropped."""
    dropped = classify_seeds(seeds, rules)
    dropped = dropped.filter(dropped.reason.notnull())
    return dropped.select("company_id", "company_name", "website", "host", "domain", "reason")


@registry.transform(
    inputs={"records": "crawl_records", "nodes": "nodes", "rules": "public_suffixes"},
    contract=c.Edges,
    partition_column="crawl_id",
)
def edges(records: ir.Table, nodes: ir.Table, rules: ir.Table) -> ir.Table:
    """Links from pages of seed domains to other registered domains, per crawl.

    Relative links, non-web schemes (mailto:, javascript:), IP addresses and links within the
    page's own registered domain (self-links, e.g. blog.firm.de -> firm.de) are dropped.
    Links to domains that are not seeds are kept: graph keeps only firm-to-firm links.
    """
    links = records.mutate(
        src_host=url_host(records.page_url, require_scheme=True),
        dst_host=url_host(records.link_url, require_scheme=True),
    )
    links = links.filter(is_valid_host(links.src_host) & is_valid_host(links.dst_host))
    src = registered_domains(links.select(host=links.src_host), rules)
    src = src.semi_join(nodes, src.domain == nodes.domain)
    links = links.join(src, links.src_host == src.host).select(links, src_domain=src.domain)
    dst = registered_domains(links.select(host=links.dst_host), rules)
    links = links.join(dst, links.dst_host == dst.host).select(links, dst_domain=dst.domain)
    # One comparison, NULL (no registered domain) counting as false. Spelt as
    # `dst_domain.notnull() & (dst_domain != src_domain)`, DuckDB 1.4 made the inequality a
    # join condition between the two host->domain maps: a nested-loop join of 19 million rows
    # at 10^6 links (4.6 s, 4.5 GiB instead of 2.3 s, 0.5 GiB; docs/benchmarks.md).
    links = links.filter((links.dst_domain != links.src_domain).fill_null(False))
    return links.select(
        "crawl_id",
        "src_domain",
        "dst_domain",
        "dst_host",
        "page_url",
        "link_url",
        "anchor_text",
        "html_path",
        "fetch_time",
    )


@registry.transform(
    inputs={"edges": "edges", "nodes": "nodes"}, contract=c.Graph, partition_column="crawl_id"
)
def graph(edges: ir.Table, nodes: ir.Table) -> ir.Table:
    """Firm-to-firm links: edges whose target is a seed domain, weighted per pair and crawl."""
    src = nodes.select(src_domain=nodes.domain, src_company_id=nodes.company_id)
    dst = nodes.select(dst_domain=nodes.domain, dst_company_id=nodes.company_id)
    pairs = edges.join(dst, "dst_domain").join(src, "src_domain")
    return pairs.group_by(
        "crawl_id", "src_domain", "dst_domain", "src_company_id", "dst_company_id"
    ).aggregate(
        links=pairs.count().cast("int64"),
        pages=pairs.page_url.nunique().cast("int64"),
    )


_AGGR_METRICS = (
    "out_links",
    "pages",
    "distinct_targets",
    "out_degree",
    "in_degree",
    "seed_out_links",
    "seed_in_links",
)


@registry.transform(
    inputs={"edges": "edges", "graph": "graph", "nodes": "nodes"},
    contract=c.GraphAggr,
    partition_column="crawl_id",
)
def graph_aggr(edges: ir.Table, graph: ir.Table, nodes: ir.Table) -> ir.Table:
    """Per crawl and seed domain: links, pages, distinct targets, and in/out degree in graph."""
    out = edges.group_by("crawl_id", domain=edges.src_domain).aggregate(
        out_links=edges.count().cast("int64"),
        pages=edges.page_url.nunique().cast("int64"),
        distinct_targets=edges.dst_domain.nunique().cast("int64"),
    )
    seed_out = graph.group_by("crawl_id", domain=graph.src_domain).aggregate(
        out_degree=graph.count().cast("int64"), seed_out_links=graph.links.sum().cast("int64")
    )
    seed_in = graph.group_by("crawl_id", domain=graph.dst_domain).aggregate(
        in_degree=graph.count().cast("int64"), seed_in_links=graph.links.sum().cast("int64")
    )
    keys = ibis.union(
        out.select("crawl_id", "domain"), seed_in.select("crawl_id", "domain"), distinct=True
    )
    joined = (
        keys.left_join(out, ["crawl_id", "domain"])
        .left_join(seed_out, ["crawl_id", "domain"])
        .left_join(seed_in, ["crawl_id", "domain"])
        .join(nodes.select("domain", "company_id"), "domain")
    )
    return joined.select(
        "crawl_id",
        "domain",
        "company_id",
        **{name: joined[name].fill_null(0).cast("int64") for name in _AGGR_METRICS},
    )
