"""Reading Common Crawl WAT files: a small WAT written with warcio, read back row by row."""

from __future__ import annotations

import io
import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from warcio.warcwriter import WARCWriter

from hydra_transforms.example.generate import CRAWL_RECORD_SCHEMA
from hydra_transforms.example.wat import (
    WAT_TABLE_SCHEMA,
    crawl_id_from_path,
    read_wat,
    wat_to_parquet,
)

CRAWL = "CC-MAIN-2024-10"
WAT_NAME = "CC-MAIN-20240220211055-20240221001055-00000.warc.wat.gz"
FIRM_LINKS = [
    {"path": "A@/href", "url": "https://www.partner-firma.de/", "text": "Partner Firma"},
    {"path": "A@/href", "url": "/kontakt", "text": "Über uns & Kontakt"},
    {"path": "IMG@/src", "url": "/logo.png", "alt": "Logo"},
    {"path": "A@/href", "url": "mailto:info@firm.de", "text": "E-Mail", "title": "Mail"},
    {"path": "FORM@/action", "url": ""},
    {"path": "A@/href", "text": "kein Ziel"},
]
JAPANESE_LINKS = [{"path": "A@/href", "url": "//cdn.example.jp/a", "text": "会社概要"}]


def _envelope(
    uri: str, date: str, *, warc_type: str = "response", language: str | None = None
) -> dict[str, Any]:
    header = {
        "WARC-Type": warc_type,
        "WARC-Date": date,
        "WARC-Record-ID": "<urn:uuid:3b5f7a0e-0000-4000-8000-000000000000>",
        "Content-Length": "4321",
        "Content-Type": f"application/http; msgtype={warc_type}",
        "WARC-Target-URI": uri,
    }
    if language is not None:
        header["WARC-Identified-Content-Language"] = language
    return {
        "Format": "WARC",
        "WARC-Header-Length": "612",
        "Block-Digest": "sha1:VSQOTNLEMFURZUXHVVRYNYHGDTPZG6PW",
        "Actual-Content-Length": "4321",
        "WARC-Header-Metadata": header,
    }


def _response(
    uri: str,
    date: str,
    *,
    links: list[Any] | None,
    language: str | None = None,
    content_type: str = "text/html",
) -> dict[str, Any]:
    """A WAT JSON document of a response record, shaped as Common Crawl writes them."""
    envelope = _envelope(uri, date, language=language)
    http: dict[str, Any] = {
        "Response-Message": {"Version": "HTTP/1.1", "Status": "200", "Reason": "OK"},
        "Headers": {"Content-Type": content_type, "Server": "nginx"},
        "Headers-Length": "212",
        "Entity-Length": "4109",
        "Entity-Trailing-Slop-Length": "0",
        "Entity-Digest": "sha1:ZA4S2ROKJQBBZUB7HNCIF4B343CJJLNW",
    }
    if content_type == "text/html":
        html: dict[str, Any] = {
            "Head": {"Title": "Firma", "Link": [{"path": "LINK@/href", "url": "/style.css"}]}
        }
        if links is not None:
            html["Links"] = links
        http["HTML-Metadata"] = html
    envelope["Payload-Metadata"] = {
        "Actual-Content-Type": "application/http; msgtype=response",
        "HTTP-Response-Metadata": http,
    }
    return {
        "Container": {"Filename": WAT_NAME.replace(".wat", ""), "Compressed": True},
        "Envelope": envelope,
    }


def _request(uri: str, date: str) -> dict[str, Any]:
    envelope = _envelope(uri, date, warc_type="request")
    envelope["Payload-Metadata"] = {
        "Actual-Content-Type": "application/http; msgtype=request",
        "HTTP-Request-Metadata": {"Request-Message": {"Method": "GET", "Path": "/"}},
    }
    return {"Envelope": envelope}


def _write_wat(target: io.BytesIO | Path) -> None:
    """A WAT file as Common Crawl publishes them: warcinfo, then one metadata record per
    WARC record (requests, responses, crawler metadata), each holding WAT JSON."""
    documents: list[tuple[str, bytes]] = [
        ("https://www.firm.de/", json.dumps(_request("https://www.firm.de/", "2024-02-20T12:34:56Z")).encode()),
        ("https://www.firm.de/", json.dumps(_response("https://www.firm.de/", "2024-02-20T12:34:56Z", links=FIRM_LINKS, language="deu,eng")).encode()),
        ("https://www.firm.de/logo.jpg", json.dumps(_response("https://www.firm.de/logo.jpg", "2024-02-20T12:35:00Z", links=None, content_type="image/jpeg")).encode()),
        ("https://www.broken.de/", b'{"Envelope": {"WARC-Header-Metadata": {"WARC-Type": "resp'),
        ("https://leer.de/", json.dumps(_response("https://leer.de/", "2024-02-21T08:00:00Z", links=None, language="deu")).encode()),
        ("https://www.example.jp/about", json.dumps(_response("https://www.example.jp/about", "2024-02-22T01:02:03Z", links=JAPANESE_LINKS)).encode()),
    ]  # fmt: skip
    stream = io.BytesIO() if isinstance(target, Path) else target
    writer = WARCWriter(stream, gzip=True)
    writer.write_record(
        writer.create_warcinfo_record(
            WAT_NAME, {"software": "test", "format": "WARC File Format 1.0"}
        )
    )
    for uri, payload in documents:
        record = writer.create_warc_record(
            uri,
            "metadata",
            payload=io.BytesIO(payload),
            warc_content_type="application/json",
            warc_headers_dict={"WARC-Date": "2024-03-01T00:00:00Z"},
        )
        writer.write_record(record)
    if isinstance(target, Path):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(stream.getvalue())


