"""Reading issues against the city: who is affected, which policy speaks to an issue, how well it is answered.

* :func:`affected_segments` — per issue and segment (industry section, district, size class, industry chain):
  the share of the issue's distinct enterprises in the segment against the segment's share of all
  enterprises — the lift, with a Wilson 95 % interval (the population share is a census, not a sample).
  An issue then reads "建筑业 small firms of 历城区, 3.1× the city rate".
* :func:`policy_links` — issue ↔ policy: cosine of the issue's centroid and the policy's title and
  description (character bigrams, the issues' own vocabulary and idf), plus the policy named in the
  appeals' text, plus the department (the issue's routed departments against the policy's), plus the
  benefit kind the appeals' words point to (补贴/补助 → subsidy, 贴息 → interest subsidy, …);
  :func:`policy_appeal_counts` is the reverse: the policies generating most appeals.
* :func:`reply_quality` — for closed appeals with a reply: completeness (the share of the appeal's key
  terms — its heaviest bigrams — that the reply takes up), timeliness (no stage of the 2110 clock late or
  overdue) and satisfaction (满意 1, 基本满意 0.5, 不满意 0); per department and per issue, weakest first.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import scipy.sparse as sp

SEGMENT_DIMENSIONS = {"industry_section": "行业门类", "district_code": "区县", "size_class": "规模", "chains": "产业链"}
BENEFIT_WORDS = {
    "subsidy": ["补贴", "补助", "资助", "奖补"], "reward": ["奖励", "奖补"], "interest_subsidy": ["贴息"],
    "refund": ["返还", "退税"], "voucher": ["券"], "fee_reduction": ["减免", "费率", "优惠"],
    "procurement": ["采购"],
}
SATISFACTION_SCORE = {"满意": 1.0, "基本满意": 0.5, "不满意": 0.0}


def wilson(k: np.ndarray, n: np.ndarray, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion k / n (vectorised)."""
    k = np.asarray(k, dtype=float)
    n = np.maximum(np.asarray(n, dtype=float), 1.0)
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return np.clip(mid - half, 0, 1), np.clip(mid + half, 0, 1)


def _segments_long(profiles: pd.DataFrame) -> pd.DataFrame:
    """``uscc, dimension, segment``: one row per enterprise and segment it is in (chains: one per chain)."""
    parts = []
    for dim in SEGMENT_DIMENSIONS:
        if dim not in profiles.columns:
            continue
        v = profiles[dim].astype("string")
        if dim == "chains":
            v = v.str.split(";")
            frame = pd.DataFrame({"uscc": profiles["uscc"].astype("string"), "segment": v}).explode("segment")
        else:
            frame = pd.DataFrame({"uscc": profiles["uscc"].astype("string"), "segment": v})
        frame = frame[frame["segment"].notna() & (frame["segment"] != "")]
        if dim == "district_code":  # a city- or province-level code is "district unknown", not a segment
            frame = frame[~frame["segment"].str.endswith("00")]
        parts.append(frame.assign(dimension=dim))
    if not parts:
        return pd.DataFrame({"uscc": [], "dimension": [], "segment": []})
    return pd.concat(parts, ignore_index=True)[["uscc", "dimension", "segment"]]


def affected_segments(grouped: pd.DataFrame, profiles: pd.DataFrame, min_enterprises: int = 3,
                      min_in_segment: int = 2) -> pd.DataFrame:
    """``issue_id, dimension, segment, enterprises, issue_enterprises, share, population_share, lift,
    lift_low, lift_high`` for segments over-represented in an issue (``lift_low`` > 1), strongest first.

    ``grouped`` has ``issue_id`` and ``uscc``; ``profiles`` the enterprise profiles (``uscc`` and any of
    ``industry_section, district_code, size_class, chains``).  Issues with fewer than ``min_enterprises``
    distinct enterprises are not read (too few to say anything, and too few to stay anonymous)."""
    cols = ["issue_id", "dimension", "segment", "enterprises", "issue_enterprises", "share", "population_share",
            "lift", "lift_low", "lift_high"]
    pairs = grouped[["issue_id", "uscc"]].dropna().astype("string").drop_duplicates()
    known = pd.Index(profiles["uscc"].astype("string"))
    pairs = pairs[pairs["uscc"].isin(known)]
    size = pairs.groupby("issue_id").size()
    pairs = pairs[pairs["issue_id"].isin(size.index[size >= min_enterprises])]
    if pairs.empty:
        return pd.DataFrame(columns=cols)
    seg = _segments_long(profiles)
    pop = seg.groupby(["dimension", "segment"]).size().rename("population").reset_index()
    n_pop = profiles["uscc"].nunique()
    hit = pairs.merge(seg, on="uscc").groupby(["issue_id", "dimension", "segment"]).size().rename("enterprises")
    out = hit.reset_index().merge(pop, on=["dimension", "segment"])
    out["issue_enterprises"] = size.reindex(out["issue_id"]).to_numpy()
    out = out[out["enterprises"] >= min_in_segment]
    k, n = out["enterprises"].to_numpy(float), out["issue_enterprises"].to_numpy(float)
    p_pop = out["population"].to_numpy(float) / n_pop
    lo, hi = wilson(k, n)
    out["share"] = np.round(k / n, 4)
    out["population_share"] = np.round(p_pop, 4)
    out["lift"] = np.round(k / n / p_pop, 2)
    out["lift_low"], out["lift_high"] = np.round(lo / p_pop, 2), np.round(hi / p_pop, 2)
    out = out[out["lift_low"] > 1.0]
    return out.sort_values(["issue_id", "lift_low"], ascending=[True, False], ignore_index=True)[cols]


