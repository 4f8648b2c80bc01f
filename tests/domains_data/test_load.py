"""The domain datasets through the real upload path into the session's database: the catalog's
own records (synced as the server does), every file accepted as a new current version with no
row rejected, the stored rows as generated; the CLI regenerates the weather alone; the demo's
step loads only what is missing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.catalog.layers import load_catalog
from backend.cli import build_parser
from backend.datasets.sync import sync_from
from backend.settings import Settings
from backend.simulation.domain_data import BUILDERS, DomainLoad, generate, generate_domains
from tests.domains_data.conftest import NOW, SCALE, SEED
from tests.domains_data.test_generate import ENTRIES
from tests.exchange.helpers import clear_content, content_of


@pytest.fixture(scope="module")
def loaded(engine: sa.Engine, county: dict[str, int], settings: Settings,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[DomainLoad]:
    sync_from(settings, engine, load_catalog(settings.layers_dir))
    for dataset_id in BUILDERS:
        clear_content(engine, dataset_id)
    yield generate_domains(engine, tmp_path_factory.mktemp("domains_data"), seed=SEED,
                           now=NOW, scale=SCALE)
    for dataset_id in BUILDERS:  # other tests count the catalog's versions
        clear_content(engine, dataset_id)


def test_all_nineteen_accepted_as_current_versions_with_nothing_rejected(
        loaded: DomainLoad, engine: sa.Engine, tables: dict) -> None:
    assert list(loaded.loaded) == list(BUILDERS)
    for dataset_id, info in loaded.loaded.items():
        assert info["status"] == "accepted", (dataset_id, info)
        assert info["rejected"] == 0, dataset_id
        assert info["rows"] == len(tables[dataset_id].rows), dataset_id
    with engine.connect() as conn:
        current = dict(conn.execute(sa.text(
            "SELECT d.id, v.arrival FROM datasets d JOIN dataset_versions v "
            "ON v.id = d.current_version_id WHERE d.id = ANY(:ids)"),
            {"ids": list(BUILDERS)}).all())
    assert current == dict.fromkeys(BUILDERS, "file")
    assert "domain datasets (示意/synthetic): 19 loaded" in loaded.line()
    files = sorted(p.name for p in loaded.folder.iterdir())
    assert "service_cases.csv" in files and "relocation_projects.geojson" in files


def test_stored_rows_are_the_generated_ones(loaded: DomainLoad, engine: sa.Engine,
                                            tables: dict) -> None:
    """Every value as generated (blank dates of GeoJSON stay blank, not 'NaT')."""
    for dataset_id, table in tables.items():
        stored = content_of(engine, dataset_id)
        key = ENTRIES[dataset_id].key
        assert {r[key]: r for r in table.rows} == stored, dataset_id
    with engine.connect() as conn:
        kinds = dict(conn.execute(sa.text(
            "SELECT dataset_id, min(GeometryType(geom)) FROM dataset_rows WHERE dataset_id = "
            "ANY(:ids) AND last_seq IS NULL GROUP BY dataset_id"),
            {"ids": ["service_halls", "relocation_projects", "weather_warnings"]}).all())
    assert kinds["service_halls"] == "POINT"
    assert kinds["relocation_projects"] == "POLYGON"


def test_the_cli_regenerates_the_weather_for_now(loaded: DomainLoad, settings: Settings,
                                                 engine: sa.Engine, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    def version() -> int:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT current_version_id FROM datasets WHERE id = "
                                        "'weather_conditions'")).scalar_one()

    before = version()
    args = build_parser().parse_args([
        "datasets", "generate-domains", "--only", "weather_conditions,weather_warnings",
        "--folder", str(tmp_path), "--seed", str(SEED)])
    assert args.handler(args, settings) == 0
    out = capsys.readouterr().out
    assert "2 loaded" in out and "weather_conditions 19" in out
    assert version() != before
    assert (tmp_path / "weather_conditions.csv").exists()


def test_the_demo_step_loads_only_what_is_missing(loaded: DomainLoad, settings: Settings,
                                                  engine: sa.Engine) -> None:
    from backend.demo_data import domain_datasets

    clear_content(engine, "duty_roster")
    with engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT count(*) FROM dataset_versions WHERE "
                                        "dataset_id = ANY(:ids)"),
                                {"ids": list(BUILDERS)}).scalar_one()
    line = domain_datasets(settings, engine, scale=SCALE)
    assert line is not None and "1 loaded" in line and "duty_roster 240" in line
    assert domain_datasets(settings, engine, scale=SCALE) is None  # nothing missing now
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM dataset_versions WHERE "
                                    "dataset_id = ANY(:ids)"),
                            {"ids": list(BUILDERS)}).scalar_one() == versions + 1


def current_versions(engine: sa.Engine) -> dict[str, int | None]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT id, current_version_id FROM datasets WHERE id = ANY(:ids)"),
            {"ids": list(BUILDERS)}).all())


def test_a_day_without_warnings_keeps_the_last_version(loaded: DomainLoad, engine: sa.Engine,
                                                       tmp_path: Path) -> None:
    calm = next(NOW + timedelta(days=d) for d in range(1, 60)
                if not generate_warnings(engine, NOW + timedelta(days=d)))
    before = current_versions(engine)["weather_warnings"]
    made = generate_domains(engine, tmp_path, seed=SEED, now=calm, scale=SCALE,
                            only=["weather_warnings"])
    assert made.loaded["weather_warnings"] == {"rows": 0, "version": None, "status": "empty",
                                               "rejected": 0}
    assert current_versions(engine)["weather_warnings"] == before
    assert not (tmp_path / "weather_warnings.geojson").exists()


def generate_warnings(engine: sa.Engine, now: datetime) -> list[dict]:
    with engine.connect() as conn:
        return generate(conn, seed=SEED, now=now, scale=SCALE,
                        only=["weather_warnings"])["weather_warnings"].rows


def test_the_live_loop_posts_new_versions_for_now(loaded: DomainLoad, settings: Settings,
                                                  engine: sa.Engine, tmp_path: Path) -> None:
    from backend.simulation.live import DAILY, EVERY_TICK, loop_domains

    live = settings.model_copy(update={"live_domains_s": 3600.0, "var_dir": tmp_path})
    before = current_versions(engine)

    async def first_tick() -> dict[str, int | None]:
        task = asyncio.create_task(loop_domains(live, engine))
        try:  # the first tick ends with the duty roster (the last of the load order)
            while (now := await asyncio.to_thread(current_versions, engine))[
                    "duty_roster"] == before["duty_roster"]:
                assert not task.done(), task
                await asyncio.sleep(0.2)
            return now
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    after = asyncio.run(asyncio.wait_for(first_tick(), 300))
    for dataset_id in (*EVERY_TICK, "weather_conditions", *DAILY):
        assert after[dataset_id] != before[dataset_id], dataset_id
    assert after["scenic_spots"] == before["scenic_spots"]  # what does not move stays
    assert (tmp_path / "domains_data" / "live" / "service_cases.csv").exists()
