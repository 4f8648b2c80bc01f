"""The population base's fixtures: the small test population (tests/people/population.py),
written once per session into the session database, and the grid worker's cells."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.people.population import TestPopulation, build


@pytest.fixture(scope="session")
def population(engine: Engine, county: dict[str, int], users: dict[str, str]) -> TestPopulation:
    with engine.begin() as conn:
        made = build(conn)
        # The test grid worker works the first three cells with people (one of them tiny).
        worker = conn.execute(sa.text("SELECT id FROM users WHERE username = 'grid_worker'")
                              ).scalar_one()
        conn.execute(sa.text("""
INSERT INTO grid_workers (grid_code, user_id) SELECT unnest(CAST(:cells AS text[])), :u
ON CONFLICT DO NOTHING"""), {"cells": made.cells[:3], "u": worker})
    return made
