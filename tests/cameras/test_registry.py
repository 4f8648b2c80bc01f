"""The camera register on the real PostGIS: export then import gives the same rows (CSV and
JSON), bad rows are refused with the wrong part named, a password is kept only as HA1 and
never exported, hostile files are refused before parsing; the CLI goes through it."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from backend.cameras.register_io import COLUMNS, MAX_BYTES
from backend.cameras.registry import export_register, export_rows, import_register
from backend.errors import InvalidInput
from backend.settings import Settings
from tests.camera_codes import code_for
from tests.test_cli import cityops

DEMO = "demo:sixian"
REALM = "3413240000"
SEAT = (117.88003, 33.47922)


def _csv(path: Path, rows: list[dict[str, object]], columns: list[str] | None = None) -> Path:
    cols = columns or list(rows[0])
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture()
def ours(engine: Engine, county: dict[str, int]) -> Iterator[str]:
    """A source name for this test's cameras; they and their devices are removed after."""
    src = "test:register"
    yield src
    with engine.begin() as conn:
        conn.execute(sa.text(
            "DELETE FROM camera_devices WHERE code IN (SELECT code FROM cameras WHERE source = "
            ":s UNION SELECT parent_code FROM cameras WHERE source = :s)"), {"s": src})
        conn.execute(sa.text("DELETE FROM cameras WHERE source = :s"), {"s": src})


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_then_import_gives_the_same_rows(engine: Engine, county: dict[str, int],
                                                tmp_path: Path, fmt: str) -> None:
    first = tmp_path / f"register.{fmt}"
    n = export_register(engine, first, source=DEMO)
    assert n == county["cameras"]
    rows = export_rows(engine, source=DEMO)
    assert any(r["presets"] for r in rows) and any(r["parent_code"] for r in rows)
    report = import_register(engine, first, realm=REALM, source=DEMO)
    assert report.ok and report.rejected_rows == [] and report.updated == n
    assert report.inserted == 0
    again = tmp_path / f"again.{fmt}"
    export_register(engine, again, source=DEMO)
    assert again.read_bytes() == first.read_bytes()
    assert export_rows(engine, source=DEMO) == rows


def test_new_cameras_round_trip_with_presets_and_devices(engine: Engine, ours: str,
                                                         tmp_path: Path) -> None:
    demo = export_rows(engine, source=DEMO)
    dome = next(r for r in demo if r["presets"])
    bullet = next(r for r in demo if not r["presets"] and not r["parent_code"])
    nvr = code_for("register-nvr", industry="01", type_code="118")
    rows = [{**dome, "code": code_for("register-dome")},
            {**bullet, "code": code_for("register-bullet"), "keepalive_s": 30},
            {**bullet, "code": code_for("register-channel", industry="01"), "kind": "xueliang",
             "parent_code": nvr, "keepalive_s": 120}]
    path = tmp_path / "new.json"
    path.write_text(json.dumps({"cameras": rows}, ensure_ascii=False), encoding="utf-8")
    report = import_register(engine, path, realm=REALM, source=ours)
    assert report.ok and report.inserted == 3 and report.presets == len(dome["presets"])
    got = {r["code"]: r for r in export_rows(engine, source=ours)}
    assert got[rows[0]["code"]] == {**rows[0], "keepalive_s": 60}  # a new IPC: the default
    assert got[rows[1]["code"]]["keepalive_s"] == 30
    channel = got[rows[2]["code"]]
    assert channel["parent_code"] == nvr and channel["keepalive_s"] == 120
    with engine.connect() as conn:
        devices = dict(conn.execute(sa.text(
            "SELECT code, keepalive_s FROM camera_devices WHERE code = ANY(:c)"),
            {"c": [nvr, rows[2]["code"], rows[1]["code"]]}).all())
    assert devices == {nvr: 120, rows[1]["code"]: 30}  # a channel behind an NVR registers not


