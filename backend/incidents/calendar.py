"""Working time: case time limits count office hours on working days, with holidays and
make-up working days (调休) from a calendar file shipped per year.

Pure: no clock, no database. All instants are aware datetimes; days are the county's local
days (Asia/Shanghai).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from backend.errors import NotConfigured

log = logging.getLogger("cityops.incidents")
_WARNED_YEARS: set[int] = set()


class _CalendarFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    year: Annotated[int, Field(ge=2000, le=2100)]
    timezone: str
    working_hours: list[tuple[str, str]] = Field(min_length=1)
    holidays: list[str] = []
    make_up_workdays: list[date] = []

    @field_validator("working_hours")
    @classmethod
    def _periods(cls, value: list[tuple[str, str]]) -> list[tuple[str, str]]:
        last = time.min
        for start, end in value:
            a, b = time.fromisoformat(start), time.fromisoformat(end)
            if not (last <= a < b):
                raise ValueError(f"periods must be ordered and not overlap: {start}-{end}")
            last = b
        return value


def _days(spec: str) -> list[date]:
    first, _, last = spec.partition("..")
    a = date.fromisoformat(first.strip())
    b = date.fromisoformat(last.strip()) if last else a
    if b < a:
        raise ValueError(f"{spec}: the range ends before it starts")
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]


@dataclass(frozen=True)
class WorkCalendar:
    tz: ZoneInfo
    periods: tuple[tuple[time, time], ...]
    holidays: frozenset[date]
    make_up: frozenset[date]
    years: frozenset[int]

    @classmethod
    def load(cls, *paths: Path) -> WorkCalendar:
        """One file per year; all must agree on the time zone and the office hours."""
        holidays: set[date] = set()
        make_up: set[date] = set()
        years: set[int] = set()
        tz = periods = None
        for path in paths:
            try:
                doc = _CalendarFile.model_validate(yaml.safe_load(path.read_text("utf-8")))
                off = [d for spec in doc.holidays for d in _days(spec)]
            except (OSError, ValidationError, ValueError, yaml.YAMLError) as exc:
                raise NotConfigured(f"{path}: not a valid work calendar: {exc}") from exc
            these = tuple((time.fromisoformat(a), time.fromisoformat(b))
                          for a, b in doc.working_hours)
            if tz is not None and (doc.timezone != tz.key or these != periods):
                raise NotConfigured(f"{path}: time zone or office hours differ from the others")
            tz, periods = ZoneInfo(doc.timezone), these
            holidays.update(off)
            make_up.update(doc.make_up_workdays)
            years.add(doc.year)
        if tz is None or periods is None:
            raise NotConfigured("No work calendar file given")
        return cls(tz, periods, frozenset(holidays), frozenset(make_up), frozenset(years))

    def is_workday(self, day: date) -> bool:
        if day in self.make_up:
            return True
        if day in self.holidays:
            return False
        if day.year not in self.years and day.year not in _WARNED_YEARS:
            _WARNED_YEARS.add(day.year)  # once per year and process: limits reach years ahead
            log.warning("no work calendar for %d: counting its days by weekday alone (add "
                        "work_calendar_%d.yaml when the State Council publishes its holidays)",
                        day.year, day.year)
        return day.weekday() < 5

    def _intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.is_workday(day):
            return []
        return [(datetime.combine(day, a, self.tz), datetime.combine(day, b, self.tz))
                for a, b in self.periods]

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Working seconds in [start, end) (0 when end <= start)."""
        if end <= start:
            return 0.0
        total = 0.0
        day = start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        while day <= last:
            for a, b in self._intervals(day):
                lo, hi = max(a, start), min(b, end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total

    @property
    def working_day_s(self) -> float:
        """One working day: the office hours of a day (time limits in working days, like the
        data-sharing rules' "within 2 working days", count in these)."""
        return float(sum((b.hour * 3600 + b.minute * 60) - (a.hour * 3600 + a.minute * 60)
                         for a, b in self.periods))

    def add_working_days(self, start: datetime, days: float) -> datetime:
        return self.add_working(start, days * self.working_day_s)

    def add_working(self, start: datetime, seconds: float) -> datetime:
        """The instant at which `seconds` of working time have passed since `start`."""
        left = max(0.0, seconds)
        day = start.astimezone(self.tz).date()
        for _ in range(3660):  # ten years of days: a limit is hours, never this long
            for a, b in self._intervals(day):
                lo = max(a, start)
                if b <= lo:
                    continue
                span = (b - lo).total_seconds()
                if left <= span:
                    return lo + timedelta(seconds=left)
                left -= span
            day += timedelta(days=1)
        raise ValueError("working time beyond ten years: check the calendar's office hours")
