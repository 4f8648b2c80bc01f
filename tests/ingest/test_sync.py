"""One source per datum: re-loading a source is a full sync of that source, in one transaction;
other sources are never touched; the layer's data version moves only when a load succeeds."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from backend.errors import InvalidInput
from tests.camera_codes import code_for
from tests.ingest.conftest import Ingest, cameras, snapshot, stored, version


def _write(frame: gpd.GeoDataFrame, path: Path) -> Path:
    frame.to_file(path)
    return path


def test_reload_updates_inserts_deletes_and_leaves_other_sources(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    other = ingest(_write(cameras(2, prefix="TSTO"), tmp_path / "o.geojson"),
                   layer_id="cameras", source=src + ":other")
    assert other.ok
    others_before = stored(engine, "cameras", src + ":other")

    v1 = cameras(4)
    first = ingest(_write(v1, tmp_path / "v1.geojson"), layer_id="cameras", source=src)
    assert (first.inserted, first.updated, first.deleted) == (4, 0, 0)
    before = stored(engine, "cameras", src, "name")

    v2 = v1.drop(index=[3]).copy()  # TST-003 disappears
    v2.loc[0, "name"] = "改名"  # attribute change
    v2.loc[1, "geometry"] = shapely.Point(117.95, 33.55)  # geometry change
    v2 = gpd.GeoDataFrame(
        [*v2.to_dict("records"), {"code": code_for("TST-009"), "name": "新点", "kind": "traffic",
                                  "status": "online", "direction_deg": 1.0,
                                  "geometry": shapely.Point(117.96, 33.56)}], crs=4326)
    second = ingest(_write(v2, tmp_path / "v2.geojson"), layer_id="cameras", source=src)

    assert (second.read, second.inserted, second.updated, second.unchanged, second.deleted) == \
        (4, 1, 2, 1, 1)
    after = stored(engine, "cameras", src, "name")
    c0, c1, c2, c9 = (code_for(f"TST-00{i}") for i in (0, 1, 2, 9))
    assert set(after) == {c0, c1, c2, c9}  # no duplicates
    assert after[c0]["name"] == "改名"
    assert (after[c1]["geom"].x, after[c1]["geom"].y) == (117.95, 33.55)
    assert after[c0]["updated_at"] > before[c0]["updated_at"]
    assert after[c2]["updated_at"] == before[c2]["updated_at"]  # unchanged row
    assert stored(engine, "cameras", src + ":other") == others_before

    again = ingest(tmp_path / "v2.geojson", layer_id="cameras", source=src)
    assert (again.inserted, again.updated, again.unchanged, again.deleted) == (0, 0, 4, 0)
    with engine.connect() as conn:  # every load is in the audit log
        loads = conn.execute(sa.text(
            "SELECT data->>'file', (data->>'inserted')::int FROM audit_log "
            "WHERE action = 'data.load' AND entity = 'cameras' AND entity_id = :s ORDER BY id"),
            {"s": src}).all()
    assert [tuple(r) for r in loads] == [("v1.geojson", 4), ("v2.geojson", 1), ("v2.geojson", 0)]


def test_append_keeps_keys_missing_from_the_file(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    assert ingest(_write(cameras(3), tmp_path / "a.geojson"), layer_id="cameras",
                  source=src).ok
    extra = cameras(5).iloc[3:]
    result = ingest(_write(extra, tmp_path / "b.geojson"), layer_id="cameras", source=src,
                    append=True)
    assert (result.inserted, result.deleted) == (2, 0)
    assert set(stored(engine, "cameras", src)) == {code_for(f"TST-00{i}") for i in range(5)}

    full = ingest(tmp_path / "b.geojson", layer_id="cameras", source=src)
    assert full.deleted == 3 and set(stored(engine, "cameras", src)) == {
        code_for("TST-003"), code_for("TST-004")}


def test_data_version_moves_only_on_success(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    v0 = version(engine, "cameras")
    assert ingest(_write(cameras(2), tmp_path / "ok.geojson"), layer_id="cameras",
                  source=src).ok
    v1 = version(engine, "cameras")
    assert v1 > v0

    bad = cameras(2)
    bad.loc[1, "kind"] = "ptz"
    snap = snapshot(engine, "cameras")
    with pytest.raises(InvalidInput):
        ingest(_write(bad, tmp_path / "bad.geojson"), layer_id="cameras", source=src)
    assert version(engine, "cameras") == v1 and snapshot(engine, "cameras") == snap


def test_tolerated_rejects_keep_the_stored_version_of_their_keys(
    ingest: Ingest, engine: Engine, src: str, tmp_path: Path
) -> None:
    """A full sync with a rejected row must not delete that feature's stored version."""
    assert ingest(_write(cameras(3), tmp_path / "a.geojson"), layer_id="cameras",
                  source=src).ok
    v2 = cameras(3)
    v2.loc[2, "kind"] = "ptz"
    v2.loc[0, "name"] = "新名"
    result = ingest(_write(v2, tmp_path / "b.geojson"), layer_id="cameras", source=src,
                    max_reject_ratio=0.5)
    assert (result.updated, result.rejected, result.deleted) == (1, 1, 0)
    got = stored(engine, "cameras", src, "name, kind")
    assert got[code_for("TST-002")]["kind"] == "traffic"
    assert got[code_for("TST-000")]["name"] == "新名"


def test_report_file_and_progress_bar(
    ingest: Ingest, src: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    report = tmp_path / "reports" / "cams.json"
    result = ingest(_write(cameras(7), tmp_path / "c.geojson"), layer_id="cameras",
                    source=src, report_path=report, progress=True, batch_rows=3)
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["status"] == "loaded" and data["inserted"] == 7 == result.inserted
    assert data["source"] == src and data["crs_used"] == "EPSG:4326"
    rejected = (tmp_path / "reports" / "cams.rejected.csv").read_text(encoding="utf-8")
    assert rejected.splitlines() == ["row,source_key,reason"]
    assert "7/7" in capsys.readouterr().err
