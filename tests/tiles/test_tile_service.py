"""The one TileService every source kind plugs into: format and variant checks named in the
answer, single-flight for cold tiles, live layers known but tile-less, and SQL sources (a view
and a set-returning function) served like tables."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.catalog.strict import CatalogError
from backend.settings import Settings
from tests.conftest import ROOT
from tests.tiles.test_vector_tiles import busiest_tile
from tiles.cache import DataVersions, TileCache
from tiles.connections import raw_connections
from tiles.service import TileService


class SlowSource:
    """A real Source (tiles.source protocol) whose render takes a while and is counted."""

    id = "slow"
    minzoom, maxzoom = 0, 22
    formats = ("png",)
    variants: tuple[str, ...] = ()
    version_keys = ("slow_table",)

    def __init__(self) -> None:
        self.renders = 0
        self._lock = threading.Lock()

    def tilejson(self, tile_url: str, bounds: list[float] | None) -> dict[str, Any]:
        return {"tiles": [tile_url]}

    def get_tile(self, z: int, x: int, y: int, fmt: str, variant: str | None = None) -> bytes:
        with self._lock:
            self.renders += 1
        time.sleep(0.3)
        return f"{z}/{x}/{y}".encode()


@pytest.mark.parametrize("cached", [True, False])
def test_a_cold_tile_is_rendered_once_however_many_ask_at_once(
    engine: sa.Engine, cached: bool
) -> None:
    source = SlowSource()
    service = TileService([source], DataVersions(raw_connections(engine)),
                          TileCache(1 << 20) if cached else None)
    results: list[bytes | None] = []
    barrier = threading.Barrier(8)

    def ask() -> None:
        barrier.wait()
        results.append(service.get(["slow"], 12, 3, 5, "png").data)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [b"12/3/5"] * 8
    assert source.renders == 1 and service.joined == 7
    service.get(["slow"], 12, 3, 5, "png")
    # With a cache the next ask is a hit; without one it renders again (nothing in flight).
    assert source.renders == (1 if cached else 2)


def test_a_format_the_layer_cannot_give_is_a_404_naming_what_it_can(client: TestClient) -> None:
    r = client.get("/tiles/roads/14/13632/6591.png")
    assert r.status_code == 404
    assert r.json()["available"] == ["mvt"]
    assert "'roads' has no 'png' tiles; it gives: mvt" in r.json()["detail"]
    r = client.get("/tiles/roads/14/13632/6591.mvt?encoding=terrarium")
    assert r.status_code == 404 and "one rendering" in r.json()["detail"]
    r = client.get("/tiles/roads/14/13632/6591.tif")
    assert r.status_code == 400 and "FORMAT one of mvt, png, jpg, webp" in r.json()["detail"]
    r = client.get("/tiles/roads,nope/14/13632/6591.mvt")
    assert r.status_code == 404 and "nope" in r.json()["detail"]


def test_a_live_layer_is_in_the_catalog_but_has_no_tiles(client: TestClient) -> None:
    from tests.conftest import bearer

    auth = bearer(client, "dispatcher")
    layers = {la["id"]: la for la in client.get("/api/layers", headers=auth).json()["layers"]}
    live = layers["vehicles"]
    assert live["kind"] == "live" and live["channel"] == "vehicles.positions"
    assert live["tiles"] is None and live["formats"] == []
    r = client.get("/tiles/vehicles/14/13632/6591.mvt", headers=auth)
    assert r.status_code == 404
    assert "it gives: none (it is drawn live from the hub)" in r.json()["detail"]
    tj = client.get("/tiles/vehicles.json", headers=auth)
    assert tj.status_code == 404 and "subscribe to the channel" in tj.json()["detail"]


def test_the_catalog_payload_gives_domains_in_order_and_kinds(anonymous: TestClient) -> None:
    body = anonymous.get("/api/layers").json()
    domains = body["domains"]
    assert [d["order"] for d in domains] == sorted(d["order"] for d in domains)
    assert domains[0] == {"id": "boundaries", "zh": "行政区划", "en": "Boundaries", "order": 10,
                          "icon": "boundary"}
    layers = {la["id"]: la for la in body["layers"]}
    assert layers["roads"]["kind"] == "table" and layers["roads"]["tiles"].endswith(".mvt")
    assert layers["roads"]["available"] is True
    county = layers["ortho_county"]  # public imagery
    assert county["kind"] == "cog" and county["basemap"] == "imagery"
    assert county["tiles"] == "/tiles/ortho_county/{z}/{x}/{y}.webp"
    assert "ortho" not in layers  # 1 m imagery is for staff only


SQL_LAYERS = {
    "t_big_buildings": """id: t_big_buildings