def affected_summary(segments: pd.DataFrame, names: dict[str, dict[str, str]] | None = None) -> pd.Series:
    """Per issue one sentence: the strongest over-represented segment of each dimension with its lift —
    e.g. ``建筑业 · 历城区 · 小型（为全市比例的 3.1 倍）``."""
    if segments.empty:
        return pd.Series(dtype="string")
    names = names or {}
    top = segments.sort_values("lift_low", ascending=False).drop_duplicates(["issue_id", "dimension"])
    top = top.assign(name=[names.get(d, {}).get(str(s), str(s)) for d, s in zip(top["dimension"], top["segment"])])
    order = {d: i for i, d in enumerate(SEGMENT_DIMENSIONS)}
    top = top.assign(_o=top["dimension"].map(order)).sort_values(["issue_id", "_o"])
    best = top.groupby("issue_id")["lift"].max()
    text = top.groupby("issue_id")["name"].agg(" · ".join)
    return (text + "（为全市比例的 " + best.map(lambda v: f"{v:.1f}").reindex(text.index) + " 倍）").astype("string")


# --- policies ----------------------------------------------------------------------------------------------

def policy_table(book) -> pd.DataFrame:
    """``policy_id, title, department, benefit_kind, text`` of a loaded policy book (``load_book``)."""
    rows = [{"policy_id": p.id, "title": p.title, "department": p.department or "",
             "benefit_kind": p.benefit_kind or "", "text": f"{p.title}。{p.description or ''}"} for p in book.items]
    return pd.DataFrame(rows, columns=["policy_id", "title", "department", "benefit_kind", "text"])


def _short_title(title: pd.Series) -> pd.Series:
    """A policy title without its period in brackets — ``小微企业房租补贴（2025年下半年）`` → ``小微企业房租补贴``."""
    return title.astype("string").str.replace(r"[（(][^）)]*[）)]", "", regex=True).str.strip()


def _first_match(texts: pd.Series, pattern: str) -> pd.Series:
    """The first match of ``pattern`` (one named group) in each text (missing when none), in one arrow pass."""
    import pyarrow.compute as pc

    from quanhuiqi.tables.parse import from_arrow, to_arrow

    m = pc.extract_regex(to_arrow(texts.astype("string").fillna("")), pattern)
    return from_arrow(pc.struct_field(m, [0]), texts.index)


