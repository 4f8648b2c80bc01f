"""The pure parts: timeliness across a weekend and a holiday in working days, the check-digit
pre-check never more lenient than python-stdnum, rules derived from catalog declarations and the
rules file, params refused strictly."""

from __future__ import annotations

import random
import string
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from stdnum.cn import ric, uscc

from backend.incidents.calendar import WorkCalendar
from backend.quality import digits
from backend.quality.checks import RuleRow
from backend.quality.kinds import KINDS, parse_params
from backend.quality.rules import DatasetMeta, FieldMeta, RuleBook, derive
from backend.quality.timeliness import timely
from backend.settings import Settings

TZ = ZoneInfo("Asia/Shanghai")


def rule(cycle: str, days: float | None = None, hours: float | None = None) -> RuleRow:
    return RuleRow(1, "timely", "timely", "timeliness",
                   {"cycle": cycle, "working_days": days, "working_hours": hours})


def test_timeliness_counts_working_days_across_a_weekend(calendar: WorkCalendar) -> None:
    friday = datetime(2026, 3, 6, 17, 0, tzinfo=TZ)  # a Friday afternoon
    daily = rule("daily", days=1)
    # Saturday and Sunday do not count: half an hour on Friday, 6.5 on Monday: due 17:00
    assert timely(daily, friday, calendar, datetime(2026, 3, 9, 9, 0, tzinfo=TZ)).failed == 0
    late = timely(daily, friday, calendar, datetime(2026, 3, 10, 9, 0, tzinfo=TZ))
    assert late.failed == 1 and "已逾期" in late.message
    assert late.samples[0]["reason"].startswith("应于 2026-03-09T17:00:00+08:00 前更新")


def test_timeliness_skips_a_holiday_and_counts_a_make_up_day(calendar: WorkCalendar) -> None:
    before = datetime(2026, 9, 30, 17, 30, tzinfo=TZ)  # the last working hour before 国庆
    daily = rule("daily", days=1)
    # 1-7 October are off; Saturday 10 October is a make-up working day
    assert timely(daily, before, calendar, datetime(2026, 10, 8, 9, 0, tzinfo=TZ)).failed == 0
    assert timely(daily, before, calendar, datetime(2026, 10, 9, 9, 0, tzinfo=TZ)).failed == 1
    weekly = rule("weekly", days=5)  # 8, 9, 10 (make-up), 12, 13 October
    assert timely(weekly, before, calendar, datetime(2026, 10, 13, 17, 0, tzinfo=TZ)).failed == 0
    assert timely(weekly, before, calendar, datetime(2026, 10, 14, 9, 0, tzinfo=TZ)).failed == 1


def test_realtime_is_one_working_hour_and_irregular_never_due(calendar: WorkCalendar) -> None:
    at = datetime(2026, 3, 6, 11, 30, tzinfo=TZ)
    realtime = rule("realtime", hours=1)
    assert timely(realtime, at, calendar, datetime(2026, 3, 6, 14, 20, tzinfo=TZ)).failed == 0
    assert timely(realtime, at, calendar, datetime(2026, 3, 6, 14, 40, tzinfo=TZ)).failed == 1
    never = timely(rule("irregular"), at, calendar, datetime(2030, 1, 1, tzinfo=TZ))
    assert (never.checked, never.failed) == (1, 0)
    assert timely(rule("daily", days=1), None, calendar, at).checked == 0


def _mutations(valid: list[str], alphabet: str, rng: random.Random) -> list[str]:
    out = []
    for v in valid:
        pos = rng.randrange(18)
        out += [v[:pos] + rng.choice(alphabet) + v[pos + 1:], v[:17], v + "1", v.lower(),
                v[:10] + "0230" + v[14:], " " + v, v[:6] + "２" + v[7:]]
    return out


