"""统一社会信用代码 (USCC) checks per GB 32100-2015, vectorised over a whole column.

A USCC is 18 characters from ``0-9A-Z`` without I O S V Z:

====== ============================================================================
1      registration authority (登记管理部门代码)
2      entity type under that authority (机构类别代码)
3–8    admin division of the registering office (GB/T 2260, 6 digits)
9–17   主体标识码 = the organisation code of GB 11714 (8 characters + its own check)
18     check character: weights 3^i mod 31 over the first 17, value (31 − Σ mod 31) mod 31
====== ============================================================================

``uscc_reason`` says *which* check failed so that a reject names it.  python-stdnum's
``stdnum.cn.uscc`` checks length, charset and the 18th character only, and it requires the first 8
characters to be digits, so it refuses the letter authorities of the standard (``A`` 中央军委改革和
编制办公室, ``N`` 农业, ``Y`` 其他) that this module accepts; it checks neither the authority/type
pair nor the embedded organisation code, which this module does.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from quanhuiqi.tables.parse import from_arrow, string_bytes, to_arrow, whitespace_class

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015 table 2: 31 characters
WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)  # 1, 3, 9, 27, 19, …
ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)  # GB 11714-1997

# GB 32100-2015 table 1: registration authority → its entity-type codes.
AUTHORITY_TYPES: dict[str, str] = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 编办直管群众团体, 其他
    "2": "19",  # 外交: 外国常驻新闻机构, 其他
    "3": "123459",  # 司法行政: 律师执业机构, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会, 其他
    "4": "19",  # 文化: 外国在华文化中心, 其他
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": "129",  # 旅游: 外国/港澳台旅游部门常驻代表机构, 其他
    "7": "129",  # 宗教: 宗教活动场所, 宗教院校, 其他
    "8": "19",  # 工会: 基层工会, 其他
    "9": "123",  # 工商 (市场监管): 企业, 个体工商户, 农民专业合作社
    "A": "19",  # 中央军委改革和编制办公室: 军队事业单位, 其他
    "N": "1239",  # 农业: 组级, 村级, 乡镇级集体经济组织, 其他
    "Y": "1",  # 其他 registration authorities
}

# Reasons, in the order the checks run: a code gets the first that fails.
REASON_LENGTH = "invalid uscc: not 18 characters"
REASON_CHARSET = "invalid uscc: character outside 0-9 A-Z without I O S V Z"
REASON_AUTHORITY = "invalid uscc: unknown registration authority / entity type (characters 1-2)"
REASON_ADMIN = "invalid uscc: admin division code (characters 3-8) is not 6 digits"
REASON_ORG_CHECK = "invalid uscc: organisation code check character (character 17, GB 11714) wrong"
REASON_CHECK = "invalid uscc: check character (character 18, GB 32100-2015) wrong"
USCC_REASONS = (REASON_LENGTH, REASON_CHARSET, REASON_AUTHORITY, REASON_ADMIN, REASON_ORG_CHECK, REASON_CHECK)


def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Byte → USCC value (255 if not allowed), byte → GB 11714 value (255 if not alphanumeric), allowed pairs."""
    value = np.full(256, 255, dtype=np.uint8)
    for i, ch in enumerate(ALPHABET):
        value[ord(ch)] = i
    org = np.full(256, 255, dtype=np.uint8)
    for ch in "0123456789":
        org[ord(ch)] = int(ch)
    for ch in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        org[ord(ch)] = ord(ch) - 55  # A = 10 … Z = 35
    pairs = np.zeros((256, 256), dtype=bool)
    for auth, types in AUTHORITY_TYPES.items():
        for t in types:
            pairs[ALPHABET.index(auth), ALPHABET.index(t)] = True
    return value, org, pairs


_VALUE, _ORG_VALUE, _PAIRS = _tables()


