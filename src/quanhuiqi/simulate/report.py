"""The simulation for a policy office: one self-contained HTML page in Chinese (charts as inline SVG, no script,
no network), the same content as JSON, and the tables as CSV.

Only counts, amounts and identifiers of policies, districts, industries and departments appear — never an
enterprise's record.
"""

from __future__ import annotations

import html
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quanhuiqi.tables.io import atomic_write, write_table

MODE_ZH = {"auto": "免申即享", "instant": "即申即享", "apply": "申报审核"}
DIM_ZH = {"district": "区县", "section": "行业门类", "size": "企业规模", "chain": "重点产业链"}
ESTIMATOR_ZH = {
    "calibrated": "按数据推算的符合率，再按历史申报审批结果逐项校准（历史与数据不一致时向历史靠拢）",
    "data": "按数据推算的符合率（与待定企业已知条件相同、且数据完整的企业中实际符合的比例）",
    "history": "按历史申报审批结果推算的符合率（同一政策、同一组缺失条件的历史批准比例）",
}
OP_ZH = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤", "eq": "=", "ne": "≠", "in": "属于", "not_in": "不属于",
         "between": "介于", "under": "属于", "not_under": "不属于", "has": "具有", "has_any": "具有其一",
         "has_all": "全部具有", "count_le": "次数 ≤", "count_ge": "次数 ≥"}
AMOUNT_ZH = {"max_amount": "每户资金上限", "amount_rate": "补助比例", "tier_amount": "档次奖励金额"}
RECORD_ZH = {"certificate": "资质认定记录", "milestone": "企业大事记录", "penalty": "处罚、事故或违法记录"}
TOP_POLICIES = 40  # policies in the overview when the book is large (all sweep policies are added)
FOCUS = 3  # policies with full breakdowns besides the sweep policies
COLOURS = {"eligible": "#2e7d32", "undetermined": "#f9a825", "low": "#90caf9", "central": "#1565c0",
           "high": "#90caf9", "apply": "#8e24aa", "review": "#ef6c00", "pay": "#00838f"}


def _e(x: Any) -> str:
    return html.escape("" if x is None or (isinstance(x, float) and math.isnan(x)) else str(x))


def _money(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, float) and math.isinf(x):
        return "无上限"
    return f"{float(x):,.1f}"


def _int(x: Any) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{int(x):,}"


