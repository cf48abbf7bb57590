"""The latent-preference model behind the synthetic history (documented in ``synth/README.md``).

Policy pushes.  For an enterprise *e* and a policy *p* on date *t*::

    u(e, p, t) = 0.20·ln(1 + amount(e, p))          benefit size for this enterprise (万元)
               + 1.20·industry_match(e, p)            e's class lies under one of p's industry targets
               + 1.00·cert_match(e, p)                e holds a certification p names
               + 0.60·chain_match(e, p)               e belongs to a chain p names
               + 0.40·district_match(e, p)            p is a district policy of e's district
               + 0.80·dept_affinity(dept(p), section(e))   a fixed department × section table
               + engagement(e)                        size, age, digital-ness, certifications (+ noise)
               + 0.50·closing_soon(p, t)              valid_to − t ≤ 14 days
               + 0.40·is_new(p, t)                    t − valid_from ≤ 14 days
               + mode_effect(p)                       instant +0.3, auto +0.2, apply −0.2
               + 0.60·(z_e · q_p)/2                   low-rank latent taste (rank 4, z, q ~ N(0, I))
               + 1.00·dept_taste(e, family(p))        what this firm wants from this bureau family
               + 1.00·kind_taste(e, kind_group(p))    subsidy / reward / finance / service benefits
               + 1.00·apply_taste(e)·[mode(p) = apply]   paperwork tolerance

Revealed-preference tastes (``TASTE_SD``): ``dept_taste = seg[section(e), family] + indiv``, seg ~
N(0, 0.5), indiv ~ N(0, 0.7) (firms of a section share part of their tastes); ``kind_taste`` likewise
with N(0, 0.3) + N(0, 0.5); ``apply_taste ~ N(0, 0.6)``.  They are static, so a firm's past clicks and
applications by bureau family, benefit kind and mode reveal them — what a model can learn and a static
rule cannot see.

Outcomes of a push: click ~ Bernoulli(σ(u − 2.4)); apply | click ~ Bernoulli(σ(u − 1.2 + s_mode))
with s_mode = instant +0.8, auto +1.0, apply −0.3; approve | apply ~ Bernoulli(r_mode) only when
the enterprise is *truly* eligible on its complete facts (r = 0.95 instant/auto, 0.80 apply),
never otherwise.  Graded relevance: 0 pushed, 1 clicked, 2 applied, 3 approved; its expectation
``E[g] = P(c)·(1 + P(a|c)·(1 + P(ok|a)))`` is what :func:`policy_utility` returns as
``expected_relevance`` (the oracle for ranking evaluation).

Supply–demand.  For a demand posting *d* and a supply posting *s*::

    v(d, s) = 2.2·jaccard(tags_d, tags_s) + 0.8·chain_adjacent(div_s → div_d) + 0.4·same_chain
            − 0.012·distance_km(district_d, district_s) + 0.6·price_fit + 0.25·quantity_fit
            + 0.15·ln(employees_s) + 0.5·(w_d · w_s)/√2 + 1.0·reputation(s)

reputation(s) = 0.25·(tax rating A=2 … D=−2, centred) + N(0, 0.6) per supplier enterprise: buyers come back
to suppliers that deliver, which past contacts and deals of that supplier reveal.

contact ~ Bernoulli(σ(v − 2.6)/√rank) (position bias of the list shown); deal | contact ~ Bernoulli(σ(v − 3.2)); graded relevance 0/1/2;
:func:`posting_utility` returns ``expected_relevance = P(c)·(1 + P(deal|c))``.

Everything the oracle needs is written to ``truth/`` by :func:`write_truth`.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

RANK = 4
W = {"amount": 0.2, "industry": 1.2, "cert": 1.0, "chain": 0.6, "district": 0.4, "dept": 0.8,
     "closing_soon": 0.5, "new": 0.4, "latent": 0.6}
MODE_EFFECT = {"instant": 0.3, "auto": 0.2, "apply": -0.2}
CLICK_OFFSET = 2.4
APPLY_OFFSET = 1.2
APPLY_SHIFT = {"instant": 0.8, "auto": 1.0, "apply": -0.3}
APPROVE_RATE = {"instant": 0.95, "auto": 0.95, "apply": 0.80}
CLOSING_DAYS = 14
NEW_DAYS = 14

PW = {"tags": 2.2, "chain_adjacent": 0.8, "same_chain": 0.4, "distance": -0.012, "price": 0.6,
      "quantity": 0.25, "size": 0.15, "latent": 0.5, "reputation": 1.0}
# revealed-preference tastes (policies): weights in u and the standard deviations they are drawn with
TW = {"dept_taste": 1.0, "kind_taste": 1.0, "apply_taste": 1.0}
TASTE_SD = {"dept_segment": 0.5, "dept_firm": 0.7, "kind_segment": 0.3, "kind_firm": 0.5, "apply": 0.6,
            "reputation": 0.6, "reputation_rating": 0.25}
KIND_GROUPS = {"subsidy": "subsidy", "reward": "reward", "interest_subsidy": "finance", "fee_reduction": "finance",
               "refund": "finance", "voucher": "service", "procurement": "service"}
KINDS = ["subsidy", "reward", "finance", "service"]
CONTACT_OFFSET = 2.6
DEAL_OFFSET = 3.2

# Department × industry-section affinity: how naturally a department's policies speak to a section.
DEPT_SECTIONS = {
    "市人力资源社会保障局": {"C": 0.6, "E": 0.4, "F": 0.4, "H": 0.5, "G": 0.3, "L": 0.3, "O": 0.5},
    "市科技局": {"I": 1.0, "M": 1.0, "C": 0.6},
    "市工业和信息化局": {"C": 1.0, "I": 0.5, "D": 0.4},
    "市财政局": {"F": 0.4, "C": 0.3, "L": 0.3, "A": 0.4},
    "市地方金融监管局": {"C": 0.4, "I": 0.4, "J": 0.8, "F": 0.3},
    "市商务局": {"F": 1.0, "H": 0.8, "G": 0.5},
    "市市场监督管理局": {"C": 0.5, "I": 0.5, "M": 0.5},
    "市农业农村局": {"A": 1.0, "C": 0.3},
    "市文化和旅游局": {"R": 1.0, "H": 0.5},
    "市发展和改革委员会": {"C": 0.5, "D": 0.8},
    "市交通运输局": {"G": 1.0},
    "市住房和城乡建设局": {"E": 1.0, "K": 0.6},
}
SECTIONS = list("ABCDEFGHIJKLMNOPQR")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


FAMILIES = list(DEPT_SECTIONS)


def department_family(d: str) -> str | None:
    """The city bureau a department belongs with (district bureaus: the one whose name they share)."""
    if d in DEPT_SECTIONS:
        return d
    if "工业和信息化" in d:
        return "市工业和信息化局"
    if "商务" in d:
        return "市商务局"
    if "科技" in d or "高新区" in d:
        return "市科技局"
    if "发展和改革" in d or "发展改革" in d:
        return "市发展和改革委员会"
    return next((k for k in DEPT_SECTIONS if k[1:] in d or d.endswith(k[1:])), None)


RATING_SCORE = {"A": 2.0, "B": 1.0, "M": 0.0, "C": -1.0, "D": -2.0}
RATING_CENTRE = 0.9  # the city's mean rating score


def reputation_rating_part(tax_credit_rating: pd.Series) -> np.ndarray:
    """The part of a supplier's reputation its tax credit rating shows: 0.25·(rating score − 0.9),
    unknown rating = score 0 (the rest of the reputation is a per-firm draw history reveals)."""
    rating = tax_credit_rating.astype("string").map(RATING_SCORE).astype("Float64").fillna(0.0)
    return TASTE_SD["reputation_rating"] * (rating.to_numpy(dtype=float) - RATING_CENTRE)


def enterprise_tastes(section: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    """Static tastes revealed by history: ``dept_taste_<i>`` (``FAMILIES[i]``), ``kind_taste_<j>``
    (``KINDS[j]``), ``apply_taste`` and the supplier ``reputation`` (rating part added by the caller).

    A section-level component is shared by the firms of a section (segment tastes), the rest is the
    firm's own."""
    n = len(section)
    sec = pd.Categorical(section.astype("string").fillna("?"), categories=SECTIONS + ["?"]).codes
    out = {}
    seg = rng.normal(0, TASTE_SD["dept_segment"], (len(SECTIONS) + 1, len(FAMILIES)))
    own = rng.normal(0, TASTE_SD["dept_firm"], (n, len(FAMILIES)))
    for i in range(len(FAMILIES)):
        out[f"dept_taste_{i}"] = seg[sec, i] + own[:, i]
    seg = rng.normal(0, TASTE_SD["kind_segment"], (len(SECTIONS) + 1, len(KINDS)))
    own = rng.normal(0, TASTE_SD["kind_firm"], (n, len(KINDS)))
    for j in range(len(KINDS)):
        out[f"kind_taste_{j}"] = seg[sec, j] + own[:, j]
    out["apply_taste"] = rng.normal(0, TASTE_SD["apply"], n)
    out["reputation"] = rng.normal(0, TASTE_SD["reputation"], n)
    return pd.DataFrame(out, index=section.index)


