"""The domain datasets generated once per module at a small scale for a fixed clock, from the
session's small demo county (its townships and grid cells)."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from backend.simulation.domain_data import generate
from backend.simulation.domain_places import TZ, Table

SEED = 11
SCALE = 0.05
NOW = datetime(2026, 12, 6, 9, 20, 30, tzinfo=TZ)  # a Sunday morning


@pytest.fixture(scope="module")
def tables(engine: sa.Engine, county: dict[str, int]) -> dict[str, Table]:
    with engine.connect() as conn:
        return generate(conn, seed=SEED, now=NOW, scale=SCALE)
