"""Hand-made postings for the tests: every fact chosen."""

from __future__ import annotations

import pandas as pd

AS_OF = "2025-07-01"


def posting(pid: str, uscc: str, side: str, title: str, **kw) -> dict:
    row = {
        "posting_id": pid, "uscc": uscc, "side": side, "title": title, "description": kw.pop("description", ""),
        "tags": kw.pop("tags", ""), "industry_code": kw.pop("industry_code", ""),
        "district_code": kw.pop("district_code", "370102"), "quantity": kw.pop("quantity", ""),
        "unit": kw.pop("unit", "吨"), "price_min": kw.pop("price_min", ""), "price_max": kw.pop("price_max", ""),
        "posted_on": kw.pop("posted_on", "2025-06-20"), "expires_on": kw.pop("expires_on", "2025-09-30"),
    }
    assert not kw, kw
    return row


def frame(rows: list[dict]) -> pd.DataFrame:
    """As ``read_table`` gives a CSV: every cell text, empty cells missing."""
    df = pd.DataFrame(rows).astype(str).replace({"": pd.NA})
    return df.astype("string")
