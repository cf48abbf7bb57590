"""The review page: the clause with every recognised span highlighted and linked to its atom, the
todo spans marked, the draft beside it.

One self-contained HTML file (no external assets).  A small script checks the page in the
browser that shows it — every highlight reaches its atom and back — and records the result on
``<body data-review-check>``, which the tests read through a headless browser.
"""

from __future__ import annotations

import html
from typing import Any

from quanhuiqi.drafting.draft import Draft

_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",sans-serif;margin:0;color:#222}
header{background:#234;color:#fff;padding:8px 16px} header h1{font-size:18px;margin:0}
section.draft{border-bottom:2px solid #ccd;padding:12px 16px}
.cols{display:flex;gap:16px;align-items:flex-start}
.clause{flex:1 1 50%;white-space:pre-wrap;line-height:1.9;font-size:15px;background:#fafafa;padding:10px;border:1px solid #ddd}
.tree{flex:1 1 50%;font-size:13px}
mark.atom{background:#cde8ff;border-bottom:2px solid #2a7ad8;padding:0 1px}
mark.todo{background:#ffe2b8;border-bottom:2px dashed #d9822b}
mark.atom.todo{background:linear-gradient(#cde8ff,#ffe2b8)}
mark a{color:inherit;text-decoration:none}
li.atom:target,li.todo:target,mark:target{outline:3px solid #e33}
.conf{color:#666;font-size:11px} .kind{color:#7a4;font-size:11px}
ul.node{margin:2px 0 2px 6px;padding-left:14px;border-left:2px solid #dde}
.op{font-weight:bold;color:#345} pre{background:#f4f4f8;padding:8px;overflow:auto;font-size:12px}
.rules li,.notes li{font-size:13px}
"""

_CHECK = """
(function(){
  const marks=[...document.querySelectorAll('mark[data-atoms]')];
  const atomIds=new Set([...document.querySelectorAll('li.atom')].map(e=>e.id));
  let broken=0, linked=0;
  for(const m of marks){ for(const id of m.dataset.atoms.split(' ').filter(Boolean)){
      if(atomIds.has(id)) linked++; else broken++; } }
  for(const a of document.querySelectorAll('li.atom a.back')){
      if(!document.getElementById(a.getAttribute('href').slice(1))) broken++; }
  const todoMarks=document.querySelectorAll('mark.todo').length;
  let sideBySide=true;
  for(const s of document.querySelectorAll('section.draft')){
      const c=s.querySelector('.clause').getBoundingClientRect(), t=s.querySelector('.tree').getBoundingClientRect();
      if(!(c.right<=t.left+1)) sideBySide=false; }
  document.body.dataset.reviewCheck=JSON.stringify({marks:marks.length, linked:linked, broken:broken,
      atoms:atomIds.size, todo_marks:todoMarks, side_by_side:sideBySide});
})();
"""


def _esc(s: Any) -> str:
    return html.escape(str(s), quote=True)


def render_review_html(drafts: list[Draft], title: str = "政策拆解 · draft review") -> str:
    """One page for one or more drafts (a folder run shows them one under another)."""
    parts = [f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>{_esc(title)}</title>",
             f"<style>{_CSS}</style></head><body><header><h1>{_esc(title)}</h1></header>"]
    for k, d in enumerate(drafts):
        parts.append(_section(d, f"d{k}"))
    parts.append(f"<script>{_CHECK}</script></body></html>")
    return "".join(parts)


def _section(d: Draft, prefix: str) -> str:
    out = [f"<section class='draft' id='{prefix}'><h2>{_esc(d.source)} — {_esc(d.policy.get('title', ''))}</h2>",
           f"<p>{_esc(d.summary())} · status <b>{_esc(d.policy.get('status'))}</b> · mode "
           f"<b>{_esc(d.policy.get('mode'))}</b></p><div class='cols'>"]
    out.append(f"<div class='clause'>{_highlight(d, prefix)}</div><div class='tree'>")
    out.append("<h3>eligibility</h3>" + _tree(d.policy.get("eligibility"), d, prefix))
    rules = []
    for key in ("review", "exclusive", "once", "valid_to", "benefit"):
        if key in d.policy:
            rules.append(f"<li><b>{key}</b>: <code>{_esc(d.policy[key])}</code></li>")
    if rules:
        out.append("<h3>policy</h3><ul class='rules'>" + "".join(rules) + "</ul>")
    if d.todos:
        out.append("<h3>todo</h3><ul>")
        for t in d.todos:
            out.append(f"<li class='todo' id='{prefix}-todo-{t.id}'><span class='kind'>{_esc(t.kind)}</span> "
                       f"<a class='back' href='#{prefix}-span-{t.id}'>«{_esc(t.text)}»</a> {_esc(t.clause)}</li>")
        out.append("</ul>")
    if d.notes:
        out.append("<h3>notes</h3><ul class='notes'>" + "".join(f"<li>{_esc(n)}</li>" for n in d.notes) + "</ul>")
    out.append(f"<details><summary>YAML</summary><pre>{_esc(d.to_yaml())}</pre></details></div></div></section>")
    return "".join(out)


def _highlight(d: Draft, prefix: str) -> str:
    """The original text cut where the set of covering atoms/todos changes; each piece a <mark>."""
    n = len(d.text)
    cover: list[list[str]] = [[] for _ in range(n)]
    todo_cover: list[list[str]] = [[] for _ in range(n)]
    for a in d.atoms:
        for i in range(a.start, min(a.end, n)):
            cover[i].append(a.id)
    for t in d.todos:
        for i in range(t.start, min(t.end, n)):
            todo_cover[i].append(t.id)
    out = []
    first_seen: set[str] = set()
    i = 0
    while i < n:
        j = i
        while j < n and cover[j] == cover[i] and todo_cover[j] == todo_cover[i]:
            j += 1
        chunk = _esc(d.text[i:j])
        atoms, todos = cover[i], todo_cover[i]
        if atoms or todos:
            cls = " ".join(c for c, on in (("atom", atoms), ("todo", todos)) if on)
            ids = []
            for x in atoms + todos:
                if x not in first_seen:
                    first_seen.add(x)
                    ids.append(f"{prefix}-span-{x}")
            anchor = "".join(f"<span id='{x}'></span>" for x in ids)
            target = f"#{prefix}-atom-{atoms[0]}" if atoms else f"#{prefix}-todo-{todos[0]}"
            tip = _esc(", ".join(atoms + todos))
            out.append(f"{anchor}<mark class='{cls}' data-atoms='{' '.join(prefix + '-atom-' + a for a in atoms)}' "
                       f"title='{tip}'><a href='{target}'>{chunk}</a></mark>")
        else:
            out.append(chunk)
        i = j
    return "".join(out)


def _tree(node: Any, d: Draft, prefix: str) -> str:
    if node is None:
        return "<p><i>no condition recognised</i></p>"
    if isinstance(node, dict):
        for op in ("all", "any", "not"):
            if op in node:
                kids = node[op] if isinstance(node[op], list) else [node[op]]
                note = f" <span class='conf'>{_esc(node['note'])}</span>" if node.get("note") else ""
                inner = "".join(f"<li>{_tree(k, d, prefix)}</li>" for k in kids)
                return f"<span class='op'>{op}</span>{note}<ul class='node'>{inner}</ul>"
        aid = str(node.get("note", "")).split(" ")[0]
        atom = next((a for a in d.atoms if a.id == aid), None)
        shown = {k: v for k, v in node.items() if k not in ("ref", "note")}
        body = ", ".join(f"{k}: {v}" for k, v in shown.items())
        if atom is None:
            return f"<code>{_esc(body)}</code>"
        return (f"<ul class='node' style='border:none;padding:0;margin:0'><li class='atom' id='{prefix}-atom-{aid}'>"
                f"<code>{_esc(body)}</code> <span class='kind'>{_esc(atom.kind)}</span> "
                f"<span class='conf'>{aid} · {atom.confidence:.2f}</span> "
                f"<a class='back' href='#{prefix}-span-{aid}'>«{_esc(atom.quote[:50])}»</a></li></ul>")
    return _esc(node)