def policy_links(state, grouped: pd.DataFrame, policies: pd.DataFrame, texts: pd.Series | None = None,
                 top: int = 3, min_score: float = 0.3) -> pd.DataFrame:
    """``issue_id, policy_id, title, department, score, text_similarity, named, department_match, benefit_match``
    — each issue's best ``top`` policies scoring at least ``min_score``.

    ``state`` is the issues' :class:`~quanhuiqi.appeals.issues.IssueState` (centroids, vocabulary, idf);
    ``grouped`` has ``issue_id`` and optionally ``department`` (routed, ';'-separated); ``texts`` the
    appeals' masked text aligned with ``grouped`` (to find policies named by their title)."""
    from quanhuiqi.appeals.issues import _bigram_counts, _l2, _scale_columns, _sublinear_l2, issue_text

    cols = ["issue_id", "policy_id", "title", "department", "score", "text_similarity", "named",
            "department_match", "benefit_match"]
    if policies.empty or state.centroids.shape[0] == 0:
        return pd.DataFrame(columns=cols)
    iss = pd.Index(pd.unique(grouped["issue_id"].dropna().astype(str)))
    rows = pd.Index(state.issues["issue_id"].astype(str)).get_indexer(iss)
    iss, rows = iss[rows >= 0], rows[rows >= 0]
    ptext = issue_text(policies["text"].astype("string")).tolist()
    pv = _l2(_scale_columns(_sublinear_l2(_bigram_counts(ptext, state, False)), state.idf()))
    sim = (state.centroids[rows] @ pv.T).toarray()  # issues × policies (policies are few)
    named = np.zeros_like(sim)
    if texts is not None:
        g = pd.DataFrame({"issue_id": grouped["issue_id"].astype("string").to_numpy(),
                          "t": pd.Series(texts).astype("string").fillna("").to_numpy()})
        g = g[g["issue_id"].isin(iss)]
        size = g.groupby("issue_id").size().reindex(iss).to_numpy(float)
        shorts = _short_title(policies["title"]).fillna("")
        cols_of: dict[str, list[int]] = {}
        for j, short in enumerate(shorts):
            if len(short) >= 4:
                cols_of.setdefault(short, []).append(j)
        if cols_of:  # one regular-expression pass (longest titles first): the first policy title each appeal names
            pattern = "(?P<m>" + "|".join(re.escape(t) for t in sorted(cols_of, key=len, reverse=True)) + ")"
            found = _first_match(g["t"], pattern)
            hit = g.assign(m=found.to_numpy())[found.notna().to_numpy()]
            counts = hit.groupby(["issue_id", "m"]).size()
            for (iid, short), k in counts.items():
                named[iss.get_loc(iid), cols_of[short]] = k / max(size[iss.get_loc(iid)], 1)
    dep = np.zeros_like(sim)
    if "department" in grouped.columns:
        d = grouped[["issue_id", "department"]].dropna().astype("string")
        d = d.assign(department=d["department"].str.split(";")).explode("department")
        share = d.groupby(["issue_id", "department"]).size() / d.groupby("issue_id").size()
        share = share.reset_index(name="share")
        share = share[share["issue_id"].isin(iss)]
        pol_dep = policies["department"].astype("string").fillna("")
        for j, pdp in enumerate(pol_dep):
            if pdp:
                m = share[share["department"] == pdp]
                dep[:, j] = m.set_index("issue_id")["share"].reindex(iss).fillna(0).to_numpy()
    ben = np.zeros_like(sim)
    if texts is not None and len(iss):
        for kind, words in BENEFIT_WORDS.items():
            cols_k = np.flatnonzero(policies["benefit_kind"].astype("string").fillna("").to_numpy() == kind)
            if not len(cols_k):
                continue
            pat = "(?P<m>" + "|".join(words) + ")"
            share = g.assign(h=_first_match(g["t"], pat).notna().to_numpy()).groupby("issue_id")["h"].mean()
            ben[:, cols_k] = share.reindex(iss).fillna(0).to_numpy()[:, None]
    score = sim + 0.5 * np.minimum(named * 3, 1.0) + 0.1 * dep + 0.05 * ben
    score = np.where((sim >= 0.15) | (named > 0), score, 0.0)  # department and benefit kind alone link nothing
    r, c = np.nonzero(score >= min_score)
    out = pd.DataFrame({"issue_id": iss.to_numpy()[r], "policy_id": policies["policy_id"].to_numpy()[c],
                        "title": policies["title"].to_numpy()[c], "department": policies["department"].to_numpy()[c],
                        "score": np.round(score[r, c], 4), "text_similarity": np.round(sim[r, c], 4),
                        "named": np.round(named[r, c], 3), "department_match": np.round(dep[r, c], 3),
                        "benefit_match": np.round(ben[r, c], 3)})
    out = out.sort_values(["issue_id", "score"], ascending=[True, False])
    return out[out.groupby("issue_id").cumcount() < top].reset_index(drop=True)[cols]


def policy_appeal_counts(links: pd.DataFrame, grouped: pd.DataFrame, as_of=None, recent: int = 7) -> pd.DataFrame:
    """The reverse: per policy, the appeals (and recent appeals) of the issues it is the best link of —
    the policies generating most appeals, most first."""
    cols = ["policy_id", "title", "department", "issues", "appeals", "appeals_recent"]
    if links.empty:
        return pd.DataFrame(columns=cols)
    best = links.sort_values("score", ascending=False).drop_duplicates("issue_id")
    g = grouped[["issue_id", "received_at"]].dropna(subset=["issue_id"])
    n = g.groupby("issue_id").size()
    best = best.assign(appeals=n.reindex(best["issue_id"]).fillna(0).astype(int).to_numpy())
    if as_of is not None:
        end = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
        rec = g[(g["received_at"] < end) & (g["received_at"] >= end - pd.Timedelta(days=recent))]
        best["appeals_recent"] = rec.groupby("issue_id").size().reindex(best["issue_id"]).fillna(0).astype(int).to_numpy()
    else:
        best["appeals_recent"] = 0
    out = best.groupby(["policy_id", "title", "department"], as_index=False).agg(
        issues=("issue_id", "size"), appeals=("appeals", "sum"), appeals_recent=("appeals_recent", "sum"))
    return out.sort_values(["appeals", "policy_id"], ascending=[False, True], ignore_index=True)[cols]