def _clean(v: Any) -> Any:
    """JSON-safe: NaN and infinity become null, numpy scalars plain numbers, timestamps ISO text."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [_clean(r) for r in df.astype(object).where(df.notna(), None).to_dict(orient="records")]


# --- what the report shows --------------------------------------------------------------------------------


def overview(result) -> pd.DataFrame:
    """The summary with each row described (title, department, mode, in force, spread)."""
    d = result.policies[["policy_id", "variant", "title", "department", "mode", "in_force", "valid_from", "valid_to",
                         "amount_rule", "payout_eligible", "payout_sd", "undetermined_rate"]]
    ov = result.summary.merge(d, on=["policy_id", "variant"], how="left")
    return ov.assign(status=status_text(ov, result.meta["as_of"]))


def status_text(ov: pd.DataFrame, as_of: str) -> np.ndarray:
    """现行 (in force), 测算方案 (a sweep's variant), 未生效 (its window has not begun: a draft), 已到期, 草案."""
    vf, vt = ov["valid_from"].fillna(""), ov["valid_to"].fillna("")
    return np.select(
        [ov["variant"] != "base", ov["in_force"].astype(bool), (vf != "") & (vf > as_of), (vt != "") & (vt < as_of)],
        ["测算方案", "现行", "未生效", "已到期"], default="草案")


def focus_policies(result) -> list[str]:
    """The sweep policies, then the largest by central payout."""
    swept = list(dict.fromkeys(result.sweeps["policy_id"].astype(str))) if len(result.sweeps) else []
    base = result.summary[result.summary["variant"] == "base"]
    top = base.sort_values(["payout_central", "policy_id"], ascending=[False, True], na_position="last")
    out = swept + [p for p in top["policy_id"].astype(str) if p not in swept][:FOCUS]
    return out


def shown_rows(result) -> pd.DataFrame:
    ov = overview(result)
    base = ov[ov["variant"] == "base"]
    if len(base) > TOP_POLICIES:
        keep = set(base.sort_values(["payout_central", "policy_id"], ascending=[False, True],
                                    na_position="last")["policy_id"].astype(str).head(TOP_POLICIES))
        keep |= set(focus_policies(result))
        ov = ov[ov["policy_id"].astype(str).isin(keep)]
    # each policy's variants right under it, policies by their own central payout
    base_pay = ov[ov["variant"] == "base"].set_index("policy_id")["payout_central"]
    ov = ov.assign(_rank=ov["policy_id"].map(base_pay).fillna(-np.inf), _variant=ov["variant"] != "base")
    return (ov.sort_values(["_rank", "policy_id", "_variant", "variant"], ascending=[False, True, True, True],
                           kind="stable").drop(columns=["_rank", "_variant"]).reset_index(drop=True))


def to_json(result) -> dict[str, Any]:
    """The report's content as plain data (NaN → null)."""
    focus = focus_policies(result)
    b = result.breakdown
    return _clean({
        "meta": result.meta,
        "method": method_text(result),
        "summary": _records(overview(result)),
        "sweeps": _records(result.sweeps),
        "breakdown": _records(b[b["policy_id"].astype(str).isin(focus)]),
        "overlap": _records(result.overlap),
        "lead_times": _records(result.lead_times),
        "lead_times_department": _records(result.lead_times_department),
        "undetermined_top": _records(top_undetermined(result)),
        "estimates": _records(result.estimates),
    })


def top_undetermined(result, k: int = 20) -> pd.DataFrame:
    """The missing facts behind the most money: undetermined groups of base rows by payout if all qualified."""
    u = result.undetermined
    u = u[u["variant"] == "base"]
    return u.sort_values(["payout_high", "policy_id"], ascending=[False, True], kind="stable").head(k).reset_index(drop=True)


def method_text(result) -> dict[str, str]:
    m = result.meta
    return {
        "verdicts": "符合：数据证明满足全部条件；待定：数据不足以判断（缺少所列数据项）；不符合：数据证明不满足。",
        "range": "资金下限：仅计已证明符合的企业（金额依据未知的按0计）；资金上限：待定企业全部符合（金额依据未知的按政策上限计）。",
        "central": f"资金中值：已证明符合的企业金额之和，加上每家待定企业的金额乘以其估计符合率。估计方法：{ESTIMATOR_ZH[m['estimator']]}。"
                   f"历史申报 {m['history_applications']:,} 件（已审结），总体校准系数 {m['calibration_pooled']}。这是估计，不是承诺。",
        "spread": "±：仅由“哪些待定企业最终符合”带来的波动（每家按其符合率独立判断时的标准差）。",
        "scope": "每项政策（含草案）均按全部企业测算，不受有效期限制；有效期决定何时兑现，不决定谁符合。",
    }


# --- SVG ---------------------------------------------------------------------------------------------------


def test_label(test: str, fields=None) -> str:
    """``revenue gt`` → ``营业收入 >``; ``max_amount`` → ``每户资金上限``."""
    from quanhuiqi.profile.fields import field_label

    if test in AMOUNT_ZH:
        return AMOUNT_ZH[test]
    name, _, op = str(test).partition(" ")
    label = RECORD_ZH.get(name) or field_label(name, fields)
    if fields and name in fields and getattr(fields[name], "label", None):
        label = fields[name].label
    return f"{label} {OP_ZH.get(op, op)}".strip()


def _short(text: str, n: int = 16) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _svg_open(name: str, width: int, height: int, classes: str = "chart", aria: str = "") -> str:
    label = f' aria-label="{_e(aria)}"' if aria else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="{classes}" data-chart="{_e(name)}" width="{width}" '
            f'height="{height}" role="img"{label}>')


def _row_label(label_w: int, y: float, text: str, n: int) -> str:
    """A bar's label, right-aligned left of the plot, shortened to ``n`` characters."""
    return f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12">{_e(_short(text, n))}</text>'


