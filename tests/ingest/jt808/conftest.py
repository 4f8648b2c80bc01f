"""The JT/T 808 tests need no database: override the ingest package's autouse DB cleanup."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _cleanup() -> Iterator[None]:
    yield
