"""URL normalisation and registered domains as ibis expressions (they run inside the engine).

No Python runs per row: every step is a string function or a regular expression that
DuckDB (RE2) and Spark (java.util.regex) read alike — the patterns here use only the
syntax the two share.
"""

# pyright: reportAttributeAccessIssue=false, reportOperatorIssue=false, reportArgumentType=false
# (ibis types a table's columns as the generic Column; their methods and operators resolve at run time)

from __future__ import annotations

from typing import cast

import ibis
import ibis.expr.types as ir

from hydra_transforms.example.contracts import HOST_PATTERN
from hydra_transforms.example.psl import MAX_RULE_LABELS
from hydra_transforms.expr import WHITESPACE

__all__ = [
    "SOCIAL_MEDIA_DOMAINS",
    "has_unsupported_scheme",
    "host_labels",
    "is_valid_host",
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

# One regular expression takes the host out of a URL: optional scheme (http, https or
# protocol-relative), optional user info (up to the last "@" before the path, as browsers
# read "http://a@b@firm.de": host firm.de), optional www./www2., the host (lazily, so that
# trailing dots and a port stay outside), then the path, query or fragment.
_WS = WHITESPACE[1:-1]  # the characters, for use inside other classes
# Java's "$" also matches before a final U+0085, U+2028 or U+2029 (line terminators to Java,
# ordinary characters to RE2): "firm.de\u2028" had the host "firm.de" on Spark but an invalid
# "firm.de\u2028" on DuckDB. They end a host here, on both engines.
_LINE_ENDS = r"\x{85}\x{2028}\x{2029}"
_HOST_IN_URL = (
    rf"(?s)^{WHITESPACE}*(?:https?://|//)?(?:[^/?#]*@)?(?:www[0-9]*\.)?"
    rf"([^/?#:@{_WS}{_LINE_ENDS}]*?)\.*(?::[0-9]*)?(?:[/?#\\{_WS}{_LINE_ENDS}].*)?$"
)
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ABSOLUTE = rf"^{WHITESPACE}*(?:https?:)?//"
_HTTP = rf"^{WHITESPACE}*https?://"
# "name:" followed by a non-digit is a scheme (mailto:, javascript:); "firm.de:8080" is a port.
_ANY_SCHEME = rf"^{WHITESPACE}*[a-z][a-z0-9+.-]*:(?:[^0-9]|$)"


def has_unsupported_scheme(url: ir.StringValue) -> ir.BooleanValue:
    """True for URLs with a scheme other than http(s): mailto:, javascript:, ftp://, tel:."""
    lowered = _lower_ascii(url)
    return (lowered.re_search(_ANY_SCHEME) & ~lowered.re_search(_HTTP)).fill_null(False)


def url_host(url: ir.StringValue, *, require_scheme: bool = False) -> ir.StringValue:
    """The host of a URL, normalised: lower case, no scheme, user, port, path, trailing dots
    or leading ``www.``/``www2.``; NULL when there is none.

    Seeds are often typed without a scheme (``Firm.de/about``); links in pages are absolute only
    with ``http(s)://`` or ``//`` — with ``require_scheme`` anything else (``/about``,
    ``page.html``) is relative and has no host. Other schemes (mailto:, ftp:) have no host.
    """
    lowered = _lower_ascii(url)
    host = lowered.re_extract(_HOST_IN_URL, 1)
    no_host = has_unsupported_scheme(url)
    if require_scheme:
        no_host = no_host | ~lowered.re_search(_ABSOLUTE).fill_null(False)
    # Each expensive expression appears once: Spark inlines repeated references.
    result = ibis.ifelse(no_host, ibis.null(str), host.nullif(""))
    return cast(ir.StringValue, result)


def _lower_ascii(value: ir.StringValue) -> ir.StringValue:
    """Lower-case A-Z only: ``lower()`` maps "\u0130" (İ) to "i" on DuckDB but to "i\u0307" on
    Spark, so "\u0130firm.de" was the valid host "ifirm.de" on DuckDB only. Non-ASCII letters
    stay as they are (a host with them is not valid on either engine)."""
    return value.translate(_UPPER, _UPPER.lower())


def is_valid_host(host: ir.StringValue) -> ir.BooleanValue:
    return host.re_search(HOST_PATTERN).fill_null(False)


def host_labels(host: ir.StringValue) -> ir.ArrayValue:
    """The dot-separated labels of ``host`` as an array.

    ``re_split`` with an escaped dot, not ``split(".")``: Spark's ``split`` reads its
    separator as a regular expression, so ibis' ``split(".")`` splits at every character there.
    """
    return host.re_split(r"\.")


def last_labels(labels: ir.ArrayValue, k: ir.IntegerValue | int) -> ir.StringValue:
    """The last ``k`` labels of a label array, joined by dots (``k`` at most its length)."""
    return labels[labels.length() - k :].join(".")


def registered_domains(hosts: ir.Table, rules: ir.Table) -> ir.Table:
    """Map each distinct ``host`` to its registered domain under the public suffix list.

    ``rules`` is the ``public_suffixes`` source. The public suffix of a host is its longest
    matching rule (an exact rule, a wildcard ``*.parent``, or the ``parent`` of a wildcard,
    which is public too), an exception rule ``!x`` makes
    ``x`` registrable, and an unlisted top-level label is a suffix (the implicit ``*`` rule).
    The registered domain is the suffix plus one label; NULL when the host is a suffix itself.

    Each distinct host is split into labels once; its candidate suffixes (the last 1..N
    labels) become rows only to be joined with the (small) rule table. Array slicing, not one
    regular expression per depth: on Spark that was 3.8 times slower (docs/benchmarks.md).
    """
    distinct = hosts.select("host").distinct()
    split = distinct.mutate(labels=host_labels(distinct.host))
    depths = split.mutate(k=ibis.range(1, MAX_RULE_LABELS + 1)).unnest("k")
    depths = depths.filter(depths.k <= depths.labels.length())
    long = depths.mutate(
        cand=last_labels(depths.labels, depths.k),
        parent=ibis.ifelse(depths.k == 1, "", last_labels(depths.labels, depths.k - 1)),
    )
    own = rules.select(
        c_suffix=rules.suffix,
        c_exact=rules.exact,
        c_wildcard=rules.wildcard,
        c_exception=rules.exception,
    )
    wild = rules.filter(rules.wildcard).select(p_suffix=rules.suffix)
    matched = long.left_join(own, long.cand == own.c_suffix).left_join(
        wild, long.parent == wild.p_suffix
    )
    exception = matched.c_exception.fill_null(False)
    # The parent of a wildcard rule is a suffix too (``*.kawasaki.jp`` makes ``kawasaki.jp``
    # public although it is not listed): the PSL linter requires it, browsers and the
    # publicsuffixlist package implement it (publicsuffix/list#1989). Without this,
    # ``kawasaki.jp`` or ``0e.vc`` were taken for registered domains.
    own_rule = matched.c_exact.fill_null(False) | matched.c_wildcard.fill_null(False)
    rule = (own_rule | matched.p_suffix.notnull()) & ~exception
    per_host = matched.group_by("host").aggregate(
        rule_len=ibis.ifelse(rule, matched.k, 0).max(),
        exception_len=ibis.ifelse(exception, matched.k - 1, 0).max(),
    )
    domain_len = (
        ibis.ifelse(
            per_host.exception_len > 0,
            per_host.exception_len,
            ibis.greatest(per_host.rule_len, 1),
        )
        + 1
    )
    labels = host_labels(per_host.host)
    domain = ibis.ifelse(domain_len <= labels.length(), last_labels(labels, domain_len), None)
    return per_host.select("host", domain=domain.cast("string"))
