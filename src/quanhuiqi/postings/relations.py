"""How two postings relate in place and in the industry chain: district centroids and distances, and
the chain relation of their industry divisions (the shipped ``chain_adjacency.csv``)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from quanhuiqi.postings.columns import CHAIN_SAME, CHAIN_UPSTREAM
from quanhuiqi.postings.vocabulary import chain_adjacency


@cache
def _adjacency_matrix() -> np.ndarray:
    """adj[u, d] = True when division u is upstream of division d (2-digit codes as integers)."""
    adj = chain_adjacency()
    m = np.zeros((100, 100), dtype=bool)
    m[adj["upstream"].astype(int).to_numpy(), adj["downstream"].astype(int).to_numpy()] = True
    return m


@cache
def _centroids() -> tuple[dict[str, int], np.ndarray]:
    from importlib import resources

    path = resources.files("quanhuiqi.postings").joinpath("data").joinpath("jinan_district_centroids.csv")
    with path.open("r", encoding="utf-8") as fh:
        c = pd.read_csv(fh, dtype={"district_code": str})
    x = c["lon"].to_numpy() * 111.32 * np.cos(np.radians(36.7))
    y = c["lat"].to_numpy() * 110.57
    return {code: i for i, code in enumerate(c["district_code"])}, np.column_stack([x, y])


def district_km(d_county: np.ndarray, s_county: np.ndarray) -> np.ndarray:
    """Straight-line km between two districts' centres (indices from ``county_index``, -1 = unknown)."""
    _, xy = _centroids()
    d = np.asarray(d_county, dtype=np.int64)
    s = np.asarray(s_county, dtype=np.int64)
    unknown = (d < 0) | (s < 0)
    dd, ss = np.where(unknown, 0, d), np.where(unknown, 0, s)
    km = np.hypot(xy[dd, 0] - xy[ss, 0], xy[dd, 1] - xy[ss, 1])
    km[unknown] = np.nan
    return km


def county_index(codes: pd.Series) -> np.ndarray:
    """Row of each district in the centroid table, -1 where unknown or outside Jinan."""
    index, _ = _centroids()
    return codes.astype("string").map(index).fillna(-1).to_numpy(dtype=np.int64)


def chain_relation(d_div: np.ndarray, s_div: np.ndarray) -> np.ndarray:
    """2 = supplier's division upstream of the buyer's, 1 = same division, 0 = neither, NaN = unknown
    (divisions as integers, -1 unknown)."""
    d = np.asarray(d_div, dtype=np.int64)
    s = np.asarray(s_div, dtype=np.int64)
    unknown = (d < 0) | (s < 0)
    up = _adjacency_matrix()[np.where(unknown, 0, s), np.where(unknown, 0, d)]
    out = np.where(up, CHAIN_UPSTREAM, np.where(d == s, CHAIN_SAME, 0.0))
    out[unknown] = np.nan
    return out