def svg_range(rows: pd.DataFrame, label_w: int = 260, width: int = 900) -> str:
    """Payout ranges: a bar from low to high per policy, a mark at the central estimate."""
    if rows.empty:
        return "<p class='empty'>无</p>"
    finite_high = rows["payout_high"].replace([np.inf], np.nan).to_numpy(float)
    tops = np.sort(np.nan_to_num(np.fmax(finite_high, rows["payout_central"].to_numpy(float)), nan=0.0))[::-1]
    vmax = float(max(tops[0] if tops.size else 0.0, 1e-9))
    broken = tops.size > 1 and tops[0] > 3 * tops[1] > 0  # one policy dwarfs the rest: cut its bar, say so
    if broken:
        vmax = float(tops[1] * 1.15)
    row_h = 22
    h = row_h * len(rows) + 30
    plot = width - label_w - 170
    parts = [_svg_open("payout-range", width, h, aria="各政策资金区间与中值（万元）")]
    for i, r in enumerate(rows.itertuples(index=False)):
        y = i * row_h + 4
        lo, c, hi = (float(r.payout_low), float(r.payout_central), float(r.payout_high))
        x = lambda v: label_w + plot * (min(v, vmax) / vmax if vmax > 0 else 0)  # noqa: E731
        label = (f"{r.title}（{r.policy_id}）" if r.variant == "base"
                 else "↳ " + str(r.variant).replace("eligibility.", "").replace("benefit.", ""))  # under its policy
        tip = f"{label}：下限 {_money(lo)}，中值 {_money(c)}，上限 {_money(hi)} 万元"
        parts.append(f'<g class="range-row" data-policy="{_e(r.policy_id)}"><title>{_e(tip)}</title>'
                     + _row_label(label_w, y, label, 22))
        if not math.isnan(lo) and not math.isnan(hi):
            start = x(min(lo, 0.85 * vmax)) if max(hi, c) > vmax else x(lo)  # a cut bar shows its last part
            parts.append(f'<rect x="{start:.1f}" y="{y + 4}" width="{max(1.0, x(hi) - start):.1f}" height="{row_h - 10}" '
                         f'fill="{COLOURS["low"]}"/>')
        if not math.isnan(c):
            cut = max(hi if math.isfinite(hi) else np.inf, c) > vmax
            parts.append(f'<rect class="central" x="{x(c) - 1.5:.1f}" y="{y + 1}" width="3" height="{row_h - 4}" '
                         f'fill="{COLOURS["central"]}"/>'
                         + (f'<text x="{x(vmax) - 4:.1f}" y="{y + 15}" font-size="13" fill="#fff">⫽</text>' if cut else "")
                         + f'<text x="{x(hi if math.isfinite(hi) else vmax) + 6:.1f}" y="{y + 14}" font-size="11">'
                         f'{_e(_money(c))}{"（超出刻度）" if cut else ""}</text>')
        parts.append("</g>")
    parts.append(f'<text x="{label_w}" y="{h - 6}" font-size="11" fill="#555">浅色条：资金区间（下限—上限）；深色竖线：中值；单位：万元</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_bars(items: list[tuple[str, float, float]], name: str, width: int = 640, label_w: int = 170,
             legend: tuple[str, str] = ("符合", "待定")) -> str:
    """Stacked horizontal bars (eligible, undetermined) per label."""
    if not items:
        return "<p class='empty'>无</p>"
    vmax = max(a + b for _, a, b in items) or 1.0
    row_h = 20
    h = row_h * len(items) + 28
    plot = width - label_w - 80
    parts = [_svg_open(name, width, h)]
    for i, (label, a, b) in enumerate(items):
        y = i * row_h + 2
        wa, wb = plot * a / vmax, plot * b / vmax
        parts.append(f'<g><title>{_e(label)}：{legend[0]} {_int(a)}，{legend[1]} {_int(b)}</title>'
                     + _row_label(label_w, y, label, 14)
                     + f'<rect x="{label_w}" y="{y + 3}" width="{wa:.1f}" height="{row_h - 6}" fill="{COLOURS["eligible"]}"/>'
                     f'<rect x="{label_w + wa:.1f}" y="{y + 3}" width="{wb:.1f}" height="{row_h - 6}" '
                     f'fill="{COLOURS["undetermined"]}"/>'
                     f'<text x="{label_w + wa + wb + 4:.1f}" y="{y + 14}" font-size="11">{_int(a)} / {_int(b)}</text></g>')
    parts.append(f'<text x="{label_w}" y="{h - 6}" font-size="11" fill="#555">绿色：{legend[0]}；黄色：{legend[1]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_curve(sweep: pd.DataFrame, series: list[tuple[str, str, str]], name: str, y_label: str,
              band: tuple[str, str] | None = None, width: int = 560, height: int = 260) -> str:
    """Values of a sweep on the x axis (numbers to scale, else in order), one line per series, an optional band."""
    s = sweep.sort_values("x", kind="stable") if sweep["x"].notna().all() else sweep
    numeric = s["x"].notna().all() and s["x"].nunique() > 1
    xs = s["x"].to_numpy(float) if numeric else np.arange(len(s), dtype=float)
    left, right, top, bottom = 70, 20, 20, 50
    pw, ph = width - left - right, height - top - bottom
    cols = [c for c, _, _ in series] + (list(band) if band else [])
    vals = s[cols].to_numpy(float)
    vals = vals[np.isfinite(vals)]
    ymax = float(vals.max()) if vals.size else 1.0
    ymax = ymax * 1.05 if ymax > 0 else 1.0
    x0, x1 = float(xs.min()), float(xs.max())
    span = (x1 - x0) or 1.0

    def px(v: float) -> float:
        return left + pw * ((v - x0) / span if numeric else (v + 0.5) / max(len(s), 1))

    def py(v: float) -> float:
        return top + ph * (1 - min(v, ymax) / ymax)

    parts = [_svg_open(name, width, height, "chart curve"),
             f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#999"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#999"/>']
    for k in range(5):
        v = ymax * k / 4
        parts.append(f'<text x="{left - 6}" y="{py(v) + 4:.1f}" text-anchor="end" font-size="10">{_e(_money(v) if ymax > 50 else f"{v:.2f}")}</text>')
    for i, r in enumerate(s.itertuples(index=False)):
        bold = ' font-weight="bold"' if r.current else ""
        parts.append(f'<text x="{px(xs[i]):.1f}" y="{top + ph + 16}" text-anchor="middle" font-size="10"{bold}>'
                     f'{_e(_short(str(r.value), 10))}</text>')
    if band:
        lo, hi = s[band[0]].to_numpy(float), s[band[1]].to_numpy(float)
        if np.isfinite(lo).all() and np.isfinite(hi).all():
            pts = [f"{px(x):.1f},{py(v):.1f}" for x, v in zip(xs, hi, strict=True)] + \
                  [f"{px(x):.1f},{py(v):.1f}" for x, v in zip(xs[::-1], lo[::-1], strict=True)]
            parts.append(f'<polygon class="band" points="{" ".join(pts)}" fill="{COLOURS["low"]}" opacity="0.5"/>')
    for col, label, colour in series:
        v = s[col].to_numpy(float)
        ok = np.isfinite(v)
        pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs[ok], v[ok], strict=True))
        parts.append(f'<polyline class="series" data-series="{_e(col)}" points="{pts}" fill="none" stroke="{colour}" '
                     f'stroke-width="2"/>')
        for x, y, cur in zip(xs[ok], v[ok], s["current"].to_numpy(bool)[ok], strict=True):
            parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="{4 if cur else 3}" fill="{colour}">'
                         f'<title>{_e(label)}：{_e(_money(y) if "payout" in col else _int(y))}</title></circle>')
    legend = "；".join(f"{label}" for _, label, _ in series) + ("；浅色带：资金区间" if band else "")
    parts.append(f'<text x="{left}" y="{height - 8}" font-size="11" fill="#555">{_e(y_label)}（{_e(legend)}；粗体为现行值）</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_stages(dep: pd.DataFrame, width: int = 760, label_w: int = 200) -> str:
    """Per department: mean days of 申报, 审核, 拨付 stacked (medians shown in the table)."""
    if dep.empty:
        return "<p class='empty'>无</p>"
    cols = ["apply_median_days", "review_median_days", "pay_median_days"]
    d = dep.copy()
    d[cols] = d[cols].fillna(0.0)
    vmax = float(d[cols].sum(axis=1).max()) or 1.0
    row_h = 20
    h = row_h * len(d) + 28
    plot = width - label_w - 80
    parts = [_svg_open("lead-times", width, h)]
    for i, r in enumerate(d.itertuples(index=False)):
        y = i * row_h + 2
        x = label_w
        parts.append(f'<g><title>{_e(r.department)}：申报 {r.apply_median_days:.0f} 天，审核 {r.review_median_days:.0f} 天，'
                     f'拨付 {r.pay_median_days:.0f} 天（中位数）</title>'
                     + _row_label(label_w, y, str(r.department), 14))
        for col, key in zip(cols, ("apply", "review", "pay"), strict=True):
            w = plot * float(getattr(r, col)) / vmax
            parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{COLOURS[key]}"/>')
            x += w
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 14}" font-size="11">{_e(r.slowest_stage)}</text></g>')
    parts.append(f'<text x="{label_w}" y="{h - 6}" font-size="11" fill="#555">紫：申报（符合→申请）；橙：审核（申请→批准）；青：拨付（批准→到账）；天数为中位数</text>')
    parts.append("</svg>")
    return "".join(parts)


