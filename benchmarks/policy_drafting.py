"""Policy drafting (政策拆解) against human encodings, and its speed.

Reads the real clauses with gold encodings (default ``../shared/data/policies_real/dev.jsonl``; they
are never shipped) and drafts each clause — the 申报条件 text followed by its 奖励标准 text, as an
officer would paste them — with the issuer's territory as ``jurisdiction``.  Scoring rules (also in
docs/drafting.md):

- **Mapped atoms, today** (scoring b): the gold's mapped atoms against the draft's atoms that use
  today's fields and operators (DESIGN's catalogue: no records, yearly figures, lists or attest).
  A match is field + op + value, numbers after unit normalisation (relative tolerance 1e-6), code
  and value lists as sets, ``has`` = ``has_any`` of one value; one-to-one, greedy in document order.
- **As written** (scoring a): every gold atom.  A mapped gold atom is matched as in (b), or by a
  draft atom of the new language that says the same (``CORRESPONDENCE_MAPPED``).  An unmapped gold
  atom is *found* when a todo of the same kind overlaps its quote, or when a draft atom of the new
  language listed for its kind in ``CORRESPONDENCE_UNMAPPED`` overlaps its quote.
- A draft district condition (any of the four location fields) equal to the issuer's territory that
  matches nothing is neutral when the gold has no condition on that field: left out of precision.
- A gold `any` whose children all test one code field with `under`/`in` is one atom over the
  union of their values (any(under B/C/D, under F) = under [B, C, D, F]), as the drafter writes a list.
- A gold designation list (``certifications has_any [A, B]``) is also found by one draft atom per item
  (a designation held) standing in different branches of one ``any`` — the paying tiers 对新认定的国家级
  小巨人…；对新认定的省级专精特新… say the list as alternatives; each of those draft atoms counts as correct.
- Industry code sets are compared after the divisions that make up a whole section are replaced by
  the section's letter (51 + 52 = F).
- Gold certification labels outside today's vocabulary are compared through ``GOLD_LABELS`` (the
  gold's name for a designation → the drafter's item); a label with no counterpart stays a miss.
- Todo precision: todos overlapping a gold unmapped atom of the same kind / all todos.
- Structure accuracy: for every pair of gold atoms matched to two different draft atoms, does the
  kind of their lowest common combinator (all / any) agree between gold and draft?  Overall and
  per kind (pairs involving that kind).

The held-out part is the clauses not from Jinan or Nansha (``--held-out``): the rules were written
reading Jinan's and Nansha's errors only.  Speed: ``--speed N`` drafts N clauses (the dev clauses
cycled) in one process and reports the wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

ROOT = Path(__file__).resolve().parents[1]
_REL = Path("shared") / "data" / "policies_real" / "dev.jsonl"
# ../shared beside the checkout (a worktree under wt/ looks one level further up)
DEFAULT_DEV = next((p / _REL for p in (ROOT.parent, ROOT.parent.parent) if (p / _REL).exists()), ROOT.parent / _REL)

TODAY_FIELDS = {
    "industry_code", "industry_section", "industry_division", "industry_group", "industry_class", "district_code",
    "status", "enterprise_type", "established_on", "registered_capital", "employees", "insured_employees",
    "insured_months", "layoff_rate", "revenue", "revenue_prev", "total_assets", "rd_expense", "tax_paid",
    "tax_credit_rating", "certifications", "abnormal_operation", "serious_dishonest", "size_class", "above_scale",
    "age_years", "lifecycle_stage", "revenue_growth", "rd_ratio", "tax_intensity", "chains", "tags",
}  # fmt: skip
TODAY_OPS = {"eq", "ne", "in", "not_in", "gt", "ge", "lt", "le", "between", "under", "not_under", "has", "has_any",
             "has_all", "exists", "missing"}
STANDARD_CERTS = {"high_tech", "specialized_sme", "little_giant", "tech_sme", "gazelle", "unicorn", "innovative_sme",
                  "single_champion"}
LOCATION_FIELDS = {"district_code", "tax_district_code", "stats_district_code", "office_district_code"}

# The gold's labels for designations outside today's vocabulary → the drafter's items.
GOLD_LABELS = {
    "listing_reserve": "listing_reserve",
    "ip_management_gb29490": "ip_standard",
    "hightech_cultivation_pool": "hightech_cultivation",
    "gz_little_giant_pool": "little_giant",  # 广州市小巨人企业库: the city's 小巨人 list
    "gz_tech_innovation_pool": None,  # 广州市科技创新企业库: no item in the drafter's vocabulary
    "hz_patent_pilot": "patent_pilot",
    "hz_city_hightech_rd_center": "rd_center",
    "national_innovative_enterprise": "innovative_enterprise",
}

# New-language draft atoms that say what a gold unmapped atom of this kind says (and overlap its quote).
CORRESPONDENCE_UNMAPPED: dict[str, list[dict[str, Any]]] = {
    "tax_location": [{"field": "tax_district_code"}],
    "stats_location": [{"field": "stats_district_code"}],
    "premises": [{"field": "office_district_code"}, {"attest": "fixed_premises"}],
    "financial_system": [{"attest": "financial_system"}],
    "independent_accounting": [{"attest": "independent_accounting"}],
    "commitment": [{"attest": "stay_commitment"}],
    "related_party": [{"attest": "no_related_party"}],
    "rd_bookkeeping": [{"attest": "rd_bookkeeping"}],
    "discretionary_review": [{"rule": "review"}],
    "prior_grant_exclusion": [{"rule": "exclusive"}, {"rule": "once"}],
    "event_first_time": [{"field": "certificate", "op": "first_in"}, {"field": "milestone", "op": "first_in"},
                         {"agg": "max"}],
    "event_relocation": [{"field": "milestone", "item": "moved_in"}],
    "event_conversion": [{"field": "milestone", "item": "individual_to_enterprise"}],
    "multi_year_rd": [{"field": "rd_expense", "agg": "sum"}],
    "rd_growth": [{"field": "rd_expense", "measure": "growth"}],  # (a kind of the written clauses only)
    "industry_list_not_coded": [{"op": "in_list"}],
    "no_major_accident_or_violation": [{"field": "penalty"}],
    "local_economic_contribution": [{"field": "tax_local"}],
    "output_value": [{"field": "output_value"}],
    "procurement_volume": [{"field": "local_purchases"}],
    "loan_or_financing": [{"field": "equity_financing"}, {"field": "loans"}],
    "ip_count": [{"field": "invention_patents"}, {"field": "utility_patents"}, {"field": "design_patents"},
                 {"field": "software_copyrights"}],
    "listing_event": [{"field": "milestone", "item": "listed"}, {"field": "milestone", "item": "neeq_listed"},
                      {"field": "milestone", "item": "regional_equity_listed"}],
    "entity_category": [{"field": "certificate", "item": "headquarters"}],  # 非总部型企业 = not (held headquarters)
}


# ---- gold ----------------------------------------------------------------------------------------

def flatten_gold(nodes: list[Any], path: tuple = ()) -> list[dict[str, Any]]:
    """Gold atoms with their path of combinators ((op, index), …); the top list is an implicit all."""
    out = []
    for i, n in enumerate(nodes):
        p = path + (("all", i),)
        out += _walk_gold(n, p)
    return out


def _walk_gold(n: Any, path: tuple) -> list[dict[str, Any]]:
    if "any" in n and all("field" in c and c.get("op") in ("under", "in") for c in n["any"]) and \
            len({(c["field"], c["op"]) for c in n["any"]}) == 1:
        # any(under A, under B) is under [A, B]: one atom over the union (as the drafter writes a list)
        vals: list[Any] = []
        for c in n["any"]:
            vals += c["value"] if isinstance(c["value"], list) else [c["value"]]
        first = n["any"][0]
        return [{**first, "value": vals, "_path": path + (("any", 0),)}]
    if "any" in n or "all" in n:
        op = "any" if "any" in n else "all"
        out = []
        for i, c in enumerate(n[op]):
            out += _walk_gold(c, path + ((op, i),))
        return out
    if "not" in n:
        return _walk_gold(n["not"], path + (("not", 0),))
    return [{**n, "_path": path}]


def locate(quote: str, norm) -> tuple[int, int] | None:
    """The quote's span in the original text: fragments split at …… found in the normalised text."""
    from quanhuiqi.drafting import normalize_clause

    frags = [f for f in quote.replace("……", "…").split("…") if f.strip()]
    spans = []
    for f in frags:
        nf = normalize_clause(f).text.strip()
        if not nf:
            continue
        k = norm.text.find(nf)
        if k >= 0:
            spans.append((k, k + len(nf)))
            continue
        al = fuzz.partial_ratio_alignment(nf, norm.text)
        if al is not None and al.score >= 80:
            spans.append((al.dest_start, al.dest_end))
    if not spans:
        return None
    a, b = min(s for s, _ in spans), max(e for _, e in spans)
    return norm.original_span(a, b)


