"""The weekly analysis report of appeals (诉求分析周报): rising issues, heat, affected segments, policy links,
department response times and reply quality — as one JSON document and the same content as HTML (inline SVG
charts, no script, no external resource).

Privacy: every text shown is masked (labels come from masked text); an issue with fewer than
``MIN_ENTERPRISES`` distinct enterprises shows no enterprise-identifying detail — no representative title
(key terms only), no affected segments, no district or industry — and segment rows (category × district ×
industry) with fewer distinct enterprises are folded into "其他".
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MIN_ENTERPRISES = 3
TOP = 15
REPLY_DAYS = 28  # replies given in the last four weeks are scored


def week_bounds(day) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(Monday 00:00, next Monday 00:00) of the ISO week holding ``day``."""
    d = pd.Timestamp(day).normalize()
    start = d - pd.Timedelta(days=int(d.day_of_week))
    return start, start + pd.Timedelta(days=7)


def _names() -> dict[str, dict[str, str]]:
    from quanhuiqi.reference.districts import jinan_districts

    sections = {"A": "农林牧渔业", "B": "采矿业", "C": "制造业", "D": "电力热力燃气及水生产和供应业", "E": "建筑业",
                "F": "批发和零售业", "G": "交通运输仓储和邮政业", "H": "住宿和餐饮业", "I": "信息传输软件和信息技术服务业",
                "J": "金融业", "K": "房地产业", "L": "租赁和商务服务业", "M": "科学研究和技术服务业",
                "N": "水利环境和公共设施管理业", "O": "居民服务修理和其他服务业", "P": "教育", "Q": "卫生和社会工作",
                "R": "文化体育和娱乐业", "S": "公共管理社会保障和社会组织", "T": "国际组织"}
    sizes = {"micro": "微型", "small": "小型", "medium": "中型", "large": "大型"}
    from quanhuiqi.profile.chains import CHAIN_NAMES_ZH

    d = jinan_districts()
    districts = ({c: (n[:-3] if len(n) > 6 else n) for c, n in zip(d["code"], d["name"])}
                 | {"370176": "高新区", "370100": "济南市（区县不详）"})
    return {"industry_section": sections, "district_code": districts, "size_class": sizes,
            "chains": dict(CHAIN_NAMES_ZH)}


