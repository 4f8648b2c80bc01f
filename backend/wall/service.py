"""The wall's header: the server's time (the wall syncs its clock to it), the county seat's
current weather, the warnings in force and the people on duty now, read from the current
versions of weather_conditions, weather_warnings and duty_roster (县气象局, the command centre's
roster). No feed, no weather: `weather` is null rather than a guess. Phones go out by the one
masking policy (backend.privacy.policy): in full only to roles with personal:read, audited."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from backend.catalog.dataset_content import content_by_id
from backend.privacy.looks import record_look
from backend.privacy.policy import View, present

TIMEZONE = "Asia/Shanghai"
TZ = ZoneInfo(TIMEZONE)
WEATHER, WARNINGS, DUTY = "weather_conditions", "weather_warnings", "duty_roster"
DATASETS = (WEATHER, WARNINGS, DUTY)
SEAT_TOWNSHIP = "341324100"  # 泗城镇, the county seat
STALE_AFTER = timedelta(hours=3)
POSTS = ("带班领导", "值班长", "值班员")  # the order the header lists them in
LEVELS = ("红色", "橙色", "黄色", "蓝色")  # most severe first
# A hub event reaches every subscriber at once: it carries what the wall's own account (viewer)
# may see of a list, i.e. phones masked.
PUSH_ROLES = frozenset({"viewer"})

# The rows of each dataset's current version (the pointer may have been rolled back), with
# the township's name and whether the dataset is synthetic.
ROWS_SQL = sa.text("""
SELECT d.id AS dataset, d.synthetic, r.data, t.name AS township
FROM datasets d
JOIN dataset_versions v ON v.id = d.current_version_id
JOIN dataset_rows r ON r.dataset_id = d.id AND r.first_seq <= v.seq
                   AND (r.last_seq IS NULL OR r.last_seq > v.seq)
LEFT JOIN townships t ON t.code = r.data ->> 'township_code'
WHERE d.id = ANY(:ids)""")
SOURCE_SQL = sa.text("SELECT coalesce(p.short_name, p.name) FROM datasets d "
                     "JOIN departments p ON p.code = d.department_code WHERE d.id = :id")


@dataclass(frozen=True)
class Header:
    data: dict[str, Any]          # the answer without `now`
    shown: list[str]              # personal fields that went out in full (for the audit)
    shown_ids: list[str]          # the shifts whose fields did
    next_change: datetime | None  # when the header changes with no new version (a shift ends)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at.replace(tzinfo=TZ) if at.tzinfo is None else at


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(TZ).isoformat() if at is not None else None


def now_iso(at: datetime) -> str:
    return at.astimezone(TZ).isoformat(timespec="milliseconds")


def _weather(rows: list[dict[str, Any]], now: datetime, source: str | None,
             synthetic: bool) -> tuple[dict[str, Any] | None, datetime | None]:
    """The county seat's latest observation (else any township's latest), and when it will
    turn stale."""
    observed = [(r, at) for r in rows if (at := _time(r["data"].get("observed_at"))) is not None]
    if not observed:
        return None, None
    seat = [o for o in observed if o[0]["data"].get("township_code") == SEAT_TOWNSHIP]
    row, at = max(seat or observed, key=lambda o: o[1])
    d = row["data"]
    stale = now - at > STALE_AFTER
    return {"township_code": d.get("township_code"), "township": row["township"],
            "observed_at": _iso(at), "weather": d.get("weather"),
            "temperature": d.get("temperature"), "humidity": d.get("humidity"),
            "wind_direction": d.get("wind_direction"), "wind_level": d.get("wind_level"),
            "aqi": d.get("aqi"), "source": source, "synthetic": synthetic,
            "stale": stale}, None if stale else at + STALE_AFTER


def _in_force(rows: Iterable[dict[str, Any]], start: str, end: str, now: datetime
              ) -> tuple[list[tuple[dict[str, Any], datetime, datetime]], list[datetime]]:
    """Rows with start <= now < end, and the future instants at which that changes."""
    live, edges = [], []
    for r in rows:
        a, b = _time(r["data"].get(start)), _time(r["data"].get(end))
        if a is None or b is None:
            continue
        edges += [t for t in (a, b) if t > now]
        if a <= now < b:
            live.append((r, a, b))
    return live, edges


def build_header(engine: Engine, roles: Iterable[str], now: datetime,
                 view: View = View.RECORD) -> Header:
    with engine.connect() as conn:
        rows = conn.execute(ROWS_SQL, {"ids": list(DATASETS)}).mappings().all()
        source = conn.execute(SOURCE_SQL, {"id": WEATHER}).scalar()
    by: dict[str, list[dict[str, Any]]] = {k: [] for k in DATASETS}
    synthetic: dict[str, bool] = {}
    for r in rows:
        by[r["dataset"]].append(dict(r))
        synthetic[r["dataset"]] = bool(r["synthetic"])
    weather, stale_at = _weather(by[WEATHER], now, source, synthetic.get(WEATHER, True))
    warnings, edges = _in_force(by[WARNINGS], "issued_at", "expires_at", now)
    warnings.sort(key=lambda w: (LEVELS.index(w[0]["data"].get("level"))
                                 if w[0]["data"].get("level") in LEVELS else len(LEVELS),
                                 w[1]))
    duty, duty_edges = _in_force(by[DUTY], "starts_at", "ends_at", now)
    duty.sort(key=lambda s: (POSTS.index(s[0]["data"].get("post"))
                             if s[0]["data"].get("post") in POSTS else len(POSTS),
                             s[1], str(s[0]["data"].get("name"))))
    personal = {f.name: f.kind for f in content_by_id()[DUTY].fields if f.kind is not None}
    people, shown, shown_ids = [], set(), []
    for r, a, b in duty:
        d = r["data"]
        person = {"post": d.get("post"), "name": d.get("name"), "unit": d.get("unit"),
                  "phone": d.get("phone"), "starts_at": _iso(a), "ends_at": _iso(b)}
        full = present(person, personal, roles, view)
        if full:
            shown.update(full)
            shown_ids.append(str(d.get("shift_id")))
        people.append(person)
    data = {
        "timezone": TIMEZONE,
        "weather": weather,
        "warnings": [{"warning_id": r["data"].get("warning_id"), "kind": r["data"].get("kind"),
                      "level": r["data"].get("level"),
                      "township_code": r["data"].get("township_code"),
                      "township": r["township"], "issued_at": _iso(a), "expires_at": _iso(b),
                      "text": r["data"].get("text")} for r, a, b in warnings],
        "duty": people,
        "synthetic": any(synthetic.values()) if synthetic else True,
    }
    changes = [*edges, *duty_edges, *([stale_at] if stale_at else [])]
    return Header(data, sorted(shown), shown_ids, min(changes) if changes else None)


def header(engine: Engine, *, roles: Iterable[str], username: str | None,
           now: datetime | None = None) -> dict[str, Any]:
    """GET /api/wall/header: the header for this caller; a phone shown in full is audited."""
    now = now or datetime.now(TZ)
    built = build_header(engine, roles, now)
    if built.shown and username is not None:
        with engine.begin() as conn:
            record_look(conn, username, f"dataset:{DUTY}", built.shown_ids, built.shown,
                        {"answer": "wall.header"})
    return {"now": now_iso(now), **built.data}


def push_header(engine: Engine, now: datetime | None = None) -> Header:
    """The `wall.header` event's data (no `now`: each wall keeps its synced clock)."""
    return build_header(engine, PUSH_ROLES, now or datetime.now(TZ), View.LIST)
