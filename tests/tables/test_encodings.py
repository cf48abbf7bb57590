"""Registry exports in GB18030/GBK are read like UTF-8 ones: detected or named, recorded, never decoded wrongly
in silence (issue 15, part 3).  Every file here holds real encoded bytes of the sample city's tables."""

from __future__ import annotations

import codecs
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from quanhuiqi.tables import InputError, read_enterprises, read_grants, read_suppressions, read_table
from quanhuiqi.tables.facts import load_fact_tables
from quanhuiqi.tables.io import decode_bytes

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data_samples"
ROWS = 400  # the head of the sample city: traditional names, full-width codes, 是/否 and all


@pytest.fixture(scope="module")
def utf8_text() -> str:
    lines = (SAMPLES / "enterprises.csv").read_bytes().decode("utf-8-sig").splitlines(keepends=True)
    return "".join(lines[: ROWS + 1])


@pytest.fixture(scope="module")
def expected(utf8_text, tmp_path_factory) -> pd.DataFrame:
    p = tmp_path_factory.mktemp("utf8") / "enterprises.csv"
    p.write_bytes(utf8_text.encode("utf-8"))
    return read_table(p)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize(
    "codec, prefix, reported",
    [
        ("utf-8", b"", "utf-8"),
        ("utf-8", codecs.BOM_UTF8, "utf-8-sig"),
        ("gb18030", b"", "gb18030"),
        ("gbk", b"", "gb18030"),  # GBK bytes are GB18030 bytes (its superset): read and reported as such
        ("utf-16", b"", "utf-16"),  # Python's utf-16 writes a BOM
    ],
)
def test_encodings_are_detected(tmp_path, utf8_text, expected, codec, prefix, reported):
    data = prefix + utf8_text.encode(codec)
    if codec in ("gbk", "gb18030"):
        assert b"\xbc\xc3\xc4\xcf" in data  # 济南 in GBK: real double-byte text, not ASCII
    report: dict = {}
    got = read_table(_write(tmp_path, "e.csv", data), report=report)
    assert report == {"encoding": reported}
    pd.testing.assert_frame_equal(got, expected)


def test_quoted_gbk_csv_takes_the_general_reader(tmp_path, expected):
    """A file with quoted cells (commas inside) is parsed by pandas: GBK works there too."""
    df = expected.head(20).copy()
    df.loc[0, "name"] = "济南甲,乙有限公司"
    p = tmp_path / "q.csv"
    p.write_bytes(df.to_csv(index=False).encode("gbk"))
    report: dict = {}
    got = read_table(p, report=report)
    assert report["encoding"] == "gb18030" and got.loc[0, "name"] == "济南甲,乙有限公司"


def test_named_encoding_is_used_and_checked(tmp_path, utf8_text, expected):
    gbk = _write(tmp_path, "g.csv", utf8_text.encode("gbk"))
    report: dict = {}
    pd.testing.assert_frame_equal(read_table(gbk, encoding="GBK", report=report), expected)
    assert report["encoding"] == "gbk"
    with pytest.raises(InputError, match=r"g\.csv: not valid utf-8 text \(byte 0x[0-9a-f]{2} at offset \d+\)"):
        read_table(gbk, encoding="utf-8")
    with pytest.raises(InputError, match="unknown encoding 'klingon'"):
        read_table(gbk, encoding="klingon")


ODD = r"(outside the common simplified set|control or private-use character|GB18030 at byte)"


@pytest.mark.parametrize(
    "data, why",
    [
        ("café,naïve,Zürich\n1,2,3\n".encode("latin-1"), r"GB18030 at byte 0x[0-9a-f]{2}, offset \d+"),
        (bytes(range(128, 256)) * 3, r"GB18030 at byte 0x80, offset 0"),
        ("uscc,name\n1,濟南華新電子有限公司\n2,臺灣積體電路製造\n3,東亞銀行\n".encode("big5"), ODD),
        ("uscc,name\n1,株式会社テスト\n2,東京都港区取締役\n".encode("shift_jis"), ODD),
    ],
    ids=["latin-1", "binary", "big5", "shift-jis"],
)
def test_other_encodings_are_refused_by_name(tmp_path, data, why):
    """Latin-1, binary, Big5 and Shift-JIS bytes: never read as GBK mojibake, the file and the byte named."""
    p = _write(tmp_path, "export.csv", data)
    with pytest.raises(InputError, match=r"export\.csv: neither UTF-8 nor GB18030/GBK text \(UTF-8 fails at byte "
                                         r"0x[0-9a-f]{2}, offset \d+; .*" + why):
        read_table(p)


