"""Parse one archive file into an :class:`~newsarc.records.Article`.

An archive file is::

    [optional YAML front matter: ---, title/date/author/tags/from, ---]
    <!--EPOCH_MS-->
    [TITLE](URL)
    ------

    <html body ...>

:func:`parse_file` and :func:`parse_bytes` are the public entry points.  Bad
input raises :class:`~newsarc.errors.RejectedFile` with a short lowercase
``reason``; no other exception escapes for any input bytes.

The body is parsed once with lxml's HTML parser and walked iteratively (no
recursion, so deeply nested markup cannot hit the recursion limit).  The walk
produces the text lines, captions, images and bylines; the publication date is
read from the top of the body.  What differs between outlets (time zone,
boilerplate lines, footers, credit lines, image titles as captions) comes from
the outlet's record in :data:`newsarc.sources.OUTLET_TABLE`.
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import html as htmllib
import os
import re
import stat
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from lxml import etree
from lxml import html as lxml_html

from newsarc.errors import RejectedFile
from newsarc.records import Article, file_kind
from newsarc.sources import outlet, source_of

__all__ = ["MAX_FILE_BYTES", "parse_bytes", "parse_file", "read_regular_file", "too_large"]

#: Files larger than this are rejected unread.
MAX_FILE_BYTES = 20 * 1024 * 1024
#: A title line longer than this (characters) is not a title line.
MAX_TITLE_LINE = 16 * 1024

_UTC = UTC
#: Fixed offsets for the outlet table's zones where no time zone database is installed.
_ZONE_FALLBACK: dict[str, tzinfo] = {
    "Europe/Paris": timezone(timedelta(hours=1)),
    "Asia/Hong_Kong": timezone(timedelta(hours=8)),
}

_MIN_DATE = datetime(1990, 1, 1, tzinfo=_UTC)
_FUTURE_SLACK = timedelta(days=2)
#: An archive time later than now by more than this is rejected (a clock or a header gone wrong).
MAX_ARCHIVE_AHEAD = timedelta(days=1)


# --------------------------------------------------------------------------- public API


def parse_file(path: str | Path) -> Article:
    """Read and parse the archive file at *path* (see :func:`parse_bytes`)."""
    spath = str(path)
    try:
        data, _st = read_regular_file(path)
    except FileNotFoundError:
        raise RejectedFile(spath, "unreadable file: not found") from None
    except PermissionError:
        raise RejectedFile(spath, "unreadable file: permission denied") from None
    except (OSError, ValueError) as exc:
        raise RejectedFile(spath, f"unreadable file: {type(exc).__name__.lower()}") from None
    return parse_bytes(data, spath)


def read_regular_file(path: str | Path, limit: int = MAX_FILE_BYTES) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file at ``path`` (at most ``limit + 1``) and its status.

    The file is opened non-blocking and checked after opening (``fstat`` on the
    descriptor), so a named pipe, a device or a directory put where a file was
    expected is refused at once (:class:`RejectedFile`), never read or waited
    on, whatever replaced the file between a check and the open.  A file
    larger than ``limit`` is refused from its size alone.
    """
    spath = str(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = file_kind(st.st_mode)
            raise RejectedFile(spath, f"not a regular file: {kind}" if kind.startswith("a ") else kind)
        if st.st_size > limit:
            raise RejectedFile(spath, too_large(st.st_size))
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as fh:
        return fh.read(limit + 1), st


def parse_bytes(data: bytes, path: str, *, archived_ms: int | None = None) -> Article:
    """Parse the bytes of one archive file; *path* is only recorded in the article.

    ``archived_ms`` is the archive time of a file whose header has none (a git
    mirror's commit time); without it such a file takes its front matter's
    date.  Raises :class:`RejectedFile` (and nothing else) when the bytes are
    not a usable archive file.
    """
    spath = str(path)
    try:
        return _parse(bytes(data), spath, archived_ms)
    except RejectedFile:
        raise
    except RecursionError:
        raise RejectedFile(spath, "unparseable file: too deeply nested") from None
    except MemoryError:
        raise RejectedFile(spath, "unparseable file: out of memory") from None
    except Exception as exc:  # defensive: nothing else may escape
        raise RejectedFile(spath, f"unparseable file: {type(exc).__name__.lower()}") from None


# --------------------------------------------------------------------------- outlet rules


@dataclass(frozen=True, slots=True)
class _Rules:
    """How an outlet's pages are read (its :class:`~newsarc.sources.Outlet` record), compiled."""

    zone: tzinfo
    archive_time_in_zone: bool
    boilerplate: re.Pattern[str] | None
    end_marker: re.Pattern[str] | None
    credit_line: re.Pattern[str] | None
    image_titles_are_captions: bool


@functools.lru_cache(maxsize=1024)
def _rules(key: str) -> _Rules:
    """The reading rules of outlet ``key`` (defaults for a host outside the outlet table)."""
    record = outlet(key)
    return _Rules(
        zone=_zone(record.zone),
        archive_time_in_zone=record.archive_time_in_zone,
        boilerplate=re.compile(record.boilerplate) if record.boilerplate else None,
        end_marker=re.compile(record.end_marker) if record.end_marker else None,
        credit_line=re.compile(record.credit_line) if record.credit_line else None,
        image_titles_are_captions=record.image_titles_are_captions,
    )


def _zone(spec: str) -> tzinfo:
    """A zone of the outlet table: ``UTC``, a fixed offset (``+08:00``) or an IANA name."""
    if spec == "UTC":
        return _UTC
    m = re.fullmatch(r"([+-])(\d{2}):(\d{2})", spec)
    if m:
        sign = 1 if m.group(1) == "+" else -1
        return timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))
    try:
        return ZoneInfo(spec)
    except Exception:  # pragma: no cover - no time zone database
        return _ZONE_FALLBACK.get(spec, _UTC)


# --------------------------------------------------------------------------- decoding


def too_large(size: int) -> str:
    """The reason a file of ``size`` bytes is rejected (over :data:`MAX_FILE_BYTES`)."""
    return f"file too large: {size / 1048576:.1f} MB > {MAX_FILE_BYTES // 1048576} MB"


