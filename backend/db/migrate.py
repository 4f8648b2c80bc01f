"""Run alembic migrations programmatically, then grant the app role what it may touch."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from backend.db.engine import DatabaseUrls
from backend.db.local import APP_ROLE

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
APPEND_ONLY = ("audit_log",)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(urls: DatabaseUrls, revision: str = "head") -> None:
    command.upgrade(alembic_config(urls.admin), revision)
    if urls.managed:
        grant_app_role(urls.admin)


def current_revision(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            has = conn.execute(sa.text("SELECT to_regclass('alembic_version')")).scalar()
            if not has:
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


def grant_app_role(admin_url: str) -> None:
    """The app role reads and writes data but owns nothing, so it cannot alter the schema."""
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}"))
        conn.execute(sa.text(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}"))
        conn.execute(sa.text(
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}"))
        # The domain views' typed projections (migration 0023): read, never written, by the
        # app role; cityops_refresh_domain_projection builds them.
        if conn.execute(sa.text("SELECT to_regnamespace('domain_data')")).scalar():
            conn.execute(sa.text(f"GRANT USAGE ON SCHEMA domain_data TO {APP_ROLE}"))
            conn.execute(sa.text(
                f"GRANT SELECT ON ALL TABLES IN SCHEMA domain_data TO {APP_ROLE}"))
        # The SECURITY DEFINER helpers (e.g. making a day's position partition) are the app
        # role's only way to change structure; they are not open to PUBLIC.
        for (signature,) in conn.execute(sa.text(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n "
            "ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.proname LIKE 'cityops\\_%'"
            " AND p.prosecdef"
        )):
            conn.execute(sa.text(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE}"))
        # Append-only: the audit log is written only through cityops_audit_append.
        for table in APPEND_ONLY:
            conn.execute(sa.text(
                f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {table} FROM {APP_ROLE}"))
        conn.execute(sa.text(f"REVOKE ALL ON alembic_version FROM {APP_ROLE}"))
        conn.execute(sa.text(f"GRANT SELECT ON alembic_version TO {APP_ROLE}"))
    engine.dispose()
