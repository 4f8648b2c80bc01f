"""DB-API connections for the framework-free engine, borrowed from a SQLAlchemy pool."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy.engine import Engine

Connect = Callable[[], AbstractContextManager[Any]]  # yields a DB-API (psycopg2) connection


def raw_connections(engine: Engine) -> Connect:
    """A factory of pooled psycopg2 connections (returned to the pool on exit)."""

    @contextmanager
    def connect() -> Iterator[Any]:
        fairy = engine.raw_connection()
        try:
            yield fairy.driver_connection  # the psycopg2 connection itself
        finally:
            fairy.close()  # back to the pool

    return connect