def _taste_term(e: pd.DataFrame, prefix: str, idx: np.ndarray) -> np.ndarray:
    """Row-wise pick of ``<prefix><idx>`` (0 where idx < 0 or the truth has no such columns)."""
    cols = [c for c in e.columns if c.startswith(prefix)]
    if not cols:
        return np.zeros(len(e))
    mat = np.nan_to_num(e[sorted(cols, key=lambda c: int(c[len(prefix):]))].to_numpy(float))
    ok = (idx >= 0) & (idx < mat.shape[1])
    return np.where(ok, mat[np.arange(len(e)), np.clip(idx, 0, mat.shape[1] - 1)], 0.0)


def dept_affinity_table(rng: np.random.Generator, departments: list[str]) -> pd.DataFrame:
    """department × section → affinity: the documented base table plus N(0, 0.15) per cell."""
    rows = []
    for d in sorted(set(departments)):
        fam = department_family(d)
        base = DEPT_SECTIONS.get(fam, {}) if fam else {}
        for s in SECTIONS:
            rows.append({"department": d, "section": s,
                         "affinity": round(base.get(s, 0.0) + float(rng.normal(0, 0.15)), 4)})
    return pd.DataFrame(rows)


@cache
def _chain_prefixes() -> pd.DataFrame:
    path = resources.files("quanhuiqi.profile").joinpath("data").joinpath("industry_chains_gbt4754_2017.csv")
    with path.open(encoding="utf-8") as f:
        tab = pd.read_csv(f, dtype=str)
    return tab[["chain", "prefix"]]


