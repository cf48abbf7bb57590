"""Benchmark: profile a million enterprises (target < 30 s on 2 cores, peak memory < 4 GB).

Run: ``.venv/bin/python benchmarks/profile_city.py [--rows N]``.  Builds a clean-shaped enterprise
table (as ``validate_enterprises`` hands it over: canonical codes, registry status text, dates,
floats with gaps, ``;``-joined certifications, some industries only by name), then times
``quanhuiqi.profile.profile`` alone.  Peak memory is the process's maximum RSS (data included).
Writes ``benchmarks/results/profile_city.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from quanhuiqi.profile import profile
from quanhuiqi.profile.industry import evaluate_name_matching
from quanhuiqi.reference.industries import industry_table

STATUS_TEXTS = ["存续", "在业", "开业", "存续（在营、开业、在册）", "吊销，未注销", "注销", "迁出", "停业", "清算",
                "在營", " 存续 ", "歇业", "其他"]
INDUSTRY_NAMES = ["软件开发", "批发业", "零售", "餐饮", "应用软件开发", "制造业", "建筑业", "物业管理", "道路货物运输",
                  "计算机、通信和其他电子设备制造业", "科技推广", "酒店", "商贸", "医药制造", "  應用軟件開發 "]
CERTS = ["", "", "", "", "", "high_tech", "tech_sme", "high_tech;tech_sme", "specialized_sme", "little_giant;specialized_sme"]


def industry_names(rng: np.random.Generator) -> np.ndarray:
    """The spellings above plus every 小类 name with one character dropped (about 1,000 distinct
    misspellings): fuzzy matching runs once per distinct name, so distinct names are the cost."""
    leaf = industry_table().query("level == 4")["name"]
    typos = [n[:i] + n[i + 1:] for n in leaf if len(n) >= 6 for i in [int(rng.integers(1, len(n) - 1))]]
    return np.array(INDUSTRY_NAMES + list(leaf) + typos, dtype=object)


def make_clean(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tab = industry_table()
    names = industry_names(rng)
    codes = tab["code"].to_numpy(dtype=object)
    code = codes[rng.integers(0, len(codes), n)]
    which = rng.random(n)
    code = np.where(which < 0.8, code, None)
    name_only = (which >= 0.8) & (which < 0.9)
    ind_name = np.where(name_only, names[rng.integers(0, len(names), n)], None)

    def maybe(x, p=0.2):
        return np.where(rng.random(n) < p, np.nan, x)

    est = pd.Timestamp("1990-01-01") + pd.to_timedelta(rng.integers(0, 35 * 365, n), unit="D")
    revenue = rng.lognormal(5, 2, n)
    return pd.DataFrame(
        {
            "row": np.arange(1, n + 1, dtype=np.int64),
            "uscc": pd.Series([f"91370100{i:010d}" for i in range(n)], dtype="string"),
            "name": pd.Series([f"济南企业{i}有限公司" for i in range(n)], dtype="string"),
            "industry_code": pd.Series(code, dtype="string"),
            "industry_name": pd.Series(ind_name, dtype="string"),
            "district_code": pd.Series(np.array(["370102", "370103", "370112", None], dtype=object)[rng.integers(0, 4, n)],
                                       dtype="string"),
            "status": pd.Series(np.array(STATUS_TEXTS, dtype=object)[rng.integers(0, len(STATUS_TEXTS), n)],
                                dtype="string"),
            "established_on": pd.Series(est).where(rng.random(n) > 0.05),
            "employees": maybe(np.floor(rng.lognormal(2.5, 1.5, n))),
            "revenue": maybe(revenue),
            "revenue_prev": maybe(revenue * rng.uniform(0.5, 1.5, n)),
            "total_assets": maybe(rng.lognormal(6, 2, n)),
            "rd_expense": maybe(revenue * rng.uniform(0, 0.1, n), 0.5),
            "tax_paid": maybe(revenue * rng.uniform(0, 0.08, n), 0.3),
            "tax_credit_rating": pd.Series(np.array(list("ABMCD") + [None], dtype=object)[rng.integers(0, 6, n)],
                                           dtype="string"),
            "certifications": pd.Series(np.array(CERTS, dtype=object)[rng.integers(0, len(CERTS), n)], dtype="string"),
            "abnormal_operation": pd.array(rng.random(n) < 0.05, dtype="boolean"),
            "serious_dishonest": pd.array(rng.random(n) < 0.01, dtype="boolean"),
        }
    )


def name_precision() -> dict[str, dict[str, float]]:
    """Precision of name → code on every 小类 name as registries write it (traditional, padded,
    企业 suffix, 其它 for 其他) and with one character dropped; correct = the code or an ancestor."""
    from opencc import OpenCC

    s2t = OpenCC("s2t")
    leaf = industry_table().query("level == 4")
    rng = np.random.default_rng(0)
    spelled = [s2t.convert(n) for n in leaf["name"]] + ["\u3000" + n.replace("其他", "其它") + "企业 " for n in leaf["name"]]
    typo_pairs = [(n[:i] + n[i + 1:], c) for n, c in zip(leaf["name"], leaf["code"], strict=True) if len(n) >= 6
                  for i in [int(rng.integers(1, len(n) - 1))]]
    out = {
        "registry_spellings": evaluate_name_matching(spelled, list(leaf["code"]) * 2),
        "one_char_dropped": evaluate_name_matching([t for t, _ in typo_pairs], [c for _, c in typo_pairs]),
    }
    return {k: {m: (round(v, 4) if isinstance(v, float) else v) for m, v in d.items()} for k, d in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    clean = make_clean(args.rows)
    t_make = time.perf_counter() - t0
    profile(clean.head(1000), "2025-07-01")  # load the shipped reference tables once (cached)
    t0, c0 = time.perf_counter(), time.process_time()
    prof = profile(clean, "2025-07-01")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    assert len(prof) == len(clean) and (prof["row"].to_numpy() == clean["row"].to_numpy()).all()
    result = {
        "rows": args.rows,
        "profile_seconds": round(seconds, 2),
        "profile_cpu_seconds": round(cpu, 2),
        "rows_per_second": round(args.rows / seconds),
        "peak_rss_gb": round(peak_gb, 2),
        "build_input_seconds": round(t_make, 2),
        "size_class_decided_share": round(float(prof["size_class"].notna().mean()), 3),
        "status_unknown_share": round(float(prof["status"].isna().mean()), 3),
        "distinct_industry_names": int(clean["industry_name"].nunique()),
        "industry_from_name_share_of_named": round(float(prof["industry_match"].eq("name").sum()
                                                         / max(clean["industry_name"].notna().sum(), 1)), 3),
        "industry_name_precision": name_precision(),
        "targets": {"profile_seconds": 30, "peak_rss_gb": 4},
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    out = Path(__file__).resolve().parent / "results" / "profile_city.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
