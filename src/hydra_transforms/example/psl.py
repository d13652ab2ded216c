"""The public suffix list as a table the engines join against (from the publicsuffixlist package)."""

from __future__ import annotations

from functools import cache
from importlib import resources

import pyarrow as pa

__all__ = ["MAX_RULE_LABELS", "public_suffix_rules"]

# The deepest rule in the list has this many labels (wildcards counted); candidates of a host
# are its last 1..MAX_RULE_LABELS labels. A test checks this against the packaged list.
MAX_RULE_LABELS = 7


@cache
def public_suffix_rules() -> pa.Table:
    """One row per suffix: whether it is a plain rule, the parent of a wildcard, an exception.

    ``suffix`` is lower-case; for ``*.kawasaki.jp`` it is ``kawasaki.jp`` with ``wildcard``
    set; for ``!city.kawasaki.jp`` it is ``city.kawasaki.jp`` with ``exception`` set.
    """
    text = resources.files("publicsuffixlist").joinpath("public_suffix_list.dat").read_text("utf-8")
    rules: dict[str, dict[str, bool]] = {}
    private = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("// ===BEGIN PRIVATE DOMAINS==="):
            private = True
        if not line or line.startswith("//"):
            continue
        rule = line.split()[0].lower()
        kind = "exact"
        if rule.startswith("!"):
            rule, kind = rule[1:], "exception"
        elif rule.startswith("*."):
            rule, kind = rule[2:], "wildcard"
        # Hosts in URLs are ASCII (punycode): list IDN rules in that form too, as the
        # publicsuffixlist package does. Without it, "shop.xn--55qx5d.cn" (shop.公司.cn) got the
        # registered domain "xn--55qx5d.cn", a public suffix.
        for name in dict.fromkeys([rule, rule.encode("idna").decode("ascii")]):
            entry = rules.setdefault(
                name, {"exact": False, "wildcard": False, "exception": False, "private": private}
            )
            entry[kind] = True
    names = sorted(rules)
    return pa.table(
        {
            "suffix": pa.array(names, pa.string()),
            **{
                flag: pa.array([rules[n][flag] for n in names], pa.bool_())
                for flag in ("exact", "wildcard", "exception", "private")
            },
        }
    )
