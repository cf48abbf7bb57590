"""``generate_city``: a whole synthetic city written as the daily job's data directory."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pandas as pd

from quanhuiqi.reference.industries import industry_table
from quanhuiqi.synth.enterprises import simulate_enterprises
from quanhuiqi.synth.facts import fact_tables
from quanhuiqi.synth.policies import copy_policy_book, policy_table, template_policies
from quanhuiqi.synth.postings import generate_posting_interactions, generate_postings
from quanhuiqi.synth.preference import (
    RANK,
    chains_of,
    dept_affinity_table,
    enterprise_tastes,
    reputation_rating_part,
    write_truth,
)
from quanhuiqi.tables.columns import DATA_FILES
from quanhuiqi.tables.io import write_table


def enterprise_truth(true: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The true table plus what the latent model reads: section, chains, latent tastes z (policies)
    and w (postings), and the tastes history reveals (``enterprise_tastes``)."""
    rng = np.random.default_rng([seed, 13])
    t = true.copy()
    t["section"] = pd.array(industry_table().loc[t["industry_code"].to_numpy(), "section"].to_numpy(), dtype="string")
    t["chains"] = chains_of(t["industry_code"])
    z = rng.normal(0, 1, (len(t), RANK))
    for k in range(RANK):
        t[f"z{k}"] = z[:, k]
    w = rng.normal(0, 1, (len(t), 2))
    t["w0"], t["w1"] = w[:, 0], w[:, 1]
    # revealed-preference tastes: a stream of their own, so the draws above are unchanged
    tastes = enterprise_tastes(t["section"], np.random.default_rng([seed, 29]))
    tastes["reputation"] += reputation_rating_part(t["tax_credit_rating"])
    return pd.concat([t, tastes], axis=1)


def policy_truth(docs: list[dict], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 19])
    p = policy_table(docs)
    q = rng.normal(0, 1, (len(p), RANK))
    for k in range(RANK):
        p[f"q{k}"] = q[:, k]
    return p


