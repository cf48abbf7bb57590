"""The readiness page: one self-contained HTML file, charts as inline SVG (no script, no external asset),
Chinese labels — policy titles and departments beside ids, the department and system of each source.

Only counts, policy ids and source names appear: never an enterprise.
"""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

from quanhuiqi.policy.readiness.counts import Readiness, ranking_text_zh

MODE_NAMES = {"auto": "免申即享", "instant": "即申即享", "apply": "申报"}
MODE_COLOURS = {"auto": "#1b7f3b", "instant": "#2e86c1", "apply": "#9aa5b1"}
# the parts of a policy's enterprises: decided (eligible / ineligible), then what the undetermined rest needs
SHARE_PARTS = [
    ("eligible", "可证明符合", "#1b7f3b"),
    ("ineligible", "可证明不符合", "#b8c2cc"),
    ("one_source_decides", "一个来源即可判定", "#2e86c1"),
    ("several_sources", "需多个来源", "#85c1e9"),
    ("unless_partial", "行业小类可能只部分属于目录", "#f5b7b1"),
    ("needs_declaration", "需企业声明", "#e67e22"),
    ("unsettleable", "须人工核定", "#c0392b"),
]

_CSS = """
body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:.5em 0}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f4f6f8}td.n{text-align:right;font-variant-numeric:tabular-nums}.note{color:#555;font-size:13px}
.legend span{display:inline-block;margin-right:1.2em;font-size:12px}.legend i{display:inline-block;width:10px;
height:10px;margin-right:4px;vertical-align:middle}.empty{color:#888}
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None or (isinstance(x, float) and math.isnan(x)) else str(x))


def _n(x: Any, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{float(x):,.{digits}f}"


def _short(text: str, n: int = 30) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _legend(items: list[tuple[str, str]]) -> str:
    return "<p class='legend'>" + "".join(f"<span><i style='background:{c}'></i>{_e(t)}</span>" for t, c in items) + "</p>"


def _stacked_chart(chart: str, row_class: str, rows: list[dict], width: int, row_h: int, pad: int) -> str:
    """Horizontal stacked bars as inline SVG.  Each row: ``label``, ``tip`` (hover text), ``parts`` —
    (css class, name, colour, value) — scaled by the row's ``total`` (a 100 % bar) or else by the largest row
    sum, a ``tail`` text after the bar, and an optional ``mark`` (value, name) drawn as a black line."""
    label_w = 330
    bar_w = width - label_w - pad
    vmax = max([1.0] + [sum(v for *_, v in r["parts"]) for r in rows])
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{row_h * len(rows) + 6}" role="img" '
           f'data-chart="{chart}">']
    for i, r in enumerate(rows):
        y = i * row_h + 3
        scale = bar_w / (r.get("total") or vmax)
        out.append(f'<g class="{row_class}"><text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12">'
                   f'<title>{_e(r["tip"])}</title>{_e(_short(r["label"], 25))}</text>')
        x = float(label_w)
        for cls, name, colour, v in r["parts"]:
            w = scale * float(v)
            if w > 0:
                out.append(f'<rect class="{cls}" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 9}" '
                           f'fill="{colour}"><title>{_e(name)} {float(v):,.0f}</title></rect>')
            x += w
        mark = r.get("mark")
        if mark is not None:
            xm = label_w + scale * mark[0]
            out.append(f'<line class="eligible-mark" x1="{xm:.1f}" x2="{xm:.1f}" y1="{y}" y2="{y + row_h - 3}" '
                       f'stroke="#111" stroke-width="2"><title>{_e(mark[1])} {mark[0]:,.0f}</title></line>')
        tail_x = label_w + bar_w + 4 if r.get("total") else x + 4
        out.append(f'<text x="{tail_x:.1f}" y="{y + 14}" font-size="11">{_e(r["tail"])}</text></g>')
    out.append("</svg>")
    return "".join(out)


def actions_svg(actions: pd.DataFrame, top: int = 15, width: int = 900) -> str:
    """Decided pairs per action, stacked by the policies' mode, with the estimated eligible pairs marked."""
    a = actions.head(top)
    if not len(a):
        return "<p class='empty'>没有可由数据共享判定的待定配对</p>"
    rows = []
    for r in a.itertuples(index=False):
        label = f"{r.rank}. {r.departments}：{r.systems}"
        est = r.eligible_est
        rows.append({
            "label": label, "tip": label, "tail": f"{int(r.decided_pairs):,}",
            "parts": [(f"mode-{m}", MODE_NAMES[m], MODE_COLOURS[m], getattr(r, f"decided_{m}"))
                      for m in ("auto", "instant", "apply")],
            "mark": None if est is None or (isinstance(est, float) and math.isnan(est)) else (float(est), "估计符合"),
        })  # fmt: skip
    return _stacked_chart("actions", "action-row", rows, width, row_h=26, pad=110)


def shares_svg(policies: pd.DataFrame, width: int = 900) -> str:
    """Each policy's enterprises as a 100 % bar: decided, and what the undetermined rest waits on."""
    if not len(policies):
        return "<p class='empty'>没有政策</p>"
    p = policies.assign(several_sources=policies["all_data_decides"] - policies["one_source_decides"])
    rows = [{"label": f"{r.title}（{r.policy_id}）", "tip": f"{r.title}（{r.policy_id}） {r.department}",
             "parts": [(f"part-{col}", name, colour, getattr(r, col)) for col, name, colour in SHARE_PARTS],
             "total": max(1, int(r.evaluated)), "tail": f"{r.decided_share:.0%}"} for r in p.itertuples(index=False)]
    return _stacked_chart("decided-share", "share-row", rows, width, row_h=22, pad=60)


