"""Each supported format loads; unknown formats, layers and keys are refused clearly."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from sqlalchemy.engine import Engine

from backend.errors import InvalidInput, NotFound
from tests.camera_codes import code_for
from tests.ingest.conftest import (
    Ingest,
    cameras,
    parcel,
    snapshot,
    square,
    stored,
    write_shapefile,
)


def test_geojson_into_cameras_with_the_code_as_key(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    path = tmp_path / "cams.geojson"
    frame = cameras(6)
    frame["vendor"] = "海康"  # not a column of cameras: ignored and reported
    frame.to_file(path, driver="GeoJSON")

    result = ingest(path, layer_id="cameras", source=src)

    assert result.ok and result.format == "GeoJSON"
    assert (result.read, result.inserted, result.updated, result.rejected) == (6, 6, 0, 0)
    assert result.key_field == "code"  # the table's unique column, found without --key
    assert result.columns_ignored == ["vendor"]
    assert result.crs_declared == result.crs_used == "EPSG:4326"  # GDAL writes a crs member
    rows = stored(engine, "cameras", src, "code, name, kind, status, direction_deg")
    assert set(rows) == set(frame["code"])
    r = rows[code_for("TST-004")]
    assert (r["name"], r["kind"], r["direction_deg"]) == ("路口4号", "xueliang", 40.0)
    assert r["geom"].equals_exact(frame.geometry.iloc[4], 1e-12)


def test_geopackage_polygons_become_multipolygons_keyed_by_fid(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    path = tmp_path / "parcels.gpkg"
    rows = [parcel(f"341324{i:013d}", square(117.9 + i * 0.01, 33.5)) for i in range(3)]
    gpd.GeoDataFrame(rows, crs=4326).to_file(path, layer="zongdi", driver="GPKG")
    gpd.GeoDataFrame([parcel("X", square(117.95, 33.55))], crs=4326).to_file(
        path, layer="other", driver="GPKG")

    result = ingest(path, layer_id="parcels", source=src)

    assert result.ok and result.inserted == 3 and result.key_field == "fid"
    assert any("2 layers" in w for w in result.warnings)  # read the first, said so
    got = stored(engine, "parcels", src, "parcel_code, land_use, ownership, "
                 "ST_GeometryType(geom) AS gtype")
    assert set(got) == {"1", "2", "3"}
    assert {r["gtype"] for r in got.values()} == {"ST_MultiPolygon"}
    assert got["1"]["land_use"] == "0701" and got["1"]["ownership"] == "国有"

    other = ingest(path, layer_id="parcels", source=src + ":b", layer="other")
    assert other.ok and other.inserted == 1


def _zip_shapefile(frame: gpd.GeoDataFrame, path: Path, name: str = "lines") -> Path:
    shp_dir = path.parent / f"{name}_shp"
    shp_dir.mkdir()
    write_shapefile(frame, shp_dir / f"{name}.shp")
    with zipfile.ZipFile(path, "w") as zf:
        for f in shp_dir.iterdir():
            zf.write(f, f"data/{f.name}")
    return path


def test_zipped_shapefile_into_pipelines(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    frame = gpd.GeoDataFrame(
        {"gxbh": ["GS-1", "GS-2"], "network": ["water_supply", "gas"],
         "diameter_mm": [300, 150], "material": ["球墨铸铁", "PE"]},
        geometry=[shapely.LineString([(117.90, 33.50), (117.91, 33.51)]),
                  shapely.LineString([(117.92, 33.50), (117.93, 33.49), (117.94, 33.50)])],
        crs=4326,
    )
    path = _zip_shapefile(frame, tmp_path / "pipes.zip")

    result = ingest(path, layer_id="pipelines", source=src, key_field="gxbh")

    assert result.ok and result.inserted == 2 and result.format == "ESRI Shapefile"
    got = stored(engine, "pipelines", src, "network, diameter_mm, material")
    assert result.columns_written == ["network", "diameter_mm", "material"]  # 'diameter_m'
    assert (got["GS-1"]["network"], got["GS-1"]["diameter_mm"]) == ("water_supply", 300)
    assert got["GS-1"]["material"] == "球墨铸铁"
    assert got["GS-2"]["geom"].equals_exact(frame.geometry.iloc[1], 1e-12)


def test_csv_with_chinese_headers_gbk_and_lon_lat(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    path = tmp_path / "cams.csv"
    text = ("点位编号,名称,kind,经度,纬度,备注\n"
            f"{code_for('TST-C1')},东关路口,tianwang,117.901,33.501,新装\n"
            f"{code_for('TST-C2')},西关路口,traffic, 117.902 ,33.502,\n")
    path.write_bytes(text.encode("gbk"))  # what Excel saves on a Chinese Windows

    result = ingest(path, layer_id="cameras", source=src, crs=4326)

    assert result.ok and result.inserted == 2 and result.format == "CSV"
    assert result.key_field == "点位编号" and result.columns_ignored == ["备注"]
    assert any("GB18030" in w for w in result.warnings)
    got = stored(engine, "cameras", src, "code, name, status")
    c2 = got[code_for("TST-C2")]
    assert c2["name"] == "西关路口" and c2["code"] == code_for("TST-C2")
    assert c2["status"] == "online"  # absent from the file: server default
    assert (c2["geom"].x, c2["geom"].y) == (117.902, 33.502)


def test_csv_keeps_leading_zeros_of_codes(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    path = tmp_path / "parcels.csv"
    poly = square(117.9, 33.5).wkt
    path.write_text(f'id,parcel_code,land_use,area_m2,ownership,wkt\n1,0001,0701,12.5,集体,"{poly}"\n',
                    encoding="utf-8")
    result = ingest(path, layer_id="parcels", source=src, crs="EPSG:4326")
    assert result.ok
    got = stored(engine, "parcels", src, "parcel_code, land_use, area_m2")["1"]
    assert (got["parcel_code"], got["land_use"], got["area_m2"]) == ("0001", "0701", 12.5)


def test_default_source_is_the_file_stem(ingest: Ingest, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "test_ingest_cams_2024.geojson"
    cameras(2, prefix="TSTD").to_file(path, driver="GeoJSON")
    result = ingest(path, layer_id="cameras")
    assert result.source == "file:test_ingest_cams_2024"
    assert len(stored(engine, "cameras", "file:test_ingest_cams_2024")) == 2


def test_unknown_extension_layer_and_missing_key_are_refused(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    before = snapshot(engine, "cameras")
    odd = tmp_path / "cams.kml"
    odd.write_text("<kml/>")
    with pytest.raises(InvalidInput, match=r"unknown file type '\.kml'.*\.gpkg"):
        ingest(odd, layer_id="cameras", source=src)
    good = tmp_path / "cams.geojson"
    cameras(2).to_file(good, driver="GeoJSON")
    with pytest.raises(NotFound, match="No layer 'camera'.*cameras"):
        ingest(good, layer_id="camera", source=src)
    nokey = tmp_path / "nokey.geojson"
    gpd.GeoDataFrame([parcel("A", square(117.9, 33.5))], crs=4326).to_file(nokey)
    with pytest.raises(InvalidInput, match="no stable id column.*--key"):
        ingest(nokey, layer_id="parcels", source=src)
    with pytest.raises(InvalidInput, match="--key 'nope'"):
        ingest(good, layer_id="cameras", source=src, key_field="nope")
    garbage = tmp_path / "broken.gpkg"
    garbage.write_bytes(b"not a geopackage")
    with pytest.raises(InvalidInput, match="broken.gpkg cannot be read"):
        ingest(garbage, layer_id="cameras", source=src)
    assert snapshot(engine, "cameras") == before


def test_missing_required_column_names_it(ingest: Ingest, src: str, tmp_path: Path) -> None:
    path = tmp_path / "p.geojson"
    gpd.GeoDataFrame([parcel("A", square(117.9, 33.5))], crs=4326).drop(
        columns="ownership").assign(id=[1]).to_file(path, driver="GeoJSON")
    with pytest.raises(InvalidInput, match=r"lacks the column\(s\) \['ownership'\]"):
        ingest(path, layer_id="parcels", source=src)


def test_zip_without_or_with_several_shapefiles(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    empty = tmp_path / "readme.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "no data here")
    with pytest.raises(InvalidInput, match="contains no .shp file"):
        ingest(empty, layer_id="cameras", source=src)

    folder = tmp_path / "two"
    folder.mkdir()
    write_shapefile(cameras(2, prefix="TSTA"), folder / "east.shp")
    write_shapefile(cameras(3, prefix="TSTB"), folder / "west.shp")
    both = tmp_path / "both.zip"
    with zipfile.ZipFile(both, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f.name)
    with pytest.raises(InvalidInput, match=r"several Shapefiles \['east.shp', 'west.shp'\]"):
        ingest(both, layer_id="cameras", source=src)
    result = ingest(both, layer_id="cameras", source=src, layer="west")
    assert result.ok and result.inserted == 3
    assert "direction_deg" in result.columns_written  # from the truncated 'direction_'
    got = stored(engine, "cameras", src, "direction_deg")
    assert {k: r["direction_deg"] for k, r in got.items()} == \
        {code_for("TSTB-000"): 0.0, code_for("TSTB-001"): 10.0, code_for("TSTB-002"): 20.0}
