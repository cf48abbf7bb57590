"""Routing: each appeal → top-3 (category, department, probability, the words that drove it), abstention to
人工分拨 below the threshold, triage with its reason, and the masked text — one row per input appeal.

The model reads masked text only (personal data never reaches features, outputs or logs).  Departments
come from the versioned map (per district); a second topic whose probability reaches
``second_topic_margin`` (chosen on held-out data) and whose department differs adds that department (a coordinated case).  Copies of
one appeal (``duplicate_of``) are routed like any row and carry their ``case_id``, so a count per case
never counts them twice.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import scipy.sparse as sp

from quanhuiqi.appeals.columns import MANUAL_DISPATCH, ROUTE_COLUMNS
from quanhuiqi.appeals.model import AppealsModel, routed_departments
from quanhuiqi.appeals.privacy import mask_personal_data, mask_text
from quanhuiqi.appeals.triage import apply_triage, text_evidence, triage_columns

TOP = 3
WORDS = 3


def feature_texts(model: AppealsModel) -> tuple[np.ndarray, np.ndarray]:
    """(text, explainable) of every feature column, decoded once per model (vectorised).  A feature
    explains a decision when it is a word of two or more characters: a word of the segmentation, or a
    character gram that is itself a dictionary word (``业年`` from 企业年报 is not)."""
    cached = model.__dict__.get("_feature_texts")
    if cached is not None:
        return cached
    vec = model.vectorizer
    codes = np.concatenate([vec.blocks_[b].vocabulary_ for b in vec.BLOCKS if b in vec.blocks_])
    k = (codes >> 60).astype(np.int64)
    chars = np.zeros((len(codes), 4), dtype=np.uint32)
    table = np.concatenate([[0], vec.alphabet_.chars]).astype(np.uint32)
    for j in range(4):
        shift = 15 * np.maximum(k - 1 - j, 0)
        cid = (codes >> shift) & ((1 << 15) - 1)
        chars[:, j] = np.where(j < k, table[cid], 0)
    texts = chars.view("<U4").ravel()
    if len(vec.lexicon_.codes):
        is_word = vec.lexicon_._index.get_indexer(codes) >= 0
    else:  # a vectoriser without jieba's dictionary: any gram of two or more characters
        is_word = np.ones(len(codes), dtype=bool)
    n_words = len(vec.blocks_["words"].vocabulary_) if "words" in vec.blocks_ else 0
    if n_words:
        is_word[len(codes) - n_words:] = True
    plain = (chars < 0xE000).all(axis=1) | (chars > 0xF8FF).any(axis=1)  # no masked-data placeholder
    out = (texts, (k >= 2) & is_word & plain)
    model.__dict__["_feature_texts"] = out
    return out


def _nesting(model: AppealsModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(text id of every feature column, the (longer, shorter) text-id pairs where one text contains the
    other) over the explainable features, computed once per model: the nested-word rule of
    :func:`explain` becomes look-ups instead of substring tests per row."""
    cached = model.__dict__.get("_nesting")
    if cached is not None:
        return cached
    texts, explainable = feature_texts(model)
    tid, uniq = pd.factorize(pd.Series(texts, dtype=object))
    tid = np.where(explainable, tid, -1)
    words = {w: i for i, w in enumerate(uniq.tolist()) if isinstance(w, str)}
    live = set(tid[tid >= 0].tolist())
    pairs = []
    for w, i in words.items():
        if i not in live:
            continue
        for a in range(len(w)):
            for b in range(a + 2, len(w) + 1):
                j = words.get(w[a:b])
                if j is not None and j != i and j in live:
                    pairs.append(i * len(uniq) + j)
                    pairs.append(j * len(uniq) + i)
    out = (tid, np.unique(np.array(pairs, dtype=np.int64)), uniq.to_numpy(dtype=object))
    model.__dict__["_nesting"] = out
    return out


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