# bytes that normalize_uscc never changes: ASCII (NFKC leaves it alone) but not lower-case letters,
# Python whitespace or the hyphen
_PLAIN_BYTE = np.zeros(256, dtype=bool)
_PLAIN_BYTE[:128] = True
_PLAIN_BYTE[[ord(c) for c in "abcdefghijklmnopqrstuvwxyz-"]] = False
_PLAIN_BYTE[[i for i in range(128) if chr(i).isspace()]] = False


def normalize_uscc(values: pd.Series) -> pd.Series:
    """NFKC (full-width → ASCII), whitespace and hyphens removed, upper-case; empty → missing."""
    arr = to_arrow(values)
    data = string_bytes(arr)
    # the usual registry column has only 0-9 and A-Z (two fast reductions say so): nothing to normalise
    plain = len(data) == 0 or (data.min() >= 0x30 and data.max() <= 0x5A) or _PLAIN_BYTE[data].all()
    if plain:
        if pc.any(pc.equal(pc.binary_length(arr), 0)).as_py():
            arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
        return from_arrow(arr, values.index)
    arr = pc.utf8_normalize(arr, form="NFKC")
    arr = pc.utf8_upper(
        pc.replace_substring_regex(arr, pattern=whitespace_class()[:-1] + "-]", replacement="")
    )
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
    return from_arrow(arr, values.index)


def _as_series(values: pd.Series | Iterable[str] | str) -> pd.Series:
    if isinstance(values, pd.Series):
        return values
    if isinstance(values, str):
        return pd.Series([values], dtype="string")
    return pd.Series(list(values), dtype="string")


