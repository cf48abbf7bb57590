"""Pair features for (enterprise, policy) candidates, computed as of each row's push date only.

The input of :class:`PairFeatureBuilder` is a *pair frame*: one row per candidate with ``uscc``,
``policy_id``, ``date`` (the push date), the eligibility verdict and missing facts, the enterprise's
profile columns and the policy's attributes (:func:`assemble_pairs` joins them).  Every feature is known
on the push date: history statistics use pushes strictly before that date (``merge_asof`` with
``allow_exact_matches=False``), ages and deadlines are counted from that date, and the targeting
statistics come from the candidate population of the same date.  Nothing reads the wall clock.

Population and pairs: ``fit`` learns the targeting statistics from a candidate population (the whole day's
candidate set, up to tens of millions of rows, as bare ``uscc``/``policy_id`` columns — string or
categorical — with the profile and policies beside it), ``transform`` computes features for any rows of it
(e.g. each enterprise's shortlist): a row gets the same values as in the features of the whole set.
Speed: text columns are read through integer codes (categoricals pass their codes), every per-value
computation runs once per distinct value, and the features are written into one float64 block whose
column-major ``to_numpy()`` LightGBM reads without a copy.

Feature groups (names are stable: they are the registered model's signature):

- profile: size, age, revenue, growth, R&D, headcount, tax rating, certifications, chains, above scale;
- policy: mode, department, benefit kind and size, days to deadline, age of the policy;
- match specificity: how few enterprises the policy reaches, and how over-represented the enterprise's
  industry division / district / size class is among the policy's candidates (lift);
- chain and tag overlap between the enterprise and the policy's candidate population;
- verdict: eligible vs undetermined, number of missing facts;
- segment uptake: smoothed click/apply rates of the policy overall and within the enterprise's industry
  division, district and size class;
- engagement: the enterprise's past pushes, clicks, applications, and its history with this policy;
- revealed preference: the enterprise's click/apply rates on past pushes of the same bureau (department
  without its city/district prefix, :func:`department_key`), the same benefit kind and the same mode,
  each smoothed towards its overall rate; its industry division's rates for the bureau and benefit kind.
  Firms that applied to a bureau's subsidies before tend to again — a static rule cannot see this.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray
from sklearn.base import BaseEstimator, TransformerMixin

ArrayLike = pd.Series | np.ndarray | ExtensionArray  # a column: Series, numpy array or pandas array

SIZE_ORDER = {"micro": 0.0, "small": 1.0, "medium": 2.0, "large": 3.0}
RATING_ORDER = {"D": 0.0, "C": 1.0, "M": 2.0, "B": 3.0, "A": 4.0}
LIFECYCLE_ORDER = {"startup": 0.0, "growth": 1.0, "mature": 2.0, "established": 3.0}
MODE_ORDER = {"apply": 0.0, "instant": 1.0, "auto": 2.0}
SEGMENTS = {"industry": "industry_division", "district": "district_code", "size": "size_class"}

PROFILE_FEATURES = [
    "industry_section",
    "size_class",
    "age_years",
    "lifecycle_stage",
    "log_revenue",
    "revenue_growth",
    "rd_ratio",
    "log_employees",
    "log_registered_capital",
    "tax_credit_rating",
    "above_scale",
    "n_certifications",
    "n_chains",
    "n_tags",
]
POLICY_FEATURES = [
    "mode",
    "department",
    "benefit_kind",
    "log_max_amount",
    "log_amount_est",
    "days_to_deadline",
    "policy_age_days",
    "valid_days",
]
SPECIFICITY_FEATURES = ["policy_reach", "lift_industry", "lift_district", "lift_size", "chain_overlap", "tag_overlap"]
TARGET_FEATURES = ["industry_match", "cert_match", "chain_match", "district_match"]
VERDICT_FEATURES = ["is_eligible", "n_unknown"]
UPTAKE_FEATURES = [
    "policy_click_rate",
    "policy_apply_rate",
    "seg_click_rate_industry",
    "seg_apply_rate_industry",
    "seg_click_rate_district",
    "seg_apply_rate_district",
    "seg_click_rate_size",
    "seg_apply_rate_size",
]
ENGAGEMENT_FEATURES = [
    "ent_pushes",
    "ent_click_rate",
    "ent_apply_rate",
    "ent_days_since_click",
    "pair_prev_pushes",
    "pair_prev_clicked",
]
# revealed preference: the enterprise's own past engagement with this kind of policy, and its segment's
REVEALED_FEATURES = [
    "ent_dept_pushes",
    "ent_dept_click_rate",
    "ent_dept_apply_rate",
    "ent_kind_click_rate",
    "ent_kind_apply_rate",
    "ent_mode_click_rate",
    "ent_mode_apply_rate",
    "seg_dept_click_rate",
    "seg_dept_apply_rate",
    "seg_kind_apply_rate",
]
FEATURES = (
    PROFILE_FEATURES
    + POLICY_FEATURES
    + SPECIFICITY_FEATURES
    + TARGET_FEATURES
    + VERDICT_FEATURES
    + UPTAKE_FEATURES
    + ENGAGEMENT_FEATURES
    + REVEALED_FEATURES
)
# what a past push is grouped by for the revealed-preference features (policy attribute columns)
POLICY_GROUPS = {"dept": "dept_key", "kind": "benefit_kind", "mode": "mode"}
# the per-enterprise effect a builder with ``firm_effect_tau`` appends after the features
FIRM_EFFECT = "firm_effect"
CATEGORICAL_FEATURES = ["industry_section", "department", "benefit_kind"]
SECTIONS = "ABCDEFGHIJKLMNOPQRST"
TARGET_COLUMNS = ["target_industries", "target_certifications", "target_chains", "target_districts"]
PAIR_KEYS = ["uscc", "policy_id", "date"]
# the profile and policy columns the pair features read (assemble_pairs(only_features=True) joins these, plus
# the enterprise facts named by the policies' amount_base)
PROFILE_COLUMNS = [
    "industry_section", "industry_code", "industry_division", "district_code", "size_class", "established_on",
    "age_years", "lifecycle_stage", "revenue", "revenue_growth", "rd_ratio", "employees", "registered_capital",
    "tax_credit_rating", "above_scale", "certifications", "chains", "tags",
]
POLICY_COLUMNS = ["mode", "department", "benefit_kind", "max_amount", "amount_rate", "amount_base", "valid_from",
                  "valid_to"] + TARGET_COLUMNS


def _num(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _ordinal(frame: pd.DataFrame, col: str, order: dict[str, float]) -> np.ndarray:
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    return _map_distinct(frame[col], order)


def _map_distinct(values: pd.Series, lookup: dict[str, float]) -> np.ndarray:
    """``lookup`` of each value as a string (NaN when absent or missing), looked up once per distinct value."""
    codes, uniques = _value_codes(values)
    mapped = np.array([lookup.get(str(u), np.nan) for u in uniques] + [np.nan], dtype=float)
    return mapped[codes]  # code -1 (missing) picks the trailing NaN


def _count_tokens(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    codes, uniques = _value_codes(frame[col])
    counts = np.array([float(len([t for t in str(u).split(";") if t])) for u in uniques] + [np.nan])
    return counts[codes]  # code -1 (missing) picks the trailing NaN


def _distinct_sets(values: ArrayLike) -> tuple[np.ndarray, list[frozenset[str]]]:
    """Factorised ``;``-sets: (code per row, the set of each distinct value); missing = empty set."""
    codes, uniques = _value_codes(values)
    sets = [frozenset(t for t in str(u).split(";") if t) for u in uniques] + [frozenset()]
    return np.where(codes < 0, len(uniques), codes), sets


def _dates(values: pd.Series | np.ndarray) -> pd.Series:
    return pd.to_datetime(pd.Series(values), errors="coerce").dt.normalize().astype("datetime64[ns]")


def department_key(departments: pd.Series | np.ndarray) -> pd.Series:
    """The bureau a department is, without its administrative prefix: 市商务局 and 历下区商务局 → 商务局.

    District bureaus run the same programmes as their city bureau, so an enterprise's engagement with
    one says something about the other."""
    s = pd.Series(departments, dtype="string")
    key = s.str.replace(r"^(济南)?(市|[^市区县]{1,4}?[区县]|高新区)", "", regex=True)
    return key.where(key.str.len() > 0, s)


def _log1p(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.clip(x, 0, None))


def policy_targets(book: object) -> pd.DataFrame:
    """What each policy aims at, read from its eligibility tree: ``policy_id`` and ``target_*`` columns.

    Positive tests only (a test under ``not`` or a negated operator excludes, it does not target):
    ``industry_code under`` / ``industry_section|industry_division eq|in`` → industries (codes or section
    letters), ``certifications|chains has*`` → certifications / chains, ``district_code under`` → districts.
    A policies frame that already carries ``target_*`` columns is returned as is.
    """
    if isinstance(book, pd.DataFrame):
        cols = ["policy_id"] + [c for c in TARGET_COLUMNS if c in book.columns]
        return book[cols].copy()
    items = getattr(book, "items", None)
    if items is None:
        raise TypeError("policy_targets needs a PolicyBook or a policies frame")
    from quanhuiqi.policy.model import Atom

    rows = []
    for pol in items:
        found: dict[str, set[str]] = {c: set() for c in TARGET_COLUMNS}

        def visit(node: object, negated: bool, found: dict[str, set[str]] = found) -> None:
            if isinstance(node, Atom):
                if negated or node.negated:
                    return
                vals = node.value if isinstance(node.value, tuple | list) else (node.value,)
                vals = [str(v) for v in vals]
                if node.field == "industry_code" and node.op == "under":
                    found["target_industries"].update(v.lstrip(SECTIONS) or v for v in vals)
                elif node.field in ("industry_section", "industry_division") and node.op in ("eq", "in"):
                    found["target_industries"].update(vals)
                elif node.field == "certifications" and node.op.startswith("has"):
                    found["target_certifications"].update(vals)
                elif node.field == "chains" and node.op.startswith("has"):
                    found["target_chains"].update(vals)
                elif node.field == "district_code" and node.op == "under":
                    found["target_districts"].update(vals)
                return
            flip = negated != (getattr(node, "kind", "") == "not")
            for child in getattr(node, "children", ()):
                visit(child, flip)

        visit(pol.condition, False)
        rows.append({"policy_id": pol.id, **{k: ";".join(sorted(v)) for k, v in found.items()}})
    out = pd.DataFrame(rows, columns=["policy_id"] + TARGET_COLUMNS)
    return out.astype("string")


def policy_frame(book: object) -> pd.DataFrame:
    """``book.policies`` with the targets of :func:`policy_targets` (a frame is passed through)."""
    if isinstance(book, pd.DataFrame):
        return book
    pol = book.policies  # type: ignore[attr-defined]
    targets = policy_targets(book)
    return pol.drop(columns=[c for c in TARGET_COLUMNS if c in pol.columns]).merge(targets, on="policy_id", how="left")


def _long_tokens(frame: pd.DataFrame, col: str) -> pd.DataFrame:
    """(row, token) for the ``;``-set column ``col`` (rows with no tokens are absent)."""
    codes, sets = _distinct_sets(frame[col].array)
    per = np.array([len(x) for x in sets], dtype=np.int64)
    toks = [sorted(x) for x in sets]
    flat = np.array([t for ts in toks for t in ts], dtype=object)
    start = np.r_[0, np.cumsum(per)[:-1]] if len(per) else np.zeros(0, dtype=np.int64)
    cnt = per[codes]
    rows = np.repeat(np.arange(len(codes)), cnt)
    offs = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return pd.DataFrame({"row": rows, "token": flat[np.repeat(start[codes], cnt) + offs] if len(flat) else flat})


def _combine(*codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct combinations of several integer code arrays: (inverse per row, one row per combination).

    Hash-based (``pd.factorize`` of a mixed-radix key; re-factorised at each step when it could overflow
    or a code is negative); combinations are numbered in order of first appearance.
    """
    cols = [np.asarray(c, dtype=np.int64) for c in codes]
    sizes = [int(c.max(initial=0)) + 1 for c in cols]
    if all(c.min(initial=0) >= 0 for c in cols) and float(np.prod(sizes, dtype=float)) < 2.0**62:
        key = cols[0]  # non-negative codes whose radix key cannot overflow: one hash pass
        for c, size in zip(cols[1:], sizes[1:]):
            key = key * size + c
    else:
        key = cols[0]
        for c in cols[1:]:
            key = pd.factorize(key * (int(c.max(initial=0)) + 1) + c)[0].astype(np.int64)
    inverse, uniq = pd.factorize(key)
    first = np.empty(len(uniq), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse) - 1, -1, -1)
    return inverse.astype(np.int64), np.stack(cols, axis=1)[first]


