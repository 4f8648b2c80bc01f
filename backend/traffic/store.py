"""Stored traffic: closed buckets (speeds and levels, partitioned by UTC day), typical speeds
per time-of-week slot, and the index per bucket and area. Plain SQL on one connection: the
caller owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from backend.traffic.levels import BUCKET, bucket_floor

# Typical speed: the mean of the slot's buckets, turning into an exponential average once a
# slot has TYPICAL_WINDOW samples (about a quarter of weekly samples), so it follows changes.
TYPICAL_WINDOW = 12


@dataclass(frozen=True, slots=True)
class BucketRow:
    segment: int
    speed_kmh: float
    vehicles: int
    traversals: int
    level: int


def ensure_partition(conn: sa.Connection, day: date) -> None:
    conn.execute(sa.text("SELECT cityops_ensure_traffic_partition(:d)"), {"d": day})


def store_bucket(conn: sa.Connection, start: datetime, rows: Sequence[BucketRow]) -> int:
    """The closed bucket's published segments (a bucket stored again replaces its rows)."""
    if not rows:
        return 0
    ensure_partition(conn, start.astimezone(UTC).date())
    conn.execute(sa.text("""
INSERT INTO traffic_speeds (segment, bucket_start, speed_kmh, vehicles, traversals, level)
SELECT u.segment, :start, u.speed, u.vehicles, u.traversals, u.level
FROM unnest(CAST(:segments AS bigint[]), CAST(:speeds AS float8[]), CAST(:vehicles AS int[]),
            CAST(:traversals AS int[]), CAST(:levels AS smallint[]))
  AS u(segment, speed, vehicles, traversals, level)
ORDER BY u.segment
ON CONFLICT (segment, bucket_start) DO UPDATE SET speed_kmh = EXCLUDED.speed_kmh,
  vehicles = EXCLUDED.vehicles, traversals = EXCLUDED.traversals, level = EXCLUDED.level"""), {
        "start": start, "segments": [r.segment for r in rows],
        "speeds": [r.speed_kmh for r in rows], "vehicles": [r.vehicles for r in rows],
        "traversals": [r.traversals for r in rows], "levels": [r.level for r in rows]})
    return len(rows)


def drop_before(conn: sa.Connection, keep_from: date) -> int:
    """Retention: whole days of speeds (and index rows) before `keep_from`."""
    return conn.execute(sa.text("SELECT cityops_drop_traffic_partitions(:d)"),
                        {"d": keep_from}).scalar_one()


# Typical speeds ---------------------------------------------------------------------------

def typical_for(conn: sa.Connection, slot: int, segments: Sequence[int] | None = None
                ) -> dict[int, tuple[float, int]]:
    """{segment: (typical km/h, samples)} of one slot."""
    where = "" if segments is None else " AND segment = ANY(:s)"
    rows = conn.execute(sa.text(
        f"SELECT segment, speed_kmh, samples FROM traffic_typical WHERE slot = :slot{where}"),  # noqa: S608
        {"slot": slot, "s": list(segments or ())})
    return {s: (v, n) for s, v, n in rows}


def free_flow(conn: sa.Connection) -> dict[int, float]:
    """Each segment's free-flow speed: its highest typical speed over the week."""
    return dict(conn.execute(sa.text(
        "SELECT segment, max(speed_kmh) FROM traffic_typical GROUP BY segment")).all())


def learn_typical(conn: sa.Connection, slot: int, rows: Sequence[BucketRow]) -> None:
    """Fold a closed bucket's speeds into its slot's typical speeds."""
    if not rows:
        return
    conn.execute(sa.text("""
INSERT INTO traffic_typical AS t (segment, slot, speed_kmh, samples)
SELECT u.segment, :slot, u.speed, 1
FROM unnest(CAST(:segments AS bigint[]), CAST(:speeds AS float8[])) AS u(segment, speed)
ORDER BY u.segment
ON CONFLICT (segment, slot) DO UPDATE SET
  speed_kmh = (t.speed_kmh * LEAST(t.samples, :window) + EXCLUDED.speed_kmh)
              / (LEAST(t.samples, :window) + 1),
  samples = t.samples + 1, updated_at = now()"""), {
        "slot": slot, "window": TYPICAL_WINDOW, "segments": [r.segment for r in rows],
        "speeds": [r.speed_kmh for r in rows]})


