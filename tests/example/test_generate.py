"""The example's raw data generators: deterministic, in the agreed layout, and dirty like real data."""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from publicsuffixlist import PublicSuffixList

from hydra_transforms.example.generate import (
    CRAWL_RECORD_SCHEMA,
    SAMPLE_CRAWL_IDS,
    SEED_NODE_COLUMNS,
    generate_crawl_records,
    main,
    write_sample,
)
from tests.conftest import PROJECT_ROOT

COMMITTED_SAMPLE = PROJECT_ROOT / "data" / "sample"
PSL = PublicSuffixList()
SOCIAL = {"facebook.com", "instagram.com", "linkedin.com", "xing.com"}
# Crawl windows: two weeks up to the Tuesday of the ISO week in the crawl id.
WINDOWS = {
    "CC-MAIN-2024-10": (datetime(2024, 2, 20), datetime(2024, 3, 5)),
    "CC-MAIN-2024-33": (datetime(2024, 7, 30), datetime(2024, 8, 13)),
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample(out)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _seed_rows(root: Path) -> list[dict[str, str]]:
    with (root / "seed_nodes.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _crawl(root: Path, crawl_id: str) -> pa.Table:
    return pq.read_table(root / "crawl_records" / f"crawl_id={crawl_id}" / "part-0.parquet")


def _host(url: str | None) -> str | None:
    """The lower-case host of an absolute http(s) or protocol-relative URL, without www."""
    match = re.match(r"^(?:https?:)?//(?:[^@/]*@)?([^/:?#]+)", (url or "").strip(), re.IGNORECASE)
    return re.sub(r"^www\d*\.", "", match[1].lower()).rstrip(".") if match else None


def _domain(url: str | None) -> str | None:
    host = _host(url)
    return PSL.privatesuffix(host) if host else None


def _seed_domains(root: Path) -> dict[str, set[str]]:
    """Company ids per registered domain, for seeds with a plausible website (no social media)."""
    ids: dict[str, set[str]] = defaultdict(set)
    for row in _seed_rows(root):
        website = row["website"].strip()
        domain = _domain(website if "://" in website else "//" + website)
        if domain and ".." not in website and domain not in SOCIAL:
            ids[domain].add(row["company_id"])
    return ids


def test_sample_is_byte_for_byte_deterministic(sample: Path, tmp_path: Path) -> None:
    write_sample(tmp_path)
    assert _files(tmp_path) == _files(sample)
    write_sample(tmp_path / "other", seed=7)
    assert _files(tmp_path / "other") != _files(sample)


def test_committed_sample_is_what_the_generator_writes(sample: Path) -> None:
    # Compared as rows, not bytes: another pyarrow version may encode the same rows differently.
    assert (COMMITTED_SAMPLE / "seed_nodes.csv").read_bytes() == (
        sample / "seed_nodes.csv"
    ).read_bytes()
    for crawl_id in SAMPLE_CRAWL_IDS:
        assert _crawl(COMMITTED_SAMPLE, crawl_id).equals(_crawl(sample, crawl_id))


def test_sample_layout_schema_and_size(sample: Path) -> None:
    files = _files(sample)
    assert sorted(files) == [
        "crawl_records/crawl_id=CC-MAIN-2024-10/part-0.parquet",
        "crawl_records/crawl_id=CC-MAIN-2024-33/part-0.parquet",
        "seed_nodes.csv",
    ]
    assert sum(map(len, files.values())) < 2_000_000
    for crawl_id in SAMPLE_CRAWL_IDS:
        table = _crawl(sample, crawl_id)
        # crawl_id is the partition directory, not a column of the file.
        assert table.schema.remove_metadata() == CRAWL_RECORD_SCHEMA
        assert 20_000 <= table.num_rows <= 40_000
        assert min(len(u) for u in table.column("page_url").to_pylist()) > 0
        start, end = WINDOWS[crawl_id]
        times = table.column("fetch_time").to_pylist()
        assert start <= min(times)
        assert max(times) < end


def test_seed_nodes_columns_and_values(sample: Path) -> None:
    with (sample / "seed_nodes.csv").open(encoding="utf-8") as fh:
        assert fh.readline().rstrip("\n").split(",") == list(SEED_NODE_COLUMNS)
    rows = _seed_rows(sample)
    assert 300 <= len(rows) <= 330
    assert len({r["company_id"] for r in rows}) == 300
    assert all(r["company_id"].isdigit() and int(r["company_id"]) >= 1 for r in rows)
    assert all(re.fullmatch(r"[A-Z]{2}", r["country"]) for r in rows if r["country"])
    countries = Counter(r["country"] for r in rows)
    assert countries["DE"] > countries["US"] > countries[""] > 0


def test_seed_nodes_have_the_dirt_of_real_lists(sample: Path) -> None:
    rows = _seed_rows(sample)
    websites = [r["website"] for r in rows]
    for literal in (
        "http//broken", "not a url", "www..double.com", "https://", "ftp://files.firm.de",
        "HTTPS://WWW.Firm-Name.DE/", "firm.de.", "shop.example.co.uk", "firm.com.au",
        "http://www.port-technik.de:8080/", "http://user@userinfo-systems.de/",
        "https://www.query-widgets.com/index.php?lang=en#home", "www2.zweite-firma.de",
        "facebook.com/socialonlygmbh", "https://www.linkedin.com/company/linkedin-only-ltd",
        "www.müller-bäckerei.de", "http://例示精機.jp/",
    ):  # fmt: skip
        assert literal in websites, literal
    assert sum(w == "" for w in websites) >= 5
    assert sum(w != "" and w.strip() == "" for w in websites) >= 1
    assert sum(not w.isascii() for w in websites) >= 3
    assert sum(n - 1 for n in Counter(tuple(r.values()) for r in rows).values()) >= 2
    per_id = defaultdict(set)
    for r in rows:
        per_id[r["company_id"]].add(r["website"])
    assert any(len(w) > 1 for w in per_id.values())
    shared = {d for d, ids in _seed_domains(sample).items() if len(ids) > 1}
    assert "gemeinsam-gruppe.de" in shared
    assert sum(r["company_name"] == "" for r in rows) >= 1


def test_crawl_records_have_the_links_real_pages_have(sample: Path) -> None:
    table = pa.concat_tables(_crawl(sample, c) for c in SAMPLE_CRAWL_IDS)
    links = table.column("link_url").to_pylist()
    present = [u for u in links if u is not None]
    assert None in links
    assert "" in present
    for prefix in (
        "mailto:",
        "MAILTO:",
        "javascript:",
        "tel:",
        "//",
        "/",
        "#",
        "http://",
        "HTTPS://WWW.",
    ):
        assert any(u.startswith(prefix) for u in present), prefix
    assert any(re.match(r"^https?://(\d+\.){3}\d+[:/]", u) for u in present)  # IP hosts
    assert any(not u.isascii() for u in present)  # IDN hosts as the page wrote them
    assert set(table.column("html_path").to_pylist()) == {
        "A@/href", "IMG@/src", "LINK@/href", "FORM@/action",
    }  # fmt: skip
    anchors = [a for a in table.column("anchor_text").to_pylist() if a]
    assert any(set(a) & set("äöüÄÖÜß") for a in anchors)
    assert any(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", a) for a in anchors)
    languages = set(table.column("language").to_pylist())
    assert {"deu", "eng", "deu,eng", None} <= languages


def test_crawl_records_hold_a_sparse_firm_network_with_hubs(sample: Path) -> None:
    seeds = _seed_domains(sample)
    for crawl_id in SAMPLE_CRAWL_IDS:
        table = _crawl(sample, crawl_id)
        pages = table.column("page_url").to_pylist()
        pairs = Counter()
        for page, link in zip(pages, table.column("link_url").to_pylist(), strict=True):
            src, dst = _domain(page), _domain(link)
            if src in seeds and dst in seeds and src != dst:
                pairs[src, dst] += 1
        in_degree = Counter(dst for _, dst in pairs)
        assert len(pairs) >= 50
        assert max(in_degree.values()) >= 5 * sorted(in_degree.values())[len(in_degree) // 2]
        page_domains = {_domain(p) for p in pages}
        assert len(page_domains - set(seeds)) >= 20  # pages of sites that are not seeds


def test_crawls_differ_and_subdomains_link_to_their_site(sample: Path) -> None:
    seeds = set(_seed_domains(sample))
    crawled = {
        c: {_domain(p) for p in _crawl(sample, c).column("page_url").to_pylist()}
        for c in SAMPLE_CRAWL_IDS
    }
    first, second = (crawled[c] & seeds for c in SAMPLE_CRAWL_IDS)
    assert len(first - second) >= 10
    assert len(second - first) >= 10
    assert len(first & second) >= 50
    table = _crawl(sample, SAMPLE_CRAWL_IDS[0])
    self_links = {
        (_host(p), _host(u))
        for p, u in zip(
            table.column("page_url").to_pylist(), table.column("link_url").to_pylist(), strict=True
        )
        if p.startswith("https://blog.firm.de/")
    }
    assert ("blog.firm.de", "firm.de") in self_links


def test_scale_generator_splits_files_counts_rows_and_is_deterministic(tmp_path: Path) -> None:
    data = generate_crawl_records(10_001, out_dir=tmp_path / "a", rows_per_file=2_000, seed=3)
    assert data.links_per_crawl == {"CC-MAIN-2024-10": 5_001, "CC-MAIN-2024-33": 5_000}
    assert data.n_links == 10_001
    assert data.n_companies == 200
    assert data.n_files == 6
    part_dir = data.crawl_records / "crawl_id=CC-MAIN-2024-10"
    assert sorted(p.name for p in part_dir.iterdir()) == [
        "part-0.parquet",
        "part-1.parquet",
        "part-2.parquet",
    ]
    assert [pq.read_metadata(p).num_rows for p in sorted(part_dir.iterdir())] == [
        2_000,
        2_000,
        1_001,
    ]
    assert pq.read_schema(part_dir / "part-0.parquet").remove_metadata() == CRAWL_RECORD_SCHEMA
    assert len(_seed_rows(tmp_path / "a")) == data.n_seed_rows > 200
    again = generate_crawl_records(10_001, out_dir=tmp_path / "b", rows_per_file=2_000, seed=3)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert again.n_files == 6


def test_scale_generator_replaces_earlier_part_files(tmp_path: Path) -> None:
    generate_crawl_records(
        4_000, out_dir=tmp_path, rows_per_file=500, crawl_ids=["CC-MAIN-2023-50"]
    )
    data = generate_crawl_records(4_000, out_dir=tmp_path, crawl_ids=["CC-MAIN-2023-50"])
    assert [p.name for p in (data.crawl_records / "crawl_id=CC-MAIN-2023-50").iterdir()] == [
        "part-0.parquet"
    ]


@pytest.mark.parametrize(
    ("n_links", "crawl_ids", "message"),
    [
        (1, SAMPLE_CRAWL_IDS, "at least one link per crawl"),
        (100, ["CC-2024-10"], "not like CC-MAIN"),
    ],
)
def test_scale_generator_rejects_bad_arguments(
    tmp_path: Path, n_links: int, crawl_ids: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        generate_crawl_records(n_links, out_dir=tmp_path, crawl_ids=crawl_ids)


def test_command_line_writes_a_scaled_data_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["scale", "--links", "3000", "--companies", "50", str(tmp_path)])
    assert capsys.readouterr().out.startswith("3000 links in 2 files")
    assert len({r["company_id"] for r in _seed_rows(tmp_path)}) == 50
