"""The shipped tag vocabulary and industry-chain adjacency, and tag normalisation.

Enterprises write tags freely (``鋼材``, ``ＣＮＣ加工``, ``机加``); pairing needs one spelling per
concept.  A tag is normalised (NFKC, 繁→简, case folded, spaces removed), looked up among the
canonical tags and their synonyms, and otherwise mapped by rapidfuzz to the nearest vocabulary entry
when the score clears a cutoff; the score is kept as the mapping's confidence.  Tags that map
nowhere stay as free tags (still usable for exact overlap).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from quanhuiqi.text import normalize_text_series

TAG_SEPARATORS = r"[;；,，、|/\n\t]+"
FUZZY_CUTOFF = 85.0  # rapidfuzz WRatio, 0–100
FUZZY_MIN_LENGTH = 2  # one-character tags are too ambiguous to map fuzzily


def _data_csv(name: str) -> pd.DataFrame:
    path = resources.files("quanhuiqi.postings").joinpath("data").joinpath(name)
    with path.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


def _key(values: pd.Series) -> pd.Series:
    """The matching key of a tag: NFKC, 繁→简, lower case, no spaces or punctuation around."""
    s = normalize_text_series(values).str.lower().str.replace(r"\s+", "", regex=True)
    return s.str.strip("\"'·.。-_()（）[]【】")


@cache
def tag_vocabulary() -> pd.DataFrame:
    """The shipped vocabulary: ``tag, synonyms, industry_divisions, chain`` (see data/README.md)."""
    return _data_csv("tag_vocabulary.csv")


@cache
def _tag_lookup() -> dict[str, str]:
    """Matching key of every canonical tag and synonym → canonical tag."""
    voc = tag_vocabulary()
    long = pd.concat(
        [
            pd.DataFrame({"form": voc["tag"], "tag": voc["tag"]}),
            voc.assign(form=voc["synonyms"].str.split(";"))[["form", "tag"]].explode("form"),
        ],
        ignore_index=True,
    )
    long = long[long["form"].astype(str).str.len() > 0]
    long["key"] = _key(long["form"].astype("string"))
    long = long.dropna(subset=["key"]).drop_duplicates("key", keep="first")
    return dict(zip(long["key"], long["tag"], strict=True))


@cache
def chain_adjacency() -> pd.DataFrame:
    """Upstream → downstream GB/T 4754 divisions with a Chinese note (see data/README.md)."""
    return _data_csv("chain_adjacency.csv")


def split_tags(tags: pd.Series) -> pd.DataFrame:
    """One row per written tag: ``pos`` (position of the posting in ``tags``), ``raw``."""
    s = tags.astype("string").reset_index(drop=True)
    parts = s.str.split(TAG_SEPARATORS, regex=True)
    long = pd.DataFrame({"pos": np.arange(len(s)), "raw": parts}).explode("raw")
    long = long.dropna(subset=["raw"])
    long["raw"] = long["raw"].astype("string").str.strip()
    return long[long["raw"] != ""].reset_index(drop=True)


def map_tags(raw: pd.Series, cutoff: float = FUZZY_CUTOFF) -> pd.DataFrame:
    """Each written tag → ``tag`` (canonical or the normalised free tag), ``matched``
    (``exact`` | ``fuzzy`` | ``free``) and ``confidence`` (1.0 exact, WRatio/100 fuzzy, NA free)."""
    codes, uniq_raw = pd.factorize(raw.astype("string").reset_index(drop=True), use_na_sentinel=True)
    if len(uniq_raw) < len(raw):  # tags repeat a lot: do the work once per distinct spelling
        u = _map_distinct(pd.Series(uniq_raw, dtype="string"), cutoff)
        out = u.iloc[np.where(codes < 0, 0, codes)].reset_index(drop=True) if len(u) else u
        if (codes < 0).any():
            out.loc[codes < 0, ["tag", "matched", "confidence"]] = [pd.NA, "free", np.nan]
        out["raw"] = raw.to_numpy()
        return out
    return _map_distinct(raw, cutoff)


def _map_distinct(raw: pd.Series, cutoff: float) -> pd.DataFrame:
    from rapidfuzz import fuzz, process

    lookup = _tag_lookup()
    key = _key(raw.astype("string")).reset_index(drop=True)
    tag = key.map(lookup).astype("string")
    matched = pd.Series(np.where(tag.notna(), "exact", "free"), dtype="string")
    conf = pd.Series(np.where(tag.notna(), 1.0, np.nan), dtype="float64")
    todo = tag.isna() & key.notna() & (key.str.len() >= FUZZY_MIN_LENGTH).fillna(False)
    if todo.any():
        uniq = pd.unique(key[todo].to_numpy(dtype=object))
        forms = list(lookup)
        scores = process.cdist(list(uniq), forms, scorer=fuzz.WRatio, dtype=np.float32, workers=1)
        best = scores.argmax(axis=1)
        best_score = scores[np.arange(len(uniq)), best]
        ok = best_score >= cutoff
        hit = pd.DataFrame(
            {"key": uniq[ok], "tag": [lookup[forms[i]] for i in best[ok]], "score": best_score[ok]}
        ).set_index("key")
        found = key.map(hit["tag"]).astype("string")
        sel = todo & found.notna()
        tag = tag.mask(sel, found)
        matched = matched.mask(sel, "fuzzy")
        conf = conf.mask(sel, key.map(hit["score"]).astype("float64") / 100.0)
    tag = tag.fillna(key)  # free tags keep their normalised spelling
    return pd.DataFrame({"raw": raw.to_numpy(), "tag": tag, "matched": matched, "confidence": conf})


def _join_by_position(pos: np.ndarray, values: pd.Series, n: int, sep: str = ";") -> pd.Series:
    """``sep``-joined values per position 0..n-1 (rows grouped by ``pos``), without a Python loop per row:
    the k-th value of every position is appended column by column."""
    out = pd.Series("", index=range(n), dtype="string")
    if not len(pos):
        return out
    values = values.astype("string").to_numpy(dtype=object)
    kth = pd.Series(pos).groupby(pos).cumcount().to_numpy()
    for k in range(int(kth.max()) + 1):
        at = kth == k
        col = pd.Series("", index=range(n), dtype="string")
        col.iloc[pos[at]] = values[at]
        out = out + pd.Series(np.where((out != "").to_numpy() & (col != "").to_numpy(), sep, ""), dtype="string") + col
    return out


def normalize_tags(tags: pd.Series, cutoff: float = FUZZY_CUTOFF) -> pd.DataFrame:
    """Per posting (same index as ``tags``): ``tags_norm`` (``;``-joined sorted canonical and free
    tags), ``tags_free`` (those not in the vocabulary), ``tag_confidence`` (lowest confidence of the
    vocabulary mappings, NA when none mapped) and ``n_tags``."""
    long = split_tags(tags)
    mapped = map_tags(long["raw"], cutoff=cutoff)
    long = pd.concat([long[["pos"]], mapped[["tag", "matched", "confidence"]]], axis=1)
    long = long.drop_duplicates(["pos", "tag"]).sort_values(["pos", "tag"], kind="stable")
    n = len(tags)
    pos = long["pos"].to_numpy()
    norm = _join_by_position(pos, long["tag"], n)
    free_mask = (long["matched"] == "free").to_numpy()
    free = _join_by_position(pos[free_mask], long["tag"][free_mask], n)
    conf = pd.Series(np.nan, index=range(n), dtype="float64")
    cmin = long.groupby("pos", sort=True)["confidence"].min()
    conf[cmin.index] = cmin.to_numpy()
    cnt = np.bincount(pos.astype(np.int64), minlength=n)
    out = pd.DataFrame({"tags_norm": norm, "tags_free": free, "tag_confidence": conf, "n_tags": cnt})
    out.index = tags.index
    return out


@cache
def tag_divisions() -> pd.DataFrame:
    """Canonical tag → each GB/T 4754 division it belongs to (long form)."""
    voc = tag_vocabulary()
    long = voc.assign(division=voc["industry_divisions"].str.split(";"))[["tag", "division", "chain"]]
    long = long.explode("division")
    return long[long["division"].astype(str) != ""].reset_index(drop=True)
