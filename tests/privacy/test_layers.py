"""Personal fields of a layer (`kind` in its YAML) through the real app: OGC items mask them
(a page is a list), one item shows them in full to personal:read and audits the look, they
cannot be filtered on, and shared tiles and TileJSON never carry them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import mapbox_vector_tile
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import ValidationError

from backend.catalog.layers import LayerSpec
from backend.settings import Settings
from tests.camera_codes import code_for
from tests.conftest import ROOT, bearer
from tiles.tms import lonlat_to_tile

TAG = "t-privacy-layer"
CODE = code_for(TAG)
POINT = (117.8861, 33.4823)
# A layer over the cameras table whose `name` holds a person's name (as a population or
# contacts layer would), open to viewers and dispatchers.
LAYER = """id: t_people
title: {zh: 联系人(测试), en: Contacts (test)}
department: 测试
source: {kind: table, table: cameras}
geometry: point
fields:
  - {name: code, zh: 编号, en: Code}
  - {name: name, zh: 姓名, en: Name, kind: name}
  - {name: status, zh: 状态, en: Status}
style:
  - {type: circle}
roles: [viewer, dispatcher, admin]
"""


@pytest.fixture(scope="module")
def people_app(settings: Settings, county: dict, users: dict, engine: sa.Engine,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from backend.main import create_app

    folder = tmp_path_factory.mktemp("catalog") / "layers"
    shutil.copytree(ROOT / "layers", folder)
    (folder / "governance" / "t_people.yaml").write_text(LAYER, encoding="utf-8")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO cameras (source, source_key, code, name, kind, status, geom) "
            "VALUES (:t, :t, :code, '李四光', 'tianwang', 'online', "
            "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"),
            {"t": TAG, "code": CODE, "lon": POINT[0], "lat": POINT[1]})
    app = create_app(settings.model_copy(update={"layers_dir": Path(folder)}))
    with TestClient(app) as c:
        yield c
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM cameras WHERE source = :t"), {"t": TAG})


def ours(features: list[dict]) -> dict:
    return next(f for f in features if f["properties"]["code"] == CODE)


def test_items_are_masked_for_everyone_and_cannot_be_filtered_on_a_person(
    people_app: TestClient,
) -> None:
    for role in ("viewer", "admin"):
        who = bearer(people_app, role)
        page = people_app.get("/ogc/collections/t_people/items",
                              params={"code": CODE}, headers=who)
        assert page.status_code == 200, page.text
        assert ours(page.json()["features"])["properties"]["name"] == "李**"
    probe = people_app.get("/ogc/collections/t_people/items", params={"name": "李四光"},
                           headers=bearer(people_app, "admin"))
    assert probe.status_code == 400 and "personal" in probe.json()["detail"]


def test_one_item_in_full_for_personal_read_and_audited(
    people_app: TestClient, engine: sa.Engine
) -> None:
    admin = bearer(people_app, "admin")
    page = people_app.get("/ogc/collections/t_people/items", params={"code": CODE},
                          headers=admin).json()
    fid = ours(page["features"])["id"]
    with engine.connect() as conn:
        head = conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one()
    viewer = people_app.get(f"/ogc/collections/t_people/items/{fid}",
                            headers=bearer(people_app, "viewer")).json()
    assert viewer["properties"]["name"] == "李**"
    full = people_app.get(f"/ogc/collections/t_people/items/{fid}", headers=admin).json()
    assert full["properties"]["name"] == "李四光"
    with engine.connect() as conn:
        looks = conn.execute(sa.text(
            "SELECT actor, entity, entity_id, data FROM audit_log WHERE id > :h "
            "AND action = 'privacy.unmasked_view'"), {"h": head}).all()
    assert [(r.actor, r.entity, r.entity_id, r.data["fields"]) for r in looks] == [
        ("admin", "layer:t_people", str(fid), ["name"])]


def test_tiles_and_tilejson_never_carry_a_personal_field(people_app: TestClient) -> None:
    admin = bearer(people_app, "admin")
    z = 16
    x, y = lonlat_to_tile(POINT[0], POINT[1], z)
    tile = people_app.get(f"/tiles/t_people/{z}/{x}/{y}.mvt", headers=admin)
    assert tile.status_code == 200, tile.text
    features = mapbox_vector_tile.decode(tile.content)["t_people"]["features"]
    mine = [f for f in features if f["properties"].get("code") == CODE]
    assert mine and "name" not in mine[0]["properties"]
    assert mine[0]["properties"]["status"] == "online"
    tilejson = people_app.get("/tiles/t_people.json", headers=admin).json()
    assert "name" not in tilejson["vector_layers"][0]["fields"]


def test_a_layer_cannot_rank_tiles_by_a_personal_field() -> None:
    import yaml

    raw = {**yaml.safe_load(LAYER), "domain": "governance"}
    raw["rank"] = {"field": "name"}
    with pytest.raises(ValidationError, match="personal field"):
        LayerSpec.model_validate(raw)
    raw["rank"] = {"field": "status"}
    raw["fields"][1]["kind"] = "passport"
    with pytest.raises(ValidationError, match="kind"):
        LayerSpec.model_validate(raw)