# Very frequent Chinese characters in both scripts: how GB18030 and Big5 readings are told apart.
_COMMON_CJK = frozenset(
    "的一是不了在人有我他这個个们們中来來上大为為和国國地到以说說时時要就出会會可也你对對生能而子那得于於着著下"
    "自之年过過发發后後作里裡用道行所然家种種事成方多经經么麼去法学學如都同现現当當没沒动動面起看定天分还還进進好"
    "小部其些主样樣理心她本前开開但因只从從想实實日军軍者意无無力它与與长長把机機十民第公此已工使情明性知全三又关關"
    "点點正业業外将將两兩高间間由问問很最重并並物手应應战戰向头頭文体體政美相见見被利什二等产產或新己制製身果加西斯"
    "月话話合回特代内內信表化老给給世位次度门門任常先海通教儿兒原东東声聲提立及比员員解水名真论論处處走义義各入几幾"
    "口认認条條平系气氣题題活尔爾更别別打女变變四神总總何电電数數安少报報才结結反受目太量再感建务務做接必场場件计計"
    "管期市直德资資命山金指克许許统統区區保至队隊形社便空决決治展马馬科司五基眼书書非则則听聽白却界达達光放强強即像"
    "难難且权權思王象完设設式色路记記南品住告类類求据據程北边邊死张張该該交规規万萬取拉格望觉覺术術领領共确確传傳师"
    "師观觀清今切院让讓识識候带帶导導争爭运運笑飞飛风風步改收根干幹造言联聯持组組每济濟车車亲親极極林服快办辦议議往"
    "元英士证證近失转轉夫令准准布始怎呢存未远遠叫台单單影具罗羅字爱愛击擊流备備兵连連调調深商算质質团團集百需价價花"
    "党黨华華城石级級整府离離况況亚亞请請技际際约約示复復病息究线線似官火断斷精满滿支视視消越器容照须須九增研写寫称"
    "稱企八功吗嗎包片史委乎查轻輕易早曾除农農找装裝广廣显顯吧阿李标標谈談吃图圖念六引历歷首医醫局突专專费費号號尽盡"
    "另周较較注语語仅僅考落青随隨选選列武红紅响響虽雖推势勢参參希古众眾构構房半节節土投某案黑维維革划劃敌敵致陈陳律"
    "足态態护護七兴興派孩验驗责責营營星够夠章音跟志底站严嚴巴例防族供效续續施留讲講型料终終答紧緊黄黃绝絕奇察母京段"
    "依批群项項故按河米围圍江织織害斗鬥双雙境客纪紀采採举舉杀殺攻父苏蘇密低朝友诉訴止细細愿願千值仍男钱錢破网網热熱"
    "助倒育属屬坐帝限船脸臉职職速刻乐樂否刚剛威毛状狀率甚独獨球般普怕弹彈校苦创創假久错錯承印晚兰蘭试試股拿脑腦预預"
    "谁誰益阳陽若哪微尼继繼送急血惊驚伤傷素药藥适適波夜省初喜卫衛源食险險待述陆陸习習置居劳勞财財环環排福纳納欢歡雷"
    "警获獲模充负負云雲停木游遊龙龍树樹疑层層冷洲冲沖射略范範竟句室异異激汉漢村哈策演简簡卡罪判担擔州静靜退既衣您宗"
    "积積余痛检檢差富灵靈协協角占配征修皮挥揮胜勝降阶階审審沉坚堅善妈媽刘劉读讀啊超免压壓银銀买買皇养養伊怀懷执執副"
    "乱亂抗犯追帮幫宣佛岁歲航优優怪香著田铁鐵控税稅左右份穿艺藝背阵陣草脚腳概恶惡块塊顿頓敢守酒岛島托央户戶烈洋哥索"
    "胡款靠评評版宝寶座释釋景顾顧弟登货貨互付伯慢欧歐换換闻聞危忙核暗姐介坏壞讨討丽麗良序升监監临臨亮露永呼味野架域"
    "沙掉括舰艦鱼魚杂雜误誤湾灣吉减減编編楚肯测測败敗屋跑梦夢散温溫困剑劍渐漸封救贵貴枪槍缺楼樓县縣尚毫移娘朋画畫班"
    "智亦耳恩短掌恐遗遺固席松秘谢謝鲁魯遇康虑慮幸均销銷钟鐘诗詩藏赶趕剧劇票损損忽巨炮旧舊端探湖录錄叶葉春乡鄉附吸予"
    "礼禮港雨呀板庭妇婦归歸睛饭飯额額含顺順输輸摇搖招婚脱脫补補谓謂督毒油疗療旅泽澤材灭滅逐莫笔筆亡鲜鮮词詞圣聖择擇"
    "寻尋厂廠睡博勒烟煙授诺諾伦倫岸奥奧唐卖賣俄炸载載洛健堂旁宫宮喝借君禁阴陰园園谋謀宋避抓荣榮姑孙孫逃牙束跳顶頂玉"
    "镇鎮雪午练練迫爷爺篇肉嘴馆館遍凡础礎洞卷坦牛宁寧纸紙诸諸训訓私庄莊祖丝絲翻暴森塔默握戏戲隐隱熟骨访訪弱蒙歌店鬼"
    "软軟典欲萨薩伙遭盘盤爸扩擴盖蓋弄雄稳穩忘亿億刺拥擁徒姆杨楊齐齊赛賽趣曲刀床迎冰虚虛玩析窗醒妻透购購替塞努休虎扬"
    "揚途侵刑绿綠兄迅套贸貿毕畢唯谷轮輪库庫迹跡尤竞競街促延震弃棄甲伟偉麻川申缓緩潜潛闪閃售灯燈针針哲络絡抵朱埃抱鼓"
    "植纯純夏忍页頁杰筑築折郑鄭贝貝尊吴吳秀混臣雅振染盛怒舞圆圓搞狂措姓残殘秋培迷诚誠宽寬宇猛摆擺梅毁毀伸摩盟末乃悲"
    "拍丁赵趙添纷紛援冒"
)


