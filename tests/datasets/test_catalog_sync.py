"""The catalog loader and its sync: problems named, 323 annex rows + the layers in the
database, unique ids and codes, an idempotent (and quick) sync."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.catalog.data_catalog import load_data_catalog
from backend.catalog.layers import LayerCatalog, load_catalog
from backend.catalog.strict import CatalogError
from backend.datasets.metadata import build_records
from backend.datasets.sync import sync_from
from backend.settings import Settings


@pytest.fixture(scope="module")
def layers(settings: Settings) -> LayerCatalog:
    return load_catalog(settings.layers_dir)


def _copy(settings: Settings, tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(settings.catalog_dir, target)
    return target


def test_loader_names_the_problems(settings: Settings, layers: LayerCatalog,
                                   tmp_path: Path) -> None:
    folder = _copy(settings, tmp_path)
    annex = folder / "sixian_catalog_2020.csv"
    annex.write_text(annex.read_text(encoding="utf-8") + "无名局,某某信息\n", encoding="utf-8")
    content = folder / "content.yaml"
    text = content.read_text(encoding="utf-8")
    text = text.replace("{layer: pipelines,", "{layer: no_such_layer,")
    text = text.replace("authority: household_population.birth_date}",
                        "authority: household_population.birthday}", 1)
    text = text.replace("name: 低保人员}", "name: 低保人员名单}")
    content.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        load_data_catalog(folder, layers)
    problems = "\n".join(err.value.problems)
    assert ("sixian_catalog_2020.csv: row 324 (某某信息): department '无名局' has no code"
            in problems)
    assert "content.yaml: layers.no_such_layer: layer: 'no_such_layer' is not a layer" in problems
    assert "health_records: fields.birth_date: authority: household_population has no field " \
           "'birthday'" in problems
    assert "minimum_living_allowance: annex.name: '低保人员名单' is not a dataset of 民政局" \
        in problems


def test_loader_refuses_unknown_keys(settings: Settings, layers: LayerCatalog,
                                     tmp_path: Path) -> None:
    folder = _copy(settings, tmp_path)
    content = folder / "content.yaml"
    content.write_text(content.read_text(encoding="utf-8").replace(
        "    en: Care homes\n", "    en: Care homes\n    colour: red\n"), encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        load_data_catalog(folder, layers)
    assert any(p.startswith("content.yaml: datasets.") and "colour: unknown key" in p
               for p in err.value.problems), err.value.problems


def test_records_are_deterministic_with_unique_ids_and_codes(settings: Settings,
                                                             layers: LayerCatalog) -> None:
    data = load_data_catalog(settings.catalog_dir, layers)
    first = build_records(data, layers)
    second = build_records(data, layers)
    assert [r.values for r in first] == [r.values for r in second]
    outside = [d for d in data.content if d.annex is None]  # the annex lacks them (issue 14)
    assert len(outside) == 8
    # a dataset layer draws a content dataset: that dataset is its record
    own = [s for s in layers.layers if s.kind != "dataset"]
    assert len({r.id for r in first}) == len(first) == 323 + len(own) - 9 + 8
    assert len({r.values["resource_code"] for r in first}) == len(first)
    annexed = [r for r in first if r.values["annex_no"] is not None]
    assert sorted(r.values["annex_no"] for r in annexed) == list(range(1, 324))
    assert all(r.values["synthetic"] for r in annexed)
    people = next(r for r in first if r.values["name"] == "高中学籍信息")
    assert {("姓名", "name"), ("公民身份号码", "id_number")} <= {
        (f.name_zh, f.kind) for f in people.fields}
    assert all(len(r.fields) >= 3 for r in first if r.values["storage"] == "metadata")
    county = next(r for r in first if r.id == "county")
    assert (county.values["synthetic"], county.values["department_code"]) == (False, "SJJ")


def test_sync_puts_the_catalog_in_the_database_idempotently(
        client: object, settings: Settings, engine: sa.Engine, layers: LayerCatalog) -> None:
    # `client` started the app, whose lifespan has synced once already.
    started = time.perf_counter()
    again = sync_from(settings, engine, layers)
    elapsed = time.perf_counter() - started
    assert not again.changed, again
    assert elapsed < 1.0, f"an unchanged sync took {elapsed:.2f}s"
    print(f"unchanged sync: {elapsed * 1000:.0f} ms")
    # the catalog's own records (other tests of the session add records of their own)
    ids = [r.id for r in build_records(load_data_catalog(settings.catalog_dir, layers), layers)]
    with engine.connect() as conn:
        counts = conn.execute(sa.text(
            "SELECT count(*) FILTER (WHERE annex_no IS NOT NULL), "
            "count(*) FILTER (WHERE storage = 'layer'), count(*) FILTER (WHERE storage = 'rows'),"
            " count(DISTINCT resource_code) FROM datasets WHERE id = ANY(:ids)"), {"ids": ids}
        ).one()
        own = [s for s in layers.layers if s.kind != "dataset"]
        assert tuple(counts) == (323, len(own), 48, again.datasets)
        cgj = conn.execute(sa.text("SELECT name, short_name, name_en FROM departments "
                                   "WHERE code = 'CGJ'")).one()
        assert (cgj.short_name, cgj.name_en) == ("城管局", "Urban Management Bureau")
        fields = conn.execute(sa.text("SELECT count(*) FROM dataset_fields WHERE dataset_id = "
                                      "'household_population'")).scalar_one()
        assert fields == 15  # status, residence, building, ethnicity, household kind
        text = conn.execute(sa.text("SELECT search_text FROM datasets WHERE id = "
                                    "'household_population'")).scalar_one()
        assert "户籍人口信息" in text and "公民身份号码" in text and "公安局" in text
        # a changed record is written back to the catalog's values, nothing else is
        conn.execute(sa.text("UPDATE datasets SET name = 'x' WHERE id = 'hospitals'"))
        conn.commit()
    fixed = sync_from(settings, engine, layers)
    assert (fixed.datasets_changed, fixed.fields_changed) == (1, 0)


def test_published_codes_never_change_and_new_ones_never_collide(engine: sa.Engine) -> None:
    from backend.datasets.sync import keep_codes

    with engine.connect() as conn:
        held = conn.execute(sa.text(
            "SELECT id, resource_code FROM datasets ORDER BY id LIMIT 2")).all()
        if len(held) < 2:
            pytest.skip("the catalog is not synced in this session yet")
        (a, code_a), (_, code_b) = held
        docs = [{"id": a, "resource_code": "999999999-XXX-0001", "storage": "metadata"},
                {"id": "brand_new", "resource_code": code_b, "storage": "metadata"}]
        keep_codes(conn, docs)
    assert docs[0]["resource_code"] == code_a
    head, _, seq = code_b.rpartition("-")
    assert docs[1]["resource_code"].startswith(head + "-")
    assert docs[1]["resource_code"] not in {code_a, code_b}
