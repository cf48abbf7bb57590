"""A small hand-made city for the daily job's tests: real files in the data-folder layout.

Built from a seed so each test gets its own copy; sizes are small enough that a run takes a
couple of seconds.  Every table of ``DATA_FILES`` the job reads is present.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from quanhuiqi.tables.uscc import make_uscc, org_check_char

DAY = "2025-07-01"

POLICIES = {
    "stable_jobs.yaml": """
id: JN-RS-2025-001
title: 失业保险稳岗返还
department: 市人力资源社会保障局
mode: auto
valid_from: 2025-01-01
valid_to: 2025-12-31
benefit: {kind: refund, max_amount: 300}
eligibility:
  all:
    - {field: status, op: eq, value: active}
    - {field: district_code, op: under, value: ["3701"]}
    - {field: insured_months, op: ge, value: 12}
    - {field: serious_dishonest, op: eq, value: false}
    - {field: layoff_rate, op: le, value: 0.055}
""",
    "rd.yaml": """
id: JN-KJ-2025-002
title: 研发费用补助
department: 市科学技术局
mode: apply
valid_from: 2025-01-01
valid_to: 2025-07-10
benefit: {kind: subsidy, max_amount: 100}
eligibility:
  all:
    - {field: status, op: eq, value: active}
    - {field: rd_expense, op: ge, value: 50}
""",
    "sme.yaml": """
id: JN-GX-2025-003
title: 中小企业贷款贴息
department: 市工业和信息化局
mode: instant
valid_from: 2025-03-01
valid_to: 2025-12-31
benefit: {kind: subsidy, max_amount: 50}
eligibility:
  all:
    - {field: status, op: eq, value: active}
    - {field: employees, op: le, value: 300}
""",
    "new.yaml": """
id: JN-SW-2025-004
title: 新设企业开办补贴
department: 市商务局
mode: apply
valid_from: 2025-06-28
valid_to: 2025-12-31
benefit: {kind: subsidy, max_amount: 10}
eligibility:
  all:
    - {field: status, op: eq, value: active}
    - {field: registered_capital, op: ge, value: 10}
""",
    "tax.yaml": """
id: JN-SW-2025-005
title: 纳税信用A级企业奖励
department: 市税务局
mode: apply
valid_from: 2025-01-01
valid_to: 2025-12-31
benefit: {kind: award, max_amount: 20}
eligibility:
  all:
    - {field: status, op: eq, value: active}
    - {field: tax_credit_rating, op: ge, value: B}
""",
}
POLICY_IDS = ["JN-RS-2025-001", "JN-KJ-2025-002", "JN-GX-2025-003", "JN-SW-2025-004", "JN-SW-2025-005"]


def make_city(root: Path, n: int = 400, seed: int = 0) -> Path:
    """Write a data folder with ``n`` enterprises (a few deliberately bad rows) and its state tables."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    orgs = [f"M{seed % 10}{i:06d}" for i in range(n)]
    uscc = [make_uscc("91370102" + o + org_check_char(o)) for o in orgs]
    districts = rng.choice(["370102", "370103", "370112", "370181", "110101"], n)
    ent = pd.DataFrame(
        {
            "uscc": uscc,
            "name": [f"济南测试企业{i}有限公司" for i in range(n)],
            "industry_code": rng.choice(["C3911", "I6510", "F5191", "39", ""], n),
            "district_code": districts,
            "status": rng.choice(["存续", "在业", "吊销", "注销", ""], n, p=[0.6, 0.2, 0.08, 0.07, 0.05]),
            "established_on": pd.Timestamp("2005-01-01") + pd.to_timedelta(rng.integers(0, 7000, n), unit="D"),
            "registered_capital": rng.gamma(2.0, 300.0, n).round(1),
            "employees": rng.integers(1, 800, n).astype(float),
            "insured_employees": rng.integers(1, 400, n).astype(float),
            "insured_months": rng.integers(0, 60, n).astype(float),
            "layoff_rate": rng.uniform(0, 0.1, n).round(3),
            "rd_expense": rng.gamma(1.5, 60.0, n).round(1),
            "tax_credit_rating": rng.choice(["A", "B", "M", "C", ""], n),
            "serious_dishonest": rng.choice(["false", "true", ""], n, p=[0.85, 0.05, 0.1]),
        }
    )
    ent["established_on"] = ent["established_on"].dt.strftime("%Y-%m-%d")
    ent = ent.astype(str).replace({"": pd.NA, "nan": pd.NA})
    ent.loc[3, "uscc"] = "91370102BADCODE001"  # invalid check character: rejected
    ent.loc[5, "uscc"] = ent.loc[4, "uscc"]  # duplicate: rejected
    ent.loc[7, "layoff_rate"] = "1.7"  # out of range: cleared
    ent.to_csv(root / "enterprises.csv", index=False)

    pol = root / "policies"
    pol.mkdir(exist_ok=True)
    for fname, text in POLICIES.items():
        (pol / fname).write_text(text.lstrip(), encoding="utf-8")

    day = pd.Timestamp(DAY)
    m = 3 * n
    hist = pd.DataFrame(
        {
            "date": (day - pd.to_timedelta(rng.integers(1, 90, m), unit="D")).date,
            "uscc": rng.choice(uscc, m),
            "policy_id": rng.choice(POLICY_IDS, m),
            "rank": rng.integers(1, 4, m),
            "score": rng.uniform(0, 3, m),
            "mode": "apply",
            "clicked": rng.uniform(size=m) < 0.2,
            "applied": rng.uniform(size=m) < 0.05,
            "approved": rng.uniform(size=m) < 0.03,
        }
    )
    hist.loc[0, "uscc"] = None  # bad row: rejected, the run goes on
    hist.to_parquet(root / "push_history.parquet", index=False)
    k = n // 10
    grants = pd.DataFrame(
        {
            "uscc": rng.choice(uscc, k),
            "policy_id": rng.choice(POLICY_IDS, k),
            "granted_on": (day - pd.to_timedelta(rng.integers(1, 200, k), unit="D")).strftime("%Y-%m-%d"),
            "amount": rng.uniform(1, 50, k).round(2),
        }
    ).drop_duplicates(["uscc", "policy_id"])
    grants.to_csv(root / "grants.csv", index=False)
    j = n // 20
    sup = pd.DataFrame(
        {
            "uscc": rng.choice(uscc, j),
            "policy_id": rng.choice(POLICY_IDS + [""], j),
            "reason": rng.choice(["企业反馈不需要", "工作人员核实有误"], j),
            "created_on": "2025-06-01",
            "expires_on": rng.choice(["2025-12-31", "2025-06-15", ""], j),
        }
    )
    sup.loc[0, "created_on"] = "not a date"  # cleared, row kept
    sup.to_csv(root / "suppressions.csv", index=False)
    return root
