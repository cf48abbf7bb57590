"""Synthetic postings drawn from the shipped vocabulary, for tests, benchmarks and the notebook.

Each posting is about one vocabulary tag, written with a random synonym (sometimes traditional or
full-width), so tag normalisation and text similarity have real work to do; the tag it was drawn
from is kept in ``true_tag`` as the ground truth (a supply is relevant to a demand about the same
tag).  The full synthetic city (``quanhuiqi.synth``) has richer latent preferences; this is the
quick, vectorised stand-in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quanhuiqi.postings.vocabulary import tag_vocabulary
from quanhuiqi.tables.uscc import ALPHABET, make_uscc, org_check_values

JINAN_COUNTIES = ["370102", "370103", "370104", "370105", "370112", "370113", "370114", "370115", "370116",
                  "370117", "370124", "370126"]
SUPPLY_TITLES = ["供应{w}", "{w}现货供应", "专业{w}", "{w}厂家直供", "长期供应{w}", "{w}批发"]
DEMAND_TITLES = ["求购{w}", "采购{w}", "需要{w}", "寻找{w}供应商", "长期求购{w}", "{w}采购需求"]
SUPPLY_DESC = ["本公司长期供应{w}，质量稳定，价格优惠，可开票。", "{w}，产能充足，支持定制，济南本地发货。",
               "主营{w}及相关产品，欢迎洽谈。"]
DEMAND_DESC = ["因生产需要，采购{w}一批，要求质量可靠，价格合理。", "本公司需要{w}，长期合作，请有意者联系。",
               "求购{w}，数量较大，优先本地企业。"]
UNITS = ["吨", "件", "套", "台", "项"]


def make_usccs(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct valid USCCs of Jinan enterprises (91 = 工商/企业)."""
    body8 = rng.integers(0, 10, size=(n, 8))
    check = org_check_values(body8)
    chk = np.where(check == 10, "X", check.astype(str))
    digits = np.array([list("0123456789")])[0][body8]
    org = pd.Series(["".join(r) for r in digits]) + chk
    county = rng.choice(JINAN_COUNTIES, size=n)
    codes = make_uscc(pd.Series("91" + county) + org)
    codes = codes.drop_duplicates()
    if len(codes) < n:  # vanishingly rare collisions
        extra = make_usccs(n - len(codes), rng)
        codes = pd.concat([codes, pd.Series(extra)])
    assert set("".join(codes.str[:2].unique())) <= set(ALPHABET)
    return codes.to_numpy(dtype=object)[:n]


def sample_postings(n_demand: int, n_supply: int, as_of="2025-07-01", n_enterprises: int | None = None,
                    seed: int = 0, n_tags: int | None = None) -> pd.DataFrame:
    """A postings table (contract columns plus ``true_tag``), demands first."""
    rng = np.random.default_rng(seed)
    voc = tag_vocabulary()
    if n_tags:
        voc = voc.iloc[:n_tags]
    n = n_demand + n_supply
    n_ent = n_enterprises or max(10, n // 3)
    usccs = make_usccs(n_ent, rng)
    ti = rng.integers(0, len(voc), size=n)
    tag = voc["tag"].to_numpy()[ti]
    syn_lists = (voc["tag"] + ";" + voc["synonyms"]).str.split(";").to_numpy()
    pick = rng.random(n)
    word = np.array([s[int(p * len(s))] for s, p in zip(syn_lists[ti], pick, strict=True)], dtype=object)
    side = np.array(["demand"] * n_demand + ["supply"] * n_supply, dtype=object)
    is_d = side == "demand"
    tpl = np.where(is_d, rng.choice(DEMAND_TITLES, size=n), rng.choice(SUPPLY_TITLES, size=n))
    dtpl = np.where(is_d, rng.choice(DEMAND_DESC, size=n), rng.choice(SUPPLY_DESC, size=n))
    title = pd.Series(tpl).str.replace("{w}", "", regex=False)
    title = pd.Series([t.replace("{w}", w) for t, w in zip(tpl, word, strict=True)])
    desc = pd.Series([t.replace("{w}", w) for t, w in zip(dtpl, word, strict=True)])
    # written tags: the drawn word, sometimes with the canonical tag or a free extra tag
    extra = rng.random(n)
    tags = pd.Series(word).where(extra > 0.3, pd.Series(word) + ";" + pd.Series(tag))
    tags = tags.where(rng.random(n) > 0.1, tags + ";优质")
    divs = voc["industry_divisions"].str.split(";").to_numpy()[ti]
    industry = np.array([d[int(p * len(d))] if d and d[0] else "" for d, p in zip(divs, rng.random(n), strict=True)],
                        dtype=object)
    as_of_ts = pd.Timestamp(as_of)
    posted = as_of_ts - pd.to_timedelta(rng.integers(0, 90, size=n), unit="D")
    expires = posted + pd.to_timedelta(rng.integers(30, 150, size=n), unit="D")
    qty = np.round(rng.lognormal(3, 1, size=n), 0)
    price = np.round(rng.lognormal(0, 1, size=n), 2)
    width = rng.uniform(1.1, 1.8, size=n)
    return pd.DataFrame({
        "posting_id": [f"P{i:07d}" for i in range(n)],
        "uscc": usccs[rng.integers(0, n_ent, size=n)],
        "side": side,
        "title": title,
        "description": desc,
        "tags": tags,
        "industry_code": industry,
        "district_code": rng.choice(JINAN_COUNTIES, size=n),
        "quantity": qty,
        "unit": rng.choice(UNITS, size=n, p=[0.5, 0.2, 0.1, 0.1, 0.1]),
        "price_min": np.round(price, 2),
        "price_max": np.round(price * width, 2),
        "posted_on": posted.strftime("%Y-%m-%d"),
        "expires_on": expires.strftime("%Y-%m-%d"),
        "true_tag": tag,
    }).astype({"posting_id": "string", "uscc": "string", "side": "string", "title": "string",
               "description": "string", "tags": "string", "industry_code": "string", "district_code": "string",
               "unit": "string", "posted_on": "string", "expires_on": "string", "true_tag": "string"})
