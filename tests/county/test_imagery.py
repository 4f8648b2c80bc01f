"""The demo rasters (示意 / synthetic orthophoto and relief) drawn from the small county in
PostGIS: deterministic, georeferenced in the county's metric CRS, pixels that follow the real
features under them, and heights within the range the sources give for Sixian."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from backend.county import County, imagery, load_county, load_recipe, relief
from backend.county.frame import Frame
from backend.county.rasters import city_bounds, data_digest, render_demo_rasters, sha256_file

SRC = "demo:sixian"
EPSG = 4548
# Cited in scenarios/sixian/PROVENANCE.md: 90.9 % of the county lies below 20 m; nothing lies
# below Hongze Lake's dead water level (11.3 m) downstream; the region's residual hills stay
# under the 98 m of 石佛山 in neighbouring 泗洪.
BELOW_20M_SHARE = 0.909
LOWEST_POSSIBLE_M = 11.3
HIGHEST_POSSIBLE_M = 98.0


@pytest.fixture(scope="module")
def frame() -> Frame:
    recipe = load_recipe()
    seat = recipe.county.seat
    return Frame.at_seat(seat.lon, seat.lat, EPSG, recipe.frame.rotation_deg)


def _points(engine: Engine, sql: str) -> np.ndarray:
    """(x, y) in EPSG:4548 of the points a query returns (one geometry column, EPSG:4326)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(g, {EPSG}) AS p "
            f"FROM ({sql}) q(g)) t"), {"src": SRC}).all()
    return np.array(rows, dtype=float).reshape(-1, 2)


def _box_around(frame: Frame, half_m: float) -> tuple[float, float, float, float]:
    x, y = frame.origin
    return x - half_m, y - half_m, x + half_m, y + half_m