def chains_of(codes: pd.Series) -> pd.Series:
    """``;``-joined chains of canonical 4-digit codes (prefix table shipped with the profile)."""
    codes = codes.astype("string").fillna("")
    out = pd.Series("", index=codes.index, dtype=object)
    for chain, group in _chain_prefixes().groupby("chain", sort=True):
        hit = np.zeros(len(codes), bool)
        for prefix in group["prefix"]:
            hit |= codes.str.startswith(prefix).to_numpy(bool)
        out = np.where(hit, np.where(out == "", chain, out + ";" + chain), out)
        out = pd.Series(out, index=codes.index, dtype=object)
    return out.astype("string")


# --- policy side ---------------------------------------------------------------------------------
def _set_overlap(left: pd.Series, right: pd.Series) -> np.ndarray:
    """1 where the ``;``-sets share a token (vectorised over distinct pairs)."""
    key = left.fillna("").astype(str) + "|" + right.fillna("").astype(str)
    codes, uniques = pd.factorize(key)

    def one(k: str) -> float:
        a, b = k.split("|")
        return float(bool(a and b and set(a.split(";")) & set(b.split(";"))))

    vals = np.array([one(k) for k in uniques], dtype=float)
    return vals[codes] if len(uniques) else np.zeros(0)


def _prefix_match(codes: pd.Series, sections: pd.Series, targets: pd.Series) -> np.ndarray:
    key = codes.fillna("").astype(str) + "|" + sections.fillna("").astype(str) + "|" + targets.fillna("").astype(str)
    kc, uniques = pd.factorize(key)

    def one(k: str) -> float:
        code, sec, tgt = k.split("|")
        if not tgt:
            return 0.0
        return float(any(code.startswith(t) if t.isdigit() else sec == t for t in tgt.split(";")))

    vals = np.array([one(k) for k in uniques], dtype=float)
    return vals[kc] if len(uniques) else np.zeros(0)


