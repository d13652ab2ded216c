"""Read Common Crawl WAT files into crawl records: one row per outgoing link of a crawled page."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from hydra_transforms.example.generate import CRAWL_RECORD_SCHEMA, parquet_writer

__all__ = ["WAT_TABLE_SCHEMA", "crawl_id_from_path", "main", "read_wat", "wat_to_parquet"]

logger = logging.getLogger(__name__)

WAT_TABLE_SCHEMA = CRAWL_RECORD_SCHEMA.append(pa.field("crawl_id", pa.string(), nullable=False))
# A path component like CC-MAIN-2024-10 (Common Crawl: crawl-data/CC-MAIN-2024-10/segments/...);
# file names such as CC-MAIN-20240220211055-...warc.wat.gz hold a timestamp, not the crawl id.
_CRAWL_ID_IN_PATH = re.compile(r"(?:^|[/\\])(CC-MAIN-\d{4}-\d{2})(?:[/\\]|$)")
_BATCH_ROWS = 65_536
_INSTALL_HINT = 'reading WAT files needs warcio: pip install "ascii-hydra[commoncrawl]"'

Source = str | os.PathLike[str] | IO[bytes]


def crawl_id_from_path(path: str | os.PathLike[str]) -> str:
    """The crawl id in a Common Crawl path or URL, e.g. ``CC-MAIN-2024-10``; ValueError if none."""
    match = _CRAWL_ID_IN_PATH.search(os.fspath(path))
    if match is None:
        raise ValueError(
            f"cannot tell the crawl of {os.fspath(path)!r}: its path has no CC-MAIN-YYYY-WW "
            "directory (as in crawl-data/CC-MAIN-2024-10/...); pass crawl_id= (or --crawl-id on the command line)"
        )
    return match[1]


def read_wat(source: Source, *, crawl_id: str | None = None) -> pa.Table:
    """All link records of a (gzipped) WAT file, with the crawl_records columns plus crawl_id.

    ``source`` is a path or a binary stream. The crawl id is ``crawl_id`` or, if not given,
    taken from the path. Records other than HTML responses yield no rows; a record whose JSON
    is malformed is skipped and counted in a warning. A file that is not WARC raises ValueError.
    """
    name = _source_name(source)
    crawl = crawl_id or crawl_id_from_path(name)
    batches = list(_wat_batches(source, name=name, crawl_id=crawl))
    return pa.Table.from_batches(batches, schema=WAT_TABLE_SCHEMA)


def wat_to_parquet(
    paths: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    crawl_id: str | None = None,
) -> int:
    """Convert WAT files to ``out_dir/crawl_id=<id>/part-<file>.parquet``; returns rows written.

    ``out_dir`` is the crawl_records directory. Each input becomes one part file named after
    it, written under a temporary name first, so a failed file leaves no partial part behind.
    """
    total = 0
    for path in paths:
        crawl = crawl_id or crawl_id_from_path(path)
        part_dir = Path(out_dir) / f"crawl_id={crawl}"
        part_dir.mkdir(parents=True, exist_ok=True)
        stem = Path(path).name.removesuffix(".gz").removesuffix(".wat").removesuffix(".warc")
        target = part_dir / f"part-{stem}.parquet"
        staging = part_dir / f".{target.name}.tmp"
        try:
            with parquet_writer(staging, CRAWL_RECORD_SCHEMA) as writer:
                for batch in _wat_batches(path, name=os.fspath(path), crawl_id=crawl):
                    writer.write_batch(batch.drop_columns(["crawl_id"]))
                    total += batch.num_rows
        except BaseException:
            staging.unlink(missing_ok=True)
            raise
        staging.replace(target)
    return total


def _source_name(source: Source) -> str:
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    return str(getattr(source, "name", "<stream>"))


def _wat_batches(source: Source, *, name: str, crawl_id: str) -> Iterator[pa.RecordBatch]:
    """Link records of one WAT file in batches, the file streamed rather than loaded."""
    try:
        from warcio.archiveiterator import ArchiveIterator
        from warcio.exceptions import ArchiveLoadFailed
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    rows = _Rows()
    records = malformed = 0
    with _opened(source) as stream:
        try:
            for record in ArchiveIterator(stream):
                records += 1
                if record.rec_type != "metadata":
                    continue  # warcinfo: the WAT file's own header
                page = _parse_page(record.content_stream().read())
                if page is None:
                    malformed += 1
                elif page:
                    rows.add_page(*page, crawl_id=crawl_id)
                if len(rows) >= _BATCH_ROWS:
                    yield rows.to_batch()
        except ArchiveLoadFailed as exc:
            # warcio quotes the offending first line, which in a binary file is noise: cut it short.
            detail = str(exc)[:100]
            raise ValueError(f"{name} is not a WARC/WAT file (or is corrupt): {detail}") from exc
    if records == 0:
        raise ValueError(f"{name} holds no WARC records: not a WAT file, or empty")
    if malformed:
        logger.warning("%s: skipped %d records with malformed WAT JSON", name, malformed)
    if len(rows):
        yield rows.to_batch()


@contextmanager
def _opened(source: Source) -> Iterator[IO[bytes]]:
    """A path opened for reading, or a stream passed through (and left open)."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as stream:
            yield stream
    else:
        yield source