# ---- matching --------------------------------------------------------------------------------------

def _canon_codes(codes: list[Any]) -> list[Any]:
    """Industry code sets: the divisions that make up a whole section are that section
    (批发零售业 F = 51 + 52), so the same set written two ways compares equal."""
    from quanhuiqi.reference.industries import industry_table

    tab = industry_table()
    out = set(map(str, codes))
    for sec in {c for c in tab["section"]}:
        divs = {c for c, lv, sc in zip(tab["code"], tab["level"], tab["section"]) if lv == 2 and sc == sec}
        if divs and divs <= out:
            out = (out - divs) | {sec}
    return sorted(out)


def _norm_value(v: Any) -> Any:
    if isinstance(v, list | tuple):
        return frozenset(_norm_value(x) for x in v)
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int | float):
        return round(float(v), 6)
    return str(v)


def canonical_today(atom: dict[str, Any], *, new_language: bool) -> list[tuple[str, str, Any]] | None:
    """(field, op, value) triples an atom states in today's terms; None when it says something else.

    ``new_language`` also reads the correspondences of the new language (certificate held, a yearly
    figure of one year, between as ge + le)."""
    a = dict(atom)
    for k in ("ref", "note"):
        a.pop(k, None)
    f, op, v = a.get("field"), a.get("op"), a.get("value")
    if f == "certificate" and op == "held":
        if not new_language:
            return None
        item = a.get("item")
        return [("certifications", "has_any", _norm_value([item]))]
    if new_language and set(a) >= {"field", "op", "value"} and ("year" in a or "years" in a) and \
            "measure" not in a and "agg" not in a and f in ("revenue", "main_revenue", "rd_expense", "total_assets", "employees"):
        return [("revenue" if f == "main_revenue" else f, op, _norm_value(v))]
    if set(a) - {"field", "op", "value"}:
        return None
    if f not in TODAY_FIELDS or op not in TODAY_OPS:
        return None
    if f == "certifications":
        vals = v if isinstance(v, list) else [v]
        if not new_language and not set(vals) <= STANDARD_CERTS:
            return None
        return [("certifications", "has_any" if op in ("has", "has_any") else op, _norm_value(vals))]
    if op == "between":
        return [(f, "ge", _norm_value(v[0])), (f, "le", _norm_value(v[1]))]
    if op in ("under", "not_under", "in", "not_in"):
        vals = v if isinstance(v, list) else [v]
        return [(f, op, _norm_value(_canon_codes(vals) if f == "industry_code" else vals))]
    return [(f, op, _norm_value(v))]


