"""Quality scores: per dataset and day, five sub-scores (0-100) and a weighted total; per
department and day, the mean of its datasets and a rank. Stored in quality_scores and
department_scores; the trend is the stored days, never invented ones.

A dataset whose latest quality run (as of the day's end) checked rows is scored from that run:
per dimension, the mean over its rules of 1 - failed/checked (a rule that checked nothing is
left out), a dimension without rules is null and its weight is shared out. A dataset without
checked content (a catalogue entry with metadata only, or rules never run) is scored on its
catalogue record: completeness = share of the record items filled (quality_weights.yaml),
timeliness = 100 within its update cycle, 0 when overdue or never collected.

A department's score is the plain mean of its datasets' scores (each catalogued resource is
the department's duty alike; weighting by rows would let one large generated table hide twenty
empty catalogue entries). Ranks 1..n by total, ties by code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from backend.catalog.quality_weights import DIMENSIONS, QualityWeights, quality_weights

TZ = ZoneInfo("Asia/Shanghai")  # the county's days (as the work calendar's)


@dataclass(frozen=True, slots=True)
class Score:
    completeness: float | None
    validity: float | None
    consistency: float | None
    timeliness: float | None
    geometry: float | None
    total: float

    def as_dict(self) -> dict[str, float | None]:
        return {d: getattr(self, d) for d in (*DIMENSIONS, "total")}


@dataclass(frozen=True, slots=True)
class Record:
    """What a dataset's catalogue record holds, for the record-based score."""

    items: Mapping[str, bool]            # record item -> filled
    update_cycle: str
    last_update: datetime | None          # latest accepted content as of the day's end


def _round(value: float | None) -> float | None:
    """One decimal, but 100.0 only when nothing failed (99.96 shows 99.9: not perfect)."""
    if value is None:
        return None
    shown = round(value, 1)
    return 99.9 if shown >= 100.0 > value else shown


def weighted(parts: Mapping[str, float | None], weights: QualityWeights) -> Score:
    """The total over the dimensions that have a score (their weights shared out)."""
    have = [(weights.weight(d), parts[d]) for d in DIMENSIONS if parts.get(d) is not None]
    weight = sum(w for w, _ in have)
    total = sum(w * v for w, v in have) / weight if weight > 0 else 0.0  # type: ignore[operator]
    return Score(*(_round(parts.get(d)) for d in DIMENSIONS), total=_round(total) or 0.0)


def from_results(results: Iterable[tuple[str, int, int]], weights: QualityWeights) -> Score | None:
    """(dimension, checked, failed) of one run's rules -> the score; None when no rule checked
    anything."""
    by_dim: dict[str, list[float]] = defaultdict(list)
    for dimension, checked, failed in results:
        if checked > 0:
            by_dim[dimension].append(100.0 * (1.0 - min(failed, checked) / checked))
    if not by_dim:
        return None
    return weighted({d: sum(v) / len(v) for d, v in by_dim.items()}, weights)


def overdue_since(cycle: str, last_update: datetime | None,
                  weights: QualityWeights) -> datetime | None:
    """When an update became due, None when the cycle allows no overdue (irregular) or the
    content is fresh; a never collected dataset is due since the beginning (datetime.min)."""
    days = weights.cycle_days.get(cycle)  # type: ignore[call-overload]
    if days is None:
        return None
    if last_update is None:
        return datetime.min.replace(tzinfo=UTC)
    return last_update + timedelta(days=days)


def from_record(record: Record, weights: QualityWeights, as_of: datetime) -> Score:
    items = weights.record_items
    completeness = 100.0 * sum(bool(record.items.get(i)) for i in items) / len(items)
    due = overdue_since(record.update_cycle, record.last_update, weights)
    timeliness = None if record.update_cycle == "irregular" else (
        100.0 if due is not None and due > as_of else 0.0)
    return weighted({"completeness": completeness, "timeliness": timeliness}, weights)


