"""Standards a real client reads: the CKAN Action API through the `ckanapi` client against a
live server, and the DCAT-AP export parsed with rdflib."""

from __future__ import annotations

import ckanapi
import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from rdflib import Graph
from rdflib import namespace as ns

from tests.conftest import login_token


@pytest.fixture(scope="module")
def open_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM datasets WHERE open_type = 'open'")
                            ).scalar_one()


def test_ckanapi_reads_the_open_catalog_anonymously(live_server: str, open_count: int) -> None:
    ckan = ckanapi.RemoteCKAN(live_server)
    status = ckan.action.status_show()
    assert status["ckan_version"].startswith("2.")
    names = ckan.action.package_list()
    assert len(names) == open_count and "enterprises" in names
    assert "household_population" not in names  # conditional share: not open
    found = ckan.action.package_search(q="企业", rows=5)
    assert found["count"] >= 1 and len(found["results"]) <= 5
    assert all(p["title"] for p in found["results"])
    pkg = ckan.action.package_show(id="enterprises")
    assert pkg["title"] == "企业基本信息" and pkg["organization"]["name"] == "scjg"
    assert {r["format"] for r in pkg["resources"]} == {"JSON", "CSV", "GeoJSON"}
    assert any(e["key"] == "resource_code" for e in pkg["extras"])
    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id="household_population")
    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id="no_such_dataset")


def test_ckanapi_with_a_session_token_sees_everything(live_server: str, client: TestClient,
                                                      open_count: int) -> None:
    token = login_token(client, "viewer")
    ckan = ckanapi.RemoteCKAN(live_server, apikey=token)
    people = ckan.action.package_search(q="人口", rows=50)
    assert "household_population" in {p["name"] for p in people["results"]}
    assert len(ckan.action.package_list()) > open_count
    gaj = ckan.action.package_search(fq="organization:GAJ", rows=1000)
    assert gaj["count"] >= 21 and all(p["owner_org"] == "GAJ" for p in gaj["results"])
    csv = ckan.action.package_search(fq='res_format:"CSV"', rows=1000)
    # the content datasets (暂住人口信息 since issue 13, the domains' since issue 14)
    assert csv["count"] == 48
    tagged = ckan.action.package_search(fq="tags:公安局", rows=3, start=1)
    assert tagged["count"] >= 20 and len(tagged["results"]) == 3
    orgs = ckan.action.organization_list(all_fields=True)
    assert len(orgs) == 42 and {"name", "title", "package_count"} <= set(orgs[0])
    assert ckan.action.organization_show(id="cgj")["title"] == "县城市管理局"
    groups = ckan.action.group_list(all_fields=True)
    assert [g["name"] for g in groups] == ["class-1", "class-2", "class-3"]
    assert sum(g["package_count"] for g in groups) == len(ckan.action.package_list())
    tags = ckan.action.tag_list(query="人口")
    assert "人口基础信息" in tags
    with pytest.raises(ckanapi.SearchQueryError):
        ckan.action.package_search(fq="colour:red")
    with pytest.raises(ckanapi.SearchQueryError):
        ckan.action.package_search(rows=1001)
    bad = ckanapi.RemoteCKAN(live_server, apikey="not-a-token")
    with pytest.raises(ckanapi.NotAuthorized):
        bad.action.package_list()


def test_ckan_get_form_and_envelope(live_server: str, client: TestClient,
                                    open_count: int) -> None:
    with httpx.Client(base_url=live_server) as http:
        bearer = {"Authorization": f"Bearer {login_token(client, 'data_bureau')}"}
        listed = http.get("/api/3/action/package_list", headers=bearer).json()["result"]
        assert len(listed) > open_count
        r = http.get("/api/3/action/package_search", params={"q": "气象", "rows": 2})
        body = r.json()
        assert r.status_code == 200 and body["success"] is True and "help" in body
        assert body["result"]["count"] >= 1
        missing = http.get("/api/3/action/package_show", params={"id": "nope"})
        assert missing.status_code == 404
        assert missing.json()["error"]["__type"] == "Not Found Error"
        assert http.get("/api/3/action/package_create").status_code == 400
        big = http.post("/api/3/action/package_list", content=b"{" + b" " * 70_000 + b"}",
                        headers={"Content-Type": "application/json"})
        assert big.status_code == 413


def test_dcat_jsonld_and_turtle_parse(anonymous: TestClient, open_count: int) -> None:
    counts = []
    for path, fmt in (("/api/catalog/dcat.jsonld", "json-ld"), ("/api/catalog/dcat.ttl",
                                                                 "turtle")):
        r = anonymous.get(path)
        assert r.status_code == 200, r.text
        g = Graph().parse(data=r.text, format=fmt)
        sets = set(g.subjects(ns.RDF.type, ns.DCAT.Dataset))
        counts.append(len(sets))
        catalog = next(g.subjects(ns.RDF.type, ns.DCAT.Catalog))
        assert len(set(g.objects(catalog, ns.DCAT.dataset))) == len(sets)
        one = next(s for s in sets if str(s).endswith("/api/datasets/enterprises"))
        titles = {(t.language, str(t)) for t in g.objects(one, ns.DCTERMS.title)}
        assert ("zh", "企业基本信息") in titles and ("en", "Registered enterprises") in titles
        assert str(g.value(one, ns.DCTERMS.accrualPeriodicity)).endswith("/frequency/DAILY")
        assert len(set(g.objects(one, ns.DCAT.distribution))) == 3
    assert counts == [open_count, open_count]
