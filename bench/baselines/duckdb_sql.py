"""The example pipeline as hand-written DuckDB SQL: the baseline for the abstraction cost.

Same semantics as ``hydra_transforms.example.pipeline`` (URL normalisation, public-suffix
registered domains, seed classification, self-link removal, graph, graph_aggr) and the same
I/O shape as the runner: every step writes Parquet (hive-partitioned by crawl_id where the
pipeline's output is) and the next step reads it back. The regular expressions are imported
from the library so that both sides apply the very same patterns; everything else is SQL.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from hydra_transforms.example import urls
from hydra_transforms.example.contracts import HOST_PATTERN
from hydra_transforms.example.psl import MAX_RULE_LABELS, public_suffix_rules
from hydra_transforms.example.urls import SOCIAL_MEDIA_DOMAINS
from hydra_transforms.expr import WHITESPACE

__all__ = ["run"]

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _host(url: str, *, require_scheme: bool) -> str:
    """SQL for the normalised host of ``url`` (NULL when there is none)."""
    low = f"translate({url}, '{_UPPER}', '{_UPPER.lower()}')"
    no_host = (
        f"coalesce(regexp_matches({low}, {_lit(urls._ANY_SCHEME)})"
        f" AND NOT regexp_matches({low}, {_lit(urls._HTTP)}), false)"
    )
    if require_scheme:
        no_host += f" OR NOT coalesce(regexp_matches({low}, {_lit(urls._ABSOLUTE)}), false)"
    host = f"nullif(regexp_extract({low}, {_lit(urls._HOST_IN_URL)}, 1), '')"
    return f"CASE WHEN {no_host} THEN NULL ELSE {host} END"


def _valid(host: str) -> str:
    return f"coalesce(regexp_matches({host}, {_lit(HOST_PATTERN)}), false)"


def _tail(labels: str, k: str) -> str:
    """The last ``k`` labels of a label list, joined by dots."""
    return f"array_to_string({labels}[len({labels}) - ({k}) + 1:], '.')"


def _registered_domains(hosts_sql: str) -> str:
    """A query mapping each distinct host of ``hosts_sql`` (column ``host``) to its domain."""
    return f"""
    WITH h AS (SELECT DISTINCT host, string_split(host, '.') AS labels FROM ({hosts_sql})),
    c AS (
        SELECT host, labels, k, {_tail("labels", "k")} AS cand,
               CASE WHEN k = 1 THEN '' ELSE {_tail("labels", "k - 1")} END AS parent
        FROM h, range(1, {MAX_RULE_LABELS + 1}) AS r(k) WHERE k <= len(labels)
    ),
    m AS (
        SELECT c.host, c.labels, c.k,
               coalesce(o.exception, false) AS exc,
               (coalesce(o.exact, false) OR coalesce(o.wildcard, false) OR w.suffix IS NOT NULL)
                 AND NOT coalesce(o.exception, false) AS is_rule
        FROM c LEFT JOIN psl o ON o.suffix = c.cand
        LEFT JOIN (SELECT suffix FROM psl WHERE wildcard) w ON w.suffix = c.parent
    ),
    a AS (
        SELECT host, any_value(labels) AS labels,
               max(CASE WHEN is_rule THEN k ELSE 0 END) AS rule_len,
               max(CASE WHEN exc THEN k - 1 ELSE 0 END) AS exc_len
        FROM m GROUP BY host
    ),
    d AS (
        SELECT host, labels,
               CASE WHEN exc_len > 0 THEN exc_len ELSE greatest(rule_len, 1) END + 1 AS n
        FROM a
    )
    SELECT host, CASE WHEN n <= len(labels) THEN {_tail("labels", "n")} END AS domain FROM d
    """


def _classified(seeds: str) -> str:
    social = ", ".join(_lit(d) for d in SOCIAL_MEDIA_DOMAINS)
    website = "s.website"
    low = f"translate({website}, '{_UPPER}', '{_UPPER.lower()}')"
    unsupported = (
        f"coalesce(regexp_matches({low}, {_lit(urls._ANY_SCHEME)})"
        f" AND NOT regexp_matches({low}, {_lit(urls._HTTP)}), false)"
    )
    return f"""
    WITH s AS (SELECT *, {_host("website", require_scheme=False)} AS host FROM {seeds}),
    rd AS ({_registered_domains(f"SELECT host FROM s WHERE {_valid('host')}")}),
    j AS (
        SELECT s.*, rd.domain,
          CASE
            WHEN {website} IS NULL OR regexp_matches({website}, {_lit(f"^{WHITESPACE}*$")})
              THEN 'blank_url'
            WHEN {unsupported} THEN 'unsupported_scheme'
            WHEN NOT {_valid("s.host")} THEN 'invalid_host'
            WHEN rd.domain IS NULL THEN 'public_suffix'
            WHEN rd.domain IN ({social}) THEN 'social_media'
          END AS reason
        FROM s LEFT JOIN rd ON s.host = rd.host
    ),
    w AS (
        SELECT *,
          row_number() OVER win AS rn,
          first_value(company_id) OVER win AS kept_company
        FROM j
        WINDOW win AS (PARTITION BY domain, reason IS NULL ORDER BY company_id, website)
    )
    SELECT company_id, company_name, country, website, host, domain,
      CASE WHEN reason IS NULL AND rn > 1 THEN
        CASE WHEN company_id = kept_company THEN 'duplicate_seed' ELSE 'duplicate_domain' END
      ELSE reason END AS reason
    FROM w
    """


def _copy(con: duckdb.DuckDBPyConnection, query: str, out: Path, *, partitioned: bool) -> None:
    if partitioned:
        con.execute(f"COPY ({query}) TO {_lit(str(out))} (FORMAT parquet, PARTITION_BY (crawl_id))")
    else:
        out.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY ({query}) TO {_lit(str(out / 'part-00000.parquet'))} (FORMAT parquet)")


def _parquet(path: Path) -> str:
    return (
        f"read_parquet({_lit(str(path) + '/**/*.parquet')}, hive_partitioning = true, "
        "hive_types_autocast = false)"
    )


def _edges(records: str, nodes: str) -> str:
    return f"""
    WITH l AS (
        SELECT *, {_host("page_url", require_scheme=True)} AS src_host,
                  {_host("link_url", require_scheme=True)} AS dst_host
        FROM {records}
    ),
    v AS (SELECT * FROM l WHERE {_valid("src_host")} AND {_valid("dst_host")}),
    src AS (
        SELECT * FROM ({_registered_domains("SELECT src_host AS host FROM v")}) r
        WHERE r.domain IN (SELECT domain FROM {nodes})
    ),
    s AS (SELECT v.*, src.domain AS src_domain FROM v JOIN src ON v.src_host = src.host),
    dst AS ({_registered_domains("SELECT dst_host AS host FROM s")})
    SELECT s.crawl_id, s.src_domain, dst.domain AS dst_domain, s.dst_host, s.page_url,
           s.link_url, s.anchor_text, s.html_path, s.fetch_time
    FROM s JOIN dst ON s.dst_host = dst.host
    WHERE dst.domain IS NOT NULL AND dst.domain <> s.src_domain
    """


def _graph(edges: str, nodes: str) -> str:
    return f"""
    SELECT e.crawl_id, e.src_domain, e.dst_domain, s.company_id AS src_company_id,
           d.company_id AS dst_company_id, count(*)::BIGINT AS links,
           count(DISTINCT e.page_url)::BIGINT AS pages
    FROM {edges} e JOIN {nodes} d ON e.dst_domain = d.domain
    JOIN {nodes} s ON e.src_domain = s.domain
    GROUP BY ALL
    """


def _graph_aggr(edges: str, graph: str, nodes: str) -> str:
    return f"""
    WITH o AS (
        SELECT crawl_id, src_domain AS domain, count(*) AS out_links,
               count(DISTINCT page_url) AS pages, count(DISTINCT dst_domain) AS distinct_targets
        FROM {edges} GROUP BY ALL
    ),
    so AS (SELECT crawl_id, src_domain AS domain, count(*) AS out_degree,
                  sum(links) AS seed_out_links FROM {graph} GROUP BY ALL),
    si AS (SELECT crawl_id, dst_domain AS domain, count(*) AS in_degree,
                  sum(links) AS seed_in_links FROM {graph} GROUP BY ALL),
    k AS (SELECT crawl_id, domain FROM o UNION SELECT crawl_id, domain FROM si)
    SELECT k.crawl_id, k.domain, n.company_id,
      coalesce(o.out_links, 0)::BIGINT AS out_links, coalesce(o.pages, 0)::BIGINT AS pages,
      coalesce(o.distinct_targets, 0)::BIGINT AS distinct_targets,
      coalesce(so.out_degree, 0)::BIGINT AS out_degree,
      coalesce(si.in_degree, 0)::BIGINT AS in_degree,
      coalesce(so.seed_out_links, 0)::BIGINT AS seed_out_links,
      coalesce(si.seed_in_links, 0)::BIGINT AS seed_in_links
    FROM k LEFT JOIN o USING (crawl_id, domain) LEFT JOIN so USING (crawl_id, domain)
    LEFT JOIN si USING (crawl_id, domain) JOIN {nodes} n ON k.domain = n.domain
    """


def run(*, seed_nodes: Path, crawl_records: Path, warehouse: Path) -> None:
    """Run the whole pipeline into ``warehouse/<step>`` with one DuckDB connection."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    psl = public_suffix_rules()  # noqa: F841 - read by DuckDB's replacement scan below
    con.execute("CREATE TEMP TABLE psl AS SELECT * FROM psl")
    con.execute(
        "CREATE TEMP TABLE seeds AS SELECT * EXCLUDE (company_id),"
        " TRY_CAST(company_id AS BIGINT) AS company_id "
        f"FROM read_csv({_lit(str(seed_nodes))}, header = true, all_varchar = true)"
    )
    cols = "domain, host, company_id, company_name, country, website"
    _copy(
        con,
        f"SELECT {cols} FROM ({_classified('seeds')}) WHERE reason IS NULL",
        warehouse / "nodes",
        partitioned=False,
    )
    rejected = "company_id, company_name, website, host, domain, reason"
    _copy(
        con,
        f"SELECT {rejected} FROM ({_classified('seeds')}) WHERE reason IS NOT NULL",
        warehouse / "seed_rejections",
        partitioned=False,
    )
    nodes = _parquet(warehouse / "nodes")
    _copy(con, _edges(_parquet(crawl_records), nodes), warehouse / "edges", partitioned=True)
    edges = _parquet(warehouse / "edges")
    _copy(con, _graph(edges, nodes), warehouse / "graph", partitioned=True)
    _copy(
        con,
        _graph_aggr(edges, _parquet(warehouse / "graph"), nodes),
        warehouse / "graph_aggr",
        partitioned=True,
    )
    con.close()
