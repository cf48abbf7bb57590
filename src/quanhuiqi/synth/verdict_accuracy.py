"""How right the eligibility verdicts are on a synthetic city: the engine on the messy, incomplete
data the platform receives, against true eligibility on the complete canonical facts (``truth/``).

The two costly errors (the brief: a firm wrongly granted, a firm wrongly missed) are counted apart:
``wrongly_eligible`` — proven eligible on the data, not eligible in truth (a 免申即享 grant would be
wrong); ``wrongly_ineligible`` — eligible in truth, ruled out on the data (never shown). A truly
eligible pair that is *undetermined* is not missed: it is shown with the facts to supply.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd


def verdict_accuracy(data_dir: str | Path, as_of: dt.date | str,
                     policies: str | Path | None = None) -> tuple[dict[str, float], pd.DataFrame]:
    """(counts, the wrongly decided pairs with their policy's mode and the error) for ``data_dir`` at
    ``as_of``, over the active policies and the enterprises that pass validation.

    The platform's side reads the enterprise table and the fact tables as exported (``load_fact_tables``).
    The truth is ``truth/eligible_true.parquet`` for the city's own book; for another book (``policies``, e.g. the
    real book in ``data_samples/policies_real``) it is the same engine on the complete canonical facts: the true
    enterprise table and the true fact tables of ``truth/``."""
    from quanhuiqi.eligibility import evaluate
    from quanhuiqi.eligibility.batch import as_date
    from quanhuiqi.policy import load_book
    from quanhuiqi.profile import profile
    from quanhuiqi.tables import read_enterprises, validate_enterprises
    from quanhuiqi.tables.facts import load_fact_tables

    data = Path(data_dir)
    day = as_date(as_of)
    book = load_book(Path(policies) if policies is not None else data / "policies")
    clean = validate_enterprises(read_enterprises(data / "enterprises.csv"), day).clean
    prof = profile(clean, day)
    facts, _ = load_fact_tables(data, day, clean, book.table_vocabularies())
    pairs = evaluate(book, prof, day, near_misses=False, evidence=False, facts=facts).pairs
    active = {p.id: p.mode for p in book.items if p.active(day)}
    if policies is None:
        truth = pd.read_parquet(data / "truth" / "eligible_true.parquet")
        if truth.empty:
            raise ValueError(f"{data / 'truth' / 'eligible_true.parquet'}: no true eligibility recorded "
                             "(a city generated with history=False): nothing to compare the verdicts with")
    else:
        truth = true_eligibility(book, data / "truth", day)
    truth = truth[truth["policy_id"].isin(active) & truth["uscc"].isin(prof["uscc"])]
    key = ["uscc", "policy_id"]
    got = pairs[key + ["verdict"]].astype({"uscc": "string", "policy_id": "string", "verdict": "string"})
    true = truth[key].astype("string").assign(true_eligible=True)
    m = got.merge(true, on=key, how="outer")
    m["true_eligible"] = m["true_eligible"].fillna(False).astype(bool)
    m["verdict"] = m["verdict"].fillna("ineligible")
    wrong_yes = (m["verdict"] == "eligible") & ~m["true_eligible"]
    wrong_no = (m["verdict"] == "ineligible") & m["true_eligible"]
    mode = m["policy_id"].map(active)
    counts = {
        "enterprises": len(prof), "active_policies": len(active), "truly_eligible_pairs": int(m["true_eligible"].sum()),
        "eligible": int((m["verdict"] == "eligible").sum()), "undetermined": int((m["verdict"] == "undetermined").sum()),
        "wrongly_eligible": int(wrong_yes.sum()), "wrongly_eligible_auto": int((wrong_yes & (mode == "auto")).sum()),
        "wrongly_ineligible": int(wrong_no.sum()),
        "truly_eligible_found_eligible": int(((m["verdict"] == "eligible") & m["true_eligible"]).sum()),
        "truly_eligible_undetermined": int(((m["verdict"] == "undetermined") & m["true_eligible"]).sum()),
    }
    counts["eligible_precision"] = (counts["truly_eligible_found_eligible"] / counts["eligible"]
                                    if counts["eligible"] else float("nan"))
    counts["truly_eligible_not_ruled_out"] = 1 - counts["wrongly_ineligible"] / max(counts["truly_eligible_pairs"], 1)
    bad = (wrong_yes | wrong_no).to_numpy(dtype=bool)
    errors = m.loc[bad, key].assign(
        mode=mode[bad].to_numpy(),
        error=pd.array(np.where(wrong_yes.to_numpy(dtype=bool)[bad], "wrongly_eligible", "wrongly_ineligible"),
                       dtype="string"))
    return counts, errors.reset_index(drop=True)


def true_eligibility(book, truth_dir: Path, day: dt.date) -> pd.DataFrame:
    """``uscc, policy_id`` of the pairs eligible on the complete canonical facts (windows ignored, as
    ``eligible_true.parquet``): the true enterprise table and the true fact tables."""
    from quanhuiqi.eligibility import evaluate
    from quanhuiqi.profile import profile
    from quanhuiqi.tables import validate_enterprises
    from quanhuiqi.tables.columns import ENTERPRISE_COLUMNS
    from quanhuiqi.tables.facts import FACT_FILES, FactTables, validate_fact_table

    true = pd.read_parquet(truth_dir / "enterprises_true.parquet")
    true = true[[c for c in true.columns if c in ENTERPRISE_COLUMNS or c not in _LATENT]]
    true = true.assign(name="企业")  # names are not kept in the truth
    clean = validate_enterprises(true.astype({c: "string" for c in true.columns if true[c].dtype == object}), day,
                                 source="truth").clean
    facts = FactTables()
    vocab = book.table_vocabularies()
    for name in FACT_FILES:
        path = truth_dir / f"{name}_true.parquet"
        if path.exists():
            raw = pd.read_parquet(path)
            raw = raw.astype({c: "string" for c in raw.columns if raw[c].dtype == object})
            setattr(facts, name, validate_fact_table(name, raw, day, clean["uscc"], name, vocab).clean)
    prof = profile(clean, day)
    from dataclasses import replace

    from quanhuiqi.policy import PolicyBook

    open_items = [replace(p, valid_from=None, valid_to=None) for p in book.items]  # windows ignored
    whole = PolicyBook(open_items, book.fields, book.version, book.directory, book.vocabularies)
    pairs = evaluate(whole, prof, day, near_misses=False, evidence=False, facts=facts).pairs
    return pairs.loc[pairs["verdict"] == "eligible", ["uscc", "policy_id"]].astype("string").reset_index(drop=True)


_LATENT = {"status_true", "section", "chains", "engagement", "reputation", "apply_taste", "w0", "w1"} | {
    f"z{k}" for k in range(8)} | {f"dept_taste_{k}" for k in range(20)} | {f"kind_taste_{k}" for k in range(8)}
