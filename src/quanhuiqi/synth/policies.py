"""The synthetic city's policy book: ~60 hand-written policies and generated variants.

The hand-written files in ``synth/data/policies/`` are modelled on real Chinese enterprise policies
(稳岗返还, 一次性扩岗补助, 高企认定奖励, 专精特新奖补, 首次升规奖励, …) and written in the DESIGN policy
language, each with ``ref`` clauses, a benefit rule and embedded tests.  ``generate_policies`` makes
any number of variants of them for benchmarks (2,000-policy books) by varying thresholds on the
city's extra facts, the district, the validity window and the amount, rewriting the embedded tests
so that every variant still checks itself.
"""

from __future__ import annotations

import copy
import datetime as dt
import shutil
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from quanhuiqi.synth.enterprises import DISTRICT_WEIGHTS, EXTRA_COLUMNS

# Thresholds on these facts may be scaled in variants: they feed no derived field, so scaling the
# threshold and the test facts by the same factor keeps every test's verdict.
_SCALABLE = set(EXTRA_COLUMNS) | {"insured_employees", "insured_months", "tax_paid", "registered_capital"}


def policy_dir() -> Path:
    """The shipped folder of hand-written policies (YAML + fields.yaml)."""
    return Path(str(resources.files("quanhuiqi.synth").joinpath("data").joinpath("policies")))


@cache
def _template_docs() -> tuple[dict[str, Any], ...]:
    docs: list[dict[str, Any]] = []
    for path in sorted(policy_dir().glob("*.yaml")):
        if path.name == "fields.yaml":
            continue
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        docs.extend(loaded if isinstance(loaded, list) else [loaded])
    return tuple(docs)


def template_policies() -> list[dict[str, Any]]:
    """The hand-written policies as plain dicts (deep copies)."""
    return copy.deepcopy(list(_template_docs()))


def copy_policy_book(out_dir: str | Path) -> Path:
    """Copy the hand-written book (policies + fields.yaml + sources.csv) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(policy_dir().glob("*.yaml")):
        shutil.copyfile(path, out / path.name)
    shutil.copyfile(policy_dir() / "sources.csv", out / "sources.csv")  # where the city's own facts come from
    return out


def _walk(node: Any):
    if isinstance(node, dict):
        if "field" in node:
            yield node
        for key in ("all", "any"):
            for child in node.get(key, []) or []:
                yield from _walk(child)
        if "not" in node:
            yield from _walk(node["not"])


def generate_policies(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` variant policies (dicts in the policy language) derived from the hand-written ones.

    Variant ``k`` of template ``t``: id ``{t.id}-V{k:05d}``; thresholds on scalable facts × U(0.6, 1.6)
    (test facts scaled alike); with probability 0.5 a city-wide policy is narrowed to one district
    (test facts moved there); the window is shifted by −90…+90 days; the cap × U(0.5, 2).
    """
    rng = np.random.default_rng([seed, 7])
    templates = _template_docs()
    districts = list(DISTRICT_WEIGHTS)
    out: list[dict[str, Any]] = []
    for k in range(n):
        doc = copy.deepcopy(templates[k % len(templates)])
        doc["id"] = f"{doc['id']}-V{k:05d}"
        doc["title"] = f"{doc['title']}（{k // len(templates) + 1}期）"
        tests = doc.get("tests") or []
        # thresholds
        for atom in _walk(doc["eligibility"]):
            if atom["field"] in _SCALABLE and atom["op"] in ("ge", "gt", "le", "lt") and atom["value"]:
                factor = float(np.round(rng.uniform(0.6, 1.6), 2))
                atom["value"] = round(float(atom["value"]) * factor, 4)
                for t in tests:
                    if atom["field"] in t["facts"] and t["facts"][atom["field"]] is not None:
                        t["facts"][atom["field"]] = round(float(t["facts"][atom["field"]]) * factor, 4)
        # district
        city_wide = [a for a in _walk(doc["eligibility"])
                     if a["field"] == "district_code" and a["op"] == "under" and a["value"] == ["3701"]]
        if city_wide and rng.random() < 0.5:
            d = districts[int(rng.integers(len(districts)))]
            for a in city_wide:
                a["value"] = [d]
            for t in tests:
                if "district_code" in t["facts"]:
                    t["facts"]["district_code"] = d
        # window
        shift = dt.timedelta(days=int(rng.integers(-90, 91)))
        for key in ("valid_from", "valid_to"):
            if doc.get(key):
                doc[key] = pd.Timestamp(doc[key]).date() + shift
        for t in tests:  # tests run at a date inside the window
            t.setdefault("as_of", doc.get("valid_from"))
        if doc.get("benefit", {}).get("max_amount"):
            doc["benefit"]["max_amount"] = round(float(doc["benefit"]["max_amount"]) * rng.uniform(0.5, 2.0), 1)
        out.append(doc)
    return out