def _decode(data: bytes, path: str) -> str:
    """Decode the file's bytes: UTF-8 (BOM or not), else GB18030 or Big5, whichever reads as Chinese."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[3:]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise RejectedFile(path, "undecodable text") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A file cut inside a multi-byte character: drop the incomplete tail.
        if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
            try:
                return data[: exc.start].decode("utf-8")
            except UnicodeDecodeError:
                pass
    best_text = ""
    best_score: float | None = None
    for enc in ("utf-8", "gb18030", "big5"):
        text = data.decode(enc, errors="replace")
        bad = text.count("\ufffd")
        common = sum(1 for ch in text if ch in _COMMON_CJK)
        score = common - 20 * bad
        if best_score is None or score > best_score:
            best_text, best_score = text, score
    bad = best_text.count("\ufffd")
    if bad and bad > max(8, len(best_text) // 200):
        raise RejectedFile(path, "undecodable text")
    return best_text


def _check_binary(data: bytes, path: str) -> bytes:
    """Reject binary data; remove stray NUL bytes from text."""
    head = data[:8192]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data
    if b"\x00" in head:
        nul = head.count(b"\x00")
        if nul > max(4, len(head) // 100):
            raise RejectedFile(path, "binary file")
    controls = sum(head.count(bytes([c])) for c in (1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 28, 29, 30, 31, 127))
    if controls > max(8, len(head) // 20):
        raise RejectedFile(path, "binary file")
    if b"\x00" in data:
        data = data.replace(b"\x00", b"")
    return data


# --------------------------------------------------------------------------- header


_TS_RE = re.compile(r"^<!--\s*(\d{9,14})\s*-->\s*$")
_COMMENT_RE = re.compile(r"^<!--.*-->\s*$")
_SEP_RE = re.compile(r"^\s*-{3,}\s*$")
_MD_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~\"'])")
_WS_RE = re.compile(r"\s+")


def _front_matter(lines: list[str], i: int) -> tuple[dict[str, Any], int]:
    """YAML front matter starting at line *i* (``---``), if any: (mapping, index after it)."""
    if i >= len(lines) or lines[i].strip() != "---":
        return {}, i
    for j in range(i + 1, min(len(lines), i + 200)):
        if lines[j].strip() in ("---", "..."):
            block = "\n".join(lines[i + 1 : j])
            meta: Any = None
            try:
                import yaml

                loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
                meta = yaml.load(block, Loader=loader)  # noqa: S506 - safe loader
            except Exception:
                meta = _loose_front_matter(block)
            if not isinstance(meta, dict):
                meta = _loose_front_matter(block)
            return meta, j + 1
    return {}, i


def _loose_front_matter(block: str) -> dict[str, Any]:
    """``key: value`` lines of front matter that YAML could not read."""
    out: dict[str, Any] = {}
    for line in block.splitlines():
        m = re.match(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$", line)
        if m:
            value = m.group(2).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            out[m.group(1)] = value
    return out


def _split_title_line(line: str) -> tuple[str, str] | None:
    """``(title, url)`` of a ``[TITLE](URL)`` line; the URL is the last balanced ``](...)`` group."""
    s = line.strip()
    if len(s) < 4 or not s.startswith("[") or not s.endswith(")"):
        return None
    depth = 0
    i = len(s) - 1
    while i > 0:
        ch = s[i]
        if ch == ")":
            depth += 1
        elif ch == "(":
            depth -= 1
            if depth == 0:
                break
        i -= 1
    if depth == 0 and i > 1 and s[i - 1] == "]":
        return s[1 : i - 1], s[i + 1 : -1]
    k = s.rfind("](")
    if k < 1:
        return None
    return s[1:k], s[k + 2 : -1]


def _clean_title(raw: str) -> str:
    text = _MD_ESCAPE_RE.sub(r"\1", raw)
    text = htmllib.unescape(text)
    return _WS_RE.sub(" ", text).strip()


def _ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, _UTC)


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def _meta_datetime(value: Any) -> datetime | None:
    """A front-matter ``date`` as an aware datetime (naive values are UTC)."""
    if value is None or value == "":
        return None
    dt: datetime | None = None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            m = re.match(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*([+-]\d{2}:?\d{2}|Z)?", text)
            if not m:
                return None
            try:
                dt = datetime(*(int(g or 0) for g in m.groups()[:6]))  # type: ignore[misc]
            except ValueError:
                return None
            if m.group(7) and m.group(7) != "Z":
                tzs = m.group(7).replace(":", "")
                sign = 1 if tzs[0] == "+" else -1
                dt = dt.replace(tzinfo=timezone(sign * timedelta(hours=int(tzs[1:3]), minutes=int(tzs[3:5]))))
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_UTC)
    return dt


def _meta_list(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else re.split(r"[,，、]", str(value))
    out: list[str] = []
    for item in items:
        if item is None or isinstance(item, (dict, list)):
            continue
        s = _WS_RE.sub(" ", str(item)).strip()
        if s and s not in out:
            out.append(s)
    return out


# --------------------------------------------------------------------------- main


def _parse(data: bytes, path: str, default_archived_ms: int | None = None) -> Article:
    """The steps of :func:`parse_bytes`: lines of text, header, body, its extraction, the date."""
    lines = _text_lines(data, path)
    header = _read_header(lines, path, default_archived_ms)
    body = _body_html(lines, header.end, path)
    source, source_name = source_of(header.url)
    rules = _rules(source)
    extracted = _extract(body, rules)
    if not (extracted.lines or extracted.captions or extracted.images) and _cut_off(body):
        raise RejectedFile(path, "truncated: no article text")
    meta = header.meta
    authors = extracted.authors
    if not authors and meta:
        authors = _meta_list(meta.get("author") or meta.get("authors"))
    return Article(
        id=hashlib.sha1(header.url.encode("utf-8", "surrogatepass")).hexdigest()[:12],
        url=header.url,
        title=header.title,
        source=source,
        source_name=source_name,
        published=_iso(_published(extracted.dates, meta, header.archived, rules)),
        archived=_iso(header.archived),
        archived_ms=header.archived_ms,
        path=path,
        authors=authors,
        text="\n".join(extracted.lines),
        captions=extracted.captions,
        images=_image_urls(extracted.images, header.url),
        tags=_meta_list(meta.get("tags")) if meta else [],
        html=body,
    )


def _image_urls(sources: list[str], base: str) -> list[str]:
    """The image URLs worth keeping: relative ones resolved against the article's URL, and only
    ``http``/``https`` ones kept (no ``javascript:``, ``data:``, ``vbscript:``, ``file:`` …)."""
    urls: list[str] = []
    for src in sources:
        try:
            parts = urlsplit(urljoin(base, src.replace(" ", "%20")))
        except ValueError:  # a malformed address (an unclosed IPv6 bracket, say)
            continue
        if parts.scheme.lower() in ("http", "https") and parts.netloc:
            url = urlunsplit(parts)
            if url not in urls:
                urls.append(url)
    return urls


def _text_lines(data: bytes, path: str) -> list[str]:
    """The file's lines: checked for size and binary data, decoded, line ends normalised."""
    if len(data) > MAX_FILE_BYTES:
        raise RejectedFile(path, too_large(len(data)))
    if not data.strip():
        raise RejectedFile(path, "empty file")
    text = _decode(_check_binary(data, path), path)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise RejectedFile(path, "empty file")
    return text.split("\n")


@dataclass(slots=True)
class _Header:
    """What precedes the body: front matter, archive time, title and URL; ``end`` is the next line."""

    meta: dict[str, Any]
    archived_ms: int
    archived: datetime
    title: str
    url: str
    end: int