title: {zh: 高层建筑(视图), en: Tall buildings (view)}
department: 测试
source: {kind: sql, view: t_tall_buildings, reads: [buildings]}
geometry: polygon
fields:
  - {name: height, zh: 高度, en: Height}
style:
  - {type: fill}
roles: [public]
""",
    "t_buildings_over": """id: t_buildings_over
title: {zh: 高于给定高度的建筑(函数), en: Buildings above a height (function)}
department: 测试
source: {kind: sql, function: t_buildings_over, args: {min_height: 15.0}, reads: [buildings]}
geometry: polygon
fields:
  - {name: height, zh: 高度, en: Height}
style:
  - {type: fill}
roles: [public]
""",
}


@pytest.fixture(scope="module")
def sql_layers(admin_engine: sa.Engine, engine: sa.Engine,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with engine.connect() as conn:
        app_role = conn.execute(sa.text("SELECT current_user")).scalar()
    with admin_engine.begin() as conn:  # views and functions come with migrations: owner DDL
        conn.execute(sa.text(
            "CREATE VIEW t_tall_buildings AS SELECT id, height, geom, geom_3857 FROM buildings "
            "WHERE height >= 20"))
        conn.execute(sa.text(f'GRANT SELECT ON t_tall_buildings TO "{app_role}"'))
        conn.execute(sa.text(
            "CREATE FUNCTION t_buildings_over(area geometry, z integer, min_height float8) "
            "RETURNS TABLE (id bigint, height float8, geom_3857 geometry) LANGUAGE sql STABLE AS "
            "$$ SELECT b.id::bigint, b.height::float8, b.geom_3857 FROM buildings b "
            "WHERE b.geom_3857 && area AND b.height > min_height $$"))
    folder = tmp_path_factory.mktemp("sql") / "layers"
    shutil.copytree(ROOT / "layers", folder)
    for name, text in SQL_LAYERS.items():
        (folder / "base" / f"{name}.yaml").write_text(text, encoding="utf-8")
    yield folder
    with admin_engine.begin() as conn:
        conn.execute(sa.text("DROP VIEW t_tall_buildings"))
        conn.execute(sa.text("DROP FUNCTION t_buildings_over(geometry, integer, float8)"))


def test_sql_layers_view_and_function_serve_tiles_like_tables(
    settings: Settings, engine: sa.Engine, sql_layers: Path, county: dict, users: dict
) -> None:
    from backend.main import create_app

    z, x, y = busiest_tile(engine, "buildings", 15)
    with engine.connect() as conn:
        heights = dict(conn.execute(sa.text(
            "SELECT id, height FROM buildings WHERE geom_3857 && ST_TileEnvelope(:z, :x, :y)"
        ), {"z": z, "x": x, "y": y}).all())
    assert any(h >= 20 for h in heights.values()) and any(h < 15 for h in heights.values())
    app = create_app(settings.model_copy(update={"layers_dir": sql_layers}))
    with TestClient(app) as client:
        tile = client.get(f"/tiles/t_big_buildings,t_buildings_over/{z}/{x}/{y}.mvt")
        assert tile.status_code == 200
        decoded = mapbox_vector_tile.decode(tile.content)
    tall = {f["id"]: f["properties"]["height"] for f in decoded["t_big_buildings"]["features"]}
    over = {f["id"]: f["properties"]["height"] for f in decoded["t_buildings_over"]["features"]}
    assert all(h >= 20 for h in tall.values()) and all(h > 15 for h in over.values())
    # Exactly what the view and the function select among the buildings in the tile.
    assert {i for i, h in heights.items() if h >= 20} <= set(tall)
    assert {i for i, h in heights.items() if h > 15} <= set(over)
    assert not {i for i, h in heights.items() if h <= 15} & set(over)


def test_a_sql_layer_over_a_missing_view_stops_the_server_with_the_file_named(
    settings: Settings, tmp_path: Path
) -> None:
    from backend.main import create_app

    folder = tmp_path / "layers"
    shutil.copytree(ROOT / "layers", folder)
    (folder / "base" / "t_missing.yaml").write_text(
        SQL_LAYERS["t_big_buildings"].replace("t_big_buildings", "t_missing")
        .replace("view: t_tall_buildings", "view: t_no_such_view"), encoding="utf-8")
    app = create_app(settings.model_copy(update={"layers_dir": folder}))
    with pytest.raises(CatalogError, match="base/t_missing.yaml: source.view: no view"), \
            TestClient(app):
        pass
