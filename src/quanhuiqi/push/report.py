"""The run report: what was read, rejected, computed and written, as JSON and one self-contained HTML page.

The HTML page carries its charts as inline SVG (no script, no external asset), so it can be
mailed or archived as one file.  Only counts and identifiers of policies and districts appear:
never an enterprise's record.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
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


@dataclass
class PushListCounts:
    """What the report says about a push list, as counts that add up over enterprise partitions (an
    enterprise's rows, today's and the previous day's, are all in one partition): the driver of a Spark run
    sums them instead of gathering the list.  ``previous`` is None when there was no previous day's list."""

    rows: int = 0
    enterprises: int = 0
    per_policy: Counter = field(default_factory=Counter)
    per_verdict: Counter = field(default_factory=Counter)
    per_mode: Counter = field(default_factory=Counter)
    previous: dict[str, Any] | None = None  # pairs_today, pairs_previous, new, dropped, enterprises, per_policy

    @classmethod
    def of(cls, today: pd.DataFrame, previous: pd.DataFrame | None) -> PushListCounts:
        """The counts of one partition's (or the whole city's) push list and previous day's list."""
        out = cls(len(today), int(today["uscc"].nunique()), Counter(_value_counts(today["policy_id"])),
                  Counter(_value_counts(today["verdict"])), Counter(_value_counts(today["mode"])))
        if previous is not None:
            t = set(zip(today["uscc"].astype(str), today["policy_id"].astype(str)))
            p = set(zip(previous["uscc"].astype(str), previous["policy_id"].astype(str)))
            out.previous = {"pairs_today": len(t), "pairs_previous": len(p), "new": len(t - p), "dropped": len(p - t),
                            "enterprises": int(previous["uscc"].nunique()),
                            "per_policy": Counter(previous["policy_id"].astype(str).value_counts().to_dict())}
        return out

    @classmethod
    def sum(cls, parts: list[PushListCounts], with_previous: bool) -> PushListCounts:
        out = cls(previous={"pairs_today": 0, "pairs_previous": 0, "new": 0, "dropped": 0, "enterprises": 0,
                            "per_policy": Counter()} if with_previous else None)
        for c in parts:
            out.rows += c.rows
            out.enterprises += c.enterprises
            out.per_policy.update(c.per_policy)
            out.per_verdict.update(c.per_verdict)
            out.per_mode.update(c.per_mode)
            if with_previous:  # every part counted against the previous list (empty where it had no rows)
                for k in ("pairs_today", "pairs_previous", "new", "dropped", "enterprises"):
                    out.previous[k] += c.previous[k]
                out.previous["per_policy"].update(c.previous["per_policy"])
        return out

    def changes(self, previous_date: str | None) -> dict[str, Any]:
        """``changes_vs_previous`` from the counts."""
        if self.previous is None:
            return {"previous_date": previous_date, "available": False}
        p = self.previous
        delta = {str(k): int(self.per_policy.get(k, 0)) - int(p["per_policy"].get(k, 0))
                 for k in set(self.per_policy) | set(p["per_policy"])}
        top = sorted(((k, n) for k, n in delta.items() if n != 0), key=lambda kv: (-abs(kv[1]), kv[0]))[:20]
        return {
            "previous_date": previous_date,
            "available": True,
            "pushed_today": p["pairs_today"],
            "pushed_previous": p["pairs_previous"],
            "new_pairs": p["new"],
            "dropped_pairs": p["dropped"],
            "enterprises_today": self.enterprises,
            "enterprises_previous": p["enterprises"],
            "per_policy_delta": dict(top),
        }


def _value_counts(s: pd.Series) -> dict[str, int]:
    return s.astype("string").fillna("(unknown)").value_counts().to_dict()


# --- the last 30 days ---------------------------------------------------------------------------------


TREND_DAYS = 30


def _history_per_day(path: Path | None, since: pd.Timestamp, day: pd.Timestamp,
                     encoding: str | None) -> pd.DataFrame:
    """Pushes, applications and approvals per push date of the history in ``[since, day)``: only the three
    columns are read (the history of a large city holds millions of rows); unreadable dates are left out,
    as the job's validation rejects them."""
    cols = ["pushes", "applications", "approvals"]
    if path is None or not Path(path).exists():
        return pd.DataFrame(columns=cols, dtype="int64")
    from quanhuiqi.tables.io import read_table

    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        names = set(pq.read_schema(path).names)
        h = pq.read_table(path, columns=[c for c in ("date", "applied", "approved") if c in names]).to_pandas()
    else:
        h = read_table(path, encoding=encoding)
    return history_day_counts(h, since, day)


def history_day_counts(h: pd.DataFrame, since: pd.Timestamp, day: pd.Timestamp) -> pd.DataFrame:
    """:func:`_history_per_day` of rows in hand (``date`` and, when present, ``applied``, ``approved``): counts
    that add up over any split of the rows (a Spark run counts each partition's rows where they are)."""
    from quanhuiqi.tables.parse import parse_bools

    cols = ["pushes", "applications", "approvals"]
    dates = pd.to_datetime(h["date"].astype("string"), errors="coerce", format="mixed").dt.normalize()
    keep = ((dates >= since) & (dates < day)).to_numpy()
    out = pd.DataFrame({"date": dates[keep].to_numpy()})
    out["pushes"] = 1
    for src, col in (("applied", "applications"), ("approved", "approvals")):
        if src in h.columns:
            v = h[src][keep]
            v = v.astype(bool) if pd.api.types.is_bool_dtype(v.dtype) else parse_bools(v.astype("string"))[0]
            out[col] = v.fillna(False).astype("int64").to_numpy()
        else:
            out[col] = 0
    return out.groupby("date")[cols].sum()


def _auto_grants_per_day(path: Path | None, auto_ids: set[str], since: pd.Timestamp, day: pd.Timestamp,
                         encoding: str | None) -> pd.Series:
    """Grants of 免申即享 (``auto``) policies per ``granted_on`` day in ``[since, day)``."""
    if path is None or not Path(path).exists() or not auto_ids:
        return pd.Series(dtype="int64")
    from quanhuiqi.tables.io import read_table

    return grant_day_counts(read_table(path, encoding=encoding), auto_ids, since, day)


def grant_day_counts(g: pd.DataFrame, auto_ids: set[str], since: pd.Timestamp, day: pd.Timestamp) -> pd.Series:
    """:func:`_auto_grants_per_day` of rows in hand (additive over any split of the rows)."""
    if "granted_on" not in g.columns or "policy_id" not in g.columns:
        return pd.Series(dtype="int64")
    on = pd.to_datetime(g["granted_on"].astype("string"), errors="coerce", format="mixed").dt.normalize()
    keep = (on >= since) & (on < day) & g["policy_id"].astype("string").str.strip().isin(auto_ids).fillna(False)
    return on[keep].value_counts()


def trend(day: pd.Timestamp, out_dir: Path, history: Path | None, grants: Path | None, today: dict[str, int],
          auto_ids: set[str], encoding: str | None = None, days: int = TREND_DAYS, *,
          counted: tuple[pd.DataFrame, pd.Series] | None = None) -> list[dict[str, Any]]:
    """One row per day of the ``days`` before ``day`` and for ``day`` itself: pushes, 免申即享 grants,
    applications and approvals.  A day the job ran for (its manifest in ``out_dir``) counts the pushes and the
    免申即享 list it wrote; other days come from the push history (pushes; applications and approvals of the
    pushes made that day) and the grants (of the 免申即享 policies ``auto_ids``).  ``source`` says which."""
    import json

    since = day - pd.Timedelta(days=days)
    if counted is not None:  # the history's and the grants' day counts, added up over partitions by the caller
        hist, auto = counted
    else:
        hist = _history_per_day(history, since, day, encoding)
        auto = _auto_grants_per_day(grants, auto_ids, since, day, encoding)
    rows = []
    for k in range(days, 0, -1):
        d = day - pd.Timedelta(days=k)
        text = d.date().isoformat()
        h = hist.loc[d] if d in hist.index else None
        row: dict[str, Any] = {"date": text, "pushes": int(h["pushes"]) if h is not None else 0,
                               "auto_grants": int(auto.get(d, 0)),
                               "applications": int(h["applications"]) if h is not None else 0,
                               "approvals": int(h["approvals"]) if h is not None else 0, "source": "history"}
        manifest = out_dir / text / "manifest.json"
        if manifest.exists():
            try:
                written = json.loads(manifest.read_text(encoding="utf-8")).get("rows", {})
            except (OSError, ValueError):
                written = {}
            if "push_list" in written:
                row.update(pushes=int(written["push_list"]), auto_grants=int(written.get("auto_grant", 0)),
                           source="run")
        rows.append(row)
    rows.append({"date": day.date().isoformat(), "pushes": int(today["pushes"]),
                 "auto_grants": int(today["auto_grants"]), "applications": None, "approvals": None,
                 "source": "today"})
    return rows


def labels(book, district_codes) -> dict[str, Any]:
    """What the page shows beside ids: each policy's title, department and mode; each district's name."""
    from quanhuiqi.reference.districts import district_name

    pol = {}
    if book is not None and hasattr(book, "policies"):
        t = book.policies
        for pid, title, dept, mode in zip(t["policy_id"], t["title"], t["department"], t["mode"], strict=True):
            pol[str(pid)] = {"title": "" if pd.isna(title) else str(title),
                             "department": "" if pd.isna(dept) else str(dept), "mode": str(mode)}
    districts = {}
    for code in district_codes:
        try:
            districts[str(code)] = district_name(str(code))
        except KeyError:
            continue
    return {"policies": pol, "districts": districts}


# --- HTML ------------------------------------------------------------------------------------------

MODES = {"auto": "免申即享", "instant": "即申即享", "apply": "申报"}
VERDICTS = {"eligible": "符合全部条件", "undetermined": "待定（需补充信息）", "ineligible": "不符合"}
RULES_ZH = {"inactive": "企业非在营", "granted": "已享受", "suppressed": "企业已退订", "exclusive": "就高不重复",
            "auto_grant": "转入免申即享", "undetermined": "待定不推送", "cooldown": "冷却期内已推送",
            "shortlist": "未入候选短名单", "cap": "超出每企推送上限"}
SUMMARY_ZH = {"enterprises_read": "读入企业", "enterprises_clean": "有效企业", "partitions": "分区数",
              "candidates": "候选配对", "pushed": "推送条数", "enterprises_pushed": "获推送企业",
              "held_back": "暂不推送配对", "auto_grants": "免申即享名单", "near_misses": "差一点符合",
              "postings_pairs": "供需对接配对", "rejected_rows": "拒收行", "cleared_values": "清除的取值",
              "policies": "政策数"}
TABLES_ZH = {"enterprises": "企业名录", "grants": "政策享受记录", "push_history": "推送历史", "suppressions": "退订名单",
             "certificates": "资质证书", "penalties": "行政处罚", "declarations": "企业声明", "milestones": "项目节点",
             "yearly": "年度经营数据", "postings": "供需信息", "posting_interactions": "供需互动", "appeals": "涉企诉求",
             "policies": "政策库"}
OUTPUTS_ZH = {"push_list": "推送名单", "held_back": "暂不推送", "auto_grant": "免申即享名单", "near_miss": "差一点符合",
              "postings_pairs": "供需对接", "rejects": "拒收记录", "appeals_routed": "诉求分拨",
              "appeals_at_risk": "诉求临期", "appeals_overdue": "诉求超期", "appeals_department_stats": "诉求部门统计"}
MODEL_ZH = {"requested": "指定模型", "used": "所用模型", "name": "模型名", "version": "版本", "run_id": "MLflow 运行",
            "fallback": "模型不可用、改用规则打分", "error": "错误"}
TRIAGE_ZH = {"direct": "直接办", "coordinated": "协同办", "escalated": "提级办"}
DISPATCH_ZH = {"auto": "自动分拨", "manual": "人工分拨"}
TREND_SERIES = (("pushes", "推送", "#2e86c1"), ("auto_grants", "免申即享", "#27ae60"),
                ("applications", "申请", "#e67e22"), ("approvals", "获批", "#8e44ad"))


# the validators' reasons as the page shows them (report.json and the rejects table keep the exact text): the
# first pattern that matches the reason gives its Chinese; a reason no pattern knows is shown as it is
REASONS_ZH = (
    (r"invalid uscc: check character.*", "统一社会信用代码校验位错误"),
    (r"invalid uscc: organisation code check character.*", "统一社会信用代码中的组织机构代码校验位错误"),
    (r"invalid uscc: not 18 characters", "统一社会信用代码不是18位"),
    (r"invalid uscc: .*", "统一社会信用代码无效"),
    (r"date after as_of (\S+)(: .*)?", r"日期晚于数据日期 \1"),
    (r"date after as_of.*", "日期晚于数据日期"),
    (r"duplicate uscc: row N kept", "统一社会信用代码重复（保留一行）"),
    (r"duplicate key \((.*)\): row N kept", r"重复记录（\1，保留一行）"),
    (r"duplicate (\w+) .*", r"\1 重复（保留第一行）"),
    (r"no such enterprise in the clean enterprise table.*", "企业不在有效企业名录中（未知或已拒收）"),
    (r"district code does not exist in GB/T 2260", "区划代码不存在（GB/T 2260）"),
    (r"industry code does not exist in GB/T 4754-2017", "行业代码不存在（GB/T 4754-2017）"),
    (r"negative value", "数值为负"),
    (r"rate outside 0-1", "比率不在0–1之间"),
    (r"not a number", "不是数值"),
    (r"not a boolean.*", "不是是/否取值"),
    (r"missing required value ?(.*)", r"缺少必填项 \1"),
    (r"no text: title and body are both empty", "标题和正文均为空"),
    (r"(\w+) is not a date-time.*", r"\1 不是日期时间"),
    (r"resolved_at \(办结\) before received_at \(受理\)", "办结时间早于受理时间"),
    (r"unknown (\w+(?: \w+)*?) \((?:expected|known:) .*", r"未知的 \1 取值"),
    (r"unknown (\w+(?: \w+)*)", r"未知的 \1 取值"),
)


# the job's warnings as the page shows them (the log and report.json keep the exact text, which names the error)
WARNINGS_ZH = (
    (r"fact table (\w+) is absent: .*", "缺少事实表 {t}：其中的事实对所有企业都按未知处理"),
    (r"optional input (\w+) is absent: .*", "缺少可选输入 {t}：按空表处理"),
    (r"model (\S+) unavailable \((.*)\); ranked with the rule scorer instead", "排序模型 {1} 不可用（{2}），已改用规则打分"),
    (r"appeals: no routing model configured .*", "涉企诉求：未配置分拨模型，新诉求转人工分拨"),
    (r"appeals: routing model (\S+) unavailable \((.*)\); .*", "涉企诉求：分拨模型 {1} 不可用（{2}），新诉求转人工分拨"),
    (r"readiness: no known source for field\(s\) (.*) \(add them .*", "免申即享就绪度：字段 {1} 没有已知的数据来源（请在政策库旁的 sources.csv 中补充）"),
    (r"appeals: the holiday calendar \(chinese-calendar \S+\) knows years up to (\d+); from (\S+) .*",
     "涉企诉求：节假日日历（chinese-calendar）只收录到 {1} 年；自 {2} 起，2110 时限计时将拒绝运行（含本日常任务），"
     "请更新该软件包，或将 outside_known_years 设为 weekdays"),
    (r"policies: none of the book's (\d+) policies is in force on (\S+) .*", "政策库的 {1} 项政策在 {2} 均不在有效期内：今日无推送、无免申即享"),
)


def warning_zh(text: str) -> str:
    """A warning of the run in Chinese (the exact text, with the error it names, stays in report.json)."""
    import re

    for pattern, zh in WARNINGS_ZH:
        m = re.fullmatch(pattern, text, flags=re.S)
        if m:
            groups = m.groups()
            return zh.format(None, *groups, t=TABLES_ZH.get(groups[0], groups[0]) if groups else "")
    return text


def reason_zh(key: str) -> str:
    """``source: reason`` of the report's rejects, in Chinese: the table's name and the reason's gloss."""
    import re

    source, sep, reason = key.partition(": ")
    if not sep:
        return key
    for pattern, zh in REASONS_ZH:
        m = re.fullmatch(pattern, reason)
        if m:
            reason = m.expand(zh).strip()
            break
    return f"{TABLES_ZH.get(source, source)}：{reason}"


def _zh(mapping: dict[str, str], data: dict[str, Any]) -> dict[str, Any]:
    return {mapping.get(str(k), str(k)): v for k, v in data.items()}


def _policy_label(pid: str, pols: dict[str, dict]) -> str:
    p = pols.get(str(pid))
    if not p:
        return str(pid)
    dept = f"·{p['department']}" if p.get("department") else ""
    return f"{p['title']}（{pid}{dept}）"


def _district_label(code: str, names: dict[str, str]) -> str:
    if code in ("(unknown)", "", "None"):
        return "区县未知"
    return f"{names[code]}（{code}）" if code in names else str(code)


def _bar_svg(data: dict[str, float], unit: str = "", width: int = 760, label_w: int = 200) -> str:
    """A horizontal bar chart as inline SVG."""
    if not data:
        return '<p class="empty">无</p>'
    row_h, pad = 20, 60
    items = list(data.items())
    vmax = max(abs(float(v)) for _, v in items) or 1.0
    bar_w = width - label_w - pad
    h = row_h * len(items) + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img">']
    limit = label_w // 12
    for i, (label, value) in enumerate(items):
        y = i * row_h + 2
        w = max(1.0, bar_w * abs(float(value)) / vmax)
        colour = "#c0392b" if float(value) < 0 else "#2e86c1"
        text = html.escape(str(label))
        plain = str(label)
        short = text if len(plain) <= limit else html.escape(plain[: limit - 1]) + "…"
        v = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12"><title>{text}</title>{short}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row_h - 6}" fill="{colour}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 14}" font-size="11">{html.escape(v)}{unit}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _trend_svg(rows: list[dict[str, Any]], key: str, name: str, colour: str) -> str:
    """One series over the days as columns (today darker; a day without a figure is a gap), its largest value
    and the first and last dates written beside it."""
    width, height, left, right, top, bottom = 780, 110, 90, 60, 18, 20
    n = len(rows)
    step = (width - left - right) / max(n, 1)
    values = [r.get(key) for r in rows]
    vmax = max((v for v in values if v is not None), default=0) or 1
    past = max((v for v in values[:-1] if v is not None), default=0)
    cut = past > 0 and vmax > 3 * past  # today dwarfs the month (a first run): the month stays readable
    if cut:
        vmax = past * 1.25
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'class="trend" data-series="{key}"><title>{html.escape(name)}：近{n - 1}天与今天</title>',
             f'<text x="{left - 8}" y="{top + 12}" text-anchor="end" font-size="13" font-weight="bold">'
             f'{html.escape(name)}</text>',
             f'<text x="{left - 8}" y="{top + 28}" text-anchor="end" font-size="10" fill="#666">'
             f'{"近期最高 " + format(past, ",") if cut else "最高 " + format(vmax, ",")}</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#bbb"/>']
    plot_h = height - top - bottom
    for i, (r, v) in enumerate(zip(rows, values, strict=True)):
        x = left + i * step
        if v is None:
            continue
        h = plot_h * min(v / vmax, 1.0)
        fill = colour if r["source"] != "today" else "#17202a"
        parts.append(f'<rect class="day" data-date="{r["date"]}" x="{x + 1:.1f}" y="{height - bottom - h:.1f}" '
                     f'width="{max(step - 2, 1):.1f}" height="{max(h, 0.5):.1f}" fill="{fill}">'
                     f'<title>{r["date"]}：{v:,}</title></rect>')
        if v > vmax:  # a cut bar: two white strokes across it say it is taller than drawn
            for dy in (10, 15):
                parts.append(f'<line class="cut" x1="{x:.1f}" y1="{top + dy + 2:.1f}" x2="{x + step:.1f}" '
                             f'y2="{top + dy - 2:.1f}" stroke="#fff" stroke-width="2"/>')
    last = next((v for v in reversed(values) if v is not None), None)
    if last is not None:
        parts.append(f'<text x="{width - right + 6}" y="{height - bottom - 2}" font-size="12">{last:,}</text>')
    parts.append(f'<text x="{left}" y="{height - 4}" font-size="10" fill="#666">{rows[0]["date"]}</text>'
                 f'<text x="{width - right}" y="{height - 4}" font-size="10" fill="#666" text-anchor="end">'
                 f'{rows[-1]["date"]}（今天）</text></svg>')
    return "".join(parts)


