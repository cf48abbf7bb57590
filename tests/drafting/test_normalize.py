import codecs

import pytest

from quanhuiqi.drafting import decode_clause_bytes, normalize_clause
from quanhuiqi.tables.io import InputError


def test_offsets_point_back_to_the_original_characters():
    raw = "企業營業收入不低於１０００萬元；①具有獨立法人資格\r\n專(zhuān)精特新 企業"
    n = normalize_clause(raw)
    assert "营业收入不低于1000万元" in n.text
    assert "(1)具有独立法人资格" in n.text
    assert "专精特新企业" in n.text  # pinyin gloss and the stray space are gone
    k = n.text.index("1000")
    a, b = n.original_span(k, k + 4)
    assert raw[a:b] == "１０００"
    k = n.text.index("专精特新")
    assert n.quote(k, k + 4) == "專(zhuān)精特新"
    assert len(n.text) == len(n.origin)


def test_ascii_words_keep_their_space():
    assert "ISO 9001" in normalize_clause("通过ISO 9001认证").text


def test_garbled_runs_are_flagged():
    n = normalize_clause("?。ㄒ唬┰诒臼校ê钌翘貏e合作區,下同)依法注册的工业企业")
    assert n.garbled and n.garbled[0][0] == 0


@pytest.mark.parametrize(
    "data, enc",
    [
        ("申报条件".encode(), "utf-8"),
        (codecs.BOM_UTF8 + "申报条件".encode(), "utf-8-sig"),
        ("申报条件：营业收入不低于1000万元".encode("gb18030"), "gb18030"),
        (codecs.BOM_UTF16_LE + "申报条件".encode("utf-16-le"), "utf-16"),
    ],
)
def test_encodings(data, enc):
    text, got = decode_clause_bytes(data, "x.txt")
    assert got == enc and text.startswith("申报条件")


def test_binary_is_refused_by_name():
    with pytest.raises(InputError, match="x.bin: a binary file"):
        decode_clause_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "x.bin")
    with pytest.raises(InputError, match="y.bin: (not readable text|neither UTF-8 nor GB18030)"):
        decode_clause_bytes(bytes(range(128, 256)) * 3, "y.bin")


def test_markdown_markup_is_read_through():
    from quanhuiqi.drafting import draft_policy

    text = "## 申报条件\n\n- **1.** 企业注册地在[济南市](http://example.org/a)；\n- **2.** 上年度营业收入不低于1000万元。\n"
    n = normalize_clause(text)
    assert n.text.startswith("申报条件\n\n1.企业注册地在济南市;")
    d = draft_policy(text)
    assert [a.clause for a in d.atoms] == ["1", "2"]
    assert d.atoms[1].quote == "营业收入不低于1000万元"