_Page = tuple[str, datetime, str | None, list[Any]]


def _parse_page(payload: bytes) -> _Page | tuple[()] | None:
    """(page URL, fetch time, language, links) of an HTML response; () for any other record
    (request, non-HTML, redirect without links), None when the JSON is malformed."""
    try:
        envelope = json.loads(payload)["Envelope"]
        header = envelope["WARC-Header-Metadata"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(header, dict) or header.get("WARC-Type") != "response":
        return ()
    payload_meta = envelope.get("Payload-Metadata") or {}
    html = (payload_meta.get("HTTP-Response-Metadata") or {}).get("HTML-Metadata")
    if not isinstance(html, dict):
        return ()
    links = html.get("Links")
    url, date = header.get("WARC-Target-URI"), _warc_date(header.get("WARC-Date"))
    if not isinstance(url, str) or not url or date is None or not isinstance(links, list | None):
        return None
    return url, date, _text(header.get("WARC-Identified-Content-Language")), links or []


def _warc_date(value: object) -> datetime | None:
    """WARC-Date (ISO 8601, UTC, e.g. 2024-02-20T12:34:56Z) as a naive UTC datetime."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


class _Rows:
    """Column buffers of link records, emptied into a record batch."""

    def __init__(self) -> None:
        self._columns: dict[str, list[Any]] = {name: [] for name in WAT_TABLE_SCHEMA.names}

    def __len__(self) -> int:
        return len(self._columns["page_url"])

    def add_page(
        self, url: str, date: datetime, language: str | None, links: Sequence[Any], *, crawl_id: str
    ) -> None:
        links = [link for link in links if isinstance(link, dict)]
        for name, value in (
            ("page_url", url),
            ("fetch_time", date),
            ("language", language),
            ("crawl_id", crawl_id),
        ):
            self._columns[name].extend([value] * len(links))
        for name, key in (("link_url", "url"), ("anchor_text", "text"), ("html_path", "path")):
            self._columns[name].extend(_text(link.get(key)) for link in links)

    def to_batch(self) -> pa.RecordBatch:
        batch = pa.RecordBatch.from_pydict(self._columns, schema=WAT_TABLE_SCHEMA)
        self._columns = {name: [] for name in WAT_TABLE_SCHEMA.names}
        return batch


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m hydra_transforms.example.wat",
        description="Convert Common Crawl WAT files to crawl_records Parquet (hive-partitioned).",
    )
    parser.add_argument("inputs", nargs="+", type=Path, help="WAT files (.warc.wat.gz)")
    parser.add_argument("out_dir", type=Path, help="the crawl_records directory")
    parser.add_argument("--crawl-id", help="e.g. CC-MAIN-2024-10 (default: from each path)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.crawl_id is not None and not re.fullmatch(r"CC-MAIN-[0-9]{4}-[0-9]{2}", args.crawl_id):
        parser.error(f"--crawl-id {args.crawl_id!r} is not a crawl id like CC-MAIN-2024-10")
    try:
        rows = wat_to_parquet(args.inputs, args.out_dir, crawl_id=args.crawl_id)
    except ValueError as exc:
        parser.error(str(exc))
    print(f"{rows} link records from {len(args.inputs)} files -> {args.out_dir}")


if __name__ == "__main__":
    main()