def _expected_rows(crawl_id: str) -> list[dict[str, Any]]:
    firm = {
        "page_url": "https://www.firm.de/",
        "fetch_time": datetime(2024, 2, 20, 12, 34, 56),
        "language": "deu,eng",
        "crawl_id": crawl_id,
    }
    japan = {
        "page_url": "https://www.example.jp/about",
        "fetch_time": datetime(2024, 2, 22, 1, 2, 3),
        "language": None,
        "crawl_id": crawl_id,
    }
    return [
        firm | {"link_url": "https://www.partner-firma.de/", "anchor_text": "Partner Firma", "html_path": "A@/href"},
        firm | {"link_url": "/kontakt", "anchor_text": "Über uns & Kontakt", "html_path": "A@/href"},
        firm | {"link_url": "/logo.png", "anchor_text": None, "html_path": "IMG@/src"},
        firm | {"link_url": "mailto:info@firm.de", "anchor_text": "E-Mail", "html_path": "A@/href"},
        firm | {"link_url": "", "anchor_text": None, "html_path": "FORM@/action"},
        firm | {"link_url": None, "anchor_text": "kein Ziel", "html_path": "A@/href"},
        japan | {"link_url": "//cdn.example.jp/a", "anchor_text": "会社概要", "html_path": "A@/href"},
    ]  # fmt: skip


@pytest.fixture
def wat_file(tmp_path: Path) -> Path:
    path = tmp_path / "crawl-data" / CRAWL / "segments" / "1707947473347.0" / "wat" / WAT_NAME
    _write_wat(path)
    return path


def test_read_wat_gives_one_row_per_link_of_html_responses(wat_file: Path) -> None:
    table = read_wat(wat_file, crawl_id=CRAWL)
    assert table.schema == WAT_TABLE_SCHEMA
    # Request, image and malformed records give no rows; nor does the page without links.
    assert table.to_pylist() == _expected_rows(CRAWL)


def test_read_wat_skips_and_counts_malformed_records(
    wat_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hydra_transforms.example.wat"):
        read_wat(wat_file, crawl_id=CRAWL)
    assert [r.getMessage() for r in caplog.records] == [
        f"{wat_file}: skipped 1 records with malformed WAT JSON"
    ]


def test_read_wat_takes_the_crawl_id_from_the_path(wat_file: Path) -> None:
    assert set(read_wat(wat_file).column("crawl_id").to_pylist()) == {CRAWL}


def test_read_wat_reads_a_stream_with_an_explicit_crawl_id() -> None:
    stream = io.BytesIO()
    _write_wat(stream)
    stream.seek(0)
    assert read_wat(stream, crawl_id="CC-MAIN-2024-33").to_pylist() == _expected_rows(
        "CC-MAIN-2024-33"
    )
    stream.seek(0)
    with pytest.raises(ValueError, match="pass crawl_id"):
        read_wat(stream)


@pytest.mark.parametrize(
    ("path", "crawl_id"),
    [
        (f"s3://commoncrawl/crawl-data/CC-MAIN-2024-10/segments/1707947473347.0/wat/{WAT_NAME}", "CC-MAIN-2024-10"),
        (f"https://data.commoncrawl.org/crawl-data/CC-MAIN-2024-33/segments/1722640350846.9/wat/{WAT_NAME}", "CC-MAIN-2024-33"),
        ("/data/CC-MAIN-2023-50/local.warc.wat.gz", "CC-MAIN-2023-50"),
    ],
)  # fmt: skip
def test_crawl_id_from_path(path: str, crawl_id: str) -> None:
    assert crawl_id_from_path(path) == crawl_id


@pytest.mark.parametrize("path", [WAT_NAME, "/data/wat/part-0.warc.wat.gz", "CC-MAIN-2024-1/x.gz"])
def test_crawl_id_from_path_refuses_paths_without_a_crawl(path: str) -> None:
    # A WAT file's own name holds a timestamp (CC-MAIN-20240220211055-...), not the crawl.
    with pytest.raises(ValueError, match="cannot tell the crawl"):
        crawl_id_from_path(path)


@pytest.mark.parametrize("content", [b"company_id,website\n1,firm.de\n", b""])
def test_a_file_that_is_not_warc_raises_naming_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "seed_nodes.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"seed_nodes\.csv .*(not a WARC|no WARC records)"):
        read_wat(path, crawl_id=CRAWL)


def test_missing_warcio_names_the_extra(wat_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "warcio.archiveiterator", None)
    with pytest.raises(ImportError, match=r'pip install "ascii-hydra\[commoncrawl\]"'):
        read_wat(wat_file, crawl_id=CRAWL)


def test_wat_to_parquet_writes_the_crawl_records_layout(wat_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "crawl_records"
    assert wat_to_parquet([wat_file], out) == 7
    part = out / f"crawl_id={CRAWL}" / "part-CC-MAIN-20240220211055-20240221001055-00000.parquet"
    assert sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) == [
        part.relative_to(out)
    ]
    assert pq.read_schema(part).remove_metadata() == CRAWL_RECORD_SCHEMA
    expected = [{k: v for k, v in row.items() if k != "crawl_id"} for row in _expected_rows(CRAWL)]
    assert pq.read_table(part).to_pylist() == expected


def test_wat_to_parquet_leaves_no_part_file_when_a_file_fails(tmp_path: Path) -> None:
    bad = tmp_path / "crawl-data" / CRAWL / "bad.warc.wat.gz"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a warc\n")
    out = tmp_path / "crawl_records"
    with pytest.raises(ValueError, match=r"bad\.warc\.wat\.gz"):
        wat_to_parquet([bad], out)
    assert [p for p in out.rglob("*") if p.is_file()] == []
