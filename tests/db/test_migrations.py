"""Migrations from empty, the managed cluster, and the app role's limits."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.exc import ProgrammingError

from backend.db.engine import DatabaseUrls, create_engine, local_cluster
from backend.db.migrate import alembic_config, current_revision, upgrade
from backend.db.models import FEATURE_TABLES
from backend.settings import Settings
from tests.conftest import scratch_database

FEATURE_TABLE_NAMES = sorted(m.__tablename__ for m in FEATURE_TABLES)
# Tables drawn as tiles besides the feature tables (derived rows, no source/source_key).
TILED_TABLE_NAMES = sorted([*FEATURE_TABLE_NAMES, "traffic_segments", "camera_views"])


def test_migrations_from_empty_create_every_table(settings: Settings) -> None:
    with scratch_database(settings, "scratch", migrate=False) as (_, urls):
        _migrate_and_check(urls)


def _migrate_and_check(urls: DatabaseUrls) -> None:
    assert current_revision(urls.admin) is None
    upgrade(urls)
    head = ScriptDirectory.from_config(alembic_config(urls.admin)).get_current_head()
    assert current_revision(urls.admin) == head
    engine = create_engine(urls.admin, pool_size=1)
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        assert set(FEATURE_TABLE_NAMES) <= tables
        # every feature table has a generated EPSG:3857 copy with its own GiST index
        rows = conn.execute(sa.text(
            "SELECT c.table_name, c.is_generated, c.generation_expression "
            "FROM information_schema.columns c JOIN information_schema.tables t USING "
            "(table_schema, table_name) WHERE c.column_name = 'geom_3857' "
            "AND t.table_type = 'BASE TABLE'"  # views (camera_coverage_cells) pass theirs on
        )).all()
        assert {r.table_name for r in rows} == set(TILED_TABLE_NAMES)
        assert all(r.is_generated == "ALWAYS" for r in rows)
        indexed = {r[0] for r in conn.execute(sa.text(
            "SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING gist (geom_3857)%'"
        ))}
        assert indexed == set(TILED_TABLE_NAMES)
        srids = dict(conn.execute(sa.text(
            "SELECT f_table_name || '.' || f_geometry_column, srid FROM geometry_columns"
        )).all())
        assert srids["parcels.geom"] == 4326 and srids["parcels.geom_3857"] == 3857
    engine.dispose()


def test_migrations_go_down_to_empty_and_up_again(settings: Settings) -> None:
    with scratch_database(settings, "updown") as (_, urls):
        command.downgrade(alembic_config(urls.admin), "base")
        assert current_revision(urls.admin) is None
        upgrade(urls)
        assert current_revision(urls.admin) is not None


def test_writes_bump_the_layer_version(engine: sa.Engine) -> None:
    def version() -> int:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT coalesce(max(version), 0) FROM layer_versions WHERE table_name='cameras'"
            )).scalar_one()

    before = version()
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO cameras (code, kind, source, source_key, geom) VALUES "
            "('34132400001320999001', 'traffic', 'test:versions', 'v1', "
            "ST_SetSRID(ST_MakePoint(117.88, 33.48), 4326))"
        ))
    after_insert = version()
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM cameras WHERE source = 'test:versions'"))
    assert before < after_insert < version()


def test_app_role_cannot_change_the_schema(settings: Settings, engine: sa.Engine) -> None:
    if settings.database_url:
        pytest.skip("the role split exists only in the managed cluster")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))\
            .scalar_one() is False
        with pytest.raises(ProgrammingError):
            conn.execute(sa.text("DROP TABLE parcels"))


def test_managed_cluster_listens_on_loopback_not_the_standard_port(settings: Settings) -> None:
    if settings.database_url:
        pytest.skip("DATABASE_URL is set: the managed cluster is not in use")
    status = local_cluster(settings).status()
    assert status["running"] is True
    assert status["port"] != 5432
    engine = create_engine(local_cluster(settings).admin_url("postgres"), pool_size=1)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SHOW listen_addresses")).scalar_one() == "127.0.0.1"
        assert conn.execute(sa.text("SELECT extversion FROM pg_extension WHERE extname='postgis'"))\
            .first() is None  # postgis lives in the app database, not in 'postgres'
    engine.dispose()


def _pipe(conn: sa.Connection, key: str, network: str, depth: float) -> None:
    conn.execute(sa.text(
        "INSERT INTO pipelines (network, depth_m, source, source_key, geom) VALUES "
        "(:n, :d, 'test:0014', :k, ST_GeomFromText('LINESTRING(117.88 33.48, 117.881 33.48)', "
        "4326))"), {"n": network, "d": depth, "k": key})


def test_0014_moves_pipeline_depths_to_both_ends(settings: Settings) -> None:
    """An existing database (at 0013, with pipelines) upgrades: depth_m goes to both ends, the
    new columns and their checks exist; a downgrade gives depth_m back."""
    with scratch_database(settings, "pipes0014", migrate=False) as (_, urls):
        upgrade(urls, "0013")
        engine = create_engine(urls.admin, pool_size=1)
        try:
            with engine.begin() as conn:
                _pipe(conn, "w1", "water_supply", 1.25)
                _pipe(conn, "g1", "gas", 0.95)
            upgrade(urls)
            with engine.connect() as conn:
                rows = {r.source_key: r for r in conn.execute(sa.text(
                    "SELECT source_key, depth_start_m, depth_end_m, owner, pressure_class "
                    "FROM pipelines WHERE source = 'test:0014'"))}
                cols = {c["name"] for c in sa.inspect(conn).get_columns("pipelines")}
            assert (rows["w1"].depth_start_m, rows["w1"].depth_end_m) == (1.25, 1.25)
            assert (rows["g1"].depth_start_m, rows["g1"].depth_end_m) == (0.95, 0.95)
            assert rows["g1"].owner is None and rows["g1"].pressure_class is None
            assert "depth_m" not in cols
            for update in ("pressure_class = 'medium_a' WHERE source_key = 'w1'",  # not gas
                           "pressure_class = 'very_high' WHERE source_key = 'g1'",
                           "depth_end_m = -1.0 WHERE source_key = 'g1'"):
                with pytest.raises(sa.exc.IntegrityError, match="ck_pipelines_"), \
                        engine.begin() as conn:
                    conn.execute(sa.text(f"UPDATE pipelines SET {update}"))
            with engine.begin() as conn:
                conn.execute(sa.text("UPDATE pipelines SET pressure_class = 'medium_a', "
                                     "depth_end_m = 1.15 WHERE source_key = 'g1'"))
            command.downgrade(alembic_config(urls.admin), "0013")
            with engine.connect() as conn:
                back = dict(conn.execute(sa.text(
                    "SELECT source_key, depth_m FROM pipelines WHERE source = 'test:0014'")).all())
            assert back == {"w1": 1.25, "g1": pytest.approx(1.05)}  # the mean of the ends
        finally:
            engine.dispose()


def test_0014_stops_on_depths_it_cannot_keep(settings: Settings) -> None:
    """A cover outside 0..100 m would break the new checks: the upgrade stops, names the rows'
    count and leaves the database at 0013 with its data."""
    with scratch_database(settings, "pipes0014bad", migrate=False) as (_, urls):
        upgrade(urls, "0013")
        engine = create_engine(urls.admin, pool_size=1)
        try:
            with engine.begin() as conn:
                _pipe(conn, "bad", "drainage", -2.0)
            with pytest.raises(RuntimeError, match="1 pipelines rows have depth_m outside"):
                upgrade(urls)
            assert current_revision(urls.admin) == "0013"
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT depth_m FROM pipelines")).scalar_one() == -2.0
        finally:
            engine.dispose()
