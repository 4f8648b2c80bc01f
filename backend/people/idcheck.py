"""The citizen-ID checks of the population base (GB 11643), one ID or a column of them. Pure: no
database, no I/O but the code list read once.

Each refusal names the check that failed (backend.people.models.CHECKS) and a reason the source
department can act on:
- `format`: 18 characters, 17 digits then a digit or X;
- `check_digit`: the ISO 7064 MOD 11-2 check character (python-stdnum, stdnum.cn.ric);
- `birth_date`: a real calendar date (stdnum), not in the future, not before 1880;
- `region`: the 6-digit address code is in the GB/T 2260 list (`gbt2260.csv`, every release:
  a code valid in any year counts, since an ID keeps the code of its first registration);
- `sex`: the sequence digit (17th) is odd for 男 and even for 女, as the row's sex field says.

The column check passes plainly valid IDs with numpy (backend.quality.digits.ric_well_formed
plus the range, region and sex tests below) and sends everything else to `check_id`, so every
refusal is `check_id`'s (stdnum's for the check character and the date)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from backend.quality.digits import ric_well_formed

CODE_LIST = Path(__file__).with_name("gbt2260.csv")
EARLIEST = date(1880, 1, 1)
SEXES = ("男", "女")


@dataclass(frozen=True, slots=True)
class IdProblem:
    check: str   # one of models.CHECKS
    reason: str


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    first_year: int | None
    last_year: int | None


@lru_cache(maxsize=1)
def regions() -> dict[str, list[Region]]:
    """GB/T 2260 code -> its names over the years (the shipped list)."""
    out: dict[str, list[Region]] = {}
    with CODE_LIST.open(encoding="utf-8", newline="") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        for r in rows:
            out.setdefault(r["code"], []).append(Region(
                r["code"], r["name"], int(r["first_year"]) if r["first_year"] else None,
                int(r["last_year"]) if r["last_year"] else None))
    return out


@lru_cache(maxsize=1)
def _region_ints() -> np.ndarray:
    return np.array(sorted(int(c) for c in regions()), dtype=np.int64)


def normalize(value: str | None) -> str:
    """The form stored and compared: no surrounding blanks, an upper-case X."""
    return (value or "").strip().upper()


def sex_of(number: str) -> str:
    """男 for an odd sequence digit (the 17th character), 女 for an even one."""
    return "男" if int(number[16]) % 2 else "女"


def check_id(value: str | None, sex: str | None = None, *,
             today: date | None = None) -> IdProblem | None:
    """The first check `value` fails (None: a valid ID for a person of `sex`; sex None: not
    compared)."""
    number = normalize(value)
    if len(number) != 18 or not (number[:17].isascii() and number[:17].isdigit()) \
            or number[17] not in "0123456789X":
        return IdProblem("format", f"公民身份号码应为 18 位（17 位数字加数字或 X），收到 "
                                   f"{len(number)} 位的 {_shown(number)}")
    if ric.calc_check_digit(number) != number[17]:
        return IdProblem("check_digit", f"校验码错误：按 ISO 7064 MOD 11-2 末位应为 "
                                        f"{ric.calc_check_digit(number)}，收到 {number[17]}")
    try:
        born = ric.get_birth_date(number)
    except ValidationError:
        return IdProblem("birth_date", f"出生日期 {number[6:14]} 不是真实的日期")
    if born > (today or date.today()):
        return IdProblem("birth_date", f"出生日期 {born.isoformat()} 在未来")
    if born < EARLIEST:
        return IdProblem("birth_date", f"出生日期 {born.isoformat()} 早于 {EARLIEST.year} 年")
    if number[:6] not in regions():
        return IdProblem("region", f"地址码 {number[:6]} 不在 GB/T 2260 行政区划代码表中"
                                   "（历年代码均可）")
    if sex is not None and sex not in SEXES:
        return IdProblem("sex", f"性别应为男或女，收到 {sex!r}")
    if sex is not None and sex != sex_of(number):
        return IdProblem("sex", f"性别为{sex}，但第 17 位顺序码 {number[16]} 表示"
                                f"{sex_of(number)}（奇数男、偶数女）")
    return None


def _shown(number: str) -> str:
    """Enough of a malformed value to find it, not the whole of it."""
    return f"{number[:6]}…" if len(number) > 6 else (number or "（空）")


def check_ids(values: Sequence[str], sexes: Sequence[str | None] | None = None, *,
              today: date | None = None) -> list[tuple[int, IdProblem]]:
    """(index, problem) of every value refused, in order; `sexes` aligned with `values`."""
    n = len(values)
    if n == 0:
        return []
    today = today or date.today()
    plain = ric_well_formed(values)
    idx = np.flatnonzero(plain)
    if len(idx):
        digits = np.array([values[i] for i in idx], dtype="U18").view(np.uint32).reshape(
            len(idx), 18)[:, :17].astype(np.int64) - ord("0")
        birth = digits[:, 6:14] @ (10 ** np.arange(7, -1, -1, dtype=np.int64))
        region = digits[:, :6] @ (10 ** np.arange(5, -1, -1, dtype=np.int64))
        ok = (birth >= int(EARLIEST.strftime("%Y%m%d"))) & \
            (birth <= int(today.strftime("%Y%m%d"))) & np.isin(region, _region_ints())
        if sexes is not None:
            expected = np.where(digits[:, 16] % 2 == 1, "男", "女")
            given = np.array([sexes[i] if sexes[i] is not None else "" for i in idx], dtype="U1")
            ok &= (given == expected) | (given == "")
        plain[idx] = ok
    out = []
    for i in np.flatnonzero(~plain):
        problem = check_id(values[i], sexes[i] if sexes is not None else None, today=today)
        if problem is not None:
            out.append((int(i), problem))
    return out