def policy_pair_utility(pairs: pd.DataFrame, ent: pd.DataFrame, pol: pd.DataFrame, aff: pd.DataFrame,
                        date: pd.Series | pd.Timestamp) -> pd.DataFrame:
    """Utility and outcome probabilities for ``pairs`` (uscc, policy_id[, eligible_true]).

    ``ent``: truth enterprise table indexed by uscc (industry_code, section, district_code,
    certifications, chains, engagement, z0..z3, the amount base fields); ``pol``: truth policy table
    indexed by policy_id (department, mode, valid_from/to, max_amount, amount_rate, amount_base,
    target_*, q0..q3).
    """
    e = ent.reindex(pairs["uscc"].to_numpy())
    p = pol.reindex(pairs["policy_id"].to_numpy())
    n = len(pairs)
    # amount for this enterprise: rate × base capped by max_amount, else the cap
    amount = p["max_amount"].to_numpy(float).copy()
    rate = p["amount_rate"].to_numpy(float)
    base_col = p["amount_base"].astype(object).to_numpy()
    for base in pd.unique(base_col[pd.notna(base_col)]):
        m = base_col == base
        b = e[base].to_numpy(float)[m] if base in e.columns else np.full(m.sum(), np.nan)
        v = np.minimum(amount[m], rate[m] * b)
        amount[m] = np.where(np.isfinite(v), v, amount[m])
    amount = np.nan_to_num(amount, nan=0.0)
    ind = _prefix_match(e["industry_code"].reset_index(drop=True), e["section"].reset_index(drop=True),
                        p["target_industries"].reset_index(drop=True))
    cert = _set_overlap(e["certifications"].reset_index(drop=True), p["target_certifications"].reset_index(drop=True))
    chain = _set_overlap(e["chains"].reset_index(drop=True), p["target_chains"].reset_index(drop=True))
    dis_t = p["target_districts"].fillna("").astype(str).to_numpy()
    dis_e = e["district_code"].fillna("").astype(str).to_numpy()
    district = _district_match(pd.Series(dis_e), pd.Series(dis_t))
    affmap = aff.set_index(["department", "section"])["affinity"]
    dept = affmap.reindex(pd.MultiIndex.from_arrays([p["department"].to_numpy(), e["section"].to_numpy()]))
    dept = np.nan_to_num(dept.to_numpy(float))
    d = pd.to_datetime(date if isinstance(date, pd.Series) else pd.Series([date] * n))
    d = d.to_numpy() if isinstance(d, pd.Series) else d
    days_left = (p["valid_to"].to_numpy() - d) / np.timedelta64(1, "D")
    days_new = (d - p["valid_from"].to_numpy()) / np.timedelta64(1, "D")
    closing = ((days_left >= 0) & (days_left <= CLOSING_DAYS)).astype(float)
    new = ((days_new >= 0) & (days_new <= NEW_DAYS)).astype(float)
    mode = p["mode"].astype(str).to_numpy()
    mode_eff = pd.Series(mode).map(MODE_EFFECT).fillna(0).to_numpy(float)
    z = e[[f"z{k}" for k in range(RANK)]].to_numpy(float)
    q = p[[f"q{k}" for k in range(RANK)]].to_numpy(float)
    latent = (z * q).sum(axis=1) / np.sqrt(RANK)
    fam = p["department"].astype(object).map(
        {d: (FAMILIES.index(f) if (f := department_family(str(d))) else -1) for d in pd.unique(p["department"])})
    kind = (p["benefit_kind"].astype(object).map(KIND_GROUPS).map({k: i for i, k in enumerate(KINDS)})
            if "benefit_kind" in p.columns else pd.Series(np.nan, index=p.index))
    tastes = (TW["dept_taste"] * _taste_term(e, "dept_taste_", fam.fillna(-1).to_numpy(np.int64))
              + TW["kind_taste"] * _taste_term(e, "kind_taste_", kind.fillna(-1).to_numpy(np.int64))
              + TW["apply_taste"] * (mode == "apply")
              * (np.nan_to_num(e["apply_taste"].to_numpy(float)) if "apply_taste" in e.columns else 0.0))
    u = (W["amount"] * np.log1p(amount) + W["industry"] * ind + W["cert"] * cert + W["chain"] * chain
         + W["district"] * district + W["dept"] * dept + e["engagement"].to_numpy(float)
         + W["closing_soon"] * closing + W["new"] * new + mode_eff + W["latent"] * latent + tastes)
    u = np.nan_to_num(u, nan=-5.0)
    p_click = sigmoid(u - CLICK_OFFSET)
    p_apply = sigmoid(u - APPLY_OFFSET + pd.Series(mode).map(APPLY_SHIFT).fillna(0).to_numpy(float))
    elig = pairs["eligible_true"].to_numpy(bool) if "eligible_true" in pairs else np.ones(n, bool)
    p_ok = np.where(elig, pd.Series(mode).map(APPROVE_RATE).fillna(0.8).to_numpy(float), 0.0)
    return pd.DataFrame({
        "amount": amount, "utility": u, "p_click": p_click, "p_apply": p_apply, "p_approve": p_ok,
        "expected_relevance": p_click * (1 + p_apply * (1 + p_ok)),
    }, index=pairs.index)