def test_the_pre_check_agrees_with_stdnum() -> None:
    rng = random.Random(12)
    ids = []
    for _ in range(3000):
        base = (f"341324{rng.randint(1900, 2025)}{rng.randint(1, 12):02d}"
                f"{rng.randint(1, 31):02d}{rng.randint(0, 999):03d}0")
        ids.append(base[:-1] + ric.calc_check_digit(base))
    values = ids + _mutations(ids, string.digits + "X", rng)
    found = {i for i, _ in digits.failures(values, "citizen_id")}
    assert found == {i for i, v in enumerate(values) if digits.ric_error(v) is not None}
    # stdnum's own verdict, but for the birth place (its GB/T 2260 table dates 341324 泗县
    # from 1998, so every older resident would fail): the same set
    def stdnum_ok(v: str) -> bool:
        try:
            ric.validate(v)
        except Exception as exc:  # noqa: BLE001
            return type(exc).__name__ == "InvalidComponent" and digits.ric_error(v) is None
        return True
    assert found == {i for i, v in enumerate(values) if not stdnum_ok(v)}
    codes = []
    for _ in range(3000):
        base = "91341324" + "".join(rng.choice(digits.USCC_ALPHABET) for _ in range(9)) + "0"
        codes.append(base[:-1] + uscc.calc_check_digit(base[:-1]))
    values = codes + _mutations(codes, digits.USCC_ALPHABET + "IOZ", rng)
    found = {i for i, _ in digits.failures(values, "uscc")}
    assert found == {i for i, v in enumerate(values) if not uscc.is_valid(v)}
    assert len(found) > 10000


def test_rules_come_from_the_catalog_declarations(settings: Settings) -> None:
    book = RuleBook.load(settings.catalog_dir)
    ds = DatasetMeta("public_toilets", "quarterly", "toilet_id", "point", False, (
        FieldMeta("toilet_id", "string", True), FieldMeta("owner_id", "string", False,
                                                          "id_number", None, "people"),
        FieldMeta("name", "string", True, None, "people.name"),
        FieldMeta("opened", "date"), FieldMeta("operator_uscc", "string")))
    specs = {s.rule_key: s for s in derive(ds, book)}
    assert set(specs) == {
        "required:toilet_id", "required:name", "check_digits:owner_id", "reference:owner_id",
        "authority:name", "type:opened", "check_digits:operator_uscc", "unique:toilet_id",
        "geom_valid", "geom_nonempty", "geom_type", "geom_srid", "inside_county", "timely",
        "gcj02_plausible"}  # the last from quality_rules.yaml
    assert specs["authority:name"].params == {"field": "name", "source": "people.name",
                                              "via": "owner_id"}
    assert specs["timely"].params["working_days"] == 66
    assert specs["geom_srid"].blocking and specs["geom_valid"].blocking
    assert not specs["inside_county"].blocking
    assert specs["unique:toilet_id"].dimension == "validity"
    parcels = derive(DatasetMeta("land_rights_parcels", "irregular", "contract_no", "polygon",
                                 True, (FieldMeta("area_mu", "number", True),)), book)
    keys = {s.rule_key for s in parcels}
    assert {"no_overlaps", "no_gaps", "range:area_mu", "type:area_mu"} <= keys
    assert next(s for s in parcels if s.kind == "timely").params["working_days"] is None


def test_params_are_strict() -> None:
    with pytest.raises(ValueError):
        parse_params("range", {"field": "x", "min": "0"})  # a string is not a number
    with pytest.raises(ValueError):
        parse_params("geom_type", {"type": "circle"})
    with pytest.raises(ValueError):
        parse_params("regex", {"field": "x", "pattern": "("})
    with pytest.raises(ValueError):
        parse_params("required", {"field": "x; DROP TABLE datasets"})
    with pytest.raises(ValueError):
        parse_params("no_such_kind", {})
    assert {k.dimension for k in KINDS.values()} == {"completeness", "validity", "consistency",
                                                     "timeliness", "geometry"}


def test_the_cli_has_a_quality_group() -> None:
    from backend.cli import build_parser
    from backend.quality.cli import cmd_quality

    args = build_parser().parse_args(["quality", "run", "household_population"])
    assert (args.handler, args.action, args.dataset, args.new) == (
        cmd_quality, "run", "household_population", False)
    assert build_parser().parse_args(["quality", "sync"]).dataset is None
