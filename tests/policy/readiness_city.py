"""A small hand-made city for the readiness tests: a book whose facts come from every kind of source (the
enterprise table's fields of four departments, a record table, a yearly figure, a declaration, a named list
with classes only partly inside it, a city field mapped in ``sources.csv`` and one left unmapped), and a data
folder laid out as the daily job reads it, with missing facts everywhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from quanhuiqi.tables.uscc import make_uscc, org_check_char

DAY = "2025-07-01"

BOOK = """
- id: JN-T-001
  title: 稳岗返还（测试）
  department: 市人力资源社会保障局
  mode: auto
  benefit: {kind: refund, max_amount: 30}
  eligibility:
    all:
      - {field: status, op: eq, value: active}
      - {field: district_code, op: under, value: ["3701"]}
      - {field: tax_district_code, op: under, value: ["3701"]}
      - {field: insured_employees, op: ge, value: 10}
      - {field: layoff_rate, op: le, value: 0.05}
- id: JN-T-002
  title: 研发补助（测试）
  department: 市科学技术局
  mode: apply
  benefit: {kind: subsidy, max_amount: 50}
  eligibility:
    all:
      - {field: status, op: eq, value: active}
      - any:
          - {field: revenue, op: ge, value: 1000}
          - all:
              - {field: employees, op: ge, value: 50}
              - {field: rd_expense, op: ge, value: 10}
- id: JN-T-003
  title: 高企奖励（测试）
  department: 市科学技术局
  mode: apply
  benefit: {kind: reward, max_amount: 20}
  eligibility:
    all:
      - {field: certificate, op: held, item: high_tech}
      - {field: revenue, year: last, op: ge, value: 500}
      - {attest: financial_system}
      - {field: penalty, op: count_le, value: 0, item: [administrative_penalty], window: {last_years: 3}, where: {amount_ge: 5}}
- id: JN-T-004
  title: 战略性新兴产业支持（测试）
  department: 市发展和改革委员会
  mode: instant
  benefit: {kind: subsidy, max_amount: 10}
  eligibility:
    all:
      - {field: status, op: eq, value: active}
      - {field: industry_code, op: in_list, value: sei_2018}
- id: JN-T-005
  title: 出口信保补贴（测试）
  department: 市商务局
  mode: auto
  benefit: {kind: subsidy, max_amount: 5}
  eligibility:
    all:
      - {field: status, op: eq, value: active}
      - {field: export_revenue, op: ge, value: 100}
- id: JN-T-006
  title: 数字化改造补助（测试）
  department: 市工业和信息化局
  mode: apply
  benefit: {kind: subsidy, max_amount: 15}
  eligibility:
    all:
      - {field: digital_investment, op: ge, value: 50}
      - {field: employees, op: le, value: 300}
"""

FIELDS = """
fields:
  - {name: export_revenue, type: number, unit: 万元, description: 上年度出口额}
  - {name: digital_investment, type: number, unit: 万元, description: 数字化改造投入}
