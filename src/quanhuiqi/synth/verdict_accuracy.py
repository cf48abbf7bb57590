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


def verdict_accuracy(data_dir: str | Path, as_of: dt.date | str) -> tuple[dict[str, float], pd.DataFrame]:
    """(counts, the wrongly decided pairs with their policy's mode and the error) for ``data_dir`` at
    ``as_of``, over the active policies and the enterprises that pass validation."""
    from quanhuiqi.eligibility import evaluate
    from quanhuiqi.eligibility.batch import as_date
    from quanhuiqi.policy import load_book
    from quanhuiqi.profile import profile
    from quanhuiqi.tables import read_enterprises, validate_enterprises

    data = Path(data_dir)
    day = as_date(as_of)
    book = load_book(data / "policies")
    prof = profile(validate_enterprises(read_enterprises(data / "enterprises.csv"), day).clean, day)
    pairs = evaluate(book, prof, day, near_misses=False, evidence=False).pairs
    active = {p.id: p.mode for p in book.items if p.active(day)}
    truth = pd.read_parquet(data / "truth" / "eligible_true.parquet")
    if truth.empty:
        raise ValueError(f"{data / 'truth' / 'eligible_true.parquet'}: no true eligibility recorded "
                         "(a city generated with history=False): nothing to compare the verdicts with")
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
