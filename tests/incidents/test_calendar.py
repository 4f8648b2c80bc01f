"""Working time with the 2026 calendar: office hours, weekends, holidays, make-up workdays."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from backend.errors import NotConfigured
from backend.incidents.calendar import WorkCalendar
from tests.conftest import ROOT

CST = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar.load(ROOT / "scenarios" / "sixian" / "work_calendar_2026.yaml")
H = 3600.0


def at(day: str, hm: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=CST)


def test_office_hours_on_a_plain_day() -> None:
    assert CAL.working_seconds(at("2026-11-24", "08:00"), at("2026-11-24", "18:00")) == 7 * H
    assert CAL.working_seconds(at("2026-11-24", "11:00"), at("2026-11-24", "15:00")) == 2 * H
    assert CAL.working_seconds(at("2026-11-24", "12:30"), at("2026-11-24", "13:30")) == 0
    assert CAL.add_working(at("2026-11-24", "11:00"), 2 * H) == at("2026-11-24", "15:00")


def test_a_weekend_does_not_count() -> None:
    friday, monday = at("2026-11-27", "16:30"), at("2026-11-30", "09:30")
    assert CAL.working_seconds(friday, monday) == 2 * H
    assert CAL.add_working(friday, 2 * H) == monday


def test_national_day_is_off_and_its_make_up_saturday_counts() -> None:
    # 2026-09-30 (Wed) 17:00 -> the holiday 1-7 Oct -> Thu 8 Oct 09:30
    assert CAL.working_seconds(at("2026-09-30", "17:00"), at("2026-10-08", "09:30")) == 1.5 * H
    assert not CAL.is_workday(at("2026-10-05", "10:00").date())
    assert CAL.is_workday(at("2026-10-10", "10:00").date())  # a Saturday, 调休上班
    assert CAL.is_workday(at("2026-09-20", "10:00").date())  # a Sunday, 调休上班
    assert CAL.working_seconds(at("2026-10-09", "17:00"), at("2026-10-10", "09:00")) == 1 * H


def test_spring_festival_spans_nine_days() -> None:
    start = at("2026-02-13", "17:00")  # Friday before; 14 Feb (Sat) is a make-up workday
    assert CAL.add_working(start, 1 * H) == at("2026-02-14", "09:00")
    assert CAL.add_working(at("2026-02-14", "17:00"), 1 * H) == at("2026-02-24", "09:00")


def test_a_bad_calendar_is_refused(tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "cal.yaml"
    bad.write_text("year: 2026\ntimezone: Asia/Shanghai\nworking_hours: [['14:00', '12:00']]\n")
    with pytest.raises(NotConfigured, match="cal.yaml"):
        WorkCalendar.load(bad)