def test_decode_bytes_prefers_utf8():
    """UTF-8 bytes also decode as GB18030 (to mojibake): detection must try UTF-8 first."""
    data = "济南市历下区".encode()
    assert data.decode("gb18030") != "济南市历下区"  # the trap
    assert decode_bytes(data, "x") == ("济南市历下区", "utf-8")
    assert decode_bytes("济南市历下区".encode("gb18030"), "x") == ("济南市历下区", "gb18030")


def test_every_table_reader_reads_gbk(tmp_path):
    """Enterprises, history tables and fact tables: the same rows from GBK bytes, the encoding reported."""
    for name in ("suppressions.csv", "grants.csv", "certificates.csv", "penalties.csv"):
        (tmp_path / name).write_bytes((SAMPLES / name).read_bytes().decode("utf-8-sig").encode("gbk"))
    rep: dict = {}
    s = read_suppressions(tmp_path / "suppressions.csv", report=rep)
    assert rep["encoding"] == "gb18030" and s["reason"].str.contains("企业").any()
    pd.testing.assert_frame_equal(s, read_suppressions(SAMPLES / "suppressions.csv"))
    rep = {}
    read_grants(tmp_path / "grants.csv", report=rep)
    assert rep["encoding"] == "utf-8"  # all ASCII: the same bytes in both, read as UTF-8
    known = read_enterprises(SAMPLES / "enterprises.csv")["uscc"]
    facts_rep: dict = {}
    gbk, _ = load_fact_tables(tmp_path, "2025-07-01", known_uscc=known, report=facts_rep)
    assert facts_rep == {"certificates": {"encoding": "gb18030"}, "penalties": {"encoding": "gb18030"}}
    ref, _ = load_fact_tables(SAMPLES, "2025-07-01", known_uscc=known)
    pd.testing.assert_frame_equal(gbk.certificates, ref.certificates)
    pd.testing.assert_frame_equal(gbk.penalties, ref.penalties)


