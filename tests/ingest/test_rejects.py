"""Bad rows are rejected with a reason; by default one bad row fails the whole file and the
table stays byte-for-byte as it was."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from sqlalchemy.engine import Engine

from backend.db.engine import create_engine
from backend.errors import InvalidInput
from backend.ingest.report import IngestResult
from backend.settings import Settings
from tests.camera_codes import code_for
from tests.conftest import scratch_database
from tests.ingest.conftest import Ingest, cameras, parcel, snapshot, square, stored, version

BOWTIE = shapely.Polygon([(117.90, 33.50), (117.91, 33.51), (117.91, 33.50), (117.90, 33.51)])


def _fails(exc: pytest.ExceptionInfo[InvalidInput]) -> IngestResult:
    result = exc.value.detail["result"]
    assert isinstance(result, IngestResult) and result.status == "failed"
    return result


def test_bowtie_is_repaired_into_a_multipolygon(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    assert not BOWTIE.is_valid
    path = tmp_path / "p.geojson"
    rows = [parcel("OK", square(117.95, 33.55)) | {"id": 1}, parcel("BOW", BOWTIE) | {"id": 2}]
    gpd.GeoDataFrame(rows, crs=4326).to_file(path)

    result = ingest(path, layer_id="parcels", source=src)

    assert result.ok and (result.inserted, result.repaired, result.rejected) == (2, 1, 0)
    fix = result.repaired_rows[0]
    assert fix.row == 2 and fix.key == "2" and "Self-intersection" in fix.reason
    got = stored(engine, "parcels", src, "ST_IsValid(geom) AS valid, ST_NumGeometries(geom) AS n")
    assert got["2"]["valid"] and got["2"]["n"] == 2
    assert got["2"]["geom"].area == pytest.approx(2 * 0.5 * 0.01 * 0.005)  # both triangles kept


def test_polygons_for_a_line_layer_fail_the_file_and_change_nothing(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    good = tmp_path / "pipes.geojson"
    gpd.GeoDataFrame({"id": [1, 2], "network": ["gas", "power"]},
                     geometry=[shapely.LineString([(117.9, 33.5), (117.91, 33.5)])] * 2,
                     crs=4326).to_file(good)
    assert ingest(good, layer_id="pipelines", source=src).ok
    before, v0 = snapshot(engine, "pipelines"), version(engine, "pipelines")

    bad = tmp_path / "pipes_v2.geojson"
    gpd.GeoDataFrame({"id": [1, 2, 3], "network": ["gas", "power", "gas"]},
                     geometry=[shapely.LineString([(117.9, 33.5), (117.92, 33.5)]),
                               square(117.9, 33.5), BOWTIE], crs=4326).to_file(bad)
    report = tmp_path / "out" / "pipes.json"
    with pytest.raises(InvalidInput, match="2 of 3 rows rejected.*pipelines is unchanged") as exc:
        ingest(bad, layer_id="pipelines", source=src, report_path=report)

    result = _fails(exc)
    assert [(r.row, r.key) for r in result.rejected_rows] == [(2, "2"), (3, "3")]
    assert "a Polygon, but this layer stores LineString" in result.rejected_rows[0].reason
    assert (result.inserted, result.updated, result.deleted) == (0, 0, 0)
    assert snapshot(engine, "pipelines") == before
    assert version(engine, "pipelines") == v0
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["status"] == "failed" and data["rejected"] == 2
    with (tmp_path / "out" / "pipes.rejected.csv").open(encoding="utf-8") as fh:
        assert [r["row"] for r in csv.DictReader(fh)] == ["2", "3"]


def test_multilinestrings_one_part_accepted_several_rejected(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    one = shapely.MultiLineString([[(117.9, 33.5), (117.91, 33.5)]])
    two = shapely.MultiLineString([[(117.9, 33.5), (117.91, 33.5)],
                                   [(117.92, 33.5), (117.93, 33.5)]])
    path = tmp_path / "pipes.geojson"
    gpd.GeoDataFrame({"id": [1, 2], "network": ["gas", "gas"]}, geometry=[one, two],
                     crs=4326).to_file(path)
    result = ingest(path, layer_id="pipelines", source=src, max_reject_ratio=0.5)
    assert result.ok and (result.inserted, result.rejected) == (1, 1)
    assert "MultiLineString with 2 parts" in result.rejected_rows[0].reason
    assert "split it into 2 features" in result.rejected_rows[0].reason
    got = stored(engine, "pipelines", src)
    assert list(got) == ["1"] and got["1"]["geom"].geom_type == "LineString"


def test_check_constraint_and_type_errors_read_like_sentences(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    frame = cameras(3)
    frame.loc[1, "kind"] = "dome"
    frame.loc[2, "status"] = "broken"
    frame["direction_deg"] = frame["direction_deg"].astype(object)
    frame.loc[0, "direction_deg"] = "north"
    path = tmp_path / "cams.geojson"
    frame.to_file(path)
    before = snapshot(engine, "cameras")
    with pytest.raises(InvalidInput) as exc:
        ingest(path, layer_id="cameras", source=src)
    reasons = {r.row: r.reason for r in _fails(exc).rejected_rows}
    assert reasons[1] == "direction_deg: 'north' is not a number"
    assert reasons[2] == ("kind='dome' is not allowed: must satisfy "
                          "kind IN ('tianwang','xueliang','traffic')")
    assert "status='broken' is not allowed" in reasons[3]
    assert snapshot(engine, "cameras") == before


def test_camera_ids_must_decode_with_the_wrong_part_named(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    frame = cameras(4)
    frame.loc[0, "code"] = "CAM-0001"                       # not 20 digits
    frame.loc[1, "code"] = "11010500001320000001"           # Beijing, not this county
    frame.loc[2, "code"] = "34132400991320000001"           # industry 99
    path = tmp_path / "cams.geojson"
    frame.to_file(path)
    before = snapshot(engine, "cameras")
    with pytest.raises(InvalidInput) as exc:
        ingest(path, layer_id="cameras", source=src)
    reasons = {r.row: r.reason for r in _fails(exc).rejected_rows}
    assert set(reasons) == {1, 2, 3}
    assert "format: must be exactly 20 digits" in reasons[1]
    assert "centre code: 110105 is not this county (341324)" in reasons[2]
    assert "industry: 99 is not an industry code" in reasons[3]
    assert snapshot(engine, "cameras") == before


def test_value_errors_required_length_integer(
    ingest: Ingest, src: str, tmp_path: Path
) -> None:
    rows = [parcel("A" * 20, square(117.9, 33.5)) | {"id": 1},
            parcel("B", square(117.91, 33.5)) | {"id": 2, "ownership": None},
            parcel("C", square(117.92, 33.5)) | {"id": 3, "area_m2": None}]
    path = tmp_path / "p.geojson"
    gpd.GeoDataFrame(rows, crs=4326).to_file(path)
    with pytest.raises(InvalidInput, match="all 3 rows were rejected") as exc:
        ingest(path, layer_id="parcels", source=src)
    reasons = {r.row: r.reason for r in _fails(exc).rejected_rows}
    assert reasons[1].startswith("parcel_code: 20 characters, more than the 19 allowed")
    assert reasons[2] == "ownership: required, but empty"
    assert reasons[3] == "area_m2: required, but empty"

    pipes = tmp_path / "pipes.csv"
    pipes.write_text("id,network,diameter_mm,install_year,wkt\n"
                     "1,gas,abc,2001,\"LINESTRING (117.9 33.5, 117.91 33.5)\"\n"
                     "2,gas,100,70000,\"LINESTRING (117.9 33.5, 117.91 33.5)\"\n"
                     "3,gas,100.0,2001,\"LINESTRING (117.9 33.5, 117.91 33.5)\"\n"
                     "4,gas,100,2001,not wkt\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as exc:
        ingest(pipes, layer_id="pipelines", source=src, crs=4326)
    reasons = {r.row: r.reason for r in _fails(exc).rejected_rows}
    assert reasons == {1: "diameter_mm: 'abc' is not an integer",
                       2: "install_year: 70000 is out of range for SmallInteger (-32768..32767)",
                       4: "wkt: not valid WKT ('not wkt')"}


def test_outside_county_duplicates_and_missing_geometry(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    frame = cameras(6)
    frame.loc[1, "geometry"] = shapely.Point(116.5, 33.5)  # 100 km west of the county
    frame.loc[2, "geometry"] = shapely.Point(118.205, 33.5)  # ~460 m outside: within 1 km
    frame.loc[3, "geometry"] = None
    frame.loc[5, "code"] = frame.loc[4, "code"]
    frame["sid"] = ["a", "b", "c", "d", "e", "e"]
    path = tmp_path / "cams.geojson"
    frame.to_file(path)
    with pytest.raises(InvalidInput) as exc:
        ingest(path, layer_id="cameras", source=src, key_field="sid")
    reasons = {r.row: r.reason for r in _fails(exc).rejected_rows}
    assert set(reasons) == {2, 4, 5, 6}
    assert reasons[2].startswith("outside the county")
    assert reasons[4] == "no geometry"
    assert reasons[5] == reasons[6] == "source key 'e' is repeated on rows [5, 6]"

    result = ingest(path, layer_id="cameras", source=src, key_field="sid",
                    max_reject_ratio=0.7)
    assert result.ok and result.inserted == 2 and result.rejected == 4
    assert set(stored(engine, "cameras", src)) == {"a", "c"}
    assert result.county_check.startswith("applied (given boundary + 1000 m)")


def test_unique_column_collision_with_another_source(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    first = tmp_path / "a.geojson"
    cameras(2).to_file(first)
    assert ingest(first, layer_id="cameras", source=src + ":a").ok
    second = tmp_path / "b.geojson"
    cameras(3).assign(sid=["x", "y", "z"]).to_file(second)
    with pytest.raises(InvalidInput) as exc:
        ingest(second, layer_id="cameras", source=src + ":b", key_field="sid")
    reasons = {r.row: r.reason for r in _fails(exc).rejected_rows}
    assert set(reasons) == {1, 2}
    assert reasons[1] == (f"code='{code_for('TST-000')}' is already used by source '{src}:a' key "
                          f"'{code_for('TST-000')}'; "
                          "it must be unique in cameras")


def test_no_county_boundary_skips_the_check_with_a_warning(
    settings: Settings, catalog: object, src: str, tmp_path: Path
) -> None:
    """In a database without a county boundary (a fresh one: the session's has the county)."""
    from backend.ingest.files import ingest_file

    with scratch_database(settings, "nocounty") as (_, urls):
        engine = create_engine(urls.app, pool_size=1)
        try:
            path = tmp_path / "cams.geojson"
            cameras(1, x0=10.0, y0=50.0).to_file(path)  # far from Sixian: nothing to check
            result = ingest_file(engine, catalog, path, layer_id="cameras",  # type: ignore[arg-type]
                                 source=src, progress=False)
            assert result.ok and result.county_check == "skipped: no county boundary"
            assert any("No county boundary" in w for w in result.warnings)
        finally:
            engine.dispose()


def test_empty_file_and_bad_options(ingest: Ingest, src: str, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("code,kind,lon,lat\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="contains no features"):
        ingest(path, layer_id="cameras", source=src, crs=4326)
    with pytest.raises(InvalidInput, match="max_reject_ratio"):
        ingest(path, layer_id="cameras", source=src, max_reject_ratio=2)
