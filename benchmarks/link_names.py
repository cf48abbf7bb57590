"""Benchmark: link 100,000 name-only rows to 1,000,000 enterprises (target < 60 s on 2 cores).

Run: ``.venv/bin/python benchmarks/link_names.py [--enterprises N] [--rows M]``.  Enterprise names
are built like registry names (place + 2–4 random 字号 characters + trade + legal form, unique);
the source rows are, in turn: the same name in another legal form / traditional / with a bracketed
place (exact after normalisation), the name with one character of the 字号 replaced (a typo), and
names of no enterprise.  Reports time, links by method, review and unmatched counts, and the share
of links that hit the enterprise the row was made from.  Writes ``benchmarks/results/link_names.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from quanhuiqi.profile import link

COMMON = list(
    "华信达通宏泰丰盛鑫源恒远润诚瑞祥嘉禾康德明正海天宇星辰金玉龙凤鹏翔国民安平新兴昌隆兆福利和谐乐美佳"
    "科创智慧博文雅致中东西南北山川河湖泉林森木青蓝紫红白光辉耀云霞雨雪风雷电阳月日晨晓春夏秋冬"
    "一二三四五六七八九十百千万亿长久永恒立志成功远航启程开拓进取精诚合作共赢齐鲁泰岱济舜历城槐荫"
)


def _chars() -> list[str]:
    """字号 characters: the favourites above, weighted, plus every CJK character of the shipped
    industry and place names (about 1,800) — registry names are far less dense than a small set."""
    from quanhuiqi.reference._files import read_reference_csv

    seen: set[str] = set()
    for f in ("gbt4754_2017.csv", "gbt2260_divisions_2024.csv", "jinan_towns_2023.csv"):
        seen |= {c for c in "".join(read_reference_csv(f)["name"].astype(str)) if "\u4e00" <= c <= "\u9fff"}
    return COMMON * 5 + sorted(seen)


CHARS = _chars()
PLACES = ["济南", "山东", "济南市", "章丘", "历城", ""]
TRADES = ["科技", "商贸", "餐饮管理", "信息技术", "建筑工程", "物流", "医药", "机械设备", "文化传媒", "环保科技",
          "食品", "电子", "新材料", "咨询服务", "房地产开发"]
FORMS = ["有限公司", "有限责任公司", "股份有限公司", "集团有限公司"]


def make_names(n: int, rng: np.random.Generator) -> pd.Series:
    chars = np.array(CHARS)
    k = rng.integers(2, 5, n)
    out: set[str] = set()
    names = []
    while len(names) < n:
        i = len(names)
        z = "".join(rng.choice(chars, k[i]))
        name = PLACES[rng.integers(len(PLACES))] + z + TRADES[rng.integers(len(TRADES))] + FORMS[rng.integers(4)]
        if name not in out:
            out.add(name)
            names.append(name)
    return pd.Series(names, dtype="string")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--enterprises", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    names = make_names(args.enterprises, rng)
    ents = pd.DataFrame({"uscc": [f"U{i:09d}" for i in range(args.enterprises)], "name": names})
    pick = rng.choice(args.enterprises, args.rows, replace=False)
    kind = rng.integers(0, 10, args.rows)  # 0-5 exact variant, 6-8 typo, 9 no such enterprise
    src_names, truth = [], []
    extra = make_names(args.rows, np.random.default_rng(2))
    for j, (i, kd) in enumerate(zip(pick, kind, strict=True)):
        name = str(names.iloc[i])
        if kd <= 5:
            v = name.replace("有限责任公司", "有限公司") if kd % 2 else name.replace("有限公司", "股份有限公司")
            v = v.replace("华", "華").replace("龙", "龍") if kd == 4 else v
            v = v + "（济南）" if kd == 5 else v
            truth.append(ents["uscc"].iloc[i])
        elif kd <= 8:
            pos = int(rng.integers(2, max(len(name) - 6, 3)))
            v = name[:pos] + CHARS[int(rng.integers(len(CHARS)))] + name[pos + 1:]
            truth.append(ents["uscc"].iloc[i])
        else:
            v = "青岛" + str(extra.iloc[j])
            truth.append(None)
        src_names.append(v)
    source = pd.DataFrame({"name": pd.Series(src_names, dtype="string"), "amount": np.arange(args.rows)})
    t_build = time.perf_counter() - t0

    t0, c0 = time.perf_counter(), time.process_time()
    res = link(ents, source, workers=2)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    linked = res.links.set_index("source_row")["uscc"]
    truth_s = pd.Series(truth, dtype="string")
    hit = truth_s.reindex(linked.index)
    right = (linked == hit).fillna(False)
    correct = int(right.sum())
    method = res.links.set_index("source_row")["method"]
    by_method = {m: round(float(right[method == m].mean()), 4) for m in ("name_exact", "name_fuzzy")}
    made_from = pd.Series(np.where(kind <= 5, "variant", np.where(kind <= 8, "typo", "absent")))
    wrong_from = made_from.reindex(linked.index[~right.to_numpy()]).value_counts().to_dict()
    result = {
        "enterprises": args.enterprises,
        "rows": args.rows,
        "link_seconds": round(seconds, 2),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
        "build_input_seconds": round(t_build, 2),
        **res.summary(),
        "link_cpu_seconds": round(cpu, 2),
        "link_precision": round(correct / max(len(linked), 1), 4),
        "precision_by_method": by_method,
        "wrong_links_by_row_kind": wrong_from,
        "targets": {"link_seconds": 60},
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    out = Path(__file__).resolve().parent / "results" / "link_names.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
