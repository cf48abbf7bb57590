"""The facts real policies test, for the synthetic city: the enterprise table's location, ownership and IP
columns, and the fact tables (certificates, milestones, penalties, yearly figures, declarations).

Everything is drawn from its own random streams (``[seed, 37…45]``), after the enterprise table, so adding
these facts changed none of the values the city had before.  True values go to ``truth/``; the tables the
platform reads are what departments export: Chinese item names and levels, unreadable cells, rows that
cannot be placed (an unknown enterprise, a date after ``as_of``, a revocation before the award), missing
years — but no real record is ever dropped from a register, so a closed-world test never reads a false
"none" (the city's verdicts stay provable; ``benchmarks/verdict_accuracy.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quanhuiqi.reference.records import CERTIFICATE_ITEMS, LEVELS, OWNERSHIP
from quanhuiqi.tables.columns import ENTERPRISE_FACTS

# level of each certification in Jinan's practice (national recognitions, provincial lists, city lists)
CERT_LEVEL = {
    "high_tech": "national", "specialized_sme": "provincial", "little_giant": "national", "tech_sme": "provincial",
    "gazelle": "city", "unicorn": "city", "innovative_sme": "provincial", "single_champion": "national",
}  # fmt: skip
CERT_YEARS = {"high_tech": 3, "specialized_sme": 3, "little_giant": 3, "tech_sme": 1, "gazelle": 2, "unicorn": 2,
              "innovative_sme": 3, "single_champion": 3}  # fmt: skip
LEVEL_TEXT = {"national": "国家级", "provincial": "省级", "city": "市级", "district": "区县级"}
JINAN_DISTRICTS = ["370102", "370103", "370104", "370105", "370112", "370113", "370114", "370115", "370116",
                   "370117", "370124", "370126", "370176"]  # fmt: skip
OTHER_DISTRICTS = ["370202", "370211", "370302", "370602", "371302", "110105", "310115", "440115", "330106"]
YEARS_BACK = 5
MISSING = {"tax_district_code": 0.35, "stats_district_code": 0.45, "office_district_code": 0.3,
           "paid_in_capital": 0.3, "ownership": 0.15, "largest_shareholder_share": 0.4,
           "subsidiaries_outside_city": 0.45, "invention_patents": 0.25, "utility_patents": 0.25,
           "design_patents": 0.25, "software_copyrights": 0.3}  # fmt: skip


def enterprise_facts(true: pd.DataFrame, seed: int) -> pd.DataFrame:
    """True values of the enterprise table's fact columns (``tables.columns.ENTERPRISE_FACTS``)."""
    rng = np.random.default_rng([seed, 37])
    n = len(true)
    district = true["district_code"].astype("string").fillna("370102").to_numpy(dtype=object)
    # tax and statistical relations usually follow the registration; some firms pay tax elsewhere
    moved = rng.random(n)
    tax = np.where(moved < 0.07, rng.choice(JINAN_DISTRICTS, n),
                   np.where(moved < 0.09, rng.choice(OTHER_DISTRICTS, n), district)).astype(object)
    stats = np.where(rng.random(n) < 0.9, tax, rng.choice(JINAN_DISTRICTS, n)).astype(object)
    office = np.where(rng.random(n) < 0.9, district, rng.choice(JINAN_DISTRICTS + OTHER_DISTRICTS[:2], n))
    cap = pd.to_numeric(true["registered_capital"], errors="coerce").to_numpy(dtype=float)
    paid = np.round(cap * np.clip(rng.beta(2.5, 1.5, n), 0.05, 1.0), 2)
    etype = true["enterprise_type"].astype("string").fillna("").to_numpy(dtype=object)
    foreign = np.array(["外商" in e for e in etype], dtype=bool)
    own = rng.choice(["private", "state", "collective", "mixed", "hmt"], n, p=[0.9, 0.045, 0.015, 0.03, 0.01])
    own = np.where(foreign, "foreign", own)
    share = np.round(np.clip(rng.beta(4, 3, n), 0.05, 1.0), 3)
    employees = pd.to_numeric(true["employees"], errors="coerce").fillna(5).to_numpy(dtype=float)
    subs = rng.poisson(np.clip(employees / 400, 0, 6))
    ip = pd.to_numeric(true.get("ip_count", pd.Series(0, index=true.index)), errors="coerce").fillna(0)
    split = rng.dirichlet([1.2, 2.0, 0.6, 1.5], n)
    parts = np.array([rng.multinomial(int(k), p) for k, p in zip(ip.to_numpy(int), split, strict=True)])
    out = pd.DataFrame({
        "tax_district_code": pd.array(tax, dtype="string"),
        "stats_district_code": pd.array(stats, dtype="string"),
        "office_district_code": pd.array(office.astype(object), dtype="string"),
        "paid_in_capital": paid,
        "ownership": pd.array(own.astype(object), dtype="string"),
        "largest_shareholder_share": share,
        "subsidiaries_outside_city": subs.astype(float),
        "invention_patents": parts[:, 0].astype(float), "utility_patents": parts[:, 1].astype(float),
        "design_patents": parts[:, 2].astype(float), "software_copyrights": parts[:, 3].astype(float),
    }, index=true.index)  # fmt: skip
    return out[ENTERPRISE_FACTS]


