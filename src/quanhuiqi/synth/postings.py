"""Supply and demand postings (供需对接) and their contact → deal history.

Tags come from the matcher's shipped vocabulary (``quanhuiqi/postings/data/tag_vocabulary.csv``) so
both sides agree: an enterprise *supplies* tags made in its own GB/T 4754 division (wholesalers and
retailers: any goods tag) and *demands* tags of the divisions upstream of it in
``chain_adjacency.csv`` plus common business services.  Mess: 12 % of tags written as a synonym
(trade shorthand, traditional spelling), 3 % in full-width letters, 4 % free tags outside the
vocabulary, 5 % of lists separated by ``；``, 3 % of titles in traditional characters.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from quanhuiqi.synth.enterprises import _T2S_SAMPLE, _district_names, _fullwidth
from quanhuiqi.synth.preference import chain_adjacency, jaccard_rows, posting_pair_utility, tag_matrix
from quanhuiqi.tables.columns import POSTING_COLUMNS

SERVICE_DIVISIONS = {"54", "58", "59", "60", "64", "65", "72", "73", "74", "75", "77", "83", "47", "48", "49",
                     "50", "70", "71", "61", "62", "66", "68", "87", "88"}
COMMON_SERVICE_TAGS = ["普通货运", "仓储服务", "软件开发", "财税服务", "人力资源服务", "检验检测", "广告服务",
                       "包装材料", "劳保用品", "办公用品", "企业咨询", "IT运维", "设备租赁", "厂房租赁"]
FREE_TAGS = ["优质", "现货", "厂家直销", "量大从优", "可开票", "长期合作", "急单"]
UNIT_PRICE = {"吨": 0.45, "台": 6.0, "套": 15.0, "件": 0.02, "批": 8.0, "次": 1.5, "项": 20.0, "月": 3.0}
UNIT_QTY = {"吨": 50, "台": 5, "套": 3, "件": 2000, "批": 3, "次": 6, "项": 1, "月": 12}
TON_DIVS = {"06", "13", "25", "26", "28", "30", "31", "32", "42", "44", "45"}
SET_DIVS = {"34", "35", "36", "37", "38", "40"}
EXPLORE_POSTINGS = 0.25  # share of demands whose shown supplies were drawn uniformly (exploration)


@cache
def tag_vocabulary() -> pd.DataFrame:
    """The matcher's vocabulary: tag, synonyms (list), divisions (list), chain, is_service, unit."""
    path = resources.files("quanhuiqi.postings").joinpath("data").joinpath("tag_vocabulary.csv")
    with path.open(encoding="utf-8") as f:
        v = pd.read_csv(f, dtype=str, keep_default_na=False)
    v["divisions"] = v["industry_divisions"].str.split(";")
    v["syn"] = v["synonyms"].str.split(";").map(lambda xs: [x for x in xs if x])
    first = v["divisions"].str[0]
    v["is_service"] = first.isin(SERVICE_DIVISIONS) | v["tag"].str.contains(
        "服务|加工|处理|切割|焊接|贴片|开发|集成|运维|设计|检测|咨询|施工|装修|安装|外包|培训|管理|运输|物流|配送|代理|注塑|印刷")
    v["unit"] = np.where(v["is_service"], np.where(v["tag"].str.contains("运维|管理|租赁|物业"), "月",
                                                   np.where(v["tag"].str.contains("开发|集成|设计|施工|装修"), "项", "次")),
                         np.where(first.isin(TON_DIVS), "吨", np.where(first.isin(SET_DIVS), "台",
                                  np.where(first.isin({"39", "33", "29", "22", "17", "18", "24", "27"}), "件", "批"))))
    return v.reset_index(drop=True)


