"""Where cameras are missing (issue 11, part 7): per grid cell, the road length inside the
cell and the part of it inside at least one online camera's clipped view, in PostGIS. Roads are
clipped to each cell (GiST on roads), the views that touch those roads (GiST on camera_views)
are unioned once per cell, and lengths are geodesic metres."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from backend.cameras.models import camera_coverage

ONLINE, VIEW_OK = "online", "ok"

# :codes null: every cell. First the cells' old figures go, then (same transaction) the new.
_DROP = ("DELETE FROM camera_coverage WHERE CAST(:codes AS text[]) IS NULL OR "
         "grid_code = ANY(CAST(:codes AS text[]))")
_CELLS = """
WITH cell AS (
  SELECT grid_code, geom FROM grid_cells
  WHERE CAST(:codes AS text[]) IS NULL OR grid_code = ANY(CAST(:codes AS text[]))
)
INSERT INTO camera_coverage (grid_code, road_m, covered_m, share, cameras, computed_at)
SELECT cell.grid_code, coalesce(r.road_m, 0), coalesce(v.covered_m, 0),
       CASE WHEN r.road_m > 0 THEN least(1.0, coalesce(v.covered_m, 0) / r.road_m) END,
       coalesce(u.n, 0), now()
FROM cell
CROSS JOIN LATERAL (
  SELECT ST_CollectionExtract(ST_Collect(ST_CollectionExtract(
           ST_Intersection(rd.geom, cell.geom), 2)), 2) AS lines
  FROM roads rd WHERE rd.geom && cell.geom AND ST_Intersects(rd.geom, cell.geom)
) l
CROSS JOIN LATERAL (SELECT ST_Length(l.lines::geography) AS road_m) r
CROSS JOIN LATERAL (
  SELECT ST_Union(cv.geom) AS views, count(DISTINCT cv.camera_id) AS n
  FROM camera_views cv JOIN cameras c ON c.id = cv.camera_id
  WHERE l.lines IS NOT NULL AND cv.status = :ok AND c.status = :online
    AND cv.geom && l.lines AND ST_Intersects(cv.geom, l.lines)
) u
CROSS JOIN LATERAL (
  SELECT CASE WHEN u.views IS NULL THEN 0
              ELSE ST_Length(ST_Intersection(l.lines, u.views)::geography) END AS covered_m
) v
"""


@dataclass(frozen=True)
class CoverageRun:
    cells: int
    road_km: float
    covered_km: float
    duration_s: float

    @property
    def share(self) -> float | None:
        return self.covered_km / self.road_km if self.road_km else None

    def summary(self) -> str:
        share = f"{self.share:.1%}" if self.share is not None else "n/a"
        return (f"coverage: {self.cells} grid cells, roads {self.road_km:,.1f} km, inside an "
                f"online camera's view {self.covered_km:,.1f} km ({share}), "
                f"{self.duration_s:.1f} s")


def recompute_coverage(engine: sa.Engine, grid_codes: Sequence[str] | None = None
                       ) -> CoverageRun:
    """Recompute every cell, or only `grid_codes` (e.g. the cells a changed view touches)."""
    started = time.perf_counter()
    codes = list(grid_codes) if grid_codes is not None else None
    with engine.begin() as conn:
        # one writer at a time (the server's check, the command, another process): two
        # delete-then-insert runs at once would collide on the cells' keys
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('cityops.camera_coverage'))"))
        conn.execute(sa.text(_DROP), {"codes": codes})
        conn.execute(sa.text(_CELLS), {"codes": codes, "ok": VIEW_OK, "online": ONLINE})
        c = camera_coverage.c
        q = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(c.road_m), 0),
                      sa.func.coalesce(sa.func.sum(c.covered_m), 0))
        if codes is not None:
            q = q.where(c.grid_code.in_(codes))
        n, road, covered = conn.execute(q).one()
    return CoverageRun(int(n), float(road) / 1e3, float(covered) / 1e3,
                       round(time.perf_counter() - started, 3))


STALE_SQL = """
SELECT NOT EXISTS (SELECT 1 FROM camera_coverage)
    OR (SELECT max(computed_at) FROM camera_views) > (SELECT min(computed_at) FROM camera_coverage)
    OR (SELECT max(status_changed_at) FROM cameras)
       > (SELECT min(computed_at) FROM camera_coverage)"""


def coverage_stale(conn: sa.Connection) -> bool:
    """Whether a view was computed or a camera changed status since the coverage was: the
    server's periodic check then recomputes it (a full county takes about 2 s)."""
    has_cells = conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM grid_cells)")).scalar_one()
    return bool(has_cells and conn.execute(sa.text(STALE_SQL)).scalar_one())


def cells_touching_views(conn: sa.Connection, camera_ids: Sequence[int]) -> list[str]:
    """The grid cells a camera's views touch: recompute these after its views change (the
    cells its old views touched are found the same way before the change)."""
    return list(conn.execute(sa.text(
        "SELECT DISTINCT g.grid_code FROM grid_cells g JOIN camera_views cv "
        "ON cv.geom && g.geom AND ST_Intersects(cv.geom, g.geom) "
        "WHERE cv.camera_id = ANY(:ids) ORDER BY 1"), {"ids": list(camera_ids)}).scalars())


def coverage_table(conn: sa.Connection) -> list[dict[str, object]]:
    """Every computed cell, the least covered first (cells without roads last)."""
    rows = conn.execute(sa.text(
        "SELECT c.grid_code, g.name, g.township_name, c.road_m, c.covered_m, c.share, "
        "c.cameras, c.computed_at FROM camera_coverage c JOIN grid_cells g "
        "ON g.grid_code = c.grid_code ORDER BY c.share ASC NULLS LAST, c.road_m DESC, "
        "c.grid_code"))
    return [dict(r._mapping) for r in rows]