def _skip_blank(lines: list[str], i: int) -> int:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def _read_header(lines: list[str], path: str, default_archived_ms: int | None = None) -> _Header:
    """Front matter (optional), ``<!--timestamp-->`` and ``[title](url)``."""
    meta, i = _front_matter(lines, _skip_blank(lines, 0))
    archived_ms, i = _archive_time(lines, _skip_blank(lines, i), meta, path, default_archived_ms)
    try:
        archived = _ms_to_dt(archived_ms)
    except (OverflowError, OSError, ValueError):
        raise RejectedFile(path, "not an archive file: bad timestamp in header") from None
    if archived > datetime.now(_UTC) + MAX_ARCHIVE_AHEAD:
        raise RejectedFile(path, f"archive time in the future: {archived:%Y-%m-%d %H:%M} UTC")
    title, url, i = _title_and_url(lines, _skip_blank(lines, i), meta, path)
    return _Header(meta, archived_ms, archived, title, url, i)


def _archive_time(
    lines: list[str], i: int, meta: dict[str, Any], path: str, default_archived_ms: int | None
) -> tuple[int, int]:
    """The archive time in epoch milliseconds (from the header, else ``default_archived_ms``,
    else the front matter's date) and the index of the line after the header."""
    archived_ms: int | None = None
    if i < len(lines):
        m = _TS_RE.match(lines[i].strip())
        if m:
            archived_ms = int(m.group(1))
            if archived_ms < 10**11:  # seconds, not milliseconds
                archived_ms *= 1000
            i += 1
        elif _COMMENT_RE.match(lines[i].strip()):
            raise RejectedFile(path, "not an archive file: bad timestamp in header")
    if archived_ms is None and default_archived_ms is not None:
        archived_ms = default_archived_ms
    if archived_ms is None:
        meta_dt = _meta_datetime(meta.get("date")) if meta else None
        if meta_dt is None:
            raise RejectedFile(path, "not an archive file: missing <!--timestamp--> header")
        archived_ms = int(meta_dt.timestamp() * 1000)
    return archived_ms, i


def _title_and_url(lines: list[str], i: int, meta: dict[str, Any], path: str) -> tuple[str, str, int]:
    """Title and URL from the ``[title](url)`` line, or from the front matter's ``title`` and
    ``from``; and the index of the line after them."""
    title = url = ""
    if i < len(lines) and lines[i].lstrip().startswith("["):
        line = lines[i]
        if len(line) > MAX_TITLE_LINE:
            raise RejectedFile(path, "title line too long")
        parts = _split_title_line(line)
        if parts is None:
            raise RejectedFile(path, "malformed title line")
        title, url = _clean_title(parts[0]), parts[1].strip()
        i += 1
    elif not (meta and meta.get("title") and meta.get("from")):
        raise RejectedFile(path, "no title line")
    if not title and meta.get("title"):
        title = _clean_title(str(meta["title"]))
    if not url and meta.get("from"):
        url = _WS_RE.sub("", str(meta["from"]))
    url = _WS_RE.sub("", url)
    if not url:
        raise RejectedFile(path, "no url in title line")
    return title, url, i


def _body_html(lines: list[str], i: int, path: str) -> str:
    """The HTML body: what follows the ``------`` line (and one blank line)."""
    i = _skip_blank(lines, i)
    if i < len(lines) and _SEP_RE.match(lines[i]):
        i += 1
        if i < len(lines) and not lines[i].strip():
            i += 1
    body = "\n".join(lines[i:])
    if not body.strip():
        raise RejectedFile(path, "truncated: no article body")
    return body


def _published(dates: list[datetime], meta: dict[str, Any], archived: datetime, rules: _Rules) -> datetime:
    """The first plausible date of the body, else the front matter's, else the archive time."""
    for candidate in dates:
        if _MIN_DATE <= candidate <= archived + _FUTURE_SLACK:
            return candidate
    if meta:
        meta_dt = _meta_datetime(meta.get("date"))
        if meta_dt is not None and _MIN_DATE <= meta_dt <= archived + _FUTURE_SLACK:
            return meta_dt
    return archived.astimezone(rules.zone) if rules.archive_time_in_zone else archived


_TAG_RE = re.compile(r"<(/?)([A-Za-z][\w:-]*)[^<>]*?(/?)>")
_VOID_TAGS = frozenset(
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"]
)


def _cut_off(body: str) -> bool:
    """Whether the HTML body stops mid-markup (a truncated file).

    It does when it ends inside a tag or leaves elements open.  A complete body
    may be empty on purpose (a video entry whose page is its title): it is kept.
    """
    if not body.rstrip().endswith(">"):
        return True
    depth = 0
    for m in _TAG_RE.finditer(body):
        closing, name, self_closing = m.groups()
        if self_closing or name.lower() in _VOID_TAGS:
            continue
        depth += -1 if closing else 1
    return depth > 0


# --------------------------------------------------------------------------- dates

_RFC2822_RE = re.compile(
    r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s+\d{1,2}\s+[A-Z][a-z]{2}\s+\d{4}\s+\d{1,2}:\d{2}(?::\d{2})?\s*(?:GMT|UTC|UT|Z|[+-]\d{4})"
)
_ISO_RE = re.compile(
    r"\b(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?\b"
)
_DMY_RE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\s*-\s*(\d{1,2}):(\d{2})\b")
_CN_DATE_RE = re.compile(
    r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日(?:\s*(?:星期.|週.|周.)?\s*(?:(上午|下午|晚上)?\s*(\d{1,2})[:：时時](\d{2})))?"
)
_DOT_DATE_RE = re.compile(r"^\s*(\d{4})[./](\d{1,2})[./](\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?\s*$")
def _mk(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, tz: Any = _UTC) -> datetime | None:
    try:
        return datetime(y, mo, d, h, mi, s, tzinfo=tz)
    except (ValueError, OverflowError):
        return None