def policy_utility(pairs_df: pd.DataFrame, truth_dir: str | Path) -> pd.DataFrame:
    """Oracle: ``pairs_df`` (uscc, policy_id[, date]) with utility, outcome probabilities and
    ``expected_relevance`` under the true model.  Pairs of unknown enterprises or policies get NaN.

    ``date`` defaults to the city's as_of; true eligibility is read from ``truth/``.
    """
    t = load_truth(truth_dir)
    pairs = pairs_df[["uscc", "policy_id"]].copy()
    elig = t["eligible"]
    key = pairs["uscc"].astype(str) + "\x1f" + pairs["policy_id"].astype(str)
    pairs["eligible_true"] = key.isin(set(elig["uscc"].astype(str) + "\x1f" + elig["policy_id"].astype(str)))
    date = pd.to_datetime(pairs_df["date"]) if "date" in pairs_df else pd.Timestamp(t["params"]["as_of"])
    known = pairs["uscc"].isin(t["enterprises"].index) & pairs["policy_id"].isin(t["policies"].index)
    out = pd.DataFrame(np.nan, index=pairs.index,
                       columns=["amount", "utility", "p_click", "p_apply", "p_approve", "expected_relevance"])
    if known.any():
        sub = pairs[known]
        d = date[known] if isinstance(date, pd.Series) else date
        out.loc[known] = policy_pair_utility(sub, t["enterprises"], t["policies"], t["dept_affinity"], d).to_numpy()
    return pd.concat([pairs_df.reset_index(drop=True), out.reset_index(drop=True)], axis=1)


# --- posting side --------------------------------------------------------------------------------
def tag_matrix(tags: pd.Series, vocabulary: dict[str, int] | None = None,
               width: int = 4) -> tuple[np.ndarray, dict[str, int]]:
    """``;``-sets as an ``(n, width)`` matrix of token ids (−1 = empty), built once per table."""
    vocab = dict(vocabulary or {})
    parts = tags.fillna("").astype(str).str.split(";", expand=True)
    out = np.full((len(tags), width), -1, dtype=np.int64)
    for j in range(min(width, parts.shape[1])):
        col = parts[j].fillna("").to_numpy(object)
        for tok in pd.unique(col):
            if tok and tok not in vocab:
                vocab[tok] = len(vocab)
        ids = pd.Series(col).map(vocab).fillna(-1).to_numpy(np.int64)
        out[:, j] = ids
    return out, vocab


def jaccard_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Jaccard of two token-id matrices (tokens within a row are distinct)."""
    inter = np.zeros(len(a))
    for i in range(a.shape[1]):
        for j in range(b.shape[1]):
            inter += (a[:, i] == b[:, j]) & (a[:, i] >= 0)
    union = (a >= 0).sum(axis=1) + (b >= 0).sum(axis=1) - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def _jaccard(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Jaccard of ``;``-sets row by row (vectorised through token-id matrices)."""
    ma, vocab = tag_matrix(a.reset_index(drop=True))
    mb, _ = tag_matrix(b.reset_index(drop=True), vocab)
    return jaccard_rows(ma, mb)


def _district_match(dis: pd.Series, targets: pd.Series) -> np.ndarray:
    """1 where a district-level policy (targets other than the whole city) covers the district."""
    key = dis.fillna("").astype(str) + "|" + targets.fillna("").astype(str)
    codes, uniques = pd.factorize(key)

    def one(k: str) -> float:
        d, t = k.split("|")
        return float(bool(t) and t != "3701" and any(d.startswith(x) for x in t.split(";")))

    vals = np.array([one(k) for k in uniques], dtype=float)
    return vals[codes] if len(uniques) else np.zeros(0)


