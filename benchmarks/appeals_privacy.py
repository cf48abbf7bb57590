"""Benchmark: masking recall and over-masking on generated appeals with planted personal data.

    .venv/bin/python benchmarks/appeals_privacy.py [--n 20000] [--seed 7]

Generates appeals of the data_samples enterprises (``quanhuiqi.synth.generate_appeals``: 35 % of bodies
carry 1–3 planted items — names after cues, mobiles in four spellings, landlines, e-mail, ID-card and
bank-card numbers, plates, detailed addresses — and 10 % each a USCC or a policy number that must stay),
masks every body and scores: recall per kind (a planted span counts when a mask covers all of it), the
USCCs and policy numbers touched by a mask (target 0), and the masked characters outside planted spans
(over-masking).  Writes ``benchmarks/results/appeals_privacy.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    from quanhuiqi.appeals import find_personal_data, mask_personal_data
    from quanhuiqi.synth.appeals import generate_appeals
    from quanhuiqi.tables import read_table

    raw, truth = generate_appeals(read_table(HERE.parent / "data_samples" / "enterprises.csv"), seed=args.seed,
                                  n=args.n, mess=False)
    bodies = raw["body"].tolist()
    t0 = time.perf_counter()
    mask_personal_data(raw["body"])
    mask_seconds = time.perf_counter() - t0
    per_kind: dict[str, list[int]] = {}
    protected = {"uscc": [0, 0], "policy_number": [0, 0]}
    masked_chars = outside_chars = text_chars = 0
    for body, pii, prot in zip(bodies, truth["pii"], truth["protected"]):
        spans = find_personal_data(body)
        planted = json.loads(pii)
        for _, a, b, kind in planted:
            got = per_kind.setdefault(kind, [0, 0])
            got[0] += 1
            got[1] += any(s <= a and b <= e for s, e, _ in spans)
        for _, a, b, kind in json.loads(prot):
            protected[kind][0] += 1
            protected[kind][1] += any(s < b and a < e for s, e, _ in spans)
        text_chars += len(body)
        for s, e, _ in spans:
            masked_chars += e - s
            inside = sum(max(0, min(e, b) - max(s, a)) for _, a, b, _k in planted)
            outside_chars += (e - s) - inside
    found = sum(v[0] for v in per_kind.values())
    covered = sum(v[1] for v in per_kind.values())
    result = {
        "command": f"benchmarks/appeals_privacy.py --n {args.n} --seed {args.seed}",
        "appeals": len(raw), "planted_spans": found, "recall": round(covered / found, 5),
        "recall_per_kind": {k: {"planted": v[0], "recall": round(v[1] / v[0], 5)} for k, v in sorted(per_kind.items())},
        "protected": {k: {"planted": v[0], "masked": v[1]} for k, v in protected.items()},
        "over_masking_chars_outside_planted": outside_chars, "masked_chars": masked_chars,
        "over_masking_share_of_text": round(outside_chars / text_chars, 6),
        "mask_seconds": round(mask_seconds, 2), "load": os.getloadavg(),
    }
    (HERE / "results" / "appeals_privacy.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