def _pools(vocab: pd.DataFrame) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """division → supply tag indices, division → demand tag indices."""
    goods = np.flatnonzero(~vocab["is_service"].to_numpy())
    by_div: dict[str, list[int]] = {}
    for i, divs in enumerate(vocab["divisions"]):
        for d in divs:
            by_div.setdefault(d, []).append(i)
    supply = {d: np.array(v) for d, v in by_div.items()}
    supply["51"] = np.union1d(supply.get("51", np.array([], int)), goods)
    supply["52"] = np.union1d(supply.get("52", np.array([], int)), goods)
    tag_idx = {t: i for i, t in enumerate(vocab["tag"])}
    common = np.array([tag_idx[t] for t in COMMON_SERVICE_TAGS if t in tag_idx])
    up: dict[str, list[str]] = {}
    for u, d in chain_adjacency():
        up.setdefault(d, []).append(u)
    demand = {}
    for d in {f"{k:02d}" for k in range(1, 98)}:
        idx = [supply[u] for u in up.get(d, []) if u in supply]
        demand[d] = np.unique(np.concatenate(idx)) if idx else np.array([], int)
    demand["51"] = np.union1d(demand["51"], goods)
    demand["52"] = np.union1d(demand["52"], goods)
    return supply, {d: np.union1d(v, common).astype(int) for d, v in demand.items()}