def posting_pair_utility(pairs: pd.DataFrame, posts: pd.DataFrame, ent: pd.DataFrame,
                         adjacency: set[tuple[str, str]]) -> pd.DataFrame:
    """Utility and outcome probabilities for (demand_id, supply_id) pairs under the true model."""
    from quanhuiqi.synth.enterprises import DISTRICT_XY

    dpos = posts.index.get_indexer(pairs["demand_id"].to_numpy())
    spos = posts.index.get_indexer(pairs["supply_id"].to_numpy())
    dm, sp = posts.iloc[dpos], posts.iloc[spos]
    tm, _ = tag_matrix(posts["tags_true"])  # once per posting, then gathered per pair
    tags = jaccard_rows(tm[dpos], tm[spos])
    ddiv, sdiv = dm["division"].astype(str).to_numpy(), sp["division"].astype(str).to_numpy()
    adj_keys = {f"{s}>{d}" for s, d in adjacency}
    adj = (pd.Series(sdiv).str.cat(pd.Series(ddiv), sep=">").isin(adj_keys).to_numpy() | (sdiv == ddiv)).astype(float)
    same_chain = _set_overlap(dm["chain"].reset_index(drop=True), sp["chain"].reset_index(drop=True))
    xs = {k: v[0] for k, v in DISTRICT_XY.items()}
    ys = {k: v[1] for k, v in DISTRICT_XY.items()}
    dcode, scode = dm["district_code"].astype(str), sp["district_code"].astype(str)
    dx = dcode.map(xs).fillna(80.0).to_numpy(float) - scode.map(xs).fillna(80.0).to_numpy(float)
    dy = dcode.map(ys).fillna(0.0).to_numpy(float) - scode.map(ys).fillna(0.0).to_numpy(float)
    dist = np.sqrt(dx**2 + dy**2)
    lo = np.maximum(dm["price_min"].to_numpy(float), sp["price_min"].to_numpy(float))
    hi = np.minimum(dm["price_max"].to_numpy(float), sp["price_max"].to_numpy(float))
    scale = np.maximum(dm["price_max"].to_numpy(float), 1e-6)
    price = np.where(hi >= lo, 1.0, np.exp(-(lo - hi) / scale))
    ratio = sp["quantity"].to_numpy(float) / np.maximum(dm["quantity"].to_numpy(float), 1e-6)
    quantity = np.exp(-np.abs(np.log(np.clip(ratio, 1e-6, None))) / 2)
    se = ent.reindex(sp["uscc"].to_numpy())
    de = ent.reindex(dm["uscc"].to_numpy())
    size = np.log(np.nan_to_num(se["employees"].to_numpy(float), nan=1.0).clip(1))
    latent = (de[["w0", "w1"]].to_numpy(float) * se[["w0", "w1"]].to_numpy(float)).sum(axis=1) / np.sqrt(2)
    rep = np.nan_to_num(se["reputation"].to_numpy(float)) if "reputation" in se.columns else np.zeros(len(se))
    v = (PW["reputation"] * rep + PW["tags"] * tags + PW["chain_adjacent"] * adj + PW["same_chain"] * same_chain + PW["distance"] * dist
         + PW["price"] * np.nan_to_num(price) + PW["quantity"] * np.nan_to_num(quantity) + PW["size"] * size
         + PW["latent"] * np.nan_to_num(latent))
    p_contact = sigmoid(v - CONTACT_OFFSET)
    p_deal = sigmoid(v - DEAL_OFFSET)
    return pd.DataFrame({"utility": v, "p_contact": p_contact, "p_deal": p_deal,
                         "expected_relevance": p_contact * (1 + p_deal)}, index=pairs.index)


