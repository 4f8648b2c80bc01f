"""Values and places of the demo's generated content (backend.simulation.dataset_content):
valid citizen IDs (GB 11643, stdnum.cn.ric) and unified social credit codes (GB 32100,
stdnum.cn.uscc), Chinese names, the registered population and the enterprises (deterministic
for a seed), and points, lines, rectangles and a tessellation inside the county polygon."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry import box
from stdnum.cn import ric, uscc

from backend.geo.gcj02 import wgs84_to_gcj02

COUNTY_CODE = "341324"
# GB/T 2260: Sixian has been 341324 since 1998 (宿州市); before, 342225 (宿县地区). An ID keeps
# the address code of its first registration, so people born before 1998 carry the old one
# (stdnum's table checks the code against the birth year).
OLD_COUNTY_CODE, RENUMBERED = "342225", 1998
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋")
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉宇浩")


@dataclass
class Place:
    county: shapely.Geometry
    townships: list[tuple[str, str]]   # (code, name)
    roads: np.ndarray | None = None    # the county's road lines (points of interest face them)


def place_of(conn: sa.Connection) -> Place:
    wkb = conn.execute(sa.text("SELECT ST_AsBinary(ST_Union(geom)) FROM county")).scalar()
    if wkb is None:
        raise RuntimeError("no county polygon: load the county first (cityops demo)")
    towns = [(c, n) for c, n in conn.execute(sa.text(
        "SELECT code, name FROM townships ORDER BY code"))]
    roads = [bytes(r) for r in conn.execute(sa.text(
        "SELECT ST_AsBinary(geom) FROM roads ORDER BY id")).scalars()]
    return Place(shapely.from_wkb(bytes(wkb)), towns or [(f"{COUNTY_CODE}{100 + i}", f"镇{i}")
                                                          for i in range(15)],
                 shapely.from_wkb(roads) if roads else None)


def points_by_roads(g: np.random.Generator, place: Place, n: int) -> np.ndarray:
    """Points of interest (shops, toilets, hospitals...) stand by a street: a random place
    along the county's roads (by length), a few metres off it; inside the county anywhere when
    it has no roads. (GCJ-02 checks compare points with the roads: ~500 m shifts show.)"""
    if place.roads is None or len(place.roads) == 0:
        return points_in(g, place.county, n)
    lengths = shapely.length(place.roads)
    which = g.choice(len(place.roads), size=n, p=lengths / lengths.sum())
    at = shapely.line_interpolate_point(place.roads[which], g.random(n), normalized=True)
    xy = shapely.get_coordinates(at) + g.normal(0.0, 4e-5, size=(n, 2))  # ~4 m
    return xy


def planted(share: float, n: int) -> int:
    """How many rows a plant share makes: the share of n, at least one when asked for."""
    return 0 if share <= 0 or n == 0 else min(n, max(1, round(share * n)))


class Picker:
    """Disjoint row choices for the plants: each planted row carries one defect, so every
    count is exactly its share."""

    def __init__(self, g: np.random.Generator, n: int) -> None:
        self.g, self.free = g, np.ones(n, dtype=bool)

    def take(self, k: int, among: np.ndarray | None = None) -> np.ndarray:
        mask = self.free if among is None else self.free & among
        idx = self.g.choice(np.flatnonzero(mask), size=min(k, int(mask.sum())), replace=False)
        self.free[idx] = False
        return np.sort(idx)


# -- values ----------------------------------------------------------------------------------

def names(g: np.random.Generator, n: int) -> list[str]:
    s = g.choice(SURNAMES, n)
    a = g.choice(GIVEN, n)
    b = np.where(g.random(n) < 0.6, g.choice(GIVEN, n), "")
    return [x + y + z for x, y, z in zip(s, a, b, strict=True)]


def citizen_ids(births: np.ndarray, seqs: np.ndarray) -> list[str]:
    out = []
    for day, seq in zip(births, seqs, strict=True):
        code = COUNTY_CODE if day.year >= RENUMBERED else OLD_COUNTY_CODE
        body = f"{code}{day:%Y%m%d}{seq:03d}"
        out.append(body + ric.calc_check_digit(body + "0"))  # it skips the last char
    return out


def uscc_codes(g: np.random.Generator, n: int, authority: str = "91") -> list[str]:
    """Unified social credit codes: authority + type, 341324, a GB 11714 organisation code
    with its own check char, and the GB 32100 check char."""
    out = []
    for org in g.choice(10**8, size=n, replace=False):
        digits = f"{org:08d}"
        total = sum(int(c) * w for c, w in zip(digits, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
        check = 11 - total % 11
        body = f"{authority}{COUNTY_CODE}{digits}{'X' if check == 10 else check % 11}"
        out.append(body + uscc.calc_check_digit(body))
    return out


def wrong_check(code: str) -> str:
    alphabet = "0123456789X" if code[:6] in (COUNTY_CODE, OLD_COUNTY_CODE) else "0123456789"
    return code[:-1] + next(c for c in alphabet if c != code[-1])


OUTSIDE_SHIFT_DEG = 0.3  # beyond the county's bounding box
UNKNOWN_REGION = "349901"  # in no GB/T 2260 release (backend/people/gbt2260.csv)


def bad_id(code: str, defect: str) -> str:
    """An ID with a valid check character that fails one other check of backend.people.idcheck:
    02-30 as its birth date (impossible_birth_date) or region 349901 (unknown_region)."""
    body = (code[:10] + "0230" + code[14:17] if defect == "impossible_birth_date"
            else UNKNOWN_REGION + code[6:17])
    return body + ric.calc_check_digit(body + "0")


def days(g: np.random.Generator, n: int, start: date, end: date) -> np.ndarray:
    span = (end - start).days
    return np.array([start + timedelta(days=int(d)) for d in g.integers(0, span, n)])


@dataclass
class Companies:
    ids: list[str]
    names: list[str]


def companies(seed: int, n: int) -> Companies:
    g = np.random.default_rng([seed, 2])
    words = np.array(list("华泰鑫源盛达恒丰瑞祥宏远兴隆金鼎汇通"))
    cores = ["".join(w) for w in g.choice(words, size=(n, 2))]
    kinds = g.choice(["商贸", "农业科技", "建材", "食品", "物流", "电子", "纺织"], n)
    return Companies(uscc_codes(g, n), [f"泗县{c}{k}有限公司{i % 97 or ''}"
                                       for i, (c, k) in enumerate(zip(cores, kinds, strict=True))])


# -- places ----------------------------------------------------------------------------------

def points_in(g: np.random.Generator, area: shapely.Geometry, n: int) -> np.ndarray:
    minx, miny, maxx, maxy = area.bounds
    shapely.prepare(area)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    have = 0
    while have < n:
        x = g.uniform(minx, maxx, 2 * (n - have) + 16)
        y = g.uniform(miny, maxy, 2 * (n - have) + 16)
        inside = shapely.contains_xy(area, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
        have += int(inside.sum())
    return np.column_stack([np.concatenate(xs)[:n], np.concatenate(ys)[:n]])


def lines_in(g: np.random.Generator, area: shapely.Geometry, n: int) -> np.ndarray:
    out: list[Any] = []
    while len(out) < n:
        start = points_in(g, area, n - len(out))
        steps = g.normal(0, 0.008, size=(len(start), 3, 2))
        verts = start[:, None, :] + np.concatenate([np.zeros((len(start), 1, 2)),
                                                    np.cumsum(steps, axis=1)], axis=1)
        lines = shapely.linestrings(verts)
        out.extend(lines[shapely.contains(area, lines)])
    return np.array(out[:n], dtype=object)


def rectangles_around(g: np.random.Generator, area: shapely.Geometry, n: int) -> np.ndarray:
    c = points_in(g, area.buffer(-0.01), n)
    w = g.uniform(0.0005, 0.003, n)
    h = g.uniform(0.0005, 0.003, n)
    return shapely.box(c[:, 0] - w, c[:, 1] - h, c[:, 0] + w, c[:, 1] + h)


def tessellation(area: shapely.Geometry, n: int) -> tuple[np.ndarray, int]:
    """n rectangles tiling a square inside the county (parcels of ~45 x 45 m), row by row:
    (cells, cells per row)."""
    cols = max(1, int(np.ceil(np.sqrt(n))))
    rows = int(np.ceil(n / cols))
    cell = 0.00045
    cx, cy = area.representative_point().coords[0]
    while True:
        x0, y0 = cx - cols * cell / 2, cy - rows * cell / 2
        if area.contains(box(x0, y0, x0 + cols * cell, y0 + rows * cell)) or cell < 1e-5:
            break
        cell *= 0.8
    i = np.arange(n)
    xe = x0 + np.arange(cols + 1) * cell  # shared edges: neighbours meet exactly
    ye = y0 + np.arange(rows + 1) * cell
    c, r = i % cols, i // cols
    return shapely.box(xe[c], ye[r], xe[c + 1], ye[r + 1]), cols


def bow_tie(geom: shapely.Geometry) -> shapely.Geometry:
    minx, miny, maxx, maxy = geom.bounds
    return shapely.Polygon([(minx, miny), (maxx, maxy), (maxx, miny), (minx, maxy)])


def plant_geometry(defect: str, k: int, geoms: np.ndarray, per_row: int, pick: Picker,
                   county: Any, g: np.random.Generator) -> list[int]:
    """A geometry plant of dataset_content.plant on k rows: their indices."""
    n = len(geoms)
    if defect == "gcj02_shift":
        idx = pick.take(k)
        xy = shapely.get_coordinates(geoms[idx])
        lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
        geoms[idx] = shapely.points(lon, lat)
    elif defect == "empty_geometry":
        idx = pick.take(k)
        geoms[idx] = shapely.from_wkt("POINT EMPTY")
    elif defect == "invalid_geometry":
        idx = pick.take(k)
        for i in idx:
            if geoms[i].geom_type == "LineString":
                x, y = geoms[i].coords[0]
                geoms[i] = shapely.LineString([(x, y), (x, y)])  # too few distinct points
            else:
                geoms[i] = bow_tie(geoms[i])
    elif defect == "wrong_type":
        idx = pick.take(k)
        geoms[idx] = shapely.points(shapely.get_coordinates(geoms[idx])[::3][:len(idx)])
    elif defect == "outside_county":
        idx = pick.take(k)
        maxx = county.bounds[2]
        xy = shapely.get_coordinates(geoms[idx])
        geoms[idx] = shapely.points(np.full(len(idx), maxx + OUTSIDE_SHIFT_DEG), xy[:, 1])
    elif defect in ("overlap", "gap"):
        # a cell with a right neighbour in its row grows into it (overlap) or shrinks away
        # from it (gap); the neighbour is kept clean so that each defect is one pair
        has_right = (np.arange(n) % max(per_row, 1) != per_row - 1) & (np.arange(n) + 1 < n)
        idx = pick.take(k, has_right & np.r_[pick.free[1:], False])
        pick.free[np.minimum(idx + 1, n - 1)] = False
        for i in idx:
            minx, miny, maxx, maxy = geoms[i].bounds
            dx = (maxx - minx) * 0.3 * (1 if defect == "overlap" else -1)
            geoms[i] = box(minx, miny, maxx + dx, maxy)
    else:
        return []
    return [int(i) for i in idx]
