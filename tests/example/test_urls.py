"""URL hosts and registered domains, computed on the engine, checked case by case and against
the publicsuffixlist package."""

from __future__ import annotations

import re
from importlib import resources

import ibis.expr.types as ir
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from publicsuffixlist import PublicSuffixList

from hydra_transforms.engines import Engine, connect
from hydra_transforms.example.contracts import HOST_PATTERN
from hydra_transforms.example.psl import MAX_RULE_LABELS, public_suffix_rules
from hydra_transforms.example.urls import (
    has_unsupported_scheme,
    is_valid_host,
    registered_domains,
    url_host,
)

ORACLE = PublicSuffixList()

# url -> (host, host with require_scheme, has an unsupported scheme, host is valid)
URL_CASES: list[tuple[str | None, str | None, str | None, bool, bool]] = [
    # case, scheme, www./www2.
    ("https://www.Firm.DE/About", "firm.de", "firm.de", False, True),
    ("HTTP://FIRM.DE", "firm.de", "firm.de", False, True),
    ("hTTpS://Firm.de", "firm.de", "firm.de", False, True),
    ("firm.de", "firm.de", None, False, True),
    ("Firm.de/about", "firm.de", None, False, True),
    ("www.firm.de", "firm.de", None, False, True),
    ("WWW2.firm.de", "firm.de", None, False, True),
    ("https://www3.shop.firm.de/", "shop.firm.de", "shop.firm.de", False, True),
    ("https://wwwfirm.de/", "wwwfirm.de", "wwwfirm.de", False, True),
    ("https://a.b.c.firm.co.uk/x", "a.b.c.firm.co.uk", "a.b.c.firm.co.uk", False, True),
    # ports, user info
    ("http://firm.de:8080/x", "firm.de", "firm.de", False, True),
    ("https://firm.de:/x", "firm.de", "firm.de", False, True),
    ("firm.de:8080", "firm.de", None, False, True),
    ("https://user:pw@firm.de/", "firm.de", "firm.de", False, True),
    ("https://user@www.firm.de:443/a", "firm.de", "firm.de", False, True),
    ("https://firm.de@evil.com/", "evil.com", "evil.com", False, True),
    # several "@": user info ends at the last one before the path (as browsers and urllib read it)
    ("http://a@b@firm.de", "firm.de", "firm.de", False, True),
    ("http://a@b@firm.de/x@y", "firm.de", "firm.de", False, True),
    ("a@b@firm.de", "firm.de", None, False, True),
    # paths, query, fragment
    ("https://firm.de/a/b?q=1#frag", "firm.de", "firm.de", False, True),
    ("https://firm.de?q=1", "firm.de", "firm.de", False, True),
    ("https://firm.de#top", "firm.de", "firm.de", False, True),
    ("https://firm.de\\path", "firm.de", "firm.de", False, True),
    ("firm.de/path with space", "firm.de", None, False, True),
    # trailing dots, whitespace
    ("https://firm.de./", "firm.de", "firm.de", False, True),
    ("https://www.firm.de.:80/", "firm.de", "firm.de", False, True),
    ("firm.de..", "firm.de", None, False, True),
    ("  https://firm.de/  ", "firm.de", "firm.de", False, True),
    ("\tfirm.de\n", "firm.de", None, False, True),
    # blank
    ("", None, None, False, False),
    ("   ", None, None, False, False),
    (None, None, None, False, False),
    # other schemes have no host
    ("mailto:info@firm.de", None, None, True, False),
    ("MAILTO:info@firm.de", None, None, True, False),
    ("javascript:void(0)", None, None, True, False),
    ("tel:+49301234", None, None, True, False),
    ("ftp://firm.de/file.zip", None, None, True, False),
    ("data:text/html,hi", None, None, True, False),
    # protocol-relative and relative links
    ("//cdn.x.com/lib.js", "cdn.x.com", "cdn.x.com", False, True),
    ("/about", None, None, False, False),
    ("page.html", "page.html", None, False, True),  # a seed typed without a scheme
    ("../img/logo.png", None, None, False, False),
    ("?q=1", None, None, False, False),
    ("#top", None, None, False, False),
    # not hosts of firms: IP addresses, single labels, bad characters
    ("http://192.168.0.1/", "192.168.0.1", "192.168.0.1", False, False),
    ("https://localhost:8080/", "localhost", "localhost", False, False),
    ("https://-bad-.de/", "-bad-.de", "-bad-.de", False, False),
    ("https://firm_name.de/", "firm_name.de", "firm_name.de", False, False),
    # unicode hosts are not valid (documented limitation); their punycode form is
    ("https://b\u00fccher.de/", "b\u00fccher.de", "b\u00fccher.de", False, False),
    ("https://xn--bcher-kva.de/", "xn--bcher-kva.de", "xn--bcher-kva.de", False, True),
    # characters the engines once read differently: each ends up the same on both
    ("\x0bfirm.de\x0b", "firm.de", None, False, True),  # vertical tab: whitespace
    ("https://firm.de\u2028", "firm.de", "firm.de", False, True),  # a line end to Java
    ("firm.de\x85/x", "firm.de", None, False, True),
    ("https://\u0130firm.de/", "\u0130firm.de", "\u0130firm.de", False, False),  # not "ifirm.de"
    ("https://\u212aunde.de/", "\u212aunde.de", "\u212aunde.de", False, False),  # Kelvin sign
    ("HTTPS://B\u00dcCHER.DE", "b\u00dccher.de", "b\u00dccher.de", False, False),  # A-Z only
    # malformed
    ("http//broken", "http", None, False, False),
    ("www..double.com", ".double.com", None, False, False),
    ("https://", None, None, False, False),
    ("https:///firm.de", None, None, False, False),
]

