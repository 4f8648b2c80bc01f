"""KPI values against hand-computed fixtures, the area cuts, a failing and a slow card, and
staleness, on the session's PostGIS (the datasets written through the version store)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from backend.domains.area import Area, parse_bbox, parse_polygon
from backend.domains.service import compute_figures
from tests.domains.fixtures import TZ, Places, flow, hours_back, make_view, places, spots, written

TIMEOUT = 400  # ms: the slow card sleeps 1 s


@pytest.fixture(scope="module")
def data(engine: sa.Engine, client) -> Iterator[tuple[Places, int]]:  # noqa: ANN001
    """The fixture rows; `client` has started the app once (the catalog's records exist).
    Yields the places and n, the number of today's hours among the flow's 30."""
    p = places(engine)
    now = datetime.now(TZ)
    with engine.connect() as conn:
        rows = spots(conn, p)
    with written(engine, {"scenic_spots": rows, "visitor_flow": flow(p, now)}):
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        yield p, sum(1 for h in hours_back(now, 30) if h >= midnight)


def _figures(engine: sa.Engine, area: Area | None) -> dict[str, dict]:
    out = compute_figures(engine, make_view(), area, timeout_ms=TIMEOUT)
    return {c["id"]: c for c in out["cards"]} | {f"chart:{c['id']}": c for c in out["charts"]}


def test_county_figures(engine: sa.Engine, data: tuple[Places, int]) -> None:
    _, n = data
    f = _figures(engine, None)
    assert f["spots"]["value"] == 3
    cap = f["capacity"]
    assert (cap["value"], cap["reference"], cap["change"]) == (3500, 3000, 500)
    assert cap["change_pct"] == pytest.approx(500 / 3000 * 100)
    assert (cap["direction"], cap["level"]) == ("up", "ok")
    today = f["visitors_today"]
    assert today["value"] == 110 * n
    assert today["reference"] is None  # a county reference means nothing county-wide
    day = f["visitors_day"]
    assert (day["value"], day["reference"], day["change"]) == (24 * 110, 6 * 110, 18 * 110)
    assert day["direction"] == "up" and day["change_pct"] == pytest.approx(300)
    assert all(c["filtered"] is False for k, c in f.items() if not k.startswith("chart:"))
    assert f["chart:by_kind"]["rows"] == [{"label": "景区", "value": 2, "series": None},
                                          {"label": "博物馆", "value": 1, "series": None}]


def test_as_of_and_staleness(engine: sa.Engine, data: tuple[Places, int]) -> None:
    f = _figures(engine, None)
    top = hours_back(datetime.now(TZ), 1)[0]  # the newest hour's record
    assert datetime.fromisoformat(f["visitors_today"]["as_of"]) == top + timedelta(hours=1)
    assert f["visitors_today"]["stale_after_s"] == 30 * 60  # visitor_flow is realtime
    assert f["spots"]["stale_after_s"] == 370 * 86400          # scenic_spots is yearly
    assert f["spots"]["as_of"] is not None                     # the dataset's last update
    assert (f["old"]["stale"], f["recent"]["stale"]) == (True, False)


def test_a_failing_or_slow_card_leaves_the_others(engine: sa.Engine,
                                                  data: tuple[Places, int],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="cityops.domains"):
        f = _figures(engine, None)
    broken, slow = f["broken"], f["slow"]
    assert (broken["available"], slow["available"]) == (False, False)
    assert "failed" in broken["reason"] and "long" in slow["reason"]
    assert "division" not in broken["reason"]  # the SQL error goes to the log only
    assert "kpis.4.sql" in caplog.text and "division by zero" in caplog.text
    assert "kpis.5.sql" in caplog.text and "timed out" in caplog.text
    assert f["spots"]["available"] and f["old"]["available"]


def test_a_township_cuts_points_and_rows_by_code(engine: sa.Engine,
                                                 data: tuple[Places, int]) -> None:
    p, n = data
    f = _figures(engine, Area("township", code=p.t1))
    assert (f["spots"]["value"], f["capacity"]["value"]) == (2, 1500)
    assert f["capacity"]["level"] == "warn"  # 1500 <= warn 2000, better up
    today = f["visitors_today"]
    assert (today["value"], today["reference"]) == (10 * n, 110 * n)  # county reference
    assert today["direction"] == "down"
    assert f["visitors_day"]["value"] == 240
    assert all(f[k]["filtered"] for k in ("spots", "capacity", "visitors_today"))


def test_a_grid_cell_cuts_geometry_only(engine: sa.Engine, data: tuple[Places, int]) -> None:
    p, n = data
    f = _figures(engine, Area("grid", code=p.grid))
    assert (f["spots"]["value"], f["spots"]["filtered"]) == (1, True)
    # visitor_flow has no geometry: a grid cell cannot cut it; the county's figure, said so
    assert (f["visitors_today"]["value"], f["visitors_today"]["filtered"]) == (110 * n, False)


def test_a_bbox_and_a_polygon(engine: sa.Engine, data: tuple[Places, int]) -> None:
    p, n = data
    x, y = p.c
    f = _figures(engine, parse_bbox(f"{x - 0.001},{y - 0.001},{x + 0.001},{y + 0.001}"))
    assert f["spots"]["value"] == 1
    # C lies on its township's inner point: the flow of that township is inside the box
    assert (f["visitors_today"]["value"], f["visitors_today"]["filtered"]) == (100 * n, True)
    x, y = p.a
    d = 0.0005
    square = [[x - d, y - d], [x + d, y - d], [x + d, y + d], [x - d, y + d], [x - d, y - d]]
    f = _figures(engine, parse_polygon({"type": "Polygon", "coordinates": [square]}))
    assert (f["spots"]["value"], f["capacity"]["value"]) == (1, 1000)
    assert f["chart:by_kind"]["rows"] == [{"label": "景区", "value": 1, "series": None}]
    assert f["chart:by_kind"]["filtered"] is True