def generate_city(out_dir: str | Path, n_enterprises: int = 5000, seed: int = 0,
                  as_of: dt.date | str = "2025-07-01", history_days: int = 120, *,
                  history: bool = True, appeal_issues: int = 0) -> str:
    """Write a synthetic city (``DATA_FILES`` layout plus ``truth/``) and return a short summary.

    Deterministic for a seed.  ``history=False`` skips the push history (which runs the real
    eligibility pipeline at weekly snapshots) and writes empty history tables.  ``appeal_issues`` > 0 plants
    that many issues (类问题, with bursts) in the appeals (:func:`~quanhuiqi.synth.appeals.generate_appeals`,
    ``issues=``; the truth in ``truth/appeal_issues_true.parquet``); the background appeals stay the same.
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    as_of_ts = pd.Timestamp(as_of)
    raw, true = simulate_enterprises(n_enterprises, seed, as_of_ts)
    ent_truth = enterprise_truth(true, seed)
    write_table(raw, out / DATA_FILES["enterprises"])
    facts_true, facts_seen = fact_tables(true, seed, as_of_ts)
    (out / DATA_FILES["truth"]).mkdir(parents=True, exist_ok=True)
    for name, table in facts_seen.items():
        write_table(table, out / DATA_FILES[name])
        write_table(facts_true[name], out / DATA_FILES["truth"] / f"{name}_true.parquet")

    pol_dir = copy_policy_book(out / DATA_FILES["policies"])
    docs = template_policies()
    pol_truth = policy_truth(docs, seed)
    aff = dept_affinity_table(np.random.default_rng([seed, 23]), pol_truth["department"].tolist())

    postings, post_truth = generate_postings(ent_truth, seed, as_of_ts, history_days)
    write_table(postings, out / DATA_FILES["postings"])
    inter = generate_posting_interactions(post_truth, ent_truth, seed, as_of_ts, history_days, with_exploration=True)
    posting_logging = inter[["date", "demand_id", "supply_id", "explored"]].copy()
    inter = inter.drop(columns="explored")
    write_table(inter, out / DATA_FILES["posting_interactions"])

    if history:
        hist = _policy_history(out, pol_dir, raw, true, ent_truth, pol_truth, aff, seed, as_of_ts, history_days)
    else:
        from quanhuiqi.tables.columns import GRANT_COLUMNS, PUSH_HISTORY_COLUMNS, SUPPRESSION_COLUMNS

        hist = {"push_history": pd.DataFrame(columns=PUSH_HISTORY_COLUMNS),
                "grants": pd.DataFrame(columns=GRANT_COLUMNS),
                "suppressions": pd.DataFrame(columns=SUPPRESSION_COLUMNS),
                "eligible_true": pd.DataFrame({"uscc": pd.Series(dtype="string"),
                                               "policy_id": pd.Series(dtype="string")}),
                "push_logging": pd.DataFrame({"date": pd.Series(dtype="string"), "uscc": pd.Series(dtype="string"),
                                              "policy_id": pd.Series(dtype="string"),
                                              "explored": pd.Series(dtype=bool)})}
    write_table(hist["push_history"], out / DATA_FILES["push_history"])
    write_table(hist["grants"], out / DATA_FILES["grants"])
    write_table(hist["suppressions"], out / DATA_FILES["suppressions"])

    truth_ent = ent_truth.drop(columns=["name"])
    post_truth_out = post_truth.copy()
    for c in ("posted_on", "expires_on"):
        post_truth_out[c] = pd.to_datetime(post_truth_out[c])
    write_truth(out / DATA_FILES["truth"], enterprises=truth_ent, policies=pol_truth, dept_affinity=aff,
                eligible=hist["eligible_true"], postings=post_truth_out,
                logging={"push_logging": hist["push_logging"], "posting_logging": posting_logging},
                params={"seed": seed, "n_enterprises": n_enterprises, "as_of": str(as_of_ts.date()),
                        "history_days": history_days, "history": history,
                        **({"appeal_issues": appeal_issues} if appeal_issues else {})})
    from quanhuiqi.synth.appeals import write_appeals

    appeals = write_appeals(out, seed=seed, as_of=str(as_of_ts.date()), days=history_days, issues=appeal_issues)
    ph = hist["push_history"]
    secs = time.perf_counter() - t0
    # the book's windows are those of its templates (2025, shifted by up to 90 days): a city generated for a
    # later day has policies that have all ended, and says so
    in_force = int(((pol_truth["valid_from"] <= as_of_ts) & (as_of_ts <= pol_truth["valid_to"])).sum())
    return (f"synthetic city (seed {seed}, as_of {as_of_ts.date()}) in {out}: {len(raw)} enterprises, "
            f"{len(pol_truth)} policies ({in_force} in force on {as_of_ts.date()}), {len(postings)} postings, "
            f"{len(inter)} posting interactions, "
            f"{len(ph)} pushes ({int(ph['clicked'].sum()) if len(ph) else 0} clicked, "
            f"{int(ph['applied'].sum()) if len(ph) else 0} applied, {int(ph['approved'].sum()) if len(ph) else 0} approved), "
            f"{len(hist['grants'])} grants, {len(hist['suppressions'])} suppressions, "
            f"{sum(len(t) for t in facts_seen.values())} fact-table rows, {appeals}; {secs:.1f} s")


def _policy_history(out: Path, pol_dir: Path, raw: pd.DataFrame, true: pd.DataFrame, ent_truth: pd.DataFrame,
                    pol_truth: pd.DataFrame, aff: pd.DataFrame, seed: int, as_of: pd.Timestamp,
                    history_days: int) -> dict[str, pd.DataFrame]:
    """Run the real pipeline: observed data as the platform reads it (the CSV just written), truth
    on the complete canonical facts."""
    from quanhuiqi.policy import load_book
    from quanhuiqi.synth.history import simulate_history
    from quanhuiqi.tables import read_table, validate_enterprises

    book = load_book(pol_dir)
    observed = read_table(out / DATA_FILES["enterprises"])
    clean = validate_enterprises(observed, as_of.date()).clean
    true_in = true.drop(columns=["status_true", "engagement"])
    true_clean = validate_enterprises(true_in, as_of.date(), source="truth").clean
    return simulate_history(book, clean, true_clean, ent_truth, pol_truth, aff, seed, as_of.date(), history_days)