def _target_match(X: pd.DataFrame, target_col: str, value: ArrayLike | None = None, *, prefix: bool,
                  ignore: tuple[str, ...] = ()) -> np.ndarray:
    """1 where the pair's enterprise matches one of its policy's targets, 0 where it does not, NaN where
    the policy names no target (or the enterprise's fact is unknown).

    ``prefix``: hierarchical codes (a target matches codes under it; a section letter matches the
    enterprise's ``industry_section``); else the enterprise's ``;``-set shares a token with the targets.
    Computed once per distinct (enterprise value, policy targets) combination.
    """
    n = len(X)
    if target_col not in X.columns or value is None:
        return np.full(n, np.nan)
    t_codes, t_sets = _distinct_sets(X[target_col].array)
    t_sets = [x.difference(ignore) for x in t_sets]
    if prefix:
        def with_empty(values: ArrayLike) -> tuple[np.ndarray, list[str]]:  # missing → ""
            codes, uniques = _value_codes(values)
            return np.where(codes < 0, len(uniques), codes), [str(u) for u in uniques] + [""]

        v_codes, v_uniques = with_empty(value)
        s_codes, s_uniques = (with_empty(X["industry_section"]) if "industry_section" in X.columns
                              else (np.zeros(n, dtype=np.int64), [""]))
        inverse, combos = _combine(t_codes, v_codes, s_codes)
        out = np.empty(len(combos))
        for i, (tc, vc, sc) in enumerate(combos):
            targets, code, sec = t_sets[tc], str(v_uniques[vc]), str(s_uniques[sc])
            if not targets or not code:
                out[i] = np.nan
            else:
                out[i] = float(any(sec == t if t.isalpha() else code.startswith(t) for t in targets))
        return out[inverse]
    v_codes, v_sets = _distinct_sets(value)
    inverse, combos = _combine(t_codes, v_codes)
    out = np.array([np.nan if not t_sets[tc] else float(bool(t_sets[tc] & v_sets[vc])) for tc, vc in combos])
    return out[inverse] if len(combos) else np.full(n, np.nan)


def assemble_pairs(
    candidates: pd.DataFrame,
    profile: pd.DataFrame,
    policies: pd.DataFrame,
    as_of: dt.date | str | None = None,
    *,
    only_features: bool = False,
) -> pd.DataFrame:
    """Join candidates with their enterprise's profile and their policy's attributes.

    ``candidates`` are eligibility pairs (``uscc, policy_id, verdict, unknown, …``); a ``date`` column is
    added from ``as_of`` when absent.  Every candidate row is kept, in order (left joins); a candidate
    whose enterprise or policy is unknown keeps missing attributes, which the features treat as unknown.
    ``only_features``: join only the columns the pair features read (a full profile has ~50 columns,
    most of them text: copying them to a million pairs costs more than the features).
    """
    for col in ("uscc", "policy_id"):
        if col not in candidates.columns:
            raise ValueError(f"candidates: missing required column {col!r}")
    if only_features:
        facts = (set(policies["amount_base"].dropna().astype(str).unique()) if "amount_base" in policies.columns
                 else set())
        keep = set(PROFILE_COLUMNS) | facts | set(SPECIFICITY_FEATURES)
        profile = profile[["uscc"] + [c for c in profile.columns if c in keep and c != "uscc"]]
        policies = policies[["policy_id"] + [c for c in policies.columns if c in set(POLICY_COLUMNS) | facts
                                             and c != "policy_id"]]
        # text attributes as categories: the join moves integer codes, and the features read the codes
        profile = profile.astype({c: "category" for c in profile.columns if c != "uscc" and _is_text(profile[c])})
        policies = policies.astype({c: "category" for c in policies.columns
                                    if c != "policy_id" and _is_text(policies[c])})
    out = candidates.reset_index(drop=True)  # copy-on-write: assigning below never touches the caller's frame
    if "date" not in out.columns:
        if as_of is None:
            raise ValueError("candidates have no 'date' column and no as_of was given")
        out["date"] = np.full(len(out), pd.Timestamp(as_of).normalize().as_unit("ns").to_datetime64())
    else:
        out["date"] = _dates(out["date"]).to_numpy()
    prof = profile.drop(columns=[c for c in profile.columns if c in out.columns and c != "uscc"])
    prof = prof.drop_duplicates("uscc")
    pol = policies.rename(columns={"mode": "policy_mode"}) if "mode" in out.columns else policies
    pol = pol.drop(columns=[c for c in pol.columns if c in out.columns and c != "policy_id"])
    pol = pol.drop_duplicates("policy_id")
    n = len(out)
    at_prof = _positions(out["uscc"], prof["uscc"])
    at_pol = _positions(out["policy_id"], pol["policy_id"])
    shared = set(prof.columns).intersection(pol.columns)
    if (at_prof < 0).any() or (at_pol < 0).any() or shared:
        # an unknown enterprise or policy: the joins fill missing values (and upcast as merge does)
        out = out.merge(prof, on="uscc", how="left", validate="many_to_one")
        out = out.merge(pol, on="policy_id", how="left", validate="many_to_one")
    else:  # every key found: the left joins are positional takes (same columns, order and dtypes)
        parts = [out, prof.drop(columns="uscc").take(at_prof), pol.drop(columns="policy_id").take(at_pol)]
        out = pd.concat([x.reset_index(drop=True) for x in parts], axis=1)
    assert len(out) == n
    if "mode" not in out.columns and "policy_mode" in out.columns:
        out["mode"] = out["policy_mode"]
    return out


def _is_text(values: pd.Series) -> bool:
    return isinstance(values.dtype, pd.StringDtype)