# --- HTML --------------------------------------------------------------------------------------------------

_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",system-ui,sans-serif;margin:2em;color:#222;
max-width:1100px}h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}h3{font-size:1.05em}
table{border-collapse:collapse;font-size:13px;margin:.5em 0}th,td{border:1px solid #ddd;padding:3px 7px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f6f8}.note{color:#555;font-size:13px}
.method{background:#f7f9fb;border:1px solid #dde3ea;padding:.6em 1em;font-size:13px}.grid{display:flex;flex-wrap:wrap;gap:1.5em}
.empty{color:#888}
"""


def _table(df: pd.DataFrame, cols: list[tuple[str, str, str]], tid: str) -> str:
    """``cols``: (column, header, kind) with kind text | int | money | pct."""
    head = "".join(f"<th>{_e(h)}</th>" for _, h, _ in cols)
    body = []
    for r in df.itertuples(index=False):
        cells = []
        for c, _, kind in cols:
            v = getattr(r, c)
            if kind == "int":
                cells.append(f"<td class='n'>{_int(v)}</td>")
            elif kind == "money":
                cells.append(f"<td class='n'>{_money(v)}</td>")
            elif kind == "pct":
                cells.append(f"<td class='n'>{'—' if v is None or pd.isna(v) else f'{100 * float(v):.0f}%'}</td>")
            elif kind == "days":
                cells.append(f"<td class='n'>{'—' if v is None or pd.isna(v) else f'{float(v):.0f}'}</td>")
            else:
                cells.append(f"<td>{_e(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table id='{tid}'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(result) -> str:
    m = result.meta
    ov = shown_rows(result)
    ov = ov.assign(mode_zh=ov["mode"].map(MODE_ZH).fillna(ov["mode"]), in_force_zh=ov["status"],
                   variant_zh=np.where(ov["variant"] == "base", "原文", ov["variant"]))
    meth = method_text(result)
    titles = result.policies.drop_duplicates("policy_id").set_index("policy_id")["title"]
    out = ["<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
           f"<title>政策仿真与资金测算 {m['as_of']}</title><style>{_CSS}</style></head><body>",
           f"<h1>政策仿真与资金测算（数据截至 {_e(m['as_of'])}）</h1>",
           f"<p class='note' id='scope'>企业 {m['enterprises']:,} 家；政策 {m['policies']:,} 项，阈值变体 {m['variants']:,} 个；"
           f"现行政策 {m['in_force_policies']:,} 项；金额单位：万元。</p>",
           "<div class='method' id='method'>" + "".join(f"<p>{_e(t)}</p>" for t in meth.values()) + "</div>",
           "<h2 id='overview'>一、符合企业与资金测算</h2>",
           svg_range(ov.head(30)),
           _table(ov, [("policy_id", "政策编号", "text"), ("title", "政策名称", "text"), ("department", "主管部门", "text"),
                       ("mode_zh", "兑现方式", "text"), ("in_force_zh", "状态", "text"), ("variant_zh", "方案", "text"),
                       ("eligible", "符合", "int"), ("undetermined", "待定", "int"), ("ineligible", "不符合", "int"),
                       ("payout_low", "资金下限", "money"), ("payout_central", "资金中值", "money"),
                       ("payout_sd", "±", "money"), ("payout_high", "资金上限", "money")], "summary")]
    if len(result.summary[result.summary["variant"] == "base"]) > len(ov[ov["variant"] == "base"]):
        out.append(f"<p class='note'>上表列出资金中值最大的 {TOP_POLICIES} 项及阈值测算涉及的政策；全部结果见 simulation.csv。</p>")
    # sweeps
    out.append("<h2 id='sweeps'>二、阈值测算</h2>")
    if result.sweeps.empty:
        out.append("<p class='empty'>本次未做阈值测算（--vary）。</p>")
    for i, s in result.sweeps.groupby("sweep", sort=True):
        f = s.iloc[0]
        unit = f"（{f['unit']}）" if isinstance(f["unit"], str) and f["unit"] else ""
        out.append(f"<section class='sweep' data-policy='{_e(f['policy_id'])}'><h3>{_e(titles.get(f['policy_id'], ''))}（{_e(f['policy_id'])}）："
                   f"{_e(f['label'])}{_e(unit)} <span class='note'>{_e(f['path'])}</span></h3><div class='grid'>"
                   + svg_curve(s, [("eligible", "符合企业", COLOURS["eligible"]),
                                   ("undetermined", "待定企业", COLOURS["undetermined"])], f"sweep-{i}-enterprises", "企业数")
                   + svg_curve(s, [("payout_central", "资金中值", COLOURS["central"])], f"sweep-{i}-payout", "资金（万元）",
                               band=("payout_low", "payout_high"))
                   + "</div>"
                   + _table(s.assign(cur=np.where(s["current"], "现行值", "")),
                            [("value", "取值", "text"), ("cur", "", "text"), ("eligible", "符合", "int"),
                             ("undetermined", "待定", "int"), ("ineligible", "不符合", "int"), ("payout_low", "资金下限", "money"),
                             ("payout_central", "资金中值", "money"), ("payout_high", "资金上限", "money")], f"sweep-{i}")
                   + "</section>")
    # breakdowns
    out.append("<h2 id='breakdown'>三、符合企业分布</h2>")
    b = result.breakdown
    for pid in focus_policies(result):
        sub = b[(b["policy_id"] == pid) & (b["variant"] == "base")]
        if sub.empty:
            continue
        out.append(f"<section class='breakdown' data-policy='{_e(pid)}'><h3>{_e(titles.get(pid, ''))}（{_e(pid)}）</h3><div class='grid'>")
        for dim in ("district", "section", "size", "chain"):
            d = sub[sub["dimension"] == dim].sort_values(["eligible", "undetermined"], ascending=False, kind="stable").head(15)
            items = [(str(r.label), float(r.eligible), float(r.undetermined)) for r in d.itertuples(index=False)]
            out.append(f"<div><h4>按{DIM_ZH[dim]}</h4>{svg_bars(items, f'{pid}-{dim}')}</div>")
        out.append("</div></section>")
    # overlap
    out.append("<h2 id='overlap'>四、与现行政策的重叠（重复享受）</h2>")
    pol = result.policies[result.policies["policy_id"].astype(str).isin(focus_policies(result))]
    out.append(_table(pol.assign(title=pol["title"]), [
        ("policy_id", "政策编号", "text"), ("title", "政策名称", "text"), ("variant", "方案", "text"),
        ("overlap_same_kind", "同类现行政策也符合的企业", "int"), ("overlap_same_kind_payout", "其资金（中值）", "money"),
        ("granted_same_kind", "已获同类政策资金", "int"),
        ("exclusive_group", "互斥组", "text")], "overlap-summary"))
    ovp = result.overlap[result.overlap["policy_id"].astype(str).isin(focus_policies(result))]
    out.append(_table(ovp, [("policy_id", "政策编号", "text"), ("variant", "方案", "text"), ("other_policy_id", "现行政策", "text"),
                            ("other_title", "名称", "text"), ("other_department", "部门", "text"),
                            ("both_eligible", "共同符合企业", "int"), ("share_of_eligible", "占本政策符合企业", "pct"),
                            ("exclusive_group", "互斥组", "text")], "overlap-partners"))
    # lead times
    out.append("<h2 id='lead-times'>五、兑现效率（从符合到资金到账）</h2>")
    dep = result.lead_times_department
    if dep.empty:
        out.append("<p class='empty'>资金发放记录未含各环节日期（grants.csv 的 eligible_on、applied_on、approved_on、paid_on），无法测算。</p>")
    else:
        out.append(svg_stages(dep))
        out.append(_table(dep, [("department", "部门", "text"), ("grants", "兑现笔数", "int"), ("paid", "已到账", "int"),
                                ("median_days", "中位天数", "days"), ("p90_days", "90%分位天数", "days"),
                                ("apply_median_days", "申报", "days"), ("review_median_days", "审核", "days"),
                                ("pay_median_days", "拨付", "days"), ("slowest_stage", "耗时最多环节", "text"),
                                ("slowest_stage_share", "占比", "pct"), ("unpaid", "已批未付", "int"),
                                ("unpaid_median_wait_days", "已等待（中位天数）", "days")], "lead-times-department"))
    # undetermined
    out.append("<h2 id='missing-data'>六、待定企业缺少的数据（补齐后可确定的资金最多的）</h2>")
    u = top_undetermined(result).assign(title=lambda d: d["policy_id"].map(titles))
    out.append(_table(u, [("policy_id", "政策编号", "text"), ("title", "政策名称", "text"), ("unknown", "缺少的数据项", "text"),
                          ("pairs", "待定企业", "int"), ("rate", "估计符合率", "pct"), ("payout_central", "资金中值", "money"),
                          ("payout_high", "全部符合时", "money")], "missing-data-table"))
    out.append(f"<p class='note'>政策库版本 {_e(m['book_version'])}；估计方法 {_e(m['estimator'])}；抽样 {m['sample_rows']:,} 家企业用于符合率估计；"
               f"由 quanhuiqi policy simulate 生成。</p></body></html>\n")
    return "".join(out)


# --- files -------------------------------------------------------------------------------------------------

FILES = {"summary": "simulation.csv", "policies": "policies.csv", "breakdown": "breakdown.csv",
         "undetermined": "undetermined.csv", "sweeps": "sweeps.csv", "overlap": "overlap.csv",
         "lead_times": "lead_times.csv", "lead_times_department": "lead_times_department.csv",
         "estimates": "estimates.csv", "rejects": "rejects.csv"}


def write_outputs(result, out_dir: Path) -> dict[str, Path]:
    """Every file into a staging folder first, then moved into ``out_dir``: a failure leaves no partial output."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".staging-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    done: dict[str, Path] = {}
    try:
        for attr, name in FILES.items():
            df = getattr(result, attr)
            if df is None:
                continue
            write_table(df, staging / name)
            done[attr] = out_dir / name
        text = json.dumps(to_json(result), ensure_ascii=False, indent=1)
        atomic_write(staging / "simulation.json", lambda p: p.write_text(text, encoding="utf-8"))
        page = render_html(result)
        atomic_write(staging / "report.html", lambda p: p.write_text(page, encoding="utf-8"))
        done["json"], done["html"] = out_dir / "simulation.json", out_dir / "report.html"
        for f in staging.iterdir():
            os.replace(f, out_dir / f.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return done
