"""Readable evidence, missing facts and gaps, built per policy from templates plus the
enterprise's own values — vectorised over the rows of one policy.

Everything here is read by people: fields by their Chinese names, canonical values by their labels
(经营状态=在营（开业）, 企业规模≤小型（微型）, 区县属于济南市（历下区）, 资质含高新技术企业), numbers with their
units; an internal token (``active``, ``small``, ``370102``) never shows.  A test that names the one value
it holds for (``eq``, ``has`` of one token) shows no value in brackets: it would repeat the test."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from quanhuiqi.policy.model import Atom
from quanhuiqi.profile.fields import field_label, set_label, value_label, value_labels

SYMBOLS = {
    ("in", False): "=", ("in", True): "≠", ("gt", False): ">", ("gt", True): "≤", ("ge", False): "≥",
    ("ge", True): "<", ("between", False): "∈", ("between", True): "∉", ("under", False): "属于",
    ("under", True): "不属于", ("has_any", False): "含", ("has_any", True): "不含", ("has_all", False): "含全部",
    ("has_all", True): "不全含", ("exists", False): "已知", ("exists", True): "缺失",
    ("in_list", False): "属于", ("in_list", True): "不属于",
}  # fmt: skip


def label(fields: dict, name: str) -> str:
    return field_label(name, fields)


def unit(fields: dict, name: str) -> str:
    f = fields.get(name)
    u = f.unit if f is not None else None
    return "" if u in (None, "ratio") else u


def _fmt(x: object) -> str:
    if isinstance(x, bool):
        return "是" if x else "否"
    if isinstance(x, float):
        return f"{x:g}"
    if isinstance(x, dt.date):
        return x.isoformat()
    return str(x)


def states_itself(fields: dict, atom: Atom, neg: bool) -> bool:
    """Whether evidence shows the test alone, without the enterprise's value in brackets: a derived yes/no
    fact (a record test, a declaration: its description says what holds), or a true test naming the one
    value it holds for (经营状态=在营（开业）, 资质含高新技术企业: the value would repeat it)."""
    f = fields.get(atom.field)
    if f is not None and f.type == "bool" and getattr(f, "derived", None) is not None:
        return True
    _, base, value = atom.key
    return not neg and base in ("in", "has_any") and isinstance(value, tuple) and len(value) == 1


def evidence_piece(fields: dict, atom: Atom, neg: bool) -> tuple[str, bool, str]:
    """How evidence shows one true test: (text before the enterprise's value, whether the value is shown,
    text after it).  ``营业收入≥2000万元（`` value ``）``; a test that says the fact alone (经营状态=在营（开业）,
    资质含高新技术企业, a held certificate) shows no value; a true membership in several values shows the
    enterprise's value as the fact (行业门类=批发和零售业: listing every allowed value would not say more).
    The batch and the online matcher both build evidence from this, so their texts are the same."""
    if states_itself(fields, atom, neg):
        return describe(fields, atom, neg), False, ""
    f = fields.get(atom.field)
    _, base, value = atom.key
    if base == "in" and not neg and f is not None and f.type in ("category", "code", "ordinal", "text", "number"):
        return label(fields, atom.field) + "=", True, ""
    return describe(fields, atom, neg) + "（", True, "）"


def _shown(fields: dict, name: str, x: object) -> str:
    """One value of a test as written in the policy, as a reader sees it (labels for codes and tokens)."""
    return value_label(name, x, fields) if isinstance(x, str) else _fmt(x)


def describe(fields: dict, atom: Atom, neg_flip: bool) -> str:
    """``营业收入≥2000万元`` for one leaf as it acts in the tree (negation applied)."""
    key = atom.key
    base, _ = key[1], key[2]
    neg = neg_flip
    name = atom.field
    f = fields.get(name)
    derived = getattr(f, "derived", None)
    if derived is not None and f.type == "bool" and base == "in" and hasattr(derived, "label"):
        return derived.label((True in key[2]) != neg)  # 高新技术企业在有效期内 / 近3年无行政处罚
    lab = label(fields, name)
    sym = SYMBOLS[(base, neg)]
    if base == "exists":
        return f"{lab}{sym}"
    if base == "in_list":
        return f"{lab}{sym}{atom.value.title}"
    raw = atom.raw
    if f is not None and f.type == "code" and base in ("in", "under"):
        raw = list(key[2])  # canonical codes (the policy may write C3911 or 3911): named by the standard
    if isinstance(raw, list | tuple):
        shown = (
            "[" + ",".join(_fmt(x) for x in raw) + "]"
            if base == "between"
            else "/".join(_shown(fields, name, x) for x in raw)
        )
    else:
        shown = _shown(fields, name, raw)
    return f"{lab}{sym}{shown}{unit(fields, name) if base in ('gt', 'ge', 'between', 'in') else ''}"


def display_arrow(fields: dict, name: str, values: pd.Series, numeric: np.ndarray | None) -> pa.Array:
    """Every enterprise's value of field ``name`` as a reader sees it (an Arrow string array): labels for
    codes and tokens, numbers with their unit, ``未知`` when missing, ``无`` for an empty list."""
    out = _display_arrow(fields, name, values, numeric)
    if isinstance(out, pa.ChunkedArray):
        out = out.combine_chunks()
    return out.cast(pa.large_string())


def _display_arrow(fields: dict, name: str, values: pd.Series, numeric: np.ndarray | None):
    f = fields.get(name)
    ftype = f.type if f is not None else "text"
    if numeric is not None and ftype == "number":
        arr = pc.cast(pa.array(np.round(numeric, 4), from_pandas=True), pa.string())
        u = unit(fields, name)
        return pc.fill_null(pc.binary_join_element_wise(arr, u, "") if u else arr, "未知")
    if ftype == "date":
        d = pd.to_datetime(values, errors="coerce")
        return pa.array(d.dt.strftime("%Y-%m-%d").fillna("未知").astype("string"))
    if ftype == "bool":
        b = values.astype("boolean") if pd.api.types.is_bool_dtype(values.dtype) else values
        out = b.map({True: "是", False: "否"}).astype("string").fillna("未知")
        return pa.array(out)
    s = value_labels(name, values, fields).fillna("未知")
    if ftype == "set":
        s = s.replace("", "无")
    return pa.array(s)


def display(fields: dict, name: str, values: pd.Series, numeric: np.ndarray | None) -> np.ndarray:
    """As :func:`display_arrow`, as a numpy object array."""
    return np.asarray(display_arrow(fields, name, values, numeric).to_numpy(zero_copy_only=False), dtype=object)


def number_text(x: float) -> str:
    """A number as evidence shows it (Arrow's cast of the value rounded to 4 places): 11, 0.0242."""
    text = repr(float(np.round(x, 4)))
    return text[:-2] if text.endswith(".0") else text


def display_one(fields: dict, name: str, v: object, number: float | None = None) -> str:
    """One enterprise's value as :func:`display_arrow` shows it (``number``: the value as a float, for
    number fields); the online matcher's evidence is the batch's, character for character."""
    f = fields.get(name)
    ftype = f.type if f is not None else "text"
    if ftype == "number":
        return "未知" if number is None or np.isnan(number) else number_text(number) + unit(fields, name)
    if ftype == "set":
        return set_label(name, None if v is None else str(v), fields) or "无"
    return value_label(name, v, fields)


def join_arrow(masks: list[np.ndarray], pieces: list[pa.Array], n: int, sep: str = "；") -> pa.Array:
    """Per row, the pieces whose mask is set, joined by ``sep`` — in Arrow, no Python per row.

    (Empty pieces are joined as '' and the doubled separators removed afterwards: Arrow's
    null-skipping join drops rows whose pieces are all null in pyarrow 25.)"""
    if not pieces:
        return pa.array([""] * n, type=pa.string())
    null = pa.scalar(None, pa.string())
    parts = [pc.if_else(pa.array(m), p, null) for m, p in zip(masks, pieces, strict=True)]
    if len(parts) == 1:
        return pc.fill_null(parts[0], "")
    joined = pc.binary_join_element_wise(*parts, sep, null_handling="replace", null_replacement="")
    return pc.utf8_trim(pc.replace_substring_regex(joined, f"{sep}{{2,}}", sep), sep)


def gap_text(
    fields: dict, atom: Atom, neg_flip: bool, x: np.ndarray | None, shown: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(gap text, gap value) for rows failing one leaf: ``营业收入差 120万元`` / ``现为 suspended``."""
    key = atom.key
    base, value = key[1], key[2]
    neg = neg_flip
    name = atom.field
    lab = label(fields, name)
    u = unit(fields, name)
    ftype = fields[name].type
    n = len(shown)
    if ftype == "date" and x is not None:
        u = "天"
    if x is not None and base in ("gt", "ge", "between") and ftype in ("number", "date"):
        if base == "between":
            lo, hi = value
            below = x < lo
            gap = np.where(below, lo - x, x - hi) if not neg else np.minimum(x - lo, hi - x)
            word = np.where(below, "差", "超出") if not neg else np.full(n, "需移出区间", dtype=object)
        elif not neg:
            gap = value - x
            word = np.full(n, "差", dtype=object)
        else:
            gap = x - value
            word = np.full(n, "超出", dtype=object)
        gap = np.round(np.abs(gap), 4)
        num = pa.compute.cast(pa.array(gap, from_pandas=True), pa.string()).to_numpy(zero_copy_only=False)
        text = lab + word.astype(object) + " " + num.astype(object) + u
        return text.astype(object), gap.astype("float64")
    want = describe(fields, atom, neg_flip)
    text = "现为" + shown.astype(object) + "，需" + want
    return np.asarray(text, dtype=object), np.full(n, np.nan)