def write_policies(policies: list[dict[str, Any]], out_dir: str | Path, per_file: int = 100) -> Path:
    """Write policies as YAML lists (``per_file`` per file) plus the city's ``fields.yaml`` and ``sources.csv``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(policy_dir() / "fields.yaml", out / "fields.yaml")
    shutil.copyfile(policy_dir() / "sources.csv", out / "sources.csv")
    for i in range(0, len(policies), per_file):
        chunk = policies[i : i + per_file]
        (out / f"policies_{i // per_file:03d}.yaml").write_text(
            yaml.safe_dump(chunk, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


# --- policy structure used by the latent preference model ----------------------------------------------
def policy_targets(doc: dict[str, Any]) -> dict[str, Any]:
    """What a policy aims at, read from its tree: industry prefixes, certifications, chains, districts.

    Only positive atoms count (atoms under ``not`` are exclusions, not targets).
    """
    industries: set[str] = set()
    certs: set[str] = set()
    chains: set[str] = set()
    districts: set[str] = set()

    def visit(node: Any, negated: bool) -> None:
        if not isinstance(node, dict):
            return
        if "field" in node:
            if negated:
                return
            f, op, v = node["field"], node["op"], node.get("value")
            vals = v if isinstance(v, list) else [v]
            if f == "industry_code" and op == "under":
                industries.update(str(x).lstrip("ABCDEFGHIJKLMNOPQRST") or str(x) for x in vals)
            elif f in ("industry_section", "industry_division") and op in ("eq", "in"):
                industries.update(str(x) for x in vals)
            elif f == "certifications" and op in ("has", "has_any", "has_all"):
                certs.update(str(x) for x in vals)
            elif f == "chains" and op in ("has", "has_any", "has_all"):
                chains.update(str(x) for x in vals)
            elif f == "district_code" and op == "under":
                districts.update(str(x) for x in vals)
            return
        for key in ("all", "any"):
            for child in node.get(key, []) or []:
                visit(child, negated)
        if "not" in node:
            visit(node["not"], not negated)

    visit(doc.get("eligibility", {}), False)
    return {"industries": sorted(industries), "certifications": sorted(certs), "chains": sorted(chains),
            "districts": sorted(districts)}


def policy_table(docs: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per policy: id, department, mode, window, benefit rule and targets (``;``-joined)."""
    rows = []
    for d in docs:
        b = d.get("benefit") or {}
        t = policy_targets(d)
        rows.append({
            "policy_id": d["id"], "title": d["title"], "department": d["department"], "mode": d["mode"],
            "valid_from": pd.Timestamp(d["valid_from"]), "valid_to": pd.Timestamp(d["valid_to"]),
            "benefit_kind": b.get("kind"),
            "max_amount": float(b.get("max_amount") or 0.0), "amount_rate": float(b.get("rate") or np.nan),
            "amount_base": b.get("base"),
            **{f"target_{k}": ";".join(v) for k, v in t.items()},
        })
    return pd.DataFrame(rows)