def seed_typical(conn: sa.Connection, rows: Iterable[Sequence[float]]) -> int:
    """Set typical speeds from (segment, slot 0..2015, km/h[, samples]) rows, e.g. a
    scenario's seed; existing slots are overwritten. Without a sample count a seeded slot
    counts as fully learned (TYPICAL_WINDOW samples)."""
    data = []
    for row in rows:
        if len(row) not in (3, 4):
            raise ValueError(f"a typical row is (segment, slot, km/h[, samples]), got {row!r}")
        segment, slot, speed = int(row[0]), int(row[1]), float(row[2])
        samples = int(row[3]) if len(row) == 4 else TYPICAL_WINDOW
        if not 0 <= slot < 2016 or not speed > 0 or samples < 1:
            raise ValueError(f"bad typical row {row!r}: slot 0..2015, km/h > 0, samples >= 1")
        data.append((segment, slot, speed, samples))
    if not data:
        return 0
    conn.execute(sa.text("""
INSERT INTO traffic_typical AS t (segment, slot, speed_kmh, samples)
SELECT * FROM unnest(CAST(:segments AS bigint[]), CAST(:slots AS smallint[]),
                     CAST(:speeds AS float8[]), CAST(:samples AS int[]))
ORDER BY 1, 2
ON CONFLICT (segment, slot) DO UPDATE SET speed_kmh = EXCLUDED.speed_kmh,
  samples = EXCLUDED.samples, updated_at = now()"""), {
        "segments": [r[0] for r in data], "slots": [r[1] for r in data],
        "speeds": [r[2] for r in data], "samples": [r[3] for r in data]})
    return len(data)


# The index ---------------------------------------------------------------------------------

def store_tpi(conn: sa.Connection, start: datetime,
              areas: Sequence[tuple[str, float | None, int, float]]) -> None:
    """(area, tpi, level, length counted) of a closed bucket."""
    if not areas:
        return
    conn.execute(sa.text("""
INSERT INTO traffic_tpi (area, bucket_start, tpi, level, length_m)
SELECT u.area, :start, u.tpi, u.level, u.length
FROM unnest(CAST(:areas AS text[]), CAST(:tpis AS float8[]), CAST(:levels AS smallint[]),
            CAST(:lengths AS float8[])) AS u(area, tpi, level, length)
ON CONFLICT (area, bucket_start) DO UPDATE SET tpi = EXCLUDED.tpi, level = EXCLUDED.level,
  length_m = EXCLUDED.length_m"""), {
        "start": start, "areas": [a[0] for a in areas], "tpis": [a[1] for a in areas],
        "levels": [a[2] for a in areas], "lengths": [a[3] for a in areas]})


# Reads for the API -------------------------------------------------------------------------

def history(conn: sa.Connection, segment: int, start: datetime, end: datetime
            ) -> dict[datetime, tuple[float, int, int]]:
    """{bucket start: (speed, vehicles, level)} of one segment in [start, end)."""
    rows = conn.execute(sa.text(
        "SELECT bucket_start, speed_kmh, vehicles, level FROM traffic_speeds "
        "WHERE segment = :s AND bucket_start >= :a AND bucket_start < :b ORDER BY bucket_start"),
        {"s": segment, "a": start, "b": end})
    return {t.astimezone(UTC): (v, n, lv) for t, v, n, lv in rows}


def typical_week(conn: sa.Connection, segment: int) -> dict[int, float]:
    return dict(conn.execute(sa.text(
        "SELECT slot, speed_kmh FROM traffic_typical WHERE segment = :s"), {"s": segment}).all())


def replay(conn: sa.Connection, start: datetime, end: datetime,
           segments: Sequence[int] | None = None) -> dict[datetime, dict[int, int]]:
    """{bucket start: {segment: level}} of the published buckets in [start, end)."""
    where = "" if segments is None else " AND segment = ANY(:segs)"
    rows = conn.execute(sa.text(
        "SELECT bucket_start, segment, level FROM traffic_speeds "  # noqa: S608
        f"WHERE bucket_start >= :a AND bucket_start < :b{where} ORDER BY bucket_start, segment"),
        {"a": start, "b": end, "segs": list(segments or ())})
    out: dict[datetime, dict[int, int]] = {}
    for t, s, lv in rows:
        out.setdefault(t.astimezone(UTC), {})[s] = lv
    return out


def buckets(start: datetime, end: datetime) -> list[datetime]:
    """Bucket starts in [start, end)."""
    out, t = [], start
    while t < end:
        out.append(t)
        t += BUCKET
    return out


def bucket_start_at_or_after(t: datetime) -> datetime:
    floor = bucket_floor(t)
    return floor if floor == t else floor + BUCKET


def day_bounds(day: date, tz: object) -> tuple[datetime, datetime]:
    """[start, end) in UTC of a local day (288 buckets; DST-free zones such as China)."""
    start = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)  # type: ignore[arg-type]
    return start, start + timedelta(days=1)
