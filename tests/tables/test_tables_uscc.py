"""GB 32100-2015 USCC checks: each reason, agreement with python-stdnum, and the embedded org code."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from quanhuiqi.tables.uscc import (
    ALPHABET,
    AUTHORITY_TYPES,
    REASON_ADMIN,
    REASON_AUTHORITY,
    REASON_CHARSET,
    REASON_CHECK,
    REASON_LENGTH,
    REASON_ORG_CHECK,
    is_valid_uscc,
    make_uscc,
    org_check_char,
    uscc_reason,
)

# --- an independent scalar reference, written from the standards' text ------------------------


def ref_org_check(body8: str) -> str:
    """GB 11714-1997: weights 3 7 9 10 5 8 4 2, digits 0-9, letters A=10 … Z=35, C9 = 11 − Σ mod 11."""
    weights = [3, 7, 9, 10, 5, 8, 4, 2]
    total = sum((int(c) if c.isdigit() else ord(c) - ord("A") + 10) * w for c, w in zip(body8, weights))
    c9 = 11 - total % 11
    return {10: "X", 11: "0"}.get(c9, str(c9))


def ref_pair_ok(code: str) -> bool:
    return code[1] in AUTHORITY_TYPES.get(code[0], "")


def ref_org_ok(code: str) -> bool:
    return ref_org_check(code[8:16]) == code[16]


def ref_valid(code: str) -> bool:
    c = code.replace(" ", "").replace("-", "").upper()
    if len(c) != 18 or any(ch not in ALPHABET for ch in c):
        return False
    if not c[2:8].isdigit() or not ref_pair_ok(c) or not ref_org_ok(c):
        return False
    return c[17] == stdnum_uscc.calc_check_digit(c[:17])


PAIRS = sorted((a, t) for a, ts in AUTHORITY_TYPES.items() for t in ts)
DIGIT_PAIRS = [p for p in PAIRS if p[0].isdigit()]


@st.composite
def valid_codes(draw, pairs=DIGIT_PAIRS):
    auth, typ = draw(st.sampled_from(pairs))
    admin = draw(st.text("0123456789", min_size=6, max_size=6))
    body8 = draw(st.text(ALPHABET, min_size=8, max_size=8))
    body17 = auth + typ + admin + body8 + ref_org_check(body8)
    return body17 + stdnum_uscc.calc_check_digit(body17)


@st.composite
def mutated(draw):
    code = draw(valid_codes(PAIRS))
    chars = ALPHABET + "IOSVZ"
    kind = draw(st.sampled_from(["substitute", "delete", "insert", "swap", "none"]))
    i = draw(st.integers(0, 17))
    c = draw(st.sampled_from(chars))
    if kind == "substitute":
        code = code[:i] + c + code[i + 1 :]
    elif kind == "delete":
        code = code[:i] + code[i + 1 :]
    elif kind == "insert":
        code = code[:i] + c + code[i:]
    elif kind == "swap" and i < 17:
        code = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
    return code


def test_known_code():
    assert is_valid_uscc("91110000600037341L")
    assert stdnum_uscc.is_valid("91110000600037341L")
    assert org_check_char("60003734") == "1"


@given(st.lists(valid_codes(), min_size=1, max_size=30))
@settings(max_examples=60, deadline=None)
def test_valid_codes_agree_with_stdnum(codes):
    mine = is_valid_uscc(pd.Series(codes, dtype="string"))
    assert mine.all()
    assert all(stdnum_uscc.is_valid(c) for c in codes)


@given(st.lists(mutated(), min_size=1, max_size=40))
@settings(max_examples=80, deadline=None)
def test_mutated_codes_agree_with_stdnum_plus_the_checks_it_lacks(codes):
    """stdnum checks length, charset and the 18th character and wants digits in 1-8; it checks neither
    the authority/type pair nor the organisation code.  Where stdnum's scope is the same, so are we."""
    mine = is_valid_uscc(pd.Series(codes, dtype="string")).tolist()
    for code, ok in zip(codes, mine):
        assert ok == ref_valid(code), code
        if code[:8].isdigit() and len(code) == 18:
            assert ok == (stdnum_uscc.is_valid(code) and ref_pair_ok(code) and ref_org_ok(code)), code
        if ok and code[0].isdigit():
            assert stdnum_uscc.is_valid(code), code


@given(valid_codes())
@settings(max_examples=40, deadline=None)
def test_wrong_org_check_caught_although_stdnum_accepts(code):
    """Change the 17th character and recompute the 18th: stdnum still says valid; the org code says no."""
    wrong = next(c for c in "0123456789X" if c != code[16] and c in ALPHABET)
    body17 = code[:16] + wrong
    bad = body17 + stdnum_uscc.calc_check_digit(body17)
    assert stdnum_uscc.is_valid(bad)
    assert uscc_reason(bad).iloc[0] == REASON_ORG_CHECK


def test_letter_authorities_of_the_standard_are_accepted():
    """A (军队), N (农业), Y (其他) are GB 32100 authorities; stdnum refuses them (digits only in 1-8)."""
    for auth, typ in [("A", "1"), ("N", "2"), ("Y", "1")]:
        body8 = "MA3C1234"
        body17 = auth + typ + "370102" + body8 + org_check_char(body8)
        code = make_uscc(body17)
        assert is_valid_uscc(code)
        assert not stdnum_uscc.is_valid(code)


def _fix_check(body17: str) -> str:
    return body17 + stdnum_uscc.calc_check_digit(body17)


@pytest.mark.parametrize(
    "code, reason",
    [
        ("91110000600037341", REASON_LENGTH),
        ("91110000600037341LL", REASON_LENGTH),
        ("9111000060003734IL", REASON_CHARSET),  # I is not in the alphabet
        ("91110000600037341Ｌ中", REASON_LENGTH),
        ("9111000060003734中L", REASON_CHARSET),
        (_fix_check("94110000600037341"), REASON_AUTHORITY),  # 工商 has types 1-3 only
        (_fix_check("B1110000600037341"), REASON_AUTHORITY),
        (_fix_check("911A0000600037341"), REASON_ADMIN),
        (_fix_check("91110000600037342"), REASON_ORG_CHECK),
        ("91110000600037341M", REASON_CHECK),
    ],
)
def test_each_reason(code, reason):
    assert uscc_reason(pd.Series([code])).iloc[0] == reason
    assert not is_valid_uscc(code)


def test_normalisation_before_the_check():
    s = pd.Series(
        [" 9111 0000-600037341l ", "９１１１００００６０００３７３４１Ｌ", None, ""], dtype="string"
    )
    r = uscc_reason(s)
    assert r.isna().all()  # valid, or missing (the caller reports missing codes)
    assert is_valid_uscc(s).tolist() == [True, True, False, False]


def test_make_uscc_single_and_column():
    body17 = "91370102MA3C1234" + org_check_char("MA3C1234")
    code = make_uscc(body17)
    assert isinstance(code, str) and len(code) == 18 and is_valid_uscc(code)
    assert code == body17 + stdnum_uscc.calc_check_digit(body17)
    col = make_uscc(pd.Series([body17, "91110000600037341"]))
    assert col.tolist() == [code, "91110000600037341L"]


@pytest.mark.parametrize(
    "body17, match",
    [
        ("9137010212345678", "17 characters"),
        ("91370102MA3C12340", "organisation code"),
        ("95370102MA3C1234" + org_check_char("MA3C1234"), "authority"),
        ("91370102MA3C123I0", "character"),
    ],
)
def test_make_uscc_refuses_bodies_validation_would_reject(body17, match):
    with pytest.raises(ValueError, match=match):
        make_uscc(body17)