def generate_postings(true: pd.DataFrame, seed: int, as_of: str | pd.Timestamp, history_days: int = 120,
                      per_enterprise: float = 0.6) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(postings, postings_true)``: the messy posting table (``POSTING_COLUMNS``) and the canonical
    facts behind each posting (true tags, division, chain, poster) for the latent model."""
    rng = np.random.default_rng([seed, 3])
    as_of = pd.Timestamp(as_of)
    vocab = tag_vocabulary()
    supply_pool, demand_pool = _pools(vocab)
    ent = true[true["status_true"] == "active"].reset_index(drop=True)
    n_posts = int(round(per_enterprise * len(true)))
    # posters: bigger and more engaged enterprises post more
    w = np.exp(0.3 * np.log(ent["employees"].to_numpy(float)) + 0.5 * ent["engagement"].to_numpy(float))
    poster = rng.choice(len(ent), size=n_posts, p=w / w.sum())
    div = ent["industry_code"].astype(str).str[:2].to_numpy()[poster]
    side = np.where(rng.random(n_posts) < 0.55, "supply", "demand")
    # a division without supply tags posts demand, and vice versa
    has_sup = np.isin(div, [d for d, v in supply_pool.items() if len(v)])
    has_dem = np.isin(div, [d for d, v in demand_pool.items() if len(v)])
    side = np.where(~has_sup, "demand", np.where(~has_dem, "supply", side))
    keep = np.where(side == "supply", has_sup, has_dem)
    poster, div, side = poster[keep], div[keep], side[keep]
    n = len(poster)
    primary = np.full(n, -1)
    for d in np.unique(div):
        for s, pool in (("supply", supply_pool), ("demand", demand_pool)):
            m = (div == d) & (side == s)
            if m.any():
                primary[m] = pool[d][rng.integers(0, len(pool[d]), m.sum())]
    # related tags: same chain or same first division
    chain = vocab["chain"].to_numpy()
    first_div = vocab["divisions"].str[0].to_numpy()
    n_rel = rng.choice([0, 1, 2], size=n, p=[0.35, 0.4, 0.25])
    rel1 = np.full(n, -1)
    rel2 = np.full(n, -1)
    for t in np.unique(primary):
        m = primary == t
        cand = np.flatnonzero(((chain == chain[t]) & (chain[t] != "")) | (first_div == first_div[t]))
        cand = cand[cand != t]
        if len(cand):
            rel1[m] = cand[rng.integers(0, len(cand), m.sum())]
            rel2[m] = cand[rng.integers(0, len(cand), m.sum())]
    rel1 = np.where(n_rel >= 1, rel1, -1)
    rel2 = np.where((n_rel >= 2) & (rel2 != rel1), rel2, -1)
    tags_arr = vocab["tag"].to_numpy(object)
    true_tags = _join_sorted([primary, rel1, rel2], tags_arr)
    raw_tags = _messy_tags([primary, rel1, rel2], vocab, rng)

    unit = vocab["unit"].to_numpy(object)[primary]
    is_service = vocab["is_service"].to_numpy(bool)[primary]
    tag_factor = np.exp(np.random.default_rng([seed, 5]).normal(0, 0.5, len(vocab)))
    mid = pd.Series(unit).map(UNIT_PRICE).to_numpy(float) * tag_factor[primary] * np.exp(rng.normal(0, 0.3, n))
    price_min = np.round(mid * rng.uniform(0.75, 0.95, n), 4)
    price_max = np.round(mid * rng.uniform(1.05, 1.35, n), 4)
    quantity = np.maximum(1, np.round(pd.Series(unit).map(UNIT_QTY).to_numpy(float) * np.exp(rng.normal(0, 0.8, n))))
    posted = as_of - pd.to_timedelta(rng.integers(1, history_days + 60, n), unit="D")
    expires = posted + pd.to_timedelta(rng.integers(30, 181, n), unit="D")

    uscc = ent["uscc"].to_numpy(object)[poster]
    district = ent["district_code"].to_numpy(object)[poster]
    industry = ent["industry_code"].to_numpy(object)[poster]
    dname = pd.Series(district).map(_district_names()).fillna("济南").to_numpy(object)
    titles, descs = _texts(rng, tags_arr[primary], is_service, side, unit, quantity, price_max, dname)
    ids = np.array([f"P{seed % 100:02d}{i:07d}" for i in range(n)], dtype=object)

    postings = pd.DataFrame({
        "posting_id": ids, "uscc": uscc, "side": side, "title": titles, "description": descs, "tags": raw_tags,
        "industry_code": industry, "district_code": district, "quantity": quantity, "unit": unit,
        "price_min": price_min, "price_max": price_max,
        "posted_on": posted.strftime("%Y-%m-%d"), "expires_on": expires.strftime("%Y-%m-%d"),
    })
    # mess: titles in traditional characters, missing optional values
    trad = rng.random(n) < 0.03
    postings.loc[trad, "title"] = postings.loc[trad, "title"].str.translate(_T2S_SAMPLE)
    postings["price_min"] = postings["price_min"].mask((side == "demand") & (rng.random(n) < 0.3))
    for col, rate in (("description", 0.06), ("industry_code", 0.1), ("quantity", 0.12), ("unit", 0.05),
                      ("price_max", 0.15), ("expires_on", 0.08)):
        postings[col] = postings[col].mask(rng.random(n) < rate)
    postings = postings[POSTING_COLUMNS]
    for col in ("posting_id", "uscc", "side", "title", "description", "tags", "industry_code", "district_code",
                "unit", "posted_on", "expires_on"):
        postings[col] = postings[col].astype("string")
    truth = pd.DataFrame({
        "posting_id": ids, "uscc": uscc, "side": side, "tags_true": true_tags, "primary_tag": tags_arr[primary],
        "division": div, "chain": chain[primary], "district_code": district, "quantity": quantity, "unit": unit,
        "price_min": price_min, "price_max": price_max, "posted_on": posted, "expires_on": expires,
    })
    return postings.reset_index(drop=True), truth


def _join_sorted(cols: list[np.ndarray], names: np.ndarray) -> np.ndarray:
    stacked = np.stack(cols, axis=1)
    out = np.empty(len(stacked), dtype=object)
    # distinct tag combinations are few compared with postings
    keys, inv = np.unique(stacked, axis=0, return_inverse=True)
    joined = [";".join(sorted({names[i] for i in k if i >= 0})) for k in keys]
    out[:] = np.array(joined, dtype=object)[inv.ravel()]
    return out


def _messy_tags(cols: list[np.ndarray], vocab: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Tags as posters type them: synonyms, full-width, free words, ``；`` separators."""
    n = len(cols[0])
    names = vocab["tag"].to_numpy(object)
    syn = vocab["syn"].to_numpy(object)
    parts = []
    for col in cols:
        txt = np.where(col >= 0, names[np.maximum(col, 0)], "").astype(object)
        use_syn = (col >= 0) & (rng.random(n) < 0.12)
        for t in np.unique(col[use_syn]):
            m = use_syn & (col == t)
            if len(syn[t]):
                txt[m] = np.asarray(syn[t], dtype=object)[rng.integers(0, len(syn[t]), m.sum())]
        fw = (col >= 0) & (rng.random(n) < 0.03)
        txt[fw] = _fullwidth(pd.Series(txt[fw], dtype="string")).to_numpy(object)
        parts.append(txt)
    free = np.where(rng.random(n) < 0.04, np.asarray(FREE_TAGS, dtype=object)[rng.integers(0, len(FREE_TAGS), n)], "")
    parts.append(free.astype(object))
    sep = np.where(rng.random(n) < 0.05, "；", ";").astype(object)
    out = parts[0]
    for p in parts[1:]:
        out = np.where(p != "", out + sep + p, out)
    return out


