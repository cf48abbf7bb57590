"""Read the reference files shipped inside the package (never from outside it)."""

from __future__ import annotations

from importlib import resources

import pandas as pd


def reference_path(name: str):
    return resources.files("quanhuiqi.reference").joinpath("data").joinpath(name)


def read_reference_csv(name: str) -> pd.DataFrame:
    """Codes stay strings: leading zeros matter (``0111``, ``01``)."""
    with reference_path(name).open("rb") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False, na_values=[""])
