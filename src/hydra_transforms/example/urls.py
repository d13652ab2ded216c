"""URL normalisation and registered domains as ibis expressions (they run inside the engine).

No Python runs per row: every step is a string function or a regular expression that
DuckDB (RE2) and Spark (java.util.regex) read alike — the patterns here use only the
syntax the two share.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from hydra_transforms.example.contracts import HOST_PATTERN
from hydra_transforms.example.psl import MAX_RULE_LABELS
from hydra_transforms.expr import strip_whitespace

__all__ = [
    "SOCIAL_MEDIA_DOMAINS",
    "is_valid_host",
    "label_count",
    "last_labels",
    "registered_domains",
    "url_host",
]

# Registered domains that host profiles of many firms: a seed pointing there is no firm website.
SOCIAL_MEDIA_DOMAINS = (
    "facebook.com",
    "fb.com",
    "instagram.com",
    "linkedin.com",
    "pinterest.com",
    "t.me",
    "tiktok.com",
    "twitter.com",
    "wa.me",
    "x.com",
    "xing.com",
    "youtu.be",
    "youtube.com",
)

_HTTP = r"^https?://"
_ANY_SCHEME = r"^[a-z][a-z0-9+.-]*:"
# "name:" followed by a non-digit is a scheme (mailto:, javascript:); "firm.de:8080" is a port.
_OTHER_SCHEME = r"^[a-z][a-z0-9+.-]*:([^0-9]|$)"


def url_host(url: ir.StringValue, *, require_scheme: bool = False) -> ir.StringValue:
    """The host of a URL, normalised: lower case, no scheme, user, port, path, trailing dots
    or leading ``www.``/``www2.``; NULL when there is none.

    Seeds are often typed without a scheme (``Firm.de/about``); links in pages are absolute only
    with ``http(s)://`` or ``//`` — with ``require_scheme`` anything else (``/about``,
    ``page.html``) is relative and has no host. Other schemes (mailto:, ftp:) have no host.
    """
    s = strip_whitespace(url).lower()
    is_http = s.re_search(_HTTP)
    relative_scheme = s.startswith("//")
    other_scheme = s.re_search(_OTHER_SCHEME) & ~is_http
    rest = s.re_replace(_HTTP, "").re_replace(r"^//", "")
    authority = rest.re_extract(r"^([^/?#\\]*)", 1)
    host = (
        authority.re_replace(r"^.*@", "")
        .re_replace(r":[0-9]*$", "")
        .re_replace(r"\.+$", "")
        .re_replace(r"^www[0-9]*\.", "")
    )
    no_host = other_scheme | url.isnull()
    if require_scheme:
        no_host = no_host | ~(is_http | relative_scheme)
    return ibis.ifelse(no_host.fill_null(True) | (host == ""), ibis.null(str), host)


def is_valid_host(host: ir.StringValue) -> ir.BooleanValue:
    return host.re_search(HOST_PATTERN).fill_null(False)


def label_count(host: ir.StringValue) -> ir.IntegerValue:
    return host.length() - host.replace(".", "").length() + 1


def last_labels(host: ir.StringValue, k: int) -> ir.StringValue:
    """The last ``k`` dot-separated labels of ``host`` ('' when it has fewer)."""
    pattern = r"(" + r"[^.]+\." * (k - 1) + r"[^.]+)$"
    return host.re_extract(pattern, 1)


def registered_domains(hosts: ir.Table, rules: ir.Table) -> ir.Table:
    """Map each distinct ``host`` to its registered domain under the public suffix list.

    ``rules`` is the ``public_suffixes`` source. The public suffix of a host is its longest
    matching rule (an exact rule, or a wildcard ``*.parent``), an exception rule ``!x`` makes
    ``x`` registrable, and an unlisted top-level label is a suffix (the implicit ``*`` rule).
    The registered domain is the suffix plus one label; NULL when the host is a suffix itself.
    """
    distinct = hosts.select("host").distinct()
    count = label_count(distinct.host)
    candidates = ibis.union(
        *[
            distinct.filter(count >= k).mutate(
                k=ibis.literal(k, "int64"),
                cand=last_labels(distinct.host, k),
                parent=last_labels(distinct.host, k - 1) if k > 1 else ibis.literal(""),
            )
            for k in range(1, MAX_RULE_LABELS + 1)
        ]
    )
    own = rules.select(c_suffix=rules.suffix, c_exact=rules.exact, c_exception=rules.exception)
    wild = rules.filter(rules.wildcard).select(p_suffix=rules.suffix)
    matched = candidates.left_join(own, candidates.cand == own.c_suffix).left_join(
        wild, candidates.parent == wild.p_suffix
    )
    exception = matched.c_exception.fill_null(False)
    rule = (matched.c_exact.fill_null(False) | matched.p_suffix.notnull()) & ~exception
    lengths = matched.group_by("host").aggregate(
        rule_len=ibis.ifelse(rule, matched.k, 0).max(),
        exception_len=ibis.ifelse(exception, matched.k - 1, 0).max(),
    )
    lengths = lengths.mutate(
        domain_len=ibis.ifelse(
            lengths.exception_len > 0, lengths.exception_len, ibis.greatest(lengths.rule_len, 1)
        )
        + 1
    )
    domains = candidates.join(
        lengths, [candidates.host == lengths.host, candidates.k == lengths.domain_len]
    ).select(host=candidates.host, domain=candidates.cand)
    return distinct.left_join(domains, distinct.host == domains.host).select(
        host=distinct.host, domain=domains.domain
    )
