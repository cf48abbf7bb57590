"""Triage: 直接办 · 协同办 · 提级办 from rules as data plus the model's score; every decision with its reason.

Rules (``data/triage_rules.yaml``, or your own file of the same shape) fire on words of the masked,
normalised text (``any``: one of the words; ``all``: one word of each list), on the largest sum the text
names (``amount_at_least``, 万元), on the number of the enterprise's cases within ``repeat_days``
(``repeats_at_least``) and on the number of departments (``departments_at_least``).  The highest level
that fires wins; otherwise the triage head of the model (when it was trained with triage labels) raises
the level when its probability reaches ``model.escalated_at`` / ``model.coordinated_at``; otherwise the
appeal is handled directly by its one department.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import yaml

from quanhuiqi.appeals.columns import TRIAGE_LEVELS, TRIAGE_NAMES
from quanhuiqi.appeals.features import model_text
from quanhuiqi.tables.io import InputError
from quanhuiqi.tables.parse import to_arrow
from quanhuiqi.text import normalize_text, normalize_text_series

_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(亿元|亿|万元|万)")
# a digit (ASCII or full-width: normalisation comes after this cue) before 亿/万; the same class as the column
# path's RE2 pattern below
_AMOUNT_CUE = re.compile("[0-9０-９][\t\n\f\r \u3000]*(?:亿|万)")  # literal characters: RE2 reads them too
_RULE_KEYS = {"name", "any", "all", "amount_at_least", "repeats_at_least", "repeat_days", "departments_at_least",
              "reason"}


@dataclass
class TriageRules:
    version: str
    escalated: list[dict]
    coordinated: list[dict]
    escalated_at: float = 0.5
    coordinated_at: float = 0.5

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> TriageRules:
        if path is None:
            text, source = _shipped_text(), "triage_rules.yaml (shipped)"
        else:
            p = Path(path)
            if not p.exists():
                raise InputError(f"{p}: triage rules not found")
            text, source = p.read_text(encoding="utf-8"), str(p)
        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"{source}: not valid YAML ({str(exc)[:200]})") from exc
        return cls.from_dict(doc, source)

    @classmethod
    def from_dict(cls, doc: dict, source: str = "triage rules") -> TriageRules:
        if not isinstance(doc, dict):
            raise InputError(f"{source}: expected a mapping with escalated, coordinated and model")
        out = {}
        for level in ("escalated", "coordinated"):
            rules = doc.get(level) or []
            if not isinstance(rules, list):
                raise InputError(f"{source}: {level} must be a list of rules")
            for i, r in enumerate(rules):
                where = f"{source}: {level}[{i}]"
                if not isinstance(r, dict) or not r.get("name") or not r.get("reason"):
                    raise InputError(f"{where}: a rule needs a name and a reason")
                unknown = set(r) - _RULE_KEYS
                if unknown:
                    raise InputError(f"{where} ({r['name']}): unknown key(s) {sorted(unknown)}")
                tests = {"any", "all", "amount_at_least", "repeats_at_least", "departments_at_least"} & set(r)
                if len(tests) != 1:
                    raise InputError(f"{where} ({r['name']}): exactly one of any, all, amount_at_least, "
                                     f"repeats_at_least, departments_at_least")
                if "all" in r and not (isinstance(r["all"], list) and all(isinstance(x, list) and x for x in r["all"])):
                    raise InputError(f"{where} ({r['name']}): all must be a list of word lists")
                if "any" in r and not (isinstance(r["any"], list) and r["any"]):
                    raise InputError(f"{where} ({r['name']}): any must be a non-empty word list")
            out[level] = rules
        model = doc.get("model") or {}
        return cls(str(doc.get("version", "unversioned")), out["escalated"], out["coordinated"],
                   float(model.get("escalated_at", 0.5)), float(model.get("coordinated_at", 0.5)))

    def to_dict(self) -> dict:
        return {"version": self.version, "escalated": self.escalated, "coordinated": self.coordinated,
                "model": {"escalated_at": self.escalated_at, "coordinated_at": self.coordinated_at}}


@cache
def _shipped_text() -> str:
    return resources.files("quanhuiqi.appeals").joinpath("data").joinpath("triage_rules.yaml").read_text(encoding="utf-8")


def _word_pattern(words: list[str]) -> str:
    return _pattern_of(tuple(words))


@cache
def _pattern_of(words: tuple[str, ...]) -> str:
    """The rule's words as the model reads text (normalised once per process), as one RE2 alternation."""
    norm = model_text(pd.Series(list(words), dtype="string")).tolist()
    return "|".join(re.escape(w) for w in sorted(set(norm), key=len, reverse=True) if w)