def _parse_date_text(text: str, naive_tz: tzinfo, *, loose: bool) -> datetime | None:
    """The first date in *text* (a short date line or a ``datetime`` attribute).

    *loose* allows Chinese ``YYYY年M月D日`` dates, which are only trusted in
    date elements (``<time>``, ``<i>`` date lines), not in running text.  Times
    without an offset are in ``naive_tz``, the outlet's zone.
    """
    text = text.strip()
    if not text or len(text) > 200:
        return None
    m = _RFC2822_RE.search(text)
    if m:
        try:
            dt = parsedate_to_datetime(m.group(0))
        except (TypeError, ValueError, IndexError):
            dt = None
        if dt is not None:
            return dt if dt.tzinfo else dt.replace(tzinfo=_UTC)
    m = _ISO_RE.search(text)
    if m:
        y, mo, d, h, mi, s, tz = m.groups()
        if h is None:
            return _mk(int(y), int(mo), int(d))
        tzinfo: Any = naive_tz
        if tz == "Z":
            tzinfo = _UTC
        elif tz:
            tzs = tz.replace(":", "")
            sign = 1 if tzs[0] == "+" else -1
            tzinfo = timezone(sign * timedelta(hours=int(tzs[1:3]), minutes=int(tzs[3:5])))
        return _mk(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), tz=tzinfo)
    m = _DMY_RE.search(text)
    if m:
        d, mo, y, h, mi = (int(g) for g in m.groups())
        return _mk(y, mo, d, h, mi, tz=naive_tz)
    if loose:
        m = _CN_DATE_RE.search(text)
        if m:
            y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
            if m.group(5):
                h = int(m.group(5))
                if m.group(4) in ("下午", "晚上") and h < 12:
                    h += 12
                return _mk(y, mo, d, h, int(m.group(6)), tz=naive_tz)
            return _mk(y, mo, d)
        m = _DOT_DATE_RE.match(text)
        if m:
            y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
            if m.group(4):
                return _mk(y, mo, d, int(m.group(4)), int(m.group(5)), tz=naive_tz)
            return _mk(y, mo, d)
    return None


# --------------------------------------------------------------------------- HTML walk

_BLOCK_TAGS = frozenset(
    ["p", "div", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "section", "article", "table", "thead", "tbody", "tfoot", "tr", "figure", "header", "main", "pre", "hr", "dl", "dt", "dd", "address", "center", "details", "summary", "fieldset", "caption", "body", "html"]
)
_SKIP_TAGS = frozenset(
    ["script", "style", "noscript", "iframe", "video", "audio", "source", "track", "object", "embed", "form", "button", "input", "select", "textarea", "svg", "canvas", "map", "nav", "footer", "aside", "template", "head", "title", "link", "meta", "picture"]
)
_SKIP_TOKEN_RE = re.compile(
    r"^(?:.*[-_])?(?:ads?|advert|advertisement|adverts?|dfp|ad-slot|adslot|mpu|o-ads|bbccom_slot|bbccom_advert|"
    r"self-promo|selfpromo|newsletter|share|sharing|social|share-tools|sharebar|related|related-links|"
    r"recommend|recommended|promo|promotion|subscribe|subscription|trustbadgecontainer|trustbadgetitle|"
    r"trustbadgeurl|attribution|interstitial|cboxes|comments?|off-screen|visually-hidden|sr-only|"
    r"copyright|credit|credits|photo-credit|img-credit|tags?|tag-list|breadcrumbs?|pagination|"
    r"player-with-placeholder|embed-youtube-warning|cube|more-link|read-more|readmore|pullquote-share|"
    r"keyword_link_disabled)$",
    re.I,
)
_SKIP_ID_RE = re.compile(r"(?:^|[-_])(?:dfp|ad|ads|innity|imu|mpu|taboola|outbrain|comments?|share|related|newsletter)(?:$|[-_\d])", re.I)
_CAPTION_TOKENS = frozenset(
    {
        "caption",
        "photo-caption",
        "img-caption",
        "image-caption",
        "media-caption",
        "media-caption__text",
        "wp-caption-text",
        "image_caption",
        "figure-caption",
        "media-with-caption__caption",
        "m-figure__caption",
        "pic-caption",
        "photo_caption",
        "caption-text",
    }
)
_BYLINE_TOKENS = frozenset({"byline", "byline__name", "author-name", "article-author", "author"})
_MEDIA_E2E = frozenset({"image-placeholder", "media-player", "media-loader"})
_AD_DATA_ATTRS = ("data-o-ads-name", "data-tms-ad", "data-selfpromo-newsletter", "data-selfpromo-app", "data-ad")


class _Extracted:
    __slots__ = ("lines", "captions", "images", "authors", "dates", "header_credits")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.captions: list[str] = []
        self.images: list[str] = []
        self.authors: list[str] = []
        self.dates: list[datetime] = []
        #: text lines of the date element that are not the date (NYT/DW ``<i>AUTHOR<br>DATE</i>``)
        self.header_credits: list[str] = []


def _norm(text: str) -> str:
    return _WS_RE.sub(" ", text.replace("\xa0", " ").replace("\u3000", " ")).strip()


def _unproxy(src: str) -> str:
    src = src.strip()
    if "images.weserv.nl" in src:
        m = re.search(r"[?&]url=([^&]+)", src)
        if m:
            inner = m.group(1)
            if not inner.startswith(("http://", "https://", "//")):
                inner = "https://" + inner
            return inner
    if src.startswith("//"):
        return "https:" + src
    return src


def _classify(el: Any) -> str:
    """'skip', 'caption', 'byline', 'figure', 'date' or '' for one element (cheap: attributes only)."""
    tag = el.tag
    if tag in _SKIP_TAGS:
        return "skip"
    attrib = el.attrib
    if not attrib:
        if tag == "figcaption":
            return "caption"
        if tag == "time":
            return "date"
        return ""
    if tag == "figcaption":
        return "caption"
    if tag == "time":
        return "date"
    if attrib.get("aria-hidden") == "true" and tag in ("section", "div", "span"):
        return "skip"
    for name in _AD_DATA_ATTRS:
        if name in attrib:
            return "skip"
    e2e = attrib.get("data-e2e")
    if e2e and (e2e == "advertisement" or "promo" in e2e or "related" in e2e):
        return "skip"
    role = attrib.get("role")
    if role in ("region", "complementary", "navigation", "banner", "contentinfo") and (
        "广告" in attrib.get("aria-label", "") or role != "region"
    ):
        return "skip"
    cls = attrib.get("class")
    if cls:
        tokens = cls.split()
        for tok in tokens:
            low = tok.lower()
            if low in _CAPTION_TOKENS:
                return "caption"
            if low in _BYLINE_TOKENS:
                return "byline"
            if _SKIP_TOKEN_RE.match(low):
                return "skip"
    ident = attrib.get("id")
    if ident and _SKIP_ID_RE.search(ident):
        return "skip"
    if attrib.get("itemprop") == "caption":
        return "caption"
    return ""