# host -> valid (a lower-case ASCII name, at least two labels, an alphabetic top-level label)
HOST_CASES: list[tuple[str | None, bool]] = [
    ("firm.de", True),
    ("a-b.c-d.co.uk", True),
    ("x.io", True),
    ("123.firm.de", True),
    ("firm.b1", True),
    ("xn--p1ai.xn--p1ai", True),
    ("a" * 63 + ".de", True),
    ("a" * 64 + ".de", False),
    ("de", False),
    ("", False),
    (None, False),
    ("1.2.3.4", False),
    ("firm.123", False),
    ("FIRM.DE", False),
    (".firm.de", False),
    ("firm..de", False),
    ("firm.de.", False),
    ("-firm.de", False),
    ("firm-.de", False),
    ("fi_rm.de", False),
    ("fi rm.de", False),
    ("b\u00fccher.de", False),
]

# Hosts that exercise every kind of rule in the public suffix list.
TRICKY_HOSTS = [
    "firm.de",
    "www.shop.firm.de",
    "shop.example.co.uk",
    "example.co.uk",
    "co.uk",
    "uk",
    "a.b.example.com.au",
    "com.au",
    # wildcard *.kawasaki.jp with exception !city.kawasaki.jp
    "kawasaki.jp",
    "foo.kawasaki.jp",
    "bar.foo.kawasaki.jp",
    "city.kawasaki.jp",
    "www.city.kawasaki.jp",
    # wildcard *.ck with exception !www.ck
    "ck",
    "x.ck",
    "y.x.ck",
    "www.ck",
    "a.www.ck",
    # private section
    "user.github.io",
    "a.user.github.io",
    "github.io",
    "foo.blogspot.com",
    "blogspot.com",
    "bucket.s3.amazonaws.com",
    "s3.amazonaws.com",
    # unknown top-level labels (the implicit * rule)
    "firm.unknowntld",
    "sub.firm.unknowntld",
    # punycode forms of IDN suffixes (shop.公司.cn)
    "shop.xn--55qx5d.cn",
    "xn--55qx5d.cn",
    # deeper than any rule
    "a.b.c.d.e.f.g.h.example.com",
]
KNOWN_DOMAINS = {
    "www.shop.firm.de": "firm.de",
    "shop.example.co.uk": "example.co.uk",
    "co.uk": None,
    "kawasaki.jp": None,
    "foo.kawasaki.jp": None,
    "bar.foo.kawasaki.jp": "bar.foo.kawasaki.jp",
    "www.city.kawasaki.jp": "city.kawasaki.jp",
    "x.ck": None,
    "a.www.ck": "www.ck",
    "a.user.github.io": "user.github.io",
    "github.io": None,
    "sub.firm.unknowntld": "firm.unknowntld",
    "shop.xn--55qx5d.cn": "shop.xn--55qx5d.cn",
}


def _rules(engine: Engine) -> ir.Table:
    return engine.from_arrow(public_suffix_rules(), name="public_suffixes")


def _domains(engine: Engine, hosts: list[str], rules: ir.Table) -> dict[str, str | None]:
    table = engine.from_arrow(pa.table({"host": pa.array(hosts, pa.string())}), name="hosts")
    rows = registered_domains(table, rules).to_pyarrow().to_pylist()
    assert len(rows) == len(set(hosts)), "one row per distinct host"
    return {row["host"]: row["domain"] for row in rows}


def test_url_host_and_scheme_cases(engine: Engine) -> None:
    urls = [case[0] for case in URL_CASES]
    table = engine.from_arrow(
        pa.table({"i": pa.array(range(len(urls)), pa.int64()), "url": pa.array(urls, pa.string())}),
        name="urls",
    )
    host = url_host(table.url)
    result = table.select(
        "i",
        host=host,
        absolute=url_host(table.url, require_scheme=True),
        unsupported=has_unsupported_scheme(table.url),
        valid=is_valid_host(host),
    )
    rows = sorted(result.to_pyarrow().to_pylist(), key=lambda row: row["i"])
    got = [(urls[r["i"]], r["host"], r["absolute"], r["unsupported"], r["valid"]) for r in rows]
    assert got == URL_CASES