def test_bad_rows_are_refused_with_the_wrong_part_named(engine: Engine, ours: str,
                                                        tmp_path: Path) -> None:
    good = {"code": code_for("register-good"), "name": "测试路口", "kind": "traffic",
            "lon": SEAT[0], "lat": SEAT[1], "fov_deg": 45, "presets": ""}
    nvr_as_camera = code_for("register-nvr2", industry="01", type_code="118")
    rows = [good,
            {**good, "code": "3413240000132000001"},                   # 19 digits
            {**good, "code": "11010500001320000001"},                  # Beijing
            {**good, "code": "34132400991320000001"},                  # industry 99
            {**good, "code": nvr_as_camera},                           # an NVR is no camera
            {**good, "code": code_for("register-fov"), "fov_deg": 400},
            {**good, "code": code_for("register-far"), "lon": 116.40, "lat": 39.90},
            {**good, "code": code_for("register-kind"), "kind": "dome"},
            {**good, "code": code_for("register-presets"), "presets": "[{\"preset_no\": 1"},
            {**good, "code": code_for("register-nokind"), "kind": ""},
            {**good}]                                                  # repeated
    path = _csv(tmp_path / "mixed.csv", rows)
    report = import_register(engine, path, realm=REALM, source=ours,
                             report_path=tmp_path / "report.json")
    assert report.ok and report.inserted == 1
    reasons = {r.row: r.reason for r in report.rejected_rows}
    assert "format: must be exactly 20 digits" in reasons[2]
    assert "centre code: 110105 is not this county (341324)" in reasons[3]
    assert "industry: 99 is not an industry code" in reasons[4]
    assert "type: 118 (NVR) is not a camera" in reasons[5]
    assert reasons[6] == "fov_deg: 400 is outside (0, 360]"
    assert "is outside the county" in reasons[7]
    assert "kind: 'dome' is not one of tianwang, xueliang, traffic" in reasons[8]
    assert reasons[9].startswith("presets: not valid JSON")
    assert reasons[10] == "kind: required for a camera not yet in the registry"
    assert reasons[11] == "code: repeated (first on row 1)"
    saved = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert saved["rejected"] == 10 and saved["inserted"] == 1
    refused = list(csv.reader((tmp_path / "report.rejected.csv").open(encoding="utf-8")))
    assert refused[0] == ["row", "code", "reason"] and len(refused) == 11
    only_bad = _csv(tmp_path / "bad.csv", rows[1:3])
    with pytest.raises(InvalidInput, match="all 2 rows were refused"):
        import_register(engine, only_bad, realm=REALM, source=ours)


def test_password_is_kept_only_as_ha1_and_never_exported(engine: Engine, ours: str,
                                                         tmp_path: Path) -> None:
    code = code_for("register-secret")
    secret = "Sx-pa55word-示意"
    path = tmp_path / "secret.json"
    path.write_text(json.dumps([{"code": code, "kind": "tianwang", "lon": SEAT[0],
                                 "lat": SEAT[1], "password": secret}]), encoding="utf-8")
    assert import_register(engine, path, realm=REALM, source=ours, actor="test").ok
    with engine.connect() as conn:
        ha1 = conn.execute(sa.text("SELECT ha1 FROM camera_devices WHERE code = :c"),
                           {"c": code}).scalar_one()
        logged = conn.execute(sa.text(
            "SELECT data::text FROM audit_log WHERE action = 'cameras.import' "
            "ORDER BY id DESC LIMIT 1")).scalar_one()
    assert ha1 == hashlib.md5(f"{code}:{REALM}:{secret}".encode()).hexdigest()
    assert secret not in logged and ha1 not in logged and '"passwords": 1' in logged
    for fmt in ("csv", "json"):
        out = tmp_path / f"out.{fmt}"
        export_register(engine, out, source=ours)
        text = out.read_text(encoding="utf-8-sig")
        assert code in text and secret not in text and ha1 not in text
        assert "password" not in text and "ha1" not in text
    assert "password" not in COLUMNS


