"""The example pipeline as hand-written PySpark DataFrame code: the Spark abstraction baseline.

Same semantics and I/O shape as ``bench.baselines.duckdb_sql`` (and as the runner): each step
writes Parquet, hive-partitioned by crawl_id where the pipeline's output is, and the next
step reads it back. The regular expressions are the library's own patterns.
"""

from __future__ import annotations

from pathlib import Path

import pyspark.sql.functions as F
from pyspark.sql import Column, DataFrame, SparkSession, Window

from hydra_transforms.example import urls
from hydra_transforms.example.contracts import HOST_PATTERN
from hydra_transforms.example.psl import MAX_RULE_LABELS, public_suffix_rules
from hydra_transforms.example.urls import SOCIAL_MEDIA_DOMAINS
from hydra_transforms.expr import WHITESPACE

__all__ = ["run"]

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _host(url: Column, *, require_scheme: bool) -> Column:
    low = F.translate(url, _UPPER, _UPPER.lower())
    no_host = F.coalesce(low.rlike(urls._ANY_SCHEME) & ~low.rlike(urls._HTTP), F.lit(False))
    if require_scheme:
        no_host = no_host | ~F.coalesce(low.rlike(urls._ABSOLUTE), F.lit(False))
    host = F.nullif(F.regexp_extract(low, urls._HOST_IN_URL, 1), F.lit(""))
    return F.when(no_host, F.lit(None).cast("string")).otherwise(host)


def _valid(host: Column) -> Column:
    return F.coalesce(host.rlike(HOST_PATTERN), F.lit(False))


def _tail(labels: Column, k: Column) -> Column:
    return F.array_join(F.slice(labels, F.size(labels) - k + 1, k), ".")


def _registered_domains(hosts: DataFrame, psl: DataFrame) -> DataFrame:
    """Each distinct ``host`` with its registered ``domain`` under the public suffix list."""
    h = hosts.select("host").distinct().withColumn("labels", F.split("host", r"\."))
    k = F.col("k")
    c = (
        h.withColumn(
            "k", F.explode(F.sequence(F.lit(1), F.least(F.size("labels"), F.lit(MAX_RULE_LABELS))))
        )
        .withColumn("cand", _tail(F.col("labels"), k))
        .withColumn("parent", F.when(k == 1, F.lit("")).otherwise(_tail(F.col("labels"), k - 1)))
    )
    own = psl.select(
        F.col("suffix").alias("cand"), "exact", "wildcard", F.col("exception").alias("exc")
    )
    wild = psl.filter("wildcard").select(F.col("suffix").alias("parent"), F.lit(True).alias("w"))
    m = c.join(F.broadcast(own), "cand", "left").join(F.broadcast(wild), "parent", "left")
    exc = F.coalesce(F.col("exc"), F.lit(False))
    is_rule = (
        F.coalesce(F.col("exact"), F.lit(False))
        | F.coalesce(F.col("wildcard"), F.lit(False))
        | F.col("w").isNotNull()
    ) & ~exc
    a = m.groupBy("host").agg(
        F.first("labels").alias("labels"),
        F.max(F.when(is_rule, k).otherwise(0)).alias("rule_len"),
        F.max(F.when(exc, k - 1).otherwise(0)).alias("exc_len"),
    )
    n = (
        F.when(F.col("exc_len") > 0, F.col("exc_len")).otherwise(F.greatest("rule_len", F.lit(1)))
        + 1
    )
    return a.select(
        "host", F.when(n <= F.size("labels"), _tail(F.col("labels"), n)).alias("domain")
    )


def _classified(seeds: DataFrame, psl: DataFrame) -> DataFrame:
    s = seeds.withColumn("host", _host(F.col("website"), require_scheme=False))
    rd = _registered_domains(s.filter(_valid(F.col("host"))), psl)
    j = s.join(rd, "host", "left")
    low = F.translate(F.col("website"), _UPPER, _UPPER.lower())
    unsupported = F.coalesce(low.rlike(urls._ANY_SCHEME) & ~low.rlike(urls._HTTP), F.lit(False))
    reason = (
        F.when(F.col("website").isNull() | F.col("website").rlike(f"^{WHITESPACE}*$"), "blank_url")
        .when(unsupported, "unsupported_scheme")
        .when(~_valid(F.col("host")), "invalid_host")
        .when(F.col("domain").isNull(), "public_suffix")
        .when(F.col("domain").isin(*SOCIAL_MEDIA_DOMAINS), "social_media")
    )
    j = j.withColumn("reason", reason)
    win = Window.partitionBy(F.col("domain"), F.col("reason").isNull()).orderBy(
        F.col("company_id").asc_nulls_last(), F.col("website").asc_nulls_last()
    )
    w = j.withColumn("rn", F.row_number().over(win)).withColumn(
        "kept", F.first("company_id").over(win)
    )
    dup = F.col("reason").isNull() & (F.col("rn") > 1)
    kind = F.when(F.col("company_id") == F.col("kept"), "duplicate_seed").otherwise(
        "duplicate_domain"
    )
    return w.withColumn("reason", F.when(dup, kind).otherwise(F.col("reason")))


