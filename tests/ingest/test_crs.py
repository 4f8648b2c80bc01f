"""CRS handling: declared or given (never guessed), CGCS2000 conversions checked against pyproj
directly, GCJ-02 only on request, unknown or missing CRS refused with the database unchanged."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from sqlalchemy.engine import Engine

from backend.errors import InvalidInput
from backend.geo.gcj02 import gcj02_to_wgs84
from tests.camera_codes import code_for
from tests.ingest.conftest import Ingest, snapshot, stored, write_shapefile

LONLAT = [(117.88, 33.48), (117.95, 33.62), (117.71, 33.30)]


def _coords(engine: Engine, table: str, source: str) -> dict[str, np.ndarray]:
    return {k: shapely.get_coordinates(r["geom"]) for k, r in stored(engine, table, source).items()}


def test_cgcs2000_geographic_4490(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    path = tmp_path / "cams4490.gpkg"
    codes = [code_for("TST-A"), code_for("TST-B"), code_for("TST-C")]
    gpd.GeoDataFrame({"code": codes, "kind": ["traffic"] * 3},
                     geometry=[shapely.Point(p) for p in LONLAT], crs=4490).to_file(path)
    result = ingest(path, layer_id="cameras", source=src)
    assert result.ok and result.crs_declared == result.crs_used == "EPSG:4490"
    expected = Transformer.from_crs(4490, 4326, always_xy=True)
    got = _coords(engine, "cameras", src)
    for key, (x, y) in zip(codes, LONLAT, strict=True):
        ex, ey = expected.transform(x, y)
        assert np.allclose(got[key], [[ex, ey]], rtol=0, atol=1e-7)


def test_cgcs2000_gauss_kruger_4548_zipped_shapefile(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    fwd = Transformer.from_crs(4326, 4548, always_xy=True)
    rings = [shapely.box(x, y, x + 0.002, y + 0.001) for x, y in LONLAT]
    gk = [shapely.transform(r, lambda xy: np.column_stack(fwd.transform(xy[:, 0], xy[:, 1])))
          for r in rings]
    assert 400_000 < gk[0].bounds[0] < 600_000  # metres east of CM 117E + 500 km
    frame = gpd.GeoDataFrame(
        {"id": [1, 2, 3], "parcel_code": ["P1", "P2", "P3"], "land_use": ["0701"] * 3,
         "area_m2": [1.0, 2.0, 3.0], "ownership": ["集体"] * 3}, geometry=gk, crs=4548)
    folder = tmp_path / "shp"
    folder.mkdir()
    write_shapefile(frame, folder / "zongdi.shp")  # parcel_code is cut to parcel_cod
    assert "Gauss" in (folder / "zongdi.prj").read_text()  # an ESRI .prj, as ArcGIS writes
    path = tmp_path / "zongdi.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f.name)

    result = ingest(path, layer_id="parcels", source=src)

    assert result.ok and result.crs_used == "EPSG:4548"
    inv = Transformer.from_crs(4548, 4326, always_xy=True)
    written = gpd.read_file(folder / "zongdi.shp")  # the vertices as the file holds them
    got = stored(engine, "parcels", src)
    for key, poly in zip(written["id"].astype(str), written.geometry, strict=True):
        expected = shapely.transform(
            poly, lambda xy: np.column_stack(inv.transform(xy[:, 0], xy[:, 1])))
        a = shapely.get_coordinates(shapely.normalize(got[key]["geom"]))
        b = shapely.get_coordinates(shapely.normalize(expected))
        assert a.shape == b.shape and np.allclose(a, b, rtol=0, atol=1e-7)


def test_csv_in_4548_needs_and_uses_the_flag(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    fwd = Transformer.from_crs(4326, 4548, always_xy=True)
    xs, ys = fwd.transform([p[0] for p in LONLAT], [p[1] for p in LONLAT])
    path = tmp_path / "cams.csv"
    lines = ["code,kind,X,Y"] + [f"{code_for(f'TST-G{i}')},traffic,{x!r},{y!r}"
                                 for i, (x, y) in enumerate(zip(xs, ys, strict=True))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = snapshot(engine, "cameras")
    with pytest.raises(InvalidInput, match="does not say which coordinate system.*--crs"):
        ingest(path, layer_id="cameras", source=src)
    assert snapshot(engine, "cameras") == before

    result = ingest(path, layer_id="cameras", source=src, crs=4548)
    assert result.ok and result.crs_declared is None and result.crs_used == "EPSG:4548"
    inv = Transformer.from_crs(4548, 4326, always_xy=True)
    got = _coords(engine, "cameras", src)
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        assert np.allclose(got[code_for(f"TST-G{i}")], [inv.transform(x, y)], rtol=0, atol=1e-7)


def test_unknown_crs_is_refused_and_nothing_changes(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    frame = gpd.GeoDataFrame({"code": [code_for("TST-U")], "kind": ["traffic"]},
                             geometry=[shapely.Point(500_000, 3_700_000)], crs=None)
    shp = tmp_path / "local.shp"
    with warnings.catch_warnings():  # "no projection information": exactly the point
        warnings.simplefilter("ignore")
        frame.to_file(shp)
    before = snapshot(engine, "cameras")
    with pytest.raises(InvalidInput, match="does not say which coordinate system"):
        ingest(shp, layer_id="cameras", source=src)
    shp.with_suffix(".prj").write_text('LOCAL_CS["site grid",UNIT["metre",1]]')
    with pytest.raises(InvalidInput, match="'site grid', a local or unknown CRS"):
        ingest(shp, layer_id="cameras", source=src)
    csv = tmp_path / "c.csv"
    csv.write_text(f"code,kind,lon,lat\n{code_for('TST-U')},traffic,117.9,33.5\n",
                   encoding="utf-8")
    with pytest.raises(InvalidInput, match="EPSG:99999.*not a CRS known to PROJ"):
        ingest(csv, layer_id="cameras", source=src, crs="EPSG:99999")
    assert snapshot(engine, "cameras") == before


def test_declared_and_given_crs_must_agree(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    path = tmp_path / "cams.gpkg"
    gpd.GeoDataFrame({"code": [code_for("TST-M")], "kind": ["traffic"]},
                     geometry=[shapely.Point(117.9, 33.5)], crs=4490).to_file(path)
    with pytest.raises(InvalidInput, match="declares EPSG:4490 but --crs says EPSG:4548"):
        ingest(path, layer_id="cameras", source=src, crs=4548)
    assert ingest(path, layer_id="cameras", source=src, crs="4490").ok  # agreeing is fine


def test_geojson_without_crs_member_may_be_given_one(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    """Pre-RFC 7946 GeoJSON often holds projected coordinates without saying so."""
    x, y = Transformer.from_crs(4326, 4548, always_xy=True).transform(117.9, 33.5)
    path = tmp_path / "legacy.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "id": 5, '
                    f'"properties": {{"code": "{code_for("TST-L")}", "kind": "traffic"}}, '
                    '"geometry": '
                    f'{{"type": "Point", "coordinates": [{x!r}, {y!r}]}}}}]}}', encoding="utf-8")
    result = ingest(path, layer_id="cameras", source=src, crs=4548)
    assert result.ok and result.crs_declared is None and result.key_field == "code"
    assert any("RFC 7946" in w for w in result.warnings)
    got = stored(engine, "cameras", src)[code_for("TST-L")]["geom"]
    assert abs(got.x - 117.9) < 1e-7 and abs(got.y - 33.5) < 1e-7


def test_from_gcj02_converts_web_map_coordinates(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    path = tmp_path / "amap.csv"
    path.write_text(f"code,kind,lng,lat\n{code_for('TST-W')},traffic,117.885443,33.477580\n",
                    encoding="utf-8")
    result = ingest(path, layer_id="cameras", source=src, from_gcj02=True)
    assert result.ok and result.from_gcj02 and result.crs_used == "EPSG:4326"
    got = stored(engine, "cameras", src)[code_for("TST-W")]["geom"]
    assert abs(got.x - 117.880022) < 1e-5 and abs(got.y - 33.479271) < 1e-5
    ex, ey = gcj02_to_wgs84(117.885443, 33.477580)
    assert abs(got.x - ex) < 1e-12 and abs(got.y - ey) < 1e-12

    with pytest.raises(InvalidInput, match="--from-gcj02 needs longitude/latitude"):
        ingest(path, layer_id="cameras", source=src, from_gcj02=True, crs=4548)