def _figure_blocks(root: Any) -> set[Any]:
    """Containers around BBC-style media placeholders: their text is a caption."""
    out: set[Any] = set()
    try:
        markers = root.xpath("//*[@data-e2e='image-placeholder' or @data-e2e='media-player']")
    except Exception:
        return out
    for marker in markers[:200]:
        top = marker
        parent = marker.getparent()
        steps = 0
        while parent is not None and parent.tag == "div" and steps < 8:
            text_len = len(_norm(parent.text_content()))
            if text_len > 400:
                break
            top = parent
            parent = parent.getparent()
            steps += 1
        out.add(top)
    return out


def _extract(body: str, rules: _Rules) -> _Extracted:
    """Text lines, captions, images, authors and candidate dates of an HTML body."""
    out = _Extracted()
    _dates_from_raw(body, rules.zone, out)
    try:
        root = _parse_html(body)
        if root is None:
            out.lines = _clean_lines(_flat_lines(body), rules, out)
            return out
        _Walker(root, rules, out).walk()
        if not out.lines and len(body) > 2000:
            # lxml stops at its depth limit: pathological nesting loses the text
            out.lines = _clean_lines(_flat_lines(body), rules, out)
    except (RecursionError, ValueError, etree.LxmlError, TypeError, AttributeError, IndexError, KeyError):
        out.lines = _clean_lines(_flat_lines(body), rules, out)
        out.captions = []
    return out


_CTRL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: ``huge_tree`` raises libxml2's depth limit from 256 to 2048 elements (the walk is iterative).
_PARSER = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, huge_tree=True)


def _parse_html(body: str) -> Any:
    """The parsed body, or None when lxml cannot give all of it (then the caller strips tags).

    Beyond its depth limit libxml2 stops building the tree and drops everything
    nested deeper: a body nested that deeply (an attack, not a page) is read
    by :func:`_flat_lines` instead, so that none of its text is lost.
    """
    cleaned = _CTRL_RE.sub("", body)
    if not cleaned.strip():
        return None
    raw = cleaned.encode("utf-8", "replace")
    try:
        doc = lxml_html.document_fromstring(raw, parser=_PARSER)
    except (etree.ParserError, ValueError):
        return None
    if any("Excessive depth" in error.message for error in _PARSER.error_log):
        return None
    return doc


def _flat_lines(body: str) -> list[str]:
    """Fallback extraction: strip tags with regexes, block tags break lines."""
    text = re.sub(r"(?is)<(script|style|noscript)\b.*?</\1\s*>", " ", body)
    text = re.sub(r"(?i)<\s*(br|/p|/div|/li|/h\d|/tr|p|div|li|h\d|tr)\b[^>]*>", "\n", text)
    text = re.sub(r"<[^>]*>", " ", text)
    text = htmllib.unescape(text)
    return [line for line in (_norm(x) for x in text.split("\n")) if line]


def _dates_from_raw(body: str, zone: tzinfo, out: _Extracted) -> None:
    """Date-line candidates from the top of the body (cheap regexes on the raw HTML)."""
    head = body[:4000]
    for m in re.finditer(r"<time\b[^>]*?\bdate[Tt]ime\s*=\s*[\"']([^\"']+)[\"']", head):
        dt = _parse_date_text(m.group(1), zone, loose=True)
        if dt is not None:
            out.dates.append(dt)
    # <i>date</i> (VOA, DW, Reuters, NYT, old BBC) and RFI's <div>dd/mm/yyyy - hh:mm</div>
    for m in re.finditer(r"<i>((?:[^<]|<br\s*/?>){4,120})</i>", head[:1500]):
        parts = [_norm(htmllib.unescape(x)) for x in re.split(r"<br\s*/?>", m.group(1))]
        for k, part in enumerate(parts):
            dt = _parse_date_text(part, zone, loose=True)
            if dt is not None:
                out.dates.append(dt)
                out.header_credits.extend(x for x in parts[:k] if x)
                break
        if out.dates:
            break
    m = re.search(r">\s*(\d{1,2}/\d{1,2}/\d{4}\s*-\s*\d{1,2}:\d{2})\s*<", head[:1500])
    if m:
        dt = _parse_date_text(m.group(1), zone, loose=False)
        if dt is not None:
            out.dates.append(dt)


_DATE_LINE_RE = re.compile(
    r"^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),.*\d{4}.*|\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+Z?)?|\d{1,2}/\d{1,2}/\d{4}\s*-\s*\d{1,2}:\d{2}|"
    r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日(?:\s*\S{0,3}\s*\d{1,2}:\d{2})?)$"
)


