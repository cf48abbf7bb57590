"""Per-field encoders: a column becomes small integer codes, and every base test on that field
becomes a lookup table over those codes (true / unknown), so each distinct test costs one or
two comparisons on a byte column instead of a pass over the raw values.

Code 0 is always "missing".  Numbers, dates and ordinals are cut at the book's thresholds
(cell ``2j+1`` is "equal to threshold j", even cells lie between thresholds), so every
comparison is a contiguous range of codes.  Open-domain fields (codes, free categories, sets)
are factorised per run and their tables are computed over the distinct values only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quanhuiqi.profile.fields import Field

MAX_RUNS = 4  # above this many runs of true codes, index the table instead of comparing ranges


def _days(values: pd.Series) -> np.ndarray:
    """Dates (datetime64, date objects or ISO text) as float day numbers; NaN when unknown."""
    if not pd.api.types.is_datetime64_any_dtype(values.dtype):
        from quanhuiqi.tables.parse import parse_dates

        values = parse_dates(values)[0]
    ts = pd.to_datetime(values, errors="coerce")
    out = ts.to_numpy(dtype="datetime64[D]", na_value=np.datetime64("NaT")).astype("datetime64[D]")
    days = out.astype("int64").astype("float64")
    days[np.isnat(out)] = np.nan
    return days


def _numbers(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    from quanhuiqi.tables.parse import parse_numbers

    return parse_numbers(values)[0].to_numpy(dtype="float64", na_value=np.nan)


def _texts(values: pd.Series) -> pd.Series:
    s = values.astype("string").str.strip()
    return s.mask(s == "")


def factorized(values: pd.Series, clean) -> tuple[np.ndarray, pd.Series]:
    """Codes (0 = missing, 1.. = distinct clean values) with cleaning run on distinct raw values only:
    registry columns repeat a few values over millions of rows."""
    raw_codes, raw_uniq = pd.factorize(values, use_na_sentinel=True)
    cleaned = clean(pd.Series(raw_uniq, dtype=values.dtype if len(raw_uniq) else "string"))
    codes2, uniq = pd.factorize(cleaned, use_na_sentinel=True)
    lut = np.concatenate([[0], codes2.astype(np.int64) + 1])
    n = len(uniq)
    dtype = np.uint8 if n + 1 <= 256 else (np.uint16 if n + 1 <= 65536 else np.int32)
    return lut.astype(dtype)[raw_codes.astype(np.int64) + 1], pd.Series(uniq, dtype="string")


class Codec:
    """Base test tables for one field.  ``atoms`` are ``(base_op, value)`` in book order."""

    fixed = True  # tables independent of the data (numbers, dates, ordinals, bools, closed categories)

    def __init__(self, field: Field, atoms: list[tuple[str, object]]):
        self.field = field
        self.atoms = atoms
        self._cache: dict[object, tuple[np.ndarray, np.ndarray]] = {}

    # batch: codes for a column, tables (n_codes × n_atoms) for true and unknown
    def encode(self, values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    def numeric(self, values: pd.Series) -> np.ndarray | None:
        """Raw numeric values (for gaps and amounts); None for non-numeric fields."""
        return None

    # online: the true/unknown rows for one value
    def encode_one(self, value: object) -> tuple[np.ndarray, np.ndarray]:
        key = None if _is_na(value) else (value if not isinstance(value, pd.Timestamp) else value.value)
        hit = self._cache.get(key)
        if hit is None:
            codes, t, u = self.encode(
                pd.Series([value], dtype=object if not isinstance(value, str) else "string")
            )
            hit = (t[codes[0]].copy(), u[codes[0]].copy())
            if len(self._cache) < 100_000:
                self._cache[key] = hit
        return hit


def _is_na(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


class OrderedCodec(Codec):
    """number, date, ordinal: codes are cells between and at the book's thresholds."""

    def __init__(self, field: Field, atoms: list[tuple[str, object]]):
        super().__init__(field, atoms)
        vals: set[float] = set()
        for op, v in atoms:
            if op in ("in", "between"):
                vals.update(float(x) for x in v)
            elif op in ("gt", "ge"):
                vals.add(float(v))
        if field.type == "ordinal":
            vals.update(float(i) for i in range(len(field.values or ())))
        self.thresholds = np.array(sorted(vals), dtype="float64")
        k = len(self.thresholds)
        n_codes = 2 * k + 2
        cell = np.arange(n_codes) - 1  # code 0 → cell -1 (missing)
        known = cell >= 0
        t = np.zeros((n_codes, len(atoms)), dtype=bool)
        u = np.zeros((n_codes, len(atoms)), dtype=bool)
        for j, (op, v) in enumerate(atoms):
            if op == "exists":
                t[:, j] = known
                continue
            u[:, j] = ~known
            if op == "ge":
                t[:, j] = cell >= 2 * self._idx(v) + 1
            elif op == "gt":
                t[:, j] = cell >= 2 * self._idx(v) + 2
            elif op == "in":
                t[:, j] = np.isin(cell, [2 * self._idx(x) + 1 for x in v])
            elif op == "between":
                t[:, j] = (cell >= 2 * self._idx(v[0]) + 1) & (cell <= 2 * self._idx(v[1]) + 1)
            else:
                raise ValueError(f"{field.name}: operator {op} not supported on {field.type}")
        self.t, self.u = t, u
        self.dtype = np.uint8 if n_codes <= 256 else (np.uint16 if n_codes <= 65536 else np.int32)

    def _idx(self, v: object) -> int:
        return int(np.searchsorted(self.thresholds, float(v)))

    def numeric(self, values: pd.Series) -> np.ndarray:
        if self.field.type == "date":
            return _days(values)
        if self.field.type == "ordinal":
            order = {v: float(i) for i, v in enumerate(self.field.values or ())}
            raw_codes, raw_uniq = pd.factorize(values, use_na_sentinel=True)
            ranks = (
                _texts(pd.Series(raw_uniq, dtype="string"))
                .map(order)
                .to_numpy(dtype="float64", na_value=np.nan)
            )
            return np.concatenate([[np.nan], ranks])[raw_codes + 1]
        return _numbers(values)

    def codes_of(self, x: np.ndarray) -> np.ndarray:
        thr = self.thresholds
        if thr.size == 0:
            return np.where(np.isnan(x), 0, 1).astype(self.dtype)
        left = np.searchsorted(thr, x, side="left")  # thresholds strictly below x
        equal = thr[np.minimum(left, thr.size - 1)] == x  # thresholds are distinct: at most one equals x
        codes = (2 * left + 1 + equal).astype(self.dtype)
        codes[np.isnan(x)] = 0
        return codes

    def encode(self, values: pd.Series):
        return self.codes_of(self.numeric(values)), self.t, self.u

    def encode_one(self, value: object):
        x = self.numeric(pd.Series([value], dtype=object if not isinstance(value, str) else "string"))
        c = self.codes_of(x)[0]
        return self.t[c], self.u[c]