def _explain_one(model, X, top, tid, uniq, words, candidates, nested_first) -> list[list[str]]:
    j = X.indices[tid[X.indices] >= 0]
    x = X.data[tid[X.indices] >= 0]
    out = []
    for s in range(top.shape[1]):
        c = (x * model.head.coef[top[0, s], j]).astype(np.float32)
        keep = np.flatnonzero(c > 0)
        order = keep[np.argsort(-c[keep], kind="stable")]  # contribution descending, ties in column order
        nested = nested_first and s == 0
        cand = [str(uniq[t]) for t in tid[j[order[: candidates if nested else words]]].tolist()]
        if not nested:
            out.append(["、".join(cand)])
            continue
        chosen: list[str] = []
        for w in cand:
            if any(w in y or y in w for y in chosen):
                continue
            chosen.append(w)
            if len(chosen) == words:
                break
        out.append(["、".join(chosen)])
    return out


def explain(model: AppealsModel, X: sp.csr_matrix, classes: np.ndarray, words: int = WORDS,
            candidates: int = 8, nested: bool = True) -> list[str]:
    """For each row and its class index, the ``words`` features (2+ characters) adding most to that
    class's score, ``、``-joined; longer grams kept over the grams inside them and one text once
    (``nested=False``: the top ones as they come — used for the second and third suggestions)."""
    return explain_suggestions(model, X, np.asarray(classes)[:, None], words, candidates, nested_first=nested)[0]


def explain_suggestions(model: AppealsModel, X: sp.csr_matrix, top: np.ndarray, words: int = WORDS,
                        candidates: int = 8, nested_first: bool = True) -> list[list[str]]:
    """:func:`explain` for each column of ``top`` (the class indices of the suggestions), sharing the
    pass over the matrix; the first suggestion's words are nested-checked, the others as they come."""
    tid, pairs, uniq = _nesting(model)
    n = X.shape[0]
    if n == 1:  # one appeal (online): the same choice in plain Python
        return _explain_one(model, X, top, tid, uniq, words, candidates, nested_first)
    row = np.repeat(np.arange(n), np.diff(X.indptr))
    cand = (tid >= 0)[X.indices]
    r0, j0, x0 = row[cand], X.indices[cand], X.data[cand]
    n_cols = X.shape[1]
    j_bits = max(int(n_cols - 1).bit_length(), 1)
    r_bits = max(int(n - 1).bit_length(), 1)
    packed = r_bits + 31 + j_bits <= 63  # row, contribution and column in one int64: a plain sort
    out = []
    for s in range(top.shape[1]):
        nested = nested_first and s == 0
        c = (x0 * model.head.coef[top[r0, s], j0]).astype(np.float32)
        keep = c > 0
        # rows ascending, then contribution descending (a positive float's bits order like its value),
        # ties in column order (the order within a CSR row)
        if packed:
            key = ((((r0.astype(np.int64) << 31) | (0x7FFFFFFF - c.view(np.int32).astype(np.int64))) << j_bits) | j0)[keep]
            key.sort()
            r, j = key >> (31 + j_bits), (key & ((1 << j_bits) - 1)).astype(j0.dtype)
        else:
            r, c, j = r0[keep], c[keep], j0[keep]
            desc = 0x7FFFFFFF - c.view(np.int32).astype(np.int64)
            order = np.argsort((r.astype(np.int64) << 32) | desc, kind="stable")
            r, j = r[order], j[order]
        first = np.searchsorted(r, np.arange(n))
        rank = np.arange(len(r)) - first[r]
        width = candidates if nested else words
        sel = rank < width
        best = np.full((n, width), -1, dtype=np.int64)  # text ids of each row's best candidates, in order
        best[r[sel], rank[sel]] = tid[j[sel]]
        chosen = np.full((n, words), -1, dtype=np.int64)
        count = np.zeros(n, dtype=np.int64)
        m = len(uniq)
        for p in range(width):
            t = best[:, p]
            ok = (t >= 0) & (count < words)
            if nested:
                for q in range(words):
                    ch = chosen[:, q]
                    ok &= ~((ch >= 0) & ((ch == t) | _contains(pairs, t * m + np.maximum(ch, 0))))
            idx = np.flatnonzero(ok)
            chosen[idx, count[idx]] = t[idx]
            count[idx] += 1
        names = np.append(uniq, "")
        text = names[chosen[:, 0]]  # -1 → ""; slots fill in order, so an empty slot ends the list
        for q in range(1, words):
            nxt = names[chosen[:, q]]
            text = text + np.where(chosen[:, q] >= 0, "、", "").astype(object) + nxt
        out.append(text.tolist())
    return out


PARALLEL_MIN_ROWS = 5_000  # a chunk smaller than this is not worth a process


