"""The bus timetable (`scenarios/<county>/timetable.yaml`, setting `gtfs_timetable`), validated
strictly: it drives the static GTFS feed and the trip matching of GTFS-Realtime.

Unknown keys are rejected; every problem names the file, the key and what was expected (the
layer catalog's format). Times are "HH:MM" past midnight of the service day; a time past
24:00 (e.g. "24:30") is a departure after midnight that still belongs to that day's service.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from backend.catalog.strict import CatalogError, parse_yaml, read_yaml

HHMM = re.compile(r"^([0-9]{1,2}):([0-5][0-9])$")
ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class TimetableError(CatalogError):
    """The timetable file is invalid (or missing). `problems` are 'file: key: what was expected'."""


def _minutes(value: str) -> str:
    match = HHMM.match(value)
    if match is None or int(match[1]) > 47:
        raise ValueError(f"expected a time 'HH:MM' between 00:00 and 47:59, got {value!r}")
    return value


Clock = Annotated[str, AfterValidator(_minutes)]


def seconds(clock: str) -> int:
    """'07:30' -> seconds past midnight of the service day."""
    h, m = clock.split(":")
    return int(h) * 3600 + int(m) * 60


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Agency(Strict):
    id: Annotated[str, Field(pattern=ID)]
    name: Annotated[str, Field(min_length=1)]
    url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    timezone: str
    lang: Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$")]
    phone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"expected an IANA time zone such as Asia/Shanghai, got {value!r}"
                             ) from exc
        return value


class FeedInfo(Strict):
    publisher_name: Annotated[str, Field(min_length=1)]
    publisher_url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    lang: Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$")]
    contact_email: str | None = None


class Calendar(Strict):
    """Services by weekday. With start_date and end_date both left out, the calendar is the
    current year (1 January to 31 December, in the agency's time zone) of each build."""

    start_date: date | None = None
    end_date: date | None = None
    services: Annotated[dict[Annotated[str, Field(pattern=ID)],
                             Annotated[list[Weekday], Field(min_length=1)]],
                        Field(min_length=1)]

    @model_validator(mode="after")
    def _dates(self) -> Calendar:
        if (self.start_date is None) != (self.end_date is None):
            raise ValueError("give both start_date and end_date, or neither (the current year)")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError(f"end_date {self.end_date} is before start_date {self.start_date}")
        for name, days in self.services.items():
            if len(set(days)) != len(days):
                raise ValueError(f"services.{name}: a weekday is listed twice")
        return self

    def period(self, today: date) -> tuple[date, date]:
        if self.start_date and self.end_date:
            return self.start_date, self.end_date
        return date(today.year, 1, 1), date(today.year, 12, 31)


class Period(Strict):
    """A band of the day (from <= departure < to) with its own headway, e.g. a peak."""

    from_: Annotated[Clock, Field(alias="from")]
    to: Clock
    headway_min: Annotated[int, Field(ge=1, le=240)]

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if seconds(self.to) <= seconds(self.from_):
            raise ValueError(f"to {self.to} must be after from {self.from_}")
        return self


class Pattern(Strict):
    """One day's departures from each terminus: the first at `first`, then every headway
    (the period's where a departure falls in one, else headway_min), and the last at `last`."""

    first: Clock
    last: Clock
    headway_min: Annotated[int, Field(ge=1, le=240)]
    periods: list[Period] = []

    @model_validator(mode="after")
    def _coherent(self) -> Pattern:
        if seconds(self.last) < seconds(self.first):
            raise ValueError(f"last {self.last} is before first {self.first}")
        spans = sorted((seconds(p.from_), seconds(p.to)) for p in self.periods)
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            if start < end:
                raise ValueError("periods overlap")
        return self

    def headway_s(self, at_s: int) -> int:
        for p in self.periods:
            if seconds(p.from_) <= at_s < seconds(p.to):
                return p.headway_min * 60
        return self.headway_min * 60

    def departures(self) -> list[int]:
        """Departure times (seconds past midnight) from one terminus."""
        first, last = seconds(self.first), seconds(self.last)
        out = [first]
        while out[-1] + self.headway_s(out[-1]) <= last:
            out.append(out[-1] + self.headway_s(out[-1]))
        if out[-1] != last:
            out.append(last)  # the published last departure always runs
        return out


class LineTimetable(Strict):
    """A line (by `bus_lines.code`): its average running speed between stops, the dwell at
    each intermediate stop, and a pattern per service (a name from `patterns` or inline)."""

    speed_kmh: Annotated[float, Field(gt=0, le=120)]
    dwell_s: Annotated[int, Field(ge=0, le=600)] | None = None
    services: Annotated[dict[str, str | Pattern], Field(min_length=1)]


class Defaults(Strict):
    dwell_s: Annotated[int, Field(ge=0, le=600)] = 20


class Timetable(Strict):
    agency: Agency
    feed: FeedInfo
    calendar: Calendar
    defaults: Defaults = Defaults()
    patterns: dict[Annotated[str, Field(pattern=ID)], Pattern] = {}
    lines: Annotated[dict[Annotated[str, Field(min_length=1)], LineTimetable],
                     Field(min_length=1)]

    @model_validator(mode="after")
    def _references(self) -> Timetable:
        for code, line in self.lines.items():
            for service, pattern in line.services.items():
                if service not in self.calendar.services:
                    raise ValueError(f"lines.{code}.services.{service}: no such service in "
                                     f"calendar.services ({', '.join(self.calendar.services)})")
                if isinstance(pattern, str) and pattern not in self.patterns:
                    known = ", ".join(self.patterns) or "none defined"
                    raise ValueError(f"lines.{code}.services.{service}: no pattern {pattern!r} "
                                     f"in patterns ({known})")
        return self

    def pattern(self, code: str, service: str) -> Pattern:
        chosen = self.lines[code].services[service]
        return self.patterns[chosen] if isinstance(chosen, str) else chosen

    def dwell_s(self, code: str) -> int:
        own = self.lines[code].dwell_s
        return self.defaults.dwell_s if own is None else own


def parse_timetable(text: str, label: str) -> Timetable:
    """Validate the YAML text of a timetable; `label` names the file in the problems."""
    return parse_yaml(text, Timetable, label, TimetableError)


def load_timetable(path: Path) -> Timetable:
    return read_yaml(path, Timetable, f"{path.parent.name}/{path.name}", TimetableError)