def _code_points(arr: pa.Array) -> np.ndarray:
    """(n, 18) uint8 array of the bytes of ASCII codes known to be 18 bytes long, straight from the buffer."""
    arr = arr.cast(pa.large_string()) if arr.type != pa.large_string() else arr
    arr = pa.concat_arrays([arr]) if arr.offset else arr
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[: len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data.reshape(len(arr), 18)


def org_check_values(body8: np.ndarray) -> np.ndarray:
    """GB 11714 check value (0–10, 10 written X) of (n, 8) organisation-code values."""
    return (11 - _weighted_sum(body8, ORG_WEIGHTS) % 11) % 11


def _weighted_sum(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``values @ weights`` for an (n, k) small-integer array: column by column in int64, because
    numpy's integer matmul has no fast kernel and would first widen the whole array."""
    values = np.asarray(values)
    total = np.zeros(values.shape[:-1], dtype=np.int64)
    for i, w in enumerate(weights):
        total += values[..., i].astype(np.int64) * int(w)
    return total


def _weighted_rows(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``weights @ values`` for a (k, n) uint8 array, row by row in int32 (255 × 31 × 18 fits)."""
    total = np.zeros(values.shape[1], dtype=np.int32)
    for i, w in enumerate(weights):
        total += values[i].astype(np.int32) * np.int32(w)
    return total.astype(np.int64)


def uscc_reason(values: pd.Series | Iterable[str] | str, *, normalized: bool = False) -> pd.Series:
    """Per code: NA when valid, else the first failing check's reason (missing codes stay NA).

    Codes are normalised first (:func:`normalize_uscc`) unless ``normalized``; callers treat a
    missing code separately.
    """
    s = _as_series(values) if normalized else normalize_uscc(_as_series(values))
    reason, _, _ = _check(to_arrow(s))
    return _reason_text(reason, s.index)


def uscc_checked(codes: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """:func:`uscc_reason` of normalised codes plus their :func:`uscc_key` halves, in one pass over
    the characters (meaningful for valid codes only; −1 where a code is not 18 ASCII characters)."""
    reason, idx, v = _check(to_arrow(codes))
    hi = np.full(len(codes), -1, dtype=np.int64)
    lo = np.full(len(codes), -1, dtype=np.int64)
    if v is not None:
        hi[idx], lo[idx] = _key_halves(v)
    return _reason_text(reason, codes.index), hi, lo


def _reason_text(reason: np.ndarray, index: pd.Index) -> pd.Series:
    text = pa.array(USCC_REASONS, type=pa.large_string())
    picked = pc.take(text, pa.array(reason, mask=reason < 0).cast(pa.int32()))
    return pd.Series(pd.arrays.ArrowStringArray(picked), index=index, dtype="string")


def _key_halves(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Characters 1–9 and 10–18 of (18, n) alphabet values as base-31 numbers (both < 31**9 < 2**63)."""
    halves = []
    for part in (v[:9], v[9:]):
        total = np.zeros(v.shape[1], dtype=np.int64)
        for row in part:
            total = total * 31 + row
        halves.append(total)
    return halves[0], halves[1]


def _check(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Per code the index of its reason in USCC_REASONS (−1: valid or missing), the positions of the
    18-character ASCII codes, and their (18, m) alphabet values (255: not in the alphabet)."""
    reason = np.full(len(arr), -1, dtype=np.int8)
    present = pc.is_valid(arr).to_numpy(zero_copy_only=False)
    length18 = pc.fill_null(pc.equal(pc.utf8_length(arr), 18), False).to_numpy(zero_copy_only=False)
    reason[present & ~length18] = 0
    ascii18 = length18 & pc.fill_null(pc.string_is_ascii(arr), False).to_numpy(zero_copy_only=False)
    reason[length18 & ~ascii18] = 1
    idx = np.flatnonzero(ascii18)
    if len(idx):
        cp = _code_points(arr if len(idx) == len(arr) else arr.filter(pa.array(ascii18)))
        # character position first (18, n): every step below then runs over contiguous rows
        cp = np.ascontiguousarray(cp.T)
        v = _VALUE[cp]  # 255 where the byte is not in the alphabet
        charset_ok = (v != 255).all(axis=0)
        pair_ok = _PAIRS[v[0], v[1]]
        admin_ok = (v[2:8] <= 9).all(axis=0)
        org_expected = (11 - _weighted_rows(_ORG_VALUE[cp[8:16]], ORG_WEIGHTS) % 11) % 11
        org_written = np.where(cp[16] == ord("X"), 10, np.where(v[16] <= 9, v[16], -1))
        org_ok = org_written == org_expected
        check_expected = (31 - _weighted_rows(v[:17], WEIGHTS) % 31) % 31
        check_ok = v[17] == check_expected
        sub = np.full(len(idx), -1, dtype=np.int8)
        # assign in reverse order so the first failing check wins
        sub[~check_ok] = 5
        sub[~org_ok] = 4
        sub[~admin_ok] = 3
        sub[~pair_ok] = 2
        sub[~charset_ok] = 1
        reason[idx] = sub
        return reason, idx, v
    return reason, idx, None


def uscc_key(codes: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Two int64 per code, characters 1–9 and 10–18 read as base-31 numbers: equal pairs ⇔ equal codes.

    A key for grouping by USCC (duplicates) without hashing millions of strings.  Only for codes
    that passed :func:`uscc_reason` (18 characters of the alphabet); anything else is a ValueError.
    """
    arr = to_arrow(codes)
    if len(arr) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if arr.null_count or not pc.all(pc.equal(pc.binary_length(arr), 18)).as_py():
        raise ValueError("uscc_key: every code must be a valid 18-character USCC")
    v = _VALUE[np.ascontiguousarray(_code_points(arr).T)]
    if (v == 255).any():
        raise ValueError("uscc_key: every code must be a valid 18-character USCC")
    return _key_halves(v)


def is_valid_uscc(values: pd.Series | Iterable[str] | str) -> bool | pd.Series:
    """True where a code passes every GB 32100-2015 check (one ``str`` → one ``bool``)."""
    if isinstance(values, str):
        return bool(pd.isna(uscc_reason(values).iloc[0]))
    s = _as_series(values)
    ok = uscc_reason(s).isna() & normalize_uscc(s).notna()
    return ok.astype(bool)


def org_check_char(body8: str) -> str:
    """The GB 11714 check character of an 8-character organisation-code body."""
    ov = np.array([[_ORG_VALUE[ord(c)] if ord(c) < 128 else 255 for c in body8]], dtype=np.int64)
    if ov.shape[1] != 8 or (ov == 255).any():
        raise ValueError(f"organisation code body must be 8 characters of 0-9A-Z, got {body8!r}")
    c = int(org_check_values(ov)[0])
    return "X" if c == 10 else str(c)


def _check_chars(bodies: pd.Series) -> pd.Series:
    cp = np.asarray(bodies.to_numpy(dtype=object), dtype="U17").view(np.uint32).reshape(len(bodies), 17)
    v = _VALUE[np.minimum(cp, 255)].astype(np.int64)
    c = (31 - (v @ WEIGHTS) % 31) % 31
    return pd.Series(np.array(list(ALPHABET))[c], index=bodies.index, dtype="string")


def make_uscc(body17: str | pd.Series) -> str | pd.Series:
    """``body17`` plus its GB 32100-2015 check character (one string, or a whole column).

    The body must already hold a valid authority/type pair, a 6-digit admin code and a valid
    embedded organisation code (build it with :func:`org_check_char`); otherwise ``ValueError``
    names the failing check, so a generator cannot silently produce codes validation would reject.
    """
    single = isinstance(body17, str)
    bodies = _as_series(body17).astype("string")
    bad_len = (bodies.str.len() != 17).fillna(True)
    if bad_len.any():
        raise ValueError(f"make_uscc: body must be 17 characters ({int(bad_len.sum())} are not)")
    bad_chars = ~bodies.str.fullmatch(f"[{ALPHABET}]{{17}}").fillna(False)
    if bad_chars.any():
        raise ValueError(f"make_uscc: {REASON_CHARSET} ({int(bad_chars.sum())} bodies)")
    codes = bodies + _check_chars(bodies)
    reasons = uscc_reason(codes)
    if reasons.notna().any():
        first = reasons.dropna().iloc[0]
        raise ValueError(f"make_uscc: {first} ({int(reasons.notna().sum())} bodies)")
    return str(codes.iloc[0]) if single else codes


_STRIPPED = frozenset(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85-") | frozenset(chr(i) for i in range(0x80) if chr(i).isspace())


def normalize_uscc_one(text: str | None) -> str | None:
    """:func:`normalize_uscc` of one value (the online path): ASCII text is normalised here, anything
    else through the column function, so both always agree."""
    if text is None:
        return None
    if not text.isascii():
        out = normalize_uscc(pd.Series([text], dtype="string")).iloc[0]
        return None if pd.isna(out) else str(out)
    s = "".join(c for c in text if c not in _STRIPPED).upper() if not (text.isalnum() and text.isupper()) \
        else text
    return s or None


def uscc_reason_one(code: str) -> str | None:
    """:func:`uscc_reason` of one normalised code: None when valid, else the first failing check's reason."""
    if len(code) != 18:
        return REASON_LENGTH
    if not code.isascii():
        return REASON_CHARSET
    cp = np.frombuffer(code.encode("ascii"), dtype=np.uint8)
    v = _VALUE[cp]
    if (v == 255).any():
        return REASON_CHARSET
    if not _PAIRS[v[0], v[1]]:
        return REASON_AUTHORITY
    if not (v[2:8] <= 9).all():
        return REASON_ADMIN
    org_expected = (11 - int(_ORG_VALUE[cp[8:16]].astype(np.int64) @ ORG_WEIGHTS) % 11) % 11
    org_written = 10 if cp[16] == ord("X") else int(v[16]) if v[16] <= 9 else -1
    if org_written != org_expected:
        return REASON_ORG_CHECK
    if int(v[17]) != (31 - int(v[:17].astype(np.int64) @ WEIGHTS) % 31) % 31:
        return REASON_CHECK
    return None
