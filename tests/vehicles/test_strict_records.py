"""Issue 8, defect 6: malformed GPS values were stored (altitude NaN/Infinity/1e308,
`"lon": true`, numeric strings, vehicle ids with tabs, newlines or NUL). Machine input is typed
strictly now: in a batch each bad record is refused with its index and the field, the good
ones are stored, and every refusal is counted by source and reason."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.ingest.position import Position
from backend.ingest.validate import reject_reason
from tests.conftest import TEST_INGEST_TOKEN

AUTH = {"Authorization": f"Bearer {TEST_INGEST_TOKEN}", "Content-Type": "application/json"}


@pytest.fixture()
def run_id(engine: sa.Engine) -> Iterator[str]:
    run = f"strict-{uuid.uuid4().hex[:8]}"
    yield run
    with engine.begin() as conn:
        for table in ("vehicle_positions", "vehicle_latest", "vehicle_alarms"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE vehicle_id LIKE :p"),  # noqa: S608
                         {"p": f"{run}%"})


def record(vid: str, seconds: int = 0) -> str:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    t = (now + timedelta(seconds=seconds)).isoformat()
    return f'"vehicle_id": {json.dumps(vid)}, "time": "{t}", "lat": 33.48'


def test_a_batch_keeps_its_good_records_and_names_each_bad_one(
    client: TestClient, engine: sa.Engine, run_id: str
) -> None:
    good = run_id
    # Written by hand: NaN and Infinity are what a careless sender's json.dumps emits.
    bad_values = [
        ('"lon": 117.88, "altitude_m": NaN', "altitude_m"),
        ('"lon": 117.88, "altitude_m": Infinity', "altitude_m"),
        ('"lon": 117.88, "speed_kmh": -Infinity', "speed_kmh"),
        ('"lon": true', "lon"),
        ('"lon": "117.88"', "lon"),
        ('"lon": 117.88, "heading_deg": "90"', "heading_deg"),
        ('"lon": 117.88, "alarm_flags": true', "alarm_flags"),
    ]
    lines = [f'{{{record(good, 0)}, "lon": 117.88}}']
    lines += [f"{{{record(good, i + 1)}, {body}}}" for i, (body, _) in enumerate(bad_values)]
    bad_ids = [f"{run_id}{c}x" for c in ("\t", "\n", "\u0000", " ", "\u202e")]
    lines += [f'{{{record(v, 20)}, "lon": 117.88}}' for v in bad_ids]
    lines += [f'{{{record(good, 30)}, "lon": 117.88, "altitude_m": 1e308}}',  # finite, absurd
              f'{{{record(good, 40)}, "lon": 117.88, "altitude_m": 35.5}}']
    body = '{"positions": [' + ", ".join(lines) + "]}"
    response = client.post("/api/ingest/positions", content=body.encode(), headers=AUTH)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["received"] == len(lines) and answer["accepted"] == 2
    rejected = {r["index"]: r["reason"] for r in answer["rejected"]}
    expected = {i + 1: field for i, (_, field) in enumerate(bad_values)}
    expected |= {len(bad_values) + 1 + k: "vehicle_id" for k in range(len(bad_ids))}
    assert {i: r.split(":")[0] for i, r in rejected.items() if i in expected} == expected
    assert rejected[len(lines) - 2] == "altitude_out_of_range"
    # The refusal names the field, never echoes the value.
    assert not any("117.88" in r or "\t" in r or "\x00" in r for r in rejected.values())
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT vehicle_id, altitude_m FROM vehicle_positions WHERE vehicle_id LIKE :p "
            "ORDER BY time"), {"p": f"{run_id}%"}).all()
    assert [tuple(r) for r in rows] == [(good, None), (good, 35.5)]
    rejects = client.app.state.resources.positions.rejects
    assert rejects[("http", "invalid:altitude_m")] >= 2
    assert rejects[("http", "invalid:vehicle_id")] >= len(bad_ids)
    assert rejects[("http", "altitude_out_of_range")] >= 1


def test_odd_times_and_unknown_fields_are_refused_per_record(
    client: TestClient, engine: sa.Engine, run_id: str
) -> None:
    now = (datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)).isoformat()
    base = {"vehicle_id": run_id, "lon": 117.88, "lat": 33.48}
    records = [
        {**base, "time": now},
        {**base, "time": "9999-12-31T23:59:59-10:00"},   # overflows when made UTC
        {**base, "time": "0001-01-01T00:00:00+10:00"},
        {**base, "time": 1764806400},                     # a number is not an ISO time
        {**base, "time": "2026-01-01T00:00:00"},          # no offset
        {**base, "time": "2026-01-01T00:00:00+16:00"},    # beyond the +-15:59 of any place
        {**base, "time": now, "note\n\u0000" * 20: 1},     # an unknown (hostile) field name
        "not a record",
    ]
    response = client.post("/api/ingest/positions", json={"positions": records},
                           headers={"Authorization": AUTH["Authorization"]})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["accepted"] == 1
    reasons = [r["reason"] for r in answer["rejected"]]
    assert [r["index"] for r in answer["rejected"]] == [1, 2, 3, 4, 5, 6, 7]
    assert [r.split(":")[0] for r in reasons] == ["time"] * 5 + ["record"] * 2
    assert "15:59" in reasons[4]
    assert "unknown field" in reasons[5] and len(reasons[5]) < 200
    rejects = client.app.state.resources.positions.rejects
    assert rejects[("http", "invalid:time")] >= 5 and rejects[("http", "invalid:record")] >= 2


def test_the_one_validator_refuses_what_any_feed_could_build() -> None:
    """JT/T 808 and scenario positions never pass the JSON schema: the pipeline's validator
    checks ids, finiteness and ranges for them too."""
    now = datetime.now(UTC)
    ok = Position("bus-1", now, 117.88, 33.48, speed_kmh=20.0, heading_deg=90.0, altitude_m=30.0)
    assert reject_reason(ok, now) is None
    cases = {
        "bad_vehicle_id": dict(vehicle_id="bus\u00001"),
        "altitude_out_of_range": dict(altitude_m=65535.0),
        "speed_out_of_range": dict(speed_kmh=float("nan")),
        "heading_out_of_range": dict(heading_deg=float("inf")),
        "coordinates_not_finite": dict(lon=float("nan")),
        "flags_out_of_range": dict(alarm_flags=1 << 40),
    }
    for reason, change in cases.items():
        p = Position(**{**{f: getattr(ok, f) for f in ok.__slots__}, **change})  # type: ignore[arg-type]
        assert reject_reason(p, now) == reason, change
