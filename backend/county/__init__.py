"""The Sixian demo county: a deterministic generator built on the real county boundary.

    county = build_county(load_recipe(), scale=0.02)   # pure, no database
    counts = load_county(engine, county)                # COPY into PostGIS, one transaction
"""

from backend.county.build import build_county
from backend.county.load import load_county
from backend.county.recipe import Recipe, load_recipe
from backend.county.tables import TABLES, County

__all__ = ["TABLES", "County", "Recipe", "build_county", "load_county", "load_recipe"]
