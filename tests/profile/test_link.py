"""Linking a second source by USCC and by normalised name; ambiguity goes to review."""

from __future__ import annotations

import pandas as pd
import pytest

from quanhuiqi.profile import link, normalize_company_name

ENTERPRISES = pd.DataFrame(
    {
        "uscc": ["U01", "U02", "U03", "U04", "U05", "U06", "U07"],
        "name": [
            "济南泉城科技有限公司",
            "山东鲁信软件股份有限公司",
            "华夏物流集团有限公司",
            "华夏物流有限公司（济南）",  # same key as U03 once forms and brackets go
            "济南明湖餐饮管理有限责任公司",
            "济南趵突泉信息技术有限公司",
            "济南趵突泉信息技木有限公司",  # one character from U06
        ],
    },
    index=[30, 10, 20, 40, 50, 60, 70],
)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("济南泉城科技有限公司", "济南泉城科技"),
        ("濟南泉城科技有限責任公司", "济南泉城科技"),
        ("济南泉城科技（山东）有限公司", "济南泉城科技"),
        (" 济南 泉城科技 股份有限公司 ", "济南泉城科技"),
        ("ＡＢＣ科技集团有限公司", "abc科技"),
        ("华夏物流有限公司济南分公司", "华夏物流济南分"),
    ],
)
def test_normalize_company_name(raw, key):
    assert normalize_company_name(pd.Series([raw])).iloc[0] == key


def test_links_by_uscc_then_name_with_method_and_score():
    source = pd.DataFrame(
        {
            "uscc": ["U02", None, "NOPE", None, None, None, None, None],
            "name": [
                "whatever",
                "濟南泉城科技有限責任公司",  # exact after normalisation
                "济南明湖餐饮管理有限公司",  # uscc unknown here → falls back to the name
                "华夏物流股份有限公司",  # two enterprises share the key → review
                "济南明湖餐钦管理有限公司",  # typo, one candidate → fuzzy link
                "济南趵突泉信息技本有限公司",  # as close to U06 as to U07 → review
                "完全无关的名字",
                None,
            ],
            "amount": range(8),
        }
    )
    res = link(ENTERPRISES, source)
    links = res.links.set_index("source_row")
    assert links.loc[0, "uscc"] == "U02" and links.loc[0, "method"] == "uscc" and links.loc[0, "score"] == 1.0
    assert links.loc[1, "uscc"] == "U01" and links.loc[1, "method"] == "name_exact"
    assert links.loc[2, "uscc"] == "U05" and links.loc[2, "method"] == "name_exact"
    assert links.loc[4, "uscc"] == "U05" and links.loc[4, "method"] == "name_fuzzy"
    assert 0.85 <= links.loc[4, "score"] < 1.0
    review = res.review
    assert set(review.loc[review["source_row"] == 3, "uscc"]) == {"U03", "U04"}
    assert set(review.loc[review["source_row"] == 5, "uscc"]) == {"U06", "U07"}
    assert set(res.unmatched["source_row"]) == {6, 7}
    # every source row exactly once across links / review / unmatched
    placed = list(res.links["source_row"]) + list(review["source_row"].unique()) + list(res.unmatched["source_row"])
    assert sorted(placed) == list(range(len(source)))
    attached = res.attach(source)
    assert len(attached) == len(source)
    assert attached["uscc"].tolist()[:3] == ["U02", "U01", "U05"]
    assert pd.isna(attached["uscc"].iloc[3]) and attached["amount"].tolist() == list(range(8))
    s = res.summary()
    assert s["linked_uscc"] == 1 and s["linked_name_exact"] == 2 and s["review_rows"] == 2 and s["unmatched"] == 2


def test_uscc_only_source():
    res = link(ENTERPRISES, pd.DataFrame({"uscc": ["u05", "X"]}))
    assert res.links["uscc"].tolist() == ["U05"]
    assert res.unmatched["source_row"].tolist() == [1]


def test_source_without_keys_is_refused():
    with pytest.raises(ValueError, match="neither"):
        link(ENTERPRISES, pd.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="repeats a uscc"):
        link(pd.concat([ENTERPRISES, ENTERPRISES.head(1)]), pd.DataFrame({"uscc": ["U01"]}))


def test_common_bigrams_do_not_block_everything():
    # many enterprises share 济南 / 科技: those bigrams are skipped, the distinctive ones find the match
    ents = pd.DataFrame({"uscc": [f"V{i:04d}" for i in range(3000)],
                         "name": [f"济南科技{i:04d}有限公司" for i in range(2999)] + ["济南鸿鹄星辰科技有限公司"]})
    res = link(ents, pd.DataFrame({"name": ["济南鸿鹄星晨科技有限公司"]}), max_block_size=500)
    assert res.links["uscc"].tolist() == ["V2999"]