@cache
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def largest_amount(texts: pd.Series) -> np.ndarray:
    """The largest sum (万元) each text names, NaN when none: 300万元, 1.2亿, 5000万."""
    if len(texts) <= 4:  # one appeal (online): no columnar scan
        vals = [v if isinstance(v, str) else "" for v in texts]
        need = np.array([bool(_AMOUNT_CUE.search(v)) for v in vals], dtype=bool)
    else:
        t = pd.Series(texts, dtype="string").fillna("")
        need = pc.fill_null(pc.match_substring_regex(to_arrow(t), _AMOUNT_CUE.pattern), False).to_numpy(zero_copy_only=False)
        idx = np.flatnonzero(need)
        # normalised as a column (pyarrow; the same text as normalize_text per cell), then parsed per cell
        vals = dict(zip(idx.tolist(), normalize_text_series(t.iloc[idx]).fillna("").tolist()))
    out = np.full(len(texts), np.nan)
    for i in np.flatnonzero(need):
        best = np.nan
        for num, unit in _AMOUNT.findall(vals[i] if len(texts) > 4 else (normalize_text(vals[i]) or "")):
            v = float(num) * (10000.0 if unit.startswith("亿") else 1.0)
            best = v if np.isnan(best) else max(best, v)
        out[i] = best
    return out


def repeat_counts(uscc: pd.Series, received: pd.Series, case_id: pd.Series, history: pd.DataFrame | None,
                  days: float, categories: pd.Series | None = None) -> np.ndarray:
    """For each appeal, the cases of its enterprise about the same category (when ``categories`` is
    given; history rows count with their recorded ``category``) received within ``days`` up to it,
    itself included: the same problem raised again."""
    def key(u: pd.Series, c: pd.Series | None) -> pd.Series:
        u = u.astype("string")
        return u if c is None else (u + "|" + c.astype("string"))

    cur = pd.DataFrame({"uscc": key(uscc, categories).to_numpy(), "t": pd.to_datetime(received).to_numpy(),
                        "case_id": case_id.astype("string").to_numpy()})
    pool = cur
    if history is not None and len(history):
        hc = None if categories is None else history.get("category", pd.Series(pd.NA, index=history.index))
        h = pd.DataFrame({"uscc": key(history["uscc"], hc).to_numpy(),
                          "t": pd.to_datetime(history["received_at"]).to_numpy(),
                          "case_id": history["case_id" if "case_id" in history.columns else "appeal_id"].astype("string").to_numpy()})
        pool = pd.concat([cur, h], ignore_index=True)  # this batch's own categories win for its cases
    pool = pool.dropna(subset=["uscc", "t"]).drop_duplicates("case_id")
    out = np.ones(len(cur), dtype=np.int64)
    if pool.empty:
        return out
    g, keys = pd.factorize(pool["uscc"])
    secs = (pool["t"].to_numpy().astype("datetime64[s]").astype(np.int64))
    base = secs.min()
    span = int(secs.max() - base) + int(days * 86400) + 2
    key = np.sort(g.astype(np.int64) * span + (secs - base))
    ok = cur["uscc"].notna().to_numpy() & cur["t"].notna().to_numpy()
    if ok.any():
        gc = pd.Index(keys).get_indexer(cur.loc[ok, "uscc"]).astype(np.int64)  # the pool's group numbers
        s = cur.loc[ok, "t"].to_numpy().astype("datetime64[s]").astype(np.int64) - base
        hi = np.searchsorted(key, gc * span + s, side="right")
        lo = np.searchsorted(key, gc * span + np.maximum(s - int(days * 86400), 0), side="left")
        out[ok] = np.maximum(hi - lo, 1)
    return out