"""

SOURCES = "key,source,system,department,kind,note\nfield:export_revenue,customs,,,,出口额\n"

# industry classes: inside sei_2018 (2530), only partly inside (0519), outside (5191, 3911); coarse 05 and C
INDUSTRY = ["2530", "0519", "5191", "3911", "05", "C", ""]
DISTRICTS = ["370102", "370112", "370100", "110101", ""]


def uscc(i: int) -> str:
    org = f"RD{i:06d}"
    return make_uscc("91370102" + org + org_check_char(org))


def make_readiness_city(root: Path, n: int = 300, seed: int = 3, sources: bool = True) -> Path:
    """Write the data folder (enterprises, fact tables, grants, policies with fields.yaml and sources.csv)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    ids = [uscc(i) for i in range(n)]

    def maybe(values, rate: float = 0.2):
        v = pd.Series(values).astype(object)
        v[rng.random(n) < rate] = ""
        return v

    ent = pd.DataFrame({
        "uscc": ids,
        "name": [f"济南就绪测试企业{i}有限公司" for i in range(n)],
        "industry_code": rng.choice(INDUSTRY, n, p=[0.2, 0.15, 0.2, 0.15, 0.1, 0.1, 0.1]),
        "district_code": rng.choice(DISTRICTS, n, p=[0.4, 0.3, 0.1, 0.1, 0.1]),
        "tax_district_code": maybe(rng.choice(["370102", "370112", "110105"], n, p=[0.5, 0.4, 0.1]), 0.3),
        "status": maybe(rng.choice(["存续", "在业", "吊销"], n, p=[0.6, 0.3, 0.1]), 0.1),
        "established_on": "2015-03-01",
        "employees": maybe(rng.integers(1, 600, n), 0.2),
        "insured_employees": maybe(rng.integers(1, 300, n), 0.2),
        "layoff_rate": maybe(rng.uniform(0, 0.1, n).round(3), 0.25),
        "revenue": maybe(rng.gamma(1.5, 800, n).round(1), 0.25),
        "rd_expense": maybe(rng.gamma(1.2, 15, n).round(1), 0.3),
        "export_revenue": maybe(rng.gamma(1.0, 120, n).round(1), 0.3),
        "digital_investment": maybe(rng.gamma(1.0, 60, n).round(1), 0.3),
    })  # fmt: skip
    ent.astype(str).replace({"": pd.NA}).to_csv(root / "enterprises.csv", index=False)

    tech = rng.choice(ids, n // 4, replace=False)
    pd.DataFrame({"uscc": tech, "item": "高新技术企业", "level": "国家级", "awarded_on": "2023-11-20",
                  "valid_to": "2026-11-19"}).to_csv(root / "certificates.csv", index=False)
    have_year = rng.choice(ids, int(n * 0.7), replace=False)
    pd.DataFrame({"uscc": have_year, "year": 2024,
                  "revenue": rng.gamma(1.5, 500, have_year.size).round(1)}).to_csv(root / "yearly.csv", index=False)
    declared = rng.choice(ids, n // 3, replace=False)
    pd.DataFrame({"uscc": declared, "item": "financial_system", "declared_on": "2025-03-01",
                  "value": "true"}).to_csv(root / "declarations.csv", index=False)
    fined = rng.choice(ids, n // 20, replace=False)
    pd.DataFrame({"uscc": fined, "item": "行政处罚", "occurred_on": "2024-05-01",
                  "amount": rng.choice(["2", "8", ""], fined.size), "severity": "一般",
                  "case_no": [f"罚{i}" for i in range(fined.size)]}).to_csv(root / "penalties.csv", index=False)
    pd.DataFrame({"uscc": ids[:5], "policy_id": "JN-T-002", "granted_on": "2025-03-01",
                  "amount": 10}).to_csv(root / "grants.csv", index=False)

    pol = root / "policies"
    pol.mkdir(exist_ok=True)
    (pol / "book.yaml").write_text(BOOK.lstrip(), encoding="utf-8")
    (pol / "fields.yaml").write_text(FIELDS.lstrip(), encoding="utf-8")
    if sources:
        (pol / "sources.csv").write_text(SOURCES, encoding="utf-8")
    return root


def load_city(root: Path):
    """(book, profile with the derived columns, facts, grants) as ``quanhuiqi policy readiness`` reads them."""
    from quanhuiqi.eligibility import with_facts
    from quanhuiqi.policy import load_book
    from quanhuiqi.profile import profile
    from quanhuiqi.tables import read_enterprises, read_table, validate_enterprises, validate_history
    from quanhuiqi.tables.facts import load_fact_tables

    book = load_book(root / "policies")
    clean = validate_enterprises(read_enterprises(root / "enterprises.csv"), DAY).clean
    prof = profile(clean, DAY)
    facts, _ = load_fact_tables(root, DAY, clean["uscc"], book.table_vocabularies())
    grants = validate_history("grants", read_table(root / "grants.csv"), DAY, "grants").clean
    return book, with_facts(book, prof, facts, DAY), facts, grants