def _positions(keys: pd.Series, table_keys: pd.Series) -> np.ndarray:
    """Row position of each key in ``table_keys`` (unique), -1 when absent or missing; hashed once per
    distinct key."""
    codes, uniques = _value_codes(keys)
    found = pd.Index(table_keys.astype("string")).get_indexer(pd.Index(uniques, dtype="string"))
    return np.where(codes < 0, -1, found[np.maximum(codes, 0)] if len(found) else -1)


def _value_codes(values: ArrayLike) -> tuple[np.ndarray, pd.Index]:
    """(code per row, -1 when missing; the distinct values as strings).  A categorical column is read
    from its codes (no hashing of the rows); anything else is factorised as strings."""
    values = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = pd.Index(values.cat.categories.astype("string"), dtype="string")
        codes = np.asarray(values.cat.codes)
        if not cats.is_unique:  # distinct categories that print alike: merge them, as strings would
            merged, cats = pd.factorize(cats)
            codes = np.where(codes < 0, -1, merged[np.maximum(codes, 0)])
            cats = pd.Index(cats, dtype="string")
        return codes, cats
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    return np.asarray(codes), pd.Index(uniques, dtype="string")


def specificity(pairs: pd.DataFrame) -> pd.DataFrame:
    """How narrowly each policy targets each candidate, from the candidate population of the same date.

    ``pairs`` must be the *whole* candidate set of each date (every eligible/undetermined pair), so that
    training and the daily run see the same populations.  Returns the ``SPECIFICITY_FEATURES`` columns,
    aligned with ``pairs``.  Integer codes and bincounts throughout (no string group-bys).
    """
    out = pd.DataFrame(index=pairs.index)
    d = pd.factorize(_dates(pairs["date"]).to_numpy())[0].astype(np.int64)
    pcode = np.asarray(pd.factorize(pairs["policy_id"].astype("string"))[0], dtype=np.int64)
    ucode = np.asarray(pd.factorize(pairs["uscc"].astype("string"))[0], dtype=np.int64)
    n_u = int(ucode.max()) + 1 if len(ucode) else 1
    du = d * n_u + ucode
    first = np.unique(du, return_index=True)[1]  # one row per (date, enterprise)
    n_ent = np.bincount(d[first], minlength=int(d.max()) + 1 if len(d) else 1).astype(float)[d]
    dp_inv, _ = _combine(d, pcode)
    n_pol = np.bincount(dp_inv).astype(float)[dp_inv]
    out["policy_reach"] = n_pol / n_ent
    for short, col in SEGMENTS.items():
        if col not in pairs.columns:
            out[f"lift_{short}"] = np.nan
            continue
        seg_values = pairs[col].astype("string")
        seg = np.asarray(pd.factorize(seg_values.fillna("<NA>"))[0], dtype=np.int64)
        dps_inv, _ = _combine(dp_inv, seg)
        in_pol = np.bincount(dps_inv).astype(float)[dps_inv] / n_pol
        ds_inv, ds_uniq = _combine(d, seg)
        # enterprises per (date, segment): count the first row of each (date, enterprise)
        base = np.bincount(ds_inv[first], minlength=len(ds_uniq)).astype(float)[ds_inv]
        lift = in_pol / (base / n_ent)
        out[f"lift_{short}"] = np.where(seg_values.isna().to_numpy(), np.nan, lift)
    for name, col in (("chain_overlap", "chains"), ("tag_overlap", "tags")):
        out[name] = _set_overlap(pairs, dp_inv, col, n_pol) if col in pairs.columns else np.nan
    return out


def _set_overlap(pairs: pd.DataFrame, group: np.ndarray, col: str, n_pol: np.ndarray, top: int = 64) -> np.ndarray:
    """Mean, over the enterprise's tokens, of the share of the policy's candidates holding the same token.

    1 means every candidate of the policy shares the enterprise's chains/tags (the policy targets them);
    0 means none does, or the enterprise holds none.  At most ``top`` most frequent tokens are used.
    """
    codes, sets = _distinct_sets(pairs[col].array)
    freq = np.bincount(codes, minlength=len(sets))
    tally: dict[str, int] = {}
    for x, f in zip(sets, freq):
        for t in x:
            tally[t] = tally.get(t, 0) + int(f)
    tokens = sorted(tally, key=lambda t: (-tally[t], t))[:top]
    if not tokens:
        return np.zeros(len(pairs))
    U = np.array([[t in x for t in tokens] for x in sets], dtype=float)  # distinct value × token
    # per (policy group, distinct value) counts, then token shares per policy group
    gv_inv, gv = _combine(group, codes)
    counts = np.bincount(gv_inv).astype(float)
    sums = np.zeros((int(group.max()) + 1, len(tokens)))
    np.add.at(sums, gv[:, 0], counts[:, None] * U[gv[:, 1]])
    # the overlap depends on (policy group, distinct value) only: compute it per combination, then take
    n_pol_g = np.zeros(len(sums))
    n_pol_g[group] = n_pol
    share = sums[gv[:, 0]] / n_pol_g[gv[:, 0], None]
    m = U[gv[:, 1]]
    held = m.sum(axis=1)
    per = np.where(held > 0, (m * share).sum(axis=1) / np.maximum(held, 1.0), 0.0)
    return per[gv_inv]


_NA_KEY = "<NA>"  # a missing key matches a missing key (as the string "<NA>" would)


_DENSE_CELLS = 1 << 26  # count tables up to this many cells are dense arrays, larger ones sorted keys