def gold_today(g: dict[str, Any]) -> tuple[str, str, Any]:
    f, op, v = g["field"], g["op"], g["value"]
    if f == "certifications":
        vals = v if isinstance(v, list) else [v]
        vals = [GOLD_LABELS.get(x, x) if x not in STANDARD_CERTS else x for x in vals]
        return ("certifications", "has_any" if op in ("has", "has_any") else op, _norm_value(vals))
    if op in ("under", "not_under", "in", "not_in"):
        vals = v if isinstance(v, list) else [v]
        return (f, op, _norm_value(_canon_codes(vals) if f == "industry_code" else vals))
    return (f, op, _norm_value(v))


def _overlap(a: tuple[int, int] | None, b: tuple[int, int]) -> bool:
    return a is not None and a[0] < b[1] and b[0] < a[1]


def _fits(spec: dict[str, Any], atom: dict[str, Any]) -> bool:
    return all(atom.get(k) == v for k, v in spec.items())


def score_record(rec: dict[str, Any], draft, *, new_language: bool) -> dict[str, Any]:
    from quanhuiqi.drafting import normalize_clause

    norm = normalize_clause(draft.text)
    gold = flatten_gold(rec["gold_conditions"])
    for g in gold:
        g["_span"] = locate(g["unmapped"], norm) if "unmapped" in g else None
    atoms = draft.atoms
    used: set[str] = set()
    matched: dict[int, str] = {}  # gold index → draft atom id
    # 1. mapped gold atoms by value
    for gi, g in enumerate(gold):
        if "unmapped" in g:
            continue
        key = gold_today(g)
        for da in atoms:
            if da.id in used:
                continue
            triples = canonical_today(da.atom, new_language=new_language)
            if triples and key in triples:
                used.add(da.id)
                matched[gi] = da.id
                break
    # 1b. a designation list (has_any [A, B]) said by the draft as alternatives: one held/has atom per item,
    #     in different branches of one `any` (对新认定的国家级小巨人…；对新认定的省级专精特新…: paying tiers)
    paths = _draft_paths(draft)
    for gi, g in enumerate(gold):
        if "unmapped" in g or gi in matched:
            continue
        field, op, want = gold_today(g)
        if field != "certifications" or op != "has_any" or not isinstance(want, frozenset) or len(want) < 2:
            continue
        cands: dict[str, str] = {}  # item → draft atom id
        for da in atoms:
            if da.id in used or da.id not in paths:
                continue
            triples = canonical_today(da.atom, new_language=new_language) or []
            for f, o, v in triples:
                if f == "certifications" and o == "has_any" and len(v) == 1 and next(iter(v)) in want:
                    cands.setdefault(next(iter(v)), da.id)
        if set(cands) != set(want):
            continue
        ids = list(cands.values())
        if all(_lca(paths[x], paths[y]) == "any" for i, x in enumerate(ids) for y in ids[i + 1:]):
            used.update(ids)
            matched[gi] = ids[0]
    # 2. unmapped gold atoms: a new-language atom of the listed form overlapping the quote, or a todo
    found_by_todo: dict[int, str] = {}
    todo_hit: set[str] = set()
    for gi, g in enumerate(gold):
        if "unmapped" not in g:
            continue
        span = g["_span"]
        if new_language:
            for spec in CORRESPONDENCE_UNMAPPED.get(g["kind"], []):
                if "rule" in spec:
                    for r in draft.rules:
                        if r.key == spec["rule"] and _overlap(span, (r.start, r.end)):
                            matched[gi] = f"rule:{r.key}:{r.start}"
                            break
                else:
                    for da in atoms:
                        if da.id not in used and _fits(spec, da.atom) and _overlap(span, (da.start, da.end)):
                            used.add(da.id)
                            matched[gi] = da.id
                            break
                if gi in matched:
                    break
        for td in draft.todos:
            if td.kind == g["kind"] and _overlap(span, (td.start, td.end)):
                todo_hit.add(td.id)
                found_by_todo.setdefault(gi, td.id)
    # precision over draft atoms considered
    considered = [da for da in atoms if new_language or canonical_today(da.atom, new_language=False)]
    gold_fields = {g.get("field") for g in gold if "field" in g} | {
        g.get("suggested_field", "").split(" ")[0] for g in gold if "unmapped" in g}
    jur = str(rec.get("jurisdiction") or "")
    neutral = [da for da in considered if da.id not in used and da.atom.get("field") in LOCATION_FIELDS
               and da.atom.get("value") == [jur] and da.atom.get("field") not in gold_fields]
    neutral_ids = {d.id for d in neutral}
    scored = [da for da in considered if da.id not in neutral_ids]
    rule_matches = {v for v in matched.values() if v.startswith("rule:")}
    # rules (review, exclusive, once) count in precision under (a) only
    rules = [r for r in draft.rules if r.key in ("review", "exclusive", "once")] if new_language else []
    rule_ok = sum(1 for r in rules if any(m.startswith(f"rule:{r.key}:{r.start}") for m in rule_matches))
    mapped_gold = [gi for gi, g in enumerate(gold) if "unmapped" not in g]
    unmapped_gold = [gi for gi, g in enumerate(gold) if "unmapped" in g]
    res = {
        "id": rec["id"],
        "gold_mapped": len(mapped_gold),
        "gold_unmapped": len(unmapped_gold),
        "mapped_found": sum(1 for gi in mapped_gold if gi in matched),
        "draft_atoms": len(scored) + len(rules),
        "draft_atoms_correct": sum(1 for da in scored if da.id in used) + rule_ok,
        "neutral": len(neutral),
        "unmapped_found_by_atom": sum(1 for gi in unmapped_gold if gi in matched),
        "unmapped_found_by_todo": sum(1 for gi in unmapped_gold if gi in found_by_todo),
        "unmapped_found": sum(1 for gi in unmapped_gold if gi in matched or gi in found_by_todo),
        "todos": len(draft.todos),
        "todos_correct": len(todo_hit),
        "unlocated_quotes": sum(1 for gi in unmapped_gold if gold[gi]["_span"] is None),
    }
    # per kind
    kinds: dict[str, Counter] = defaultdict(Counter)
    for gi, g in enumerate(gold):
        k = g["kind"]
        kinds[k]["gold"] += 1
        kinds[k]["found"] += int(gi in matched or gi in found_by_todo)
    for da in scored:
        kinds[da.kind]["drafted"] += 1
        kinds[da.kind]["drafted_correct"] += int(da.id in used)
    res["kinds"] = {k: dict(v) for k, v in kinds.items()}
    res["confidence"] = [(da.confidence, da.id in used) for da in scored]
    res["errors"] = {
        "draft_unmatched": [f"{da.kind} {json.dumps(da.atom, ensure_ascii=False)} «{da.quote[:40]}»"
                            for da in scored if da.id not in used]
        + [f"policy_rule {r.key} «{r.quote[:40]}»" for r in rules
           if not any(m.startswith(f"rule:{r.key}:{r.start}") for m in rule_matches)],
        "gold_missed": [f"{g['kind']} " + (f"«{g['unmapped'][:40]}»" if "unmapped" in g else
                                           f"{g['field']} {g['op']} {g['value']}")
                        for gi, g in enumerate(gold) if gi not in matched and gi not in found_by_todo],
    }
    # structure: pairwise lowest-common-combinator agreement
    pairs = agree = 0
    kind_pairs: dict[str, Counter] = defaultdict(Counter)
    m_items = [(gi, d) for gi, d in matched.items() if d in paths]
    for x in range(len(m_items)):
        for y in range(x + 1, len(m_items)):
            (g1, d1), (g2, d2) = m_items[x], m_items[y]
            if d1 == d2:
                continue
            same = _lca(gold[g1]["_path"], gold[g2]["_path"]) == _lca(paths[d1], paths[d2])
            pairs += 1
            agree += same
            for k in {gold[g1]["kind"], gold[g2]["kind"]}:
                kind_pairs[k]["pairs"] += 1
                kind_pairs[k]["agree"] += same
    res["structure_pairs"], res["structure_agree"] = pairs, agree
    res["structure_kinds"] = {k: dict(v) for k, v in kind_pairs.items()}
    return res


