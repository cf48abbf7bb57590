"""The DuckDB peer of ``quanhuiqi eligibility``: the same raw enterprise Parquet and the same policy book in,
the same pairs (``uscc, policy_id, verdict``) out, with three-valued SQL (NULL = unknown) doing the work.

    .venv/bin/python benchmarks/eligibility_duckdb_peer.py ENTERPRISES.parquet POLICIES_DIR AS_OF OUT.parquet

What a data engineer would write to answer the same question with SQL, given the same standards:

- *Lookup tables, one row per distinct raw value*, for what a value means: status texts → canonical status,
  code spellings → canonical GB/T 4754 / GB/T 2260 codes, industry names → codes, date texts → dates,
  certification lists → canonical tokens, rating spellings, enterprise types; the industry table (section,
  division, the SME groups and 规上 rules a code may lie in, its industry chains) and the SME thresholds.  The
  meaning of a value comes from quanhuiqi's own normalisers (the standards' reading is not what is compared),
  each called once per distinct value.
- *Everything per row in SQL*: the USCC checks of GB 32100-2015 and GB 11714 (length, alphabet,
  authority/type pair, admin digits, both check characters), missing names, duplicates (first row wins),
  negative money and rates outside 0–1 cleared, future dates cleared, booleans, age and life-cycle stage,
  growth and R&D ratios, the three-valued SME size class (agreed over every group a coarse code could lie in),
  规上 (above scale) likewise, chains and certifications closed-world; then every active policy as one SQL
  boolean (``benchmarks/eligibility_vs_duckdb.py``'s translation: SQL's AND/OR/NOT are Kleene's) and the
  pairs that are not FALSE written to Parquet in one COPY.

No validation report, no rejects table, no evidence, no unknown-facts column: the peer writes less than the
command it is compared with.  The harness (``benchmarks/eligibility_end_to_end.py``) times this script as a
whole process, like the command, and compares its pairs with the command's.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

T0 = time.perf_counter()
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import duckdb  # noqa: E402
import pandas as pd  # noqa: E402
from eligibility_vs_duckdb import helper_columns, policy_sql  # noqa: E402

from quanhuiqi.tables.columns import (  # noqa: E402  (the schema: which columns are money, counts, rates)
    ENTERPRISE_COUNTS,
    ENTERPRISE_FACT_COUNTS,
    ENTERPRISE_FACT_MONEY,
    ENTERPRISE_FACT_RATES,
    ENTERPRISE_LOCATIONS,
    ENTERPRISE_MONEY,
    ENTERPRISE_RATES,
)

NUMBER_COLUMNS = ENTERPRISE_MONEY + ENTERPRISE_COUNTS + ENTERPRISE_FACT_MONEY + ENTERPRISE_FACT_COUNTS
RATE_COLUMNS = ENTERPRISE_RATES + ENTERPRISE_FACT_RATES
DISTRICT_COLUMNS = ["district_code", *ENTERPRISE_LOCATIONS]

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
FULL = "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ"
HALF = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def distinct_map(con, column: str, func, name: str, kind: str = "VARCHAR") -> None:
    """A lookup table ``name(raw, v)``: each distinct value of ``raw.column`` → ``func`` of it."""
    have = {r[0] for r in con.execute("DESCRIBE raw").fetchall()}
    if column not in have:
        con.execute(f"CREATE TABLE {name} (raw VARCHAR, v {kind})")
        return
    u = con.execute(f'SELECT DISTINCT CAST("{column}" AS VARCHAR) AS raw FROM raw WHERE "{column}" IS NOT NULL').df()
    raw = u["raw"].astype("string")
    v = func(raw) if len(raw) else raw
    con.register(f"{name}_df", pd.DataFrame({"raw": raw.astype(object), "v": pd.Series(v).astype(object).where(pd.notna(v), None)}))
    con.execute(f"CREATE TABLE {name} AS SELECT raw, CAST(v AS {kind}) AS v FROM {name}_df")
    con.unregister(f"{name}_df")


def lookups(con) -> None:
    """Per distinct raw value, what it means (quanhuiqi's normalisers, each value once)."""
    import numpy as np

    from quanhuiqi.profile.industry import match_industry_names
    from quanhuiqi.profile.status import canonical_status_series
    from quanhuiqi.reference.districts import canonical_district_code
    from quanhuiqi.reference.industries import canonical_industry_code
    from quanhuiqi.tables.enterprises import _certifications, normalize_names
    from quanhuiqi.tables.parse import clean_text, parse_dates
    from quanhuiqi.tables.rejects import RejectLog

    distinct_map(con, "industry_code", canonical_industry_code, "m_industry")
    distinct_map(con, "industry_name",
                 lambda s: match_industry_names(s.where(clean_text(s).notna()))["code"].to_numpy(dtype=object, na_value=None),
                 "m_industry_name")
    for col in DISTRICT_COLUMNS:
        distinct_map(con, col, canonical_district_code, f"m_{col}")
    distinct_map(con, "status", lambda s: canonical_status_series(normalize_names(s)), "m_status")
    distinct_map(con, "enterprise_type", normalize_names, "m_etype")
    distinct_map(con, "established_on", lambda s: parse_dates(s)[0], "m_date", "TIMESTAMP")
    distinct_map(con, "tax_credit_rating",
                 lambda s: clean_text(s).str.upper().str.removesuffix("级").str.strip()
                 .where(lambda r: r.isin(list("ABMCD"))), "m_rating")
    distinct_map(con, "certifications",
                 lambda s: _certifications(s, np.arange(1, len(s) + 1), np.ones(len(s), bool), RejectLog("x")),
                 "m_cert")


def industry_tables(con) -> None:
    """The industry table (every canonical code: hierarchy, chains, SME groups and 规上 rules it may lie in)
    and the SME thresholds — reference data, loaded like any lookup table."""
    from quanhuiqi.profile.chains import chains_of_code
    from quanhuiqi.profile.size import SCALE_RULES, _candidates
    from quanhuiqi.reference.industries import industry_table
    from quanhuiqi.reference.sme import sme_thresholds

    tab = industry_table()
    codes = list(tab["code"])
    hier = pd.DataFrame({"code": codes, "section": tab["section"].to_numpy(),
                         "chains": [chains_of_code(c) for c in codes]})
    for lvl, n in (("division", 2), ("group", 3), ("class", 4)):
        hier[lvl] = [c[:n] if (not c.isalpha() and len(c) >= n) else None for c in codes]
    con.register("ind_df", hier)
    con.execute("CREATE TABLE ind AS SELECT * FROM ind_df")
    groups = [(c, g) for c in codes + [None] for g in sorted(_candidates("sme", c))]
    con.register("sg_df", pd.DataFrame(groups, columns=["code", "grp"]))
    con.execute("CREATE TABLE sme_groups AS SELECT * FROM sg_df")
    rules = dict(SCALE_RULES)
    scale = [(c, r) for c in codes + [None] for r in sorted(_candidates("scale", c))]
    sc = pd.DataFrame(scale, columns=["code", "rule"])
    sc["kind"] = sc["rule"].map(lambda r: "none" if r == "none" else rules[r] if isinstance(rules[r], str) else "min")
    sc["min_revenue"] = sc["rule"].map(lambda r: rules[r] if r != "none" and not isinstance(rules[r], str) else None)
    con.register("sc_df", sc)
    con.execute("CREATE TABLE scale_rules AS SELECT * FROM sc_df")
    th = sme_thresholds()[["industry_key", "indicator", "small_min", "medium_min", "large_min"]]
    con.register("th_df", th)
    con.execute("CREATE TABLE thresholds AS SELECT * FROM th_df")


def profile_sql(con, as_of: dt.date, extra_numbers: list[str]) -> None:
    """``t``: one row per kept enterprise with every field the book reads, NULL where unknown."""
    from quanhuiqi.tables.uscc import AUTHORITY_TYPES, ORG_WEIGHTS, WEIGHTS

    have = {r[0] for r in con.execute("DESCRIBE raw").fetchall()}

    def col(c: str, kind: str = "VARCHAR") -> str:
        return f'CAST(r."{c}" AS {kind})' if c in have else f"CAST(NULL AS {kind})"

    pairs = " OR ".join(f"(substr(u, 1, 2) = '{a}{t}')" for a, ts in AUTHORITY_TYPES.items() for t in ts)
    check = " + ".join(f"{int(w)} * (position(substr(u, {i + 1}, 1) IN '{ALPHABET}') - 1)" for i, w in enumerate(WEIGHTS))
    org_val = lambda i: (  # noqa: E731
        f"(CASE WHEN substr(u, {i}, 1) BETWEEN '0' AND '9' THEN ascii(substr(u, {i}, 1)) - 48 "
        f"ELSE ascii(substr(u, {i}, 1)) - 55 END)")
    org = " + ".join(f"{int(w)} * {org_val(9 + i)}" for i, w in enumerate(ORG_WEIGHTS))
    con.execute(f"""
        CREATE TABLE checked AS
        SELECT rid, u,
               u IS NOT NULL AND length(u) = 18 AND regexp_full_match(u, '[{ALPHABET}]{{18}}')
               AND ({pairs}) AND regexp_full_match(substr(u, 3, 6), '[0-9]{{6}}')
               AND regexp_full_match(substr(u, 9, 8), '[0-9A-Z]{{8}}')
               AND (CASE WHEN substr(u, 17, 1) = 'X' THEN 10
                         WHEN substr(u, 17, 1) BETWEEN '0' AND '9' THEN ascii(substr(u, 17, 1)) - 48 ELSE -1 END)
                   = (11 - ({org}) % 11) % 11
               AND position(substr(u, 18, 1) IN '{ALPHABET}') - 1 = (31 - ({check}) % 31) % 31 AS valid,
               name_ok
        FROM (SELECT rid,
                     nullif(upper(regexp_replace(translate({col("uscc")}, '{FULL}', '{HALF}'), '[\\s\\-]', '', 'g')), '') AS u,
                     coalesce(trim({col("name")}, ' ' || chr(9) || chr(10) || chr(13) || chr(12288)) <> '', FALSE) AS name_ok
              FROM raw r)
    """)
    con.execute("""
        CREATE TABLE kept AS
        SELECT rid, u FROM (
            SELECT rid, u, row_number() OVER (PARTITION BY u ORDER BY rid) AS k FROM checked WHERE valid AND name_ok)
        WHERE k = 1
    """)
    nums = ",\n".join(
        f'CASE WHEN {col(c, "DOUBLE")} < 0 THEN NULL ELSE {col(c, "DOUBLE")} END AS "{c}"' for c in NUMBER_COLUMNS
    )
    rates = ",\n".join(
        f'CASE WHEN {col(c, "DOUBLE")} < 0 OR {col(c, "DOUBLE")} > 1 THEN NULL ELSE {col(c, "DOUBLE")} END AS "{c}"'
        for c in RATE_COLUMNS
    )
    extras = "".join(f', {col(c, "DOUBLE")} AS "{c}"' for c in extra_numbers)
    day = as_of.isoformat()
    bools = ",\n".join(
        f"""CASE WHEN lower(trim({col(c)})) IN ('true','1','是','1.0','yes','y','t') THEN TRUE
                 WHEN lower(trim({col(c)})) IN ('false','0','否','0.0','no','n','f') THEN FALSE END AS "{c}" """
        for c in ("abnormal_operation", "serious_dishonest")
    )
    con.execute(f"""
        CREATE TABLE base AS
        SELECT k.rid, k.u AS uscc,
               coalesce(mi.v, mn.v) AS industry_code,
               {", ".join(f"m_{c}.v AS {c}" for c in DISTRICT_COLUMNS)}, ms.v AS status, me.v AS enterprise_type,
               CASE WHEN dt.v > TIMESTAMP '{day}' THEN NULL ELSE CAST(dt.v AS DATE) END AS established_on,
               mr.v AS tax_credit_rating, coalesce(mc.v, '') AS certifications,
               {nums}, {rates}, {bools} {extras}
        FROM kept k JOIN raw r USING (rid)
        LEFT JOIN m_industry mi ON mi.raw = {col("industry_code")}
        LEFT JOIN m_industry_name mn ON mn.raw = {col("industry_name")}
        {" ".join(f"LEFT JOIN m_{c} ON m_{c}.raw = {col(c)}" for c in DISTRICT_COLUMNS)}
        LEFT JOIN m_status ms ON ms.raw = {col("status")}
        LEFT JOIN m_etype me ON me.raw = {col("enterprise_type")}
        LEFT JOIN m_date dt ON dt.raw = {col("established_on")}
        LEFT JOIN m_rating mr ON mr.raw = {col("tax_credit_rating")}
        LEFT JOIN m_cert mc ON mc.raw = {col("certifications")}
    """)
    # SME size class: per candidate group, each indicator supports a class (0 micro … 3 large); the group's
    # class is micro when a known indicator says micro, else the minimum when all are known, else unknown;
    # decided when every candidate group agrees.
    con.execute("""
        CREATE TABLE size AS
        WITH cand AS (
            SELECT b.rid, g.grp, b.employees, b.revenue, b.total_assets
            FROM base b JOIN sme_groups g ON g.code IS NOT DISTINCT FROM b.industry_code),
        per_ind AS (
            SELECT c.rid, c.grp,
                   CASE th.indicator WHEN 'employees' THEN c.employees WHEN 'operating_revenue' THEN c.revenue
                        ELSE c.total_assets END AS v, th.small_min, th.medium_min, th.large_min
            FROM cand c JOIN thresholds th ON th.industry_key = c.grp),
        per_grp AS (
            SELECT rid, grp,
                   CASE WHEN bool_or(v IS NOT NULL AND v < small_min) THEN 0
                        WHEN bool_and(v IS NOT NULL) THEN min((v >= small_min)::INT + (v >= medium_min)::INT
                                                             + (v >= large_min)::INT) END AS cls
            FROM per_ind GROUP BY rid, grp)
        SELECT rid, CASE WHEN count(cls) = count(*) AND min(cls) = max(cls) THEN min(cls) END AS cls
        FROM per_grp GROUP BY rid
    """)
    con.execute("""
        CREATE TABLE scale AS
        WITH per_rule AS (
            SELECT b.rid, CASE s.kind WHEN 'all' THEN 1 WHEN 'none' THEN NULL
                                      ELSE (b.revenue >= s.min_revenue)::INT END AS v
            FROM base b JOIN scale_rules s ON s.code IS NOT DISTINCT FROM b.industry_code)
        SELECT rid, CASE WHEN count(v) = count(*) AND min(v) = max(v) THEN min(v) = 1 END AS above
        FROM per_rule GROUP BY rid
    """)
    y = f"(year(DATE '{day}') - year(b.established_on) - " \
        f"CASE WHEN month(DATE '{day}') * 100 + day(DATE '{day}') < month(b.established_on) * 100 + day(b.established_on) " \
        f"THEN 1 ELSE 0 END)"
    con.execute(f"""
        CREATE TABLE prof AS
        SELECT b.*,
               i.section AS industry_section, i.division AS industry_division, i."group" AS industry_group,
               i.class AS industry_class, coalesce(i.chains, '') AS chains,
               CASE sz.cls WHEN 0 THEN 'micro' WHEN 1 THEN 'small' WHEN 2 THEN 'medium' WHEN 3 THEN 'large' END
                   AS size_class,
               sc.above AS above_scale,
               CASE WHEN {y} >= 0 THEN CAST({y} AS DOUBLE) END AS age_years,
               CASE WHEN b.revenue_prev > 0 THEN b.revenue / b.revenue_prev - 1 END AS revenue_growth,
               CASE WHEN b.revenue > 0 THEN b.rd_expense / b.revenue END AS rd_ratio,
               CASE WHEN b.revenue > 0 THEN b.tax_paid / b.revenue END AS tax_intensity
        FROM base b LEFT JOIN ind i ON i.code = b.industry_code
        LEFT JOIN size sz USING (rid) LEFT JOIN scale sc USING (rid)
    """)
    con.execute("""
        ALTER TABLE prof ADD COLUMN lifecycle_stage VARCHAR;
        UPDATE prof SET lifecycle_stage = CASE WHEN age_years < 3 THEN 'startup' WHEN age_years < 10 THEN 'growth'
                                               WHEN age_years < 20 THEN 'mature' WHEN age_years >= 20 THEN 'established' END
    """)


def main(argv: list[str]) -> dict:
    enterprises, policies, as_of_text, out = argv[:4]
    threads = int(argv[4]) if len(argv) > 4 else 2
    as_of = dt.date.fromisoformat(as_of_text)
    from quanhuiqi.policy import load_book

    timings = {}
    t = time.perf_counter()
    book = load_book(policies)
    timings["load_book_s"] = time.perf_counter() - t
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = false")  # the pairs stream to the file in any order: no buffering
    t = time.perf_counter()
    con.execute(f"CREATE TABLE raw AS SELECT row_number() OVER () AS rid, * FROM read_parquet({_lit(str(enterprises))})")
    timings["read_s"] = time.perf_counter() - t
    t = time.perf_counter()
    lookups(con)
    industry_tables(con)
    timings["lookups_s"] = time.perf_counter() - t
    t = time.perf_counter()
    from quanhuiqi.profile.fields import BUILTIN_BY_NAME

    extra = [n for n, f in book.fields.items() if n not in BUILTIN_BY_NAME and f.type == "number"]
    profile_sql(con, as_of, extra)
    have = {r[0] for r in con.execute("DESCRIBE prof").fetchall()}
    absent = [f'NULL::VARCHAR AS "{n}"' for n in book.fields if n not in have]
    con.execute(f"CREATE TABLE prof_all AS SELECT *{''.join(', ' + a for a in absent)} FROM prof")
    con.execute(f"CREATE TABLE t AS SELECT *, {', '.join(helper_columns(book.fields))} FROM prof_all")
    timings["profile_sql_s"] = time.perf_counter() - t
    t = time.perf_counter()
    active = [p for p in book.items if p.active(as_of)]
    parts = [
        f"SELECT uscc, {_lit(p.id)} AS policy_id, CASE WHEN v THEN 'eligible' ELSE 'undetermined' END AS verdict "
        f"FROM (SELECT uscc, ({policy_sql(book.fields, p.condition)}) AS v FROM t) WHERE v IS NOT FALSE"
        for p in active
    ]
    con.execute(f"COPY ({' UNION ALL '.join(parts)}) TO {_lit(str(out))} (FORMAT parquet)")
    timings["evaluate_write_s"] = time.perf_counter() - t
    n = con.execute(f"SELECT count(*) FROM read_parquet({_lit(str(out))})").fetchone()[0]
    timings["total_s"] = time.perf_counter() - T0
    return {"pairs": int(n), "enterprises_kept": con.execute("SELECT count(*) FROM t").fetchone()[0],
            "active_policies": len(active), "timings": timings}


if __name__ == "__main__":
    import json

    print(json.dumps(main(sys.argv[1:]), ensure_ascii=False))
