"""The outlet table: which news source a URL belongs to.

:func:`source_of` maps a URL to ``(key, name)``: a short lowercase key (``voa``,
``bbc``, ...) and the outlet's Chinese display name.  Hosts that are not in the
table map to their registered domain by the Public Suffix List (``news.bbc.co.uk``
-> ``bbc.co.uk``, ``x.github.io`` stays ``x.github.io``), used as both key and name.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Outlet:
    """One news outlet: how its URLs are recognised and how its pages are read.

    Everything newsarc knows about an outlet is in its record, so adding one is
    one entry of :data:`OUTLET_TABLE`.  Patterns are kept as text; the parser
    compiles them on first use (a search never needs them).
    """

    key: str
    #: its usual Chinese name
    name: str
    #: host suffixes: a host matches when it equals one or ends with ``"." + suffix``
    hosts: tuple[str, ...]
    #: time zone of the times its pages write without an offset: an IANA name or ``+08:00``
    zone: str = "UTC"
    #: an article whose page gives no date is dated at its archive time in ``zone`` (else in UTC)
    archive_time_in_zone: bool = False
    #: lines of its pages that are not article text (a regular expression matched against a line)
    boilerplate: str = ""
    #: the line that starts its page footer: that line and all after it are not text
    end_marker: str = ""
    #: a credit line naming the authors beyond the common ``作者：X`` forms (group 1: the names)
    credit_line: str = ""
    #: its images' ``title`` attributes are captions
    image_titles_are_captions: bool = False


#: The outlets newsarc knows.  Order matters only for overlapping host suffixes
#: (more specific entries first).
OUTLET_TABLE: tuple[Outlet, ...] = (
    Outlet(
        key="voa",
        name="美国之音",
        hosts=("voachinese.com", "voacantonese.com", "voanews.com", "voatibetan.com"),
        boilerplate=(
            r"^(?:.*美国之音.{0,10}(?:APP|App|应用|频道|Telegram).*|.*(?:关注|訂閱|订阅)美国之音.*|"
            r"No media source currently available|嘉宾和观众听众发表的都是个人观点.*|.*本集全部内容请看[:：].*|\d{1,2}:\d{2}(?::\d{2})?|.*VOA卫视.*)$"
        ),
    ),
    Outlet(
        key="bbc",
        name="BBC中文",
        hosts=("bbc.com", "bbc.co.uk", "bbc.in"),
        boilerplate=(
            r"^(?:.*BBC中文.{0,6}(?:App|APP|应用|應用|Telegram|Instagram|微信|微博|通讯|通訊|YouTube|频道|頻道).*|"
            r"BBC News 中文|BBC中文|完|Getty Images|Reuters|EPA|AFP|"
            r"BBC不为外部网站的内容负责.*|BBC不為外部網站的內容負責.*|相关话题|相關話題|"
            r"(?:热读|熱讀|最多阅读|最多閱讀|相关内容|相關內容|相关报道|相關報道)|"
            r"视频加注文字[，,].*|視頻加註文字[，,].*|视频说明.*)$"
        ),
    ),
    Outlet(
        key="rfi",
        name="法广",
        hosts=("rfi.fr",),
        zone="Europe/Paris",
        boilerplate=(
            r"^(?:.*(?:订阅|訂閱)法广.*|.*下载法广.*|.*下載法廣.*|.*法广应用.*|作者[:：].*|"
            r"分享[:：]?|.*RFI中文.{0,6}(?:App|应用|Telegram).*)$"
        ),
    ),
    Outlet(
        key="dw",
        name="德国之声",
        hosts=("dw.com", "dw.de"),
        boilerplate=(
            r"^(?:.*德国之声.{0,4}(?:版权声明|版權聲明).*|.*DW中文.{0,6}(?:Instagram|Facebook|Telegram|App|应用).*|"
            r".*(?:订阅|訂閱)德国之声.*|德国之声致力于.*|\(?（?(?:德国之声|DW).{0,4}(?:中文网)?）?\)?)$"
        ),
    ),
    Outlet(
        key="reuters",
        name="路透社",
        hosts=("reuters.com",),
        boilerplate=(
            r"^(?:我们的标准[:：]?.*|汤森路透“信任原则”|.*Thomson Reuters.*|编译\s.*|審校\s.*|审校\s.*|"
            r"(?:编译|審校|审校|编辑)[:：].*|\(?（?完）?\)?)$"
        ),
    ),
    Outlet(
        key="rti",
        name="中央广播电台",
        hosts=("rti.org.tw",),
        zone="+08:00",
        boilerplate=r"^(?:\.\.\.more|…more|more)$",
        image_titles_are_captions=True,
    ),
    Outlet(
        key="zaobao",
        name="联合早报",
        hosts=("zaobao.com", "zaobao.com.sg", "zaobao.sg"),
        zone="+08:00",
        boilerplate=r"^(?:.*(?:订阅|訂閱)联合早报.*|.*早报.{0,6}(?:App|APP|Telegram|脸书|面簿).*)$",
    ),
    Outlet(
        key="ft",
        name="FT中文网",
        hosts=("ft.com", "ftchinese.com"),
        zone="+08:00",
        boilerplate=r"^(?:译者[/／:：].*|（?本文仅代表作者本人观点.*|责任编辑[:：].*|.*@ftchinese\.com.*|版权声明[:：].*)$",
    ),
    Outlet(
        key="nyt",
        name="纽约时报中文网",
        hosts=("cn.nytimes.com", "nytimes.com", "nytimg.com"),
        zone="+08:00",
        boilerplate=(
            r"^(?:感谢阅读今天的简报.*|.*欢迎在Twitter.{0,40}关注.*|（?欢迎点击此处订阅NYT简报.*|.*点击查看本文英文版.*|点击查看本版英文版.*|.*本文最初发表于.*|"
            r"翻译[:：].*|.*欢迎在Twitter上关注.*|.*欢迎在Twitter上关注他.*)$"
        ),
    ),
    Outlet(
        key="rfa",
        name="自由亚洲电台",
        hosts=("rfa.org",),
        boilerplate=(
            r"^(?:.*(?:记者|責編|责编|网编|網編)[:：].{0,40}(?:责编|責編|网编|網編)[:：].*|"
            r".*自由亚洲电台.{0,6}(?:版权|版權).*|.*RFA.{0,8}(?:Copyright|版权).*)$"
        ),
        credit_line=r"^(?:自由亚洲电台|自由亞洲電台)?(?:特约|特約)?(?:记者|記者)\s*[:：]?\s*(\S{2,12}?)\s*(?:\S{2,8}(?:报导|报道|報導|報道))?\s+(?:责编|責編)[:：\s].*",
        image_titles_are_captions=True,
    ),
    Outlet(
        key="cdt",
        name="中国数字时代",
        hosts=("chinadigitaltimes.net",),
        boilerplate=(
            r"^(?:请点击购买.*|請點擊購買.*|(?:CDS|CDT)\s*(?:档案|導覽|导览|檔案)\s*[|｜].*|[|｜]\s*\S{1,20}|.*CDT 档案卡.*|标签[:：].*|.*中国数字时代.{0,10}(?:Telegram|推特|Twitter|订阅|訂閱|App|桌面|微信).*|"
            r"Feed enhanced by.*|.*翻墙.{0,4}(?:教程|工具)下载.*|.*(?:CDT|中国数字时代)(?:编辑|編輯)?(?:注|推荐)?[:：]?$)$"
        ),
        end_marker=r"^(?:请点击购买.*|請點擊購買.*|(?:CDS|CDT)\s*(?:档案|導覽|导览|檔案)\s*[|｜].*|[|｜]\s*\S{1,20}|Post tags:|Feed enhanced by)",
    ),
    Outlet(
        key="chinafile",
        name="ChinaFile",
        hosts=("chinafile.com",),
        boilerplate=r"(?i)^(?:Sign up for .*newsletter.*|Subscribe to .*|Related|More from ChinaFile.*)$",
    ),
    Outlet(
        key="matters",
        name="Matters",
        hosts=("matters.news", "matters.town"),
        boilerplate=r"^(?:.*Matters.{0,10}(?:訂閱|订阅|支持|追蹤|追踪).*)$",
    ),
    Outlet(
        key="initium",
        name="端传媒",
        hosts=("theinitium.com", "initium.media"),
        zone="Asia/Hong_Kong",
        boilerplate=r"^(?:閱讀餘下全文.*|支持我們，請成為付費會員.*|暢讀全站所有好內容.*|.*成為付費會員.*|.*端傳媒.{0,6}(?:會員|訂閱).*)$",
    ),
    Outlet(
        key="hkcnews",
        name="眾新聞",
        hosts=("hkcnews.com",),
        zone="Asia/Hong_Kong",
        archive_time_in_zone=True,
        boilerplate=(
            r"^(?:請加入成為眾新聞的月費訂戶.*|月費訂戶.*|.*hkcnews\.com/aboutus.*|\{\{<.*>\}\}|"
            r"眾新聞(?:已|將).{0,20}(?:停止|暫停)運作.*)$"
        ),
        end_marker=r"^(?:請加入成為眾新聞的月費訂戶|請支持《眾新聞》|我們的眾籌活動已結束|!\s*(?:博客|主筆)\s*\|)",
    ),
    Outlet(
        key="youtube",
        name="YouTube",
        hosts=("youtube.com", "youtu.be"),
    ),
    Outlet(
        key="medium",
        name="Medium",
        hosts=("medium.com",),
        boilerplate=r"^(?:.*was originally published in .*on Medium.*|Photo by .* on Unsplash)$",
    ),
    Outlet(
        key="economist",
        name="经济学人",
        hosts=("economist.com",),
    ),
    Outlet(
        key="bitterwinter",
        name="寒冬",
        hosts=("bitterwinter.org",),
    ),
    Outlet(
        key="solidot",
        name="Solidot",
        hosts=("solidot.org",),
    ),
    Outlet(
        key="allnow",
        name="全现在",
        hosts=("allnow.com",),
    ),
    Outlet(
        key="govopendata",
        name="新闻联播文字版",
        hosts=("govopendata.com",),
    ),
    Outlet(
        key="blogspot",
        name="Blogspot",
        hosts=("blogspot.com",),
    ),
)

#: (key, display name, host suffixes) of each outlet of :data:`OUTLET_TABLE`, in its order.
OUTLETS: tuple[tuple[str, str, tuple[str, ...]], ...] = tuple((o.key, o.name, o.hosts) for o in OUTLET_TABLE)
_BY_KEY = {o.key: o for o in OUTLET_TABLE}

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


def outlet(key: str) -> Outlet:
    """The record of outlet ``key``; for a key outside the table (a registered domain), a record
    with the default rules."""
    found = _BY_KEY.get(key)
    return found if found is not None else Outlet(key, key, ())
