"""The command line: a thin shell over the library (DESIGN.md's contract).

Exit status: 0 done; 1 the input was refused (the message on stderr names the file, row or
policy and the reason); 2 usage error.  Each handler reads, calls the library, writes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import sys
from collections.abc import Sequence
from pathlib import Path

from quanhuiqi.process import batch_settings


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from exc


def _default_rejects(out: str) -> Path:
    p = Path(out)
    return p.with_name(p.stem + ".rejects" + p.suffix)


def cmd_profile(args: argparse.Namespace) -> int:
    from quanhuiqi.profile import profile_enterprises_file

    summary = profile_enterprises_file(
        args.enterprises, as_of=args.as_of, out=args.out, rejects=args.rejects or _default_rejects(args.out),
        encoding=args.encoding,
    )
    print(summary)
    return 0


def cmd_policy_check(args: argparse.Namespace) -> int:
    from quanhuiqi.policy import check_book

    report = check_book(args.dir, allow_drafts=args.drafts)
    print(report.text())
    return 0 if report.ok else 1


def cmd_policy_draft(args: argparse.Namespace) -> int:
    from quanhuiqi.drafting import draft_files

    run = draft_files(args.text, args.out, html=args.html, jurisdiction=args.jurisdiction,
                      department=args.department or "")
    print(run.text())
    if run.html:
        print(f"review page: {run.html}")
    return 0 if run.ok else 1


def cmd_policy_simulate(args: argparse.Namespace) -> int:
    from quanhuiqi.simulate import simulate_dir

    print(simulate_dir(args.policies, args.data, args.as_of, args.out, vary=args.vary, estimator=args.estimator,
                       encoding=args.encoding))


def cmd_policy_readiness(args: argparse.Namespace) -> int:
    from quanhuiqi.policy.readiness import readiness_file

    print(readiness_file(args.policies, args.data, as_of=args.as_of, out=args.out, html=args.html,
                         actions=args.actions, sources=args.sources, donor_pool=args.donors, seed=args.seed,
                         encoding=args.encoding))
    return 0


def cmd_eligibility(args: argparse.Namespace) -> int:
    from quanhuiqi.eligibility import eligibility_file

    summary = eligibility_file(
        args.enterprises,
        args.policies,
        as_of=args.as_of,
        out=args.out,
        near_miss=args.near_miss,
        rejects=args.rejects or _default_rejects(args.out),
        encoding=args.encoding,
    )
    print(summary)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from quanhuiqi.tables.io import InputError

    extra: dict[str, object] = {}
    if args.what == "appeals":
        from quanhuiqi.appeals import train_appeals_cli

        if args.no_firm_effects:
            raise InputError("--no-firm-effects applies to the policy ranker only")
        print(train_appeals_cli(args.data, register=args.register, alias=args.alias, cv=args.cv,
                                department_map=args.department_map, triage_rules=args.triage_rules,
                                params=_params(args.param), encoding=args.encoding))
        return 0
    if args.cv or args.department_map or args.triage_rules:
        raise InputError("--cv, --department-map and --triage-rules apply to train appeals only")
    # a synthetic city's truth/ grades the candidates too (the product itself never reads it)
    if args.what == "ranker":
        from quanhuiqi.rank import train_ranker_cli as train
        from quanhuiqi.synth.truth import PolicyTruth

        extra["firm_effects"] = not args.no_firm_effects
        extra["truth"] = PolicyTruth.of_city(args.data)
    else:
        from quanhuiqi.postings import train_postings_cli as train
        from quanhuiqi.synth.truth import PostingTruth

        if args.no_firm_effects:
            raise InputError("--no-firm-effects applies to the policy ranker only")
        extra["truth"] = PostingTruth.of_city(args.data)
    print(train(args.data, register=args.register, alias=args.alias, threads=args.threads,
                params=_params(args.param), encoding=args.encoding, **extra))
    return 0


def _params(pairs: list[str] | None) -> dict[str, object]:
    """``--param num_leaves=15`` → {"num_leaves": 15} (int, float, true/false, else text)."""
    from quanhuiqi.tables.io import InputError

    out: dict[str, object] = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--param {pair!r}: expected KEY=VALUE")
        value: object = text.strip()
        for cast in (int, float):
            try:
                value = cast(text)
                break
            except ValueError:
                continue
        if text.strip().lower() in ("true", "false"):
            value = text.strip().lower() == "true"
        out[key.strip()] = value
    return out


def cmd_match_postings(args: argparse.Namespace) -> int:
    from quanhuiqi.postings import match_postings_file

    print(match_postings_file(args.postings, as_of=args.as_of, out=args.out, model=args.model,
                              enterprises=args.enterprises, rejects=args.rejects or _default_rejects(args.out),
                              encoding=args.encoding))
    return 0


def cmd_appeals_route(args: argparse.Namespace) -> int:
    from quanhuiqi.appeals import route_appeals_file

    print(route_appeals_file(args.appeals, args.out, model=args.model, rejects=args.rejects, threshold=args.threshold,
                             encoding=args.encoding, workers=args.workers))
    return 0


def cmd_appeals_clock(args: argparse.Namespace) -> int:
    from quanhuiqi.appeals import clock_file

    print(clock_file(args.appeals, args.as_of, args.out, config=args.config, encoding=args.encoding))
    return 0


def cmd_appeals_group(args: argparse.Namespace) -> int:
    from quanhuiqi.appeals.issues import group_file

    print(group_file(args.appeals, args.out, state=args.state, rejects=args.rejects or _default_rejects(args.out)))
    return 0


def cmd_appeals_report(args: argparse.Namespace) -> int:
    from quanhuiqi.appeals.insight import policy_table
    from quanhuiqi.appeals.report import report_file

    policies = None
    if args.policies:
        from quanhuiqi.policy import load_book

        policies = policy_table(load_book(args.policies))
    print(report_file(args.appeals, args.enterprises, policies, args.week, args.out, state=args.state))
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from quanhuiqi.tables.io import InputError

    if args.engine == "spark":
        if args.workers is not None:
            raise InputError("--workers is for --engine local (Spark's executors are its own)")
        from quanhuiqi.spark import run_daily_spark, session

        spark = session(args.master)
        try:
            result = run_daily_spark(args.date, args.data, args.out, model=args.model, config=args.config,
                                     spark=spark, encoding=args.encoding)
        finally:
            spark.stop()
    else:
        if args.master:
            raise InputError("--master is for --engine spark")
        if args.workers is not None and args.workers < 1:
            raise InputError(f"--workers must be >= 1, got {args.workers}")
        from quanhuiqi.push import run_daily

        result = run_daily(args.date, args.data, args.out, model=args.model, config=args.config,
                           encoding=args.encoding, workers=args.workers)
    print(result.summary())
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from quanhuiqi.synth import generate_city

    print(generate_city(args.out, n_enterprises=args.enterprises, seed=args.seed, as_of=args.as_of,
                        history_days=args.history_days, appeal_issues=args.appeal_issues))
    return 0


ENCODING_HELP = ("encoding of the CSV inputs: auto (default: UTF-8 with or without BOM, else GB18030/GBK, "
                 "detected per file; a file that is neither is refused), or a name such as utf-8, gbk, gb18030")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="quanhuiqi", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("profile", help="profile every enterprise (企业画像)")
    s.add_argument("--enterprises", required=True)
    s.add_argument("--as-of", required=True, type=_date)
    s.add_argument("--out", required=True)
    s.add_argument("--rejects")
    s.add_argument("--encoding", default="auto", help=ENCODING_HELP)
    s.set_defaults(func=cmd_profile)

    s = sub.add_parser("policy", help="policy book commands")
    psub = s.add_subparsers(dest="policy_command", required=True)
    c = psub.add_parser("check", help="load, validate and run every policy's tests; exit 1 on any error")
    c.add_argument("dir")
    c.add_argument("--drafts", action="store_true",
                   help="check drafts in review (status: draft) instead of refusing them")
    c.set_defaults(func=cmd_policy_check)
    c = psub.add_parser("draft", help="policy text → one draft policy YAML per file (政策拆解), status: draft")
    c.add_argument("--text", required=True, help="a clause file (UTF-8 or GB18030 text/Markdown) or a folder of them")
    c.add_argument("--out", required=True, help="folder for <file stem>.yaml")
    c.add_argument("--html", help="write a review page (clause with highlighted spans beside the draft)")
    c.add_argument("--jurisdiction", help="the issuer's territory, GB/T 2260 code or prefix (本市/我区 resolve to it)")
    c.add_argument("--department", help="the issuing department written into each draft")
    c.set_defaults(func=cmd_policy_draft)
    c = psub.add_parser("simulate", help="who would qualify, what it would cost, how thresholds move both (政策仿真)")
    c.add_argument("--policies", required=True, help="folder of the policies to simulate (drafts or live)")
    c.add_argument("--data", required=True, help="the city's data folder (enterprises, grants, history, policies in force)")
    c.add_argument("--as-of", required=True, type=_date)
    c.add_argument("--out", required=True, help="output folder: simulation.csv, breakdowns, simulation.json, report.html")
    c.add_argument("--vary", help="sweep file (YAML): policy, path and values to try")
    c.add_argument("--estimator", choices=["calibrated", "data", "history"], default="calibrated",
                   help="central estimate of undetermined pairs (default: the data rate calibrated on the history)")
    c.add_argument("--encoding", default="auto", help=ENCODING_HELP)
    c.set_defaults(func=cmd_policy_simulate)
    c = psub.add_parser("readiness", help="免申即享 readiness: the decided share per policy and the data-sharing "
                                          "actions that would decide more")
    c.add_argument("--policies", required=True)
    c.add_argument("--data", required=True, help="the daily job's data folder (enterprises, fact tables, grants)")
    c.add_argument("--as-of", required=True, type=_date)
    c.add_argument("--out", required=True, help="per policy × source (CSV or Parquet by extension)")
    c.add_argument("--actions", help="the ranked data-sharing actions (default: OUT with .actions before the suffix)")
    c.add_argument("--html", help="a page with charts")
    c.add_argument("--sources", help="a city's sources.csv (default: the one in the policy folder, if any)")
    c.add_argument("--donors", type=int, default=8192, help="donors per unknown list for the eligible estimate")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--encoding", default="auto", help=ENCODING_HELP)
    c.set_defaults(func=cmd_policy_readiness)

    s = sub.add_parser("eligibility", help="three-valued eligibility for every enterprise × active policy")
    s.add_argument("--enterprises", required=True)
    s.add_argument("--policies", required=True)
    s.add_argument("--as-of", required=True, type=_date)
    s.add_argument("--out", required=True)
    s.add_argument("--near-miss")
    s.add_argument("--rejects")
    s.add_argument("--encoding", default="auto", help=ENCODING_HELP)
    s.set_defaults(func=cmd_eligibility)

    s = sub.add_parser("train", help="train and (optionally) register a model in MLflow")
    s.add_argument("what", choices=["ranker", "postings", "appeals"])
    s.add_argument("--data", required=True)
    s.add_argument("--register")
    s.add_argument("--alias")
    s.add_argument("--threads", type=int, default=None, help="LightGBM threads (default: QUANHUIQI_THREADS or 1)")
    s.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="override a LightGBM parameter of the defaults, e.g. --param num_leaves=15 (repeatable)")
    s.add_argument("--no-firm-effects", action="store_true",
                   help="ranker: do not tune per-enterprise effects on top of the booster (default: kept when "
                        "they raise the validation window's NDCG@5)")
    s.add_argument("--cv", type=int, default=0,
                   help="appeals: also report nested K-fold cross-validated scores (default 0: validation only)")
    s.add_argument("--department-map", help="appeals: category → department map (YAML; default: the shipped one)")
    s.add_argument("--triage-rules", help="appeals: triage rules (YAML; default: the shipped ones)")
    s.add_argument("--encoding", default="auto", help=ENCODING_HELP)
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("appeals", help="enterprise appeals (涉企诉求): route and triage, the response clock")
    asub = s.add_subparsers(dest="appeals_command", required=True)
    c = asub.add_parser("route", help="route each appeal: top-3 category → department, triage, masked text")
    c.add_argument("--appeals", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--model", help="NAME@ALIAS or NAME/VERSION (default: the latest registered appeals model)")
    c.add_argument("--threshold", type=float, help="abstain (人工分拨) below this top probability (default: the model's)")
    c.add_argument("--rejects")
    c.add_argument("--encoding", default="auto", help=ENCODING_HELP)
    c.add_argument("--workers", type=int, default=1,
                   help="processes for the per-appeal work (default 1; the same table for any number)")
    c.set_defaults(func=cmd_appeals_route)
    c = asub.add_parser("clock", help="the 2110 response clock: at-risk and overdue lists per department")
    c.add_argument("--appeals", required=True)
    c.add_argument("--as-of", required=True, help="YYYY-MM-DD[ HH:MM] (local time)")
    c.add_argument("--out", required=True, help="folder for status, at_risk, overdue, department_stats, rejects")
    c.add_argument("--config", help="clock settings (YAML; default: the shipped 2110 rule)")
    c.add_argument("--encoding", default="auto", help=ENCODING_HELP)
    c.set_defaults(func=cmd_appeals_clock)
    c = asub.add_parser("group", help="group appeals into issues (类问题) with ids stable from day to day")
    c.add_argument("--appeals", required=True)
    c.add_argument("--out", required=True, help="one row per appeal: appeal_id, issue_id, issue_label, … "
                                                "(the issues beside it: <out>.issues.<ext>)")
    c.add_argument("--state", help="folder with the issues of earlier days (read, then updated); new days attach")
    c.add_argument("--rejects")
    c.set_defaults(func=cmd_appeals_group)
    c = asub.add_parser("report", help="the weekly analysis report: rising issues, heat, affected segments, "
                                       "policy links, response times (HTML + JSON)")
    c.add_argument("--appeals", required=True, help="appeals up to the week's end (the weeks before give the trends)")
    c.add_argument("--enterprises", help="enterprise table (who is affected)")
    c.add_argument("--policies", help="policy folder (which policy speaks to an issue)")
    c.add_argument("--week", required=True, type=_date, help="any day of the ISO week reported (YYYY-MM-DD)")
    c.add_argument("--out", required=True, help="folder for report.html, report.json, issues_by_appeal.csv, rejects.csv")
    c.add_argument("--state", help="issue state folder (ids stay those of the daily grouping)")
    c.set_defaults(func=cmd_appeals_report)

    s = sub.add_parser("match-postings", help="pair supply and demand postings (供需对接)")
    s.add_argument("--postings", required=True)
    s.add_argument("--as-of", required=True, type=_date)
    s.add_argument("--out", required=True)
    s.add_argument("--model", help="NAME@ALIAS of a registered postings model")
    s.add_argument("--enterprises", help="enterprise table, to exclude inactive or seriously dishonest posters")
    s.add_argument("--rejects")
    s.add_argument("--encoding", default="auto", help=ENCODING_HELP)
    s.set_defaults(func=cmd_match_postings)

    s = sub.add_parser("push", help="the daily batch: push list, 免申即享 list, near misses, report")
    s.add_argument("--date", type=_date, default=dt.date.today())
    s.add_argument("--data", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--model", help="NAME@ALIAS of a registered ranker")
    s.add_argument("--config", help="YAML configuration (defaults are embedded)")
    s.add_argument("--encoding", default="auto", help=ENCODING_HELP)
    s.add_argument("--engine", choices=["local", "spark"], default="local",
                   help="local: this process; spark: the partitions, the supply–demand matching and the push list "
                        "on Spark executors (pip install 'quanhuiqi[spark]'); the same outputs")
    s.add_argument("--master", help="Spark master URL (local[2], spark://host:7077, yarn); default: the one "
                                    "spark-submit passes, else local[*]")
    s.add_argument("--workers", type=int, default=None,
                   help="local: processes for the partitions and the supply–demand matching (default: the "
                        "configuration's run.workers, shipped 1); the same outputs for any number")
    s.set_defaults(func=cmd_push)

    s = sub.add_parser("synth", help="generate a synthetic city")
    s.add_argument("--out", required=True)
    s.add_argument("--enterprises", type=int, default=5000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--as-of", type=_date, default=dt.date(2025, 7, 1))
    s.add_argument("--history-days", type=int, default=120)
    s.add_argument("--appeal-issues", type=int, default=0, metavar="K",
                   help="plant K issues (类问题: steady, emerging or flaring, with bursts) in the appeals, at most 16; "
                        "their truth in truth/appeal_issues_true.parquet (default 0: none)")
    s.set_defaults(func=cmd_synth)
    return p


# The daily job churns Arrow memory as the eligibility command does, partition by partition: at 100k × 2,000 in
# 10 partitions the settings took it from 105.8 to 84.3 CPU s, system 23.6 → 9.6 (benchmarks/daily_run.py, back to
# back, same outputs; docs/push.md).
BATCH_COMMANDS = ("eligibility", "push")


def batch_process_settings(command: str | None) -> None:
    """This process's allocator settings and collector thresholds for the batch commands that churn Arrow memory
    and Python objects (:func:`quanhuiqi.process.batch_settings`); the allocator's have no effect
    once Arrow is loaded (``main`` called from a process that already imported it)."""
    if command in BATCH_COMMANDS:
        batch_settings()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    thresholds = gc.get_threshold()
    batch_process_settings(getattr(args, "command", None))
    from quanhuiqi.tables.io import InputError  # after the settings: it loads pandas and Arrow

    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"quanhuiqi: {exc}", file=sys.stderr)
        return 1
    finally:
        gc.set_threshold(*thresholds)  # a caller's process (main called in-process) keeps its own


if __name__ == "__main__":
    sys.exit(main())