def test_cli_profile_reads_a_gb18030_export(tmp_path, utf8_text):
    """The issue's case: `quanhuiqi profile` on a GB18030 copy of the sample enterprises."""
    gb = _write(tmp_path, "enterprises_gb.csv", utf8_text.encode("gb18030"))
    u8 = _write(tmp_path, "enterprises_u8.csv", utf8_text.encode("utf-8"))
    outs = {}
    for src in (gb, u8):
        out = tmp_path / f"{src.stem}.parquet"
        r = subprocess.run([sys.executable, "-m", "quanhuiqi.cli", "profile", "--enterprises", str(src), "--as-of",
                            "2025-07-01", "--out", str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert r.returncode == 0, r.stderr
        outs[src.stem] = (r.stdout, pd.read_parquet(out))
    assert "read as gb18030" in outs["enterprises_gb"][0] and "read as utf-8" in outs["enterprises_u8"][0]
    pd.testing.assert_frame_equal(outs["enterprises_gb"][1], outs["enterprises_u8"][1])
    bad = _write(tmp_path, "big5.csv", utf8_text.encode("big5", errors="replace"))
    r = subprocess.run([sys.executable, "-m", "quanhuiqi.cli", "profile", "--enterprises", str(bad), "--as-of",
                        "2025-07-01", "--out", str(tmp_path / "x.parquet")], capture_output=True, text=True,
                       timeout=300, cwd=ROOT)
    assert r.returncode == 1 and "big5.csv: neither UTF-8 nor GB18030/GBK" in r.stderr
    assert "--encoding" in r.stderr and not (tmp_path / "x.parquet").exists()


def test_appeals_postings_and_the_simulated_city_read_gbk(tmp_path):
    """The readers main gained since: appeals, postings, the simulation's city folder (its inputs record the
    encoding read per table)."""
    from quanhuiqi.appeals import read_appeals
    from quanhuiqi.simulate.city import read_city

    for name in ("appeals.csv", "postings.csv", "grants.csv", "certificates.csv"):
        (tmp_path / name).write_bytes((SAMPLES / name).read_bytes().decode("utf-8-sig").encode("gbk"))
    lines = (SAMPLES / "enterprises.csv").read_bytes().decode("utf-8-sig").splitlines(keepends=True)[: ROWS + 1]
    (tmp_path / "enterprises.csv").write_bytes("".join(lines).encode("gbk"))
    rep: dict = {}
    got = read_appeals(tmp_path / "appeals.csv", report=rep)
    assert rep == {"encoding": "gb18030"}
    pd.testing.assert_frame_equal(got, read_appeals(SAMPLES / "appeals.csv"))
    with pytest.raises(InputError, match=r"appeals\.csv: not valid utf-8 text"):
        read_appeals(tmp_path / "appeals.csv", encoding="utf-8")
    rep = {}
    pd.testing.assert_frame_equal(read_table(tmp_path / "postings.csv", encoding="gbk", report=rep),
                                  read_table(SAMPLES / "postings.csv"))
    assert rep == {"encoding": "gbk"}
    city = read_city(tmp_path, "2025-07-01")
    assert city.inputs["enterprises"]["encoding"] == "gb18030" and len(city.profile) > 0
    assert city.inputs["grants"]["encoding"] == "utf-8" and city.inputs["certificates"]["encoding"] == "gb18030"
    assert read_city(tmp_path, "2025-07-01", encoding="gbk").inputs["enterprises"]["encoding"] == "gbk"


def test_file_encoding_streams_utf8_and_falls_back_to_the_strict_reading(tmp_path, utf8_text):
    """What Spark's reader is told: the same answer and the same refusals as read_table, UTF-8 checked a chunk
    at a time (a character split across chunks is still UTF-8)."""
    from quanhuiqi.tables.io import file_encoding

    u8 = _write(tmp_path, "u.csv", utf8_text.encode("utf-8"))
    assert file_encoding(u8, chunk=7) == "utf-8"
    assert file_encoding(_write(tmp_path, "b.csv", codecs.BOM_UTF8 + utf8_text.encode()), chunk=5) == "utf-8-sig"
    gb = _write(tmp_path, "g.csv", utf8_text.encode("gbk"))
    assert file_encoding(gb, chunk=7) == "gb18030" and file_encoding(gb, "gbk") == "gbk"
    with pytest.raises(InputError, match=r"g\.csv: not valid utf-8"):
        file_encoding(gb, "utf-8")
    big5 = _write(tmp_path, "big5.csv", "uscc,name\n1,濟南華新電子有限公司\n2,臺灣積體電路製造\n".encode("big5"))
    with pytest.raises(InputError, match=r"big5\.csv: neither UTF-8 nor GB18030/GBK"):
        file_encoding(big5)


def test_gbk_is_checked_and_copied_to_utf8_a_chunk_at_a_time(tmp_path, utf8_text, monkeypatch):
    """What Spark reads a GBK/GB18030 file from: its encoding found and its UTF-8 copy written a chunk at a time
    (characters split across chunks, a byte-order mark), never the whole file read; the copy holds the bytes the
    whole-file reading gives.  A file that fails is still refused with the whole-file reading's error."""
    import quanhuiqi.tables.io as tio

    gb = _write(tmp_path, "g.csv", utf8_text.encode("gbk"))
    gb_bom = _write(tmp_path, "g18030.csv", ("\ufeff" + utf8_text).encode("gb18030"))
    cases = [(gb, None, "gb18030"), (gb, "gbk", "gbk"), (gb_bom, None, "gb18030"),
             (_write(tmp_path, "u.csv", codecs.BOM_UTF8 + utf8_text.encode()), None, "utf-8-sig")]
    whole = {(path, named): tio.utf8_bytes(path.read_bytes(), str(path), named)[0] for path, named, _ in cases}
    assert whole[gb, None] == utf8_text.encode() and whole[gb_bom, None] == utf8_text.encode()

    def refused(*args, **kwargs):
        raise AssertionError("the whole file was read")

    with monkeypatch.context() as m:
        m.setattr(tio, "read_text", refused)
        for chunk in (1, 2, 3, 7, 1 << 20):
            for path, named, enc in cases:
                assert tio.file_encoding(path, named, chunk=chunk) == enc
                copy = tio.utf8_copy(path, tmp_path / "copy.csv", enc, chunk=chunk)
                assert copy.read_bytes() == whole[path, named], (path.name, named, chunk)
    broken = _write(tmp_path, "broken.csv", utf8_text.encode("gbk") + b"\xff\xff\n")
    with pytest.raises(InputError, match=r"broken\.csv: neither UTF-8 nor GB18030/GBK"):
        tio.file_encoding(broken, chunk=5)
    with pytest.raises(InputError, match=r"broken\.csv: not valid gbk text"):
        tio.file_encoding(broken, "gbk", chunk=5)


def test_cli_appeals_clock_takes_encoding(tmp_path):
    """`--encoding` on the commands main gained (appeals clock here): named, detected, or refused by name."""
    gbk = _write(tmp_path, "appeals.csv", (SAMPLES / "appeals.csv").read_bytes().decode("utf-8-sig").encode("gbk"))

    def clock(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "quanhuiqi.cli", "appeals", "clock", "--appeals", str(gbk),
                               "--as-of", "2025-07-01", "--out", str(tmp_path / "clock"), *extra],
                              capture_output=True, text=True, timeout=300, cwd=ROOT)

    r = clock()
    assert r.returncode == 0, r.stderr
    assert "(as gb18030)" in r.stdout
    r = clock("--encoding", "utf-8")
    assert r.returncode == 1 and "appeals.csv: not valid utf-8 text" in r.stderr
