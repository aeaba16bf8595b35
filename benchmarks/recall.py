"""Search quality on the real corpus: verbatim recall/precision and known-item MRR@10.

    .venv/bin/python benchmarks/recall.py [--data DIR] [--terms N] [--known 200]

Without ``--data`` it ingests ``../shared/corpus`` (feeds, older versions, jekyll, hkcnews) into
``benchmarks/out/corpus`` first (a few minutes; reused on later runs).

*Recall/precision*: for each term of a fixed list (names, places, 2–6 characters, both scripts), the
truth is the set of articles whose folded title/text/captions contain the term as a substring; newsarc's
hits (aliases off) are compared with it.  Beside it, the recall a plain jieba word index would get (all
of the term's search-mode tokens present as words) shows what the verbatim layer adds.

*Known item*: 200 articles drawn with a fixed seed; the query is 2–3 words of the article's title; the
reciprocal rank of the article within the first 10 hits, averaged (MRR@10).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from newsarc.analysis import Segmenter, fold  # noqa: E402
from newsarc.ingest import ingest  # noqa: E402
from newsarc.query import parse_query  # noqa: E402
from newsarc.search import SearchOptions, open_searcher  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"

TERMS = """
普京 朝鲜 朝鮮 金正恩 习近平 習近平 崔善姬 泽连斯基 澤連斯基 特朗普 川普 拜登 香港 台湾 台灣
乌克兰 烏克蘭 俄罗斯 北朝鲜 平壤 莫斯科 林郑月娥 林鄭月娥 李家超 黎智英 黄之锋 黃之鋒 周庭
立法会 立法會 国安法 國安法 新疆 维吾尔 維吾爾 西藏 达赖喇嘛 蔡英文 赖清德 賴清德 柯文哲 马英九
馬英九 蓬佩奥 布林肯 王毅 秦刚 李强 李克强 哈马斯 以色列 加沙 伊朗 联合国 北约 欧盟 华为 華為
抖音 新冠 疫苗 武汉 武漢 上海 深圳 旺角 铜锣湾 銅鑼灣 中环 中環 九龙 九龍 元朗 理大 刘晓波
劉曉波 艾未未 马斯克 馬斯克 苹果日报 蘋果日報 梅德韦杰夫 内塔尼亚胡 莫迪 岸田文雄 尹锡悦
普丁 北韩 躺平 白纸 清零 戴耀廷 何君尧 何君堯 邓炳强 鄧炳強 郑若骅 鄭若驊 葉劉淑儀 陳同佳
周永康 薄熙来 彭帅 李文亮 方方 张展 许志永 丁家喜 王炳章 余茂春 毛泽东 邓小平
""".split()

STOP = set("的 了 在 是 和 与 及 或 等 这 那 将 对 为 于 被 从 也 都 就 而 后 中 上 下 年 月 日".split())


def ensure_archive(data: Path | None) -> Path:
    if data is not None:
        return data
    out = ROOT / "benchmarks" / "out" / "corpus"
    if not (out / "articles.db").exists():
        folders = [CORPUS / n for n in ("feeds", "feeds-older-versions", "feeds-jekyll", "hkcnews")]
        if not all(f.is_dir() for f in folders):
            sys.exit(f"corpus not found under {CORPUS}")
        print(f"ingesting the corpus into {out} …", file=sys.stderr)
        summary = ingest(folders, out)
        print(f"ingested {summary.as_dict()}", file=sys.stderr)
    return out


def recall_precision(data: Path, terms: list[str]) -> None:
    segmenter = Segmenter()
    with open_searcher(data, aliases=False) as s:
        reader = s.reader
        id_of = {d: reader.article_id(d) for d in reader.live_docs()}
        folded = {}
        rows = s.store.conn.execute("SELECT id FROM articles")
        all_ids = [r[0] for r in rows]
        for aid, text in s.store.folded_texts(all_ids):
            folded[aid] = text
        print(f"archive: {len(folded)} articles")
        print(f"{'term':<10} {'truth':>6} {'hits':>6} {'recall':>7} {'prec':>7} {'jieba-only':>10} {'ms':>6}")
        tot_truth = tot_hits = tot_ok = tot_naive = 0
        worst: list[str] = []
        for term in terms:
            f = fold(term)
            truth = {aid for aid, text in folded.items() if f in text}
            t0 = time.perf_counter()
            hits = {id_of[d] for d in s.matching(parse_query(term))}
            ms = (time.perf_counter() - t0) * 1000
            ok = len(hits & truth)
            tokens = [t for t in segmenter.cut_for_search(f)]
            naive = None
            for t in tokens:
                docs = s._any_field(t, ("title", "body"))
                naive = docs if naive is None else naive & docs
            naive_ids = {id_of[d] for d in (naive or set())}
            naive_ok = len(naive_ids & truth)
            tot_truth += len(truth)
            tot_hits += len(hits)
            tot_ok += ok
            tot_naive += naive_ok
            rec = ok / len(truth) if truth else 1.0
            prec = ok / len(hits) if hits else 1.0
            if rec < 1 or prec < 1:
                worst.append(f"{term}: missed {sorted(truth - hits)[:5]} extra {sorted(hits - truth)[:5]}")
            nrec = naive_ok / len(truth) if truth else 1.0
            print(f"{term:<10} {len(truth):>6} {len(hits):>6} {rec:>7.1%} {prec:>7.1%} {nrec:>10.1%} {ms:>6.1f}")
        print(
            f"\nTOTAL {len(terms)} terms: truth {tot_truth}, hits {tot_hits}, "
            f"recall {tot_ok / max(tot_truth, 1):.4%}, precision {tot_ok / max(tot_hits, 1):.4%}, "
            f"plain jieba word index recall {tot_naive / max(tot_truth, 1):.4%}"
        )
        for line in worst:
            print("  " + line)


def known_item(data: Path, n: int, seed: int = 7) -> None:
    segmenter = Segmenter()
    rng = random.Random(seed)
    with open_searcher(data, aliases=False) as s:
        rows = s.store.conn.execute("SELECT id, title FROM articles ORDER BY id").fetchall()
        rng.shuffle(rows)
        rr: list[float] = []
        times: list[float] = []
        misses = []
        for aid, title in rows:
            if len(rr) >= n:
                break
            words = [w for w in dict.fromkeys(segmenter._jieba.cut(title)) if len(w) >= 2 and w.strip() and w not in STOP and any(c.isalnum() for c in w)]
            if len(words) < 2:
                continue
            k = min(len(words), rng.choice((2, 3)))
            query = " ".join(rng.sample(words, k))
            t0 = time.perf_counter()
            try:
                result = s.search(query, SearchOptions(limit=10))
            except Exception as exc:  # report and go on
                print(f"query {query!r} failed: {exc}")
                rr.append(0.0)
                continue
            times.append(time.perf_counter() - t0)
            ranks = [h.id for h in result.hits]
            r = 1.0 / (ranks.index(aid) + 1) if aid in ranks else 0.0
            if r < 1:
                misses.append(f"{query!r} → rank {ranks.index(aid) + 1 if aid in ranks else '>10'} of {result.total} ({title[:30]})")
            rr.append(r)
        print(f"\nknown-item: {len(rr)} queries, MRR@10 {statistics.mean(rr):.3f}, "
              f"first {sum(1 for r in rr if r == 1)}, in top 10 {sum(1 for r in rr if r > 0)}, "
              f"median query {statistics.median(times) * 1000:.1f} ms")
        for line in misses[:15]:
            print("  " + line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path)
    ap.add_argument("--known", type=int, default=200)
    args = ap.parse_args()
    data = ensure_archive(args.data)
    recall_precision(data, TERMS)
    known_item(data, args.known)


if __name__ == "__main__":
    main()