def _table(df: pd.DataFrame, columns: list[tuple[str, str, str]]) -> str:
    """``columns``: (column, header, kind) with kind ``t`` text, ``n`` count, ``p`` share, ``f`` estimate."""
    head = "".join(f"<th>{_e(h)}</th>" for _, h, _ in columns)
    body = []
    for r in df.to_dict("records"):
        cells = []
        for c, _, kind in columns:
            v = r.get(c)
            if kind == "t":
                cells.append(f"<td>{_e(v)}</td>")
            elif kind == "p":
                cells.append(f"<td class='n'>{'—' if v is None or pd.isna(v) else f'{float(v):.1%}'}</td>")
            else:
                cells.append(f"<td class='n'>{_n(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def render_readiness_html(r: Readiness, top: int = 15) -> str:
    """The readiness report as one HTML page."""
    s = r.summary
    src = r.sources.set_index("source")
    a = r.actions.copy()
    if len(a):
        a["range"] = [f"{_n(lo)}–{_n(hi)}" for lo, hi in zip(a["eligible_low"], a["eligible_high"], strict=True)]
    pol = r.policies.copy()
    pol["best"] = src["label"].reindex(pol["best_source"]).to_numpy()
    out = [
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>免申即享就绪度 {_e(s.get('as_of', ''))}</title><style>{_CSS}</style></head><body>",
        f"<h1>免申即享就绪度（数据截至 {_e(s.get('as_of', ''))}）</h1>",
        "<p class='note'>每项政策：数据能判定（可证明符合或不符合）的企业占比，以及待定的企业缺哪些事实、这些事实由哪个部门的哪个系统掌握。"
        "数据共享行动按下文的排名方法排序。</p>",
        "<h2>概况</h2>",
        _table(pd.DataFrame([{
            "k": "企业", "v": s["enterprises"]}, {"k": "有效政策", "v": s["active_policies"]},
            {"k": "企业×政策配对", "v": s["pairs_evaluated"]}, {"k": "可证明符合", "v": s["eligible"]},
            {"k": "待定", "v": s["undetermined"]}, {"k": "其中一个来源即可判定", "v": s["one_source_decides"]},
            {"k": "其中数据共享可判定", "v": s["all_data_decides"]}, {"k": "其中需企业声明", "v": s["needs_declaration"]},
            {"k": "其中须人工核定", "v": s["unsettleable"]}]), [("k", "项目", "t"), ("v", "数量", "n")]),
        f"<p>已判定占比 <b>{s['decided_share']:.1%}</b>。</p>",
        "<h2>数据共享行动排名</h2>",
        _legend([(MODE_NAMES[m], MODE_COLOURS[m]) for m in ("auto", "instant", "apply")] + [("估计符合（黑线）", "#111")]),
        actions_svg(a, top),
        _table(a.head(top), [("rank", "名次", "n"), ("systems", "数据系统", "t"), ("departments", "部门", "t"),
                             ("score", "得分", "n"), ("decided_pairs", "新判定配对", "n"),
                             ("decided_auto", "免申即享", "n"), ("decided_instant", "即申即享", "n"),
                             ("decided_apply", "申报", "n"), ("enterprises", "涉及企业", "n"),
                             ("eligible_est", "估计符合", "n"), ("range", "90%区间", "t"),
                             ("top_policies", "受益最多的政策", "t")]),
        f"<p class='note'>排名方法：{_e(ranking_text_zh(s.get('weights', {})))}</p>",
        "<h2>免申即享政策的已判定占比</h2>",
        _legend([(name, colour) for _, name, colour in SHARE_PARTS]),
        shares_svg(pol[pol["mode"] == "auto"]),
        "<h2>各政策：已判定占比与最能判定待定配对的来源</h2>",
        _table(pol.sort_values(["mode", "decided_share"], kind="stable"),
               [("policy_id", "政策", "t"), ("title", "名称", "t"), ("department", "部门", "t"),
                ("mode", "方式", "t"), ("evaluated", "企业", "n"), ("eligible", "符合", "n"),
                ("undetermined", "待定", "n"), ("decided_share", "已判定", "p"), ("best", "最佳来源", "t"),
                ("best_source_decides", "可判定", "n"), ("best_source_eligible_est", "估计符合", "n"),
                ("needs_declaration", "需声明", "n"), ("decided_share_all_data", "数据全部共享后", "p")]),
        "<h2>数据来源</h2>",
        _table(r.sources[r.sources["pairs_waiting"] > 0] if (r.sources["pairs_waiting"] > 0).any() else r.sources,
               [("system", "数据系统", "t"), ("department", "部门", "t"), ("kind", "类别", "t"),
                ("facts", "掌握的事实", "t"), ("pairs_waiting", "等待它的待定配对", "n")]),
        "<h2>估计方法</h2>",
        "<p class='note'>“估计符合”：对每组（政策、缺失事实）的待定配对，取已掌握这些事实、且隐去这些事实后在该政策上处于同样"
        "待定状态的企业（可比企业），以其中符合的比例乘以配对数；区间为约 90% 的不确定范围，没有可比企业的配对计为 0 至全部。"
        f"{'本次未作估计。' if not s.get('estimated') else ''}</p>",
        "</body></html>\n",
    ]
    return "".join(out)
