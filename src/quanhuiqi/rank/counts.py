"""Counts keyed by text, that add up: the form in which enterprise partitions hand their statistics over.

A partition knows its own enterprises only; the ranker's city-level statistics (how many candidates a
policy has in each industry, how often the city clicked a policy's pushes) are sums over every
enterprise.  Each partition returns :class:`KeyedCounts` — integer counts per combination of text keys
(``policy_id``, a segment value, a token …) — and :meth:`KeyedCounts.sum` adds any number of them: the
key vocabularies are united, the codes remapped, and equal combinations summed.  Counts are integers,
so the sum is exact and does not depend on how the enterprises were split or in which order the parts
arrive; the rows come out sorted by key (codes in the sorted vocabulary, a missing key last).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class KeyedCounts:
    """Integer ``values`` (one column per name in ``columns``) per combination of keys.

    ``keys``: per key column, its distinct values (a string Index); ``codes``: (rows × key columns)
    int64 codes into them, -1 for a missing key.  Rows with the same codes may repeat until
    :meth:`sum` merges them.
    """

    names: tuple[str, ...]
    keys: tuple[pd.Index, ...]
    codes: np.ndarray
    values: np.ndarray
    columns: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.columns:
            raise ValueError("KeyedCounts needs at least one value column")
        self.values = np.asarray(self.values, dtype=np.int64).reshape(-1, len(self.columns))
        self.codes = np.asarray(self.codes, dtype=np.int64).reshape(len(self.values), len(self.names))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, names: Sequence[str], columns: Sequence[str]) -> KeyedCounts:
        """Counts of a frame with the key columns ``names`` (text or categorical; missing allowed) and
        integer-valued ``columns``."""
        keys, codes = [], []
        for c in names:
            col = frame[c]
            if isinstance(col.dtype, pd.CategoricalDtype):
                k = pd.Index(col.cat.categories.astype("string"), dtype="string")
                code = np.asarray(col.cat.codes, dtype=np.int64)
            else:
                code, uniq = pd.factorize(col.astype("string"), use_na_sentinel=True)
                k = pd.Index(uniq, dtype="string")
            keys.append(k)
            codes.append(np.asarray(code, dtype=np.int64))
        values = np.column_stack([_integers(frame[c].to_numpy(dtype=float)) for c in columns])
        return cls(tuple(names), tuple(keys), np.column_stack(codes) if codes else np.zeros((len(frame), 0)),
                   values, tuple(columns))

    def total(self) -> np.ndarray:
        """Each value column summed over every key."""
        return self.values.sum(axis=0)

    @classmethod
    def sum(cls, parts: Sequence[KeyedCounts]) -> KeyedCounts:
        """The counts of all ``parts`` added key by key (same key names and value columns required)."""
        if not parts:
            raise ValueError("KeyedCounts.sum needs at least one part")
        first = parts[0]
        for p in parts[1:]:
            if p.names != first.names or p.columns != first.columns:
                raise ValueError(f"counts of different tables: {p.names}/{p.columns} vs {first.names}/{first.columns}")
        vocab = []
        for j in range(len(first.names)):
            joined = pd.Index(np.unique(np.concatenate([np.asarray(p.keys[j].astype(object), dtype=object)
                                                         for p in parts]).astype(str))
                              if any(len(p.keys[j]) for p in parts) else [], dtype="string")
            vocab.append(joined)
        sizes = [len(v) + 1 for v in vocab]  # code len(v): missing
        mapped = []
        for p in parts:
            cols = []
            for j, v in enumerate(vocab):
                at = np.asarray(v.get_indexer(p.keys[j]), dtype=np.int64) if len(p.keys[j]) else np.zeros(0, np.int64)
                c = p.codes[:, j]
                cols.append(np.where(c < 0, len(v), at[np.maximum(c, 0)] if len(at) else len(v)))
            mapped.append(np.column_stack(cols) if cols else np.zeros((len(p.codes), 0), dtype=np.int64))
        codes = np.concatenate(mapped) if mapped else np.zeros((0, len(vocab)), dtype=np.int64)
        values = np.concatenate([p.values for p in parts])
        if float(np.prod(sizes, dtype=float)) >= 2.0**62:  # pragma: no cover - vocabularies of billions
            raise ValueError("KeyedCounts.sum: key space too large")
        radix = np.zeros(len(codes), dtype=np.int64)
        for j, size in enumerate(sizes):
            radix = radix * size + codes[:, j]
        uniq, inverse = np.unique(radix, return_inverse=True)  # sorted: by key codes, missing last
        summed = np.zeros((len(uniq), values.shape[1]), dtype=np.int64)
        np.add.at(summed, inverse.ravel(), values)
        out = np.empty((len(uniq), len(sizes)), dtype=np.int64)
        rest = uniq
        for j in range(len(sizes) - 1, -1, -1):
            rest, out[:, j] = np.divmod(rest, sizes[j])
        for j, v in enumerate(vocab):
            out[:, j] = np.where(out[:, j] == len(v), -1, out[:, j])
        return cls(first.names, tuple(vocab), out, summed, first.columns)

    def frame(self, categorical: bool = True) -> pd.DataFrame:
        """One row per stored combination: the key columns (categorical over ``keys``, or text) and the
        values (int64)."""
        data: dict[str, object] = {}
        for j, c in enumerate(self.names):
            cat = pd.Categorical.from_codes(self.codes[:, j], categories=self.keys[j])
            data[c] = cat if categorical else pd.array(np.asarray(cat, dtype=object), dtype="string")
        for j, c in enumerate(self.columns):
            data[c] = self.values[:, j]
        return pd.DataFrame(data, index=pd.RangeIndex(len(self.codes)))


def _integers(x: np.ndarray) -> np.ndarray:
    """Counts held as floats (sums of 0/1 flags) as exact int64; refuses anything else."""
    out = np.rint(np.nan_to_num(x, nan=0.0))
    if not np.array_equal(out, np.nan_to_num(x, nan=0.0)):
        raise ValueError("KeyedCounts: values must be whole counts")
    return out.astype(np.int64)
