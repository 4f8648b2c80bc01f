"""GeoReport v2 in pure functions: reading a POSTed request, the search window, and turning a
case into a public service request (no contact details; sensitive categories coarsened).
No database, no HTTP."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backend.bounds import check_instant

LOCAL = ZoneInfo("Asia/Shanghai")
MAX_DESCRIPTION = 4000          # the spec's limit, and the case table's
MAX_WINDOW = timedelta(days=90)  # start_date .. end_date
MAX_RECORDS = 1000               # per GET requests
MAX_IDS = 1000
COARSE_DEGREES = 0.01            # sensitive categories: ~1.1 km north-south, ~0.9 km east-west
MEDIA_MARK = "\n\n媒体链接 · media_url: "
PHONE = re.compile(r"^[0-9+()\- ]{5,30}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}$")
URL = re.compile(r"^https?://[^\s]{1,990}$")
CODE = re.compile(r"^[CE][0-9]{4}$")

# Our detailed state, for status_notes: Chinese · English.
STATE_NOTES = {
    "reported": "已上报 · reported",
    "filed": "已立案 · filed",
    "voided": "已作废 · voided",
    "dispatched": "已派遣 · dispatched",
    "accepted": "已签收 · accepted",
    "in_progress": "处置中 · in progress",
    "handled": "已处置 · handled",
    "verifying": "核查中 · verifying",
    "closed": "已结案 · closed",
    "returned": "已退回待重新派遣 · returned for re-dispatch",
    "parked": "挂账 · parked",
}
CLOSED_STATES = frozenset({"closed", "voided"})
KIND_NAMES = {"component": "部件", "event": "事件"}


class Open311Error(Exception):
    """An error answered as GeoReport's error list: [{code, description}] with that status."""

    def __init__(self, status: int, description: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.headers = headers


def bad(description: str) -> Open311Error:
    return Open311Error(400, description)


# POST requests ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Submission:
    service_code: str
    lat: float
    lon: float
    description: str | None
    address: str | None
    media_url: str | None
    reporter_name: str | None
    reporter_phone: str | None
    reporter_email: str | None

    def case_description(self, service_name: str) -> str:
        """What the case says: the description (or the service's name when none was given)
        and the media URL, which we record but never fetch."""
        text = self.description or f"{service_name}(Open311)"
        if self.media_url:
            text += MEDIA_MARK + self.media_url
        if len(text) > MAX_DESCRIPTION:
            raise bad(f"description and media_url together are {len(text)} characters; at "
                      f"most {MAX_DESCRIPTION} fit")
        return text


def _text(fields: Mapping[str, str], name: str, limit: int) -> str | None:
    value = (fields.get(name) or "").strip()
    if len(value) > limit:
        raise bad(f"{name} is {len(value)} characters long; at most {limit}")
    return value or None


def _coordinate(fields: Mapping[str, str], name: str, bound: float) -> float:
    try:
        value = float(fields[name])
    except ValueError:
        raise bad(f"{name} must be a number in decimal degrees (WGS-84), got "
                  f"{fields[name][:40]!r}") from None
    if not math.isfinite(value) or abs(value) > bound:
        raise bad(f"{name} must be between -{bound:g} and {bound:g}")
    return value


def parse_submission(fields: Mapping[str, str]) -> Submission:
    """A POSTed service request, checked. attribute[...], device_id, account_id and
    jurisdiction_id are accepted and ignored."""
    code = (fields.get("service_code") or "").strip()
    if not code:
        raise bad("service_code is required: GET services.json lists them")
    if not CODE.match(code):
        raise bad(f"service_code {code[:40]!r} is not a service: GET services.json lists them")
    has_lat, has_long = bool(fields.get("lat", "").strip()), bool(fields.get("long", "").strip())
    if not (has_lat and has_long):
        if has_lat or has_long:
            raise bad("Send both lat and long (WGS-84 decimal degrees)")
        raise bad("We need a location: send lat and long (WGS-84 decimal degrees). An "
                  "address_string or address_id alone cannot be placed in a grid cell")
    lat = _coordinate(fields, "lat", 90)
    lon = _coordinate(fields, "long", 180)
    description = _text(fields, "description", MAX_DESCRIPTION)
    media_url = _text(fields, "media_url", 1000)
    if media_url and not URL.match(media_url):
        raise bad("media_url must be an http(s) URL")
    phone = _text(fields, "phone", 30)
    if phone and not PHONE.match(phone):
        raise bad("phone may hold digits, spaces, '+', '-', '(' and ')' only")
    email = _text(fields, "email", 254)
    if email and not EMAIL.match(email):
        raise bad("email is not an e-mail address")
    names = [n for n in (_text(fields, "first_name", 50), _text(fields, "last_name", 50)) if n]
    return Submission(code, lat, lon, description, _text(fields, "address_string", 200),
                      media_url, " ".join(names) or None, phone, email)


# GET requests -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Search:
    ids: tuple[int, ...] = ()          # when given, every other filter is ignored (the spec)
    codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()      # open | closed
    start: datetime | None = None
    end: datetime | None = None


def _instant(name: str, raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise bad(f"{name} must be an ISO 8601 date-time with a time zone, e.g. "
                  f"2026-11-24T08:00:00+08:00; got {raw[:40]!r}") from None
    if value.tzinfo is None:
        raise bad(f"{name} needs a time zone (Z or an offset such as +08:00)")
    try:
        return check_instant(value)
    except ValueError as exc:
        raise bad(f"{name}: {exc}") from None


def _list(raw: str | None) -> list[str]:
    return [p.strip() for p in (raw or "").split(",") if p.strip()]


def parse_search(*, service_request_id: str | None, service_code: str | None,
                 start_date: str | None, end_date: str | None, status: str | None,
                 now: datetime) -> Search:
    ids = _list(service_request_id)
    if ids:
        if len(ids) > MAX_IDS:
            raise bad(f"At most {MAX_IDS} service_request_id values at once")
        if not all(i.isdigit() and len(i) < 19 for i in ids):
            raise bad("service_request_id is a comma-separated list of request ids (digits)")
        return Search(ids=tuple(dict.fromkeys(int(i) for i in ids)))
    codes = _list(service_code)
    if any(not CODE.match(c) for c in codes):
        raise bad("service_code is a comma-separated list of service codes (e.g. E0101)")
    statuses = _list(status)
    if any(s not in ("open", "closed") for s in statuses):
        raise bad("status is open, closed, or both separated by a comma")
    start = _instant("start_date", start_date) if start_date else None
    end = _instant("end_date", end_date) if end_date else None
    if start is None and end is None:
        end = now
    if start is None:
        start = end - MAX_WINDOW  # type: ignore[operator]
    if end is None:
        end = start + MAX_WINDOW
    if end < start:
        raise bad("end_date is before start_date")
    if end - start > MAX_WINDOW:
        raise bad(f"start_date to end_date spans {(end - start) / timedelta(days=1):.4g} days; "
                  f"at most {MAX_WINDOW.days} days at once")
    return Search(codes=tuple(codes), statuses=tuple(statuses), start=start, end=end)


def _when(value: datetime | None) -> str | None:
    return value.astimezone(LOCAL).isoformat(timespec="seconds") if value else None


def media_of(description: str, source: str) -> tuple[str, str | None]:
    """(description, media_url) of a case: an Open311 client's media URL is given back as
    media_url; our own photos are private and never linked."""
    if source == "open311" and MEDIA_MARK in description:
        text, _, url = description.rpartition(MEDIA_MARK)
        if URL.match(url):
            return text, url
    return description, None


def coarse(value: float) -> float:
    return round(round(value / COARSE_DEGREES) * COARSE_DEGREES, 6)


def public_request(row: Mapping[str, Any]) -> dict[str, Any]:
    """One case as a GeoReport service request. Only these fields leave the building: never
    the reporter's name, phone or e-mail, nor who works on it. A sensitive category's point is
    rounded to a 0.01° lattice and its address dropped."""
    description, media_url = media_of(row["description"], row["source"])
    lat, lon, address = row["lat"], row["lon"], row["address"]
    if row["sensitive"]:
        lat, lon, address = coarse(lat), coarse(lon), None
    return {
        "service_request_id": str(row["id"]),
        "status": "closed" if row["state"] in CLOSED_STATES else "open",
        "status_notes": STATE_NOTES.get(row["state"], row["state"]),
        "service_name": row["service_name"],
        "service_code": row["service_code"],
        "description": description,
        "agency_responsible": row["agency_responsible"],
        "service_notice": None,
        "requested_datetime": _when(row["reported_at"]),
        "updated_datetime": _when(row["updated_at"]),
        "expected_datetime": _when(row["due_at"]),
        "address": address,
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": lon,
        "media_url": media_url,
    }


def public_service(row: Mapping[str, Any]) -> dict[str, Any]:
    """A case category as a GeoReport service."""
    return {
        "service_code": row["code"],
        "service_name": row["name"],
        "description": f"{row['major_name']} · {row['name']}",
        "metadata": False,
        "type": "realtime",
        "keywords": ",".join((KIND_NAMES.get(row["kind"], row["kind"]), row["major_name"],
                              row["name"])),
        "group": f"{KIND_NAMES.get(row['kind'], row['kind'])} · {row['major_name']}",
    }
