from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa


@pytest.fixture()
def cleanup(engine: sa.Engine) -> Iterator[None]:
    """Remove what the simulated terminals (phones 0139...) stored."""
    yield
    with engine.begin() as conn:
        for table in ("vehicle_positions", "vehicle_latest", "vehicle_alarms", "vehicles"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE vehicle_id LIKE '0139%'"))
