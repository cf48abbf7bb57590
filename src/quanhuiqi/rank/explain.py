"""Reasons as Chinese sentences: the features that pushed a recommendation up, in words.

A contribution matrix (LightGBM ``pred_contrib``, or the rule scorer's weighted terms) says how much
each feature added to each row's score.  The top positive contributions of a row become phrases, filled
with the row's own values (amount, days to the deadline, missing facts), joined into one sentence.
Built column by column: one pass per (position, feature), never per row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quanhuiqi.profile.fields import field_label


def _fmt_amount(x: np.ndarray) -> pd.Series:
    amount = np.expm1(x)
    return pd.Series(np.where(amount >= 100, np.round(amount, 0), np.round(amount, 1))).map(lambda v: f"{v:g}")


PHRASES = {
    "is_eligible": "已核验符合全部申报条件",
    "policy_reach": "政策适用范围精准",
    "lift_industry": "政策重点面向贵企所在行业",
    "lift_district": "政策重点面向贵企所在区县",
    "lift_size": "政策重点面向与贵企规模相当的企业",
    "chain_overlap": "与贵企所在产业链高度契合",
    "tag_overlap": "与贵企的企业标签相符",
    "industry_match": "政策明确支持贵企所属行业",
    "cert_match": "贵企具备政策所列的资质认定",
    "chain_match": "政策明确支持贵企所在产业链",
    "district_match": "贵企所在区县的专项政策",
    "industry_section": "契合贵企所属行业门类",
    "policy_click_rate": "该政策关注度高",
    "policy_apply_rate": "该政策申报踊跃",
    "seg_click_rate_industry": "同行业企业关注度高",
    "seg_apply_rate_industry": "同行业企业申报踊跃",
    "seg_click_rate_district": "同区县企业关注度高",
    "seg_apply_rate_district": "同区县企业申报踊跃",
    "seg_click_rate_size": "同规模企业关注度高",
    "seg_apply_rate_size": "同规模企业申报踊跃",
    "ent_pushes": "贵企持续关注惠企政策",
    "ent_click_rate": "贵企近期常查看推送的政策",
    "ent_apply_rate": "贵企近期积极申报政策",
    "ent_days_since_click": "贵企近期查看过推送",
    "pair_prev_pushes": "该政策此前已向贵企推送",
    "pair_prev_clicked": "贵企曾查看过该政策",
    "ent_dept_pushes": "贵企曾收到该部门的政策推送",
    "ent_dept_click_rate": "贵企常关注该部门的政策",
    "ent_dept_apply_rate": "贵企曾积极申报该部门的政策",
    "ent_kind_click_rate": "贵企常关注此类扶持",
    "ent_kind_apply_rate": "贵企曾申报同类扶持",
    "ent_mode_click_rate": "贵企常关注此类办理方式的政策",
    "ent_mode_apply_rate": "贵企习惯此类办理方式",
    "seg_dept_click_rate": "同行业企业常关注该部门的政策",
    "seg_dept_apply_rate": "同行业企业常申报该部门的政策",
    "seg_kind_apply_rate": "同行业企业常申报同类扶持",
    "size_class": "契合贵企的企业规模",
    "age_years": "契合贵企的成立年限",
    "lifecycle_stage": "契合贵企所处的发展阶段",
    "log_revenue": "契合贵企的营收规模",
    "revenue_growth": "契合贵企的成长性",
    "rd_ratio": "契合贵企的研发投入",
    "log_employees": "契合贵企的用工规模",
    "log_registered_capital": "契合贵企的注册资本",
    "tax_credit_rating": "契合贵企的纳税信用等级",
    "above_scale": "契合贵企的规上企业身份",
    "n_certifications": "契合贵企获得的资质认定",
    "n_chains": "契合贵企的产业链布局",
    "n_tags": "契合贵企的企业特征",
    "department": "主管部门与贵企业务相关",
    "benefit_kind": "扶持方式适合贵企",
    "policy_age_days": "政策新近发布",
    "valid_days": "政策执行期充足",
    "firm_effect": "贵企以往对同类政策反馈积极",
}


def _phrase(name: str, values: pd.Series) -> pd.Series:
    """The phrase for feature ``name`` at each row's value (vectorised; constant phrases broadcast)."""
    v = values.to_numpy(dtype=float)
    const = PHRASES
    if name in ("log_max_amount", "log_amount_est"):
        return ("最高可享" + _fmt_amount(v) + "万元").where(~np.isnan(v), "扶持力度大")
    if name == "days_to_deadline":
        days = pd.Series(v).map(lambda d: "" if np.isnan(d) else f"{int(d)}")
        return ("距申报截止还有" + days + "天，请抓紧办理").where(~np.isnan(v), "申报时间充裕")
    if name == "mode":
        return pd.Series(np.where(v == 2, "免申即享、无需申请", np.where(v == 1, "即申即享、办理快捷", "申报流程清晰")))
    if name == "n_unknown":
        return pd.Series(np.where(v > 0, "仅需补充少量信息即可确认资格", "资格信息完整"))
    return pd.Series([const.get(name, "综合评估匹配度高")] * len(v))


