"""The GB/T 28181 codec tests need no database: override the ingest package's autouse DB
cleanup (the listener tests ask for the database fixtures they use)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _cleanup() -> Iterator[None]:
    yield