def _per_appeal(model: AppealsModel, titles_raw, bodies_raw, districts: np.ndarray, threshold: float,
                online: bool = False) -> dict:
    """Everything about each appeal that depends on that appeal alone: masked texts, class scores, the
    top-3 and their departments, the words behind them, the triage head's scores and the text evidence
    of the triage rules.  Row for row the same whatever the batch (chunks may run in other processes)."""
    if online:
        tlist = [mask_text(v) if isinstance(v, str) else None for v in titles_raw]
        blist = [mask_text(v) if isinstance(v, str) else None for v in bodies_raw]
        X, normalized = model.vectorizer.transform_one(tlist[0], blist[0]), None
    else:
        titles = mask_personal_data(pd.Series(titles_raw, dtype="string").reset_index(drop=True))
        bodies = mask_personal_data(pd.Series(bodies_raw, dtype="string").reset_index(drop=True))
        X, normalized = model.vectorizer.transform_with_text(titles, bodies)
        tlist, blist = titles.astype(object).tolist(), bodies.astype(object).tolist()
    decision = model.head.decision(X)
    proba = model.head.proba(X, decision)
    routed, deps, top = routed_departments(model, proba, districts, decision)
    texts = [(t if isinstance(t, str) else "") + "。" + (b if isinstance(b, str) else "") for t, b in zip(tlist, blist)]
    why = explain_suggestions(model, X, top)
    return {"titles": tlist, "bodies": blist, "proba": proba, "top": top, "routed": routed, "deps": deps,
            "why": why, "reasons": _reasons(model, proba, top, routed, deps, why[0], threshold),
            "triage_proba": None if model.triage_head is None else model.triage_head.proba(X),
            "evidence": text_evidence(texts, model.triage_rules, normalized)}


def _reasons(model: AppealsModel, proba: np.ndarray, top: np.ndarray, routed: np.ndarray, dep_cols: list,
             words1: list, thr: float) -> list[str]:
    """Each appeal's routing reason: the words and probability behind its class and department, the
    second topic's department when it joins, or why it goes to 人工分拨."""
    classes = model.head.classes
    is_category = model.target == "category"
    k = top.shape[1]
    top_p = np.take_along_axis(proba, top, axis=1)
    auto = top_p[:, 0] >= thr
    dep1 = dep_cols[0]
    second = np.array([isinstance(r, str) and ";" in r and not (isinstance(d, str) and ";" in d)
                       for r, d in zip(routed, dep1)], dtype=bool)
    reasons = []
    label = "类别" if is_category else "部门"
    for i in range(len(top)):
        c1, p1 = str(classes[top[i, 0]]), top_p[i, 0]
        if not auto[i]:
            alts = "、".join(f"{classes[top[i, s]]}{top_p[i, s]:.2f}" for s in range(k))
            reasons.append(f"最高置信度{p1:.2f}低于阈值{thr:.2f}，转{MANUAL_DISPATCH}（建议：{alts}）")
            continue
        w = words1[i]
        basis = "依据" + "".join(f"“{x}”" for x in str(w).split("、")) if isinstance(w, str) and w else "依据全文"
        text = f"{basis}判为{c1}（{p1:.2f}）" if is_category else f"{basis}判定{label}（{p1:.2f}）"
        text += f"，转{dep1[i]}" if dep1[i] is not None else "，部门映射表未列出该类别，转" + MANUAL_DISPATCH
        if second[i]:
            text += f"；另涉及{classes[top[i, 1]]}（{top_p[i, 1]:.2f}），协同{dep_cols[1][i]}"
        reasons.append(text)
    return reasons


_WORKER: dict = {}  # inside a worker process only: the model and the batch it was forked with


def _worker_init(model: AppealsModel, titles, bodies, districts, threshold: float) -> None:
    _WORKER.update(model=model, titles=titles, bodies=bodies, districts=districts, threshold=threshold)


def _worker_chunk(lo: int, hi: int) -> dict:
    w = _WORKER
    return _per_appeal(w["model"], w["titles"][lo:hi], w["bodies"][lo:hi], w["districts"][lo:hi], w["threshold"])