def apply_triage(texts: pd.Series, departments: pd.Series, rules: TriageRules, *,
                 uscc: pd.Series | None = None, received: pd.Series | None = None, case_id: pd.Series | None = None,
                 history: pd.DataFrame | None = None, model_proba: pd.DataFrame | None = None,
                 categories: pd.Series | None = None) -> pd.DataFrame:
    """``triage`` (direct | coordinated | escalated), ``triage_reason`` (Chinese) and ``triage_rules`` per appeal.

    ``texts``: the masked title + body; ``departments``: ``;``-joined; ``model_proba``: columns of
    :data:`TRIAGE_LEVELS` from the model's triage head (optional); ``categories``: each appeal's
    category, so that repeats count the same problem only."""
    proba = None if model_proba is None else {c: model_proba[c].to_numpy() for c in model_proba.columns}
    cols = triage_columns(list(pd.Series(texts, dtype="string").astype(object)),
                          list(pd.Series(departments, dtype="string").astype(object)), rules, uscc=uscc,
                          received=received, case_id=case_id, history=history, model_proba=proba,
                          categories=categories)
    return pd.DataFrame({k: pd.array(v, dtype="string") for k, v in cols.items()})


def text_evidence(texts: list, rules: TriageRules, normalized: pd.Series | None = None) -> dict[str, np.ndarray]:
    """What the text alone says for each rule: a hit array per word rule (key ``level:index``) and the
    largest sum (``amounts``) when an amount rule exists.  Per appeal, so parallel routing computes it
    chunk by chunk beside the features; :func:`triage_columns` combines it with the departments and
    the repeats (which need the whole batch).  ``normalized``: :func:`model_text` of ``texts`` when
    already known (more than four texts)."""
    n = len(texts)
    texts = [t if isinstance(t, str) else None for t in texts]
    if n > 4 and normalized is not None:
        norm = to_arrow(pd.Series(normalized, dtype="string").reset_index(drop=True))

        def has(pattern: str) -> np.ndarray:
            return pc.fill_null(pc.match_substring_regex(norm, pattern), False).to_numpy(zero_copy_only=False)
    elif n <= 4:  # a few appeals (online): Python's re on each text, no columnar set-up
        from quanhuiqi.appeals.features import _model_text_one

        norm_list = [_model_text_one(t) for t in texts]

        def has(pattern: str) -> np.ndarray:
            rx = _compiled(pattern)
            return np.array([bool(rx.search(t)) for t in norm_list], dtype=bool)
    else:
        norm = to_arrow(model_text(pd.Series(texts, dtype="string")))

        def has(pattern: str) -> np.ndarray:
            return pc.fill_null(pc.match_substring_regex(norm, pattern), False).to_numpy(zero_copy_only=False)
    out: dict[str, np.ndarray] = {}
    for lvl_name in ("escalated", "coordinated"):
        for j, r in enumerate(getattr(rules, lvl_name)):
            if "any" in r:
                out[f"{lvl_name}:{j}"] = has(_word_pattern(r["any"]))
            elif "all" in r:
                hit = np.ones(n, dtype=bool)
                for words in r["all"]:
                    hit &= has(_word_pattern(words))
                out[f"{lvl_name}:{j}"] = hit
            elif "amount_at_least" in r and "amounts" not in out:
                out["amounts"] = largest_amount(texts if n <= 4 else pd.Series(texts, dtype="string"))
    return out


