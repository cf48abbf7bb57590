"""The enterprise profile (企业画像): every builder in order, over the clean enterprise table.

Same rows, same order, same index as the input; every input column kept (``status`` becomes the
canonical status, the registry text moves to ``status_text``; ``industry_code`` becomes the code
actually known, from the code or from the name).  Derived columns and their representation are
``quanhuiqi.profile.fields.BUILTIN_FIELDS`` plus ``industry_level``, ``industry_match``,
``industry_confidence`` and ``size_industry_key``.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from quanhuiqi.profile._base import FeatureBuilder, merge_columns
from quanhuiqi.profile.chains import ChainFeatures
from quanhuiqi.profile.derived import AgeFeatures, FinanceFeatures, as_date
from quanhuiqi.profile.fields import BUILTIN_FIELDS
from quanhuiqi.profile.industry import IndustryFeatures
from quanhuiqi.profile.size import SizeFeatures
from quanhuiqi.profile.status import StatusFeatures
from quanhuiqi.profile.tags import TagFeatures

PROFILE_EXTRA = ("industry_level", "industry_match", "industry_confidence", "size_industry_key")


class EnterpriseProfiler(TransformerMixin, BaseEstimator):
    """All profile builders composed: industry → status → size → age → finance → chains → tags.

    Parameters are those of the builders: ``as_of`` (required: nothing reads the clock),
    ``industry_confidence_floor`` and ``industry_margin`` for name → code matching.
    """

    def __init__(self, as_of: dt.date | str | None = None, industry_confidence_floor: float = 0.85,
                 industry_margin: float = 3.0):
        self.as_of = as_of
        self.industry_confidence_floor = industry_confidence_floor
        self.industry_margin = industry_margin

    def _builders(self) -> list[tuple[str, FeatureBuilder]]:
        return [
            ("industry", IndustryFeatures(self.industry_confidence_floor, self.industry_margin)),
            ("status", StatusFeatures()),
            ("size", SizeFeatures()),
            ("age", AgeFeatures(self.as_of)),
            ("finance", FinanceFeatures()),
            ("chains", ChainFeatures()),
            ("tags", TagFeatures()),
        ]

    def fit(self, X: pd.DataFrame, y=None):
        X = FeatureBuilder._check_frame(X)
        if self.as_of is None:
            raise ValueError("EnterpriseProfiler needs as_of (nothing reads the wall clock)")
        as_date(self.as_of)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.steps_ = []
        cols = list(X.columns)
        for name, b in self._builders():
            b.feature_names_in_ = np.asarray(cols, dtype=object)
            b.n_features_in_ = len(cols)
            cols = list(b.get_feature_names_out())
            self.steps_.append((name, b))
        self.missing_fields_ = [f.name for f in BUILTIN_FIELDS if f.name not in cols]
        self.feature_names_out_ = np.asarray(cols + self.missing_fields_, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "steps_")
        X = FeatureBuilder._check_frame(X)
        if list(X.columns) != list(self.feature_names_in_):
            raise ValueError("EnterpriseProfiler: columns differ from those seen in fit")
        out = X
        for _, b in self.steps_:
            out = merge_columns(out, b.derive(out)[list(b.produces)])
        if self.missing_fields_:  # every field a policy may test exists; absent facts are unknown
            out = merge_columns(out, pd.DataFrame({name: _unknown_column(name, out.index)
                                                   for name in self.missing_fields_}, index=out.index))
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "steps_")
        return self.feature_names_out_.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


_DTYPES = {"number": "float64", "bool": "boolean", "date": "datetime64[ns]", "set": "string"}


def _unknown_column(name: str, index: pd.Index) -> pd.Series:
    kind = next(f.type for f in BUILTIN_FIELDS if f.name == name)
    if kind == "set":  # closed world: an absent list holds nothing
        return pd.Series("", index=index, dtype="string")
    missing = {"number": np.nan, "date": pd.NaT}.get(kind, pd.NA)
    return pd.Series(missing, index=index, dtype=_DTYPES.get(kind, "string"))


def profile(clean: pd.DataFrame, as_of: dt.date | str | pd.Timestamp, **params) -> pd.DataFrame:
    """The profile of every enterprise of a clean table (``validate_enterprises(...).clean``)."""
    return EnterpriseProfiler(as_of=as_of, **params).fit_transform(clean)


def profile_columns() -> list[str]:
    """Columns every profile has, whatever the input: the builtin fields plus the industry/size extras."""
    return [f.name for f in BUILTIN_FIELDS] + list(PROFILE_EXTRA)


def summarize(prof: pd.DataFrame) -> dict[str, int]:
    """Counts the run summary reports (no record content)."""
    return {
        "rows": len(prof),
        "status_unrecognised": int(prof["status_unrecognised"].fillna(False).sum()),
        "status_unknown": int(prof["status"].isna().sum()),
        "industry_unknown": int(prof["industry_code"].isna().sum()),
        "industry_from_name": int(prof["industry_match"].eq("name").fillna(False).sum()),
        "size_unknown": int(prof["size_class"].isna().sum()),
    }


def profile_enterprises_file(
    enterprises_path: str | os.PathLike,
    as_of: dt.date | str,
    out: str | os.PathLike,
    rejects: str | os.PathLike | None = None,
    encoding: str | None = None,
) -> str:
    """Read → validate → profile → write ``out`` and the rejects (atomically); a short summary.

    Rejects default to ``<out stem>.rejects<suffix>`` beside ``out``.  ``encoding`` names the CSV's
    encoding (default: UTF-8 or GB18030/GBK detected); the summary says which was read.  It holds counts
    only (rows in/out/rejected, values cleared, unknown statuses …), never record content.
    """
    from quanhuiqi.tables import read_enterprises, validate_enterprises, write_table

    out = Path(out)
    rejects = Path(rejects) if rejects is not None else out.with_name(out.stem + ".rejects" + out.suffix)
    read_as: dict = {}
    raw = read_enterprises(enterprises_path, encoding=encoding, report=read_as)
    validated = validate_enterprises(raw, as_of, source=str(enterprises_path))
    validated.check_invariant()
    prof = profile(validated.clean, as_of)
    if len(prof) != len(validated.clean):  # a bug, never bad input
        raise AssertionError("profile changed the number of rows")
    write_table(prof, out)
    write_table(validated.rejects, rejects)
    s = summarize(prof)
    cleared = int((validated.rejects["action"] == "value_cleared").sum())
    return (
        f"profiled {s['rows']} of {validated.rows_in} rows ({validated.rows_rejected} rejected, "
        f"{cleared} values cleared) → {out}; rejects → {rejects}; "
        f"status unknown {s['status_unknown']} (unrecognised text {s['status_unrecognised']}), "
        f"industry unknown {s['industry_unknown']} (from name {s['industry_from_name']}), "
        f"size class undecided {s['size_unknown']}; read as {read_as['encoding']}"
    )


__all__ = ["EnterpriseProfiler", "profile", "profile_columns", "profile_enterprises_file", "summarize"]
