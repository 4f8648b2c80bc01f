"""The generator without a database: determinism, geometry, codes, partitions, bus lines."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import shapely
import yaml
from pydantic import ValidationError
from pyproj import Transformer

from backend.county import TABLES, County, build_county, load_recipe
from backend.county.recipe import DEFAULT_RECIPE, Recipe
from tests.conftest import SMALL_SCALE

POLYGON_TABLES = {"county", "townships", "parcels", "buildings", "grid_cells"}
LINE_TABLES = {"roads", "pipelines", "bus_lines", "pilot_segments"}
POINT_TABLES = {"cameras", "bus_stops"}
TO_METRIC = Transformer.from_crs(4326, 4548, always_xy=True)


def metric(geoms: np.ndarray) -> np.ndarray:
    """EPSG:4326 geometries in CGCS2000 GK CM 117E (metres)."""
    return shapely.transform(geoms, lambda xy: np.column_stack(TO_METRIC.transform(*xy.T)))


def fingerprint(county: County) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, df in county.tables.items():
        out[name] = (shapely.to_wkb(df["geom"].to_numpy()).tolist(),
                     df.drop(columns="geom").to_dict("list"))
    out["line_stops"] = county.line_stops.to_dict("list")
    return out


def test_same_seed_gives_identical_output(small_county: County) -> None:
    again = build_county(load_recipe(), scale=SMALL_SCALE)
    assert fingerprint(again) == fingerprint(small_county)


def test_another_seed_gives_another_county(small_county: County) -> None:
    other = build_county(load_recipe(), scale=SMALL_SCALE, seed=small_county.seed + 1)
    for table in ("parcels", "buildings", "grid_cells", "cameras", "roads"):
        a = shapely.to_wkb(small_county.tables[table]["geom"].to_numpy()).tolist()
        b = shapely.to_wkb(other.tables[table]["geom"].to_numpy()).tolist()
        assert a != b, table
    # The real data does not move with the seed.
    real = small_county.tables["county"]["geom"].iloc[0]
    assert real.equals(other.tables["county"]["geom"].iloc[0])


def test_every_table_is_there_with_valid_geometries_of_its_type(small_county: County) -> None:
    assert tuple(small_county.tables) == TABLES
    for name, df in small_county.tables.items():
        geoms = df["geom"].to_numpy()
        assert len(geoms) > 0, name
        assert df.crs.to_epsg() == 4326
        assert shapely.is_valid(geoms).all(), name
        assert not shapely.is_empty(geoms).any(), name
        want = "MultiPolygon" if name in POLYGON_TABLES else \
            "LineString" if name in LINE_TABLES else "Point"
        assert set(df.geom_type) == {want}, name
        assert (df["source"] == "demo:sixian").all(), name
        assert df["source_key"].is_unique, name
        assert "id" not in df.columns and "geom_3857" not in df.columns


def test_everything_lies_in_the_county(small_county: County) -> None:
    county = shapely.buffer(small_county.tables["county"]["geom"].iloc[0], 1e-6)
    shapely.prepare(county)
    for name, df in small_county.tables.items():
        inside = shapely.covers(county, df["geom"].to_numpy())
        assert inside.all(), f"{name}: {int((~inside).sum())} features leave the county"


def test_townships_and_grid_cells_partition_the_county(small_county: County) -> None:
    county = metric(small_county.tables["county"]["geom"].to_numpy())[0]
    for name in ("townships", "grid_cells"):
        cells = metric(small_county.tables[name]["geom"].to_numpy())
        union = shapely.union_all(cells)
        assert shapely.area(shapely.symmetric_difference(union, county)) / county.area < 1e-6
        assert abs(shapely.area(cells).sum() - union.area) / union.area < 1e-9
    towns = small_county.tables["townships"]
    assert len(towns) == 19
    assert sorted(towns["code"]) == sorted(f"341324{c}" for c in
                                           ["001", "002", "003", *map(str, range(100, 115)), "400"])
    assert 300 <= len(small_county.tables["grid_cells"]) <= 600


def test_codes_are_well_formed(small_county: County) -> None:
    t = small_county.tables
    grid = t["grid_cells"]
    assert grid["grid_code"].str.fullmatch(r"341324\d{9}").all()
    assert grid["grid_code"].is_unique
    assert (grid["grid_code"].str[:9] == grid["township_code"]).all()
    assert grid["name"].str.fullmatch(r".+第\d{2,3}网格").all()
    parcels = t["parcels"]
    assert parcels["parcel_code"].str.fullmatch(r"341324\d{6}(G[BDEY]|J[ABCDE])\d{5}").all()
    assert parcels["parcel_code"].is_unique
    assert (parcels["parcel_code"].str[:9] == parcels["township_code"]).all()
    state = parcels["parcel_code"].str[12] == "G"
    assert (parcels["ownership"][state] == "国有").all()
    assert (parcels["ownership"][~state] == "集体").all()
    recipe = load_recipe()
    for code, name in zip(parcels["land_use"], parcels["land_use_name"], strict=True):
        assert recipe.land_use[code].name == name
    cams = t["cameras"]
    assert cams["code"].str.fullmatch(r"34132400(00|01|04)132\d{7}").all()
    assert cams["code"].is_unique
    assert cams["stream_url"].str.startswith("rtsp://127.0.0.1").all()
    assert set(cams["status"]) <= {"online", "offline", "fault"}


def test_parcel_areas_and_buildings(small_county: County) -> None:
    parcels = small_county.tables["parcels"]
    area = shapely.area(metric(parcels["geom"].to_numpy()))
    assert np.allclose(parcels["area_m2"], area, rtol=5e-4)  # GK zone scale error < 0.05 %
    b = small_county.tables["buildings"]
    assert (b["floors"] >= 1).all()
    ratio = b["height"] / b["floors"]
    assert set(np.round(ratio, 1)) <= {3.0, 3.6, 5.0}
    # Homesteads have 1-3 floors; compounds near the seat's centre 6-33.
    use = parcels.set_index("parcel_code")["land_use"]
    on = use.loc[b["source_key"].str[:19]].to_numpy()
    assert b["floors"][on == "0702"].between(1, 3).all()
    xy = shapely.get_coordinates(metric(shapely.centroid(b["geom"].to_numpy())))
    seat = np.array(TO_METRIC.transform(117.88003, 33.47922))
    central = (np.hypot(*(xy - seat).T) < 2200) & (on == "0701")
    assert central.sum() > 100
    assert b["floors"][central].between(6, 33).all()
    assert b["floors"][central].max() >= 25


def test_bus_stops_lie_on_their_lines_in_order(small_county: County) -> None:
    lines = small_county.tables["bus_lines"].set_index("code")
    stops = small_county.tables["bus_stops"].set_index("code")
    ls = small_county.line_stops
    assert len(lines) == 10
    assert set(ls["line_code"]) == set(lines.index)
    for code, rows in ls.groupby("line_code"):
        rows = rows.sort_values("seq")
        assert rows["seq"].tolist() == list(range(1, len(rows) + 1))
        d = rows["distance_m"].to_numpy()
        assert (np.diff(d) > 0).all(), code
        gaps = np.diff(d)
        assert gaps.max() < 1000, code
        line = metric(np.array([lines.loc[code, "geom"]]))[0]
        assert abs(line.length - lines.loc[code, "length_m"]) < 1.0
        pts = metric(stops.loc[rows["stop_code"], "geom"].to_numpy())
        at = shapely.line_interpolate_point(line, d)
        assert (shapely.distance(pts, at) < 1.0).all(), code
    shared = ls.groupby("stop_code")["line_code"].nunique()
    assert (shared > 1).any()


def test_bus_lines_follow_the_roads(small_county: County) -> None:
    roads = metric(small_county.tables["roads"]["geom"].to_numpy())
    tree = shapely.STRtree(roads)
    for line in metric(small_county.tables["bus_lines"]["geom"].to_numpy()):
        pts = shapely.line_interpolate_point(line, np.arange(0.0, line.length, 25.0))
        _, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
        assert dist.max() < 1.0


def test_the_recipe_is_strict(tmp_path: Path) -> None:
    raw = yaml.safe_load(DEFAULT_RECIPE.read_text(encoding="utf-8"))
    Recipe.model_validate(raw)
    raw["urban"]["colour"] = "red"
    with pytest.raises(ValidationError):
        Recipe.model_validate(raw)
    del raw["urban"]["colour"]
    raw["bus"]["lines"][0]["via"] = ["泗县站", "火星"]
    with pytest.raises(ValidationError, match="unknown places"):
        Recipe.model_validate(raw)
    with pytest.raises(ValueError):
        build_county(load_recipe(), scale=0)


def test_codes_use_the_real_township_and_village_lists(small_county: County) -> None:
    recipe = load_recipe()
    villages = Path(recipe.path(recipe.county.files.villages)).read_text(encoding="utf-8")
    known = set(re.findall(r"^(\d{12}),", villages, flags=re.M))
    assert set(small_county.tables["grid_cells"]["grid_code"].str[:12]) <= known
    assert set(small_county.tables["parcels"]["parcel_code"].str[:12]) <= known
