"""How source files are written: the declarations the engines read them by."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CSV_ENCODINGS", "CsvDialect"]

# Encodings both engines read natively (DuckDB without its encodings extension; Spark's names
# differ and are mapped by the Spark engine).
CSV_ENCODINGS: tuple[str, ...] = ("utf-8", "utf-16", "latin-1")


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV source is written. Every engine reads it with exactly these settings: nothing
    is guessed from the file, so a file in another dialect fails on every engine alike.

    The default is RFC 4180: comma-separated, fields quoted with ``"`` and a quote inside a
    field doubled, a header line. Rows may end in LF or CRLF, and a UTF-8 byte-order mark
    before the header is skipped. Empty fields, quoted or not, are read as NULL. A quoted
    field may span lines. A row with more or fewer fields than the header is an error.
    """

    delimiter: str = ","
    quote: str = '"'
    escape: str = '"'
    header: bool = True
    encoding: str = "utf-8"

    def __post_init__(self) -> None:
        for name in ("delimiter", "quote", "escape"):
            value = getattr(self, name)
            if not isinstance(value, str) or len(value) != 1 or value in "\r\n":
                raise ValueError(
                    f"CsvDialect {name} must be one character other than a line end, got {value!r}"
                )
        if self.delimiter == self.quote:
            raise ValueError(f"CsvDialect delimiter and quote are both {self.delimiter!r}")
        if self.encoding not in CSV_ENCODINGS:
            raise ValueError(
                f"CsvDialect encoding {self.encoding!r} is not supported; valid: "
                f"{', '.join(CSV_ENCODINGS)}"
            )

    def describe(self) -> str:
        header = "a header line" if self.header else "no header line"
        return (
            f"delimiter {self.delimiter!r}, quote {self.quote!r}, escape {self.escape!r}, "
            f"{header}, {self.encoding}"
        )
