"""Pair features of (demand, supply) postings, and the Chinese reasons shown with a pair.

Features are symmetric facts of the pair (shared tags, text similarity, chain relation, place) plus
directional fits, so the two sides can be scored separately: what the buyer gets (quantity covered,
price within budget, supplier credit and size, freshness of the offer) and what the seller gets
(share of its stock taken, buyer credit and size, freshness of the need).  Unknown stays NaN.

With the platform's past impressions (``fit(history=…)``: ``date, demand_id, supply_id, contacted,
deal``) come revealed-preference features, each counted strictly before the pair's date: how often the
supplier *enterprise* was shown, contacted and closed a deal (smoothed rates: buyers come back to
suppliers that deliver), how often this buyer enterprise contacted this supplier enterprise before, and
how active the buyer enterprise has been.

The feature names are in :mod:`quanhuiqi.postings.columns`, the place and chain relations in
:mod:`quanhuiqi.postings.relations` (both re-exported here).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from quanhuiqi.postings.candidates import PostingIndex, build_index, pair_dot
from quanhuiqi.postings.columns import (
    CHAIN_SAME,
    CHAIN_UPSTREAM,
    FEATURES,
    HISTORY_FEATURES,
    HISTORY_PRIOR,
    REASON_FEATURES,
    RULE_FEATURES,
)
from quanhuiqi.postings.relations import chain_relation, county_index, district_km
from quanhuiqi.postings.scoring import PostingRuleScorer
from quanhuiqi.postings.vocabulary import chain_adjacency


class _Columns:
    """Feature columns written straight into the rows of one (features × pairs) float64 buffer, so the
    frame over millions of pairs is built without a copy."""

    def __init__(self, buf: np.ndarray):
        self.buf = buf
        self.filled: set[str] = set()

    def __setitem__(self, name: str, values) -> None:
        self.buf[_FEATURE_ROW[name]] = values
        self.filled.add(name)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.buf[_FEATURE_ROW[name]]


_FEATURE_ROW = {f: i for i, f in enumerate(FEATURES)}
_CHUNK = 1_000_000  # pairs per chunk of the feature computation


class PostingFeatureBuilder(TransformerMixin, BaseEstimator):
    """Pairs (``demand_id``, ``supply_id`` [, ``text_sim``, ``tag_shared``, ``as_of``]) → :data:`FEATURES`.

    ``postings`` are prepared postings (``prepare_postings``) or an already built
    :class:`PostingIndex`; ``fit`` builds the TF-IDF/tag index over them.  ``as_of`` per pair (a
    column) or for all pairs (the prepared postings' date) sets the recency features.
    """

    def __init__(self, postings=None, title_scorer: str = "WRatio", workers: int = 1):
        self.postings = postings
        self.title_scorer = title_scorer
        self.workers = workers

    def fit(self, X=None, y=None, *, history: pd.DataFrame | None = None):
        idx = self.postings if isinstance(self.postings, PostingIndex) else build_index(self.postings)
        self.index_ = idx
        self.pos_ = idx.pos
        self.n_features_in_ = 2
        self.history_ = None if history is None else _history_events(idx, history)
        return self

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.array(FEATURES, dtype=object)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        from rapidfuzz import fuzz, process

        if "d_pos" in X and "s_pos" in X:
            dp = X["d_pos"].to_numpy(dtype=np.int64)
            sp_ = X["s_pos"].to_numpy(dtype=np.int64)
        else:
            dpf = self.pos_.reindex(X["demand_id"].astype("string").to_numpy()).to_numpy(dtype="float64")
            spf = self.pos_.reindex(X["supply_id"].astype("string").to_numpy()).to_numpy(dtype="float64")
            if np.isnan(dpf).any() or np.isnan(spf).any():
                raise KeyError("pairs name postings that are not in the postings table")
            dp, sp_ = dpf.astype(np.int64), spf.astype(np.int64)
        buf = np.empty((len(FEATURES), len(dp)), dtype="float64")  # one block, each feature contiguous
        text_sim = (X["text_sim"].to_numpy(dtype="float64") if "text_sim" in X
                    else pair_dot(self.index_.text, self.index_.text, dp, sp_).astype("float64"))
        tag_shared = (X["tag_shared"].to_numpy(dtype="float64") if "tag_shared" in X
                      else np.rint(pair_dot(self.index_.tags, self.index_.tags, dp, sp_)).astype("float64"))
        if "as_of" in X:
            as_of = pd.to_datetime(X["as_of"]).to_numpy(dtype="datetime64[ns]")
        else:
            as_of = np.broadcast_to(np.datetime64(self.index_.postings.attrs["as_of"], "ns"), dp.shape)
        for lo in range(0, len(dp), _CHUNK):  # in chunks of pairs: the temporaries stay small
            sl = slice(lo, lo + _CHUNK)
            self._fill(_Columns(buf[:, sl]), dp[sl], sp_[sl], text_sim[sl], tag_shared[sl], as_of[sl], fuzz, process)
        for lo in range(0, len(dp), 3 * _CHUNK):
            sl = slice(lo, lo + 3 * _CHUNK)
            out = _Columns(buf[:, sl])
            hist = _history_features(getattr(self, "history_", None), self.index_, dp[sl], sp_[sl], as_of[sl])
            for c in HISTORY_FEATURES:
                out[c] = hist[c]
        return pd.DataFrame(buf.T, columns=FEATURES, index=X.index, copy=False)

    def _fill(self, out: _Columns, dp: np.ndarray, sp_: np.ndarray, text_sim: np.ndarray, tag_shared: np.ndarray,
              as_of: np.ndarray, fuzz, process) -> None:
        """The features of the pairs (dp, sp_) but the history ones into ``out`` (pair by pair: any chunking
        gives the same values)."""
        a = self.index_.arrays
        out["text_sim"] = text_sim
        out["tag_shared"] = tag_shared
        union = a["n_tags"][dp] + a["n_tags"][sp_] - out["tag_shared"]
        out["tag_jaccard"] = np.where(union > 0, out["tag_shared"] / np.maximum(union, 1), 0.0)
        out["title_score"] = _title_scores(a, dp, sp_, getattr(fuzz, self.title_scorer), process, self.workers)
        out["chain_relation"] = chain_relation(a["division"][dp], a["division"][sp_])
        dc, sc = a["county"][dp], a["county"][sp_]
        dpre, spre = a["prefecture"][dp], a["prefecture"][sp_]
        prox = np.where((dc == sc) & (dc >= 0), 1.0, np.where(dpre == spre, 0.5, 0.0))
        prox[(dpre < 0) | (spre < 0)] = np.nan
        out["district_proximity"] = prox
        du, su = a["unit"][dp], a["unit"][sp_]
        unit_match = np.where((du < 0) | (su < 0), np.nan, (du == su).astype("float64"))
        out["district_km"] = district_km(a["county_code"][dp], a["county_code"][sp_])
        out["same_chain"] = np.where((a["chains"][dp] == 0) | (a["chains"][sp_] == 0), np.nan,
                                     ((a["chains"][dp] & a["chains"][sp_]) != 0).astype("float64"))
        out["unit_match"] = unit_match
        qd, qs = a["quantity"][dp], a["quantity"][sp_]
        with np.errstate(divide="ignore", invalid="ignore"):
            same_unit = unit_match == 1.0
            out["qty_cover"] = np.where(same_unit & (qd > 0), np.minimum(qs / qd, 1.0), np.nan)
            out["qty_share"] = np.where(same_unit & (qs > 0), np.minimum(qd / qs, 1.0), np.nan)
            d_max, s_min = a["price_max"][dp], a["price_min"][sp_]
            fit = np.where(s_min > 0, np.minimum(d_max / s_min, 1.0), np.where(s_min == 0, 1.0, np.nan))
            out["price_fit"] = np.where(same_unit | np.isnan(unit_match), fit, np.nan)
            out["qty_log_ratio"] = np.where(same_unit & (qd > 0) & (qs > 0), np.log(qs / qd), np.nan)
            lo = np.maximum(a["price_min"][dp], s_min)
            hi = np.minimum(d_max, a["price_max"][sp_])
            gap = np.where(hi >= lo, 1.0, np.exp(-(lo - hi) / np.maximum(d_max, 1e-9)))
            out["price_overlap"] = np.where(same_unit | np.isnan(unit_match), gap, np.nan)
        day = np.timedelta64(1, "D")
        out["supply_age_days"] = (as_of - a["posted_on"][sp_]) / day
        out["demand_age_days"] = (as_of - a["posted_on"][dp]) / day
        out["supplier_credit"] = a["credit"][sp_]
        out["supplier_size"] = a["size"][sp_]
        out["buyer_credit"] = a["credit"][dp]
        out["buyer_size"] = a["size"][dp]
        out["supplier_log_employees"] = np.log1p(a["employees"][sp_])
        out["buyer_log_employees"] = np.log1p(a["employees"][dp])
        rule = PostingRuleScorer().score_sides(pd.DataFrame(out.buf.T, columns=FEATURES, copy=False))
        out["rule_demand"] = rule["score_demand"].to_numpy()
        out["rule_supply"] = rule["score_supply"].to_numpy()
        missing = set(FEATURES) - set(HISTORY_FEATURES) - out.filled
        if missing:  # pragma: no cover - every feature is computed here or (history) by the caller
            raise RuntimeError(f"features not computed: {sorted(missing)}")


def _title_scores(a: dict, dp: np.ndarray, sp_: np.ndarray, scorer, process, workers: int) -> np.ndarray:
    """rapidfuzz title similarity (0–1) per pair, computed once per distinct pair of titles (titles
    repeat: a city has far fewer distinct titles than postings)."""
    if not len(dp):
        return np.zeros(0)
    codes = a.get("title_code")
    if codes is None:
        codes = pd.factorize(a["title"])[0]
    titles = np.asarray(a["title"], dtype=object)
    first = np.zeros(int(codes.max()) + 1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]  # a posting holding each distinct title
    n_t = len(first)
    key = codes[dp].astype(np.int64) * n_t + codes[sp_]
    if n_t * n_t <= 64_000_000:  # a dense table of distinct pairs: no sort
        present = np.zeros(n_t * n_t, dtype=bool)
        present[key] = True
        uniq = np.flatnonzero(present)
        inv = np.zeros(n_t * n_t, dtype=np.int64)
        inv[uniq] = np.arange(len(uniq))
        inv = inv[key]
    else:
        uniq, inv = np.unique(key, return_inverse=True)
    score = process.cpdist(list(titles[first[uniq // n_t]]), list(titles[first[uniq % n_t]]), scorer=scorer,
                           dtype=np.float32, workers=workers)
    return score.astype("float64")[inv] / 100.0


def _day(values) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)


def _history_events(index: PostingIndex, history: pd.DataFrame) -> pd.DataFrame:
    """Past impressions as (day, buyer, supplier, contacted, deal), enterprises as the index's integer
    USCC codes; rows naming postings the index does not know are dropped (their enterprises are unknown)."""
    need = [c for c in ("date", "demand_id", "supply_id", "contacted", "deal") if c not in history.columns]
    if need:
        raise ValueError(f"posting interaction history: missing column(s) {', '.join(need)}")
    ids = index.postings["posting_id"].astype("string")
    first = ~ids.duplicated().to_numpy()
    pos = pd.Series(np.flatnonzero(first), index=ids.to_numpy()[first])
    codes = np.append(index.arrays["uscc"], -1)  # -1: unknown posting or enterprise

    def code(col: str) -> np.ndarray:
        at = pos.reindex(history[col].astype("string").to_numpy()).to_numpy(dtype="float64")
        return codes[np.where(np.isnan(at), -1, at).astype(np.int64)]

    d, s = code("demand_id"), code("supply_id")
    ok = (d >= 0) & (s >= 0) & pd.notna(pd.to_datetime(history["date"], errors="coerce")).to_numpy()
    h = history.loc[ok]
    return pd.DataFrame({
        "day": _day(pd.to_datetime(h["date"])),
        "buyer": d[ok], "supplier": s[ok],
        "contacted": h["contacted"].astype("boolean").fillna(False).to_numpy(dtype=float),
        "deal": h["deal"].astype("boolean").fillna(False).to_numpy(dtype=float),
    }).reset_index(drop=True)


def _sums_before(ev_key: np.ndarray, ev_day: np.ndarray, ev_vals: list[np.ndarray], q_key: np.ndarray,
                 q_day: np.ndarray) -> list[np.ndarray]:
    """For each query, the count and sums of events with the same key on a day strictly before its day.

    Keys are non-negative integers (-1 = no key → 0); sorted (key, day) and cumulative sums with
    ``searchsorted``: no loop over rows."""
    n = len(q_key)
    if not len(ev_key):
        return [np.zeros(n) for _ in range(len(ev_vals) + 1)]
    span = int(max(ev_day.max(), q_day.max()) - min(ev_day.min(), q_day.min())) + 2
    lo = int(min(ev_day.min(), q_day.min()))
    ev = ev_key.astype(np.int64) * span + (ev_day - lo)
    order = np.argsort(ev, kind="stable")
    ev = ev[order]
    cums = [np.r_[0.0, np.cumsum(np.ones(len(ev)))]] + [np.r_[0.0, np.cumsum(v[order])] for v in ev_vals]
    start = np.searchsorted(ev, np.maximum(q_key, 0).astype(np.int64) * span, side="left")
    end = np.searchsorted(ev, np.maximum(q_key, 0).astype(np.int64) * span + (q_day - lo), side="left")
    valid = q_key >= 0
    return [np.where(valid, c[end] - c[start], 0.0) for c in cums]


def _history_features(events: pd.DataFrame | None, index: PostingIndex, dp: np.ndarray, sp_: np.ndarray,
                      as_of: np.ndarray) -> dict[str, np.ndarray]:
    n = len(dp)
    if events is None:
        return {c: np.full(n, np.nan) for c in HISTORY_FEATURES}
    uscc = index.arrays["uscc"]  # integer codes, -1 unknown (equal codes = same enterprise)
    qb, qs = uscc[dp], uscc[sp_]
    q_day = _day(as_of) if n else np.zeros(0, dtype=np.int64)
    m = len(events)
    eb, es = events["buyer"].to_numpy(dtype=np.int64), events["supplier"].to_numpy(dtype=np.int64)
    ed = events["day"].to_numpy(dtype=np.int64)
    con, deal = events["contacted"].to_numpy(), events["deal"].to_numpy()
    shown, s_con, s_deal = _sums_before(es, ed, [con, deal], qs, q_day)
    g_shown, g_con, g_deal = _sums_before(np.zeros(m, np.int64), ed, [con, deal], np.zeros(n, np.int64), q_day)
    g_rate = np.where(g_shown > 0, g_con / np.maximum(g_shown, 1), 0.1)
    g_deal_rate = np.where(g_shown > 0, g_deal / np.maximum(g_shown, 1), 0.03)
    k = int(uscc.max(initial=0)) + 2
    _, pair_con = _sums_before(np.where((eb >= 0) & (es >= 0), eb.astype(np.int64) * k + es, -1), ed, [con],
                               np.where((qb >= 0) & (qs >= 0), qb.astype(np.int64) * k + qs, -1), q_day)
    _, buyer_con = _sums_before(eb, ed, [con], qb, q_day)
    return {
        "supplier_shown": shown,
        "supplier_contact_rate": (s_con + HISTORY_PRIOR * g_rate) / (shown + HISTORY_PRIOR),
        "supplier_deal_rate": (s_deal + HISTORY_PRIOR * g_deal_rate) / (shown + HISTORY_PRIOR),
        "pair_prev_contacts": pair_con,
        "buyer_prev_contacts": buyer_con,
    }


def _obj(values) -> np.ndarray:
    return np.asarray(values, dtype=object)


def _join(a: np.ndarray, b: np.ndarray, sep: str) -> np.ndarray:
    """Element-wise ``a + sep + b`` over object arrays, without the separator around empty strings."""
    has_b = b != ""
    if not has_b.any():
        return a
    out = a.copy()
    both = has_b & (a != "")
    only_b = has_b & ~both
    out[both] = a[both] + sep + b[both]
    out[only_b] = b[only_b]
    return out


def shared_tag_names(index: PostingIndex, d_pos: np.ndarray, s_pos: np.ndarray) -> np.ndarray:
    """``、``-joined shared normalised tags per pair, from the padded tag-code matrix (no row loop)."""
    dt_ = index.tag_codes[d_pos]
    st_ = index.tag_codes[s_pos]
    shared = ((dt_[:, :, None] == st_[:, None, :]) & (dt_[:, :, None] >= 0)).any(axis=2)
    names = _obj(np.append(index.tag_names, ""))
    out = np.full(len(d_pos), "", dtype=object)
    for j in range(dt_.shape[1]):  # at most MAX_TAGS columns
        if shared[:, j].any():
            out = _join(out, np.where(shared[:, j], names[dt_[:, j]], ""), "、")
    return out


def reasons(index: PostingIndex, d_pos: np.ndarray, s_pos: np.ndarray, feats: pd.DataFrame) -> pd.Series:
    """Why a pair is proposed, in Chinese, from its strongest facts (``；``-joined).

    A reason is a function of a few facts of the pair (shared tags, rounded similarity, chain link,
    district or distance, and four yes/no facts), and pairs repeat them: the text is written once per
    distinct combination (:func:`_reason_texts`) and handed to every pair that has it."""
    n = len(d_pos)
    if n < 1000:
        return _reason_texts(index, d_pos, s_pos, feats)
    f = feats.reset_index(drop=True)
    dt_ = index.tag_codes[d_pos]
    st_ = index.tag_codes[s_pos]
    shared = ((dt_[:, :, None] == st_[:, None, :]) & (dt_[:, :, None] >= 0)).any(axis=2)
    keys = [np.where(shared[:, j], dt_[:, j], -1) for j in range(dt_.shape[1]) if shared[:, j].any()]
    sim = f["text_sim"].to_numpy()
    keys.append(np.where(sim >= 0.15, np.round(sim, 2), -1.0))
    a = index.arrays
    rel = f["chain_relation"].to_numpy()
    link = a["division"][s_pos] * 1000 + a["division"][d_pos]
    keys.append(np.where(rel == CHAIN_UPSTREAM, link, np.where(rel == CHAIN_SAME, -2, -1)))
    prox = f["district_proximity"].to_numpy()
    km = f["district_km"].to_numpy()
    county = a["county"][s_pos].astype("float64")
    keys.append(np.where(prox == 1.0, 1e9 + county, np.where(np.isnan(km), np.where(prox == 0.5, -2.0, -1.0),
                                                              np.where(km <= 30, km, -1.0))))
    cover = f["qty_cover"].to_numpy()
    keys.append(np.where(cover >= 1.0, 2, np.where(cover >= 0.5, 1, 0)))
    keys.append(f["price_fit"].to_numpy() >= 1.0)
    credit = f["supplier_credit"].to_numpy()
    keys.append(np.where(credit >= 4, 2, np.where(credit >= 3, 1, 0)))
    keys.append(f["supply_age_days"].to_numpy() <= 7)
    combo = np.zeros(n, dtype=np.int64)
    for k in keys:  # one code per distinct combination of the facts
        code, uniq = pd.factorize(k)
        combo = pd.factorize(combo * (len(uniq) + 1) + code + 1)[0].astype(np.int64)
    n_combo = int(combo.max()) + 1
    rep = np.zeros(n_combo, dtype=np.int64)
    rep[combo[::-1]] = np.arange(n)[::-1]  # the first pair of each combination
    texts = pd.concat([_reason_texts(index, d_pos[r], s_pos[r], f.iloc[r])  # chunks: bounded memory
                       for r in np.array_split(rep, max(1, len(rep) // 200_000))], ignore_index=True)
    return pd.Series(pd.array(texts, dtype="string").take(combo), dtype="string")


def _reason_texts(index: PostingIndex, d_pos: np.ndarray, s_pos: np.ndarray, feats: pd.DataFrame) -> pd.Series:
    """The reasons of :func:`reasons`, written pair by pair."""
    from quanhuiqi.reference.districts import district_name

    n = len(d_pos)
    f = feats.reset_index(drop=True)
    prepared = index.postings
    shared = shared_tag_names(index, d_pos, s_pos)
    parts: list[np.ndarray] = [np.where(shared != "", "标签一致：" + shared, "")]
    sim = f["text_sim"].to_numpy()
    sim_txt = _obj(np.char.mod("%.2f", np.round(sim, 2))) if n else _obj([])
    parts.append(np.where(sim >= 0.15, "品名描述相近（相似度" + sim_txt + "）", ""))
    div = prepared["division"].astype("string").to_numpy()
    adj = chain_adjacency()
    keys = pd.DataFrame({"upstream": div[s_pos], "downstream": div[d_pos]})
    chain = _obj(keys.merge(adj, on=["upstream", "downstream"], how="left")["relation"].fillna("").astype(str))
    rel = f["chain_relation"].to_numpy()
    parts.append(np.where(rel == CHAIN_UPSTREAM, "产业链上下游：" + chain, np.where(rel == CHAIN_SAME, "同行业", "")))
    county = prepared["county"].astype("string").to_numpy()[s_pos]
    uniq = pd.unique(pd.Series(county).dropna())
    names = _obj(pd.Series(county).map({c: district_name(c) for c in uniq}).fillna("").astype(str))
    prox = f["district_proximity"].to_numpy()
    km = f["district_km"].to_numpy()
    km_txt = _obj(np.char.mod("%.0f", np.nan_to_num(km))) if n else _obj([])
    near = np.where(np.isnan(km), np.where(prox == 0.5, "同城", ""),
                    np.where(km <= 30, "相距约" + km_txt + "公里", ""))  # a far supplier is no reason
    parts.append(np.where(prox == 1.0, "同在" + names, near))
    cover = f["qty_cover"].to_numpy()
    parts.append(np.where(cover >= 1.0, "供应量满足需求", np.where(cover >= 0.5, "供应量可满足大部分需求", "")))
    parts.append(np.where(f["price_fit"].to_numpy() >= 1.0, "报价在预算内", ""))
    credit = f["supplier_credit"].to_numpy()
    parts.append(np.where(credit >= 4, "供方纳税信用A级", np.where(credit >= 3, "供方纳税信用B级", "")))
    parts.append(np.where(f["supply_age_days"].to_numpy() <= 7, "供应信息新近发布", ""))
    joined = np.full(n, "", dtype=object)
    for part in parts:
        joined = _join(joined, _obj(part), "；")
    joined = np.where(joined == "", "综合匹配度较高", joined)
    return pd.Series(joined, dtype="string")


__all__ = ["CHAIN_SAME", "CHAIN_UPSTREAM", "FEATURES", "HISTORY_FEATURES", "HISTORY_PRIOR", "REASON_FEATURES",
           "RULE_FEATURES", "PostingFeatureBuilder", "chain_relation", "county_index", "district_km", "reasons",
           "shared_tag_names"]