def department_means(scores: Mapping[str, Sequence[Score]]) -> list[tuple[str, Score, int, int]]:
    """department -> its datasets' scores => [(department, mean score, datasets, rank)], best
    first (ties by code)."""
    rows = []
    for code, items in scores.items():
        parts: dict[str, float | None] = {}
        for d in (*DIMENSIONS, "total"):
            values = [getattr(s, d) for s in items if getattr(s, d) is not None]
            parts[d] = sum(values) / len(values) if values else None
        mean = Score(*(_round(parts[d]) for d in DIMENSIONS),
                     total=round(parts["total"] or 0.0, 1))
        rows.append((code, mean, len(items)))
    rows.sort(key=lambda r: (-r[1].total, r[0]))
    return [(code, mean, n, rank) for rank, (code, mean, n) in enumerate(rows, start=1)]


# -- the database --------------------------------------------------------------------------------

_RESULTS = sa.text("""
WITH latest AS (
  SELECT DISTINCT ON (q.dataset_id) q.id, q.dataset_id FROM quality_runs q
  WHERE q.started_at < :cutoff AND EXISTS (SELECT 1 FROM quality_results x WHERE x.run_id = q.id)
  ORDER BY q.dataset_id, q.started_at DESC, q.id DESC)
SELECT l.dataset_id, r.dimension, res.checked, res.failed
FROM latest l JOIN quality_results res ON res.run_id = l.id
JOIN quality_rules r ON r.id = res.rule_id""")

_RECORDS = sa.text("""
SELECT d.id, d.department_code, d.update_cycle, d.summary, d.resource_format, d.share_condition,
  d.share_method, d.published_on, d.keywords, d.class_code, d.name_en,
  EXISTS (SELECT 1 FROM dataset_fields f WHERE f.dataset_id = d.id) AS has_fields,
  greatest((SELECT max(v.created_at) FROM dataset_versions v WHERE v.dataset_id = d.id
            AND v.status = 'accepted' AND v.created_at < :cutoff),
           CASE WHEN d.last_updated_at < :cutoff THEN d.last_updated_at END) AS last_update
FROM datasets d WHERE d.created_at < :cutoff""")


def _filled(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | tuple):
        return len(value) > 0
    return value is not None


def _record(row: Any) -> Record:
    items = {name: _filled(getattr(row, name)) for name in
             ("summary", "resource_format", "share_condition", "share_method", "published_on",
              "keywords", "class_code", "name_en", "update_cycle")}
    items["fields"] = bool(row.has_fields)
    return Record(items, row.update_cycle, row.last_update)


def day_end(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, TZ)


def compute(conn: sa.Connection, day: date,
            weights: QualityWeights) -> tuple[dict[str, Score], dict[str, str]]:
    """Every catalogued dataset's score as of the end of `day` (or now, for today), from the
    stored runs and records only: ({dataset: score}, {dataset: department})."""
    cutoff = min(day_end(day), datetime.now(UTC))
    results: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    for row in conn.execute(_RESULTS, {"cutoff": cutoff}):
        results[row.dataset_id].append((row.dimension, row.checked, row.failed))
    scores: dict[str, Score] = {}
    departments: dict[str, str] = {}
    for row in conn.execute(_RECORDS, {"cutoff": cutoff}):
        departments[row.id] = row.department_code
        ruled = from_results(results.get(row.id, ()), weights)
        scores[row.id] = ruled or from_record(_record(row), weights, cutoff)
    return scores, departments


_UPSERT_DATASET = sa.text("""
INSERT INTO quality_scores (dataset_id, day, completeness, validity, consistency, timeliness,
  geometry, total) VALUES (:id, :day, :completeness, :validity, :consistency, :timeliness,
  :geometry, :total)
ON CONFLICT (dataset_id, day) DO UPDATE SET completeness = EXCLUDED.completeness,
  validity = EXCLUDED.validity, consistency = EXCLUDED.consistency,
  timeliness = EXCLUDED.timeliness, geometry = EXCLUDED.geometry, total = EXCLUDED.total""")
