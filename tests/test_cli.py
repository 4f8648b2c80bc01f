"""The `cityops` command as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.demo import prepare_demo
from backend.errors import Conflict
from backend.settings import Settings
from tests.camera_codes import code_for
from tests.conftest import scratch_database


def cityops(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CITYOPS_DATABASE_NAME": settings.database_name}
    return subprocess.run([sys.executable, "-m", "backend.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300, check=False)


def _cameras_geojson(path: Path, kinds: list[str]) -> Path:
    features = [
        {"type": "Feature", "properties": {"code": code_for(f"CLI-{i}"), "kind": kind,
                                           "status": "online"},
         "geometry": {"type": "Point", "coordinates": [117.88 + i / 1000, 33.48]}}
        for i, kind in enumerate(kinds)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_ingest_command_loads_a_file_and_refuses_a_bad_one(
    tmp_path: Path, settings: Settings, engine: sa.Engine, county: dict[str, int]
) -> None:
    def count() -> int:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT count(*) FROM cameras WHERE source = 'test:cli'")).scalar_one()

    bad = _cameras_geojson(tmp_path / "bad.geojson", ["traffic", "dome"])
    report = tmp_path / "report.json"
    res = cityops(settings, "ingest", str(bad), "--layer", "cameras", "--source", "test:cli",
                  "--report", str(report))
    assert res.returncode == 2
    assert "kind='dome' is not allowed" in res.stderr and "cameras is unchanged" in res.stderr
    assert report.exists() and count() == 0

    good = _cameras_geojson(tmp_path / "good.geojson", ["traffic", "xueliang"])
    res = cityops(settings, "ingest", str(good), "--layer", "cameras", "--source", "test:cli")
    assert res.returncode == 0, res.stderr
    assert "inserted 2" in res.stdout and count() == 2
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM cameras WHERE source = 'test:cli'"))


def test_ingest_into_an_unknown_layer_lists_the_layers(tmp_path: Path, settings: Settings) -> None:
    good = _cameras_geojson(tmp_path / "good.geojson", ["traffic"])
    res = cityops(settings, "ingest", str(good), "--layer", "camras")
    assert res.returncode == 2
    assert "cameras" in res.stderr and "camras" in res.stderr


def test_demo_refuses_a_non_empty_external_database(settings: Settings) -> None:
    with scratch_database(settings, "ext") as (scratch, urls):
        engine = sa.create_engine(urls.admin)
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO cameras (code, kind, source, source_key, geom) VALUES "
                "('34132400001320999002', "
                "'traffic', 'city:own', '1', ST_SetSRID(ST_MakePoint(117.88, 33.48), 4326))"))
        engine.dispose()
        external = scratch.model_copy(update={"database_url": urls.admin})
        with pytest.raises(Conflict, match="already holds 1 features from other sources"):
            prepare_demo(external, scale=0.01)


def test_db_status_reports_the_managed_cluster(settings: Settings) -> None:
    if settings.database_url:
        pytest.skip("DATABASE_URL is set")
    res = cityops(settings, "db", "status")
    assert res.returncode == 0
    status = json.loads(res.stdout)
    assert status["running"] is True and status["port"] != 5432


def test_a_broken_scenario_file_is_reported_not_a_traceback(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "scenario.yaml").write_text("name: broken\nduration_s: -1\n")
    env = {**os.environ, "CITYOPS_DATABASE_NAME": settings.database_name,
           "CITYOPS_SCENARIOS_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "backend.cli", "scenario", "run", "broken"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "broken/scenario.yaml: duration_s" in done.stderr


def test_the_stand_alone_gateway_trusts_the_fleet_register(
    settings: Settings, engine: sa.Engine, county: dict[str, int]
) -> None:
    """`cityops gateway jt808` runs (it once crashed building its pipeline) and, like the
    server's, registers an enrolled terminal and refuses an unknown one."""
    import asyncio
    import socket

    from tests.ingest.jt808.support import Terminal, fleet

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CITYOPS_DATABASE_NAME": settings.database_name}
    proc = subprocess.Popen([sys.executable, "-m", "backend.cli", "gateway", "jt808", "--port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"gateway on 127.0.0.1:{port}" in line, line or proc.stderr.read()

        async def talk() -> tuple[int, int]:
            known, unknown = Terminal("013700000091"), Terminal("013700000092")
            await known.connect(port)
            await unknown.connect(port)
            results = (await known.register()).result, (await unknown.register()).result
            await known.close()
            await unknown.close()
            return results

        with fleet(engine, "013700000091"):
            assert asyncio.run(talk()) == (0, 2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
