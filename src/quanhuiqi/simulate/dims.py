"""The breakdowns a policy office reads: district (区县), industry section (门类), size class and industry chain,
each a small integer code per enterprise with its Chinese label, plus chain membership (an enterprise may
belong to several chains, so chains are counted apart)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from quanhuiqi.profile.fields import CHAINS
from quanhuiqi.reference.sme import SIZE_CLASSES

UNKNOWN = "不详"
SIZE_LABELS = {"large": "大型", "medium": "中型", "small": "小型", "micro": "微型"}


@cache
def district_labels() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(codes, labels) of Jinan's districts, then the prefecture known only (370100), outside Jinan, unknown."""
    from quanhuiqi.reference.districts import jinan_districts

    d = jinan_districts()
    names = d["name"].tolist()
    names = ["高新区" if c == "370176" else n for c, n in zip(d["code"], names, strict=True)]
    return (tuple(d["code"]) + ("370100", "other", "unknown"),
            tuple(names) + ("济南市（区县不详）", "济南市外", UNKNOWN))


@cache
def section_labels() -> tuple[tuple[str, ...], tuple[str, ...]]:
    from quanhuiqi.reference.industries import industry_table

    t = industry_table()
    s = t[t["level"] == 1]
    return tuple(s["code"]) + ("unknown",), tuple(s["name"]) + (UNKNOWN,)


def size_labels() -> tuple[tuple[str, ...], tuple[str, ...]]:
    order = list(reversed(SIZE_CLASSES))  # large first, as statistics tables list them
    return tuple(order) + ("unknown",), tuple(SIZE_LABELS.get(s, s) for s in order) + (UNKNOWN,)


def chain_labels() -> tuple[tuple[str, ...], tuple[str, ...]]:
    from quanhuiqi.profile.chains import CHAIN_NAMES_ZH

    return tuple(CHAINS) + ("none",), tuple(CHAIN_NAMES_ZH.get(c, c) for c in CHAINS) + ("不属重点产业链",)


def _codes(values: pd.Series, known: tuple[str, ...]) -> np.ndarray:
    """Position of each value in ``known`` (last = unknown)."""
    pos = pd.Index(known[:-1]).get_indexer(pd.Index(values.astype("string").fillna("\x00")))
    return np.where(pos < 0, len(known) - 1, pos).astype(np.int64)


@dataclass
class Dimensions:
    """Per enterprise: ``cell`` = district × section × size (one integer), and chain membership bits."""

    district: np.ndarray
    section: np.ndarray
    size: np.ndarray
    chains: np.ndarray  # (n,) uint32 bit k = member of CHAINS[k]
    n_district: int
    n_section: int
    n_size: int

    @property
    def n_cells(self) -> int:
        return self.n_district * self.n_section * self.n_size

    @property
    def cell(self) -> np.ndarray:
        return (self.district * self.n_section + self.section) * self.n_size + self.size

    def take(self, order: np.ndarray) -> Dimensions:
        """The same enterprises in ``order``."""
        return Dimensions(self.district[order], self.section[order], self.size[order], self.chains[order],
                          self.n_district, self.n_section, self.n_size)

    def marginals(self, per_cell: np.ndarray) -> dict[str, np.ndarray]:
        """Sums over the cells of ``per_cell`` (..., n_cells) per district, section and size."""
        cube = per_cell.reshape(per_cell.shape[:-1] + (self.n_district, self.n_section, self.n_size))
        return {"district": cube.sum(axis=(-1, -2)), "section": cube.sum(axis=(-1, -3)),
                "size": cube.sum(axis=(-2, -3))}


def dimensions(profile: pd.DataFrame) -> Dimensions:
    dcodes, _ = district_labels()
    dist = profile["district_code"].astype("string") if "district_code" in profile else pd.Series(
        pd.NA, index=profile.index, dtype="string")
    d = _codes(dist, dcodes)
    in_city = dist.str.startswith("3701").fillna(False).to_numpy(dtype=bool)
    known = dist.notna().to_numpy()
    d = np.where((d == len(dcodes) - 1) & known, np.where(in_city, len(dcodes) - 3, len(dcodes) - 2), d)
    scodes, _ = section_labels()
    s = _codes(profile["industry_section"] if "industry_section" in profile else pd.Series(pd.NA, index=profile.index),
               scodes)
    zcodes, _ = size_labels()
    z = _codes(profile["size_class"] if "size_class" in profile else pd.Series(pd.NA, index=profile.index), zcodes)
    bits = np.zeros(len(profile), dtype=np.uint32)
    if "chains" in profile:  # a few distinct chain lists: decode each once
        codes, uniques = pd.factorize(profile["chains"].astype("string").fillna(""))
        ubits = np.array([sum(1 << k for k, c in enumerate(CHAINS) if c in str(u).split(";")) for u in uniques],
                         dtype=np.uint32)
        bits = ubits[codes] if len(uniques) else bits
    return Dimensions(d, s, z, bits, len(dcodes), len(scodes), len(zcodes))