@pytest.fixture(scope="module")
def ortho(engine: Engine, county: dict[str, int], frame: Frame,
          tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 m around the seat (1.6 km square), rendered from the database."""
    bounds = _box_around(frame, 800)
    scene = imagery.read_scene(engine, bounds, epsg=EPSG, source=SRC)
    return imagery.render_ortho(scene, tmp_path_factory.mktemp("ortho") / "ortho.tif", bounds,
                                res=1.0, seed=341324)


def _sample(path: Path, xy: np.ndarray, radius: int = 1) -> np.ndarray:
    """Mean RGB in a (2 radius + 1) square around each point: (n, 3)."""
    with rasterio.open(path) as src:
        rgb = src.read().astype(float)
        out = []
        for x, y in xy:
            r, c = src.index(x, y)
            out.append(rgb[:, r - radius:r + radius + 1, c - radius:c + radius + 1]
                       .mean(axis=(1, 2)))
    return np.array(out)


def test_ortho_is_deterministic_and_georeferenced(engine: Engine, ortho: Path, frame: Frame,
                                                  tmp_path: Path) -> None:
    bounds = _box_around(frame, 800)
    scene = imagery.read_scene(engine, bounds, epsg=EPSG, source=SRC)
    again = imagery.render_ortho(scene, tmp_path / "again.tif", bounds, res=1.0, seed=341324)
    assert sha256_file(again) == sha256_file(ortho)
    other = imagery.render_ortho(scene, tmp_path / "other.tif", bounds, res=1.0, seed=7)
    assert sha256_file(other) != sha256_file(ortho)
    with rasterio.open(ortho) as src:
        assert src.crs.to_epsg() == EPSG
        assert src.res == (1.0, 1.0)
        assert src.count == 3 and src.dtypes[0] == "uint8"
        assert src.bounds.left <= bounds[0] and src.bounds.top >= bounds[3]
        assert src.width in (1600, 1601) and src.height in (1600, 1601)
        assert "synthetic" in src.tags()["TIFFTAG_IMAGEDESCRIPTION"]
        assert src.tags()["SYNTHETIC"] == "yes"


def test_ortho_pixels_follow_the_features_under_them(engine: Engine, ortho: Path,
                                                     frame: Frame) -> None:
    x, y = frame.origin
    near = (f"ST_DWithin(ST_Transform(geom, {EPSG}), "
            f"ST_SetSRID(ST_MakePoint({x}, {y}), {EPSG}), 650)")
    # Centre lines of the wide roads (carriageway there), halfway along each piece.
    roads = _points(engine, "SELECT ST_LineInterpolatePoint(geom, 0.5) FROM roads WHERE "
                    f"source = :src AND road_class IN ('primary', 'secondary') AND {near}")
    # Tall slabs: flat concrete roofs.
    roofs = _points(engine, "SELECT ST_PointOnSurface(geom) FROM buildings WHERE "
                    f"source = :src AND use = '住宅' AND floors > 3 AND {near}")
    fields = _points(engine, "SELECT ST_PointOnSurface(geom) FROM parcels WHERE "
                     f"source = :src AND land_use = '01' AND area_m2 > 3000 AND {near}")
    water = _points(engine, "SELECT ST_PointOnSurface(geom) FROM parcels WHERE "
                    f"source = :src AND land_use = '11' AND area_m2 > 3000 AND {near}")
    assert len(roads) >= 5 and len(roofs) >= 20
    road_rgb, roof_rgb = _sample(ortho, roads), _sample(ortho, roofs)
    # Asphalt: dark and grey (no channel stands out).
    assert np.median(road_rgb.mean(axis=1)) < 100
    assert np.median(np.ptp(road_rgb, axis=1)) < 12
    # Concrete roofs are far lighter than the asphalt.
    assert np.median(roof_rgb.mean(axis=1)) > np.median(road_rgb.mean(axis=1)) + 50
    # Most, not all: the generator lets a few sheds or bridges stand on a parcel's edge.
    if len(fields):  # crops and soil: green or brown, never grey or blue
        field_rgb = _sample(ortho, fields, radius=2)
        assert np.mean(field_rgb[:, 1] > field_rgb[:, 2] + 12) > 0.8
    if len(water):  # the canal: dark, bluer than it is red
        water_rgb = _sample(ortho, water, radius=2)
        assert np.mean((water_rgb[:, 2] > water_rgb[:, 0]) & (water_rgb.mean(axis=1) < 100)
                       ) > 0.8


def test_tall_buildings_cast_shadows_to_the_north_north_west(engine: Engine, ortho: Path,
                                                             frame: Frame) -> None:
    """Just beyond a tall building's north-north-west wall the ground is darker than just
    beyond its opposite wall, for most buildings (a neighbour may stand in either spot)."""
    x, y = frame.origin
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            f"SELECT ST_X(c), ST_Y(c), reach FROM (SELECT ST_Transform(ST_Centroid(geom), "
            f"{EPSG}) AS c, sqrt(ST_Area(ST_Transform(geom, {EPSG}))) AS reach FROM buildings "
            f"WHERE source = :src AND height >= 20 AND ST_DWithin(ST_Transform(geom, {EPSG}), "
            f"ST_SetSRID(ST_MakePoint({x}, {y}), {EPSG}), 600)) q"), {"src": SRC}).all()
    assert len(rows) >= 10
    az = math.radians(imagery.SHADOW_AZIMUTH_DEG)
    ux, uy = math.sin(az), math.cos(az)
    centres = np.array([(r[0], r[1]) for r in rows])
    reach = np.array([r[2] for r in rows])[:, None]  # beyond the wall from the centre
    shade = _sample(ortho, centres + reach * [ux, uy]).mean(axis=1)
    sun = _sample(ortho, centres - reach * [ux, uy]).mean(axis=1)
    assert np.mean(shade < sun * 0.85) > 0.6


def test_city_bounds_hold_the_seat_and_its_built_up_area(engine: Engine, county: dict[str, int],
                                                         frame: Frame) -> None:
    x0, y0, x1, y1 = city_bounds(engine, frame, source=SRC)
    x, y = frame.origin
    assert x0 < x < x1 and y0 < y < y1
    assert 2_000 < x1 - x0 < 12_000 and 2_000 < y1 - y0 < 12_000
    urban = _points(engine, "SELECT ST_PointOnSurface(geom) FROM parcels WHERE source = :src "
                    "AND land_use IN ('0701', '05')")
    inside = (urban[:, 0] > x0) & (urban[:, 0] < x1) & (urban[:, 1] > y0) & (urban[:, 1] < y1)
    assert inside.mean() > 0.9


@pytest.fixture(scope="module")
def dem(engine: Engine, county: dict[str, int], frame: Frame,
        tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """(file, heights, in-county mask) of the whole county at 30 m."""
    params = relief.load_relief()
    shape = relief.read_county(engine, epsg=EPSG, source=SRC)
    water = relief.read_water(engine, tuple(shape.bounds), epsg=EPSG, source=SRC)
    path = relief.render_dem(params, frame, shape, water,
                             tmp_path_factory.mktemp("dem") / "dem.tif", seed=341324)
    h, _, inside = relief.elevation(params, frame, shape, water, 341324)
    return path, h, inside


def test_dem_is_georeferenced_deterministic_and_written_as_computed(
        engine: Engine, frame: Frame, dem: tuple[Path, np.ndarray, np.ndarray],
        tmp_path: Path) -> None:
    path, h, _ = dem
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == EPSG and src.res == (30.0, 30.0)
        assert src.dtypes[0] == "float32" and src.nodata is None
        assert np.array_equal(src.read(1), h)
        assert "synthetic" in src.tags()["TIFFTAG_IMAGEDESCRIPTION"]
    params = relief.load_relief()
    shape = relief.read_county(engine, epsg=EPSG, source=SRC)
    water = relief.read_water(engine, tuple(shape.bounds), epsg=EPSG, source=SRC)
    again = relief.render_dem(params, frame, shape, water, tmp_path / "again.tif", seed=341324)
    assert sha256_file(again) == sha256_file(path)


def test_dem_range_follows_the_huaibei_plain(dem: tuple[Path, np.ndarray, np.ndarray],
                                             frame: Frame) -> None:
    path, h, inside = dem
    v = h[inside]
    assert v.min() >= LOWEST_POSSIBLE_M
    assert v.max() <= HIGHEST_POSSIBLE_M
    assert abs(np.mean(v < 20.0) - BELOW_20M_SHARE) < 0.02
    # Higher in the north-west than in the south-east (the rivers flow to Hongze Lake).
    with rasterio.open(path) as src:
        rows, cols = np.nonzero(inside)
        xs, ys = rasterio.transform.xy(src.transform, rows, cols)
    d = (np.asarray(xs) - frame.origin[0]) - (np.asarray(ys) - frame.origin[1])  # to the SE
    assert v[d < np.quantile(d, 0.2)].mean() > v[d > np.quantile(d, 0.8)].mean() + 3


def test_dem_has_the_named_hills_and_cuts_the_water_in(
        engine: Engine, dem: tuple[Path, np.ndarray, np.ndarray], frame: Frame) -> None:
    path, h, _ = dem
    params = relief.load_relief()
    with rasterio.open(path) as src:
        for hill in params.hills:
            r, c = src.index(frame.origin[0] + hill.offset_km[0] * 1000,
                             frame.origin[1] + hill.offset_km[1] * 1000)
            summit = h[max(r - 3, 0):r + 4, max(c - 3, 0):c + 4].max()
            assert abs(summit - hill.peak_m) < 1.0, hill.name
        water = _points(engine, "SELECT ST_PointOnSurface(geom) FROM parcels "
                        "WHERE source = :src AND land_use = '11' AND area_m2 > 3000")
        assert len(water)
        wet = np.array([h[src.index(x, y)] for x, y in water])
        dry = np.array([h[src.index(x + 300, y)] for x, y in water])
    assert np.median(dry - wet) > 1.0


def test_demo_rasters_are_not_rendered_again_when_nothing_changed(
        engine: Engine, county: dict[str, int], tmp_path: Path) -> None:
    first = render_demo_rasters(engine, tmp_path, layers=("dem",), log=lambda _: None)
    assert first[0].seconds > 0 and first[0].path.exists()
    second = render_demo_rasters(engine, tmp_path, layers=("dem",), log=lambda _: None)
    assert second[0].seconds == 0 and second[0].sha256 == first[0].sha256
    changed = relief.load_relief()
    changed = changed.model_copy(update={"plain": changed.plain.model_copy(
        update={"lowest_m": 15.0})})
    third = render_demo_rasters(engine, tmp_path, params=changed, layers=("dem",),
                                log=lambda _: None)
    assert third[0].seconds > 0 and third[0].sha256 != first[0].sha256


def test_county_picture_is_masked_outside_the_county(engine: Engine, county: dict[str, int],
                                                     frame: Frame, tmp_path: Path) -> None:
    """The whole-county picture (here at 50 m for speed) has no data outside the boundary."""
    shape = relief.read_county(engine, epsg=EPSG, source=SRC)
    bounds = tuple(shape.bounds)
    scene = imagery.read_scene(engine, bounds, epsg=EPSG, source=SRC)
    path = imagery.render_ortho(scene, tmp_path / "county.tif", bounds, res=50.0, seed=1,
                                clip=shape)
    with rasterio.open(path) as src:
        mask = src.read_masks(1) > 0
        rows, cols = np.mgrid[0:src.height, 0:src.width]
        xs, ys = rasterio.transform.xy(src.transform, rows.ravel(), cols.ravel())
    inside = shapely.contains_xy(shape, np.asarray(xs), np.asarray(ys)).reshape(mask.shape)
    assert np.mean(mask == inside) > 0.99  # all but the boundary's pixels
    assert mask[inside].mean() > 0.99 and mask[~inside].mean() < 0.01


def test_the_data_digest_survives_a_reload_but_not_another_county(
        engine: Engine, county: dict[str, int], small_county: County) -> None:
    before = data_digest(engine, SRC)
    load_county(engine, small_county, replace=True)  # new ids and data versions, same rows
    assert data_digest(engine, SRC) == before
    assert int(before["parcels"][0]) == county["parcels"]
    assert data_digest(engine, "demo:elsewhere")["parcels"] == ["0", "None"]
