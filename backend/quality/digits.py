"""Check digits of citizen IDs (GB 11643, ISO 7064 MOD 11-2) and unified social credit codes
(GB 32100) with python-stdnum (stdnum.cn.ric, stdnum.cn.uscc), over one column's values.

python-stdnum is the judge of every value reported as failing. To keep a million values cheap,
a vectorised pre-check (numpy) first passes the values that are plainly well-formed: exactly 18
characters, the expected alphabet, the right check character and (citizen IDs) a real birth
date. Anything else goes to stdnum, value by value, and only what stdnum refuses fails. The
pre-check is never more lenient than stdnum (tests/quality/test_digits.py compares them), so
the result is stdnum's."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

RIC_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int32)
RIC_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28],
                        dtype=np.int32)
_USCC_VALUE = np.full(256, -1, dtype=np.int32)
for _i, _c in enumerate(USCC_ALPHABET):
    _USCC_VALUE[ord(_c)] = _i
_DAYS = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _codes(values: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(n x 18 character codes, mask of values that are exactly 18 ASCII characters), built
    without a Python loop over the values (numpy's fixed-width unicode array)."""
    if not values:
        return np.zeros((0, 18), dtype=np.int64), np.zeros(0, dtype=bool)
    wide = np.array(values, dtype="U19").view(np.uint32).reshape(len(values), 19)
    shaped = (wide[:, 18] == 0) & (wide[:, 17] != 0) & np.all(wide[:, :18] < 128, axis=1)
    return np.minimum(wide[:, :18], 255).astype(np.uint8), shaped


def ric_well_formed(values: Sequence[str]) -> np.ndarray:
    """Mask of citizen IDs that are plainly valid (18 characters, 17 digits, the right MOD 11-2
    check character, a real calendar date), vectorised; False means: ask stdnum (ric_error).
    The population loader (backend.people.idcheck) uses it too."""
    raw, ok = _codes(values)
    head = raw[:, :17]
    ok &= np.all((head >= ord("0")) & (head <= ord("9")), axis=1)
    digits = head.astype(np.int32) - ord("0")  # garbage where not ok: masked out below
    check = RIC_CHECK[(digits @ RIC_WEIGHTS) % 11]
    ok &= raw[:, 17] == check
    year = digits[:, 6] * 1000 + digits[:, 7] * 100 + digits[:, 8] * 10 + digits[:, 9]
    month = digits[:, 10] * 10 + digits[:, 11]
    day = digits[:, 12] * 10 + digits[:, 13]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    last = np.where(month_ok, _DAYS[np.clip(month, 0, 12)], 0)
    last = np.where(month_ok & (month == 2) & ~leap, 28, last)
    ok &= month_ok & (day >= 1) & (day <= last) & (year >= 1)
    return ok


def _uscc_plain(values: Sequence[str]) -> np.ndarray:
    raw, ok = _codes(values)
    val = _USCC_VALUE[raw]
    ok &= np.all(val >= 0, axis=1)
    ok &= np.all((raw[:, :8] >= ord("0")) & (raw[:, :8] <= ord("9")), axis=1)
    total = np.where(val[:, :17] >= 0, val[:, :17], 0) @ USCC_WEIGHTS
    check = (31 - total % 31) % 31
    ok &= val[:, 17] == check
    return ok


def ric_error(value: str, check_region: bool = False) -> str | None:
    """Why stdnum refuses a citizen ID (None: valid)."""
    try:
        number = ric.compact(value)
        if len(number) != 18:
            return "长度应为 18 位"
        if not number[:-1].isdigit() or not number[:-1].isascii():
            return "前 17 位应为数字"
        if number[-1] != ric.calc_check_digit(number):
            return "校验码错误（GB 11643）"
        ric.get_birth_date(number)
        if check_region:
            ric.get_birth_place(number)
    except ValidationError:
        return "出生日期或地址码无效" if check_region else "出生日期无效"
    return None


def uscc_error(value: str) -> str | None:
    """Why stdnum refuses a unified social credit code (None: valid)."""
    try:
        uscc.validate(value)
    except ValidationError as exc:
        name = type(exc).__name__
        return {"InvalidChecksum": "校验码错误（GB 32100）",
                "InvalidLength": "长度应为 18 位"}.get(name, "格式不符（GB 32100）")
    return None


def failures(values: Sequence[str], scheme: str, check_region: bool = False
             ) -> list[tuple[int, str]]:
    """(index, reason) of every value stdnum refuses, in order."""
    plain = ric_well_formed(values) if scheme == "citizen_id" else _uscc_plain(values)
    if scheme == "citizen_id" and check_region:
        plain[:] = False  # the region needs stdnum's table: every value goes to stdnum
    out = []
    for i in np.flatnonzero(~plain):
        if not values[i].strip():
            continue  # blank: the required rule's business, not checked here
        reason = (ric_error(values[i], check_region) if scheme == "citizen_id"
                  else uscc_error(values[i]))
        if reason is not None:
            out.append((int(i), reason))
    return out
