"""Which database to use, and engines for it.

Two URLs: `admin` creates the database and runs migrations; `app` is what the running
service connects with. With DATABASE_URL set both are that URL. Without it they point at
the managed local cluster (superuser over its private socket / non-superuser over loopback).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from backend.db.local import APP_ROLE, LocalCluster
from backend.settings import Settings


@dataclass(frozen=True)
class DatabaseUrls:
    admin: str
    app: str
    managed: bool


def local_cluster(settings: Settings) -> LocalCluster:
    return LocalCluster(settings.var_dir / "pg")


def resolve_urls(settings: Settings, *, start: bool = True) -> DatabaseUrls:
    if settings.database_url:
        url = make_url(settings.database_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg2")
        rendered = url.render_as_string(hide_password=False)
        return DatabaseUrls(admin=rendered, app=rendered, managed=False)
    cluster = local_cluster(settings)
    if start:
        cluster.ensure_running()
    name = settings.database_name
    return DatabaseUrls(admin=cluster.admin_url(name), app=cluster.app_url(name), managed=True)


def create_engine(url: str, *, pool_size: int = 5, max_overflow: int | None = None,
                  pre_ping: bool = True) -> Engine:
    """`pre_ping` checks each connection with a round trip before use; hot paths (tiles)
    turn it off and rely on the pool dropping connections that fail instead.

    `max_overflow` defaults to `pool_size` (short-lived tools). The server passes 0: FastAPI
    runs sync endpoints on 40 threads, and with an overflow every burst beyond `pool_size`
    opened PostgreSQL sessions that were closed again on return (73 new sessions per 1,121
    queue reads in issue 8). A thread that finds the pool busy waits for a connection
    (`pool_timeout`, 30 s): the database does no better with more concurrent queries than it
    has cores."""
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        pool_pre_ping=pre_ping,
        pool_recycle=600,
        connect_args={"application_name": "cityops"},
    )


def ensure_database(settings: Settings) -> DatabaseUrls:
    """Make sure the database exists with PostGIS (and, when managed, the app role)."""
    urls = resolve_urls(settings)
    if not urls.managed:
        with create_engine(urls.admin, pool_size=1).connect() as conn:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
            conn.commit()
        return urls
    cluster = local_cluster(settings)
    server = sa.create_engine(cluster.admin_url("postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                              {"n": settings.database_name}).scalar()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{_ident(settings.database_name)}"'))
        role = conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"),
                            {"r": APP_ROLE}).scalar()
        if not role:
            conn.execute(sa.text(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB "
                                 "NOCREATEROLE PASSWORD :p"), {"p": cluster.app_password()})
    server.dispose()
    db = sa.create_engine(urls.admin, isolation_level="AUTOCOMMIT")
    with db.connect() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
        # TEMP: ingest stages a file in a temporary table before one upsert.
        conn.execute(sa.text(f'GRANT CONNECT, TEMP ON DATABASE "{_ident(settings.database_name)}" '
                             f"TO {APP_ROLE}"))
    db.dispose()
    return urls


def drop_database(settings: Settings) -> None:
    """Drop the managed database (tests use it to start from empty)."""
    cluster = local_cluster(settings)
    cluster.ensure_running()
    server = sa.create_engine(cluster.admin_url("postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{_ident(settings.database_name)}" '
                             "WITH (FORCE)"))
    server.dispose()


def _ident(name: str) -> str:
    """Database names are configuration, not user input; still refuse anything odd."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"Invalid database name: {name!r}")
    return name