def test_is_valid_host_cases(engine: Engine) -> None:
    hosts = [case[0] for case in HOST_CASES]
    table = engine.from_arrow(
        pa.table(
            {"i": pa.array(range(len(hosts)), pa.int64()), "host": pa.array(hosts, pa.string())}
        ),
        name="hosts",
    )
    rows = table.select("i", valid=is_valid_host(table.host)).to_pyarrow().to_pylist()
    got = [(hosts[r["i"]], r["valid"]) for r in sorted(rows, key=lambda row: row["i"])]
    assert got == HOST_CASES


def test_registered_domains_of_tricky_hosts_match_publicsuffixlist(engine: Engine) -> None:
    got = _domains(engine, TRICKY_HOSTS, _rules(engine))
    assert got == {host: ORACLE.privatesuffix(host) for host in TRICKY_HOSTS}
    assert {host: got[host] for host in KNOWN_DOMAINS} == KNOWN_DOMAINS


# Property: on random hosts built from real suffixes and random labels, the engine agrees
# with the oracle. DuckDB only (fast); the fixed list above runs on both engines.
_ASCII_SUFFIXES = sorted(s for s in public_suffix_rules()["suffix"].to_pylist() if s.isascii())
_TRICKY_SUFFIXES = sorted(
    row["suffix"]
    for row in public_suffix_rules().to_pylist()
    if (row["wildcard"] or row["exception"]) and row["suffix"].isascii()
)
_label = st.one_of(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True),
    st.sampled_from(["www", "city", "shop", "co", "com", "xn--55qx5d", "kawasaki", "ck"]),
)
_suffix = st.one_of(
    st.sampled_from(_ASCII_SUFFIXES),
    st.sampled_from(_TRICKY_SUFFIXES),
    st.from_regex(r"[a-z]{2,6}", fullmatch=True),
)
_host = st.builds(
    lambda labels, suffix: ".".join([*labels, suffix]),
    st.lists(_label, max_size=4),
    _suffix,
).filter(lambda host: re.fullmatch(HOST_PATTERN, host) is not None)


@pytest.fixture(scope="module")
def duckdb_rules() -> tuple[Engine, ir.Table]:
    engine = connect("duckdb")
    return engine, _rules(engine)


@pytest.mark.duckdb
@settings(max_examples=15, deadline=None)
@given(hosts=st.lists(_host, min_size=1, max_size=60))
def test_registered_domains_match_publicsuffixlist_on_random_hosts(
    hosts: list[str], duckdb_rules: tuple[Engine, ir.Table]
) -> None:
    engine, rules = duckdb_rules
    got = _domains(engine, hosts, rules)
    assert got == {host: ORACLE.privatesuffix(host) for host in hosts}


def _packaged_rules() -> list[str]:
    text = resources.files("publicsuffixlist").joinpath("public_suffix_list.dat").read_text("utf-8")
    lines = (line.strip() for line in text.splitlines())
    return [line.split()[0] for line in lines if line and not line.startswith("//")]


@pytest.mark.duckdb
def test_max_rule_labels_covers_the_deepest_rule_of_the_packaged_list() -> None:
    rules = _packaged_rules()
    deepest = max(rule.lstrip("!").count(".") + 1 for rule in rules)
    assert deepest <= MAX_RULE_LABELS
    # and the deepest rules resolve like the oracle, two labels below them
    hosts = [
        "a.b." + rule.lstrip("!").replace("*", "w")
        for rule in rules
        if rule.lstrip("!").count(".") + 1 == deepest and rule.isascii()
    ]
    assert hosts
    engine = connect("duckdb")
    assert _domains(engine, hosts, _rules(engine)) == {h: ORACLE.privatesuffix(h) for h in hosts}


def _true_flags(suffix: str) -> set[str]:
    rows = [r for r in public_suffix_rules().to_pylist() if r["suffix"] == suffix]
    assert len(rows) == 1, suffix
    return {flag for flag, value in rows[0].items() if value is True}


@pytest.mark.parametrize(
    ("suffix", "flags"),
    [
        ("com", {"exact"}),
        ("co.uk", {"exact"}),
        ("kawasaki.jp", {"wildcard"}),
        ("city.kawasaki.jp", {"exception"}),
        ("ck", {"wildcard"}),
        ("www.ck", {"exception"}),
        ("github.io", {"exact", "private"}),
        ("blogspot.com", {"exact", "private"}),
        ("\u516c\u53f8.cn", {"exact"}),
        ("xn--55qx5d.cn", {"exact"}),
    ],
)
def test_public_suffix_rules_flags(suffix: str, flags: set[str]) -> None:
    assert _true_flags(suffix) == flags


def test_public_suffix_rules_are_lower_case_and_unique() -> None:
    suffixes = public_suffix_rules()["suffix"].to_pylist()
    assert len(suffixes) == len(set(suffixes)) > 9000
    assert all(s == s.lower() and not s.startswith(("*", "!", ".")) for s in suffixes)
