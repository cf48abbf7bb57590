"""The run report: what was read, rejected, computed and written, as JSON and one self-contained HTML page.

The HTML page carries its charts as inline SVG (no script, no external asset), so it can be
mailed or archived as one file.  Only counts and identifiers of policies and districts appear:
never an enterprise's record.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd


def ranked(counter: dict[str, int], top: int | None = None) -> dict[str, int]:
    """Counts largest first then by key (deterministic), the ``top`` first ones."""
    items = sorted(((str(k), int(n)) for k, n in counter.items()), key=lambda kv: (-kv[1], kv[0]))
    return dict(items[:top] if top is not None else items)


def counts(s: pd.Series, top: int | None = None) -> dict[str, int]:
    """Value counts as a plain dict, largest first then by key (deterministic)."""
    return ranked(s.astype("string").fillna("(unknown)").value_counts().to_dict(), top)


def changes_vs_previous(today: pd.DataFrame, previous: pd.DataFrame | None, previous_date: str | None) -> dict[str, Any]:
    """Pairs pushed today that were not pushed on the previous day, and the reverse."""
    if previous is None:
        return {"previous_date": previous_date, "available": False}
    t = set(zip(today["uscc"].astype(str), today["policy_id"].astype(str)))
    p = set(zip(previous["uscc"].astype(str), previous["policy_id"].astype(str)))
    tp = today.groupby("policy_id").size()
    pp = previous.groupby("policy_id").size()
    delta = tp.sub(pp, fill_value=0).astype(int)
    delta = delta[delta != 0]
    delta_df = pd.DataFrame({"k": delta.index.astype(str), "n": delta.to_numpy()})
    delta_df = delta_df.assign(a=delta_df["n"].abs()).sort_values(["a", "k"], ascending=[False, True]).head(20)
    return {
        "previous_date": previous_date,
        "available": True,
        "pushed_today": len(t),
        "pushed_previous": len(p),
        "new_pairs": len(t - p),
        "dropped_pairs": len(p - t),
        "enterprises_today": int(today["uscc"].nunique()),
        "enterprises_previous": int(previous["uscc"].nunique()),
        "per_policy_delta": {str(k): int(n) for k, n in zip(delta_df["k"], delta_df["n"])},
    }


# --- HTML ------------------------------------------------------------------------------------------


def _bar_svg(data: dict[str, float], unit: str = "", width: int = 640) -> str:
    """A horizontal bar chart as inline SVG."""
    if not data:
        return '<p class="empty">none</p>'
    row_h, label_w, pad = 20, 200, 60
    items = list(data.items())
    vmax = max(abs(float(v)) for _, v in items) or 1.0
    bar_w = width - label_w - pad
    h = row_h * len(items) + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img">']
    for i, (label, value) in enumerate(items):
        y = i * row_h + 2
        w = max(1.0, bar_w * abs(float(value)) / vmax)
        colour = "#c0392b" if float(value) < 0 else "#2e86c1"
        text = html.escape(str(label))
        short = text if len(text) <= 28 else text[:27] + "…"
        v = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12"><title>{text}</title>{short}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row_h - 6}" fill="{colour}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 14}" font-size="11">{html.escape(v)}{unit}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _kv_table(d: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in d.items()
    )
    return f"<table>{rows}</table>"


_CSS = """
body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222;max-width:1000px}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f4f6f8}.warn{background:#fdecea;border:1px solid #c0392b;padding:.6em;margin:1em 0}
.grid{display:flex;flex-wrap:wrap;gap:2em}.empty{color:#888}
"""


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page with inline SVG charts."""
    r = report
    out = [
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>quanhuiqi daily push {html.escape(r['date'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>泉惠企 daily push — {html.escape(r['date'])}</h1>",
    ]
    for w in r.get("warnings", []):
        out.append(f"<div class='warn'>{html.escape(w)}</div>")
    out.append("<h2>Summary</h2>" + _kv_table(r["summary"]))
    out.append("<h2>Model</h2>" + _kv_table(r["model"]))
    out.append("<h2>Inputs read</h2>")
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v.get('path')))}</td><td>{v.get('rows', '')}</td>"
        f"<td>{v.get('clean', '')}</td><td>{v.get('rows_rejected', '')}</td><td><code>{str(v.get('sha256', ''))[:12]}</code></td></tr>"
        for k, v in r["inputs"].items()
    )
    out.append(
        "<table><tr><th>table</th><th>file</th><th>rows</th><th>clean</th><th>rows rejected</th><th>sha256</th></tr>"
        + rows
        + "</table>"
    )
    sections = [
        ("Pushed per policy (top 30)", r["push"]["per_policy"]),
        ("Pushed per district", r["push"]["per_district"]),
        ("Pushed per verdict", r["push"]["per_verdict"]),
        ("Pushed per mode", r["push"]["per_mode"]),
        ("Eligible pairs held back, by rule", r["push"]["held_back_by_rule"]),
        ("Candidates per verdict", r["eligibility"]["per_verdict"]),
        ("免申即享 per policy (top 30)", r["auto_grant"]["per_policy"]),
        ("Near misses per policy (top 30)", r["near_miss"]["per_policy"]),
        ("Rejects by reason", r["rejects"]["by_reason"]),
    ]
    for title, data in sections:
        out.append(f"<h2>{html.escape(title)}</h2>" + _bar_svg(data))
    if r.get("readiness"):
        out.append(_readiness_html(r["readiness"]))
    ch = r["changes_vs_previous"]
    out.append("<h2>Changes vs the previous day</h2>")
    if ch.get("available"):
        out.append(_kv_table({k: v for k, v in ch.items() if k != "per_policy_delta"}))
        out.append("<h3>Per-policy change in pushes</h3>" + _bar_svg(ch["per_policy_delta"]))
    else:
        out.append(f"<p class='empty'>no outputs for {html.escape(str(ch.get('previous_date')))}</p>")
    a = r.get("appeals")
    if a:
        out.append("<h2>Enterprise appeals (涉企诉求)</h2>" + _kv_table(
            {k: a[k] for k in ("rows", "clean", "rows_rejected", "cases", "new_appeals", "new_cases", "calendar")}
            | {"model": a["model"].get("used") or "none (人工分拨)", "dispatch": a["dispatch"], "triage": a["triage"]}))
        out.append("<h3>New appeals per department</h3>" + _bar_svg(a["new_per_department"]))
        out.append("<h3>At risk of the 2110 limits, per department</h3>" + _bar_svg(a["at_risk_per_department"]))
        out.append("<h3>Overdue, per department</h3>" + _bar_svg(a["overdue_per_department"]))
    out.append("<h2>Timings per stage (seconds)</h2>" + _bar_svg(r["timings_s"], " s"))
    out.append("<h2>Outputs written</h2>" + _kv_table({k: v for k, v in r["outputs"].items()}))
    out.append("</body></html>\n")
    return "".join(out)


def _readiness_html(rd: dict[str, Any]) -> str:
    """免申即享 readiness: the decided share, the top data-sharing actions and each auto policy's share."""
    actions = {f"{a['rank']}. {a['departments']}：{a['systems']}": a["decided_pairs"] for a in rd["actions"]}
    shares = {f"{p['title']}（{p['policy_id']}）": round(100 * p["decided_share"], 1) for p in rd["auto_policies"]}
    head = {"已判定占比": f"{rd['decided_share']:.1%}", "待定配对": rd["undetermined"],
            "数据共享可判定": rd["all_data_decides"], "一个来源即可判定": rd["one_source_decides"],
            "需企业声明": rd["needs_declaration"], "须人工核定": rd["unsettleable"]}
    rows = "".join(
        f"<tr><td>{a['rank']}</td><td>{html.escape(a['systems'])}</td><td>{html.escape(a['departments'])}</td>"
        f"<td>{a['decided_pairs']:,}</td><td>{a['decided_auto']:,}</td><td>{a['decided_instant']:,}</td>"
        f"<td>{a['decided_apply']:,}</td><td>{a['enterprises']:,}</td></tr>" for a in rd["actions"])
    return (
        "<section id='readiness'><h2>免申即享就绪度 (readiness)</h2>" + _kv_table(head)
        + "<h3>数据共享行动（新判定的待定配对）</h3><div data-chart='readiness-actions'>" + _bar_svg(actions) + "</div>"
        + "<table><tr><th>名次</th><th>数据系统</th><th>部门</th><th>新判定配对</th><th>免申即享</th><th>即申即享</th>"
        + f"<th>申报</th><th>涉及企业</th></tr>{rows}</table>"
        + f"<p class='empty'>{html.escape(rd['ranking'])}</p>"
        + "<h3>免申即享政策的已判定占比</h3><div data-chart='readiness-auto'>" + _bar_svg(shares, "%") + "</div>"
        + "</section>"
    )
