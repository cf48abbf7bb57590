"""Explicit targets: does the pair's enterprise match what its policy's eligibility tree aims at?

A policy's targets (:func:`quanhuiqi.rank.pairs.policy_targets`) are the industries, certifications,
chains and districts its positive tests name; :func:`target_match` is 1 / 0 per pair, NaN where the
policy names no target or the enterprise's fact is unknown — computed once per distinct combination.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quanhuiqi.numeric import ArrayLike, combine_codes, distinct_sets, value_codes


def long_tokens(frame: pd.DataFrame, col: str) -> pd.DataFrame:
    """(row, token) for the ``;``-set column ``col`` (rows with no tokens are absent)."""
    codes, sets = distinct_sets(frame[col].array)
    per = np.array([len(x) for x in sets], dtype=np.int64)
    toks = [sorted(x) for x in sets]
    flat = np.array([t for ts in toks for t in ts], dtype=object)
    start = np.r_[0, np.cumsum(per)[:-1]] if len(per) else np.zeros(0, dtype=np.int64)
    cnt = per[codes]
    rows = np.repeat(np.arange(len(codes)), cnt)
    offs = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return pd.DataFrame({"row": rows, "token": flat[np.repeat(start[codes], cnt) + offs] if len(flat) else flat})


def target_match(X: pd.DataFrame, target_col: str, value: ArrayLike | None = None, *, prefix: bool,
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
    t_codes, t_sets = distinct_sets(X[target_col].array)
    t_sets = [x.difference(ignore) for x in t_sets]
    if prefix:
        def with_empty(values: ArrayLike) -> tuple[np.ndarray, list[str]]:  # missing → ""
            codes, uniques = value_codes(values)
            return np.where(codes < 0, len(uniques), codes), [str(u) for u in uniques] + [""]

        v_codes, v_uniques = with_empty(value)
        s_codes, s_uniques = (with_empty(X["industry_section"]) if "industry_section" in X.columns
                              else (np.zeros(n, dtype=np.int64), [""]))
        inverse, combos = combine_codes(t_codes, v_codes, s_codes)
        out = np.empty(len(combos))
        for i, (tc, vc, sc) in enumerate(combos):
            targets, code, sec = t_sets[tc], str(v_uniques[vc]), str(s_uniques[sc])
            if not targets or not code:
                out[i] = np.nan
            else:
                out[i] = float(any(sec == t if t.isalpha() else code.startswith(t) for t in targets))
        return out[inverse]
    v_codes, v_sets = distinct_sets(value)
    inverse, combos = combine_codes(t_codes, v_codes)
    out = np.array([np.nan if not t_sets[tc] else float(bool(t_sets[tc] & v_sets[vc])) for tc, vc in combos])
    return out[inverse] if len(combos) else np.full(n, np.nan)