def triage_columns(texts: list, departments: list, rules: TriageRules, *, uscc=None, received=None, case_id=None,
                   history=None, model_proba: dict | None = None, categories=None,
                   evidence: dict[str, np.ndarray] | None = None) -> dict[str, list]:
    """:func:`apply_triage` as plain lists (the one-appeal path builds no table).  ``evidence``: the
    :func:`text_evidence` of ``texts`` when already computed (parallel routing)."""
    n = len(texts) if texts is not None else len(departments)
    if evidence is None:
        evidence = text_evidence(texts, rules)
    level = np.zeros(n, dtype=np.int64)  # 0 direct, 1 coordinated, 2 escalated
    reasons: list[list[str]] = [[] for _ in range(n)]
    fired: list[list[str]] = [[] for _ in range(n)]
    amounts = evidence.get("amounts")
    repeats = None
    n_dept = np.array([d.count(";") + 1 if isinstance(d, str) else 0 for d in departments], dtype=np.int64)
    for lvl_name, lvl in (("escalated", 2), ("coordinated", 1)):
        for j, r in enumerate(getattr(rules, lvl_name)):
            detail = None
            if "any" in r or "all" in r:
                hit = evidence[f"{lvl_name}:{j}"]
            elif "amount_at_least" in r:
                hit = np.nan_to_num(amounts, nan=-1) >= float(r["amount_at_least"])
                detail = amounts
            elif "repeats_at_least" in r:
                if uscc is None or received is None:
                    continue
                if repeats is None:
                    repeats = repeat_counts(uscc.reset_index(drop=True), received.reset_index(drop=True),
                                            (case_id if case_id is not None else pd.Series(np.arange(n)).astype(str)).reset_index(drop=True),
                                            history, float(r.get("repeat_days", 90)),
                                            None if categories is None else categories.reset_index(drop=True))
                hit = repeats >= int(r["repeats_at_least"])
                detail = repeats
            else:
                hit = n_dept >= int(r["departments_at_least"])
                detail = n_dept
            for i in np.flatnonzero(hit):
                text = r["reason"]
                if detail is not None and "amount_at_least" in r:
                    text += f"（{detail[i]:g}万元）"
                elif detail is not None and "repeats_at_least" in r:
                    text += f"（{int(detail[i])}次/{int(r.get('repeat_days', 90))}天）"
                reasons[i].append(text)
                fired[i].append(r["name"])
                level[i] = max(level[i], lvl)
    model_note = [""] * n
    if model_proba is not None and n:
        pe = np.asarray(model_proba["escalated"]) if "escalated" in model_proba else np.zeros(n)
        pco = np.asarray(model_proba["coordinated"]) if "coordinated" in model_proba else np.zeros(n)
        up2 = (level < 2) & (pe >= rules.escalated_at)
        up1 = (level < 1) & ~up2 & (pco >= rules.coordinated_at)
        for i in np.flatnonzero(up2):
            model_note[i] = f"模型判为重大紧急（{pe[i]:.2f}）"
            fired[i].append("model")
        for i in np.flatnonzero(up1):
            model_note[i] = f"模型判为复杂疑难（{pco[i]:.2f}）"
            fired[i].append("model")
        level = np.where(up2, 2, np.where(up1, 1, level))
    levels = np.array(TRIAGE_LEVELS, dtype=object)[level]
    text = []
    for i in range(n):
        why = reasons[i] + ([model_note[i]] if model_note[i] else [])
        if not why:
            why = ["单一部门可直接办理，未触发协同或提级规则"]
        text.append(f"{TRIAGE_NAMES[levels[i]]}：" + "；".join(why))
    return {"triage": list(levels), "triage_reason": text, "triage_rules": [";".join(f) for f in fired]}


__all__ = ["TriageRules", "apply_triage", "largest_amount", "repeat_counts", "text_evidence", "triage_columns"]
