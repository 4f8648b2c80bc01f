"""The citizen-ID checks, each with a real bad ID (made from a valid one so that only the check
under test fails), historical address codes, the sex digit, and the column check against the
single check on the same values."""

from __future__ import annotations

from datetime import date

from stdnum.cn import ric

from backend.people.idcheck import check_id, check_ids, regions, sex_of

TODAY = date(2026, 6, 1)


def make(region: str, born: str, seq: str) -> str:
    body = f"{region}{born}{seq}"
    return body + ric.calc_check_digit(body + "0")


GOOD_MAN = make("341324", "19800101", "001")      # 男: odd sequence digit
GOOD_WOMAN = make("342225", "19550612", "002")    # Sixian's pre-1998 code, 女


def failed(value: str, sex: str | None = None) -> str | None:
    problem = check_id(value, sex, today=TODAY)
    return None if problem is None else problem.check


def test_valid_ids_pass() -> None:
    assert ric.is_valid(make("341324", "20000101", "001"))  # stdnum agrees on a valid one
    assert failed(GOOD_MAN, "男") is None
    assert failed(GOOD_WOMAN, "女") is None
    assert failed(" " + GOOD_MAN.lower() + " ", "男") is None   # blanks and x are normalised
    assert failed(make("110105", "19491231", "002"), None) is None


def test_format() -> None:
    assert failed(GOOD_MAN[:17]) == "format"
    assert failed(GOOD_MAN + "1") == "format"
    assert failed("34132419800101A01" + GOOD_MAN[-1]) == "format"
    assert failed(GOOD_MAN[:17] + "Y") == "format"
    assert failed("") == "format"
    problem = check_id("12345", today=TODAY)
    assert problem is not None and "18 位" in problem.reason


def test_check_digit() -> None:
    wrong = GOOD_MAN[:17] + ("1" if GOOD_MAN[17] != "1" else "2")
    problem = check_id(wrong, "男", today=TODAY)
    assert problem is not None and problem.check == "check_digit"
    assert f"应为 {GOOD_MAN[17]}" in problem.reason


def test_birth_date() -> None:
    assert failed(make("341324", "19800230", "001")) == "birth_date"    # 30 February
    assert failed(make("341324", "19801301", "001")) == "birth_date"    # month 13
    assert failed(make("341324", "20270101", "001")) == "birth_date"    # in the future
    assert failed(make("341324", "18791231", "001")) == "birth_date"    # before 1880
    assert failed(make("341324", "20000229", "001")) is None            # a leap day
    problem = check_id(make("341324", "20270101", "001"), today=TODAY)
    assert problem is not None and "未来" in problem.reason


def test_region_historical_codes_accepted() -> None:
    assert failed(make("349999", "19800101", "001")) == "region"
    assert failed(make("000000", "19800101", "001")) == "region"
    # 崇文区 (110103) was merged away in 2010 and 宿县地区's 泗县 (342225) renumbered in 1998:
    # an ID keeps its first code, so both still count, whatever the birth year.
    assert failed(make("110103", "20150101", "001")) is None
    assert failed(make("342225", "20050101", "001")) is None
    assert [r.last_year for r in regions()["342225"]] == [1998]
    problem = check_id(make("349999", "19800101", "001"), today=TODAY)
    assert problem is not None and "349999" in problem.reason


def test_sex() -> None:
    assert sex_of(GOOD_MAN) == "男" and sex_of(GOOD_WOMAN) == "女"
    assert failed(GOOD_MAN, "女") == "sex"
    assert failed(GOOD_WOMAN, "男") == "sex"
    assert failed(GOOD_MAN, "M") == "sex"
    problem = check_id(GOOD_MAN, "女", today=TODAY)
    assert problem is not None and "奇数男" in problem.reason


def test_order_of_checks() -> None:
    # a bad check character is reported before the impossible date it also carries
    body = "34132419801301001"
    wrong = body + ("0" if ric.calc_check_digit(body + "0") != "0" else "1")
    assert failed(wrong, "女") == "check_digit"


def test_column_check_agrees_with_the_single_check() -> None:
    values = [GOOD_MAN, GOOD_WOMAN, GOOD_MAN[:17] + "0" if GOOD_MAN[17] != "0" else "1",
              make("341324", "19800230", "001"), make("349999", "19800101", "001"),
              make("341324", "20270101", "003"), GOOD_MAN.lower(), "", "x" * 18,
              make("110103", "20150101", "001"), GOOD_MAN]
    sexes = ["男", "女", "男", "男", "男", "男", "男", "男", None, "男", "女"]
    found = check_ids(values, sexes, today=TODAY)
    expected = [(i, p) for i, (v, s) in enumerate(zip(values, sexes, strict=True))
                if (p := check_id(v, s, today=TODAY)) is not None]
    assert found == expected
    assert [p.check for _, p in found] == ["check_digit", "birth_date", "region", "birth_date",
                                          "format", "format", "sex"]
    assert check_ids([]) == []
