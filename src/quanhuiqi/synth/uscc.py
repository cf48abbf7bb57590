"""Valid 统一社会信用代码 (GB 32100-2015) for synthetic enterprises, vectorised.

Layout: registration department ``9`` + entity type (``1`` enterprise, ``2`` individual business,
``3`` farmers' cooperative) + 6-digit registering division + 9-character organisation code
(8 body digits + GB 11714 check) + the check character, added by ``quanhuiqi.tables.uscc.make_uscc``.  Bodies come
from a bijection of the row index, so codes are unique without rejection sampling.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quanhuiqi.tables.uscc import ALPHABET, make_uscc, org_check_values


def make_uscc_codes(district: np.ndarray, index: np.ndarray, seed: int, etype: np.ndarray | None = None) -> np.ndarray:
    """Unique valid codes, one per ``index`` (distinct non-negative ints), registered in ``district``."""
    n = len(index)
    ent_type = np.full(n, 1)
    if etype is not None:
        ent_type = np.where(etype == "个体工商户", 2, np.where(etype == "农民专业合作社", 3, 1))
    # bijection on [0, 1e8): a * i + b mod 1e8 with a coprime to 1e8
    a = 48271 * 2 + 1 if (seed % 2 == 0) else 69621 * 2 + 1
    body = (a * (index.astype(np.int64) + 7919 * (seed % 1000) + 1) + 12345678) % 100_000_000
    digits = (body[:, None] // 10 ** np.arange(7, -1, -1)) % 10
    org_check = org_check_values(digits)  # 10 → 'X'
    org_check_idx = np.where(org_check == 10, ALPHABET.index("X"), org_check)
    dis = np.asarray(district).astype("<U6")
    dis_digits = np.frombuffer(dis.astype("S6").tobytes(), np.uint8).reshape(n, 6).astype(np.int64) - 48
    first = np.concatenate([np.full((n, 1), 9), ent_type[:, None], dis_digits, digits, org_check_idx[:, None]],
                           axis=1)
    alpha = np.frombuffer(ALPHABET.encode(), np.uint8)
    body = np.frombuffer(alpha[first].astype(np.uint8).tobytes(), dtype="S17").astype("U17")
    # the tables stage's make_uscc adds the check character and refuses any body validation would reject
    return make_uscc(pd.Series(body, dtype="string")).to_numpy(dtype=object).astype("U18")