def _texts(rng: np.random.Generator, tag: np.ndarray, service: np.ndarray, side: np.ndarray, unit: np.ndarray,
           qty: np.ndarray, pmax: np.ndarray, dname: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(tag)
    k = rng.integers(0, 4, n)
    dem_goods = np.array(["采购{t}", "求购{t}", "长期采购{t}", "寻{t}供应商"], dtype=object)
    dem_serv = np.array(["寻找{t}服务商", "需要{t}", "委托{t}", "{t}需求"], dtype=object)
    sup_goods = np.array(["供应{t}", "{t}现货供应", "厂家直供{t}", "批发{t}"], dtype=object)
    sup_serv = np.array(["提供{t}", "承接{t}", "专业{t}", "提供{t}加工服务"], dtype=object)
    pattern = np.where(side == "demand", np.where(service, dem_serv[k], dem_goods[k]),
                       np.where(service, sup_serv[k], sup_goods[k]))
    titles = pd.Series(pattern, dtype="string").str.split("{t}", n=1, expand=True)
    titles = (titles[0] + pd.Series(tag, dtype="string") + titles[1]).str.replace("服务加工服务", "服务", regex=False)
    titles = titles.str.replace("加工加工服务", "加工服务", regex=False).to_numpy(object)
    q = qty.astype(int).astype(str).astype(object)
    price = np.round(pmax * 10000).astype(int).astype(str).astype(object)
    reason = np.asarray(["生产", "项目建设", "扩产", "年度采购计划", "新产线投产"], dtype=object)[rng.integers(0, 5, n)]
    req = np.asarray(["质量稳定、按时交付", "具备相关资质", "可开具增值税专用发票", "提供样品", "支持账期结算"],
                     dtype=object)[rng.integers(0, 5, n)]
    years = rng.integers(3, 26, n).astype(str).astype(object)
    extra = np.asarray(["支持来图定制", "可上门服务", "价格优惠", "质量可追溯", "全市范围配送"], dtype=object)[rng.integers(0, 5, n)]
    u = unit.astype(object)
    verb = np.where(service, "寻找", "采购").astype(object) + tag.astype(object) + np.where(service, "服务商", "")
    dem = ("因" + reason + "需要，拟" + verb + "，预计" + q + u + "，单价" + price + "元/" + u + "以内，"
           + dname + "及周边优先，要求" + req + "。")
    sup = ("本公司位于" + dname + "，专业从事" + tag.astype(object) + years + "年，月供应能力" + q + u + "，报价"
           + price + "元/" + u + "起，" + extra + "。")
    return titles, np.where(side == "demand", dem, sup)


def generate_posting_interactions(postings_true: pd.DataFrame, ent_truth: pd.DataFrame, seed: int,
                                  as_of: str | pd.Timestamp, history_days: int = 120, k: int = 5,
                                  candidates: int = 24, with_exploration: bool = False) -> pd.DataFrame:
    """Past supply recommendations for each demand posted in the window, and contacts → deals.

    Logging policy: for each demand, ``candidates`` supplies drawn at random among those sharing its
    primary tag (two thirds) or in a division upstream of it (one third), active on the day, scored
    by canonical tag overlap + 0.3·same district + Gumbel noise; the top ``k`` were shown — except for
    ``EXPLORE_POSTINGS`` of the demands (exploration), whose ``k`` slots are a uniform draw from the
    candidates.  ``with_exploration`` adds the ``explored`` flag (the generator writes it to ``truth/``).
    """
    rng = np.random.default_rng([seed, 11])
    as_of = pd.Timestamp(as_of)
    start = as_of - pd.Timedelta(days=history_days)
    pt = postings_true.reset_index(drop=True)
    dem = pt[(pt["side"] == "demand") & (pt["posted_on"] >= start) & (pt["posted_on"] < as_of)].copy()
    sup = pt[pt["side"] == "supply"].reset_index(drop=True)
    if dem.empty or sup.empty:
        cols = ["date", "demand_id", "supply_id", "rank", "contacted", "deal"]
        return pd.DataFrame(columns=cols + (["explored"] if with_exploration else []))
    dem["date"] = np.minimum(dem["posted_on"] + pd.to_timedelta(rng.integers(0, 4, len(dem)), unit="D"),
                             as_of - pd.Timedelta(days=1))
    cand = []
    n_tag = candidates * 2 // 3
    for key_col, dem_keys in (("primary_tag", dem["primary_tag"].to_numpy()),
                              ("division", _upstream_choice(dem["division"].to_numpy(), rng))):
        order = np.argsort(sup[key_col].to_numpy(), kind="stable")
        keys_sorted = sup[key_col].to_numpy()[order]
        uniq, first, count = np.unique(keys_sorted, return_index=True, return_counts=True)
        pos = np.searchsorted(uniq, dem_keys)
        pos = np.clip(pos, 0, max(len(uniq) - 1, 0))
        found = uniq[pos] == dem_keys
        m = n_tag if key_col == "primary_tag" else candidates - n_tag
        cnt = np.where(found, count[pos], 0)
        r = (rng.random((len(dem), m)) * cnt[:, None]).astype(int)
        idx = order[np.minimum(first[pos][:, None] + r, len(order) - 1)]
        ok = np.repeat(found, m)
        cand.append(pd.DataFrame({"d": np.repeat(np.arange(len(dem)), m)[ok], "s": idx.ravel()[ok]}))
    pairs = pd.concat(cand).drop_duplicates()
    d_rows = dem.iloc[pairs["d"].to_numpy()]
    s_rows = sup.iloc[pairs["s"].to_numpy()]
    date = d_rows["date"].to_numpy()
    active = ((s_rows["posted_on"].to_numpy() <= date) & (s_rows["expires_on"].to_numpy() >= date)
              & (s_rows["uscc"].to_numpy() != d_rows["uscc"].to_numpy()))
    dm_tags, vocab = tag_matrix(dem["tags_true"].reset_index(drop=True))
    sp_tags, _ = tag_matrix(sup["tags_true"], vocab)
    overlap = jaccard_rows(dm_tags[pairs["d"].to_numpy()], sp_tags[pairs["s"].to_numpy()])[active]
    pairs = pd.DataFrame({"demand_id": d_rows["posting_id"].to_numpy(), "supply_id": s_rows["posting_id"].to_numpy(),
                          "date": date,
                          "same_district": d_rows["district_code"].to_numpy() == s_rows["district_code"].to_numpy()})[active]
    pairs["log_score"] = overlap + 0.3 * pairs["same_district"] + rng.gumbel(0, 0.5, len(pairs))
    # exploration: for a share of the demands the k slots are a uniform draw from the candidates
    explored_ids = dem["posting_id"].to_numpy()[rng.random(len(dem)) < EXPLORE_POSTINGS]
    pairs["explored"] = pairs["demand_id"].isin(explored_ids).to_numpy()
    pairs["log_score"] = np.where(pairs["explored"], rng.random(len(pairs)), pairs["log_score"])
    pairs = pairs.sort_values(["demand_id", "log_score"], ascending=[True, False], kind="stable")
    pairs["rank"] = pairs.groupby("demand_id").cumcount() + 1
    pairs = pairs[pairs["rank"] <= k].reset_index(drop=True)
    util = posting_pair_utility(pairs[["demand_id", "supply_id"]], pt.set_index("posting_id", drop=False),
                                ent_truth.set_index("uscc", drop=False), chain_adjacency())
    contacted = rng.random(len(pairs)) < util["p_contact"].to_numpy() * (1.0 / np.sqrt(pairs["rank"].to_numpy()))
    deal = contacted & (rng.random(len(pairs)) < util["p_deal"].to_numpy())
    out = pd.DataFrame({"date": pd.to_datetime(pairs["date"]).dt.strftime("%Y-%m-%d"),
                        "demand_id": pairs["demand_id"], "supply_id": pairs["supply_id"],
                        "rank": pairs["rank"].astype("int64"), "contacted": contacted, "deal": deal})
    if with_exploration:
        out["explored"] = pairs["explored"].to_numpy()
    return out.sort_values(["date", "demand_id", "rank"], kind="stable").reset_index(drop=True)


def _upstream_choice(divisions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One upstream division per demand (its own division when it has none)."""
    up: dict[str, list[str]] = {}
    for u, d in chain_adjacency():
        up.setdefault(d, []).append(u)
    out = divisions.astype(object).copy()
    for d in np.unique(divisions):
        m = divisions == d
        ups = sorted(up.get(d, [])) or [d]
        out[m] = np.asarray(ups, dtype=object)[rng.integers(0, len(ups), m.sum())]
    return out