class _Walker:
    """One walk over a parsed body, collecting text lines, captions, images and bylines.

    Iterative (an explicit stack), so deeply nested markup cannot reach the
    recursion limit.  Running text gathers in ``buf`` until a block boundary
    flushes it as a line; some elements are taken whole (:meth:`_take_whole`).
    """

    def __init__(self, root: Any, rules: _Rules, out: _Extracted) -> None:
        self.root = root
        self.rules = rules
        self.out = out
        self.lines: list[str] = []
        self.buf: list[str] = []
        self.seen_images: set[str] = set()
        self.figures = _figure_blocks(root)
        self.byline_texts: list[str] = []
        self.after_media = False  # the last thing seen was an image or video: a <small> is its caption
        self.first_ul_checked = False

    def walk(self) -> None:
        """Walk the body and fill :attr:`out` (lines cleaned, authors named)."""
        body = self.root.find("body")
        # (element, phase): 0 on the way in, 1 on the way out (its tail follows it)
        stack: list[tuple[Any, int]] = [(body if body is not None else self.root, 0)]
        while stack:
            el, phase = stack.pop()
            if phase == 1:
                if el.tag in _BLOCK_TAGS:
                    self.flush()
                self.tail(el)
            elif self.enter(el):
                stack.append((el, 1))
                stack.extend((child, 0) for child in reversed(list(el)))
        self.flush()
        self.finish()

    def enter(self, el: Any) -> bool:
        """Take in an element's start; True when its children are to be walked."""
        tag = el.tag
        if not isinstance(tag, str):  # comment or processing instruction
            self.tail(el)
            return False
        tag = tag.lower()
        if self._take_whole(el, tag, _classify(el)):
            self.tail(el)
            return False
        if tag in _BLOCK_TAGS:
            self.flush()
        elif tag in ("td", "th"):
            self.buf.append(" ")
        if el.text:
            self.buf.append(el.text)
        return True

    def _take_whole(self, el: Any, tag: str, kind: str) -> bool:
        """Handle an element that is not walked into; True if ``el`` was one."""
        if kind == "skip":
            self._skip(el, tag)
        elif el in self.figures:
            self._figure(el)
        elif kind == "caption" or (tag == "small" and self.after_media):
            self._caption(el, tag, kind)
        elif kind == "byline":
            self.flush()
            self.byline_texts.append(_norm(el.text_content()))
        elif kind == "date" or tag in ("br", "hr"):
            self.flush()
        elif tag == "ul" and self._byline_list(el):
            pass
        elif tag in ("ul", "ol") and _is_link_list(el):
            self.flush()
        elif tag == "img":
            self.add_image(el)
        else:
            return False
        return True

    def tail(self, el: Any) -> None:
        if el.tail:
            self.buf.append(el.tail)

    def flush(self) -> None:
        """End the running line (if it has any text)."""
        if self.buf:
            line = _norm("".join(self.buf))
            self.buf.clear()
            if line:
                self.lines.append(line)
                self.after_media = False

    def add_caption(self, text: str) -> None:
        text = _TRAILING_CREDIT_RE.sub("", _norm(text))
        if text and not _CREDIT_RE.match(text) and text not in self.out.captions:
            self.out.captions.append(text)

    def add_image(self, el: Any) -> None:
        src = el.get("src") or el.get("data-src") or el.get("data-original") or ""
        self.after_media = True
        if not src or src.startswith("data:"):
            return
        self._add_source(_unproxy(src))
        title = el.get("title")
        if title and self.rules.image_titles_are_captions:
            self.add_caption(title)

    def _add_source(self, src: str) -> None:
        if src not in self.seen_images:
            self.seen_images.add(src)
            self.out.images.append(src)

    def _skip(self, el: Any, tag: str) -> None:
        """An element that is not text; its images and a video's poster still count."""
        if tag in ("video", "picture", "noscript"):
            if tag != "noscript":
                for img in el.iter("img"):
                    self.add_image(img)
            self.after_media = True
            if tag == "video" and el.get("poster"):
                self._add_source(_unproxy(el.get("poster")))
        elif tag == "iframe":
            self.after_media = True
        if tag in _BLOCK_TAGS or tag in ("nav", "footer", "aside", "form", "section", "div"):
            self.flush()

    def _figure(self, el: Any) -> None:
        """A container around a media placeholder: its images, and its text as captions."""
        self.flush()
        for img in el.iter("img"):
            self.add_image(img)
        for text in _block_texts(el):
            self.add_caption(text)
        self.after_media = False

    def _caption(self, el: Any, tag: str, kind: str) -> None:
        self.flush()
        for img in el.iter("img"):
            self.add_image(img)
        self.add_caption(" ".join(_block_texts(el)))
        self.after_media = tag == "small" or kind == "caption"

    def _byline_list(self, el: Any) -> bool:
        """A BBC byline list (the first ``<ul role="list">``, before any text); True if it was one."""
        if self.first_ul_checked or el.get("role") != "list" or self.lines:
            return False
        self.first_ul_checked = True
        names = _bbc_byline(el)
        self.byline_texts.extend(names)
        return bool(names)

    def finish(self) -> None:
        """Name the authors of the bylines; clean the lines; drop lines that repeat a caption."""
        out = self.out
        for text in self.byline_texts:
            for name in _split_names(text):
                if name not in out.authors:
                    out.authors.append(name)
        out.lines = _clean_lines(self.lines, self.rules, out)
        if out.captions and out.lines:
            captions = set(out.captions)
            out.lines = [line for line in out.lines if line not in captions]


def _is_link_list(el: Any) -> bool:
    """A list whose every item is only a link: "related articles", not text."""
    items = 0
    for li in el:
        if not isinstance(li.tag, str):
            continue
        if li.tag != "li":
            return False
        text = _norm(li.text_content())
        if not text:
            continue
        links = li.findall(".//a")
        if not links or _norm("".join(a.text_content() for a in links)) != text:
            return False
        items += 1
    return items > 0


def _block_texts(el: Any) -> list[str]:
    """The text of *el* split at block elements (for captions), skipping hidden parts."""
    parts: list[str] = []
    buf: list[str] = []
    stack: list[tuple[Any, int]] = [(el, 0)]
    while stack:
        node, phase = stack.pop()
        if phase == 1:
            if isinstance(node.tag, str) and node.tag in _BLOCK_TAGS:
                parts.append("".join(buf))
                buf.clear()
            if node.tail and node is not el:
                buf.append(node.tail)
            continue
        if not isinstance(node.tag, str):
            if node.tail:
                buf.append(node.tail)
            continue
        if node is not el and _classify(node) == "skip":
            if node.tail:
                buf.append(node.tail)
            continue
        if node.tag in _BLOCK_TAGS or node.tag == "br":
            parts.append("".join(buf))
            buf.clear()
        if node.text:
            buf.append(node.text)
        stack.append((node, 1))
        for child in reversed(list(node)):
            stack.append((child, 0))
    parts.append("".join(buf))
    return [p for p in (_norm(x) for x in parts) if p]


# --------------------------------------------------------------------------- authors

_JOB_RE = re.compile(
    r"(BBC|记者|記者|编辑|編輯|通讯员|通訊員|主编|主編|特约|特約|撰稿|评论员|評論員|专栏|專欄|主持|分析|"
    r"报道|報道|报导|報導|研究|总监|總監|主任|特派|驻|駐|Reporter|Correspondent|Editor|News|Journalist|"
    r"Analyst|Producer|Service|中文)",
    re.I,
)
_ALIAS_RE = re.compile(r"\s*[（(][^（）()]*[）)]\s*$")


def _bbc_byline(ul: Any) -> list[str]:
    """Names from a BBC ``<ul role="list">`` byline (job titles are dropped)."""
    items = [_norm(li.text_content()) for li in ul if isinstance(li.tag, str) and li.tag == "li"]
    if not items or len(items) > 6 or any(len(x) > 60 for x in items):
        return []
    names: list[str] = []
    for item in items:
        if not item or _JOB_RE.search(item):
            continue
        name = _ALIAS_RE.sub("", item).strip()
        if name and len(name) <= 40:
            names.append(name)
    return names


_NAME_SPLIT_RE = re.compile(r"\s*(?:[、,，/／;；&]|\band\b|\s及\s|與|与)\s*")
_BYLINE_PREFIX_RE = re.compile(r"^(?:(?:本[报報刊台网網]|特约|特約|駐\S{1,4}|驻\S{1,4})?(?:记者|記者)|撰文|文|作者|By)\s*[:：|｜/]?\s*", re.I)


def _split_names(text: str) -> list[str]:
    text = _norm(text)
    if not text or len(text) > 80:
        return []
    text = _BYLINE_PREFIX_RE.sub("", text)
    names = []
    for part in _NAME_SPLIT_RE.split(text):
        part = part.strip(" .。:：|｜")
        if part and len(part) <= 40:
            names.append(part)
    return names


