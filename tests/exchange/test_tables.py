"""库表交换 against a second database of the test cluster playing the department's own system:
a table, a read-only role, rows; a first pull, changed and added rows, a second pull -> an
incremental version with the right counts; a wrong password and a missing table -> last_error,
never an exception; the full pull closes rows deleted upstream; the API's view of the link."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from backend.db.engine import DatabaseUrls
from backend.exchange import tables
from tests.conftest import bearer
from tests.exchange.helpers import content_of, drop_dataset, make_dataset

DEPT_DB = "cityops_test_dept_system"
ROLE = "cgj_reader"
PASSWORD = "reader-pass-1"  # noqa: S105 (a test role of a throwaway database)
DATASET = "test_exchange_toilets"


@pytest.fixture(scope="module")
def department_db(admin_engine: sa.Engine, db_urls: DatabaseUrls) -> Iterator[sa.Engine]:
    auto = admin_engine.execution_options(isolation_level="AUTOCOMMIT")
    with auto.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DEPT_DB}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{DEPT_DB}"'))
        conn.execute(sa.text(f'DROP ROLE IF EXISTS "{ROLE}"'))
        conn.execute(sa.text(f"CREATE ROLE \"{ROLE}\" LOGIN PASSWORD '{PASSWORD}'"))
    url = make_url(db_urls.admin).set(database=DEPT_DB)
    dept = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with dept.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
        conn.execute(sa.text("CREATE SCHEMA szcg"))
        conn.execute(sa.text(
            'CREATE TABLE szcg."公厕" (toilet_id text PRIMARY KEY, name text, open_hours text, '
            "internal_note text, updated_at timestamptz NOT NULL, geom geometry(Point, 4326))"))
        conn.execute(sa.text(f'GRANT USAGE ON SCHEMA szcg TO "{ROLE}"'))
        conn.execute(sa.text(f'GRANT SELECT ON ALL TABLES IN SCHEMA szcg TO "{ROLE}"'))
        conn.execute(sa.text(
            'INSERT INTO szcg."公厕" SELECT \'E\' || i, \'公厕\' || i, \'全天\', \'x\', '
            "timestamptz '2026-01-01 08:00+08' + i * interval '1 minute', "
            "ST_SetSRID(ST_MakePoint(117.85 + i / 1000.0, 33.48), 4326) "
            "FROM generate_series(1, 50) i"))
    yield dept
    dept.dispose()
    with auto.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DEPT_DB}" WITH (FORCE)'))
        conn.execute(sa.text(f'DROP ROLE IF EXISTS "{ROLE}"'))


def dsn(db_urls: DatabaseUrls, password: str = PASSWORD) -> str:
    url = make_url(db_urls.app)  # over TCP with a password, as a department's server is
    return (f"host={url.host} port={url.port} dbname={DEPT_DB} user={ROLE} "
            f"password={password}")


@pytest.fixture()
def linked(engine: sa.Engine, db_urls: DatabaseUrls,
           department_db: sa.Engine) -> Iterator[str]:
    make_dataset(engine, "public_toilets", dataset_id=DATASET, department="CGJ")
    tables.add_link(engine, dataset_id=DATASET, dsn=dsn(db_urls), source_table="szcg.公厕",
                    key="toilet_id", updated="updated_at", geometry="geom", every_s=600,
                    actor="tester")
    yield DATASET
    drop_dataset(engine, DATASET)


def test_incremental_pulls(engine: sa.Engine, department_db: sa.Engine, linked: str) -> None:
    first = tables.run_link(engine, linked)
    assert first is not None and (first.status, first.rows_added, first.rows_total) == (
        "accepted", 50, 50)
    link = tables.link_state(engine, linked)
    assert link["watermark"].startswith("2026-01-01 08:50:00") or "00:50:00" in link["watermark"]
    assert link["last_status"] == f"ok: version {first.version_id}" and not link["last_error"]
    assert tables.run_link(engine, linked) is None
    assert tables.link_state(engine, linked)["last_status"] == "ok: no change"
    with department_db.begin() as conn:
        conn.execute(sa.text(
            "UPDATE szcg.\"公厕\" SET name = '改名公厕', updated_at = now() WHERE toilet_id IN "
            "('E3', 'E7')"))
        conn.execute(sa.text(
            "INSERT INTO szcg.\"公厕\" VALUES ('E99', '新公厕', NULL, 'y', now(), "
            "ST_SetSRID(ST_MakePoint(117.9, 33.5), 4326))"))
        conn.execute(sa.text("DELETE FROM szcg.\"公厕\" WHERE toilet_id = 'E1'"))
    second = tables.run_link(engine, linked)
    assert second is not None
    assert (second.rows_added, second.rows_changed, second.rows_removed, second.rows_total) == (
        1, 2, 0, 51)  # E1's deletion is not seen by an incremental pull
    rows = content_of(engine, linked)
    assert rows["E3"]["name"] == "改名公厕" and "internal_note" not in rows["E3"]
    with engine.connect() as conn:
        version = conn.execute(sa.text("SELECT arrival, mode FROM dataset_versions WHERE id = "
                                       ":v"), {"v": second.version_id}).one()
        lon = conn.execute(sa.text("SELECT ST_X(geom) FROM dataset_rows WHERE dataset_id = :d "
                                   "AND key = 'E99' AND last_seq IS NULL"),
                           {"d": linked}).scalar_one()
    assert tuple(version) == ("exchange", "incremental") and lon == pytest.approx(117.9)
    full = tables.run_link(engine, linked, full=True)
    assert full is not None and (full.rows_removed, full.rows_total) == (1, 50)


def test_errors_go_to_the_link(engine: sa.Engine, db_urls: DatabaseUrls, linked: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE dataset_exchange_links SET dsn = :dsn WHERE dataset_id = "
                             ":d"), {"dsn": dsn(db_urls, "wrong"), "d": linked})
    assert tables.run_link(engine, linked) is None
    link = tables.link_state(engine, linked)
    assert link["last_status"] == "error" and "password authentication failed" in link[
        "last_error"]
    tables.add_link(engine, dataset_id=linked, dsn=dsn(db_urls), source_table="szcg.nothing",
                    key="toilet_id", updated="updated_at", actor="tester")
    assert tables.run_link(engine, linked) is None
    assert "does not exist" in tables.link_state(engine, linked)["last_error"]
    tables.add_link(engine, dataset_id=linked, dsn=dsn(db_urls), source_table="szcg.公厕",
                    key="toilet_id", updated="no_such_column", actor="tester")
    assert tables.run_link(engine, linked) is None
    assert "no_such_column" in tables.link_state(engine, linked)["last_error"]


def test_the_read_only_session_cannot_write(db_urls: DatabaseUrls,
                                            department_db: sa.Engine) -> None:
    import psycopg2

    conn = tables._connect(dsn(db_urls))
    try:
        with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction), conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE t (a int)")
    finally:
        conn.close()


def test_the_api(client: TestClient, linked: str) -> None:
    steward = bearer(client, "data_steward")
    got = client.get(f"/api/datasets/{linked}/exchange", headers=steward)
    assert got.status_code == 200, got.text
    assert set(got.json()) == {"dataset_id", "source_table", "key_column", "update_column",
                               "interval_s", "watermark", "enabled", "last_run_at",
                               "last_status", "last_error"}
    ran = client.post(f"/api/datasets/{linked}/exchange/run", headers=bearer(client,
                                                                            "data_bureau"))
    assert ran.status_code == 200 and ran.json()["last_status"].startswith("ok: version")
    assert client.get(f"/api/datasets/{linked}/exchange",
                      headers=bearer(client, "viewer")).status_code == 403
