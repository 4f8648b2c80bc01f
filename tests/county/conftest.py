"""The small demo county, built once per session (pure: no database)."""

from __future__ import annotations

import pytest

from backend.county import County, build_county, load_recipe
from tests.conftest import SMALL_SCALE


@pytest.fixture(scope="session")
def small_county() -> County:
    return build_county(load_recipe(), scale=SMALL_SCALE)