# credit/byline lines inside the text: (pattern, group holding the names)
_CREDIT_RE = re.compile(
    r"^(?:图像来源|圖像來源|图片来源|圖片來源|图片版权|圖片版權|Image source|Image caption|Getty Images|图像加注文字|"
    r"圖像加註文字|图像标题|Photo credit|来源[:：]|圖片:|图片:|图:|圖:)",
    re.I,
)
_TRAILING_CREDIT_RE = re.compile(r"\s*(?:©|\(c\)|图片来源[:：]|圖片來源[:：]|Photo:)[^。！？.!?]{0,80}$")
_AUTHOR_LINE_RE = re.compile(
    r"^(?:作者|文|撰文|采写|採寫|(?:本刊|本报|本報|特约|特約|驻\S{1,6}|駐\S{1,6})?(?:记者|記者))\s*[:：|｜/丨]\s*"
    r"([^\s:：|｜/][^:：|｜]{0,40}?)"
    r"(?:\s+(?:责编|責編|网编|網編|编辑|編輯|翻译|翻譯|摄影|攝影|审校|審校|校对|校對)[:：].*)?$"
)


# --------------------------------------------------------------------------- boilerplate

# Generic boilerplate lines (anywhere, any outlet).
_BOILER_RE = re.compile(
    r"^(?:"
    r"你的器材不支持播放多媒体材料|你的設備不支持播放多媒體材料|您的浏览器不支持.*|您的瀏覽器不支援.*|"
    r"多媒体播放器|多媒體播放器|播放视频|播放影片|Media player|"
    r"下载BBC中文.*|下載BBC中文.*|.*(?:扫描|掃描|扫码|掃碼).{0,12}(?:关注|關注|订阅|訂閱).*|"
    r"(?:©|Copyright ©?|\(c\)).{0,120}|.*版权所有.{0,60}|.*版權所有.{0,60}|.*All rights reserved\.?|"
    r".{0,80}版权声明[:：].*|.{0,80}版權聲明[:：].*|"
    r"(?:图像来源|圖像來源|图片来源|圖片來源|图片版权|圖片版權|Image source|Image caption|图像加注文字|圖像加註文字)[，,:：\s].{0,80}|"
    r"(?:图像来源|圖像來源|图片来源|圖片來源|图片版权|圖片版權|Image source|Image caption|图像加注文字|圖像加註文字)|"
    r"获取更多RSS[:：].*|獲取更多RSS[:：].*|https?://feedx\.\w+|"
    r"Feed enhanced by .*|Post tags:.*|Continue reading on Medium.*|.*YouTube(?:播放列表|频道|頻道)[:：].*|"
    r"使用浏览器播视频.*|.*view video in browser|"
    r"分享(?:到|至)?(?:[:：].*)?|Share(?: this)?(?: on .*)?|"
    r"(?:相关|相關|延伸|推荐|推薦)(?:文章|阅读|閱讀|新闻|新聞|報導|报道|内容|內容|链接|鏈接)[:：]?|"
    r"(?:更多|更多内容|更多內容|继续阅读|繼續閱讀|阅读全文|閱讀全文|Read more|\.\.\.more|…more)|"
    r"(?:点击|點擊|按此)(?:查看|阅读|閱讀|訂閱|订阅).{0,30}|"
    r".{0,40}(?:订阅|訂閱).{0,20}(?:newsletter|简报|簡報|电子报|電子報|通讯|通訊).{0,60}|"
    r"(?:微信搜索|扫码关注|掃碼關注|长按识别|長按識別).*|"
    r"广告|廣告|Advertisement"
    r")$",
    re.I,
)

_WORD_RE = re.compile(r"[0-9A-Za-z\u00c0-\u024f\u0370-\u04ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def _clean_lines(lines: list[str], rules: _Rules, out: _Extracted) -> list[str]:
    """Drop boilerplate, the date line and credit/byline lines; collect bylines."""
    outlet_re = rules.boilerplate
    end_re = rules.end_marker
    kept: list[str] = []
    seen_date_line = False
    for idx, line in enumerate(lines):
        if not line:
            continue
        if end_re is not None and end_re.match(line):
            if kept:
                break
            continue  # a prompt above the article, not its footer
        if line.startswith("**") and line.endswith("**") and len(line) > 4:
            line = line[2:-2].strip()
        if not _WORD_RE.search(line):
            continue  # separators: "====", "* * *", "……"
        if len(line) <= 160:
            if _BOILER_RE.match(line):
                continue
            if outlet_re is not None and outlet_re.match(line):
                # RFI/RFA/NYT credit lines still name the author
                _author_from_line(line, rules, out)
                continue
            if idx < 6 and not seen_date_line and _DATE_LINE_RE.match(line):
                seen_date_line = True
                continue
            if _author_from_line(line, rules, out):
                continue
            if idx < 6 and line in out.header_credits:
                _header_credit(line, out)
                continue
        kept.append(line)
    return kept


_AUTHOR_SPACE_RE = re.compile(r"^(?:作者|记者|記者)\s+(\S{2,12})$")
_BRACKETS = {"【": "】", "（": "）", "(": ")", "[": "]", "〔": "〕"}
def _author_from_line(line: str, rules: _Rules, out: _Extracted) -> bool:
    """If *line* is a clearly marked byline (作者：X, 记者：X 责编：…), record X; True if it was one."""
    if len(line) > 80:
        return False
    if line[0] in _BRACKETS and line.endswith(_BRACKETS[line[0]]):
        line = line[1:-1].strip()
    m = _AUTHOR_LINE_RE.match(line) or _AUTHOR_SPACE_RE.match(line)
    if not m and rules.credit_line is not None:
        m = rules.credit_line.match(line)
    if not m:
        return False
    names = _split_names(m.group(1))
    names = [n for n in names if not _JOB_RE.search(n)]
    for name in names:
        if name not in out.authors:
            out.authors.append(name)
    return bool(names)


def _header_credit(line: str, out: _Extracted) -> None:
    """The credit above the date line (``采访记者： William Yang``, ``DAMIEN CAVE``) names the authors."""
    text = re.sub(r"^(?:采访记者|採訪記者|记者|記者|作者|撰文|文|By)\s*[:：]?\s*", "", line, flags=re.I)
    if not text or len(text) > 80:
        return
    for name in re.split(r"\s*(?:,|，|、|/|和|\band\b)\s*", text):
        name = name.strip()
        if name and not _JOB_RE.search(name) and name not in out.authors:
            out.authors.append(name)
