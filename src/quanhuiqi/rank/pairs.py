"""Pair assembly: candidates joined with their enterprise's profile and their policy's attributes.

:func:`assemble_pairs` makes the *pair frame* every ranker reads (one row per candidate, left joins,
input order kept); :func:`policy_frame` is the policy side (``book.policies`` with the targets of
:func:`policy_targets`, read from each eligibility tree); :func:`policy_groups` is what a past push is
grouped by for the revealed-preference features and the firm effects (bureau key, benefit kind, mode).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from quanhuiqi.numeric import as_days, per_distinct, positions
from quanhuiqi.rank.columns import (
    POLICY_COLUMNS,
    PROFILE_COLUMNS,
    SECTIONS,
    SPECIFICITY_FEATURES,
    TARGET_COLUMNS,
)


def department_key(departments: pd.Series | np.ndarray) -> pd.Series:
    """The bureau a department is, without its administrative prefix: 市商务局 and 历下区商务局 → 商务局.

    District bureaus run the same programmes as their city bureau, so an enterprise's engagement with
    one says something about the other."""
    s = pd.Series(departments, dtype="string")
    key = s.str.replace(r"^(济南)?(市|[^市区县]{1,4}?[区县]|高新区)", "", regex=True)
    return key.where(key.str.len() > 0, s)


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
        out["date"] = as_days(out["date"]).to_numpy()
    prof = profile.drop(columns=[c for c in profile.columns if c in out.columns and c != "uscc"])
    prof = prof.drop_duplicates("uscc")
    pol = policies.rename(columns={"mode": "policy_mode"}) if "mode" in out.columns else policies
    pol = pol.drop(columns=[c for c in pol.columns if c in out.columns and c != "policy_id"])
    pol = pol.drop_duplicates("policy_id")
    n = len(out)
    at_prof = positions(out["uscc"], prof["uscc"])
    at_pol = positions(out["policy_id"], pol["policy_id"])
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


def policy_groups(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """Row-aligned ``policy_id`` with the grouping columns of :data:`POLICY_GROUPS` (the bureau key,
    benefit kind and mode of each row's policy); None when the frame carries none of them.  The group
    columns are categorical (strings computed once per distinct value)."""
    if frame is None or "policy_id" not in frame.columns:
        return None
    ids = frame["policy_id"]
    out = pd.DataFrame({"policy_id": ids.array if isinstance(ids.dtype, pd.CategoricalDtype)
                        else ids.astype("string").array}, index=frame.index)
    if "department" in frame.columns:
        out["dept_key"] = per_distinct(frame["department"], department_key)
    if "benefit_kind" in frame.columns:
        out["benefit_kind"] = per_distinct(frame["benefit_kind"])
    mode = "mode" if "mode" in frame.columns else ("policy_mode" if "policy_mode" in frame.columns else None)
    if mode:
        out["mode"] = per_distinct(frame[mode])
    if out.shape[1] == 1:
        return None
    return out


