"""The outlet table: which news source a URL belongs to.

:func:`source_of` maps a URL to ``(key, name)``: a short lowercase key (``voa``,
``bbc``, ...) and the outlet's Chinese display name.  Hosts that are not in the
table map to their registered domain by the Public Suffix List (``news.bbc.co.uk``
-> ``bbc.co.uk``, ``x.github.io`` stays ``x.github.io``), used as both key and name.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

#: (key, display name, host suffixes).  A host matches when it equals a suffix
#: or ends with ``"." + suffix``.  Order matters only for overlapping suffixes
#: (more specific entries first).
OUTLETS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("voa", "美国之音", ("voachinese.com", "voacantonese.com", "voanews.com", "voatibetan.com")),
    ("bbc", "BBC中文", ("bbc.com", "bbc.co.uk", "bbc.in")),
    ("rfi", "法广", ("rfi.fr",)),
    ("dw", "德国之声", ("dw.com", "dw.de")),
    ("reuters", "路透社", ("reuters.com",)),
    ("rti", "中央广播电台", ("rti.org.tw",)),
    ("zaobao", "联合早报", ("zaobao.com", "zaobao.com.sg", "zaobao.sg")),
    ("ft", "FT中文网", ("ft.com", "ftchinese.com")),
    ("nyt", "纽约时报中文网", ("cn.nytimes.com", "nytimes.com", "nytimg.com")),
    ("rfa", "自由亚洲电台", ("rfa.org",)),
    ("cdt", "中国数字时代", ("chinadigitaltimes.net",)),
    ("chinafile", "ChinaFile", ("chinafile.com",)),
    ("matters", "Matters", ("matters.news", "matters.town")),
    ("initium", "端传媒", ("theinitium.com", "initium.media")),
    ("hkcnews", "眾新聞", ("hkcnews.com",)),
    ("youtube", "YouTube", ("youtube.com", "youtu.be")),
    ("medium", "Medium", ("medium.com",)),
    ("economist", "经济学人", ("economist.com",)),
    ("bitterwinter", "寒冬", ("bitterwinter.org",)),
    ("solidot", "Solidot", ("solidot.org",)),
    ("allnow", "全现在", ("allnow.com",)),
    ("govopendata", "新闻联播文字版", ("govopendata.com",)),
    ("blogspot", "Blogspot", ("blogspot.com",)),
)

#: Outlet key -> display name, for the outlets of the table.
OUTLET_NAMES: dict[str, str] = {key: name for key, name, _suffixes in OUTLETS}

_HOST_PATTERN = r"^[a-z0-9\u0080-\uffff](?:[a-z0-9\u0080-\uffff-]*[a-z0-9\u0080-\uffff])?(?:\.[a-z0-9\u0080-\uffff](?:[a-z0-9\u0080-\uffff-]*[a-z0-9\u0080-\uffff])?)*$"
_CACHE: dict[str, tuple[str, str]] = {}


def host_of(url: str) -> str:
    """The lowercase host of *url* (without port, userinfo or trailing dot); "" if none."""
    text = (url or "").strip()
    if "//" not in text[:12]:
        text = "//" + text
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:
        host = ""
    host = host.rstrip(".").lower()
    return host if _host_re().match(host) else ""


@functools.cache
def _host_re() -> re.Pattern[str]:
    """The pattern of a valid host, compiled on first use (its wide ranges take ~50 ms to compile)."""
    return re.compile(_HOST_PATTERN)


@functools.cache
def _public_suffix_list():  # type: ignore[no-untyped-def]
    """The Public Suffix List bundled with :mod:`publicsuffixlist` (no network), parsed on first use.

    Imported only when a host outside the outlet table needs it: parsing the
    list takes tens of milliseconds, which a search never pays.  Private
    suffixes count (``github.io``, ``blogspot.com``), so ``x.github.io`` is
    a site of its own.
    """
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList(accept_unknown=True, only_icann=False)


def _is_ip_address(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def registered_domain(host: str) -> str:
    """The registered domain of *host* by the Public Suffix List.

    ``www.example.co.uk`` -> ``example.co.uk``, ``news.mingpao.com.hk`` ->
    ``mingpao.com.hk``, ``x.github.io`` -> ``x.github.io`` (``github.io`` is a
    private suffix).  An IP address, a host that is itself a public suffix
    (``com.hk``) or a single label (``localhost``) is returned as it is.
    """
    host = host.strip(".").lower()
    if not host or _is_ip_address(host):
        return host
    return _public_suffix_list().privatesuffix(host) or host


def source_of(url: str) -> tuple[str, str]:
    """``(key, name)`` of the outlet that published *url*.

    Known outlets get their short key and Chinese name (``("voa", "美国之音")``);
    other hosts their registered domain as both key and name; a URL without a
    host gives ``("unknown", "unknown")``.
    """
    host = host_of(url)
    cached = _CACHE.get(host)
    if cached is not None:
        return cached
    result: tuple[str, str] | None = None
    for key, name, suffixes in OUTLETS:
        if any(host == s or host.endswith("." + s) for s in suffixes):
            result = (key, name)
            break
    if result is None:
        domain = registered_domain(host) or "unknown"
        # Personal Medium domains (custom hosts) and blogspot sub-blogs stay as
        # their own domain; only the table above names outlets.
        result = (domain, domain)
    if len(_CACHE) < 10000:
        _CACHE[host] = result
    return result