class BoolCodec(Codec):
    def __init__(self, field: Field, atoms: list[tuple[str, object]]):
        super().__init__(field, atoms)
        t = np.zeros((3, len(atoms)), dtype=bool)
        u = np.zeros((3, len(atoms)), dtype=bool)
        for j, (op, v) in enumerate(atoms):
            if op == "exists":
                t[1:, j] = True
            else:
                u[0, j] = True
                t[1, j] = False in v
                t[2, j] = True in v
        self.t, self.u = t, u

    def codes(self, values: pd.Series) -> np.ndarray:
        if pd.api.types.is_bool_dtype(values.dtype):
            b = values.astype("boolean")
        else:
            from quanhuiqi.tables.parse import parse_bools

            b = parse_bools(values)[0]
        arr = b.to_numpy(dtype="float64", na_value=np.nan)
        out = np.where(np.isnan(arr), 0, np.where(arr > 0.5, 2, 1)).astype(np.uint8)
        return out

    def encode(self, values: pd.Series):
        return self.codes(values), self.t, self.u

    def encode_one(self, value: object):
        c = self.codes(pd.Series([value], dtype=object))[0]
        return self.t[c], self.u[c]


class CategoryCodec(Codec):
    """Categories, free text and codes: factorised per run; tables over the distinct values."""

    fixed = False

    def __init__(self, field: Field, atoms: list[tuple[str, object]]):
        super().__init__(field, atoms)
        self.allowed = set(field.values) if field.values else None

    def clean(self, values: pd.Series) -> pd.Series:
        s = _texts(values)
        if self.allowed is not None:
            s = s.where(s.isin(self.allowed))  # status text the mapping does not know is unknown
        if self.field.hierarchy == "industry":
            from quanhuiqi.reference.industries import canonical_industry_code

            s = canonical_industry_code(s)
        elif self.field.hierarchy == "district":
            s = s.where(s.str.fullmatch(r"\d{6}").fillna(False))
        return s

    def encode(self, values: pd.Series):
        codes, uniq = factorized(values, self.clean)
        t, u = self.tables(uniq)
        return codes, t, u

    def tables(self, uniq: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        n = len(uniq)
        t = np.zeros((n + 1, len(self.atoms)), dtype=bool)
        u = np.zeros((n + 1, len(self.atoms)), dtype=bool)
        keys = self._keys(uniq)
        for j, (op, v) in enumerate(self.atoms):
            if op == "exists":
                t[1:, j] = True
                continue
            u[0, j] = True
            if op == "in":
                tj = uniq.isin(list(v)).to_numpy(dtype=bool)
                uj = np.zeros(n, dtype=bool)
                if keys is not None:  # a coarse code that could be refined to the value is unknown
                    for x in v:
                        kx = self._key_one(x)
                        uj |= np.array([kx.startswith(k) for k in keys], dtype=bool) & ~tj
            elif op == "under":
                tj = np.zeros(n, dtype=bool)
                uj = np.zeros(n, dtype=bool)
                for x in v:
                    kx = self._key_one(x)
                    tj |= keys.str.startswith(kx).to_numpy(dtype=bool)
                    uj |= np.array([kx.startswith(k) for k in keys], dtype=bool)
                uj &= ~tj
            elif op == "in_list":
                tj, uj = self._in_list(keys, v)
            else:
                raise ValueError(f"{self.field.name}: operator {op} not supported on {self.field.type}")
            t[1:, j] = tj
            u[1:, j] = uj
        return t, u

    def _in_list(self, keys: pd.Series, lst) -> tuple[np.ndarray, np.ndarray]:
        """A named industry list, three-valued: under a member → true; under a member only partly in the
        list, or a coarse code that could lie under a member → unknown; else false.  Each distinct code
        looks up its own ancestors in the members' key sets (no scan of the list per code)."""
        full = {self._key_one(c) for c in lst.full}
        partial = {self._key_one(c) for c in lst.partial}
        prefixes = {k[:i] for k in full | partial for i in range(1, len(k))}  # ancestors of members
        tj = np.zeros(len(keys), dtype=bool)
        uj = np.zeros(len(keys), dtype=bool)
        for i, k in enumerate(keys.tolist()):
            if not isinstance(k, str) or k.startswith("?"):
                continue
            ancestors = {k[:j] for j in (1, 3, 4, 5) if j <= len(k)}
            if ancestors & full:
                tj[i] = True
            elif ancestors & partial or k in prefixes:
                uj[i] = True
        return tj, uj

    def _keys(self, uniq: pd.Series) -> pd.Series | None:
        """Hierarchy keys whose string prefixes are the hierarchy (``C3911`` under ``C39`` under ``C``)."""
        if self.field.hierarchy == "industry":
            from quanhuiqi.reference.industries import industry_hierarchy

            h = industry_hierarchy(uniq)
            sec = h["industry_section"].fillna("?")
            return (sec + uniq.where(uniq.str.len() > 1, "")).astype("string")
        if self.field.hierarchy == "district":
            from quanhuiqi.reference.districts import district_prefix

            return district_prefix(uniq).astype("string")
        return None

    def _key_one(self, value: str) -> str:
        if self.field.hierarchy == "industry":
            from quanhuiqi.reference.industries import lookup_industry

            c = lookup_industry(value)
            return c.section + ("" if c.level == 1 else c.code)
        if self.field.hierarchy == "district":
            return str(value)  # prefixes (2/4/6 digits) as written; full codes compare by themselves
        return str(value)

    def encode_one(self, value: object):
        key = None if _is_na(value) else str(value)
        hit = self._cache.get(key)
        if hit is None:
            if self.field.hierarchy is None:
                hit = self._plain_one(key)
            else:
                codes, t, u = self.encode(pd.Series([value], dtype="string"))
                hit = (t[codes[0]].copy(), u[codes[0]].copy())
            if len(self._cache) < 100_000:
                self._cache[key] = hit
        return hit

    def _plain_one(self, key: str | None) -> tuple[np.ndarray, np.ndarray]:
        """One value of a non-hierarchical category, in plain Python (the online path)."""
        v = None if key is None else key.strip() or None
        if v is not None and self.allowed is not None and v not in self.allowed:
            v = None
        t = np.zeros(len(self.atoms), dtype=bool)
        u = np.zeros(len(self.atoms), dtype=bool)
        for j, (op, vals) in enumerate(self.atoms):
            if op == "exists":
                t[j] = v is not None
            elif v is None:
                u[j] = True
            else:
                t[j] = v in vals
        return t, u

    def warm(self) -> None:
        """Fill the online cache with every code of the standard (industry or district) and with a missing
        value, so no online call pays for a first sight (the table path costs milliseconds)."""
        if self.field.hierarchy == "industry":
            from quanhuiqi.reference.industries import industry_table

            domain = pd.Series(industry_table()["code"].to_numpy(), dtype="string")
        elif self.field.hierarchy == "district":
            from quanhuiqi.reference.districts import division_table

            domain = pd.Series(division_table()["code"].to_numpy(), dtype="string")
        else:
            return
        codes, t, u = self.encode(pd.concat([domain, pd.Series([None], dtype="string")], ignore_index=True))
        for value, c in zip(domain.tolist() + [None], codes.tolist(), strict=True):
            self._cache[value] = (t[c].copy(), u[c].copy())


class SetCodec(Codec):
    """``;``-joined token sets, closed world: a missing list holds nothing (never unknown)."""

    fixed = False

    def encode(self, values: pd.Series):
        codes, uniq = factorized(values, lambda s: s.astype("string"))
        t, u = self.tables(list(uniq))
        return codes, t, u

    def tables(self, uniq: list) -> tuple[np.ndarray, np.ndarray]:
        sets = [frozenset(x for x in str(v).split(";") if x) for v in uniq]
        t = np.zeros((len(sets) + 1, len(self.atoms)), dtype=bool)
        u = np.zeros_like(t)
        for j, (op, v) in enumerate(self.atoms):
            if op == "exists":
                t[1:, j] = True
            elif op == "has_any":
                want = set(v)
                t[1:, j] = [not want.isdisjoint(s) for s in sets]
            elif op == "has_all":
                want = set(v)
                t[1:, j] = [want <= s for s in sets]
            else:
                raise ValueError(f"{self.field.name}: operator {op} not supported on sets")
        return t, u

    def encode_one(self, value: object):
        key = None if _is_na(value) else str(value)
        hit = self._cache.get(key)
        if hit is None:
            t, u = self.tables([] if key is None else [key])
            hit = (t[0 if key is None else 1].copy(), u[0 if key is None else 1].copy())
            if len(self._cache) < 100_000:
                self._cache[key] = hit
        return hit


def make_codec(field: Field, atoms: list[tuple[str, object]]) -> Codec:
    if field.type in ("number", "date", "ordinal"):
        return OrderedCodec(field, atoms)
    if field.type == "bool":
        return BoolCodec(field, atoms)
    if field.type == "set":
        return SetCodec(field, atoms)
    return CategoryCodec(field, atoms)