def _na_as_key(codes: np.ndarray, uniques: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """Missing values as the ``"<NA>"`` key (so they count as one group, as ``fillna("<NA>")`` does)."""
    if (codes < 0).any():
        na = uniques.get_indexer(pd.Index([_NA_KEY], dtype="string"))[0]
        if na < 0:
            na, uniques = len(uniques), uniques.append(pd.Index([_NA_KEY], dtype="string"))
        codes = np.where(codes < 0, na, codes)
    return codes, uniques


def _count_table(key: np.ndarray, cells: int) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Rows per integer key in ``[0, cells)``: a dense array when small, else (sorted keys, counts)."""
    if cells <= _DENSE_CELLS:
        return np.bincount(key, minlength=cells).astype(float), np.zeros(0, np.int64), np.zeros(0)
    keys, counts = np.unique(key, return_counts=True)
    return None, keys, counts.astype(float)


def _count_lookup(table: tuple[np.ndarray | None, np.ndarray, np.ndarray], key: np.ndarray) -> np.ndarray:
    """The counts of ``_count_table`` at ``key`` (0 where absent or ``key`` < 0)."""
    dense, keys, counts = table
    ok = key >= 0
    if dense is not None:
        ok &= key < len(dense)
        return np.where(ok, dense[np.where(ok, key, 0)], 0.0)
    pos = np.minimum(np.searchsorted(keys, np.maximum(key, 0)), max(len(keys) - 1, 0))
    hit = ok & (keys[pos] == key) if len(keys) else np.zeros(len(key), dtype=bool)
    return np.where(hit, counts[pos] if len(keys) else 0.0, 0.0)


def _small_int(codes: np.ndarray, missing: int) -> np.ndarray:
    """Codes as int32 (the population's arrays stay small), missing (-1) → ``missing``."""
    codes = np.asarray(codes)
    if codes.dtype != np.int32:
        codes = codes.astype(np.int32)
    return np.where(codes < 0, np.int32(missing), codes) if (codes < 0).any() else codes


class _RowValues:
    """A population's enterprise attributes as integer codes, never as per-row strings: from the
    frame's own column when it has one (per row), else from the profile through each row's enterprise
    (per distinct enterprise, then one integer gather)."""

    def __init__(self, frame: pd.DataFrame, profile: pd.DataFrame | None, ent: np.ndarray, ent_keys: pd.Index):
        self.frame, self.ent, self.ent_keys = frame, ent, ent_keys
        self.profile = None if profile is None else profile.drop_duplicates("uscc")
        self._at: np.ndarray | None = None

    def has(self, col: str) -> bool:
        return col in self.frame.columns or (self.profile is not None and col in self.profile.columns)

    def per_row(self, col: str) -> bool:
        return col in self.frame.columns

    def codes(self, col: str, na_key: bool = False) -> tuple[np.ndarray, pd.Index]:
        """(int32 code per row, -1 when missing — or the ``"<NA>"`` key with ``na_key``; distinct values)."""
        if col in self.frame.columns:
            codes, uniques = _value_codes(self.frame[col])
            if na_key:
                codes, uniques = _na_as_key(codes, uniques)
            return codes.astype(np.int32, copy=False), uniques
        per_key, uniques = self.per_enterprise(col, na_key)
        return per_key[self.ent], uniques

    def per_enterprise(self, col: str, na_key: bool = False) -> tuple[np.ndarray, pd.Index]:
        """(int32 code per enterprise code, the missing enterprise last; distinct values) from the profile."""
        prof = self.profile
        assert prof is not None
        if self._at is None:
            self._at = _positions(pd.Series(self.ent_keys, dtype="string"), prof["uscc"])
        per_ent, uniques = _value_codes(prof[col])
        per_key = np.where(self._at < 0, -1, per_ent[np.maximum(self._at, 0)] if len(per_ent) else -1)
        per_key = np.append(per_key, -1)  # the missing-enterprise code (len(ent_keys)) has no profile
        if na_key:
            per_key, uniques = _na_as_key(per_key, uniques)
        return per_key.astype(np.int32), uniques


def _population_statistics(frame: pd.DataFrame, profile: pd.DataFrame | None = None,
                           as_of: dt.date | str | None = None, top: int = 64,
                           policy_codes: tuple[np.ndarray, pd.Index] | None = None) -> dict[str, object] | None:
    """The targeting statistics of :func:`specificity`, kept per (date, policy[, segment / token]) so
    that any subset of the population can look them up: rows per (date, policy), enterprises per date
    and per (date, segment), rows per (date, policy, segment), token shares per (date, policy).

    ``frame``: the candidate population (``uscc``, ``policy_id`` [, ``date``]); its enterprises'
    segments, chains and tags come from its own columns or, when it has none, from ``profile``.
    Integer codes and bincounts only (categorical key columns are read from their codes, int32 arrays),
    so 15 million candidates take seconds.  None when the population has no date (and no ``as_of``)."""
    n = len(frame)
    if "date" in frame.columns:
        day_values = _dates(frame["date"]).to_numpy()
        if pd.isna(day_values).any():
            return None
        days, d = np.unique(day_values, return_inverse=True)
        d = d.astype(np.int32) if len(days) > 1 else None
    elif as_of is not None:
        days, d = np.array([pd.Timestamp(as_of).normalize().as_unit("ns").to_datetime64()]), None
    else:
        return None
    n_days = max(len(days), 1)
    u, u_keys = _value_codes(frame["uscc"])
    n_u = len(u_keys) + 1
    u = _small_int(u, n_u - 1)
    p, p_keys = policy_codes if policy_codes is not None else _value_codes(frame["policy_id"])
    n_p = len(p_keys) + 1
    g = _small_int(p, n_p - 1)
    if d is not None:
        g = g + d * np.int32(n_p)
    n_g = n_days * n_p
    n_pol = np.bincount(g, minlength=n_g).astype(float)
    rows = _RowValues(frame, profile, u, u_keys)
    # enterprises present per date (and, for attributes carried per row, the first row of each
    # (date, enterprise): its value is the enterprise's, as in specificity)
    du = u.astype(np.int64) if d is None else d.astype(np.int64) * n_u + u
    if n_days * n_u <= _DENSE_CELLS:
        present = np.flatnonzero(np.bincount(du, minlength=n_days * n_u))
    else:
        present = np.unique(du)
    present_d, present_u = np.divmod(present, n_u)
    n_ent = np.bincount(present_d, minlength=n_days).astype(float)
    first: np.ndarray | None = None
    if any(rows.per_row(c) for c in SEGMENTS.values()):
        if n_days * n_u <= _DENSE_CELLS:
            at = np.full(n_days * n_u, -1, dtype=np.int64)
            at[du[::-1]] = np.arange(n - 1, -1, -1, dtype=np.int64)
            first = at[present]
        else:
            first = np.unique(du, return_index=True)[1]
    del du
    stats: dict[str, object] = {"days": days, "policies": p_keys, "n_pol": n_pol, "n_ent": n_ent, "lift": {},
                                "overlap": {}}
    for short, col in SEGMENTS.items():
        if not rows.has(col):
            continue
        if rows.per_row(col):
            s, s_keys = rows.codes(col, na_key=True)
            s_first = s[first]
        else:
            s_ent, s_keys = rows.per_enterprise(col, na_key=True)
            s, s_first = s_ent[u], s_ent[present_u]
        n_s = max(len(s_keys), 1)
        in_pol = _count_table(g.astype(np.int64) * n_s + s if n_g * n_s >= 2**31 else g * np.int32(n_s) + s,
                              n_g * n_s)
        base = np.bincount(present_d * n_s + s_first, minlength=n_days * n_s).astype(float)
        stats["lift"][short] = (s_keys, in_pol, base)  # type: ignore[index]
        del s
    for name, col in (("chain_overlap", "chains"), ("tag_overlap", "tags")):
        if not rows.has(col):
            continue
        v, v_keys = rows.codes(col)
        sets = [frozenset(t for t in str(x).split(";") if t) for x in v_keys]
        n_v = len(sets) + 1
        v = np.where(v < 0, np.int32(n_v - 1), v) if (v < 0).any() else v
        sets.append(frozenset())  # missing: no token
        if n_g * n_v <= _DENSE_CELLS:  # (policy group × distinct value) row counts
            key = g * np.int32(n_v) + v if n_g * n_v < 2**31 else g.astype(np.int64) * n_v + v
            counts = np.bincount(key, minlength=n_g * n_v).astype(float)
            del key
            freq = counts.reshape(n_g, n_v).sum(axis=0)
            combo = np.flatnonzero(counts)
            counts = counts[combo]
        else:
            combo, counts = np.unique(g.astype(np.int64) * n_v + v, return_counts=True)
            counts = counts.astype(float)
            freq = np.bincount(combo % n_v, weights=counts, minlength=n_v)
        del v
        tally: dict[str, int] = {}
        for x, f in zip(sets, freq):
            for t in x:
                tally[t] = tally.get(t, 0) + int(f)
        tokens = sorted(tally, key=lambda t: (-tally[t], t))[:top]
        share = np.zeros((n_g, len(tokens)))
        if tokens:
            U = np.array([[t in x for t in tokens] for x in sets], dtype=float)  # distinct value × token
            if n_g * n_v <= _DENSE_CELLS:  # (policy group × distinct value) counts @ (value × token)
                dense = np.zeros(n_g * n_v)
                dense[combo] = counts
                sums = dense.reshape(n_g, n_v) @ U  # integer-valued: exact in any order
            else:
                sums = np.zeros((n_g, len(tokens)))
                for lo in range(0, len(combo), 1 << 16):  # bounded memory for huge populations
                    c = combo[lo: lo + (1 << 16)]
                    np.add.at(sums, c // n_v, counts[lo: lo + (1 << 16), None] * U[c % n_v])
            with np.errstate(divide="ignore", invalid="ignore"):
                share = sums / n_pol[:, None]
        stats["overlap"][name] = (tokens, share)  # type: ignore[index]
    return stats


def _specificity_from(stats: dict[str, object], X: pd.DataFrame, date: np.ndarray) -> dict[str, np.ndarray]:
    """:data:`SPECIFICITY_FEATURES` of the pairs ``X`` (with push dates ``date``) looked up in the
    statistics of their population (:func:`_population_statistics`).  Every row's (date, policy) must
    be in that population."""
    n = len(X)
    days: np.ndarray = stats["days"]  # type: ignore[assignment]
    p_keys: pd.Index = stats["policies"]  # type: ignore[assignment]
    n_pol_g: np.ndarray = stats["n_pol"]  # type: ignore[assignment]
    n_p = len(p_keys) + 1
    d_codes, d_uniq = pd.factorize(date)
    at = np.searchsorted(days, d_uniq)
    at = np.where((at < len(days)) & (days[np.minimum(at, len(days) - 1)] == d_uniq), at, -1)
    d = at[d_codes] if len(at) else np.zeros(0, dtype=np.int64)
    p_codes, p_uniq = _value_codes(X["policy_id"])
    p_at = p_keys.get_indexer(p_uniq) if len(p_uniq) else np.zeros(0, dtype=np.int64)
    p = np.where(p_codes < 0, n_p - 1, p_at[np.maximum(p_codes, 0)] if len(p_at) else -1)
    g = np.where((d >= 0) & (p >= 0), d * n_p + p, -1)
    n_pol = np.where(g >= 0, n_pol_g[np.maximum(g, 0)], 0.0)
    if (n_pol == 0).any():
        bad = int((n_pol == 0).sum())
        raise ValueError(f"pair frame: {bad} row(s) whose (date, policy) is not in the population the builder "
                         "was fitted on; fit on the whole candidate population of those dates")
    n_ent = stats["n_ent"][d]  # type: ignore[index]
    out: dict[str, np.ndarray] = {"policy_reach": n_pol / n_ent}
    for short, col in SEGMENTS.items():
        table = stats["lift"].get(short)  # type: ignore[attr-defined]
        if table is None or col not in X.columns:
            out[f"lift_{short}"] = np.full(n, np.nan)
            continue
        s_keys, in_pol_t, base_t = table
        n_s = max(len(s_keys), 1)
        codes, uniq = _value_codes(X[col])
        missing = codes < 0
        codes, uniq = _na_as_key(codes, uniq)
        s_at = s_keys.get_indexer(uniq) if len(uniq) else np.zeros(0, dtype=np.int64)
        s = s_at[codes] if len(s_at) else np.zeros(n, dtype=np.int64)
        in_pol = _count_lookup(in_pol_t, np.where(s >= 0, g * n_s + s, -1)) / n_pol
        base = np.where(s >= 0, base_t[d * n_s + np.maximum(s, 0)], 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            lift = in_pol / (base / n_ent)
        out[f"lift_{short}"] = np.where(missing, np.nan, lift)
    for name, col in (("chain_overlap", "chains"), ("tag_overlap", "tags")):
        table = stats["overlap"].get(name)  # type: ignore[attr-defined]
        if table is None or col not in X.columns:
            out[name] = np.full(n, np.nan)
            continue
        tokens, share = table
        if not tokens:
            out[name] = np.zeros(n)
            continue
        codes, sets = _distinct_sets(X[col].array)
        U = np.array([[t in x for t in tokens] for x in sets], dtype=float)
        inverse, combos = _combine(g, codes)
        per = np.empty(len(combos))
        for lo in range(0, len(combos), 1 << 14):  # small temporaries; each row's sum is the same
            c = combos[lo: lo + (1 << 14)]
            m = U[c[:, 1]]
            held = m.sum(axis=1)
            per[lo: lo + len(c)] = np.where(held > 0, (m * share[c[:, 0]]).sum(axis=1) / np.maximum(held, 1.0), 0.0)
        out[name] = per[inverse]
    return out



def _key_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """Factorised keys (missing → the ``"<NA>"`` key): (code per row, the distinct keys).

    A categorical column is read from its codes (no per-row hashing)."""
    values = pd.Series(values)
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = np.asarray(values.cat.codes, dtype=np.int64)
        uniq = pd.Index(values.cat.categories.astype("string"), dtype="string")
    else:
        raw, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
        codes, uniq = np.asarray(raw, dtype=np.int64), pd.Index(uniques, dtype="string")
    if (codes < 0).any():
        na = uniq.get_indexer(pd.Index([_NA_KEY], dtype="string"))[0]
        if na < 0:
            na = len(uniq)
            uniq = uniq.append(pd.Index([_NA_KEY], dtype="string"))
        codes = np.where(codes < 0, na, codes)
    return codes, uniq


def _right_codes(values: pd.Series, uniq: pd.Index) -> np.ndarray:
    """Codes of ``values`` in the key space of ``uniq`` (left's distinct keys); keys left lacks get codes
    past the end, so they match nothing."""
    r_codes, r_uniq = _key_codes(values)
    mapped = uniq.get_indexer(r_uniq).astype(np.int64)
    unseen = mapped < 0
    mapped[unseen] = len(uniq) + np.arange(int(unseen.sum()))
    return mapped[r_codes] if len(r_codes) else r_codes


def _asof(left: pd.DataFrame, right: pd.DataFrame, by: list[str], values: list[str],
          cache: dict[str, object] | None = None) -> dict[str, np.ndarray]:
    """Cumulative ``values`` of ``right`` (daily, per ``by``) as of strictly before each left row's date;
    no earlier push → 0.

    ``right`` is a history table of :meth:`PairFeatureBuilder._history_tables`: categorical keys,
    rows sorted by (key codes, missing last; date).  Left's keys are mapped into right's codes once
    per distinct value (``cache``, one dict per ``left`` frame, keeps them between calls), so the
    table is searched as it is, without re-sorting or re-hashing it.  Any other table goes through
    :func:`_asof_generic`."""
    if right.empty:
        return {v: np.zeros(len(left)) for v in values}
    if not all(isinstance(right[c].dtype, pd.CategoricalDtype) for c in by):
        return _asof_generic(left, right, by, values, cache)
    cache = {} if cache is None else cache
    l_day, r_day, span = _day_codes(left, right, cache)
    l_key = np.zeros(len(left), dtype=np.int64)
    r_key = np.zeros(len(right), dtype=np.int64)
    valid = np.ones(len(left), dtype=bool)
    size = 1
    for c in by:
        cats = right[c].cat.categories
        m = len(cats) + 1  # code len(cats): missing
        if size * m * span >= 2**62:
            return _asof_generic(left, right, by, values, cache)
        ck = f"__in__{c}__{id(cats)}__{len(cats)}"
        if ck not in cache:
            if c not in cache:
                cache[c] = _key_codes(left[c])
            l_codes, uniq = cache[c]
            at = pd.Index(cats.astype("string"), dtype="string").get_indexer(uniq)
            na = uniq.get_indexer(pd.Index([_NA_KEY], dtype="string"))[0]
            if na >= 0 and at[na] < 0:
                at[na] = len(cats)  # a missing key matches a missing key
            cache[ck] = at[l_codes] if len(at) else np.zeros(0, dtype=np.int64)
        l_codes = cache[ck]
        r_codes = np.asarray(right[c].cat.codes, dtype=np.int64)
        r_codes = np.where(r_codes < 0, len(cats), r_codes)
        valid &= l_codes >= 0
        l_key, r_key, size = l_key * m + np.maximum(l_codes, 0), r_key * m + r_codes, size * m
    r_val = r_key * span + r_day
    if len(r_val) > 1 and not (r_val[1:] > r_val[:-1]).all():
        return _asof_generic(left, right, by, values, cache)
    if size * span <= _dense_limit(len(left)):
        # dense (key × day) grid of right's row, carried forward over the days
        grid = np.full(size * span, -1, dtype=np.int64)
        grid[r_val] = np.arange(len(r_val))
        grid = np.maximum.accumulate(grid.reshape(size, span), axis=1).ravel()
        pos = np.where(valid & (l_day > 0), grid[l_key * span + np.maximum(l_day - 1, 0)], -1)
    else:
        pos = np.searchsorted(r_val, l_key * span + l_day, side="left") - 1  # the last (key, date) below
        hit = valid & (pos >= 0)
        hit[hit] = r_key[pos[hit]] == l_key[hit]
        pos[~hit] = -1
    out = {}
    for v in values:  # one trailing zero: position -1 (no earlier push) reads 0
        col = right[v].to_numpy(dtype=float, na_value=np.nan)
        out[v] = np.append(np.where(np.isnan(col), 0.0, col), 0.0)[pos]
    return out


def _dense_limit(n_left: int) -> int:
    """Largest (key × day) grid worth filling for ``n_left`` look-ups: a few cells per look-up (a
    partition's million pairs: millions of cells), else the binary search — an online call asks
    for tens of rows and must not fill a grid of millions."""
    return 4 * n_left + (1 << 16)


def _day_codes(left: pd.DataFrame, right: pd.DataFrame, cache: dict[str, object]) -> tuple[np.ndarray, np.ndarray, int]:
    """Right's distinct dates as codes: for each left row the number of right dates strictly before its
    date, for each right row its own date's code, and the span (distinct dates + 1).  Left's codes are
    kept in ``cache`` (the tables of one transform share their dates)."""
    if "__date__" not in cache:
        cache["__date__"] = left["date"].to_numpy(dtype="datetime64[ns]")
    # right's own codes depend on right alone: a builder passes a store (``__right_days__``) that keeps
    # them between transforms (an online call transforms a few rows against the same history tables)
    store = cache.get("__right_days__")
    entry = store.get(id(right)) if isinstance(store, dict) else None
    if entry is None or entry[0] is not right:
        r_date = right["date"].to_numpy(dtype="datetime64[ns]")
        days = np.unique(r_date)
        entry = (right, days, np.searchsorted(days, r_date, side="left").astype(np.int64), days.tobytes().hex())
        if isinstance(store, dict):
            store[id(right)] = entry  # holds right itself: its id cannot be reused while stored
    _, days, r_codes, days_hex = entry
    day_key = "__days__" + days_hex
    if day_key not in cache:
        cache[day_key] = np.searchsorted(days, cache["__date__"], side="left").astype(np.int64)
    return cache[day_key], r_codes, len(days) + 1


def _asof_generic(left: pd.DataFrame, right: pd.DataFrame, by: list[str], values: list[str],
                  cache: dict[str, object] | None = None) -> dict[str, np.ndarray]:
    """Cumulative ``values`` of ``right`` (daily, per ``by``) as of strictly before each left row's date.

    An as-of join on integer keys: each row's (key, date) becomes one sortable integer (key × days +
    the number of ``right``'s dates before the row's date), and a binary search finds the last right
    row below it; it is a match when that row has the same key.  ``cache`` (one dict per ``left``
    frame) keeps left's key codes between calls, so the string keys of a million pairs are hashed once
    per transform, not once per statistic.  No match (no earlier push) → 0."""
    if right.empty:
        return {v: np.zeros(len(left)) for v in values}
    cache = {} if cache is None else cache
    l_day, r_day, span = _day_codes(left, right, cache)
    l_key = np.zeros(len(left), dtype=np.int64)
    r_key = np.zeros(len(right), dtype=np.int64)
    size = 1
    for c in by:  # shared integer codes for the keys
        if c not in cache:
            cache[c] = _key_codes(left[c])
        l_codes, uniq = cache[c]
        r_codes = _right_codes(right[c].reset_index(drop=True), uniq)
        m = max(len(uniq), int(r_codes.max(initial=-1)) + 1, 1)
        if size * m * span >= 2**62:  # renumber the keys so far densely before they could overflow
            joint = np.asarray(pd.factorize(np.concatenate([l_key, r_key]))[0], dtype=np.int64)
            l_key, r_key, size = joint[: len(left)], joint[len(left):], int(joint.max(initial=0)) + 1
        l_key, r_key, size = l_key * m + l_codes, r_key * m + r_codes, size * m
    if size * span > _dense_limit(len(left)):  # renumber densely: only keys present count
        joint = np.asarray(pd.factorize(np.concatenate([l_key, r_key]))[0], dtype=np.int64)
        l_key, r_key, size = joint[: len(left)], joint[len(left):], int(joint.max(initial=0)) + 1
    r_val = r_key * span + r_day
    order = np.argsort(r_val, kind="stable")
    if size * span <= _dense_limit(len(left)):
        # dense (key × day) grid of right's row (in sorted order), carried forward over the days
        grid = np.full(size * span, -1, dtype=np.int64)
        grid[r_val[order]] = np.arange(len(order))
        grid = np.maximum.accumulate(grid.reshape(size, span), axis=1).ravel()
        pos = np.where(l_day > 0, grid[l_key * span + np.maximum(l_day - 1, 0)], -1)
    else:
        l_val = l_key * span + l_day
        pos = np.searchsorted(r_val[order], l_val, side="left") - 1  # the last (key, date) below the row's
        hit = pos >= 0
        hit[hit] = r_key[order[pos[hit]]] == l_key[hit]
        pos[~hit] = -1
    out = {}
    for v in values:  # one trailing zero: position -1 (no earlier push) reads 0
        col = right[v].to_numpy(dtype=float, na_value=np.nan)[order]
        out[v] = np.append(np.where(np.isnan(col), 0.0, col), 0.0)[pos]
    return out


def _per_distinct(values: pd.Series, fn: Callable[[pd.Series], pd.Series] | None = None) -> pd.Categorical:
    """``values`` as strings (``fn`` applied to each distinct value, not to every row), categorical so
    that later key look-ups hash the distinct values only."""
    codes, uniques = _value_codes(values)
    uniq = pd.Series(uniques, dtype="string")
    if fn is not None:
        uniq = fn(uniq)
    mapped_codes, cat_values = pd.factorize(uniq, use_na_sentinel=True)
    row_codes = np.where(np.asarray(codes) < 0, -1, np.asarray(mapped_codes, dtype=np.int64)[np.maximum(codes, 0)]
                         if len(mapped_codes) else -1)
    return pd.Categorical.from_codes(row_codes, categories=pd.Index(cat_values, dtype="string"))


def _policy_groups(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """Row-aligned ``policy_id`` with the grouping columns of :data:`POLICY_GROUPS` (the bureau key,
    benefit kind and mode of each row's policy); None when the frame carries none of them.  The group
    columns are categorical (strings computed once per distinct value)."""
    if frame is None or "policy_id" not in frame.columns:
        return None
    ids = frame["policy_id"]
    out = pd.DataFrame({"policy_id": ids.array if isinstance(ids.dtype, pd.CategoricalDtype)
                        else ids.astype("string").array}, index=frame.index)
    if "department" in frame.columns:
        out["dept_key"] = _per_distinct(frame["department"], department_key)
    if "benefit_kind" in frame.columns:
        out["benefit_kind"] = _per_distinct(frame["benefit_kind"])
    mode = "mode" if "mode" in frame.columns else ("policy_mode" if "policy_mode" in frame.columns else None)
    if mode:
        out["mode"] = _per_distinct(frame[mode])
    if out.shape[1] == 1:
        return None
    return out


def _attach(keys: pd.Categorical, table: pd.DataFrame, key: str, col: str) -> pd.Categorical:
    """``table[col]`` for each row's key (a many-to-one left join; unknown or missing key → missing),
    looked up once per distinct key and returned categorical (as strings)."""
    pos = pd.Index(table[key].astype("string")).get_indexer(keys.categories.astype("string"))
    per_key = pd.Categorical(table[col].astype("string").reset_index(drop=True).reindex(pos))
    codes = np.asarray(keys.codes, dtype=np.int64)
    per_code = np.asarray(per_key.codes, dtype=np.int64)
    row_codes = np.where(codes < 0, -1, per_code[np.maximum(codes, 0)] if len(per_code) else -1)
    return pd.Categorical.from_codes(row_codes, dtype=per_key.dtype)


def _smooth(num: np.ndarray, den: np.ndarray, prior: np.ndarray | float, strength: float) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    prior = np.broadcast_to(np.asarray(prior, dtype=float), num.shape)
    total = den + strength
    return np.divide(num + strength * prior, total, out=prior.copy(), where=total > 0)


class _Columns:
    """The feature matrix under construction: one float64 row per feature in a (features × pairs)
    buffer, so the finished frame is one block (no copy) whose ``to_numpy()`` is a column-major view
    LightGBM reads without converting."""

    def __init__(self, n: int, extra: Sequence[str] = ()) -> None:
        self.names = list(FEATURES) + list(extra)  # extra: columns after the features (not model inputs)
        self.index = {c: i for i, c in enumerate(self.names)}
        self.buf = np.empty((len(self.names), n))  # every column is written once (frame() checks)
        self.written: set[str] = set()

    def __setitem__(self, name: str, value: ArrayLike | float) -> None:
        self.buf[self.index[name]] = value
        self.written.add(name)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.buf[self.index[name]]

    def frame(self) -> pd.DataFrame:
        for name in set(self.names) - self.written:  # pragma: no cover - every feature is computed
            self.buf[self.index[name]] = np.nan
        return pd.DataFrame(self.buf.T, columns=self.names, copy=False)


class PairFeatureBuilder(TransformerMixin, BaseEstimator):
    """Pair frame → numeric feature frame (``FEATURES``), as of each row's date.

    ``fit`` learns the vocabularies of the categorical policy attributes (department, benefit kind), the
    population's targeting statistics per (date, policy) — reach, segment lifts, chain/tag overlap, as
    :func:`specificity` defines them — and keeps the push history (``history=``; with the enterprises'
    segments from ``profile=`` or from the pair frame) as daily cumulative counts; ``transform`` looks
    every statistic up (the history ones strictly before the row's date).  A pair frame that carries the
    :data:`SPECIFICITY_FEATURES` columns (precomputed on its population) uses those.  Without history, uptake and engagement features are missing (LightGBM treats them as
    unknown), never zero.

    Parameters: ``smoothing`` — pseudo-counts pulling a segment's rate towards its policy's rate and a
    policy's rate towards the global rate; ``departments``/``benefit_kinds`` — fixed vocabularies (a
    loaded model passes the ones it was trained with); ``firm_effect_tau`` — when set, ``fit`` also fits
    each enterprise's own effects (:class:`quanhuiqi.rank.firm_effects.FirmEffects`, prior sd ``tau``) on
    the history before ``as_of`` and ``transform`` appends their sum for each pair as a last column
    ``firm_effect`` — not a model input: :class:`~quanhuiqi.rank.LambdaRanker` adds it to its score.
    """

    def __init__(
        self,
        smoothing: float = 20.0,
        departments: Sequence[str] | None = None,
        benefit_kinds: Sequence[str] | None = None,
        firm_effect_tau: float | None = None,
    ) -> None:
        self.smoothing = smoothing
        self.departments = departments
        self.benefit_kinds = benefit_kinds
        self.firm_effect_tau = firm_effect_tau

    # -- fitting -------------------------------------------------------------------------------
    def fit(
        self,
        X: pd.DataFrame,
        y: object = None,
        *,
        history: pd.DataFrame | None = None,
        profile: pd.DataFrame | None = None,
        policies: pd.DataFrame | None = None,
        as_of: dt.date | str | None = None,
    ) -> PairFeatureBuilder:
        """Learn the vocabularies, the population statistics and the history tables.

        ``X`` is the candidate population whose targeting statistics (reach, lifts, overlaps) the
        pairs to transform are measured against: an assembled pair frame, or the bare candidates
        (``uscc``, ``policy_id`` [, ``date``], string or categorical columns) with their enterprises'
        attributes from ``profile`` and their policies' from ``policies`` — the cheap form for a
        population of millions.  ``as_of`` dates a population without a ``date`` column.
        """
        for col in ("uscc", "policy_id"):
            if col not in X.columns:
                raise ValueError(f"pair frame: missing required column {col!r}")
        codes: list[tuple[np.ndarray, pd.Index]] = []

        def policy_codes() -> tuple[np.ndarray, pd.Index]:  # the population's policy ids, hashed once
            if not codes:
                codes.append(_value_codes(X["policy_id"]))
            return codes[0]

        self.departments_ = self._vocab(self.departments, X, "department", policies, policy_codes)
        self.benefit_kinds_ = self._vocab(self.benefit_kinds, X, "benefit_kind", policies, policy_codes)
        self.population_ = (None if all(c in X.columns for c in SPECIFICITY_FEATURES)
                            else _population_statistics(X, profile, as_of, policy_codes=policy_codes()))
        self._right_days: dict[int, tuple] = {}  # history tables' own day codes, kept between transforms
        self.history_ = (None if history is None else
                         self._history_tables(history, X if profile is None else profile,
                                              X if policies is None else policies))
        self.firm_effects_ = None
        if self.firm_effect_tau is not None:
            from quanhuiqi.rank.firm_effects import FirmEffects

            effects = FirmEffects(self.firm_effect_tau)  # refuses a bad tau even without history
            if history is not None:
                self.firm_effects_ = effects.fit(history, X if policies is None else policies, before=as_of)
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    @staticmethod
    def _vocab(given: Sequence[str] | None, X: pd.DataFrame, col: str, policies: pd.DataFrame | None,
               policy_codes: Callable[[], tuple[np.ndarray, pd.Index]]) -> list[str]:
        """The sorted distinct values of a policy attribute among the population's pairs (from the
        policies of its ``policy_id``s when the frame does not carry the attribute)."""
        if given is not None:
            return list(given)
        if col in X.columns:
            codes, uniques = _value_codes(X[col])
        elif policies is not None and col in policies.columns and "policy_id" in policies.columns:
            p_codes, p_uniq = policy_codes()
            used = p_uniq[np.flatnonzero(np.bincount(p_codes[p_codes >= 0], minlength=len(p_uniq)))]
            pol = policies.loc[policies["policy_id"].astype("string").isin(used).to_numpy(dtype=bool)]
            codes, uniques = _value_codes(pol[col])
        else:
            return []
        present = np.bincount(codes[codes >= 0], minlength=len(uniques)) > 0
        return sorted(str(v) for v in uniques[present])

    def _history_tables(self, history: pd.DataFrame, segments_from: pd.DataFrame,
                        policies_from: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
        missing = [c for c in ("date", "uscc", "policy_id", "clicked", "applied") if c not in history.columns]
        if missing:
            raise ValueError(f"push history: missing column(s) {', '.join(missing)}")
        h = pd.DataFrame(
            {
                "date": _dates(history["date"]).to_numpy(),
                "uscc": pd.Categorical(history["uscc"].astype("string")),
                "policy_id": pd.Categorical(history["policy_id"].astype("string")),
                "n": 1.0,
                "clicks": history["clicked"].astype("boolean").fillna(False).to_numpy(dtype=float),
                "applies": history["applied"].astype("boolean").fillna(False).to_numpy(dtype=float),
            }
        )
        if h["date"].isna().any():
            raise ValueError(f"push history: {int(h['date'].isna().sum())} row(s) with an unreadable date")
        h["last_click"] = h["date"].where(h["clicks"] > 0)
        seg_cols = [c for c in SEGMENTS.values() if c in segments_from.columns]
        segs = segments_from[["uscc"] + seg_cols].drop_duplicates("uscc").astype({"uscc": "string"})
        for c in seg_cols:  # a left join on the key, done once per distinct enterprise
            h[c] = _attach(h["uscc"].array, segs, "uscc", c)
        if policies_from is not None and "policy_id" in policies_from.columns:
            policies_from = policies_from.loc[~policies_from["policy_id"].astype("string").duplicated().to_numpy()]
        attrs = _policy_groups(policies_from)
        if attrs is not None:
            for c in attrs.columns.drop("policy_id"):
                h[c] = _attach(h["policy_id"].array, attrs, "policy_id", c)
        group_cols = [c for c in POLICY_GROUPS.values() if c in h.columns]
        for c in ["uscc", "policy_id"] + seg_cols + group_cols:  # hash the keys once, not in every group-by
            if not isinstance(h[c].dtype, pd.CategoricalDtype):
                h[c] = h[c].astype("string").astype("category")

        vals = ["n", "clicks", "applies"]
        days, day_code = np.unique(h["date"].to_numpy(), return_inverse=True)
        weights = {v: h[v].to_numpy(dtype=float) for v in vals}
        key_codes = {c: np.asarray(h[c].cat.codes, dtype=np.int64) for c in h.columns
                     if isinstance(h[c].dtype, pd.CategoricalDtype)}

        def cum(by: list[str]) -> pd.DataFrame:
            """Daily sums per (``by``, date), accumulated over the dates of each ``by`` group (bincounts
            on integer codes; counts of 0/1 pushes, so the float sums are exact)."""
            codes = [np.where(key_codes[c] < 0, len(h[c].cat.categories), key_codes[c]) for c in by]
            codes.append(day_code.astype(np.int64))
            sizes = [len(h[c].cat.categories) + 1 for c in by] + [len(days)]
            cells = float(np.prod(sizes, dtype=float))
            totals: dict[str, np.ndarray] = {}
            if cells < 2.0**62:  # one sortable integer per (keys, date)
                key = np.zeros(len(h), dtype=np.int64)
                for code, size in zip(codes, sizes):
                    key = key * size + code
                if cells <= max(4 * len(h), 1 << 22):  # small key space: count into it directly
                    uniq = np.flatnonzero(np.bincount(key, minlength=int(cells)))  # sorted
                    for v in vals:
                        totals[v] = np.bincount(key, weights=weights[v], minlength=int(cells))[uniq]
                else:  # sorted distinct keys (missing last, then date): hash, then sort the distinct ones
                    first_seen, uniq = pd.factorize(key)
                    srt = np.argsort(uniq, kind="stable")
                    rank = np.empty(len(srt), dtype=np.int64)
                    rank[srt] = np.arange(len(srt))
                    uniq, inverse = uniq[srt], rank[first_seen]
                    for v in vals:
                        totals[v] = np.bincount(inverse, weights=weights[v], minlength=len(uniq))
                combos = np.empty((len(uniq), len(codes)), dtype=np.int64)
                rest = uniq
                for j in range(len(codes) - 1, -1, -1):
                    rest, combos[:, j] = np.divmod(rest, sizes[j])
            else:
                inverse, combos = _combine(*codes)
                order = np.lexsort(combos.T[::-1])  # by the keys (missing last), then the date
                combos = combos[order]
                for v in vals:
                    totals[v] = np.bincount(inverse, weights=weights[v], minlength=len(order))[order]
            new_group = np.ones(len(combos), dtype=bool)
            if by and len(combos):
                new_group[1:] = (combos[1:, :-1] != combos[:-1, :-1]).any(axis=1)
            elif len(combos):
                new_group[1:] = False
            start = np.maximum.accumulate(np.where(new_group, np.arange(len(combos)), 0))
            daily = pd.DataFrame(index=range(len(combos)))
            for j, c in enumerate(by):
                k = combos[:, j]
                daily[c] = pd.Categorical.from_codes(np.where(k == len(h[c].cat.categories), -1, k),
                                                     dtype=h[c].dtype)
            daily["date"] = days[combos[:, -1]]
            for v in vals:
                run = np.cumsum(totals[v])
                daily[v] = run - np.where(start > 0, run[np.maximum(start - 1, 0)], 0.0)
            return daily

        tables = {"global": cum([]), "policy": cum(["policy_id"])}
        for short, col in SEGMENTS.items():
            if col in h.columns:
                tables[short] = cum(["policy_id", col])
        ent = cum(["uscc"])
        last = (h.dropna(subset=["last_click"]).groupby(["uscc", "date"], observed=True)["last_click"].max()
                .reset_index())
        ent = ent.merge(last, on=["uscc", "date"], how="left")
        ent["last_click"] = ent.groupby("uscc", observed=True)["last_click"].ffill()
        ent["last_click_days"] = (ent["last_click"] - pd.Timestamp("1970-01-01")).dt.days.astype(float)
        tables["enterprise"] = ent
        tables["pair"] = cum(["uscc", "policy_id"])
        for short, col in POLICY_GROUPS.items():
            if col in h.columns:
                tables[f"ent_{short}"] = cum(["uscc", col])
                if short != "mode" and SEGMENTS["industry"] in h.columns:
                    tables[f"seg_{short}"] = cum([SEGMENTS["industry"], col])
        return tables

    # -- transforming --------------------------------------------------------------------------
    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray(list(FEATURES) + self._extra(), dtype=object)

    def _extra(self) -> list[str]:
        """Columns after the model's features: ``firm_effect`` when the builder fits firm effects."""
        return [FIRM_EFFECT] if self.firm_effect_tau is not None else []

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        if not hasattr(self, "departments_"):
            raise RuntimeError("PairFeatureBuilder is not fitted: call fit(pairs, history=…) first")
        for col in ("uscc", "policy_id", "date"):
            if col not in X.columns:
                raise ValueError(f"pair frame: missing required column {col!r}")
        X = X.reset_index(drop=True)
        date = _dates(X["date"])
        if date.isna().any():
            raise ValueError(f"pair frame: {int(date.isna().sum())} row(s) without a push date")
        f = _Columns(len(X), self._extra())
        # profile
        if "industry_section" in X.columns:
            f["industry_section"] = _map_distinct(X["industry_section"], {c: float(i) for i, c in enumerate(SECTIONS)})
        else:
            f["industry_section"] = np.nan
        f["size_class"] = _ordinal(X, "size_class", SIZE_ORDER)
        if "established_on" in X.columns:
            est = _dates(X["established_on"])
            f["age_years"] = ((date - est).dt.days / 365.25).to_numpy(dtype=float, na_value=np.nan)
        else:
            f["age_years"] = _num(X, "age_years")
        f["lifecycle_stage"] = _ordinal(X, "lifecycle_stage", LIFECYCLE_ORDER)
        f["log_revenue"] = _log1p(_num(X, "revenue"))
        f["revenue_growth"] = np.clip(_num(X, "revenue_growth"), -1, 10)
        f["rd_ratio"] = np.clip(_num(X, "rd_ratio"), 0, 1)
        f["log_employees"] = _log1p(_num(X, "employees"))
        f["log_registered_capital"] = _log1p(_num(X, "registered_capital"))
        f["tax_credit_rating"] = _ordinal(X, "tax_credit_rating", RATING_ORDER)
        f["above_scale"] = (
            X["above_scale"].astype("boolean").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            if "above_scale" in X.columns
            else np.nan
        )
        f["n_certifications"] = _count_tokens(X, "certifications")
        f["n_chains"] = _count_tokens(X, "chains")
        f["n_tags"] = _count_tokens(X, "tags")
        # policy
        f["mode"] = _ordinal(X, "mode", MODE_ORDER)
        f["department"] = self._codes(X, "department", self.departments_)
        f["benefit_kind"] = self._codes(X, "benefit_kind", self.benefit_kinds_)
        f["log_max_amount"] = _log1p(_num(X, "max_amount"))
        f["log_amount_est"] = _log1p(self._amount_estimate(X))
        valid_to = _dates(X["valid_to"]) if "valid_to" in X.columns else pd.Series(pd.NaT, index=X.index)
        valid_from = _dates(X["valid_from"]) if "valid_from" in X.columns else pd.Series(pd.NaT, index=X.index)
        f["days_to_deadline"] = (valid_to - date).dt.days.to_numpy(dtype=float, na_value=np.nan)
        f["policy_age_days"] = (date - valid_from).dt.days.to_numpy(dtype=float, na_value=np.nan)
        f["valid_days"] = (valid_to - valid_from).dt.days.to_numpy(dtype=float, na_value=np.nan)
        # match specificity: precomputed on the whole candidate population when the caller has it, else
        # looked up in the population the builder was fitted on
        if all(c in X.columns for c in SPECIFICITY_FEATURES):
            for c in SPECIFICITY_FEATURES:
                f[c] = _num(X, c)
        elif getattr(self, "population_", None) is not None:
            for c, v in _specificity_from(self.population_, X, date.to_numpy()).items():
                f[c] = v
        else:
            spec = specificity(X.assign(date=date.to_numpy()))
            for c in SPECIFICITY_FEATURES:
                f[c] = spec[c].to_numpy(dtype=float)
        # explicit targets of the policy's eligibility tree
        code = X["industry_code"] if "industry_code" in X.columns else None
        f["industry_match"] = (_target_match(X, "target_industries", code, prefix=True)
                               if code is not None else np.nan)
        for name, col, tcol in (("cert_match", "certifications", "target_certifications"),
                                ("chain_match", "chains", "target_chains")):
            f[name] = (_target_match(X, tcol, X[col], prefix=False) if col in X.columns else np.nan)
        dis = X["district_code"] if "district_code" in X.columns else None
        if dis is not None and "target_districts" in X.columns:
            # only district-level policies target a district; a city-wide test ("3701") targets no one
            city_wide = tuple(t for t in pd.unique(_long_tokens(X, "target_districts")["token"]) if len(t) <= 4)
            f["district_match"] = _target_match(X, "target_districts", dis, prefix=True, ignore=city_wide)
        else:
            f["district_match"] = np.nan
        # verdict
        if "verdict" in X.columns:  # 1 eligible, 0 any other verdict, NaN unknown
            codes, verdicts = _value_codes(X["verdict"])
            f["is_eligible"] = np.array([float(v == "eligible") for v in verdicts] + [np.nan])[codes]
        else:
            f["is_eligible"] = np.nan
        f["n_unknown"] = _count_tokens(X, "unknown") if "unknown" in X.columns else np.nan
        f["n_unknown"] = np.where(np.isnan(f["n_unknown"]), 0.0, f["n_unknown"])
        # history
        self._history_features(f, X.assign(date=date.to_numpy()))
        if self.firm_effect_tau is not None:
            f[FIRM_EFFECT] = 0.0 if self.firm_effects_ is None else self.firm_effects_.effect(X)
        return f.frame()

    @staticmethod
    def _amount_estimate(X: pd.DataFrame) -> np.ndarray:
        """The benefit for this enterprise: rate × its base fact, capped by the maximum (else the maximum)."""
        cap = _num(X, "max_amount")
        if "amount_rate" not in X.columns or "amount_base" not in X.columns:
            return cap
        est = cap.copy()
        rate = _num(X, "amount_rate")
        codes, bases = _value_codes(X["amount_base"])
        for i, b in enumerate(bases):  # one pass per distinct base fact (a handful), no row copies
            if b not in X.columns:
                continue
            m = codes == i
            fact = pd.to_numeric(X[b][m], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            v = np.minimum(cap[m], rate[m] * fact)
            est[m] = np.where(np.isfinite(v), v, cap[m])
        return est

    @staticmethod
    def _codes(X: pd.DataFrame, col: str, vocab: list[str]) -> np.ndarray:
        if col not in X.columns or not vocab:
            return np.full(len(X), np.nan)
        lookup = {v: float(i) for i, v in enumerate(vocab)}
        return _map_distinct(X[col], lookup)

    def _history_features(self, f: _Columns, X: pd.DataFrame) -> None:
        if self.history_ is None:
            for c in UPTAKE_FEATURES + ENGAGEMENT_FEATURES + REVEALED_FEATURES:
                f[c] = np.nan
            return
        t = self.history_
        a = self.smoothing
        left = X[["uscc", "policy_id", "date"] + [c for c in SEGMENTS.values() if c in X.columns]].copy()
        keys: dict[str, object] = {"__right_days__": getattr(self, "_right_days", None)}  # shared below
        g = _asof(left, t["global"], [], ["n", "clicks", "applies"], cache=keys)
        g_click = _smooth(g["clicks"], g["n"], 0.05, 1.0)
        g_apply = _smooth(g["applies"], g["n"], 0.01, 1.0)
        p = _asof(left, t["policy"], ["policy_id"], ["n", "clicks", "applies"], cache=keys)
        p_click = _smooth(p["clicks"], p["n"], g_click, a)
        p_apply = _smooth(p["applies"], p["n"], g_apply, a)
        f["policy_click_rate"] = p_click
        f["policy_apply_rate"] = p_apply
        for short, col in SEGMENTS.items():
            if short in t and col in left.columns:
                s = _asof(left, t[short], ["policy_id", col], ["n", "clicks", "applies"], cache=keys)
                missing = pd.isna(X[col]).to_numpy()
                f[f"seg_click_rate_{short}"] = np.where(
                    missing, np.nan, _smooth(s["clicks"], s["n"], p_click, a)
                )
                f[f"seg_apply_rate_{short}"] = np.where(
                    missing, np.nan, _smooth(s["applies"], s["n"], p_apply, a)
                )
            else:
                f[f"seg_click_rate_{short}"] = np.nan
                f[f"seg_apply_rate_{short}"] = np.nan
        e = _asof(left, t["enterprise"], ["uscc"], ["n", "clicks", "applies", "last_click_days"], cache=keys)
        n_e = e["n"]
        f["ent_pushes"] = n_e
        f["ent_click_rate"] = _smooth(e["clicks"], n_e, g_click, 5.0)
        f["ent_apply_rate"] = _smooth(e["applies"], n_e, g_apply, 5.0)
        today = (X["date"] - pd.Timestamp("1970-01-01")).dt.days.to_numpy(dtype=float)
        last = e["last_click_days"]
        f["ent_days_since_click"] = np.where(last > 0, today - last, np.nan)
        pr = _asof(left, t["pair"], ["uscc", "policy_id"], ["n", "clicks"], cache=keys)
        f["pair_prev_pushes"] = pr["n"]
        f["pair_prev_clicked"] = (pr["clicks"] > 0).astype(float)
        self._revealed_features(f, X, left, f["ent_click_rate"], f["ent_apply_rate"],
                                g_click, g_apply, keys)

    def _revealed_features(self, f: _Columns, X: pd.DataFrame, left: pd.DataFrame, e_click: np.ndarray,
                           e_apply: np.ndarray, g_click: np.ndarray, g_apply: np.ndarray,
                           keys: dict[str, object]) -> None:
        """The enterprise's (and its division's) past rates on pushes of the same bureau / kind / mode,
        strictly before each row's date, smoothed towards its overall rates (2 pseudo-pushes)."""
        t = self.history_
        groups = _policy_groups(X)
        for c in REVEALED_FEATURES:
            f[c] = np.nan
        if groups is None:
            return
        left = left.copy()
        for col in POLICY_GROUPS.values():
            if col in groups.columns:
                left[col] = groups[col].array
        div = SEGMENTS["industry"]
        for short, col in POLICY_GROUPS.items():
            if f"ent_{short}" not in t or col not in left.columns:
                continue
            known = left[col].notna().to_numpy()
            r = _asof(left, t[f"ent_{short}"], ["uscc", col], ["n", "clicks", "applies"], cache=keys)
            n = r["n"]
            if short == "dept":
                f["ent_dept_pushes"] = np.where(known, n, np.nan)
            f[f"ent_{short}_click_rate"] = np.where(known, _smooth(r["clicks"], n, e_click, 2.0), np.nan)
            f[f"ent_{short}_apply_rate"] = np.where(known, _smooth(r["applies"], n, e_apply, 2.0), np.nan)
            if f"seg_{short}" in t and div in left.columns:
                s = _asof(left, t[f"seg_{short}"], [div, col], ["n", "clicks", "applies"], cache=keys)
                ok = known & left[div].notna().to_numpy()
                if short == "dept":
                    f["seg_dept_click_rate"] = np.where(
                        ok, _smooth(s["clicks"], s["n"], g_click, self.smoothing), np.nan)
                f[f"seg_{short}_apply_rate"] = np.where(
                    ok, _smooth(s["applies"], s["n"], g_apply, self.smoothing), np.nan)

    def config(self) -> dict[str, object]:
        """What a registered model needs to rebuild this builder (JSON-serialisable)."""
        return {
            "smoothing": float(self.smoothing),
            "departments": list(getattr(self, "departments_", self.departments or [])),
            "benefit_kinds": list(getattr(self, "benefit_kinds_", self.benefit_kinds or [])),
            **({} if self.firm_effect_tau is None else {"firm_effect_tau": float(self.firm_effect_tau)}),
        }
