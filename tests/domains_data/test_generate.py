"""The domain datasets as generated (no load): the same seed and clock give the same files,
every value fits its field (values, range, type, required), keys are unique, every place lies
inside its township, and the figures agree with each other."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import shapely
import sqlalchemy as sa

from backend.catalog.dataset_content import ContentField
from backend.simulation.domain_data import BUILDERS, domain_entries, file_bytes, generate
from backend.simulation.domain_places import TZ, Table
from tests.domains_data.conftest import NOW, SCALE, SEED

ENTRIES = {e.id: e for e in domain_entries()}


def digests(tables: dict[str, Table]) -> dict[str, str]:
    return {k: hashlib.sha256(file_bytes(ENTRIES[k], t)[1]).hexdigest()
            for k, t in tables.items()}


def test_same_seed_and_clock_same_files_another_seed_other_files(
        engine: sa.Engine, tables: dict[str, Table]) -> None:
    assert list(tables) == list(BUILDERS) and len(tables) == 19
    with engine.connect() as conn:
        again = generate(conn, seed=SEED, now=NOW, scale=SCALE)
        other = generate(conn, seed=SEED + 1, now=NOW, scale=SCALE)
        alone = generate(conn, seed=SEED, now=NOW, scale=SCALE, only=["weather_conditions",
                                                                       "service_cases"])
    first = digests(tables)
    assert digests(again) == first
    assert digests(alone) == {k: first[k] for k in alone}  # one dataset regenerated alone
    assert sum(a != b for a, b in zip(digests(other).values(), first.values(),
                                      strict=True)) >= 17  # the few fixed lists aside


def check_value(f: ContentField, v: object) -> str | None:
    if v is None:
        return "required" if f.required else None
    kinds = {"string": str, "integer": int, "number": (int, float), "boolean": bool}
    if f.type in kinds and (not isinstance(v, kinds[f.type]) or
                            (f.type != "boolean" and isinstance(v, bool))):
        return f"type {type(v).__name__}"
    if f.type == "date":
        date.fromisoformat(str(v))
    if f.type == "datetime" and datetime.fromisoformat(str(v)).utcoffset() is None:
        return "no time zone"
    if f.values is not None and v not in f.values:
        return "not in values"
    if f.range is not None and not f.range[0] <= float(v) <= f.range[1]:  # type: ignore[arg-type]
        return "out of range"
    return None


def test_every_value_fits_its_field_and_keys_are_unique(tables: dict[str, Table]) -> None:
    towns = Path("scenarios/sixian/sixian_townships_nbs2023.csv").read_text(encoding="utf-8")
    codes = {r.split(",")[0] for r in towns.splitlines()[1:]}
    for dataset_id, table in tables.items():
        entry = ENTRIES[dataset_id]
        assert table.rows, dataset_id
        assert (table.geoms is not None) == (entry.geometry is not None), dataset_id
        names = [f.name for f in entry.fields]
        bad = [(dataset_id, r.get(entry.key), f.name, r[f.name], why)
               for r in table.rows for f in entry.fields
               if (why := check_value(f, r[f.name])) is not None]
        assert not bad, bad[:5]
        assert all(list(r) == names for r in table.rows), dataset_id
        keys = Counter(r[entry.key] for r in table.rows)
        assert keys.most_common(1)[0][1] == 1, (dataset_id, keys.most_common(2))
        if "township_code" in names:
            assert {r["township_code"] for r in table.rows} <= codes, dataset_id


def test_every_place_lies_inside_its_township(engine: sa.Engine,
                                              tables: dict[str, Table]) -> None:
    with engine.connect() as conn:
        towns = {c: shapely.from_wkb(bytes(w)) for c, w in conn.execute(sa.text(
            "SELECT code, ST_AsBinary(geom) FROM townships"))}
    for dataset_id, table in tables.items():
        if table.geoms is None:
            continue
        outside = [r[ENTRIES[dataset_id].key] for r, geom in zip(table.rows, table.geoms,
                                                                  strict=True)
                   if not towns[r["township_code"]].buffer(1e-9).covers(geom)
                   or not shapely.is_valid(geom)]
        assert not outside, (dataset_id, outside[:5])


def test_housing_units_total_presold_sold_registered(tables: dict[str, Table]) -> None:
    buildings = tables["housing_buildings"].rows
    projects = {p["project_id"] for p in tables["housing_projects"].rows}
    assert all(b["units_total"] >= b["units_presold"] >= b["units_sold"] >=
               b["units_registered"] >= 0 for b in buildings)
    assert {b["project_id"] for b in buildings} == projects
    permitted = [b for b in buildings if b["presale_permit"]]
    assert all(b["presale_permit"].startswith("泗房预售证第") and b["permit_date"]
               for b in permitted)
    assert all(b["units_presold"] == 0 for b in buildings if not b["presale_permit"])
    assert all(4500 <= b["avg_price"] <= 9500 for b in buildings if b["avg_price"])


def test_relocation_counts_are_the_households_by_stage(tables: dict[str, Table]) -> None:
    by_project: dict[str, Counter[str]] = defaultdict(Counter)
    houses = tables["relocation_households"]
    areas = {p["project_id"]: g for p, g in zip(tables["relocation_projects"].rows,
                                               tables["relocation_projects"].geoms or [],
                                               strict=True)}
    for h, point in zip(houses.rows, houses.geoms or [], strict=True):
        by_project[h["project_id"]][h["stage"]] += 1
        assert areas[h["project_id"]].covers(point), h["household_id"]
        assert (h["signed_on"] is None) == (h["stage"] == "未签约")
    for p in tables["relocation_projects"].rows:
        c = by_project[p["project_id"]]
        assert p["households_total"] == sum(c.values())
        assert p["households_signed"] == c["已签约"] + c["已腾空"] + c["已拆除"]
        assert p["households_vacated"] == c["已腾空"] + c["已拆除"]
        assert p["households_demolished"] == c["已拆除"]
        assert p["resettlement_units_delivered"] <= p["resettlement_units_planned"]
    polygons = list(areas.values())
    assert not any(a.intersects(b) for i, a in enumerate(polygons) for b in polygons[i + 1:])


def test_land_confirmed_within_contracted_and_transfers_within_the_land(
        tables: dict[str, Table]) -> None:
    rights = {r["village_code"]: r for r in tables["village_land_rights"].rows}
    assert all(r["confirmed_area_mu"] <= r["contracted_area_mu"] and
               r["certificates_issued"] <= r["contracting_households"] for r in rights.values())
    moved: Counter[str] = Counter()
    for t in tables["land_transfers"].rows:
        assert rights[t["village_code"]]["township_code"] == t["township_code"]
        moved[t["village_code"]] += t["area_mu"]
    assert all(moved[v] <= rights[v]["confirmed_area_mu"] for v in moved)


def test_the_clock_bounds_the_series(tables: dict[str, Table]) -> None:
    now = NOW
    cases = tables["service_cases"].rows
    assert all(datetime.fromisoformat(c["received_at"]) <= now for c in cases)
    assert all(datetime.fromisoformat(c["due_at"]) > datetime.fromisoformat(c["received_at"])
               for c in cases)
    assert all(datetime.fromisoformat(c["finished_at"]) <= now for c in cases
               if c["finished_at"])
    assert all(c["rating"] is None for c in cases if c["finished_at"] is None)
    flow = tables["visitor_flow"].rows
    spots = len(tables["scenic_spots"].rows)
    assert len(flow) == spots * 30 * 24
    assert max(datetime.fromisoformat(f["hour"]) for f in flow) == now.replace(
        minute=0, second=0)
    weather = tables["weather_conditions"].rows
    assert {w["observed_at"] for w in weather} == {"2026-12-06T09:00:00+08:00"}
    assert len({w["township_code"] for w in weather}) == len(weather) == 19
    assert 0 <= len(tables["weather_warnings"].rows) <= 3
    for w in tables["weather_warnings"].rows:
        assert datetime.fromisoformat(w["issued_at"]) <= now < datetime.fromisoformat(
            w["expires_at"])
    shifts = tables["duty_roster"].rows
    on_duty = [s for s in shifts if datetime.fromisoformat(s["starts_at"]) <= now <
               datetime.fromisoformat(s["ends_at"])]
    assert sorted(s["post"] for s in on_duty) == ["值班员", "值班员", "值班长", "带班领导"]
    assert len(shifts) == 30 * 2 * 4
    events = tables["cultural_events"].rows
    assert any(e["starts_at"].startswith("2026-12-06") for e in events)
    prices = tables["staple_prices"].rows
    assert {p["observed_on"] for p in prices} == {
        (now.date() - timedelta(days=d)).isoformat() for d in range(30)}


@pytest.fixture(scope="module")
def full_cases(engine: sa.Engine, county: dict[str, int]) -> list[dict]:
    with engine.connect() as conn:
        return generate(conn, seed=SEED, now=NOW, only=["service_cases"])["service_cases"].rows


def test_service_cases_at_scale_one_have_the_offices_rhythm(full_cases: list[dict]) -> None:
    n = len(full_cases)
    assert 18_000 <= n <= 22_000
    received = [datetime.fromisoformat(c["received_at"]).astimezone(TZ) for c in full_cases]
    assert min(received) >= NOW - timedelta(days=60)
    weekday = Counter(r.weekday() for r in received)
    assert weekday[2] > 4 * weekday[6]  # a Wednesday is far busier than a Sunday
    window = [r for r, c in zip(received, full_cases, strict=True) if c["channel"] == "窗口"]
    office = [r for r in window if (8, 30) <= (r.hour, r.minute) < (12, 0)
              or (14, 0) <= (r.hour, r.minute) < (17, 30)]
    assert len(office) == len(window)  # the halls' office hours
    online = sum(c["channel"] in ("网上", "掌上") for c in full_cases) / n
    assert 0.4 <= online <= 0.6
    done = [c for c in full_cases if c["finished_at"]]
    on_time = sum(c["finished_at"] <= c["due_at"] for c in done) / len(done)
    assert 0.95 <= on_time <= 0.99
    overdue_open = [c for c in full_cases if c["finished_at"] is None and
                    datetime.fromisoformat(c["due_at"]) < NOW]
    assert overdue_open
    rated = Counter(c["rating"] for c in done if c["rating"])
    good = rated["非常满意"] + rated["满意"] + rated["基本满意"]
    assert good / sum(rated.values()) >= 0.985
    today = [r for r in received if r.date() == NOW.date()]
    assert today and max(today) <= NOW


def test_a_later_clock_adds_cases_and_visitors_and_never_redraws_the_past(
        engine: sa.Engine, tables: dict[str, Table], full_cases: list[dict]) -> None:
    """What the live loop relies on: two hours later the same cases (the open ones maybe
    finished since), more of them, and the same hourly visitors before the earlier hour."""
    later = NOW + timedelta(hours=2, minutes=5)
    with engine.connect() as conn:
        moved = generate(conn, seed=SEED, now=later, only=["service_cases"])
        moved |= generate(conn, seed=SEED, now=later, scale=SCALE, only=["visitor_flow"])
    before = {c["case_no"]: c for c in full_cases}
    after = {c["case_no"]: c for c in moved["service_cases"].rows}
    assert set(before) < set(after)
    for key, case in before.items():
        if case["finished_at"] is None:
            case = {**case, "finished_at": after[key]["finished_at"],
                    "rating": after[key]["rating"]}
        assert after[key] == case, key
    assert any(c["finished_at"] is None and after[k]["finished_at"] for k, c in before.items())
    flow = {f["record_id"]: f["visitors"] for f in moved["visitor_flow"].rows}
    cut = NOW.replace(minute=0, second=0)
    earlier = [f for f in tables["visitor_flow"].rows
               if datetime.fromisoformat(f["hour"]) < cut and f["record_id"] in flow]
    assert earlier and all(flow[f["record_id"]] == f["visitors"] for f in earlier)