def posting_utility(pairs_df: pd.DataFrame, truth_dir: str | Path) -> pd.DataFrame:
    """Oracle for supply–demand: ``pairs_df`` (demand_id, supply_id) with utility, probabilities and
    ``expected_relevance``; unknown postings get NaN."""
    t = load_truth(truth_dir)
    posts = t["postings"]
    pairs = pairs_df[["demand_id", "supply_id"]].astype(str)
    known = pairs["demand_id"].isin(posts.index) & pairs["supply_id"].isin(posts.index)
    out = pd.DataFrame(np.nan, index=pairs.index, columns=["utility", "p_contact", "p_deal", "expected_relevance"])
    if known.any():
        out.loc[known] = posting_pair_utility(pairs[known], posts, t["enterprises"], t["adjacency"]).to_numpy()
    return pd.concat([pairs_df.reset_index(drop=True), out.reset_index(drop=True)], axis=1)


# --- truth on disk -------------------------------------------------------------------------------
TRUTH_FILES = {
    "enterprises": "enterprises_true.parquet",
    "policies": "policies_true.parquet",
    "dept_affinity": "department_affinity.csv",
    "eligible": "eligible_true.parquet",
    "postings": "postings_true.parquet",
    "params": "params.json",
    "push_logging": "push_logging.parquet",  # which logged pushes were exploration
    "posting_logging": "posting_logging.parquet",  # which shown supplies were exploration
}


def write_truth(truth_dir: str | Path, *, enterprises: pd.DataFrame, policies: pd.DataFrame,
                dept_affinity: pd.DataFrame, eligible: pd.DataFrame, postings: pd.DataFrame,
                params: dict, logging: dict[str, pd.DataFrame] | None = None) -> Path:
    out = Path(truth_dir)
    out.mkdir(parents=True, exist_ok=True)
    enterprises.to_parquet(out / TRUTH_FILES["enterprises"], index=False)
    policies.to_parquet(out / TRUTH_FILES["policies"], index=False)
    dept_affinity.to_csv(out / TRUTH_FILES["dept_affinity"], index=False)
    eligible.to_parquet(out / TRUTH_FILES["eligible"], index=False)
    postings.to_parquet(out / TRUTH_FILES["postings"], index=False)
    for name, frame in (logging or {}).items():
        frame.to_parquet(out / TRUTH_FILES[name], index=False)
    model = {"policy_weights": W, "mode_effect": MODE_EFFECT, "click_offset": CLICK_OFFSET,
             "apply_offset": APPLY_OFFSET, "apply_shift": APPLY_SHIFT, "approve_rate": APPROVE_RATE,
             "closing_days": CLOSING_DAYS, "new_days": NEW_DAYS, "rank": RANK, "posting_weights": PW,
             "taste_weights": TW, "taste_sd": TASTE_SD, "families": FAMILIES, "kinds": KINDS,
             "kind_groups": KIND_GROUPS,
             "contact_offset": CONTACT_OFFSET, "deal_offset": DEAL_OFFSET}
    (out / TRUTH_FILES["params"]).write_text(json.dumps({**params, "model": model}, ensure_ascii=False, indent=1),
                                             encoding="utf-8")
    return out


@cache
def _adjacency_table() -> pd.DataFrame:
    path = resources.files("quanhuiqi.postings").joinpath("data").joinpath("chain_adjacency.csv")
    with path.open(encoding="utf-8") as f:
        return pd.read_csv(f, dtype=str, keep_default_na=False)


def chain_adjacency() -> set[tuple[str, str]]:
    """(upstream division, downstream division) pairs of the matcher's shipped adjacency table
    (the true chain relation of the synthetic market)."""
    t = _adjacency_table()
    return set(zip(t["upstream"], t["downstream"]))


def load_truth(truth_dir: str | Path) -> dict:
    d = Path(truth_dir)
    ent = pd.read_parquet(d / TRUTH_FILES["enterprises"]).set_index("uscc", drop=False)
    pol = pd.read_parquet(d / TRUTH_FILES["policies"]).set_index("policy_id", drop=False)
    posts = pd.read_parquet(d / TRUTH_FILES["postings"]).set_index("posting_id", drop=False)
    return {
        "enterprises": ent, "policies": pol, "postings": posts,
        "dept_affinity": pd.read_csv(d / TRUTH_FILES["dept_affinity"]),
        "eligible": pd.read_parquet(d / TRUTH_FILES["eligible"]),
        "params": json.loads((d / TRUTH_FILES["params"]).read_text(encoding="utf-8")),
        "adjacency": chain_adjacency(),
        **{name: pd.read_parquet(d / TRUTH_FILES[name]) for name in ("push_logging", "posting_logging")
           if (d / TRUTH_FILES[name]).exists()},
    }