def _edges(records: DataFrame, nodes: DataFrame, psl: DataFrame) -> DataFrame:
    links = records.withColumn(
        "src_host", _host(F.col("page_url"), require_scheme=True)
    ).withColumn("dst_host", _host(F.col("link_url"), require_scheme=True))
    links = links.filter(_valid(F.col("src_host")) & _valid(F.col("dst_host")))
    src = _registered_domains(links.select(F.col("src_host").alias("host")), psl)
    src = src.join(nodes.select("domain"), "domain", "left_semi")
    links = links.join(
        src.select(F.col("host").alias("src_host"), F.col("domain").alias("src_domain")),
        "src_host",
    )
    dst = _registered_domains(links.select(F.col("dst_host").alias("host")), psl)
    links = links.join(
        dst.select(F.col("host").alias("dst_host"), F.col("domain").alias("dst_domain")),
        "dst_host",
    )
    links = links.filter(
        F.col("dst_domain").isNotNull() & (F.col("dst_domain") != F.col("src_domain"))
    )
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


def _graph(edges: DataFrame, nodes: DataFrame) -> DataFrame:
    dst = nodes.select(
        F.col("domain").alias("dst_domain"), F.col("company_id").alias("dst_company_id")
    )
    src = nodes.select(
        F.col("domain").alias("src_domain"), F.col("company_id").alias("src_company_id")
    )
    pairs = edges.join(dst, "dst_domain").join(src, "src_domain")
    return pairs.groupBy(
        "crawl_id", "src_domain", "dst_domain", "src_company_id", "dst_company_id"
    ).agg(F.count("*").alias("links"), F.countDistinct("page_url").alias("pages"))


def _graph_aggr(edges: DataFrame, graph: DataFrame, nodes: DataFrame) -> DataFrame:
    out = edges.groupBy("crawl_id", F.col("src_domain").alias("domain")).agg(
        F.count("*").alias("out_links"),
        F.countDistinct("page_url").alias("pages"),
        F.countDistinct("dst_domain").alias("distinct_targets"),
    )
    seed_out = graph.groupBy("crawl_id", F.col("src_domain").alias("domain")).agg(
        F.count("*").alias("out_degree"), F.sum("links").alias("seed_out_links")
    )
    seed_in = graph.groupBy("crawl_id", F.col("dst_domain").alias("domain")).agg(
        F.count("*").alias("in_degree"), F.sum("links").alias("seed_in_links")
    )
    keys = out.select("crawl_id", "domain").union(seed_in.select("crawl_id", "domain")).distinct()
    keyed = ["crawl_id", "domain"]
    joined = (
        keys.join(out, keyed, "left")
        .join(seed_out, keyed, "left")
        .join(seed_in, keyed, "left")
        .join(nodes.select("domain", "company_id"), "domain")
    )
    metrics = (
        "out_links",
        "pages",
        "distinct_targets",
        "out_degree",
        "in_degree",
        "seed_out_links",
        "seed_in_links",
    )
    return joined.select(
        "crawl_id",
        "domain",
        "company_id",
        *[F.coalesce(F.col(m), F.lit(0)).cast("long").alias(m) for m in metrics],
    )


def run(*, spark: SparkSession, seed_nodes: Path, crawl_records: Path, warehouse: Path) -> None:
    """Run the whole pipeline into ``warehouse/<step>`` on ``spark``."""
    psl = spark.createDataFrame(public_suffix_rules())
    raw = spark.read.csv(str(seed_nodes), header=True, inferSchema=False)
    seeds = raw.withColumn("company_id", F.expr("try_cast(company_id AS BIGINT)"))
    classified = _classified(seeds, psl)
    node_cols = ["domain", "host", "company_id", "company_name", "country", "website"]
    classified.filter(F.col("reason").isNull()).select(*node_cols).write.parquet(
        str(warehouse / "nodes")
    )
    rejected = ["company_id", "company_name", "website", "host", "domain", "reason"]
    classified.filter(F.col("reason").isNotNull()).select(*rejected).write.parquet(
        str(warehouse / "seed_rejections")
    )
    read = spark.read.parquet
    nodes = read(str(warehouse / "nodes"))
    _edges(read(str(crawl_records)), nodes, psl).write.partitionBy("crawl_id").parquet(
        str(warehouse / "edges")
    )
    edges = read(str(warehouse / "edges"))
    _graph(edges, nodes).write.partitionBy("crawl_id").parquet(str(warehouse / "graph"))
    _graph_aggr(edges, read(str(warehouse / "graph")), nodes).write.partitionBy("crawl_id").parquet(
        str(warehouse / "graph_aggr")
    )
