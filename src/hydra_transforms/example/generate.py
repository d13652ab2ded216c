"""Deterministic generators of the example's raw data: seed_nodes.csv and crawl_records Parquet."""

from __future__ import annotations

import argparse
import csv
import itertools
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from publicsuffixlist import PublicSuffixList

__all__ = [
    "CRAWL_RECORD_SCHEMA",
    "SAMPLE_CRAWL_IDS",
    "SEED_NODE_COLUMNS",
    "GeneratedData",
    "generate_crawl_records",
    "main",
    "parquet_writer",
    "write_sample",
]

SAMPLE_CRAWL_IDS = ("CC-MAIN-2024-10", "CC-MAIN-2024-33")
SEED_NODE_COLUMNS = ("company_id", "company_name", "website", "country")
# One file of crawl_records; crawl_id is the hive partition directory, not a column.
CRAWL_RECORD_SCHEMA = pa.schema(
    [
        pa.field("page_url", pa.string(), nullable=False),
        pa.field("fetch_time", pa.timestamp("us"), nullable=False),
        pa.field("language", pa.string()),
        pa.field("link_url", pa.string()),
        pa.field("anchor_text", pa.string()),
        pa.field("html_path", pa.string()),
    ]
)

_SAMPLE_COMPANIES = 300
_SAMPLE_LINKS = {"CC-MAIN-2024-10": 30_000, "CC-MAIN-2024-33": 26_000}
_BATCH_ROWS = 1 << 18  # links built per vectorised step: bounds memory, not the output layout
_MEAN_LINKS = 35.0  # outgoing links per page (negative binomial: many short pages, a few long)
_LINKS_SHAPE = 1.2
_CRAWL_ID = re.compile(r"^CC-MAIN-(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class GeneratedData:
    """Where a generated data set was written, and how much of it there is."""

    seed_nodes: Path
    crawl_records: Path
    n_companies: int
    n_seed_rows: int
    links_per_crawl: dict[str, int]
    n_files: int

    @property
    def n_links(self) -> int:
        return sum(self.links_per_crawl.values())


# --- firms: names, hosts and websites as people type them -----------------------------------


@dataclass(frozen=True)
class _Profile:
    """How firms of one country are named and where they host their websites."""

    weight: float
    language: str
    stems: tuple[tuple[str, str], ...]  # (display, ASCII slug)
    trades: tuple[tuple[str, str], ...]
    legal: tuple[str, ...]
    tlds: tuple[str, ...]
    joiner: str = " "


_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e", "à": "a"})


def _latin(*words: str) -> tuple[tuple[str, str], ...]:
    return tuple((w, w.lower().translate(_FOLD).replace(" ", "-")) for w in words)


_DE_STEMS = _latin(
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz",
    "Zimmermann", "Braun", "Krüger", "Hartmann", "Lange", "Werner", "Köhler", "Maier", "Huber",
    "Nordmetall", "Alpen", "Rhein", "Spree", "Elbtal", "Süd",
)  # fmt: skip
_DE_TRADES = _latin(
    "Stahlbau", "Maschinenbau", "Elektrotechnik", "Kunststofftechnik", "Logistik",
    "Metallbearbeitung", "Präzisionsteile", "Antriebstechnik", "Verpackung", "Holzbau",
    "Lackiertechnik", "Automation", "Feinmechanik", "Druckguss", "Systemtechnik",
    "Lüftungstechnik", "Werkzeugbau", "Gießerei", "Umformtechnik", "Hydraulik",
)  # fmt: skip
_EN_STEMS = _latin(
    "Smith", "Johnson", "Acme", "Northern", "Pacific", "Atlas", "Summit", "Pioneer", "Crown",
    "Apex", "Sterling", "Harbor", "Redwood", "Granite", "Beacon", "Meridian", "Falcon",
    "Oakridge", "Liberty", "Keystone",
)  # fmt: skip
_EN_TRADES = _latin(
    "Engineering", "Components", "Logistics", "Plastics", "Metals", "Tooling", "Systems",
    "Packaging", "Electronics", "Fasteners", "Castings", "Hydraulics", "Automation", "Industries",
)  # fmt: skip
_PROFILES: dict[str, _Profile] = {
    "DE": _Profile(
        40, "deu", _DE_STEMS, _DE_TRADES, ("GmbH", "GmbH & Co. KG", "AG", "KG", "e.K."), (".de",)
    ),
    "AT": _Profile(8, "deu", _DE_STEMS, _DE_TRADES, ("GmbH", "AG", "KG", "OG"), (".at", ".co.at")),
    "CH": _Profile(6, "deu", _DE_STEMS, _DE_TRADES, ("AG", "GmbH", "SA"), (".ch",)),
    "GB": _Profile(10, "eng", _EN_STEMS, _EN_TRADES, ("Ltd", "Limited", "PLC"), (".co.uk", ".uk")),
    "US": _Profile(
        14, "eng", _EN_STEMS, _EN_TRADES, ("Inc.", "LLC", "Corp."), (".com", ".us", ".net")
    ),
    "AU": _Profile(3, "eng", _EN_STEMS, _EN_TRADES, ("Pty Ltd",), (".com.au",)),
    "FR": _Profile(
        5,
        "fra",
        _latin("Dupont", "Martin", "Bernard", "Moreau", "Laurent", "Lefèvre", "Garnier"),
        _latin("Mécanique", "Plastiques", "Logistique", "Industrie", "Emballages", "Métallerie"),
        ("SARL", "SA", "SAS"),
        (".fr",),
    ),
    "NL": _Profile(
        4,
        "nld",
        _latin("Jansen", "De Vries", "Bakker", "Visser", "Smit", "Mulder"),
        _latin("Techniek", "Machinebouw", "Logistiek", "Kunststoffen", "Metaal"),
        ("B.V.", "N.V."),
        (".nl",),
    ),
    "IT": _Profile(
        3,
        "ita",
        _latin("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano"),
        _latin("Meccanica", "Plastica", "Logistica", "Utensili", "Fonderia"),
        ("S.r.l.", "S.p.A."),
        (".it",),
    ),
    "JP": _Profile(
        3,
        "jpn",
        (
            ("山田", "yamada"),
            ("鈴木", "suzuki"),
            ("田中", "tanaka"),
            ("佐藤", "sato"),
            ("高橋", "takahashi"),
        ),
        (
            ("精機", "seiki"),
            ("工業", "kogyo"),
            ("電機", "denki"),
            ("化学", "kagaku"),
            ("製作所", "seisakusho"),
        ),
        ("株式会社",),
        (".co.jp", ".jp"),
        joiner="",
    ),
    "CN": _Profile(
        2,
        "zho",
        (("华东", "huadong"), ("宏达", "hongda"), ("永盛", "yongsheng"), ("金泰", "jintai")),
        (("机械", "jixie"), ("电子", "dianzi"), ("化工", "huagong"), ("五金", "wujin")),
        ("有限公司",),
        (".com.cn", ".cn"),
        joiner="",
    ),
}
_COUNTRIES = tuple(_PROFILES)
_COUNTRY_WEIGHTS = tuple(p.weight for p in _PROFILES.values())
_CITIES = ("berlin", "hamburg", "muenchen", "koeln", "stuttgart", "dresden", "bremen", "wien")

# (weight in per mille, template): {h} the host, {H} the host in mixed case.
_WEBSITE_FORMS = (
    (300, "www.{h}"), (200, "https://www.{h}"), (120, "http://www.{h}/"), (110, "{h}"),
    (80, "https://{h}/"), (45, "http://{h}"), (50, ""), (10, "   "), (25, "WWW.{H}"),
    (10, "Https://Www.{H}/"), (40, "https://www.{h}/de/home.html"), (5, "http://www.{h}:8080/"),
    (5, "https://www.{h}/?lang=de"), (5, "https://www.{h}/#start"), (5, "{h}."),
    (3, "http://user@{h}/"), (5, "info@{h}"), (5, "www2.{h}"), (5, " www.{h} "),
    (4, "http//{h}"), (3, "www..{h}"), (2, "https://"), (2, "n/a"), (2, "ftp://files.{h}"), (2, "-"),
)  # fmt: skip
_SOCIAL_WEBSITES = (
    "facebook.com/{s}",
    "https://www.facebook.com/{s}/",
    "https://www.linkedin.com/company/{s}",
    "https://www.xing.com/pages/{s}",
    "instagram.com/{s}",
)
# Firms every sample has, one per kind of dirt that tests and docs refer to by name:
# (name, country, host of its own website or None, websites as listed: one seed row each).
_CURATED_FIRMS: tuple[tuple[str, str, str | None, tuple[str, ...]], ...] = (
    ("Firm Name GmbH", "DE", "firm-name.de", ("HTTPS://WWW.Firm-Name.DE/",)),
    ("Firm GmbH", "DE", "firm.de", ("firm.de.",)),
    ("Firm Files GmbH", "DE", None, ("ftp://files.firm.de",)),
    ("Brokenlink AG", "DE", "brokenlink.de", ("http//broken",)),
    ("Kein Link KG", "DE", "kein-link.de", ("not a url",)),
    ("Double Dot Inc.", "US", "double.com", ("www..double.com",)),
    ("Scheme Only Ltd", "GB", "scheme-only.co.uk", ("https://",)),
    ("Example Shop Ltd", "GB", "shop.example.co.uk", ("shop.example.co.uk",)),
    ("Firm Pty Ltd", "AU", "firm.com.au", ("firm.com.au",)),
    ("Port Technik GmbH", "DE", "port-technik.de", ("http://www.port-technik.de:8080/",)),
    ("Zweite Firma GmbH", "DE", "zweite-firma.de", ("www2.zweite-firma.de",)),
    ("Query Widgets LLC", "US", "query-widgets.com", ("https://www.query-widgets.com/index.php?lang=en#home",)),
    ("Userinfo Systems GmbH", "DE", "userinfo-systems.de", ("http://user@userinfo-systems.de/",)),
    ("Mailbox Metall GmbH", "DE", "mailbox-metall.de", ("info@mailbox-metall.de",)),
    ("Social Only GmbH", "DE", None, ("facebook.com/socialonlygmbh",)),
    ("LinkedIn Only Ltd", "GB", None, ("https://www.linkedin.com/company/linkedin-only-ltd",)),
    ("Müller Bäckerei GmbH", "DE", "müller-bäckerei.de", ("www.müller-bäckerei.de",)),
    ("Bücher Österreich GmbH", "AT", "bücher-österreich.at", ("https://bücher-österreich.at",)),
    ("株式会社例示精機", "JP", "例示精機.jp", ("http://例示精機.jp/",)),
    ("Gemeinsam Holding AG", "DE", "gemeinsam-gruppe.de", ("www.gemeinsam-gruppe.de",)),
    ("Gemeinsam Produktion GmbH", "DE", None, ("https://gemeinsam-gruppe.de/produktion",)),
    ("Zwei Seiten GmbH", "DE", "zwei-seiten.de", ("zwei-seiten.de", "https://www.zweiseiten.com")),
    ("Leer GmbH", "DE", "leer-gmbh.de", ("",)),
    ("Space Logistik GmbH", "DE", "space-logistik.de", ("   ",)),
    ("Doppelt GmbH", "DE", "doppelt.de", ("www.doppelt.de", "www.doppelt.de")),
    ("Pfad Maschinenbau GmbH", "DE", "pfad-maschinenbau.de", ("https://www.pfad-maschinenbau.de/de/startseite.html",)),
    ("", "", "namenlos.de", ("namenlos.de",)),
    ("Punkt Ende AG", "CH", "punkt-ende.ch", ("https://www.punkt-ende.ch./",)),
)  # fmt: skip
_RESERVED_HOSTS = ("zweiseiten.com", "example.co.uk", "facebook.com", "linkedin.com")


@dataclass(frozen=True)
class _Firm:
    name: str
    country: str
    host: str | None  # unicode host of the firm's own website; None: nothing of it is crawled
    websites: tuple[str, ...]
    language: str  # of its website's pages


def _new_host(rnd: random.Random, profile: _Profile, taken: set[str]) -> tuple[str, str]:
    """A fresh (display name, host) pair; hosts are unique, names need not be."""
    (stem, stem_slug), (trade, trade_slug) = rnd.choice(profile.stems), rnd.choice(profile.trades)
    legal = rnd.choice(profile.legal)
    parts = (legal, stem, trade) if legal == "株式会社" else (stem, trade, legal)
    name = profile.joiner.join(parts)
    label = f"{stem_slug}-{trade_slug}"
    # Some firms register the umlaut spelling (an IDN); ß maps differently in IDNA 2003 and 2008.
    unicode_label = f"{stem}-{trade}".lower().replace(" ", "-")
    if unicode_label != label and "ß" not in unicode_label and rnd.random() < 0.15:
        label = unicode_label
    tld = rnd.choice(profile.tlds)
    # Taken names get what firms really do: the legal form or a city added, then a number.
    legal_slug = re.sub(r"[^a-z0-9]+", "-", legal.lower()).strip("-")
    variants = [label, f"{label}-{legal_slug}", *(f"{label}-{c}" for c in rnd.sample(_CITIES, 2))]
    host = next((f"{v}{tld}" for v in variants if f"{v}{tld}" not in taken), "")
    while not host or host in taken:
        host = f"{label}{rnd.randint(2, 9999)}{tld}"
    taken.add(host)
    return name, host


def _typed_website(rnd: random.Random, host: str) -> str:
    if host != _ascii_host(host) and rnd.random() < 0.3:
        host = _ascii_host(host)  # some lists hold the punycode form
    labels = host.split(".")
    mixed = ".".join([label.title() for label in labels[:-1]] + [labels[-1].upper()])
    form = rnd.choices([f for _, f in _WEBSITE_FORMS], weights=[w for w, _ in _WEBSITE_FORMS])[0]
    return form.format(h=host, H=mixed)


def _random_firm(rnd: random.Random, taken: set[str], earlier: Sequence[_Firm]) -> _Firm:
    country = rnd.choices(_COUNTRIES, weights=_COUNTRY_WEIGHTS)[0]
    name, host = _new_host(rnd, _PROFILES[country], taken)
    websites: tuple[str, ...] = (_typed_website(rnd, host),)
    own_host: str | None = host
    roll = rnd.random()
    if roll < 0.02:  # a social-media profile instead of a website
        slug = _slug(host)
        websites, own_host = (rnd.choice(_SOCIAL_WEBSITES).format(s=slug),), None
    elif roll < 0.03 and earlier:  # a subsidiary listed with its group's website
        group = rnd.choice([f for f in earlier if f.host is not None])
        websites, own_host = (_typed_website(rnd, group.host or ""),), None
    elif roll < 0.05:  # the same row exported twice
        websites = websites * 2
    elif roll < 0.065:  # a second website: an old domain or another country's
        alias = host.split(".")[0] + rnd.choice((".com", ".eu", ".net"))
        websites = (*websites, _typed_website(rnd, alias))
    if rnd.random() < 0.01:
        name = ""
    shown_country = "" if rnd.random() < 0.03 else country
    return _Firm(name, shown_country, own_host, websites, _PROFILES[country].language)


def _ascii_host(host: str) -> str:
    return host.encode("idna").decode("ascii")


def _slug(host: str) -> str:
    """The name a firm uses on social media: its first host label, ASCII letters and digits."""
    label = host.split(".")[0].lower().translate(_FOLD)
    return re.sub(r"[^a-z0-9]", "", label) or re.sub(r"[^a-z0-9]", "", _ascii_host(host))[2:]


# --- links: what a page links to, as (prefix, registered domain, suffix) pieces --------------


@dataclass(frozen=True)
class _LinkKind:
    """One kind of outgoing link: its share of all links and how its href and text are made.

    An href is prefix + domain + suffix; the domain is the page's own (``own``, or its social
    media name ``own_slug``), a partner firm's (``partner``), another site's (``other``) or none.
    The anchor text is the n-th of ``anchors`` for the n-th prefix (an icon, without text, in a
    quarter of the links), internal text in the page's language, or the target's name.
    """

    share: float
    html_path: str
    target: Literal["none", "own", "own_slug", "partner", "other"]
    prefixes: tuple[str | None, ...]
    suffixes: tuple[str, ...] = ("",)
    anchors: tuple[str | None, ...] | Literal["language", "target_name"] | None = None


_RELATIVE_HREFS = (
    "/", "/kontakt", "/impressum", "/datenschutz", "/ueber-uns/", "/produkte/", "/leistungen",
    "/karriere/", "/news/", "/en/", "/de/", "kontakt.html", "../index.html", "./referenzen/", "#",
    "#top", "#content", "?lang=en", "index.php?id=42", "/shop/warenkorb", "/agb", "/faq",
    "/wp-content/uploads/2024/02/Katalog-2024.pdf", "/sitemap.xml", "/Service/Downloads",
)  # fmt: skip
_EXTERNAL_LINKS = (  # (href, anchor text)
    ("https://www.google.com/maps/place/Berlin", "Google Maps"),
    ("https://maps.google.de/?q=Hamburg", "Anfahrt"),
    ("https://de.wikipedia.org/wiki/Maschinenbau", "Wikipedia"),
    ("https://apps.apple.com/de/app/id123456789", "App Store"),
    ("https://play.google.com/store/apps/details?id=com.example.app", "Google Play"),
    ("https://wa.me/4930123456", "WhatsApp"),
    ("https://www.ihk.de/", "IHK"),
    ("https://www.trustedshops.de/bewertung/info_X1234.html", "Trusted Shops Bewertungen"),
    ("https://www.kununu.com/de/", "Arbeitgeber-Bewertungen auf kununu"),
    ("https://ec.europa.eu/consumers/odr/", "Online-Streitbeilegung"),
    ("https://wordpress.org/", "Stolz präsentiert von WordPress"),
    ("http://www.adobe.com/go/getreader", "Adobe Reader"),
    ("https://www.dhl.de/de/privatkunden.html", "Sendungsverfolgung"),
    ("https://policies.google.com/privacy", "Datenschutzerklärung von Google"),
    ("https://www.w3.org/", "W3C"),
    ("https://www.jimdo.com/", "Jimdo"),
)
_LANGUAGES = ("deu", "eng", "fra", "nld", "ita", "jpn", "zho")
# Internal anchor texts by page language; every list has the same length (checked below).
_INTERNAL_ANCHORS = {
    "deu": ("Startseite", "Über uns", "Kontakt", "Impressum", "Datenschutzerklärung", "Produkte", "Leistungen", "Karriere", "Aktuelles", "Mehr erfahren »", "Weiterlesen", "Öffnungszeiten", "Größentabelle", "Zurück nach oben", None, ""),
    "eng": ("Home", "About us", "Contact", "Privacy Policy", "Products", "Services", "Careers", "News", "Read more", "Learn more »", "Terms & Conditions", "Our team", "Back to top", "Sitemap", None, ""),
    "fra": ("Accueil", "À propos", "Contact", "Mentions légales", "Produits", "Actualités", "Politique de confidentialité", "Lire la suite", "Société", "Références", "Carrières", "Plan du site", "Français", "English", None, ""),
    "nld": ("Home", "Over ons", "Contact", "Producten", "Nieuws", "Vacatures", "Lees meer", "Privacyverklaring", "Algemene voorwaarden", "Diensten", "Werken bij", "Nederlands", "English", "Klantenservice", None, ""),
    "ita": ("Home", "Chi siamo", "Contatti", "Prodotti", "Servizi", "Notizie", "Lavora con noi", "Leggi di più", "Privacy", "Note legali", "Qualità", "Certificazioni", "Italiano", "English", None, ""),
    "jpn": ("ホーム", "会社概要", "お問い合わせ", "製品情報", "採用情報", "ニュース", "プライバシーポリシー", "サイトマップ", "アクセス", "事業内容", "詳しくはこちら", "English", "技術情報", "品質方針", None, ""),
    "zho": ("首页", "关于我们", "联系我们", "产品中心", "新闻动态", "人才招聘", "隐私政策", "网站地图", "解决方案", "了解更多", "公司简介", "English", "技术支持", "质量认证", None, ""),
}  # fmt: skip
_LINK_KINDS = (
    _LinkKind(38.0, "A@/href", "none", _RELATIVE_HREFS, anchors="language"),
    _LinkKind(
        15.0, "A@/href", "own", ("https://www.", "https://", "http://www.", "http://"),
        ("/", "", "/kontakt", "/impressum", "/produkte/", "/en/", "/news/2024/", "/?page_id=12", "/#top"),
        "language",
    ),
    _LinkKind(
        4.0, "A@/href", "own", ("https://blog.", "https://shop.", "https://karriere.", "http://www2."),
        ("/", ""), ("Blog", "Online-Shop", "Karriere", "Kundenportal"),
    ),
    _LinkKind(7.0, "IMG@/src", "none", (
        "/wp-content/uploads/2023/11/logo.png", "/images/header.jpg", "img/team.jpg",
        "https://cdn.shopify.com/s/files/1/0123/4567/files/logo.png",
        "https://images.squarespace-cdn.com/content/v1/5f/banner.jpg",
        "//cdn.jsdelivr.net/gh/user/repo/img.png", "data:image/gif;base64,R0lGODlhAQABAAAAACw=",
    )),
    _LinkKind(4.0, "LINK@/href", "none", (
        "/favicon.ico", "/css/style.css", "https://fonts.googleapis.com/css?family=Roboto:400,700",
        "https://cdn.jsdelivr.net/npm/bootstrap@5.3.0/dist/css/bootstrap.min.css",
        "//fonts.googleapis.com/css?family=Open+Sans", "/feed/",
    )),
    _LinkKind(0.7, "FORM@/action", "none", (
        "/suche", "", "search.php", "/kontakt#wpcf7-f12-o1", "https://www.paypal.com/cgi-bin/webscr",
    )),
    _LinkKind(
        7.0, "A@/href", "own_slug", (
            "https://www.facebook.com/", "https://www.linkedin.com/company/", "https://twitter.com/",
            "https://www.instagram.com/", "https://www.xing.com/pages/", "https://www.youtube.com/@",
            "HTTP://WWW.Facebook.com/",
        ),
        ("", "/"),
        ("Facebook", "LinkedIn", "Folgen Sie uns auf Twitter", "Instagram", "XING", "YouTube", "Facebook"),
    ),
    _LinkKind(
        7.0, "A@/href", "none", tuple(h for h, _ in _EXTERNAL_LINKS), anchors=tuple(a for _, a in _EXTERNAL_LINKS)
    ),
    _LinkKind(
        3.0, "A@/href", "other", ("https://www.", "http://www.", "https://"),
        ("/", "", "/produkte/", "/?ref=partner"), "target_name",
    ),
    _LinkKind(
        3.0, "A@/href", "partner",
        ("https://www.", "http://www.", "https://", "http://", "HTTPS://WWW.", "//www."),
        ("/", "", "/en/", "/produkte/", "/?utm_source=partner&utm_medium=referral", "/#kontakt", ":443/", "/index.html"),
        "target_name",
    ),
    _LinkKind(
        2.0, "A@/href", "own", ("mailto:info@", "mailto:vertrieb@", "MAILTO:Info@", "mailto:kontakt@"),
        ("", "?subject=Anfrage%20Website"), ("E-Mail", "Vertrieb", "E-Mail schreiben", "Kontakt"),
    ),
    _LinkKind(
        1.0, "A@/href", "none",
        ("tel:+4930123456", "tel:+49 (0) 89 1234-0", "tel:004940123456", "tel:+1-555-0100", "tel:+81-3-1234-5678"),
        anchors=("+49 30 123456", "089 1234-0", "040 123456", "+1 555-0100", "03-1234-5678"),
    ),
    _LinkKind(
        1.5, "A@/href", "none",
        ("javascript:void(0)", "javascript:void(0);", "javascript:history.back()", "javascript:window.print()", "JavaScript:;"),
        anchors=("Menü", "Suche", "zurück", "Seite drucken", "Schließen"),
    ),
    _LinkKind(1.0, "A@/href", "none", ("", "", " ", None), anchors=("Mehr", "", "Weiter", None)),
    _LinkKind(
        0.3, "A@/href", "none",
        ("http://192.168.178.1/", "http://85.214.132.117/shop/", "https://203.0.113.7:8443/login", "http://[2001:db8::1]/", "http://10.0.0.12/intranet/"),
        anchors=("Router", "Webshop", "Kunden-Login", "IPv6", "Intranet"),
    ),
    _LinkKind(
        1.0, "A@/href", "none",
        ("//www.youtube.com/watch?v=dQw4w9WgXcQ", "//maps.google.com/?q=Berlin", "//www.facebook.com/sharer.php?u=", "//de.wikipedia.org/wiki/Maschinenbau"),
        anchors=("Video ansehen", "Anfahrt", "Teilen", "Wikipedia"),
    ),
)  # fmt: skip
_PARTNER = next(i for i, k in enumerate(_LINK_KINDS) if k.target == "partner")
_EXTERNAL = next(i for i, k in enumerate(_LINK_KINDS) if k.prefixes[0] == _EXTERNAL_LINKS[0][0])
_KIND_SHARES = np.array([k.share for k in _LINK_KINDS]) / sum(k.share for k in _LINK_KINDS)
# Domain spellings in links: (ASCII, as the page wrote an IDN, mixed case) for own and for
# foreign targets; the first has most of the weight.
_OWN_FORMS = np.array([0.96, 0.03, 0.01])
_FOREIGN_FORMS = np.array([0.85, 0.08, 0.07])


def _offsets(groups: Sequence[Sequence[object]]) -> np.ndarray:
    return np.cumsum([0, *map(len, groups)])[:-1]


_PREFIXES = pa.array([p for k in _LINK_KINDS for p in k.prefixes], pa.string())
_PREFIX_OFF = _offsets([k.prefixes for k in _LINK_KINDS])
_SUFFIXES = pa.array([s for k in _LINK_KINDS for s in k.suffixes], pa.string())
_SUFFIX_OFF = _offsets([k.suffixes for k in _LINK_KINDS])
_HTML_PATHS = pa.array([k.html_path for k in _LINK_KINDS], pa.string())
_ANCHOR_LEN = len(_INTERNAL_ANCHORS["deu"])
assert all(len(a) == _ANCHOR_LEN for a in _INTERNAL_ANCHORS.values())
_PAIRED = [k.anchors if isinstance(k.anchors, tuple) else () for k in _LINK_KINDS]
assert all(not a or len(a) == len(k.prefixes) for a, k in zip(_PAIRED, _LINK_KINDS, strict=True))
_GENERIC_PARTNER_ANCHORS = ("Partner", "Unser Partner", "Lieferant", "Website", "hier", "mehr")
# The anchor pool: no text, generic partner texts, each kind's texts, internal texts by
# language; a universe appends its site names.
_PAIRED_OFF = 1 + len(_GENERIC_PARTNER_ANCHORS) + _offsets(_PAIRED)
_LANGUAGE_ANCHOR_OFF = 1 + len(_GENERIC_PARTNER_ANCHORS) + sum(map(len, _PAIRED))
_NAME_OFF = _LANGUAGE_ANCHOR_OFF + _ANCHOR_LEN * len(_LANGUAGES)
_GLOBAL_ANCHORS = [
    None,
    *_GENERIC_PARTNER_ANCHORS,
    *(a for anchors in _PAIRED for a in anchors),
    *(a for lang in _LANGUAGES for a in _INTERNAL_ANCHORS[lang]),
]
# Page languages as Common Crawl reports them: the site's, with English, or undetected (NULL).
_PAGE_LANGUAGES = pa.array(
    [*_LANGUAGES, *(f"{c},eng" if c != "eng" else "eng,deu" for c in _LANGUAGES), None], pa.string()
)

# --- pages: which URLs of a site are crawled -------------------------------------------------

_PAGE_PREFIXES = pa.array([
    "https://www.", "https://", "http://www.", "http://", "https://blog.", "https://shop.",
    "https://karriere.",
])  # fmt: skip
_SUBDOMAIN_PREFIX = 4  # the last three page prefixes put a page on a subdomain of the site
_COMMON_PATHS = pa.array([
    "/", "/kontakt", "/impressum", "/ueber-uns/", "/produkte/", "/en/", "/datenschutz",
    "/karriere/", "/news/", "/en/contact",
])  # fmt: skip
_SECTIONS = pa.array([
    "/produkte/", "/news/", "/blog/", "/de/produkte/", "/en/products/", "/referenzen/",
    "/karriere/stellenangebote/", "/service/", "/shop/artikel/", "/aktuelles/",
])  # fmt: skip
_SLUGS = pa.array([
    "hydraulikzylinder-", "edelstahl-rohre-", "messe-2024-", "neue-website-", "ausbildung-",
    "cnc-fraesen-", "qualitaet-", "tag-der-offenen-tuer-", "product-overview-",
    "sustainability-report-", "iso-9001-",
])  # fmt: skip


# --- the universe: seed firms, crawlable sites and who links to whom -------------------------


@dataclass(frozen=True)
class _Universe:
    """Everything that stays fixed across crawls; sites [0, n_firm_sites) are seed firms' own."""

    seed_rows: list[tuple[int, str, str, str]]
    n_companies: int
    n_curated_sites: int  # the first sites; every crawl has them
    n_firm_sites: int
    domains: pa.Array  # ASCII hosts, hosts as written (IDN), mixed case, social names, then ""
    anchors: pa.Array  # _GLOBAL_ANCHORS, then the site names
    page_prefix: np.ndarray  # per site: index into _PAGE_PREFIXES
    is_subdomain: np.ndarray  # per site: its host is below its registered domain (shop.x.co.uk)
    language: np.ndarray  # per site: index into _LANGUAGES
    weight: np.ndarray  # per site: relative number of pages
    partner_offsets: np.ndarray  # CSR: partners of site s are partners[offsets[s]:offsets[s+1]]
    partners: np.ndarray

    @property
    def n_sites(self) -> int:
        return len(self.weight)

    @property
    def no_domain(self) -> int:
        return 4 * self.n_sites


def _firms(rnd: random.Random, n_companies: int) -> list[_Firm]:
    if n_companies < len(_CURATED_FIRMS):
        raise ValueError(f"n_companies must be at least {len(_CURATED_FIRMS)}, got {n_companies}")
    taken = {h for *_, h, _ in _CURATED_FIRMS if h} | set(_RESERVED_HOSTS)
    firms = [
        _Firm(name, country, host, sites, _PROFILES.get(country, _PROFILES["DE"]).language)
        for name, country, host, sites in _CURATED_FIRMS
    ]
    while len(firms) < n_companies:
        firms.append(_random_firm(rnd, taken, firms))
    return firms


def _seed_rows(rnd: random.Random, firms: Sequence[_Firm]) -> list[tuple[int, str, str, str]]:
    # Ids as in a real register: unique, with gaps, unrelated to list position.
    ids = rnd.sample(range(1, max(10 * len(firms), 1_000_000)), len(firms))
    rows = [(i, f.name, w, f.country) for i, f in zip(ids, firms, strict=True) for w in f.websites]
    return sorted(rows)


def _other_sites(rnd: random.Random, n: int, taken: set[str]) -> list[tuple[str, str, str]]:
    """Sites that are not seeds, as (name, host, language): suppliers, customers, directories."""
    sites = []
    for i in range(n):
        if i % 12 == 0:  # business directories: few, large, linking to many firms
            region = rnd.choice(_CITIES)
            host = f"branchenbuch-{region}{i}.de"
            sites.append((f"Branchenbuch {region.title()}", host, "deu"))
            taken.add(host)
            continue
        profile = _PROFILES[rnd.choices(_COUNTRIES, weights=_COUNTRY_WEIGHTS)[0]]
        name, host = _new_host(rnd, profile, taken)
        sites.append((name, host, profile.language))
    return sites


def _build_universe(*, n_companies: int, seed: int) -> _Universe:
    rnd = random.Random(seed)
    firms = _firms(rnd, n_companies)
    seed_rows = _seed_rows(rnd, firms)
    own = [f for f in firms if f.host is not None]
    taken = {f.host for f in own if f.host} | set(_RESERVED_HOSTS)
    others = _other_sites(rnd, max(20, len(own) // 3), taken)
    sites = [(f.name, f.host or "", f.language) for f in own] + others
    n_curated = sum(1 for *_, h, _ in _CURATED_FIRMS if h)
    psl = PublicSuffixList()
    is_subdomain = np.array([psl.privatesuffix(h) != h for _, h, _ in sites])
    page_prefix = [
        1 if sub else rnd.choices(range(4), weights=(55, 25, 15, 5))[0] for sub in is_subdomain
    ]
    rng = np.random.default_rng([seed, 0])
    is_directory = np.array([h.startswith("branchenbuch-") for _, h, _ in sites])
    weight = rng.lognormal(0.0, 1.0, len(sites)) * np.where(is_directory, 5.0, 1.0)
    weight[:n_curated] *= 4.0  # curated firms show their dirt on several pages
    offsets, partners = _partner_network(rng, n_firm_sites=len(own), is_directory=is_directory)
    return _Universe(
        seed_rows=seed_rows,
        n_companies=n_companies,
        n_curated_sites=n_curated,
        n_firm_sites=len(own),
        domains=_domain_pool([h for _, h, _ in sites]),
        anchors=pa.array(_GLOBAL_ANCHORS + [name or None for name, _, _ in sites], pa.string()),
        page_prefix=np.array(page_prefix, np.int64),
        is_subdomain=is_subdomain,
        language=np.array([_LANGUAGES.index(lang) for *_, lang in sites], np.int64),
        weight=weight,
        partner_offsets=offsets,
        partners=partners,
    )


def _domain_pool(hosts: Sequence[str]) -> pa.Array:
    ascii_hosts = [_ascii_host(h) for h in hosts]
    mixed = [
        ".".join([x.title() for x in h.split(".")[:-1]] + [h.split(".")[-1].upper()])
        for h in ascii_hosts
    ]
    return pa.array([*ascii_hosts, *hosts, *mixed, *map(_slug, hosts), ""], pa.string())


def _partner_network(
    rng: np.random.Generator, *, n_firm_sites: int, is_directory: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Which seed firms each site links to: sparse, with a few hubs that many link to."""
    n_sites = len(is_directory)
    popularity = 1.0 / (rng.permutation(n_firm_sites) + 1.0) ** 0.9
    degree = np.where(is_directory, rng.geometric(0.03, n_sites), rng.geometric(0.3, n_sites))
    degree[(rng.random(n_sites) < 0.35) & ~is_directory] = 0
    degree = np.minimum(degree, n_firm_sites - 1)
    targets = rng.choice(n_firm_sites, size=int(degree.sum()), p=popularity / popularity.sum())
    sources = np.repeat(np.arange(n_sites), degree)
    targets = np.where(targets == sources, (targets + 1) % n_firm_sites, targets)
    return np.concatenate([[0], np.cumsum(degree)]), targets


# --- crawls: which pages, how many links, and the link records themselves --------------------


@dataclass(frozen=True)
class _CrawlPlan:
    crawl_id: str
    index: int
    page_site: np.ndarray
    page_no: np.ndarray  # the n-th page of its site: fixes its URL across crawls
    links: np.ndarray  # outgoing links per page
    start_us: int
    window_seconds: int


def _crawl_window(crawl_id: str) -> tuple[int, int]:
    """Start (µs since the epoch, UTC) and length in seconds of a crawl: the two weeks up to
    the Tuesday of its ISO week, as Common Crawl's crawls run (CC-MAIN-2024-10: Feb 20 - Mar 5)."""
    match = _CRAWL_ID.match(crawl_id)
    if match is None:
        raise ValueError(f"crawl id {crawl_id!r} is not like CC-MAIN-2024-10")
    end = date.fromisocalendar(int(match[1]), int(match[2]), 2)
    start = datetime.combine(end - timedelta(days=14), time(), tzinfo=UTC)
    return int(start.timestamp()) * 1_000_000, 14 * 24 * 3600


def _plan_crawl(u: _Universe, *, crawl_id: str, index: int, n_links: int, seed: int) -> _CrawlPlan:
    """Pages of one crawl: curated sites first, the rest in random order, cut at n_links.

    The cut drops the sites at the end of the order, so each crawl misses different firms.
    """
    rng = np.random.default_rng([seed, 1, index])
    order = np.concatenate(
        [
            np.arange(u.n_curated_sites),
            u.n_curated_sites + rng.permutation(u.n_sites - u.n_curated_sites),
        ]
    )
    weight = u.weight[order] * rng.lognormal(0.0, 0.4, order.size)
    scale = 1.3 * n_links / _MEAN_LINKS / weight.sum()
    # Curated firms get enough pages to show their dirt (subdomains), unless the crawl is tiny.
    curated_pages = int(np.clip(0.3 * n_links / _MEAN_LINKS / u.n_curated_sites, 1, 10))
    while True:
        pages = np.maximum(1, np.rint(weight * scale)).astype(np.int64)
        pages[: u.n_curated_sites] = np.maximum(pages[: u.n_curated_sites], curated_pages)
        links = rng.negative_binomial(
            _LINKS_SHAPE, _LINKS_SHAPE / (_LINKS_SHAPE + _MEAN_LINKS), int(pages.sum())
        )
        if links.sum() >= n_links:
            break
        scale *= 2
    cum = np.cumsum(links)
    last = int(np.searchsorted(cum, n_links))
    links = links[: last + 1].copy()
    links[-1] -= cum[last] - n_links
    page_no = np.arange(pages.sum()) - np.repeat(np.cumsum(pages) - pages, pages)
    start_us, window = _crawl_window(crawl_id)
    return _CrawlPlan(
        crawl_id,
        index,
        np.repeat(order, pages)[: last + 1],
        page_no[: last + 1],
        links,
        start_us,
        window,
    )


def _crawl_batches(u: _Universe, plan: _CrawlPlan, *, seed: int) -> Iterator[pa.RecordBatch]:
    cum = np.cumsum(plan.links)
    cuts = np.searchsorted(cum, np.arange(_BATCH_ROWS, cum[-1], _BATCH_ROWS), side="right")
    bounds = np.unique(np.concatenate([[0], cuts, [len(plan.links)]]))
    for batch_no, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        rng = np.random.default_rng([seed, 2, plan.index, batch_no])
        batch = _build_batch(u, plan, slice(int(lo), int(hi)), rng)
        if batch.num_rows:
            yield batch


def _build_batch(
    u: _Universe, plan: _CrawlPlan, pages: slice, rng: np.random.Generator
) -> pa.RecordBatch:
    site, page_no, counts = plan.page_site[pages], plan.page_no[pages], plan.links[pages]
    page_url = _page_urls(u, site, page_no)
    seconds = rng.integers(0, plan.window_seconds, site.size)
    fetch_time = pa.array(plan.start_us + seconds * 1_000_000, pa.timestamp("us"))
    language = _PAGE_LANGUAGES.take(_page_languages(u.language[site], rng))
    row_page = np.repeat(np.arange(site.size), counts)
    link_url, anchor_text, html_path = _links(u, site[row_page], rng)
    columns = [page_url.take(row_page), fetch_time.take(row_page), language.take(row_page)]
    return pa.record_batch([*columns, link_url, anchor_text, html_path], schema=CRAWL_RECORD_SCHEMA)


def _concat(*parts: pa.Array | str) -> pa.Array:
    # pyarrow.compute generates its functions at import, so type checkers see call_function only.
    return pc.call_function("binary_join_element_wise", [*parts, ""])


def _if_else(condition: np.ndarray, then: pa.Array, otherwise: pa.Array) -> pa.Array:
    return pc.call_function("if_else", [pa.array(condition), then, otherwise])


def _page_urls(u: _Universe, site: np.ndarray, page_no: np.ndarray) -> pa.Array:
    """The URL of the n-th page of a site: the same in every crawl that has it."""
    n_common = len(_COMMON_PATHS)
    number = pc.cast(pa.array(page_no), pa.string())
    deep = _concat(
        _SECTIONS.take(page_no % len(_SECTIONS)),
        _SLUGS.take((page_no // len(_SECTIONS)) % len(_SLUGS)),
        number,
    )
    query = _concat("/index.php?id=", number)
    deep = _if_else(page_no % 9 == 4, query, deep)
    path = _if_else(page_no < n_common, _COMMON_PATHS.take(np.minimum(page_no, n_common - 1)), deep)
    # A fixed fifth of the pages live on blog., shop. or karriere. subdomains of the site.
    on_subdomain = (page_no % 5 == 3) & ~u.is_subdomain[site]
    prefix = np.where(on_subdomain, _SUBDOMAIN_PREFIX + (page_no // 5) % 3, u.page_prefix[site])
    return _concat(_PAGE_PREFIXES.take(prefix), u.domains.take(site), path)


def _page_languages(site_language: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    roll = rng.random(site_language.size)
    n = len(_LANGUAGES)
    index = np.where(roll < 0.10, n + site_language, site_language)  # mixed, e.g. "deu,eng"
    index = np.where((roll >= 0.10) & (roll < 0.13), _LANGUAGES.index("eng"), index)
    return np.where(roll >= 0.95, 2 * n, index)  # no language identified


def _links(
    u: _Universe, row_site: np.ndarray, rng: np.random.Generator
) -> tuple[pa.Array, pa.Array, pa.Array]:
    """link_url, anchor_text and html_path of links on pages of ``row_site`` (one per row)."""
    kind = rng.choice(len(_LINK_KINDS), size=row_site.size, p=_KIND_SHARES)
    has_partners = np.diff(u.partner_offsets)[row_site] > 0
    kind[(kind == _PARTNER) & ~has_partners] = _EXTERNAL
    prefix = np.empty(row_site.size, np.int64)
    suffix = np.empty(row_site.size, np.int64)
    anchor = np.empty(row_site.size, np.int64)
    domain = np.full(row_site.size, u.no_domain, np.int64)
    for k, spec in enumerate(_LINK_KINDS):
        rows = np.flatnonzero(kind == k)
        sites = row_site[rows]
        choice = rng.integers(0, len(spec.prefixes), rows.size)
        prefix[rows] = _PREFIX_OFF[k] + choice
        suffix[rows] = _SUFFIX_OFF[k] + rng.integers(0, len(spec.suffixes), rows.size)
        target = _targets(u, spec, sites, rng)
        if target is not None:
            domain[rows] = _domain_index(u, spec, target, rng)
        anchor[rows] = _anchor_index(u, spec, k, sites=sites, target=target, choice=choice, rng=rng)
    link_url = _concat(_PREFIXES.take(prefix), u.domains.take(domain), _SUFFIXES.take(suffix))
    return link_url, u.anchors.take(anchor), _HTML_PATHS.take(kind)


def _targets(
    u: _Universe, spec: _LinkKind, sites: np.ndarray, rng: np.random.Generator
) -> np.ndarray | None:
    if spec.target == "none":
        return None
    if spec.target == "partner":
        offsets = u.partner_offsets
        pick = offsets[sites] + (
            rng.random(sites.size) * (offsets[sites + 1] - offsets[sites])
        ).astype(np.int64)
        return u.partners[pick]
    if spec.target == "other":
        return u.n_firm_sites + rng.integers(0, u.n_sites - u.n_firm_sites, sites.size)
    return sites


def _domain_index(
    u: _Universe, spec: _LinkKind, target: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    if spec.target == "own_slug":
        return 3 * u.n_sites + target
    forms = _OWN_FORMS if spec.target == "own" else _FOREIGN_FORMS
    return rng.choice(len(forms), size=target.size, p=forms) * u.n_sites + target


def _anchor_index(
    u: _Universe,
    spec: _LinkKind,
    k: int,
    *,
    sites: np.ndarray,
    target: np.ndarray | None,
    choice: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Indices into u.anchors; 0 is no text (an icon or image inside the link)."""
    roll = rng.random(sites.size)
    if spec.anchors == "language":
        internal = rng.integers(0, _ANCHOR_LEN, sites.size)
        return _LANGUAGE_ANCHOR_OFF + u.language[sites] * _ANCHOR_LEN + internal
    if spec.anchors == "target_name" and target is not None:
        generic = 1 + rng.integers(0, len(_GENERIC_PARTNER_ANCHORS), sites.size)
        return np.where(roll < 0.6, _NAME_OFF + target, np.where(roll < 0.85, generic, 0))
    if isinstance(spec.anchors, tuple):
        return np.where(roll < 0.25, 0, _PAIRED_OFF[k] + choice)
    return np.zeros(sites.size, np.int64)


# --- writing ---------------------------------------------------------------------------------


def _write_seed_nodes(rows: Sequence[tuple[int, str, str, str]], path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Minimal quoting, as spreadsheets export: blank fields read back as NULL in DuckDB and Spark.
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(SEED_NODE_COLUMNS)
        writer.writerows(rows)
    return len(rows)


def _write_partition(
    batches: Iterator[pa.RecordBatch], part_dir: Path, *, rows_per_file: int
) -> tuple[int, int]:
    """Write batches as part-0.parquet, part-1.parquet, ... of at most rows_per_file rows each.

    Returns (rows, files). Earlier part files in the directory are removed first.
    """
    part_dir.mkdir(parents=True, exist_ok=True)
    for old in part_dir.glob("part-*.parquet"):
        old.unlink()
    writer: pq.ParquetWriter | None = None
    rows = files = in_file = 0
    for batch in batches:
        while batch.num_rows:
            if writer is None:
                writer = parquet_writer(part_dir / f"part-{files}.parquet", CRAWL_RECORD_SCHEMA)
                files, in_file = files + 1, 0
            take = min(batch.num_rows, rows_per_file - in_file)
            writer.write_batch(batch.slice(0, take))
            batch, in_file, rows = batch.slice(take), in_file + take, rows + take
            if in_file == rows_per_file:
                writer.close()
                writer = None
    if writer is not None:
        writer.close()
    return rows, files


def parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """A Parquet writer with fixed options, so that the same rows give the same bytes."""
    return pq.ParquetWriter(
        path, schema, compression="zstd", compression_level=3, use_dictionary=True, version="2.6"
    )


# --- public API ------------------------------------------------------------------------------


def write_sample(out_dir: Path, *, seed: int = 20240810) -> dict[str, int]:
    """Write the committed example: seed_nodes.csv and two crawls of crawl_records.

    Returns row counts: ``seed_nodes`` and one entry per crawl id. The same seed gives the
    same bytes. Rows are sorted by page URL (links keep their order within a page).
    """
    out_dir = Path(out_dir)
    universe = _build_universe(n_companies=_SAMPLE_COMPANIES, seed=seed)
    counts = {"seed_nodes": _write_seed_nodes(universe.seed_rows, out_dir / "seed_nodes.csv")}
    for index, (crawl_id, n_links) in enumerate(_SAMPLE_LINKS.items()):
        plan = _plan_crawl(universe, crawl_id=crawl_id, index=index, n_links=n_links, seed=seed)
        table = pa.Table.from_batches(list(_crawl_batches(universe, plan, seed=seed)))
        table = table.sort_by("page_url")  # stable: links keep their order
        part_dir = out_dir / "crawl_records" / f"crawl_id={crawl_id}"
        counts[crawl_id], _ = _write_partition(
            iter(table.to_batches()), part_dir, rows_per_file=n_links
        )
    return counts


def generate_crawl_records(
    n_links: int,
    *,
    out_dir: Path,
    crawl_ids: Sequence[str] = SAMPLE_CRAWL_IDS,
    n_companies: int | None = None,
    seed: int = 0,
    rows_per_file: int = 1_000_000,
) -> GeneratedData:
    """Write a benchmark data set of ``n_links`` link records, split evenly over ``crawl_ids``.

    Same shape and dirt as the sample, at any size: links are built in vectorised batches and
    streamed to ``crawl_records/crawl_id=<id>/part-<n>.parquet``, so memory stays bounded.
    ``seed_nodes.csv`` lists ``n_companies`` firms (default: one per 500 links, at least 200).
    """
    if n_links < len(crawl_ids) or not crawl_ids:
        raise ValueError(
            f"need at least one link per crawl, got {n_links} for {len(crawl_ids)} crawls"
        )
    if rows_per_file < 1:
        raise ValueError(f"rows_per_file must be positive, got {rows_per_file}")
    out_dir = Path(out_dir)
    n_companies = n_companies if n_companies is not None else max(200, n_links // 500)
    universe = _build_universe(n_companies=n_companies, seed=seed)
    n_seed_rows = _write_seed_nodes(universe.seed_rows, out_dir / "seed_nodes.csv")
    links_per_crawl: dict[str, int] = {}
    n_files = 0
    for index, crawl_id in enumerate(crawl_ids):
        n = n_links // len(crawl_ids) + (index < n_links % len(crawl_ids))
        plan = _plan_crawl(universe, crawl_id=crawl_id, index=index, n_links=n, seed=seed)
        part_dir = out_dir / "crawl_records" / f"crawl_id={crawl_id}"
        rows, files = _write_partition(
            _crawl_batches(universe, plan, seed=seed), part_dir, rows_per_file=rows_per_file
        )
        links_per_crawl[crawl_id], n_files = rows, n_files + files
    return GeneratedData(
        seed_nodes=out_dir / "seed_nodes.csv",
        crawl_records=out_dir / "crawl_records",
        n_companies=n_companies,
        n_seed_rows=n_seed_rows,
        links_per_crawl=links_per_crawl,
        n_files=n_files,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m hydra_transforms.example.generate", description=__doc__
    )
    commands = parser.add_subparsers(dest="command", required=True)
    sample = commands.add_parser("sample", help="write the committed sample (e.g. to data/sample)")
    sample.add_argument("out_dir", type=Path)
    sample.add_argument("--seed", type=int, default=20240810)
    scale = commands.add_parser("scale", help="write a benchmark data set of any size")
    scale.add_argument("out_dir", type=Path)
    scale.add_argument("--links", type=int, required=True, help="link records over all crawls")
    scale.add_argument("--companies", type=int, default=None, help="seed firms (default links/500)")
    scale.add_argument("--crawl-ids", nargs="+", default=list(SAMPLE_CRAWL_IDS))
    scale.add_argument("--rows-per-file", type=int, default=1_000_000)
    scale.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "sample":
        counts = write_sample(args.out_dir, seed=args.seed)
        print(", ".join(f"{name}: {n} rows" for name, n in counts.items()))
        return
    data = generate_crawl_records(
        args.links,
        out_dir=args.out_dir,
        crawl_ids=args.crawl_ids,
        n_companies=args.companies,
        seed=args.seed,
        rows_per_file=args.rows_per_file,
    )
    print(
        f"{data.n_links} links in {data.n_files} files, {data.n_seed_rows} seed rows -> {args.out_dir}"
    )


if __name__ == "__main__":
    main()