_UPSERT_DEPARTMENT = sa.text("""
INSERT INTO department_scores (department_code, day, completeness, validity, consistency,
  timeliness, geometry, total, datasets, rank) VALUES (:code, :day, :completeness, :validity,
  :consistency, :timeliness, :geometry, :total, :datasets, :rank)
ON CONFLICT (department_code, day) DO UPDATE SET completeness = EXCLUDED.completeness,
  validity = EXCLUDED.validity, consistency = EXCLUDED.consistency,
  timeliness = EXCLUDED.timeliness, geometry = EXCLUDED.geometry, total = EXCLUDED.total,
  datasets = EXCLUDED.datasets, rank = EXCLUDED.rank""")


def score_all(engine: sa.Engine, day: date | None = None,
              weights: QualityWeights | None = None) -> dict[str, int]:
    """Score every dataset and department for `day` (today, county time, by default) and store
    them (re-scoring a day replaces it). Blocking; call after quality runs and once a day."""
    if weights is None:
        from backend.settings import get_settings

        weights = quality_weights(get_settings().catalog_dir)
    day = day or datetime.now(TZ).date()
    with engine.begin() as conn:
        scores, departments = compute(conn, day, weights)
        if scores:
            conn.execute(_UPSERT_DATASET, [{"id": d, "day": day, **s.as_dict()}
                                           for d, s in scores.items()])
        grouped: dict[str, list[Score]] = defaultdict(list)
        for dataset_id, score in scores.items():
            grouped[departments[dataset_id]].append(score)
        ranked = department_means(grouped)
        conn.execute(sa.text("DELETE FROM department_scores WHERE day = :day"), {"day": day})
        if ranked:
            conn.execute(_UPSERT_DEPARTMENT, [
                {"code": code, "day": day, "datasets": n, "rank": rank, **mean.as_dict()}
                for code, mean, n, rank in ranked])
    return {"datasets": len(scores), "departments": len(ranked)}


def backfill(engine: sa.Engine, days: int, weights: QualityWeights | None = None) -> int:
    """Recompute the past `days` days from the stored runs and versions only (no invented
    numbers: a day before any run scores the catalogue records as they were). Days before the
    first stored run are skipped. Returns the days written."""
    with engine.connect() as conn:
        first = conn.execute(sa.text("SELECT min(started_at) FROM quality_runs")).scalar()
    if first is None:
        return 0
    today = datetime.now(TZ).date()
    start = max(today - timedelta(days=days), first.astimezone(TZ).date())
    written = 0
    while start <= today:
        score_all(engine, start, weights)
        start += timedelta(days=1)
        written += 1
    return written


# -- reads ---------------------------------------------------------------------------------------

def _score_json(row: Any) -> dict[str, Any]:
    return {"day": row.day.isoformat(), **{d: getattr(row, d) for d in (*DIMENSIONS, "total")}}


def dataset_scores(conn: sa.Connection, dataset_id: str, days: int) -> dict[str, Any]:
    """{dataset_id, latest, trend}: the stored days of the last `days` days, oldest first."""
    since = datetime.now(TZ).date() - timedelta(days=days - 1)
    rows = conn.execute(sa.text(
        "SELECT day, completeness, validity, consistency, timeliness, geometry, total "
        "FROM quality_scores WHERE dataset_id = :d AND day >= :since ORDER BY day"),
        {"d": dataset_id, "since": since}).all()
    latest = conn.execute(sa.text(
        "SELECT day, completeness, validity, consistency, timeliness, geometry, total "
        "FROM quality_scores WHERE dataset_id = :d ORDER BY day DESC LIMIT 1"),
        {"d": dataset_id}).first()
    return {"dataset_id": dataset_id, "latest": None if latest is None else _score_json(latest),
            "trend": [_score_json(r) for r in rows]}


def latest_department_scores(conn: sa.Connection) -> dict[str, dict[str, Any]]:
    """code -> {day, sub-scores, total, datasets, rank} of the latest scored day."""
    rows = conn.execute(sa.text(
        "SELECT department_code, day, completeness, validity, consistency, timeliness, geometry,"
        " total, datasets, rank FROM department_scores "
        "WHERE day = (SELECT max(day) FROM department_scores)")).all()
    return {r.department_code: {**_score_json(r), "datasets": r.datasets, "rank": r.rank}
            for r in rows}