def build_report(clean: pd.DataFrame, grouped: pd.DataFrame, state, week, profiles: pd.DataFrame | None = None,
                 policies: pd.DataFrame | None = None, clock=None) -> dict[str, Any]:
    """The report's content (JSON-able) for the ISO week holding ``week``.

    ``clean`` are validated appeals (all days up to the week's end: the history the trends need),
    ``grouped`` their issues (:func:`~quanhuiqi.appeals.issues.group_appeals`), ``state`` the issue state,
    ``profiles`` enterprise profiles (``uscc``, ``industry_section``, ``district_code``, ``size_class``,
    ``chains``), ``policies`` :func:`~quanhuiqi.appeals.insight.policy_table`, ``clock`` a
    :class:`~quanhuiqi.appeals.clock.ClockResult` at the week's end."""
    from quanhuiqi.appeals.insight import (
        affected_segments,
        affected_summary,
        policy_appeal_counts,
        policy_links,
        reply_quality,
    )
    from quanhuiqi.appeals.issues import issue_table
    from quanhuiqi.appeals.trends import burst_episodes, detect_bursts, heat_from_appeals, issue_daily

    start, end = week_bounds(week)
    last_day = end - pd.Timedelta(days=1)
    names = _names()
    a = clean[clean["received_at"] < end].copy()
    g = grouped.set_index("appeal_id").reindex(a["appeal_id"].astype("string"))
    a["issue_id"] = g["issue_id"].to_numpy()
    if profiles is not None and len(profiles):
        sec = profiles.drop_duplicates("uscc").set_index(profiles.drop_duplicates("uscc")["uscc"].astype("string"))
        a["industry_section"] = sec["industry_section"].reindex(a["uscc"].astype("string")).to_numpy() \
            if "industry_section" in sec.columns else pd.NA
    else:
        a["industry_section"] = pd.NA
    in_week = (a["received_at"] >= start).to_numpy()
    prev_week = ((a["received_at"] >= start - pd.Timedelta(days=7)) & (a["received_at"] < start)).to_numpy()

    # issues: heat over the week (volume, breadth, growth, support apart), labels, privacy
    heat = heat_from_appeals(a, last_day, "issue_id", recent=7, before=28)
    issues = issue_table(state, heat["issue_id"])[["issue_id", "founded_on", "key_terms", "title", "label"]]
    heat = heat.merge(issues, on="issue_id", how="left")
    small = heat["enterprises"].fillna(0).to_numpy() < MIN_ENTERPRISES
    heat["title"] = heat["title"].where(~small, None)
    heat["label"] = heat["label"].where(~small, heat["key_terms"])
    heat["identifying_detail_hidden"] = small
    daily = issue_daily(a, "issue_id")
    flags = detect_bursts(daily, issues=state.issues)  # young issues borrow their parent topic's history
    eps = burst_episodes(flags)
    emerging = eps[(eps["onset"] >= start) & (eps["onset"] < end)].merge(
        heat[["issue_id", "label", "appeals", "enterprises", "identifying_detail_hidden"]], on="issue_id", how="left")
    week_heat = heat[heat["appeals_recent"] > 0].sort_values(["appeals_recent", "issue_id"], ascending=[False, True])
    rising = heat[(heat["appeals_recent"] >= 3) & (heat["enterprises_recent"] >= 2)].sort_values(
        ["growth", "appeals_recent"], ascending=False).head(10)
    span = pd.date_range(start - pd.Timedelta(days=49), last_day, freq="D")
    series = {}
    for iid in rising["issue_id"]:
        s = daily[daily["issue_id"] == iid].set_index("day")["appeals"].reindex(span, fill_value=0)
        series[iid] = [int(v) for v in s.to_numpy()]

    # category × district × industry (segments with fewer than MIN_ENTERPRISES enterprises folded)
    seg_keys = ["category", "district_code", "industry_section"]
    seg = a.assign(**{k: a[k].astype("string").fillna("未知") for k in seg_keys})
    seg_heat = heat_from_appeals(seg, last_day, seg_keys, recent=7, before=28)
    seg_heat = seg_heat[seg_heat["appeals_recent"] > 0]
    fold = seg_heat["enterprises"] < MIN_ENTERPRISES
    folded = seg_heat[fold]
    seg_heat = seg_heat[~fold].sort_values("appeals_recent", ascending=False).head(30).copy()
    seg_heat["district"] = seg_heat["district_code"].map(lambda c: names["district_code"].get(c, c))
    seg_heat["industry"] = seg_heat["industry_section"].map(lambda c: names["industry_section"].get(c, c))
    # counts over time of the shown segments: appeals per week over the last 8 weeks (oldest first)
    weeks = [start - pd.Timedelta(days=7 * k) for k in range(7, -1, -1)]
    wk = seg[seg["received_at"] >= weeks[0]]
    wk_idx = ((wk["received_at"] - weeks[0]).dt.days // 7).clip(0, 7)
    wk_counts = wk.assign(_w=wk_idx.to_numpy()).groupby([*seg_keys, "_w"]).size()
    seg_weekly = []
    for r in seg_heat.head(10).itertuples():
        key = (r.category, r.district_code, r.industry_section)
        seg_weekly.append({"category": r.category, "district": r.district, "industry": r.industry,
                           "weekly": [int(wk_counts.get((*key, w), 0)) for w in range(8)]})

    # who is affected, which policies speak to it
    top_ids = list(dict.fromkeys(list(rising["issue_id"]) + list(week_heat["issue_id"].head(TOP))))
    big = set(heat.loc[~small, "issue_id"])
    segments = pd.DataFrame()
    summary = pd.Series(dtype="string")
    if profiles is not None and len(profiles):
        segments = affected_segments(a[a["issue_id"].isin(big)], profiles)
        summary = affected_summary(segments, names)
        segments = segments[segments["issue_id"].isin(top_ids)]
    links = pd.DataFrame()
    counts = pd.DataFrame()
    if policies is not None and len(policies):
        # only counts leave policy_links (share of an issue's appeals naming a policy or a benefit word), so the
        # substring tests read the text as filed; nothing of it is stored or shown
        text = a["title"].astype("string").fillna("") + "。" + a["body"].astype("string").fillna("")
        links = policy_links(state, a, policies, texts=text)
        counts = policy_appeal_counts(links, a, as_of=last_day).head(TOP)
        links = links[links["issue_id"].isin(top_ids)]
    # reply quality of the last four weeks' answers up to the week's end (the weekly report's horizon; a report
    # made again for a past week does not see later replies; masking every reply ever written would dominate
    # the report's time at a million appeals)
    answered = a[["closed_at", "resolved_at"]].max(axis=1) if {"closed_at", "resolved_at"} <= set(a.columns) \
        else pd.Series(pd.NaT, index=a.index)
    recent = a[((answered >= start - pd.Timedelta(days=REPLY_DAYS - 7)) & (answered < end)).to_numpy()]
    replies = reply_quality(state, recent, a[["appeal_id", "issue_id"]], clock.status if clock is not None else None)
    dept_times = clock.department_stats if clock is not None else pd.DataFrame()

    growth = heat.set_index("issue_id")["growth"]

    def rows(df: pd.DataFrame, cols: list[str]) -> list[dict[str, Any]]:
        if df is None or df.empty:
            return []
        out = df[[c for c in cols if c in df.columns]].copy()
        for c in out.columns:
            if pd.api.types.is_datetime64_any_dtype(out[c]):
                out[c] = out[c].dt.strftime("%Y-%m-%d")
        return json.loads(out.to_json(orient="records", force_ascii=False))

    heat_cols = ["issue_id", "label", "appeals_recent", "appeals_before", "enterprises_recent", "enterprises",
                 "growth", "support", "appeals", "founded_on", "identifying_detail_hidden"]
    return {
        "week": {"start": str(start.date()), "end": str(last_day.date())},
        "summary": {
            "appeals_week": int(in_week.sum()), "appeals_previous_week": int(prev_week.sum()),
            "enterprises_week": int(a.loc[in_week, "uscc"].nunique()),
            "issues_active": int((heat["appeals_recent"] > 0).sum()),
            "issues_new": int(heat["founded_on"].between(str(start.date()), str(last_day.date())).sum()),
            "emerging": int(len(emerging)),
        },
        "emerging": rows(emerging, ["issue_id", "label", "onset", "last_day", "days_flagged", "peak_count",
                                    "min_p_value", "appeals", "enterprises", "identifying_detail_hidden"]),
        "rising": rows(rising, heat_cols),
        "rising_series": {"days": [str(d.date()) for d in span], "series": series},
        "heat": rows(week_heat.head(TOP), heat_cols),
        "segments": rows(seg_heat, ["category", "district", "industry", "appeals_recent", "appeals_before",
                                    "enterprises_recent", "enterprises", "growth", "appeals"]),
        "segments_folded": {"rows": int(len(folded)), "appeals_recent": int(folded["appeals_recent"].sum())},
        "segments_weekly": {"weeks": [str(w.date()) for w in weeks], "rows": seg_weekly},
        "affected": {"summary": {k: v + ("，上升中" if growth.get(k, 0) >= 1.5 else "") for k, v in summary.items()
                                 if k in top_ids},
                     "segments": rows(segments.assign(name=[names.get(d, {}).get(str(s), str(s)) for d, s in
                                                            zip(segments.get("dimension", []), segments.get("segment", []))])
                                      if len(segments) else segments,
                                      ["issue_id", "dimension", "segment", "name", "enterprises", "issue_enterprises",
                                       "lift", "lift_low", "lift_high"])},
        "policy_links": rows(links, ["issue_id", "policy_id", "title", "department", "score", "text_similarity",
                                     "named", "department_match"]),
        "policies_most_appeals": rows(counts, ["policy_id", "title", "department", "issues", "appeals",
                                               "appeals_recent"]),
        "departments": rows(dept_times, list(dept_times.columns) if len(dept_times) else []),
        "reply_quality": {"departments": rows(replies["departments"].head(TOP), ["department", "replies",
                                                                                   "completeness", "on_time_share",
                                                                                   "satisfaction"]),
                          "issues": rows(replies["issues"].head(TOP), ["issue_id", "replies", "completeness",
                                                                        "on_time_share", "satisfaction"])},
        "notes": {"privacy": f"masked text only; issues with fewer than {MIN_ENTERPRISES} distinct enterprises show "
                             "key terms only (no title, segments, district or industry)",
                  "replies": f"replies given in the last {REPLY_DAYS} days: completeness (share of the appeal's key "
                             "terms taken up), on time (2110 clock), satisfaction",
                  "heat": "volume (appeals), breadth (distinct enterprises), growth (last 7 days' daily rate over the "
                          "28 days before, smoothed) and support are kept apart",
                  "bursts": _bursts_method()},
    }


# --- HTML ----------------------------------------------------------------------------------------------------

_CSS = """body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:24px;color:#212121;max-width:1100px}
h1{font-size:22px}h2{font-size:18px;border-bottom:2px solid #1565c0;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 6px;text-align:left}
th{background:#e3f2fd}td.n{text-align:right}.kpi{display:inline-block;margin:6px 18px 6px 0}.kpi b{font-size:20px;display:block}
.note{color:#616161;font-size:12px}svg text{font-size:11px}"""

_COLOURS = ["#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#4e342e", "#283593", "#9e9d24"]


def _e(x: Any) -> str:
    return html.escape("" if x is None or (isinstance(x, float) and np.isnan(x)) else str(x))


def _table(rows: list[dict[str, Any]], cols: list[tuple[str, str]], cls: str) -> str:
    if not rows:
        return '<p class="note">（无）</p>'
    head = "".join(f"<th>{_e(t)}</th>" for _, t in cols)
    body = []
    for r in rows:
        cells = []
        for c, _ in cols:
            v = r.get(c)
            num = isinstance(v, int | float) and not isinstance(v, bool)
            cells.append(f'<td class="n">{_e(v)}</td>' if num else f"<td>{_e(v)}</td>")
        body.append(f'<tr class="{cls}">' + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def svg_lines(days: list[str], series: dict[str, list[int]], labels: dict[str, str], width: int = 900,
              height: int = 260) -> str:
    """Daily counts as lines (one per issue), the last 7 days shaded."""
    if not series:
        return '<p class="note">（本周无上升问题）</p>'
    left, right, top, bottom = 36, 10, 10, 24
    n = len(days)
    ymax = max(1, max(max(v) for v in series.values()))
    sx = (width - left - right) / max(n - 1, 1)
    sy = (height - top - bottom) / ymax
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart trend" data-chart="rising" width="{width}" '
           f'height="{height}" role="img" aria-label="上升问题每日诉求量">',
           f'<rect x="{left + sx * (n - 7):.1f}" y="{top}" width="{sx * 6:.1f}" height="{height - top - bottom}" '
           'fill="#fff8e1"/>',
           f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#757575"/>']
    for k in range(0, ymax + 1, max(1, ymax // 4)):
        y = height - bottom - k * sy
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{k}</text>')
    for i in range(0, n, 7):
        out.append(f'<text x="{left + i * sx:.1f}" y="{height - 8}" text-anchor="middle">{_e(days[i][5:])}</text>')
    for j, (iid, vals) in enumerate(series.items()):
        pts = " ".join(f"{left + i * sx:.1f},{height - bottom - v * sy:.1f}" for i, v in enumerate(vals))
        out.append(f'<polyline class="series" fill="none" stroke="{_COLOURS[j % len(_COLOURS)]}" stroke-width="1.6" '
                   f'points="{pts}"><title>{_e(labels.get(iid, iid))}</title></polyline>')
    out.append("</svg>")
    legend = "".join(f'<span style="color:{_COLOURS[j % len(_COLOURS)]}">■</span> {_e(labels.get(i, i))}　'
                     for j, i in enumerate(series))
    return "".join(out) + f'<p class="note">{legend}</p>'


def svg_bars(items: list[tuple[str, float]], name: str, unit: str = "", width: int = 700, label_w: int = 220) -> str:
    """Horizontal bars (label, value)."""
    if not items:
        return '<p class="note">（无）</p>'
    row_h = 20
    vmax = max(v for _, v in items) or 1.0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bars" data-chart="{_e(name)}" width="{width}" '
           f'height="{row_h * len(items) + 6}" role="img">']
    for i, (label, v) in enumerate(items):
        y = 3 + i * row_h
        w = (width - label_w - 70) * v / vmax
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{_e(label[:18])}</text>'
                   f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="#90caf9"/>'
                   f'<text x="{label_w + w + 4:.1f}" y="{y + 14}">{_e(round(v, 2))}{_e(unit)}</text>')
    out.append("</svg>")
    return "".join(out)


def render_html(rep: dict[str, Any]) -> str:
    """The report as one self-contained HTML page (inline SVG, no script)."""
    s = rep["summary"]
    w = rep["week"]
    labels = {r["issue_id"]: r.get("label") or r["issue_id"] for r in rep["rising"] + rep["heat"]}
    heat_cols = [("label", "问题"), ("appeals_recent", "本周诉求"), ("enterprises_recent", "本周企业数"),
                 ("growth", "增长倍数"), ("support", "附议"), ("appeals", "累计诉求"), ("enterprises", "累计企业数"),
                 ("founded_on", "首次出现")]
    kpis = [("本周诉求", s["appeals_week"]), ("上周诉求", s["appeals_previous_week"]), ("本周涉及企业", s["enterprises_week"]),
            ("活跃问题", s["issues_active"]), ("新问题", s["issues_new"]), ("新发突增", s["emerging"])]
    parts = [f"<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>涉企诉求分析周报 {w['start']}"
             f"</title><style>{_CSS}</style></head><body>",
             f"<h1>涉企诉求分析周报（{_e(w['start'])} 至 {_e(w['end'])}）</h1>",
             "<div>" + "".join(f'<span class="kpi"><b>{_e(v)}</b>{_e(k)}</span>' for k, v in kpis) + "</div>",
             "<h2>新发突增问题</h2>",
             _table(rep["emerging"], [("label", "问题"), ("onset", "突增始于"), ("peak_count", "单日/窗口峰值"),
                                      ("appeals", "累计诉求"), ("enterprises", "累计企业数")], "emerging-row"),
             "<h2>上升最快的问题</h2>",
             svg_lines(rep["rising_series"]["days"], rep["rising_series"]["series"], labels),
             _table(rep["rising"], heat_cols, "rising-row"),
             "<h2>本周热点问题</h2>",
             svg_bars([(r.get("label") or r["issue_id"], r["appeals_recent"]) for r in rep["heat"]], "heat", " 件"),
             _table(rep["heat"], heat_cols, "heat-row"),
             "<h2>类别 × 区县 × 行业</h2>",
             _table(rep["segments"], [("category", "类别"), ("district", "区县"), ("industry", "行业"),
                                      ("appeals_recent", "本周诉求"), ("enterprises_recent", "本周企业数"),
                                      ("growth", "增长倍数"), ("appeals", "累计诉求")], "segment-row"),
             _table([{"category": r["category"], "district": r["district"], "industry": r["industry"],
                      **{f"w{i}": v for i, v in enumerate(r["weekly"])}} for r in rep["segments_weekly"]["rows"]],
                    [("category", "类别"), ("district", "区县"), ("industry", "行业")]
                    + [(f"w{i}", d[5:]) for i, d in enumerate(rep["segments_weekly"]["weeks"])], "segment-week-row"),
             f'<p class="note">企业数不足 {MIN_ENTERPRISES} 家的组合已并入“其他”：{rep["segments_folded"]["rows"]} 组，'
             f'本周 {rep["segments_folded"]["appeals_recent"]} 件。</p>',
             "<h2>受影响企业画像</h2>",
             "<ul>" + "".join(f"<li>{_e(labels.get(k, k))}：{_e(v)}</li>" for k, v in rep["affected"]["summary"].items())
             + "</ul>",
             _table(rep["affected"]["segments"], [("issue_id", "问题"), ("dimension", "维度"), ("name", "群体"),
                                                  ("enterprises", "企业数"), ("lift", "相对全市倍数"),
                                                  ("lift_low", "95%下限"), ("lift_high", "95%上限")], "affected-row"),
             "<h2>相关政策</h2>",
             _table(rep["policy_links"], [("issue_id", "问题"), ("title", "政策"), ("department", "部门"),
                                          ("score", "关联度"), ("named", "诉求点名比例")], "link-row"),
             "<h3>引发诉求最多的政策</h3>",
             svg_bars([(r["title"], r["appeals"]) for r in rep["policies_most_appeals"]], "policies", " 件"),
             "<h2>部门响应与答复质量</h2>",
             _table(rep["departments"][:TOP], [(c, c) for c in (list(rep["departments"][0]) if rep["departments"] else [])],
                    "department-row"),
             svg_bars([(r["department"], r["completeness"] or 0.0) for r in rep["reply_quality"]["departments"]],
                      "reply-completeness"),
             _table(rep["reply_quality"]["departments"], [("department", "部门"), ("replies", "答复数"),
                                                          ("completeness", "完整度"), ("on_time_share", "按时率"),
                                                          ("satisfaction", "满意度")], "reply-row"),
             "<h3>答复最弱的问题</h3>",
             _table(rep["reply_quality"]["issues"], [("issue_id", "问题"), ("replies", "答复数"),
                                                     ("completeness", "完整度"), ("on_time_share", "按时率"),
                                                     ("satisfaction", "满意度")], "reply-issue-row"),
             "<h2>说明</h2><ul>" + "".join(f"<li>{_e(v)}</li>" for v in rep["notes"].values()) + "</ul>",
             "</body></html>"]
    return "\n".join(parts)


def report_file(appeals: str | os.PathLike, enterprises: str | os.PathLike | None, policies: pd.DataFrame | None,
                week, out: str | os.PathLike, state: str | os.PathLike | None = None) -> str:
    """``quanhuiqi appeals report``: validate, group (attaching to ``state`` when given), read enterprises,
    write ``report.json``, ``report.html``, the issues and the rejects (appeals' and enterprises') into ``out``.
    ``policies`` is :func:`~quanhuiqi.appeals.insight.policy_table` of a loaded book (the CLI loads it: appeals
    do not read policy files themselves).

    Every input is read and validated before anything is grouped or written: a bad file stops the run with an
    :class:`~quanhuiqi.tables.io.InputError` naming it, and leaves ``out`` and ``state`` as they were."""
    from quanhuiqi.appeals.clock import response_clock
    from quanhuiqi.appeals.dedupe import cases
    from quanhuiqi.appeals.issues import IssueState, group_appeals
    from quanhuiqi.appeals.validate import appeals_file_clean
    from quanhuiqi.tables.io import write_table
    from quanhuiqi.tables.rejects import concat_rejects

    start, end = week_bounds(week)
    v = appeals_file_clean(appeals, as_of=end - pd.Timedelta(seconds=1))
    profiles, ent_rejects = None, None
    if enterprises:
        from quanhuiqi.profile import profile
        from quanhuiqi.tables import read_table, validate_enterprises

        ent = validate_enterprises(read_table(enterprises), end.date(), source=os.path.basename(str(enterprises)))
        profiles, ent_rejects = profile(ent.clean, end.date()), ent.rejects
    st = IssueState.open(state)
    grouped, st = group_appeals(v.clean, st)
    clock = response_clock(cases(v.clean), end - pd.Timedelta(seconds=1)) if len(v.clean) else None
    rep = build_report(v.clean, grouped, st, week, profiles, policies, clock)
    page = render_html(rep)  # everything computed before the first file is written
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    (d / "report.json").write_text(json.dumps(rep, ensure_ascii=False, indent=1), encoding="utf-8")
    (d / "report.html").write_text(page, encoding="utf-8")
    write_table(grouped, d / "issues_by_appeal.csv")
    write_table(concat_rejects([v.rejects] + ([ent_rejects] if ent_rejects is not None else [])), d / "rejects.csv")
    if state is not None:
        st.save(state)
    s = rep["summary"]
    return (f"week {rep['week']['start']}–{rep['week']['end']}: {s['appeals_week']} appeals, {s['issues_active']} "
            f"active issues, {s['emerging']} emerging → {d / 'report.html'}")


__all__ = ["MIN_ENTERPRISES", "build_report", "render_html", "report_file", "week_bounds"]


def _bursts_method() -> str:
    """The report's one-line account of the burst detector, read from its defaults (never stale)."""
    from quanhuiqi.appeals.trends import BurstParams

    p = BurstParams()
    return (f"count model: Gamma-Poisson level per issue (negative binomial window), day-of-week and holiday "
            f"factors, windows of {min(p.windows)}-{max(p.windows)} days, tail probability < {p.alpha:g}, "
            f"at least {p.min_count} voices (see quanhuiqi.appeals.trends)")