def test_hostile_files_are_refused_before_parsing(engine: Engine, ours: str,
                                                  tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with big.open("wb") as fh:
        fh.truncate(MAX_BYTES + 1)  # sparse: the size is refused before a byte is read
    with pytest.raises(InvalidInput, match="over the register limit of 17 MB"):
        import_register(engine, big, realm=REALM, source=ours)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(f"code,name,kind,lon,lat\n{code_for('register-gbk')},东关路口,traffic,"
                    f"{SEAT[0]},{SEAT[1]}\n".encode("gbk"))
    with pytest.raises(InvalidInput, match="not valid utf-8 text.*--encoding"):
        import_register(engine, gbk, realm=REALM, source=ours)
    assert import_register(engine, gbk, realm=REALM, source=ours, encoding="gb18030").ok
    assert export_rows(engine, source=ours)[0]["name"] == "东关路口"
    broken = tmp_path / "broken.json"
    broken.write_text('{"cameras": [{"code": "3413', encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"not valid JSON \(line 1, column"):
        import_register(engine, broken, realm=REALM, source=ours)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(InvalidInput, match="not valid JSON|expected an object"):
        import_register(engine, deep, realm=REALM, source=ours)
    unknown = _csv(tmp_path / "unknown.csv", [{"code": "1", "secret_sauce": "x"}])
    with pytest.raises(InvalidInput, match="unknown column.*secret_sauce"):
        import_register(engine, unknown, realm=REALM, source=ours)
    binary = tmp_path / "nul.csv"
    binary.write_bytes(b"code\n\x00\x00\x00\n")
    with pytest.raises(InvalidInput, match="NUL"):
        import_register(engine, binary, realm=REALM, source=ours)
    with pytest.raises(InvalidInput, match="no such file"):
        import_register(engine, tmp_path / "missing.csv", realm=REALM, source=ours)
    with pytest.raises(InvalidInput, match=r"\.csv or \.json"):
        import_register(engine, tmp_path / "x.xlsx", realm=REALM, source=ours)


def test_cli_ingest_export_and_report(settings: Settings, engine: Engine, ours: str,
                                      tmp_path: Path) -> None:
    code = code_for("register-cli")
    path = _csv(tmp_path / "cli.csv", [
        {"code": code, "name": "命令行路口", "kind": "tianwang", "lon": SEAT[0], "lat": SEAT[1],
         "heading_deg": 90, "fov_deg": 60, "range_m": 50},
        {"code": "12345", "name": "坏", "kind": "tianwang", "lon": SEAT[0], "lat": SEAT[1],
         "heading_deg": "", "fov_deg": "", "range_m": ""}])
    res = cityops(settings, "ingest", str(path), "--layer", "cameras", "--source", ours,
                  "--report", str(tmp_path / "r.json"))
    assert res.returncode == 1, res.stderr  # some rows refused
    assert "inserted 1" in res.stdout and "refused 1" in res.stdout
    assert "format: must be exactly 20 digits" in res.stderr
    res = cityops(settings, "ingest", str(path), "--layer", "cameras", "--crs", "4548")
    assert res.returncode == 2 and "--crs: not for a camera register" in res.stderr
    out = tmp_path / "out.json"
    res = cityops(settings, "cameras", "export", str(out), "--source", ours)
    assert res.returncode == 0, res.stderr
    assert [c["code"] for c in json.loads(out.read_text())["cameras"]] == [code]
    res = cityops(settings, "cameras", "report", "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["cameras"] >= 1 and sum(report["by_status"].values()) == report["cameras"]
    mine = next(p for p in report["problems"] if p["code"] == code)
    assert mine["problems"] == ["no view computed yet"]


def test_report_names_each_problem(engine: Engine, ours: str, tmp_path: Path) -> None:
    from backend.cameras.registry_report import registry_report

    blind, bare = code_for("report-blind"), code_for("report-bare")
    path = _csv(tmp_path / "two.csv", [
        {"code": blind, "kind": "tianwang", "lon": SEAT[0], "lat": SEAT[1], "heading_deg": 10,
         "fov_deg": 60, "range_m": 40},
        {"code": bare, "kind": "xueliang", "lon": SEAT[0], "lat": SEAT[1], "heading_deg": "",
         "fov_deg": "", "range_m": ""}])
    assert import_register(engine, path, realm=REALM, source=ours).inserted == 2
    with engine.begin() as conn:  # the cones work found it inside a building footprint
        conn.execute(sa.text(
            "INSERT INTO camera_views (camera_id, view_no, heading_deg, fov_deg, range_m, status)"
            " SELECT id, 0, 10, 60, 40, 'inside_building' FROM cameras WHERE code = :c"),
            {"c": blind})
    report = registry_report(engine)
    found = {p["code"]: p["problems"] for p in report.problems}
    assert found[blind] == ["view 0: inside_building"]
    assert found[bare][:3] == [
        "no heading (direction_deg): give heading_deg in the register",
        "no field of view: give fov_deg in the register",
        "no range: give range_m in the register"]
    assert report.by_view_status.get("inside_building", 0) >= 1
    assert report.by_problem["view_inside_building"] >= 1
    assert sum(report.by_status.values()) == report.cameras
    assert f"{blind} : view 0: inside_building" in report.text(limit=10_000)