def _per_appeal_parallel(model: AppealsModel, titles_raw, bodies_raw, districts: np.ndarray, threshold: float,
                         workers: int) -> dict:
    """:func:`_per_appeal` over chunks in ``workers`` processes (forked: the model and the texts are
    inherited, not copied), concatenated in input order — the same result as one process."""
    n = len(titles_raw)
    workers = max(1, min(int(workers), n // PARALLEL_MIN_ROWS))
    if workers == 1:
        return _per_appeal(model, titles_raw, bodies_raw, districts, threshold)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    feature_texts(model)  # per-model tables built once, before the fork
    _nesting(model)
    titles = pd.Series(titles_raw, dtype="string").reset_index(drop=True)
    bodies = pd.Series(bodies_raw, dtype="string").reset_index(drop=True)
    n_chunks = min(2 * workers, n // PARALLEL_MIN_ROWS)  # two per worker: one slow chunk does not idle the other
    bounds = np.linspace(0, n, n_chunks + 1).astype(int)
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(workers, mp_context=mp.get_context(method), initializer=_worker_init,
                             initargs=(model, titles, bodies, districts, threshold)) as pool:
        parts = list(pool.map(_worker_chunk, bounds[:-1].tolist(), bounds[1:].tolist()))
    return _concat_parts(parts)


def _concat_parts(parts: list[dict]) -> dict:
    first = parts[0]
    out: dict = {
        "titles": [t for p in parts for t in p["titles"]],
        "bodies": [b for p in parts for b in p["bodies"]],
        "proba": np.concatenate([p["proba"] for p in parts]),
        "top": np.concatenate([p["top"] for p in parts]),
        "routed": np.concatenate([p["routed"] for p in parts]),
        "deps": [np.concatenate([p["deps"][s] for p in parts]) for s in range(len(first["deps"]))],
        "why": [[w for p in parts for w in p["why"][s]] for s in range(len(first["why"]))],
        "reasons": [r for p in parts for r in p["reasons"]],
        "triage_proba": None if first["triage_proba"] is None else np.concatenate([p["triage_proba"] for p in parts]),
        "evidence": {k: np.concatenate([p["evidence"][k] for p in parts]) for k in first["evidence"]},
    }
    return out


def route_appeals(model: AppealsModel, clean: pd.DataFrame, *, history: pd.DataFrame | None = None,
                  threshold: float | None = None, workers: int = 1) -> pd.DataFrame:
    """One row per appeal of ``clean`` (validated): ``ROUTE_COLUMNS`` then ``suggestion_{1,2,3}_{category,
    department,probability,words}``, ``triage_rules``, ``model_target``, ``department_map_version``.

    ``history``: earlier appeals (validated, with ``case_id``) for the repeat rule; the input's own
    cases count too.  ``threshold`` overrides the model's abstention threshold.  ``workers``: processes
    for the per-appeal work (chunks of at least ``PARALLEL_MIN_ROWS`` appeals; the same table for any
    number — routing is independent per appeal, the repeat rule and the reasons run over the whole batch)."""
    cols = _route_columns(
        model, clean["title"].astype("string").reset_index(drop=True), clean["body"].astype("string").reset_index(drop=True),
        appeal_id=clean["appeal_id"].astype("string").to_numpy(), case_id=_case_ids(clean).to_numpy(),
        received_at=clean["received_at"].to_numpy(), uscc=clean["uscc"].astype("string").to_numpy(),
        district_code=clean["district_code"].astype("string").to_numpy(),
        channel=clean["channel"].astype("string").to_numpy(), history=history, threshold=threshold, workers=workers)
    out = pd.DataFrame(cols)
    return out.astype({c: "string" for c in out.columns if out[c].dtype == object})


def _route_columns(model: AppealsModel, titles_raw: pd.Series, bodies_raw: pd.Series, *, appeal_id, case_id,
                   received_at, uscc, district_code, channel, history=None, threshold=None,
                   workers: int = 1) -> dict[str, object]:
    """The route table as columns (arrays): shared by the batch and the one-appeal path.  The work of
    each appeal on its own (masking, features, scores, explanations, routing reasons, the triage rules'
    text evidence) runs in ``workers`` processes over chunks; what needs the whole batch (the repeat rule
    of triage) here."""
    thr = model.threshold if threshold is None else float(threshold)
    n = len(titles_raw)
    districts = np.asarray(district_code, dtype=object)
    if n == 1:  # one appeal (online): plain strings, no tables
        part = _per_appeal(model, titles_raw, bodies_raw, districts, thr, online=True)
    else:
        part = _per_appeal_parallel(model, titles_raw, bodies_raw, districts, thr, workers)
    tlist, blist, proba, top, why = part["titles"], part["bodies"], part["proba"], part["top"], part["why"]
    routed, dep_cols = part["routed"], part["deps"]
    k = top.shape[1]
    top_p = np.take_along_axis(proba, top, axis=1)
    classes = model.head.classes
    is_category = model.target == "category"
    sugg: dict[str, object] = {}
    for s in range(k):
        cls = classes[top[:, s]]
        sugg[f"suggestion_{s + 1}_category"] = np.array(cls if is_category else [None] * n, dtype=object)
        sugg[f"suggestion_{s + 1}_department"] = np.array(dep_cols[s], dtype=object)
        sugg[f"suggestion_{s + 1}_probability"] = np.round(top_p[:, s], 4)
        sugg[f"suggestion_{s + 1}_words"] = np.array(why[s], dtype=object)
    auto = top_p[:, 0] >= thr
    department = np.where(auto, routed, None)
    triage_proba = None
    if model.triage_head is not None:
        tp = part["triage_proba"]
        triage_proba = {str(c): tp[:, j] for j, c in enumerate(model.triage_head.classes)}
    online = n == 1 and history is None  # one appeal without history: the repeat rule has nothing to count
    tri = triage_columns(None, list(department), model.triage_rules, evidence=part["evidence"],
                         uscc=None if online else pd.Series(uscc, dtype="string"),
                         received=None if online else pd.Series(received_at),
                         case_id=None if online else pd.Series(case_id, dtype="string"), history=history,
                         model_proba=triage_proba,
                         categories=None if online else pd.Series(classes[top[:, 0]], dtype="string"))
    reasons = part["reasons"]
    dispatch = np.where(auto & pd.notna(department), "auto", "manual")
    cols: dict[str, object] = {
        "appeal_id": np.asarray(appeal_id, dtype=object),
        "case_id": np.asarray(case_id, dtype=object),
        "received_at": (np.array([pd.Timestamp(received_at[0]).to_datetime64()], dtype="datetime64[ns]") if n == 1
                        else pd.to_datetime(pd.Series(received_at, dtype=object)).to_numpy(dtype="datetime64[ns]")),
        "uscc": np.asarray(uscc, dtype=object),
        "district_code": districts,
        "channel": np.asarray(channel, dtype=object),
        "category": sugg["suggestion_1_category"],
        "category_probability": np.round(top_p[:, 0], 4) if is_category else np.full(n, np.nan),
        "department": np.asarray(department, dtype=object),
        "dispatch": np.asarray(dispatch, dtype=object),
        "triage": np.array(tri["triage"], dtype=object),
        "triage_reason": np.array(tri["triage_reason"], dtype=object),
        "reason": np.array(reasons, dtype=object),
        "masked_title": np.array(tlist, dtype=object),
        "masked_body": np.array(blist, dtype=object),
        **sugg,
        "triage_rules": np.array(tri["triage_rules"], dtype=object),
        "model_target": np.full(n, model.target, dtype=object),
        "department_map_version": np.full(n, model.department_map.version, dtype=object),
    }
    return cols


def districts_of(clean: pd.DataFrame) -> np.ndarray | None:
    return clean["district_code"].astype("string").to_numpy(dtype=object) if "district_code" in clean else None


def _case_ids(clean: pd.DataFrame) -> pd.Series:
    col = "case_id" if "case_id" in clean.columns else "appeal_id"
    return clean[col].astype("string").reset_index(drop=True)


def unrouted(clean: pd.DataFrame, rules, *, history: pd.DataFrame | None = None) -> pd.DataFrame:
    """The route table without a model: masked text and rule triage, every appeal to 人工分拨."""
    n = len(clean)
    titles = mask_personal_data(clean["title"].astype("string").reset_index(drop=True))
    bodies = mask_personal_data(clean["body"].astype("string").reset_index(drop=True))
    tri = apply_triage(titles.fillna("") + "。" + bodies.fillna(""), pd.Series([None] * n, dtype="string"), rules,
                       uscc=clean["uscc"].reset_index(drop=True), received=clean["received_at"].reset_index(drop=True),
                       case_id=_case_ids(clean), history=history)
    na = pd.array([None] * n, dtype="string")
    out = pd.DataFrame({
        "appeal_id": clean["appeal_id"].astype("string").to_numpy(), "case_id": _case_ids(clean).to_numpy(),
        "received_at": clean["received_at"].to_numpy(), "uscc": clean["uscc"].astype("string").to_numpy(),
        "district_code": clean["district_code"].astype("string").to_numpy(),
        "channel": clean["channel"].astype("string").to_numpy(), "category": na, "category_probability": np.full(n, np.nan),
        "department": na, "dispatch": pd.array(["manual"] * n, dtype="string"), "triage": tri["triage"].to_numpy(),
        "triage_reason": tri["triage_reason"].to_numpy(),
        "reason": pd.array([f"没有可用的诉求分拨模型，转{MANUAL_DISPATCH}"] * n, dtype="string"),
        "masked_title": titles.to_numpy(), "masked_body": bodies.to_numpy(),
    })
    out["triage_rules"] = tri["triage_rules"].to_numpy()
    return out.astype({c: "string" for c in ROUTE_COLUMNS if out[c].dtype == object})


class OnlineRouter:
    """One appeal at a time (the platform backend): the same answer as :func:`route_appeals` for it,
    without building tables (no repeat rule: one appeal alone has no history to count)."""

    def __init__(self, model: AppealsModel):
        self.model = model
        feature_texts(model)
        _nesting(model)
        model.vectorizer._one_state()
        self.route("初始化", "联系人王明，电话13800000000，5万元")  # compiles the rules and loads the word lists once

    def route(self, title: str | None, body: str | None, *, appeal_id: str = "online", district_code: str | None = None,
              uscc: str | None = None, received_at=None, channel: str | None = None) -> dict:
        cols = _route_columns(
            self.model, [title], [body],
            appeal_id=[appeal_id], case_id=[appeal_id],
            received_at=[pd.Timestamp(received_at) if received_at is not None else pd.NaT], uscc=[uscc],
            district_code=[district_code], channel=[channel])
        out = {}
        for name, values in cols.items():
            v = values[0]
            out[name] = None if v is pd.NA or v is None or (isinstance(v, float) and v != v) else v
        return out


def route_appeals_file(appeals: str | os.PathLike, out: str | os.PathLike, *, model: str | None = None,
                       rejects: str | os.PathLike | None = None, threshold: float | None = None,
                       encoding: str | None = None, workers: int = 1) -> str:
    """``quanhuiqi appeals route``: validate, route with ``model`` (NAME@ALIAS; default the latest registered
    appeals model), write one row per valid input appeal and the rejects.  ``encoding``: the CSV's (default
    detected: UTF-8 or GB18030/GBK), reported in the summary; ``workers``: processes (see :func:`route_appeals`)."""
    from quanhuiqi.appeals.registered import load_appeals_model
    from quanhuiqi.appeals.validate import appeals_file_clean
    from quanhuiqi.tables.io import write_table

    loaded = load_appeals_model(model)
    read_as: dict = {}
    v = appeals_file_clean(appeals, encoding=encoding, report=read_as)
    routed = route_appeals(loaded, v.clean, history=v.clean, threshold=threshold, workers=workers)
    write_table(routed, out)
    rej_path = rejects or _default_rejects(out)
    write_table(v.rejects, rej_path)
    auto = int((routed["dispatch"] == "auto").sum())
    cases = routed["case_id"].nunique()
    by_level = routed.drop_duplicates("case_id")["triage"].value_counts().to_dict()
    return (f"routed {len(routed)} appeals ({cases} cases) with {getattr(loaded, 'ref', 'model')}: {auto} to a "
            f"department, {len(routed) - auto} to {MANUAL_DISPATCH}; triage per case {by_level}; "
            f"{v.rows_rejected} rows rejected, {int((v.rejects['action'] == 'value_cleared').sum())} values cleared "
            f"(appeals read as {read_as['encoding']})\n"
            f"  out: {out}\n  rejects: {rej_path}")


def _default_rejects(out) -> str:
    from pathlib import Path

    p = Path(out)
    return str(p.with_name(p.stem + ".rejects" + p.suffix))