def _draft_paths(draft) -> dict[str, tuple]:
    out: dict[str, tuple] = {}

    def walk(n: Any, path: tuple) -> None:
        for op in ("all", "any"):
            if isinstance(n, dict) and op in n:
                for i, c in enumerate(n[op]):
                    walk(c, path + ((op, i),))
                return
        if isinstance(n, dict) and "not" in n:
            walk(n["not"], path + (("not", 0),))
            return
        if isinstance(n, dict) and "note" in n:
            out[str(n["note"]).split(" ")[0]] = path

    tree = draft.policy.get("eligibility")
    walk(tree if tree is not None and ("all" in tree or "any" in tree) else {"all": [tree]}, ())
    return out


def _lca(p1: tuple, p2: tuple) -> str:
    """The op of the deepest combinator both paths pass through ('all' at the implicit root)."""
    op = "all"
    for a, b in zip(p1, p2):
        if a[0] != b[0]:
            break
        op = a[0]
        if a[1] != b[1]:
            break
    return op


# ---- aggregation ------------------------------------------------------------------------------------

def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    s = Counter()
    kinds: dict[str, Counter] = defaultdict(Counter)
    skinds: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        for k, v in r.items():
            if isinstance(v, int):
                s[k] += v
        for k, c in r["kinds"].items():
            kinds[k].update(c)
        for k, c in r["structure_kinds"].items():
            skinds[k].update(c)

    def div(a: float, b: float) -> float | None:
        return round(a / b, 4) if b else None

    conf: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        for c, ok in r.get("confidence", []):
            band = "≥0.85" if c >= 0.85 else ("0.75–0.85" if c >= 0.75 else ("0.65–0.75" if c >= 0.65 else "<0.65"))
            conf[band]["n"] += 1
            conf[band]["correct"] += ok

    out = {
        "clauses": len(rows),
        "mapped_precision": div(s["draft_atoms_correct"], s["draft_atoms"]),
        "mapped_recall": div(s["mapped_found"], s["gold_mapped"]),
        "todo_recall": div(s["unmapped_found"], s["gold_unmapped"]),
        "todo_recall_by_todo_only": div(s["unmapped_found_by_todo"], s["gold_unmapped"]),
        "todo_precision": div(s["todos_correct"], s["todos"]),
        "structure_accuracy": div(s["structure_agree"], s["structure_pairs"]),
        "counts": dict(s),
        "per_kind": {k: {"gold": c["gold"], "recall": div(c["found"], c["gold"]), "drafted": c["drafted"],
                         "precision": div(c["drafted_correct"], c["drafted"])} for k, c in sorted(kinds.items())},
        "structure_per_kind": {k: {"pairs": c["pairs"], "accuracy": div(c["agree"], c["pairs"])}
                               for k, c in sorted(skinds.items())},
        "precision_by_confidence": {b: {"atoms": c["n"], "precision": div(c["correct"], c["n"])}
                                    for b, c in sorted(conf.items())},
    }
    return out


