"""Shared fixtures: one real PostGIS database per test session (managed cluster unless
DATABASE_URL is set), migrated from empty, with a small demo county loaded once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from backend.db.engine import DatabaseUrls, create_engine, drop_database, ensure_database
from backend.db.migrate import upgrade
from backend.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(
        env="test",
        database_name=os.environ.get("CITYOPS_TEST_DATABASE", "cityops_test"),
        tile_version_ttl_s=0.0,
    )


@pytest.fixture(scope="session")
def db_urls(settings: Settings) -> DatabaseUrls:
    """A database migrated from empty for this session."""
    if not settings.database_url:
        drop_database(settings)
    urls = ensure_database(settings)
    upgrade(urls)
    return urls


@pytest.fixture(scope="session")
def engine(db_urls: DatabaseUrls) -> Iterator[Engine]:
    """The application's engine (the non-superuser role when the database is managed)."""
    eng = create_engine(db_urls.app, pool_size=4)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def admin_engine(db_urls: DatabaseUrls) -> Iterator[Engine]:
    eng = create_engine(db_urls.admin, pool_size=2)
    yield eng
    eng.dispose()


def table_count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one()
