import pandas as pd

from quanhuiqi.postings import chain_adjacency, normalize_tags, tag_vocabulary
from quanhuiqi.profile.fields import CHAINS
from quanhuiqi.reference.industries import industry_table
from quanhuiqi.text import normalize_text_series


def test_vocabulary_is_well_formed():
    voc = tag_vocabulary()
    assert list(voc.columns) == ["tag", "synonyms", "industry_divisions", "chain"]
    assert 150 <= len(voc) <= 300
    assert voc["tag"].is_unique
    forms = pd.concat([pd.DataFrame({"form": voc["tag"], "tag": voc["tag"]}),
                       voc.assign(form=voc["synonyms"].str.split(";"))[["form", "tag"]].explode("form")])
    forms["key"] = normalize_text_series(forms["form"].astype("string")).str.lower()
    per_key = forms.groupby("key")["tag"].nunique()
    assert (per_key == 1).all(), per_key[per_key > 1].index.tolist()  # a synonym names one tag only
    divisions = set(industry_table().query("level == 2")["code"])
    used = set(voc["industry_divisions"].str.split(";").explode())
    assert used <= divisions
    assert set(voc["chain"]) - {""} <= set(CHAINS)
    for tag in ["钢材", "不锈钢板", "激光切割", "数控机床", "机械加工", "注塑", "包装材料", "冷链物流", "软件开发",
                "系统集成", "医疗器械", "原料药"]:
        assert tag in set(voc["tag"])


def test_chain_adjacency_uses_real_divisions():
    adj = chain_adjacency()
    divisions = set(industry_table().query("level == 2")["code"])
    assert set(adj["upstream"]) <= divisions and set(adj["downstream"]) <= divisions
    assert not adj.duplicated(["upstream", "downstream"]).any()
    assert (adj["upstream"] != adj["downstream"]).all()
    assert adj["relation"].str.contains("→").all()
    assert ("31", "33") in set(zip(adj["upstream"], adj["downstream"], strict=True))  # 钢材 → 金属制品


def test_normalize_tags_synonyms_traditional_fullwidth_alias():
    tags = pd.Series(["鋼材;ＣＮＣ加工", "机加、不锈钢板材", "Cnc机床 ; 冷鏈運輸", "IVD"], index=[10, 11, 12, 13])
    out = normalize_tags(tags)
    assert list(out.index) == [10, 11, 12, 13]
    assert out.loc[10, "tags_norm"] == "机械加工;钢材"
    assert out.loc[11, "tags_norm"] == "不锈钢板;机械加工"
    assert out.loc[12, "tags_norm"] == "冷链物流;数控机床"
    assert out.loc[13, "tags_norm"] == "体外诊断"
    assert (out["tag_confidence"] == 1.0).all()
    assert (out["tags_free"] == "").all()


def test_fuzzy_mapping_keeps_its_confidence_and_free_tags_stay():
    out = normalize_tags(pd.Series(["数控机床加工中心设备", "优质;钢材", "xyz公司自研", None, ""]))
    assert out.loc[0, "tags_norm"] == "数控机床"
    assert 0.85 <= out.loc[0, "tag_confidence"] < 1.0
    assert out.loc[1, "tags_norm"] == "优质;钢材" and out.loc[1, "tags_free"] == "优质"
    assert out.loc[1, "tag_confidence"] == 1.0  # the free tag has no confidence; the mapped one is exact
    assert out.loc[2, "tags_free"] == "xyz公司自研" and pd.isna(out.loc[2, "tag_confidence"])
    assert out.loc[3, "n_tags"] == 0 and out.loc[3, "tags_norm"] == ""
    assert out.loc[4, "n_tags"] == 0


def test_duplicate_tags_count_once():
    out = normalize_tags(pd.Series(["钢材;鋼材;钢铁材料"]))
    assert out.loc[0, "tags_norm"] == "钢材" and out.loc[0, "n_tags"] == 1