def draft_record(rec: dict[str, Any]):
    from quanhuiqi.drafting import draft_policy

    text = rec["clause_text"]
    if rec.get("benefit_text"):
        text = text + "\n奖励标准:" + rec["benefit_text"]
    return draft_policy(text, source=rec["id"], jurisdiction=str(rec.get("jurisdiction") or "") or None)


def load_written(path: Path) -> list[dict[str, Any]]:
    """The clauses written for the tests (tests/drafting/data/written_clauses.yaml): dev-set records
    with a ``split`` of ``tune`` (their errors were read) or ``sealed`` (only their scores are)."""
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8")) or []


def is_tune(rec_id: str) -> bool:
    """The records whose errors the rules were written from: Jinan, Nansha and the written tune set."""
    return rec_id.startswith(("JN-", "NS-", "WA-"))


def per_city(rows: list[dict[str, Any]], recs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each city scored on its own and the scores averaged over cities (every city weighs the same,
    as if each were the one left out): over all cities, and over the cities never tuned on."""
    city_of = {r["id"]: r.get("city") or r["id"].split("-")[0] for r in recs}
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by[city_of[row["id"]]].append(row)
    cities = {c: aggregate(rs) for c, rs in sorted(by.items())}
    tuned = {c for c, rs in by.items() if any(is_tune(r["id"]) for r in rs)}

    def mean(names: list[str], key: str) -> float | None:
        vals = [cities[c][key] for c in names if cities[c][key] is not None]
        return round(sum(vals) / len(vals), 4) if vals else None

    out: dict[str, Any] = {}
    for name, names in (("all_cities", sorted(cities)), ("untuned_cities", sorted(set(cities) - tuned))):
        out[name] = {"cities": len(names), **{k: mean(names, k) for k in
                     ("mapped_precision", "mapped_recall", "todo_recall", "todo_precision", "structure_accuracy")}}
    out["per_city"] = {c: {"clauses": a["clauses"], "tuned": c in tuned, "mapped_precision": a["mapped_precision"],
                           "mapped_recall": a["mapped_recall"], "todo_recall": a["todo_recall"]}
                       for c, a in cities.items()}
    return out


def print_errors(rows: list[dict[str, Any]]) -> None:
    """The extra (false-positive) and missed atoms of the given rows: every extra atom, grouped by
    the kind the drafter gave it, then each clause's misses."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        for e in row["errors"]["draft_unmatched"]:
            by_kind[e.split(" ", 1)[0]].append(f"{row['id']}: {e.split(' ', 1)[1]}")
    n = sum(len(v) for v in by_kind.values())
    print(f"== extra atoms (false positives): {n}")
    for kind, es in sorted(by_kind.items(), key=lambda kv: -len(kv[1])):
        print(f"-- {kind} ({len(es)})")
        for e in es:
            print("   ", e)
    print("== missed gold atoms")
    for row in rows:
        for e in row["errors"]["gold_missed"]:
            print(f"    {row['id']}: {e}")


SPLITS = ("all", "tune_jinan_nansha", "held_out_other_cities")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dev", default=str(DEFAULT_DEV))
    p.add_argument("--written", default=str(ROOT / "tests" / "drafting" / "data" / "written_clauses.yaml"),
                   help="clauses written for the tests, with gold (split tune / sealed)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "policy_drafting.json"))
    p.add_argument("--speed", type=int, default=1000, help="clauses to draft for the timing (0: skip)")
    p.add_argument("--show", action="store_true", help="print the errors of the Jinan and Nansha clauses")
    p.add_argument("--show-held-out", action="store_true", help="with --show: the held-out clauses' errors too")
    p.add_argument("--sealed", action="store_true",
                   help="also score the sealed written clauses (each batch and together): do this once, at the end "
                        "of a round of rule writing, so that their scores stay an estimate for unseen policies")
    p.add_argument("--errors", action="store_true",
                   help="print the extra atoms grouped by kind, and the misses, of the tune records only "
                        "(Jinan, Nansha, written tune): never the held-out or sealed ones")
    args = p.parse_args(argv)
    dev = Path(args.dev)
    if not dev.exists():
        print(f"{dev}: not found — the real clauses are not shipped; pass --dev PATH", file=sys.stderr)
        return 2
    recs = [json.loads(line) for line in dev.read_text(encoding="utf-8").splitlines() if line.strip()]
    written = load_written(Path(args.written)) if args.written and Path(args.written).exists() else []
    drafts = [draft_record(r) for r in recs]
    wdrafts = [draft_record(r) for r in written]
    result: dict[str, Any] = {"dev": str(dev), "written": args.written if written else None, "loadavg": os.getloadavg()}
    for name, new in (("as_written", True), ("today", False)):
        rows = [score_record(r, d, new_language=new) for r, d in zip(recs, drafts)]
        wrows = [score_record(r, d, new_language=new) for r, d in zip(written, wdrafts)]
        tune = [row for row in rows if is_tune(row["id"])]
        held = [row for row in rows if not is_tune(row["id"])]
        result[name] = {"all": aggregate(rows), "tune_jinan_nansha": aggregate(tune), "held_out_other_cities": aggregate(held),
                        "by_city": per_city(rows, recs)}
        if written:
            split = {r["id"]: r.get("split") for r in written}
            result[name]["written_tune"] = aggregate([w for w in wrows if split[w["id"]] == "tune"])
            if args.sealed:
                sealed = [w for w in wrows if split[w["id"]] == "sealed"]
                result[name]["written_sealed"] = aggregate(sealed)
                for batch in sorted({w["id"].split("-")[0] for w in sealed}):
                    result[name][f"written_sealed_{batch}"] = aggregate([w for w in sealed if w["id"].startswith(batch + "-")])
        if args.errors and name == "as_written":
            print_errors(tune + [w for w in wrows if is_tune(w["id"])])
        if args.show and name == "as_written":
            for row in rows:
                if args.show_held_out or row["id"].startswith(("JN-", "NS-")):
                    print(row["id"])
                    for e in row["errors"]["draft_unmatched"]:
                        print("   EXTRA", e)
                    for e in row["errors"]["gold_missed"]:
                        print("   MISSED", e)
    if args.speed:
        texts = [d.text for d in drafts]
        from quanhuiqi.drafting import draft_policy

        draft_policy(texts[0])  # warm the caches (vocabularies, place and industry indexes)
        load_before = os.getloadavg()
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(args.speed):
            draft_policy(texts[i % len(texts)], source=f"c{i}")
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        # CPU seconds beside wall time: on a shared machine the wall time is inflated by the others' load
        result["speed"] = {"clauses": args.speed, "seconds": round(dt, 3), "cpu_seconds": round(cpu, 3),
                           "per_clause_ms": round(1000 * dt / args.speed, 3), "processes": 1,
                           "loadavg_before": load_before, "loadavg_after": os.getloadavg()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for name in ("as_written", "today"):
        parts = SPLITS + tuple(k for k in result[name] if k.startswith("written_"))
        for part in parts:
            a = result[name][part]
            print(f"{name:10s} {part:22s} mapped P {a['mapped_precision']} R {a['mapped_recall']} · todo R "
                  f"{a['todo_recall']} P {a['todo_precision']} · structure {a['structure_accuracy']}")
        for part in ("all_cities", "untuned_cities"):
            a = result[name]["by_city"][part]
            print(f"{name:10s} {'city mean, ' + part:22s} mapped P {a['mapped_precision']} R {a['mapped_recall']} · "
                  f"todo R {a['todo_recall']} ({a['cities']} cities)")
    if "speed" in result:
        print(f"speed: {result['speed']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