def _trend_html(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    charts = "".join(_trend_svg(rows, key, name, colour) for key, name, colour in TREND_SERIES)
    src = {"history": "推送历史与享受记录", "run": "往日运行清单", "today": "今日运行"}
    cell = lambda v: "—" if v is None else f"{v:,}"  # noqa: E731
    body = "".join(
        f"<tr{' class=today' if r['source'] == 'today' else ''}><td>{r['date']}</td><td>{cell(r['pushes'])}</td>"
        f"<td>{cell(r['auto_grants'])}</td><td>{cell(r['applications'])}</td><td>{cell(r['approvals'])}</td>"
        f"<td>{src.get(r['source'], r['source'])}</td></tr>" for r in reversed(rows))
    return (f"<section id='trend'><h2>近{len(rows) - 1}天趋势</h2>"
            "<p class='note'>每日推送条数、免申即享政策的享受笔数（今天为今日免申即享名单）、按推送日统计的申请与获批；今天为深色，"
            "今天的申请与获批尚待反馈。</p>" + charts
            + "<details><summary>逐日数字</summary><table><tr><th>日期</th><th>推送</th><th>免申即享</th><th>申请</th>"
            + f"<th>获批</th><th>来源</th></tr>{body}</table></details></section>")


def _model_value(key: str, value: Any) -> Any:
    if isinstance(value, bool):
        return "是" if value else "否"
    if value is None:
        return "未指定（规则打分）" if key == "requested" else "—"
    return "规则打分" if key == "used" and value == "rules" else value


def _calendar_zh(note: str) -> str:
    """The clock's calendar note as an official reads it (the note itself stays in the JSON)."""
    import re

    if note.startswith("calendar: Monday-Friday"):
        return "周一至周五（不计节假日）"
    if not note.startswith("calendar: China's official holidays"):
        return note
    out = "国家法定节假日与调休"
    if m := re.search(r"; ([\d, ]+) counted Monday-Friday", note):
        out += f"（{m.group(1)} 年未收录，按周一至周五计）"
    if m := re.search(r"; (\d+) deadline\(s\) fall in ([\d, ]+),", note):
        out += f"（{m.group(1)} 个时限落在未收录的 {m.group(2)} 年，暂按周一至周五计）"
    return out


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
.grid{display:flex;flex-wrap:wrap;gap:2em}.empty,.note{color:#888}tr.today td{font-weight:bold}
svg.trend{display:block;margin:.3em 0}
"""


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page with inline SVG charts, in Chinese for the city's officials:
    policy titles and departments beside ids, district names beside codes, the last 30 days beside today."""
    r = report
    lab = r.get("labels", {})
    pols, dnames = lab.get("policies", {}), lab.get("districts", {})
    date = html.escape(r["date"])
    out = [
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>泉惠企每日推送报告 {date}</title><style>{_CSS}</style></head><body>",
        f"<h1>泉惠企每日推送报告（{date}）</h1>",
    ]
    for w in r.get("warnings", []):
        out.append(f"<div class='warn'>{html.escape(warning_zh(w))}</div>")
    out.append("<h2>概况</h2>" + _kv_table(_zh(SUMMARY_ZH, r["summary"])))
    if r.get("trend"):
        out.append(_trend_html(r["trend"]))
    out.append("<h2>排序模型</h2>" + _kv_table(_zh(MODEL_ZH, {k: _model_value(k, v) for k, v in r["model"].items()})))
    out.append("<h2>读入的数据</h2>")
    rows = "".join(
        f"<tr><td>{html.escape(TABLES_ZH.get(k, k))}</td><td>{html.escape(str(v.get('path')))}</td>"
        f"<td>{html.escape(str(v.get('encoding', '')))}</td><td>{v.get('rows', '')}</td>"
        f"<td>{v.get('clean', '')}</td><td>{v.get('rows_rejected', '')}</td>"
        f"<td><code>{str(v.get('sha256', ''))[:12]}</code></td></tr>"
        for k, v in r["inputs"].items()
    )
    out.append(
        "<table><tr><th>数据表</th><th>文件</th><th>编码</th><th>行数</th><th>有效</th><th>拒收行</th><th>sha256</th></tr>"
        + rows
        + "</table>"
    )
    per_policy = lambda d: {_policy_label(k, pols): v for k, v in d.items()}  # noqa: E731
    sections = [
        ("各政策推送条数（前30）", per_policy(r["push"]["per_policy"])),
        ("各区县推送条数", {_district_label(k, dnames): v for k, v in r["push"]["per_district"].items()}),
        ("推送按判定结果", _zh(VERDICTS, r["push"]["per_verdict"])),
        ("推送按办理方式", _zh(MODES, r["push"]["per_mode"])),
        ("符合但暂不推送，按原因", _zh(RULES_ZH, r["push"]["held_back_by_rule"])),
        ("候选配对按判定结果", _zh(VERDICTS, r["eligibility"]["per_verdict"])),
        ("各政策免申即享名单（前30）", per_policy(r["auto_grant"]["per_policy"])),
        ("各政策差一点符合（前30）", per_policy(r["near_miss"]["per_policy"])),
        ("拒收原因（数据表：原因）", {reason_zh(k): v for k, v in r["rejects"]["by_reason"].items()}),
    ]
    for title, data in sections:
        wide = 360 if title.startswith("各政策") else 200
        out.append(f"<h2>{html.escape(title)}</h2>" + _bar_svg(data, label_w=wide, width=760 + wide - 200))
    if r.get("readiness"):
        out.append(_readiness_html(r["readiness"]))
    ch = r["changes_vs_previous"]
    out.append("<h2>与前一日相比</h2>")
    if ch.get("available"):
        out.append(_kv_table(_zh({"previous_date": "前一日", "pushed_today": "今日推送", "pushed_previous": "前一日推送",
                                  "new_pairs": "新增配对", "dropped_pairs": "不再推送的配对",
                                  "enterprises_today": "今日获推送企业", "enterprises_previous": "前一日获推送企业"},
                                 {k: v for k, v in ch.items() if k not in ("per_policy_delta", "available")})))
        out.append("<h3>各政策推送变化</h3>" + _bar_svg(per_policy(ch["per_policy_delta"]), label_w=360, width=920))
    else:
        out.append(f"<p class='empty'>无 {html.escape(str(ch.get('previous_date')))} 的运行结果</p>")
    a = r.get("appeals")
    if a:
        used = a["model"].get("used") or "无（人工分拨）"
        out.append("<h2>涉企诉求</h2>" + _kv_table(
            {"读入": a["rows"], "有效": a["clean"], "拒收行": a["rows_rejected"], "案件": a["cases"],
             "新诉求": a["new_appeals"], "新案件": a["new_cases"], "工作日历": _calendar_zh(a["calendar"]),
             "分拨模型": used,
             "分拨": "，".join(f"{DISPATCH_ZH.get(k, k)} {v}" for k, v in a["dispatch"].items()),
             "分级": "，".join(f"{TRIAGE_ZH.get(k, k)} {v}" for k, v in a["triage"].items())}))
        out.append("<h3>各部门新诉求</h3>" + _bar_svg(a["new_per_department"], label_w=260, width=820))
        out.append("<h3>各部门临近2110时限</h3>" + _bar_svg(a["at_risk_per_department"], label_w=260, width=820))
        out.append("<h3>各部门已超期</h3>" + _bar_svg(a["overdue_per_department"], label_w=260, width=820))
    em = r.get("appeals_emerging")
    if em is not None:
        rows = "".join(f"<tr><td>{html.escape(e['label'])}</td><td>{html.escape(e['day'])}</td><td>{e['count']}</td>"
                       f"<td>{e['expected']:.2f}</td><td>{e['enterprises']}</td></tr>" for e in em["emerging"])
        out.append("<h2>新发问题</h2>" + (
            f"<table><tr><th>问题</th><th>日期</th><th>诉求</th><th>预期</th><th>企业数</th></tr>{rows}</table>"
            if rows else f"<p class='empty'>{em['issues']} 个问题中无新发突增</p>"))
    out.append("<h2>各阶段用时（秒）</h2>" + _bar_svg(r["timings_s"], " 秒"))
    out.append("<h2>写出的结果</h2>" + _kv_table(_zh(OUTPUTS_ZH, dict(r["outputs"].items()))))
    out.append("</body></html>\n")
    return "".join(out)


def _ranking_zh(rd: dict[str, Any]) -> str:
    from quanhuiqi.policy.readiness.counts import ranking_text_zh

    return ranking_text_zh(rd.get("weights", {}))


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
        "<section id='readiness'><h2>免申即享就绪度</h2>" + _kv_table(head)
        + "<h3>数据共享行动（新判定的待定配对）</h3><div data-chart='readiness-actions'>" + _bar_svg(actions) + "</div>"
        + "<table><tr><th>名次</th><th>数据系统</th><th>部门</th><th>新判定配对</th><th>免申即享</th><th>即申即享</th>"
        + f"<th>申报</th><th>涉及企业</th></tr>{rows}</table>"
        + f"<p class='empty'>{html.escape(_ranking_zh(rd))}</p>"
        + "<h3>免申即享政策的已判定占比</h3><div data-chart='readiness-auto'>" + _bar_svg(shares, "%") + "</div>"
        + "</section>"
    )