def mess_enterprise_facts(raw: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The export of those columns: missing cells, ownership in Chinese, a few unknown words."""
    rng = np.random.default_rng([seed, 38])
    raw = raw.copy()
    n = len(raw)
    zh = {k: v for k, v in OWNERSHIP.items()}
    own = raw["ownership"].astype("string")
    raw["ownership"] = own.where(rng.random(n) < 0.5, own.map(zh)).astype("string")
    raw["ownership"] = raw["ownership"].mask(rng.random(n) < 0.003, "其他所有制")  # cleared: unknown word
    for col, rate in MISSING.items():
        raw[col] = raw[col].mask(rng.random(n) < rate)
    return raw


def fact_tables(true: pd.DataFrame, seed: int, as_of: pd.Timestamp) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """(true tables, observed tables) for ``FACT_FILES``; rows keyed by ``uscc`` of the true table."""
    as_of = pd.Timestamp(as_of)
    true_t: dict[str, pd.DataFrame] = {}
    true_t["certificates"] = _certificates(true, np.random.default_rng([seed, 39]), as_of)
    true_t["yearly"] = _yearly(true, np.random.default_rng([seed, 40]), as_of)
    true_t["milestones"] = _milestones(true, true_t["yearly"], np.random.default_rng([seed, 41]), as_of)
    true_t["penalties"] = _penalties(true, np.random.default_rng([seed, 42]), as_of)
    true_t["declarations"] = _declarations(true, np.random.default_rng([seed, 43]), as_of)
    obs = _observe(true_t, true, np.random.default_rng([seed, 44]), as_of)
    return true_t, obs


def _dates(rng: np.random.Generator, start: pd.Series | np.ndarray, end: pd.Timestamp) -> pd.Series:
    s = pd.to_datetime(pd.Series(start)).to_numpy(dtype="datetime64[D]")
    e = np.datetime64(end.date(), "D")
    span = np.maximum((e - s).astype(int), 0)
    return pd.Series(s + (rng.random(len(s)) * (span + 1)).astype(int).astype("timedelta64[D]"))


def _certificates(true: pd.DataFrame, rng: np.random.Generator, as_of: pd.Timestamp) -> pd.DataFrame:
    """Every certification held on ``as_of`` (the enterprise table's list) has a current award; re-certified
    ones have earlier awards; a few earlier awards lapsed or were revoked; some firms hold lists the
    enterprise table does not carry (technology centres, patent pilots)."""
    est = pd.to_datetime(true["established_on"], errors="coerce").fillna(as_of - pd.Timedelta(days=3650))
    rows = []
    certs = true["certifications"].astype("string").fillna("")
    for token in CERT_LEVEL:
        has = certs.str.split(";").map(lambda s, t=token: t in s).to_numpy(dtype=bool)
        idx = np.flatnonzero(has)
        if not idx.size:
            continue
        years = CERT_YEARS[token]
        earliest = np.maximum(est.iloc[idx].to_numpy(dtype="datetime64[D]"),
                              np.datetime64((as_of - pd.DateOffset(years=years)).date(), "D") + 1)
        awarded = _dates(rng, earliest, as_of)
        for k, i in enumerate(idx.tolist()):
            a = awarded.iloc[k]
            rows.append((i, token, CERT_LEVEL[token], a, a + pd.DateOffset(years=years) - pd.Timedelta(days=1), pd.NaT))
            # earlier rounds for re-certified firms (awards dated every `years` years back, after establishment)
            back = a
            while rng.random() < 0.45:
                back = back - pd.DateOffset(years=years)
                if back <= est.iloc[i]:
                    break
                rows.append((i, token, CERT_LEVEL[token], back, back + pd.DateOffset(years=years) - pd.Timedelta(days=1),
                             pd.NaT))
    # lapsed or revoked awards of firms that do not hold the certification now
    n = len(true)
    lapsed = np.flatnonzero(rng.random(n) < 0.04)
    for i in lapsed.tolist():
        token = str(rng.choice(["high_tech", "tech_sme", "specialized_sme"]))
        if token in certs.iloc[i].split(";"):
            continue
        start = max(est.iloc[i], as_of - pd.DateOffset(years=8))
        if start >= as_of - pd.DateOffset(years=CERT_YEARS[token]):
            continue
        a = pd.Timestamp(_dates(rng, [start], as_of - pd.DateOffset(years=CERT_YEARS[token])).iloc[0])
        end = a + pd.DateOffset(years=CERT_YEARS[token]) - pd.Timedelta(days=1)
        revoked = a + pd.Timedelta(days=int(rng.integers(30, 300))) if rng.random() < 0.25 else pd.NaT
        rows.append((i, token, CERT_LEVEL[token], a, end, revoked))
    # lists the enterprise table does not carry
    big = pd.to_numeric(true["employees"], errors="coerce").fillna(0).to_numpy() >= 100
    for token, rate, level in (("tech_center", 0.25, "city"), ("patent_pilot", 0.03, "city"),
                               ("ip_standard", 0.02, "provincial"), ("rd_center", 0.01, "provincial")):
        p = np.where(big, rate, rate / 10)
        for i in np.flatnonzero(rng.random(n) < p).tolist():
            start = max(est.iloc[i], as_of - pd.DateOffset(years=6))
            a = pd.Timestamp(_dates(rng, [start], as_of).iloc[0])
            rows.append((i, token, level if rng.random() < 0.8 else "provincial", a, pd.NaT if rng.random() < 0.5
                         else a + pd.DateOffset(years=3) - pd.Timedelta(days=1), pd.NaT))
    df = pd.DataFrame(rows, columns=["i", "item", "level", "awarded_on", "valid_to", "revoked_on"])
    df["uscc"] = true["uscc"].to_numpy(dtype=object)[df["i"].to_numpy(dtype=int)]
    df["valid_from"] = df["awarded_on"]
    df = df.drop_duplicates(["uscc", "item", "level", "awarded_on"])
    return df[["uscc", "item", "level", "awarded_on", "valid_from", "valid_to", "revoked_on"]].sort_values(
        ["uscc", "item", "awarded_on"], kind="stable").reset_index(drop=True)


def _yearly(true: pd.DataFrame, rng: np.random.Generator, as_of: pd.Timestamp) -> pd.DataFrame:
    """Five completed years per enterprise (fewer for young ones), ending with the enterprise table's last
    full year (``revenue``) and the year before (``revenue_prev``); earlier years back-cast with noise."""
    n = len(true)
    last = as_of.year - 1
    est = pd.to_datetime(true["established_on"], errors="coerce").dt.year.fillna(last - 10).to_numpy(dtype=int)
    rev = pd.to_numeric(true["revenue"], errors="coerce").fillna(0).to_numpy(dtype=float)
    prev = pd.to_numeric(true["revenue_prev"], errors="coerce").to_numpy(dtype=float)
    prev = np.where(np.isnan(prev), rev / np.exp(rng.normal(0.05, 0.15, n)), prev)
    rd = pd.to_numeric(true["rd_expense"], errors="coerce").fillna(0).to_numpy(dtype=float)
    tax = pd.to_numeric(true["tax_paid"], errors="coerce").fillna(0).to_numpy(dtype=float)
    emp = pd.to_numeric(true["employees"], errors="coerce").fillna(1).to_numpy(dtype=float)
    ins = pd.to_numeric(true["insured_employees"], errors="coerce").fillna(0).to_numpy(dtype=float)
    assets = pd.to_numeric(true["total_assets"], errors="coerce").fillna(0).to_numpy(dtype=float)
    exports = pd.to_numeric(true.get("export_revenue", pd.Series(0, index=true.index)), errors="coerce").fillna(0)
    section_c = true["industry_code"].astype("string").str[:1].isin(list("0123456789")).to_numpy() & \
        true["industry_code"].astype("string").str[:2].between("13", "43").fillna(False).to_numpy()
    growth = rng.normal(0.06, 0.18, (n, YEARS_BACK))
    revenue = np.zeros((n, YEARS_BACK))  # column k: the year last − k
    revenue[:, 0] = rev
    revenue[:, 1] = prev
    for k in range(2, YEARS_BACK):
        revenue[:, k] = revenue[:, k - 1] / np.exp(growth[:, k])
    parts = []
    for k in range(YEARS_BACK):
        r = revenue[:, k]
        scale = np.where(rev > 0, r / np.maximum(rev, 1e-9), 1.0)
        assets_k = assets * np.exp(-0.05 * k)
        df = pd.DataFrame({
            "i": np.arange(n), "year": last - k, "revenue": np.round(r, 2),
            "main_revenue": np.round(r * np.clip(rng.normal(0.94, 0.04, n), 0.7, 1.0), 2),
            "output_value": np.where(section_c, np.round(r * np.clip(rng.normal(1.05, 0.08, n), 0.8, 1.4), 2), np.nan),
            "rd_expense": np.round(rd * scale * np.exp(rng.normal(0, 0.1, n)), 2),
            "rd_staff": np.round(np.where(rd > 0, emp * np.clip(rng.beta(2, 8, n), 0, 1), 0)),
            "employees": np.round(emp * np.exp(rng.normal(-0.03 * k, 0.05, n))),
            "insured_employees": np.round(ins * np.exp(rng.normal(-0.03 * k, 0.05, n))),
            "tax_total": np.round(tax * scale, 2), "tax_local": np.round(tax * scale * rng.uniform(0.3, 0.5, n), 2),
            "total_assets": np.round(assets_k, 2),
            "total_liabilities": np.round(assets_k * rng.beta(3, 3, n), 2),
            "exports": np.round(exports.to_numpy() * scale, 2),
            "equity_financing": np.where(rng.random(n) < 0.01, np.round(rng.lognormal(6, 1, n), 2), 0.0),
            "loans": np.where(rng.random(n) < 0.15, np.round(assets * rng.uniform(0.05, 0.4, n), 2), 0.0),
            "local_purchases": np.round(r * rng.uniform(0.0, 0.2, n), 2),
        })  # fmt: skip
        parts.append(df[est <= last - k])  # no year before the enterprise existed
    out = pd.concat(parts, ignore_index=True)
    out.insert(0, "uscc", true["uscc"].to_numpy(dtype=object)[out["i"].to_numpy()])
    return out.drop(columns="i").sort_values(["uscc", "year"], kind="stable").reset_index(drop=True)


def _milestones(true: pd.DataFrame, yearly: pd.DataFrame, rng: np.random.Generator,
                as_of: pd.Timestamp) -> pd.DataFrame:
    n = len(true)
    rows = []
    est = pd.to_datetime(true["established_on"], errors="coerce").fillna(as_of - pd.Timedelta(days=3650))
    # entered 规上 statistics: the first year its revenue reached 2,000 万元 (industry) — dated in the spring after
    y = yearly[yearly["revenue"] >= 2000].groupby("uscc")["year"].min()
    first_year = true["uscc"].map(y)
    for i in np.flatnonzero(first_year.notna().to_numpy()).tolist():
        yr = int(first_year.iloc[i]) + 1
        if yr > as_of.year:
            continue
        d = pd.Timestamp(yr, int(rng.integers(3, 7)), int(rng.integers(1, 28)))
        if d <= as_of and d > est.iloc[i]:
            rows.append((i, "above_scale_entry", d, None))
    for i in np.flatnonzero(rng.random(n) < 0.05).tolist():  # moved in from another district or city
        start = max(est.iloc[i], as_of - pd.DateOffset(years=8))
        d = pd.Timestamp(_dates(rng, [start], as_of).iloc[0])
        rows.append((i, "moved_in", d, str(rng.choice(JINAN_DISTRICTS + OTHER_DISTRICTS))))
    young = (as_of - est).dt.days.to_numpy() < 5 * 365
    for i in np.flatnonzero(young & (rng.random(n) < 0.04)).tolist():  # 个转企
        rows.append((i, "individual_to_enterprise", est.iloc[i], None))
    emp = pd.to_numeric(true["employees"], errors="coerce").fillna(0).to_numpy()
    for item, rate in (("listed", 0.08), ("neeq_listed", 0.12), ("regional_equity_listed", 0.15)):
        for i in np.flatnonzero((emp >= 300) & (rng.random(n) < rate)).tolist():
            d = pd.Timestamp(_dates(rng, [max(est.iloc[i], as_of - pd.DateOffset(years=10))], as_of).iloc[0])
            rows.append((i, item, d, None))
    df = pd.DataFrame(rows, columns=["i", "item", "occurred_on", "detail"])
    df["uscc"] = true["uscc"].to_numpy(dtype=object)[df["i"].to_numpy(dtype=int)]
    df = df.drop_duplicates(["uscc", "item", "occurred_on"])
    return df[["uscc", "item", "occurred_on", "detail"]].sort_values(["uscc", "occurred_on"], kind="stable")\
        .reset_index(drop=True)


def _penalties(true: pd.DataFrame, rng: np.random.Generator, as_of: pd.Timestamp) -> pd.DataFrame:
    n = len(true)
    abnormal = true["abnormal_operation"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    est = pd.to_datetime(true["established_on"], errors="coerce").fillna(as_of - pd.Timedelta(days=3650))
    industrial = true["industry_code"].astype("string").str[:2].between("06", "50").fillna(False).to_numpy()
    rows = []
    k_pen = rng.poisson(np.where(abnormal, 0.9, 0.12))
    for i in np.flatnonzero(k_pen).tolist():
        for j in range(int(k_pen[i])):
            d = pd.Timestamp(_dates(rng, [max(est.iloc[i], as_of - pd.DateOffset(years=6))], as_of).iloc[0])
            amt = float(np.round(rng.lognormal(0.5, 1.2), 2))
            sev = "general" if amt < 5 else ("major" if amt < 20 else "serious")
            rows.append((i, "administrative_penalty", d, amt, sev, f"罚-{i}-{j}"))
    for i in np.flatnonzero(industrial & (rng.random(n) < 0.01)).tolist():
        d = pd.Timestamp(_dates(rng, [max(est.iloc[i], as_of - pd.DateOffset(years=6))], as_of).iloc[0])
        rows.append((i, str(rng.choice(["safety_accident", "quality_accident", "environmental_violation"])), d,
                     np.nan, str(rng.choice(["general", "major", "serious"], p=[0.75, 0.2, 0.05])), f"事-{i}"))
    df = pd.DataFrame(rows, columns=["i", "item", "occurred_on", "amount", "severity", "case_no"])
    df["uscc"] = true["uscc"].to_numpy(dtype=object)[df["i"].to_numpy(dtype=int)]
    return df[["uscc", "item", "occurred_on", "amount", "severity", "case_no"]].sort_values(
        ["uscc", "occurred_on"], kind="stable").reset_index(drop=True)


def _declarations(true: pd.DataFrame, rng: np.random.Generator, as_of: pd.Timestamp) -> pd.DataFrame:
    """Declarations made on the platform (applicants of earlier policies): most say yes, some no."""
    n = len(true)
    rows = []
    for item, rate, yes in (("financial_system", 0.18, 0.95), ("independent_accounting", 0.15, 0.93),
                            ("stay_commitment", 0.06, 0.9), ("legal_person", 0.1, 0.9)):
        for i in np.flatnonzero(rng.random(n) < rate).tolist():
            d = as_of - pd.Timedelta(days=int(rng.integers(1, 700)))
            rows.append((i, item, d.normalize(), bool(rng.random() < yes), (d + pd.DateOffset(years=1)).normalize()))
    df = pd.DataFrame(rows, columns=["i", "item", "declared_on", "value", "valid_to"])
    df["uscc"] = true["uscc"].to_numpy(dtype=object)[df["i"].to_numpy(dtype=int)]
    return df[["uscc", "item", "declared_on", "value", "valid_to"]].sort_values(["uscc", "declared_on"],
                                                                                kind="stable").reset_index(drop=True)


def _iso(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.strftime("%Y-%m-%d").astype("string")


def _observe(tables: dict[str, pd.DataFrame], true: pd.DataFrame, rng: np.random.Generator,
             as_of: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """What departments export: Chinese names now and then, unreadable cells, rows that cannot be placed."""
    out = {}
    zh_item = {k: v for k, v in CERTIFICATE_ITEMS.items() if k in CERT_LEVEL}
    c = tables["certificates"].copy()
    m = len(c)
    c["item"] = c["item"].where(rng.random(m) < 0.7, c["item"].map(zh_item).fillna(c["item"]))
    c["level"] = c["level"].where(rng.random(m) < 0.6, c["level"].map(LEVEL_TEXT))
    c["level"] = c["level"].mask(rng.random(m) < 0.01, "部级")  # unreadable: cleared, unknown
    c["valid_to"] = c["valid_to"].mask(rng.random(m) < 0.03)  # validity not exported: unknown
    for col in ("awarded_on", "valid_from", "valid_to", "revoked_on"):
        c[col] = _iso(c[col])
    junk = _junk_rows(c, rng, as_of, "awarded_on", true)
    out["certificates"] = pd.concat([c, junk], ignore_index=True)
    y = tables["yearly"].copy()
    keep = rng.random(len(y)) > 0.08  # whole years not reported: unknown (yearly figures are not a register)
    y = y[keep].reset_index(drop=True)
    for col in y.columns[2:]:
        y[col] = y[col].mask(rng.random(len(y)) < 0.07)
    dup = y.sample(n=min(5, len(y)), random_state=int(rng.integers(1 << 30))) if len(y) else y
    out["yearly"] = pd.concat([y, dup], ignore_index=True)  # a second export of a year: the first row wins
    mi = tables["milestones"].copy()
    mi["occurred_on"] = _iso(mi["occurred_on"])
    out["milestones"] = pd.concat([mi, _junk_rows(mi, rng, as_of, "occurred_on", true)], ignore_index=True)
    p = tables["penalties"].copy()
    p["amount"] = p["amount"].mask(rng.random(len(p)) < 0.05)  # amount not exported: unknown
    p["occurred_on"] = _iso(p["occurred_on"])
    out["penalties"] = p
    d = tables["declarations"].copy()
    d["declared_on"] = _iso(d["declared_on"])
    d["valid_to"] = _iso(d["valid_to"])
    out["declarations"] = d
    return out


def _junk_rows(t: pd.DataFrame, rng: np.random.Generator, as_of: pd.Timestamp, date_col: str,
               true: pd.DataFrame) -> pd.DataFrame:
    """Rows no validation may keep: an enterprise the table does not know, a date after as_of."""
    if not len(t):
        return t.iloc[:0]
    k = max(1, len(t) // 400)
    junk = t.sample(n=min(2 * k, len(t)), random_state=int(rng.integers(1 << 30))).copy()
    junk.iloc[:k, junk.columns.get_loc("uscc")] = "91370100MA00000000"  # wrong check character
    junk.iloc[k:, junk.columns.get_loc(date_col)] = (as_of + pd.Timedelta(days=40)).strftime("%Y-%m-%d")
    del true
    return junk


__all__ = ["LEVELS", "enterprise_facts", "fact_tables", "mess_enterprise_facts"]