# --- replies -----------------------------------------------------------------------------------------------

def reply_completeness(state, appeal_text: pd.Series, reply_text: pd.Series, k: int = 8) -> np.ndarray:
    """Share of an appeal's ``k`` heaviest bigrams (TF-IDF over the issues' vocabulary) found in its reply,
    weighted by their weights; NaN without a reply."""
    from quanhuiqi.appeals.issues import (
        _bigram_counts,
        _bigram_keys,
        _scale_columns,
        _sublinear_l2,
        _top_terms,
        issue_text,
    )

    a = issue_text(appeal_text.astype("string")).tolist()
    r = issue_text(reply_text.astype("string")).tolist()
    x = _top_terms(_scale_columns(_sublinear_l2(_bigram_counts(a, state, False)), state.idf()), k).tocsr()
    doc, key = _bigram_keys(r)
    col = state.lookup(key)
    ok = col >= 0
    present = sp.csr_matrix((np.ones(int(ok.sum()), dtype=np.float32), (doc[ok], col[ok])),
                            shape=(len(r), state.n_terms))
    present.data[:] = 1.0
    present.sum_duplicates()
    present.data[:] = 1.0
    covered = np.asarray(x.multiply(present).sum(axis=1)).ravel()
    total = np.asarray(x.sum(axis=1)).ravel()
    out = np.where(total > 0, covered / np.maximum(total, 1e-9), np.nan)
    has_reply = reply_text.astype("string").fillna("").str.len().to_numpy() > 0
    return np.where(has_reply, np.round(out, 4), np.nan)


def reply_quality(state, clean: pd.DataFrame, grouped: pd.DataFrame, clock_status: pd.DataFrame | None = None
                  ) -> dict[str, pd.DataFrame]:
    """``{"appeals", "departments", "issues"}``: per closed appeal with a reply its ``completeness``,
    ``on_time`` and ``satisfaction_score``; then per department and per issue (≥ 3 replies) the means,
    weakest first (the lower of completeness and satisfaction, then on-time share)."""
    done = clean[clean["reply"].notna()].copy() if "reply" in clean.columns else clean.iloc[:0].copy()
    if "closed_at" in done.columns:
        done = done[done["closed_at"].notna() | done.get("resolved_at", pd.Series(index=done.index)).notna()]
    text = (done["title"].astype("string").fillna("") + "。" + done["body"].astype("string").fillna(""))
    # only a number per reply leaves (digits are already folded to 0 by issue_text); masking every reply would
    # cost more than the rest of the weekly report together
    comp = reply_completeness(state, text, done["reply"].astype("string"))
    sat = done["satisfaction"].astype("string").map(SATISFACTION_SCORE) if "satisfaction" in done.columns else np.nan
    per = pd.DataFrame({"appeal_id": done["appeal_id"].astype("string").to_numpy(),
                        "department": done.get("department", pd.Series(pd.NA, index=done.index)).astype("string").to_numpy(),
                        "completeness": comp, "satisfaction_score": pd.to_numeric(pd.Series(sat, index=done.index)).to_numpy()})
    case = done["case_id"] if "case_id" in done.columns else done["appeal_id"]
    if clock_status is not None and len(clock_status):
        bad = clock_status.groupby("case_id")["state"].agg(lambda s: bool(s.isin(["late", "overdue"]).any()))
        per["on_time"] = (~bad.reindex(case.astype(str).to_numpy()).astype("boolean")).to_numpy()
    else:
        per["on_time"] = pd.array([pd.NA] * len(per), dtype="boolean")
    iss = grouped.set_index("appeal_id")["issue_id"]
    per["issue_id"] = iss.reindex(per["appeal_id"]).to_numpy()

    def agg(by: str) -> pd.DataFrame:
        frame = per.assign(**{by: per[by].astype("string")})
        if by == "department":
            frame = frame.assign(department=frame["department"].str.split(";")).explode("department")
        a = frame.dropna(subset=[by]).groupby(by).agg(
            replies=("appeal_id", "size"), completeness=("completeness", "mean"),
            on_time_share=("on_time", lambda s: float(s.astype("Float64").astype(float).mean())),
            satisfaction=("satisfaction_score", "mean"))
        a = a[a["replies"] >= 3].round(3)
        a["weakest"] = a[["completeness", "satisfaction"]].min(axis=1)
        return a.sort_values(["weakest", "on_time_share"], na_position="last").reset_index()

    return {"appeals": per, "departments": agg("department"), "issues": agg("issue_id")}


__all__ = ["SEGMENT_DIMENSIONS", "affected_segments", "affected_summary", "policy_appeal_counts", "policy_links",
           "policy_table", "reply_completeness", "reply_quality", "wilson"]
