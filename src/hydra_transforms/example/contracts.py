"""Data contracts of the example pipeline: one pandera.ibis model per dataset."""

# pyright: reportAttributeAccessIssue=false, reportOperatorIssue=false, reportArgumentType=false
# (ibis types a table's columns as the generic Column; their methods and operators resolve at run time)
# pyright: reportIncompatibleVariableOverride=false
# (pandera models declare their settings in a nested Config class, by design)

from __future__ import annotations

import datetime

import ibis.expr.types as ir
import pandera.ibis as pa
from pandera.api.ibis.types import IbisData

__all__ = [
    "CRAWL_ID_PATTERN",
    "HOST_PATTERN",
    "REJECTION_REASONS",
    "CrawlRecords",
    "Edges",
    "Graph",
    "GraphAggr",
    "Nodes",
    "PublicSuffixes",
    "SeedNodes",
    "SeedRejections",
]

CRAWL_ID_PATTERN = r"^CC-MAIN-[0-9]{4}-[0-9]{2}$"
# A lower-case ASCII host name with at least two labels and an alphabetic top-level label
# (so IP addresses are not hosts of firms).
HOST_PATTERN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
REJECTION_REASONS = (
    "blank_url",
    "unsupported_scheme",
    "invalid_host",
    "public_suffix",
    "social_media",
    "duplicate_seed",
    "duplicate_domain",
)


class SeedNodes(pa.DataFrameModel):
    """Company websites as users listed them (raw: blanks and dirt allowed)."""

    company_id: int = pa.Field(ge=1)
    company_name: str = pa.Field(nullable=True)
    website: str = pa.Field(nullable=True)
    country: str = pa.Field(nullable=True, str_matches=r"^[A-Z]{2}$")

    class Config:
        name = "seed_nodes"
        strict = True


class CrawlRecords(pa.DataFrameModel):
    """One outgoing link of one crawled page (Common Crawl WAT metadata, flattened)."""

    crawl_id: str = pa.Field(str_matches=CRAWL_ID_PATTERN)
    page_url: str = pa.Field(str_length={"min_value": 1})
    fetch_time: datetime.datetime = pa.Field()
    language: str = pa.Field(nullable=True)
    link_url: str = pa.Field(nullable=True)
    anchor_text: str = pa.Field(nullable=True)
    html_path: str = pa.Field(nullable=True)

    class Config:
        name = "crawl_records"
        strict = True


class PublicSuffixes(pa.DataFrameModel):
    """The public suffix list, one row per suffix."""

    suffix: str = pa.Field(unique=True, str_length={"min_value": 1})
    exact: bool = pa.Field()
    wildcard: bool = pa.Field()
    exception: bool = pa.Field()
    private: bool = pa.Field()

    class Config:
        name = "public_suffixes"
        strict = True

    @pa.dataframe_check
    def has_a_rule(cls, data: IbisData) -> ir.BooleanValue:
        t = data.table
        return t.exact | t.wildcard | t.exception


class Nodes(pa.DataFrameModel):
    """Seed companies with a usable website, one row per registered domain."""

    domain: str = pa.Field(unique=True, str_matches=HOST_PATTERN)
    host: str = pa.Field(str_matches=HOST_PATTERN)
    company_id: int = pa.Field(ge=1)
    company_name: str = pa.Field(nullable=True)
    country: str = pa.Field(nullable=True, str_matches=r"^[A-Z]{2}$")
    website: str = pa.Field()

    class Config:
        name = "nodes"
        strict = True

    @pa.dataframe_check
    def host_is_within_domain(cls, data: IbisData) -> ir.BooleanValue:
        t = data.table
        return (t.host == t.domain) | t.host.endswith("." + t.domain)


class SeedRejections(pa.DataFrameModel):
    """Every seed row that did not become a node, with the reason."""

    company_id: int = pa.Field(ge=1)
    company_name: str = pa.Field(nullable=True)
    website: str = pa.Field(nullable=True)
    host: str = pa.Field(nullable=True)
    domain: str = pa.Field(nullable=True)
    reason: str = pa.Field(isin=list(REJECTION_REASONS))

    class Config:
        name = "seed_rejections"
        strict = True


class Edges(pa.DataFrameModel):
    """Links from pages of seed domains to other registered domains, per crawl."""

    crawl_id: str = pa.Field(str_matches=CRAWL_ID_PATTERN)
    src_domain: str = pa.Field(str_matches=HOST_PATTERN)
    dst_domain: str = pa.Field(str_matches=HOST_PATTERN)
    dst_host: str = pa.Field(str_matches=HOST_PATTERN)
    page_url: str = pa.Field()
    link_url: str = pa.Field()
    anchor_text: str = pa.Field(nullable=True)
    html_path: str = pa.Field(nullable=True)
    fetch_time: datetime.datetime = pa.Field()

    class Config:
        name = "edges"
        strict = True

    @pa.dataframe_check
    def no_self_links(cls, data: IbisData) -> ir.BooleanValue:
        return data.table.src_domain != data.table.dst_domain


class Graph(pa.DataFrameModel):
    """Firm-to-firm links: one row per crawl and ordered pair of seed domains."""

    crawl_id: str = pa.Field(str_matches=CRAWL_ID_PATTERN)
    src_domain: str = pa.Field()
    dst_domain: str = pa.Field()
    src_company_id: int = pa.Field(ge=1)
    dst_company_id: int = pa.Field(ge=1)
    links: int = pa.Field(ge=1)
    pages: int = pa.Field(ge=1)

    class Config:
        name = "graph"
        strict = True
        unique = ["crawl_id", "src_domain", "dst_domain"]

    @pa.dataframe_check
    def no_self_links(cls, data: IbisData) -> ir.BooleanValue:
        return data.table.src_domain != data.table.dst_domain

    @pa.dataframe_check
    def pages_at_most_links(cls, data: IbisData) -> ir.BooleanValue:
        return data.table.pages <= data.table.links


class GraphAggr(pa.DataFrameModel):
    """Per crawl and seed domain: outgoing links, pages, targets, and degrees in the graph."""

    crawl_id: str = pa.Field(str_matches=CRAWL_ID_PATTERN)
    domain: str = pa.Field()
    company_id: int = pa.Field(ge=1)
    out_links: int = pa.Field(ge=0)
    pages: int = pa.Field(ge=0)
    distinct_targets: int = pa.Field(ge=0)
    out_degree: int = pa.Field(ge=0)
    in_degree: int = pa.Field(ge=0)
    seed_out_links: int = pa.Field(ge=0)
    seed_in_links: int = pa.Field(ge=0)

    class Config:
        name = "graph_aggr"
        strict = True
        unique = ["crawl_id", "domain"]

    @pa.dataframe_check
    def pages_at_most_links(cls, data: IbisData) -> ir.BooleanValue:
        return data.table.pages <= data.table.out_links

    @pa.dataframe_check
    def degree_at_most_targets(cls, data: IbisData) -> ir.BooleanValue:
        return data.table.out_degree <= data.table.distinct_targets

    @pa.dataframe_check
    def seed_links_within_links(cls, data: IbisData) -> ir.BooleanValue:
        return data.table.seed_out_links <= data.table.out_links
