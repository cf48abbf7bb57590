"""Benchmark: issue grouping on real appeal text — the unlabelled and reply tables of the 2020 泰迪杯 问政
messages (real timestamps, real wording; citizens' messages, not enterprise appeals).

    .venv/bin/python benchmarks/appeals_issues_real.py [--data ../shared/data/appeals]

Reports what the grouping finds and how its clusters read: issues, their sizes, the largest and the
fastest-growing issues with their labels and a few member titles, near-duplicates, bursts, and the reply
completeness of the real replies.  There is no truth for issues here; a reader judges the clusters.  The
real data is read by path only (never shipped); the script says so and stops when it is absent.  Writes
``benchmarks/results/appeals_issues_real.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def _read(path: Path) -> pd.DataFrame:
    d = pd.read_csv(path, dtype=str)
    out = pd.DataFrame({
        "appeal_id": (path.stem[:1] + d["留言编号"].astype(str)),
        "received_at": d["留言时间_iso"] if "留言时间_iso" in d.columns else d["留言时间"],
        "title": d["留言主题"], "body": d["留言详情"].str.strip(),
    })
    if "答复意见" in d.columns:
        out["reply"] = d["答复意见"].str.strip()
        out["resolved_at"] = d["答复时间_iso"] if "答复时间_iso" in d.columns else d["答复时间"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/appeals")
    args = ap.parse_args()
    data = Path(args.data)
    if not (data / "unlabeled_messages.csv").exists():
        print(f"real appeals not found in {data} (benchmark only; pass --data)", file=sys.stderr)
        sys.exit(2)
    from quanhuiqi.appeals import validate_appeals
    from quanhuiqi.appeals.insight import reply_completeness
    from quanhuiqi.appeals.issues import group_appeals, issue_table, related_issues
    from quanhuiqi.appeals.privacy import mask_personal_data
    from quanhuiqi.appeals.trends import burst_episodes, detect_bursts, issue_daily

    raw = pd.concat([_read(data / "unlabeled_messages.csv"), _read(data / "replies.csv")], ignore_index=True)
    v = validate_appeals(raw.astype("string"), link=False)
    clean = v.clean
    t0 = time.perf_counter()
    c0 = resource.getrusage(resource.RUSAGE_SELF)
    g, st = group_appeals(clean)
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    secs = time.perf_counter() - t0
    cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    tab = issue_table(st)
    sizes = tab["size"].to_numpy()
    a = clean.assign(issue_id=g["issue_id"].to_numpy())
    titles = mask_personal_data(clean["title"].astype("string"))
    big = tab.sort_values("size", ascending=False).head(15)
    examples = []
    for r in big.itertuples():
        members = titles[(a["issue_id"] == r.issue_id).to_numpy()]
        examples.append({"issue_id": r.issue_id, "size": int(r.size), "label": r.label,
                         "member_titles": members.drop_duplicates().head(6).tolist()})
    flags = detect_bursts(issue_daily(a), issues=st.issues)
    eps = burst_episodes(flags).merge(tab[["issue_id", "label"]], on="issue_id").sort_values("min_p_value")
    rep = clean[clean["reply"].notna()]
    comp = reply_completeness(st, mask_personal_data(rep["title"].astype("string") + "。" + rep["body"].astype("string")),
                              mask_personal_data(rep["reply"].astype("string")))
    result = {
        "command": f"benchmarks/appeals_issues_real.py --data {args.data}",
        "messages": len(clean), "rejected_rows": v.rows_rejected,
        "span": [str(clean["received_at"].min()), str(clean["received_at"].max())],
        "issues": len(tab), "singletons": int((sizes == 1).sum()),
        "issues_ge_5": int((sizes >= 5).sum()), "appeals_in_issues_ge_5": int(sizes[sizes >= 5].sum()),
        "largest": int(sizes.max()), "near_duplicates": int(g["near_duplicate_of"].notna().sum()),
        "related_issue_pairs": len(related_issues(st)),
        "group_seconds": round(secs, 1), "group_cpu_seconds": round(cpu, 1),
        "largest_issues": examples,
        "burst_episodes": len(eps),
        "strongest_bursts": eps.head(8).astype(str).to_dict("records"),
        "reply_completeness": {"replies": int(np.isfinite(comp).sum()),
                               "mean": round(float(np.nanmean(comp)), 3),
                               "quartiles": [round(float(q), 3) for q in np.nanpercentile(comp, [25, 50, 75])]},
        "load": os.getloadavg(),
    }
    (HERE / "results" / "appeals_issues_real.json").write_text(json.dumps(result, ensure_ascii=False, indent=1,
                                                                          default=str), encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k not in ("largest_issues", "strongest_bursts")},
                     ensure_ascii=False, default=str))
    for e in examples[:8]:
        print(e["size"], e["label"], "|", " / ".join(map(str, e["member_titles"][:4])))


if __name__ == "__main__":
    main()
