"""Benchmark: validate_enterprises over 1,000,000 rows (a varied messy frame tiled, USCCs and names made unique).

Run: .venv/bin/python benchmarks/validate_enterprises.py [--rows N]
Prints wall time per stage and peak RSS; writes benchmarks/results/validate_enterprises.json.
The frame is deliberately messy (about one cell in ten is wrong, one row in eight has no name),
so the rejects table is large: a worst case for the rejects path, not a typical registry.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from quanhuiqi.tables import read_enterprises, validate_enterprises
from quanhuiqi.tables.uscc import ALPHABET, make_uscc, org_check_values

SMALL = pd.DataFrame(
    {
        "name": [
            "济南历下科技有限公司",
            "濟南華新電子有限公司",
            "  泉城贸易商行 ",
            "ＡＢＣ软件（济南）有限公司",
            "章丘铸造厂",
            "",
            "莱芜钢铁配件有限公司",
            "高新区生物医药有限公司",
        ],
        "industry_code": ["C3911", "３９", "I6513", "6513", "9999", None, "C33", "c2720"],
        "industry_name": [None, None, "批发业", None, "铸造", "软件开发", None, None],
        "district_code": ["370102", "370181", "３７０１０３", "371202", "370176", "999999", None, "370112"],
        "status": ["存续", "在業", "开业", "吊销", "注销", None, "存续（在营、开业、在册）", "迁出"],
        "established_on": [
            "2019-03-05",
            "2019/3/5",
            "2019年3月5日",
            "20190305",
            "2031-01-01",
            "bad",
            None,
            "2008-12-31",
        ],
        "enterprise_type": [
            "有限责任公司",
            "股份有限公司",
            "个人独资企业",
            "合伙企业",
            None,
            "外商投资企业",
            "有限責任公司",
            "有限责任公司",
        ],
        "registered_capital": ["100", "1,000", "-5", "５０", None, "abc", "3.5", "0"],
        "employees": ["12", "300", None, "-1", "8", "20", "1500", "3"],
        "insured_employees": ["10", "280", None, "0", "8", "18", "1400", "3"],
        "insured_months": ["14", "36", "2", None, "12", "60", "120", "1"],
        "layoff_rate": ["0.05", "5%", "1.5", None, "0", "0.2", "-0.1", "0.01"],
        "revenue": ["1200", "50000", "30", None, "800", "-3", "250000", "10"],
        "revenue_prev": ["1000", "45000", "25", None, "900", "2", "240000", "8"],
        "total_assets": ["2000", "80000", "10", None, "700", "5", "500000", "4"],
        "rd_expense": ["60", "2500", None, None, "0", "1", "9000", "0.5"],
        "tax_paid": ["80", "3000", "1", None, "20", "0", "12000", "0.2"],
        "tax_credit_rating": ["A", "B", "M", "C", "D", "Z", None, "a级"],
        "certifications": [
            "high_tech;tech_sme",
            "高新技術企業；小巨人",
            None,
            "",
            "专精特新、瞪羚",
            "foo",
            "unicorn,gazelle",
            "科技型中小企业",
        ],
        "abnormal_operation": ["false", "true", "是", "否", "1", "0", "maybe", None],
        "serious_dishonest": ["False", "True", None, "0", "0", "1", "否", "x"],
        "ip_count": ["3", "0", None, "12", "1", "0", "40", "2"],
    },
    dtype="string",
)


def unique_usccs(n: int, rng: np.random.Generator) -> pd.Series:
    """n distinct valid codes: authority 9/1, Jinan admin codes, random organisation codes with their check."""
    alpha = np.array(list(ALPHABET[:-1]))  # no Y in organisation bodies
    body = alpha[rng.integers(0, len(alpha), size=(n, 8))]
    cp = np.ascontiguousarray(body).view(np.uint32).astype(np.int64)
    vals = np.where(cp <= ord("9"), cp - ord("0"), cp - 55)  # GB 11714: A = 10 … Z = 35
    chk = org_check_values(vals)
    chk_chars = np.where(chk == 10, "X", chk.astype(str))
    prefix = np.where(rng.random(n) < 0.9, "91", "92")
    admin = np.array(["370102", "370103", "370104", "370105", "370112", "370113", "370114", "370115"])[
        rng.integers(0, 8, n)
    ]
    body17 = pd.Series(
        np.char.add(
            np.char.add(np.char.add(prefix, admin), np.ascontiguousarray(body).view("U8")[:, 0]), chk_chars
        ),
        dtype="string",
    )
    codes = make_uscc(body17)
    return codes.drop_duplicates()


def build(n_rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = SMALL.take(np.arange(n_rows) % len(SMALL)).reset_index(drop=True)
    codes = unique_usccs(int(n_rows * 1.01), rng).iloc[:n_rows].to_numpy()
    df.insert(0, "uscc", pd.Series(codes, dtype="string"))
    # ~0.5 % invalid codes (a changed character) and ~0.5 % duplicates of an earlier row
    bad = rng.random(n_rows) < 0.005
    df.loc[bad, "uscc"] = df.loc[bad, "uscc"].str.slice_replace(17, 18, "0")
    dup = np.flatnonzero(rng.random(n_rows) < 0.005)
    dup = dup[dup > 0]
    df.loc[dup, "uscc"] = df["uscc"].to_numpy()[dup - 1]
    named = df["name"].str.strip() != ""  # blank names stay blank (rejected: missing required value)
    df.loc[named, "name"] = (
        df.loc[named, "name"] + pd.Series(np.arange(n_rows).astype(str), dtype="string")[named]
    )
    return df


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux ``clear_refs`` 5) so each stage's peak is its own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak RSS since the last reset (Linux VmHWM), else getrusage's lifetime peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 if sys.platform != "darwin" else r / 2**20


def current_rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "enterprises.csv"
        build(args.rows).to_csv(path, index=False)
        t_build = time.perf_counter() - t0
        reset_peak_rss()
        t0 = time.perf_counter()
        raw = read_enterprises(path)
        t_read = time.perf_counter() - t0
    peak_read = peak_rss_mb()
    # first call loads the shipped standards and the 繁→简 table (cached for the process)
    t0 = time.perf_counter()
    validate_enterprises(raw.iloc[:1000], "2025-06-30")
    t_warm = time.perf_counter() - t0
    reset_peak_rss()
    rss_before = current_rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    v = validate_enterprises(raw, "2025-06-30")
    t_validate, c_validate = time.perf_counter() - t0, time.process_time() - c0
    result = {
        "rows_in": v.rows_in,
        "rows_out": len(v.clean),
        "rows_rejected": v.rows_rejected,
        "reject_records": len(v.rejects),
        "build_and_write_csv_seconds": round(t_build, 2),
        "read_csv_seconds": round(t_read, 2),
        "read_peak_rss_mb": round(peak_read, 1),
        "first_call_1000_rows_seconds": round(t_warm, 2),
        "validate_seconds": round(t_validate, 2),
        "validate_cpu_seconds": round(c_validate, 2),
        "rows_per_second": round(v.rows_in / t_validate),
        "rss_mb_before_validate": round(rss_before, 1),
        "validate_peak_rss_mb": round(peak_rss_mb(), 1),
        "validate_extra_peak_mb": round(peak_rss_mb() - rss_before, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "results" / "validate_enterprises.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
