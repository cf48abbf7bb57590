"""The composed profile: contract columns and types, rows never dropped or reordered, unknown stays
unknown, scikit-learn conventions, and the file/CLI path through validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from quanhuiqi.profile import (
    AgeFeatures,
    ChainFeatures,
    EnterpriseProfiler,
    FinanceFeatures,
    IndustryFeatures,
    SizeFeatures,
    StatusFeatures,
    TagFeatures,
    profile,
    profile_columns,
)
from quanhuiqi.profile.fields import BUILTIN_FIELDS

AS_OF = "2025-07-01"
BUILDERS = [IndustryFeatures(), StatusFeatures(), SizeFeatures(), AgeFeatures(AS_OF), FinanceFeatures(),
            ChainFeatures(), TagFeatures(), EnterpriseProfiler(as_of=AS_OF)]

STATUS_TEXTS = [None, "存续", "在业", "吊销，未注销", "註銷", "迁出", "停业", "清算中", "奇怪", "  "]
CODES = [None, "6513", "39", "C", "F", "5111", "7010", "4710", "3911", "651"]
NAMES = [None, "软件开发", "批发业", "服务", "應用軟件開發", "酒店"]


def _row_strategy():
    money = st.one_of(st.none(), st.floats(min_value=0, max_value=1e6, allow_nan=False))
    return st.fixed_dictionaries(
        {
            "industry_code": st.sampled_from(CODES),
            "industry_name": st.sampled_from(NAMES),
            "status": st.sampled_from(STATUS_TEXTS),
            "established_on": st.one_of(st.none(), st.dates(min_value=pd.Timestamp("1950-01-01").date(),
                                                            max_value=pd.Timestamp(AS_OF).date())),
            "employees": st.one_of(st.none(), st.integers(0, 5000).map(float)),
            "revenue": money,
            "revenue_prev": money,
            "total_assets": money,
            "rd_expense": money,
            "tax_paid": money,
            "certifications": st.sampled_from(["", "high_tech", "high_tech;tech_sme", "little_giant;specialized_sme"]),
            "abnormal_operation": st.sampled_from([None, True, False]),
        }
    )


def _frame(rows: list[dict], index=None) -> pd.DataFrame:
    n = len(rows)
    df = pd.DataFrame(
        {
            "row": np.arange(1, n + 1, dtype=np.int64),
            "uscc": pd.array([f"U{i:05d}" for i in range(n)], dtype="string"),
            "name": pd.array([f"企业{i}" for i in range(n)], dtype="string"),
            "industry_code": pd.array([r["industry_code"] for r in rows], dtype="string"),
            "industry_name": pd.array([r["industry_name"] for r in rows], dtype="string"),
            "status": pd.array([r["status"] for r in rows], dtype="string"),
            "established_on": pd.to_datetime(pd.Series([r["established_on"] for r in rows], dtype="object")),
            **{c: pd.array([np.nan if r[c] is None else r[c] for r in rows], dtype="float64")
               for c in ("employees", "revenue", "revenue_prev", "total_assets", "rd_expense", "tax_paid")},
            "certifications": pd.array([r["certifications"] for r in rows], dtype="string"),
            "abnormal_operation": pd.array([r["abnormal_operation"] for r in rows], dtype="boolean"),
        }
    )
    if index is not None:
        df.index = index
    return df


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_row_strategy(), min_size=0, max_size=30), seed=st.integers(0, 2**16))
def test_never_drops_or_reorders_rows_and_unknown_stays_unknown(rows, seed):
    rng = np.random.default_rng(seed)
    # a shuffled index, sometimes with repeated labels: rows are kept by position either way
    index = (rng.permutation(len(rows) * 3)[: len(rows)] if seed % 2 else rng.integers(0, 5, len(rows)))
    df = _frame(rows, index=index)
    got = profile(df, AS_OF)
    assert len(got) == len(df)
    assert got.index.equals(df.index)
    assert got["uscc"].tolist() == df["uscc"].tolist()
    for col in df.columns:  # every input column kept (status moves to status_text)
        assert col in got.columns
    # unknown in → unknown out; never a zero or a false made up
    for col in ("employees", "revenue", "revenue_prev", "total_assets"):
        assert got[col].isna().equals(df[col].isna())
    assert (got["age_years"].isna() | df["established_on"].notna()).all()
    assert (got["revenue_growth"].isna() | (df["revenue"].notna() & df["revenue_prev"].notna())).all()
    assert (got["status"].isna() | df["status"].notna()).all()
    unknown_text = ~df["status"].fillna("").isin(["存续", "在业", "吊销，未注销", "註銷", "迁出", "停业", "清算中"])
    assert got.loc[unknown_text.to_numpy(), "status"].isna().all()
    no_facts = df[["employees", "revenue", "total_assets"]].isna().all(axis=1)
    assert got.loc[no_facts.to_numpy(), "size_class"].isna().all()
    assert (got["abnormal_operation"].isna() == df["abnormal_operation"].isna()).all()
    for col in ("certifications", "chains", "tags"):  # closed-world set fields are never unknown
        assert got[col].notna().all()


def test_contract_columns_and_representation():
    df = _frame([{"industry_code": "6513", "industry_name": None, "status": "存续", "established_on": None,
                  "employees": 5.0, "revenue": 40.0, "revenue_prev": 20.0, "total_assets": None,
                  "rd_expense": 4.0, "tax_paid": 1.0, "certifications": "tech_sme;high_tech",
                  "abnormal_operation": False}])
    got = profile(df, AS_OF)
    for col in profile_columns():
        assert col in got.columns, col
    kinds = {f.name: f.type for f in BUILTIN_FIELDS}
    for name, kind in kinds.items():
        dtype = got[name].dtype
        if kind in ("number",):
            assert dtype == "float64", name
        elif kind == "bool":
            assert str(dtype) == "boolean", name
        elif kind == "date":
            assert str(dtype).startswith("datetime64"), name
        else:
            assert isinstance(dtype, pd.StringDtype), (name, dtype)
    row = got.iloc[0]
    assert row["certifications"] == "high_tech;tech_sme"
    assert row["chains"] == "ai;software_it"
    assert row["status"] == "active" and row["size_class"] == "micro"
    assert row["rd_ratio"] == pytest.approx(0.1) and row["revenue_growth"] == pytest.approx(1.0)
    assert row["tags"].split(";") == sorted(row["tags"].split(";"))
    assert {"高新技术企业", "科技型中小企业", "小微企业", "研发投入高", "高成长"} <= set(row["tags"].split(";"))


def test_minimal_table_only_required_columns():
    df = pd.DataFrame({"uscc": ["A", "B"], "name": ["甲", "乙"]})
    got = profile(df, AS_OF)
    assert len(got) == 2
    assert got["status"].isna().all() and got["size_class"].isna().all() and got["industry_code"].isna().all()
    assert (got["certifications"] == "").all() and (got["tags"] == "").all()


def test_empty_table():
    got = profile(_frame([]), AS_OF)
    assert len(got) == 0 and "tags" in got.columns


@pytest.mark.parametrize("est", BUILDERS, ids=lambda e: type(e).__name__)
def test_sklearn_conventions(est):
    name = type(est).__name__
    check_no_attributes_set_in_init(name, est)
    check_parameters_default_constructible(name, est)
    check_get_params_invariance(name, est)
    check_set_params(name, est)
    df = _frame([{"industry_code": "3911", "industry_name": None, "status": "在业", "established_on": None,
                  "employees": 50.0, "revenue": 5000.0, "revenue_prev": None, "total_assets": None,
                  "rd_expense": None, "tax_paid": None, "certifications": "", "abnormal_operation": None}])
    if isinstance(est, TagFeatures):  # reads what the other builders produce
        df = profile(df, AS_OF).drop(columns=["tags"])
    fitted = clone(est).set_output(transform="pandas").fit(df)
    out = fitted.transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(fitted.get_feature_names_out())
    assert out.index.equals(df.index)
    with pytest.raises(ValueError):
        fitted.transform(df.drop(columns=["status"]))
    with pytest.raises(TypeError):
        clone(est).fit(df.to_numpy())


def test_builders_compose_in_a_pipeline_like_the_profiler():
    df = _frame([{"industry_code": None, "industry_name": "批发业", "status": "吊销", "established_on": None,
                  "employees": 3.0, "revenue": None, "revenue_prev": None, "total_assets": None,
                  "rd_expense": None, "tax_paid": None, "certifications": "", "abnormal_operation": True}])
    pipe = make_pipeline(IndustryFeatures(), StatusFeatures(), SizeFeatures(), AgeFeatures(AS_OF),
                         FinanceFeatures(), ChainFeatures(), TagFeatures()).set_output(transform="pandas")
    via_pipe = pipe.fit_transform(df)
    direct = profile(df, AS_OF)
    pd.testing.assert_frame_equal(via_pipe, direct[via_pipe.columns])
    extra = [c for c in direct.columns if c not in via_pipe.columns]  # fields the input lacks, all unknown
    assert extra and direct[extra].drop(columns=["serious_dishonest"], errors="ignore").isna().all().all()
    assert direct["tags"].iloc[0] == "小微企业;已吊销;经营异常"


def test_profiler_requires_as_of():
    with pytest.raises(ValueError, match="as_of"):
        EnterpriseProfiler().fit(_frame([]))


def test_field_catalogue_import_stays_light():
    import subprocess
    import sys

    code = "import sys, quanhuiqi.profile.fields; print('sklearn' in sys.modules or 'rapidfuzz' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_package_is_also_the_plain_function():
    """`quanhuiqi.profile(enterprises, as_of)` is the plain function the issue names."""
    import pandas as pd

    import quanhuiqi
    from quanhuiqi.profile import profile as profile_function

    clean = pd.DataFrame({"uscc": ["91370102MA3C00010X"], "name": ["甲"], "revenue": [100.0]})
    pd.testing.assert_frame_equal(quanhuiqi.profile(clean, "2025-07-01"), profile_function(clean, "2025-07-01"))