def reason_sentences(
    contributions: np.ndarray,
    features: pd.DataFrame,
    *,
    top: int = 3,
    prefix: str = "推荐理由：",
    fallback: str = "符合申报条件，建议关注。",
) -> pd.Series:
    """One Chinese sentence per row from its ``top`` largest positive feature contributions.

    ``contributions`` has one column per feature of ``features`` (a trailing bias column, as LightGBM's
    ``pred_contrib`` adds, is ignored).  Rows with an undetermined verdict get the missing facts appended.
    """
    names = list(features.columns)
    c = np.asarray(contributions, dtype=float)[:, : len(names)]
    n = len(features)
    order = np.argsort(-c, axis=1, kind="stable")[:, :top]
    parts = pd.Series([""] * n, dtype="string")
    for j in range(order.shape[1]):
        col = order[:, j]
        positive = c[np.arange(n), col] > 0
        phrase = pd.Series([""] * n, dtype="string")
        for f_idx in np.unique(col[positive]):
            rows = np.flatnonzero(positive & (col == f_idx))
            name = names[f_idx]
            phrase.iloc[rows] = _phrase(name, features[name].iloc[rows].reset_index(drop=True)).to_numpy()
        sep = pd.Series(np.where((parts.str.len() > 0) & (phrase.str.len() > 0), "；", ""), dtype="string")
        parts = parts + sep + phrase
    out = (prefix + parts + "。").where(parts.str.len() > 0, fallback)
    return out.astype("string").reset_index(drop=True)


def with_missing_facts(sentences: pd.Series, unknown: pd.Series | None) -> pd.Series:
    """Append 「需补充：…」 to the sentences of undetermined pairs (the facts that would settle them)."""
    if unknown is None:
        return sentences
    u = unknown.astype("string").reset_index(drop=True).fillna("")
    codes, uniques = pd.factorize(u)
    named = np.array(["、".join(field_label(f) for f in x.split(";") if f) for x in uniques], dtype=object)
    facts = pd.Series(named[codes] if len(uniques) else [], dtype="string")
    add = ("需补充：" + facts + "。").where(u.str.len() > 0, "")
    return (sentences.reset_index(drop=True) + add).astype("string")


def _phrase_one(name: str, v: float) -> str:
    """:func:`_phrase` of one value (the same texts, without a Series per feature)."""
    if name in ("log_max_amount", "log_amount_est"):
        if np.isnan(v):
            return "扶持力度大"
        amount = np.expm1(np.float64(v))
        shown = np.round(amount, 0) if amount >= 100 else np.round(amount, 1)
        return f"最高可享{shown:g}万元"
    if name == "days_to_deadline":
        return "申报时间充裕" if np.isnan(v) else f"距申报截止还有{int(v)}天，请抓紧办理"
    if name == "mode":
        return "免申即享、无需申请" if v == 2 else "即申即享、办理快捷" if v == 1 else "申报流程清晰"
    if name == "n_unknown":
        return "仅需补充少量信息即可确认资格" if v > 0 else "资格信息完整"
    return PHRASES.get(name, "综合评估匹配度高")


def reason_texts(contributions: np.ndarray, values: np.ndarray, names: list[str], unknown: list | None = None,
                 *, top: int = 3, prefix: str = "推荐理由：", fallback: str = "符合申报条件，建议关注。") -> list[str]:
    """:func:`reason_sentences` followed by :func:`with_missing_facts`, row by row: the same sentences for
    the few rows of one online call, where building Series per feature costs more than the text.
    ``values``: the feature matrix (rows × ``names``)."""
    c = np.asarray(contributions, dtype=float)[:, : len(names)]
    if len(c) == 0:
        return []
    order = np.argsort(-c, axis=1, kind="stable")[:, :top]  # row by row, as a per-row argsort orders it
    rows = np.arange(len(c))[:, None]
    shown = (c[rows, order] > 0).tolist()
    picked = values[rows, order].tolist()
    order_l = order.tolist()
    facts: dict[str, str] = {}
    out = []
    for i in range(len(c)):
        parts = [_phrase_one(names[j], float(x)) for j, x, ok in zip(order_l[i], picked[i], shown[i], strict=True)
                 if ok]
        text = prefix + "；".join(parts) + "。" if parts else fallback
        u = "" if unknown is None or _absent(unknown[i]) else str(unknown[i])
        if len(u) > 0:
            if u not in facts:
                facts[u] = "需补充：" + "、".join(field_label(f) for f in u.split(";") if f) + "。"
            text += facts[u]
        out.append(text)
    return out


def _absent(v: object) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
