"""population counts as published: per grid cell, community, township and county, already
suppressed (backend.people.aggregates.refresh rebuilds them), and the view of the grid layer

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 07:00:00

The API and the map layer read these stored figures, never persons: a suppressed figure is
null in `figures` and named in `suppressed`. The statement trigger bumps layer_versions, so a
refresh invalidates the layer's cached tiles.
"""

from __future__ import annotations

from alembic import op

from backend.db.versions import bump_trigger_sql

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

FIELDS = ("population", "households", "male", "female", "age_0_14", "age_15_59", "age_60_plus",
          "elderly_alone", "children")

INDEXED_REFERENCES = (("idx_persons_address", "persons", "address_id"),
                      ("idx_households_address", "households", "address_id"),
                      ("idx_population_changes_person", "population_changes", "person_id"))


def upgrade() -> None:
    op.execute("""
CREATE TABLE population_stats (
  level text NOT NULL CONSTRAINT ck_population_stats_level
    CHECK (level IN ('grid','community','township','county')),
  code text NOT NULL,
  name text,
  parent_code text,
  township_code varchar(9),
  area_km2 double precision,            -- grid cells only (the layer's density)
  figures jsonb NOT NULL,               -- published figures; a suppressed one is null
  suppressed text[] NOT NULL DEFAULT '{}',
  computed_at timestamptz NOT NULL,
  PRIMARY KEY (level, code)
)""")
    op.execute("CREATE INDEX idx_population_stats_township ON population_stats (level, "
               "township_code)")
    columns = ",\n       ".join(f"(s.figures->>'{f}')::integer AS {f}" for f in FIELDS)
    op.execute(f"""
CREATE VIEW population_grid_cells AS
SELECT g.id, g.grid_code, g.name, g.township_name, g.community,
       {columns},
       round(((s.figures->>'population')::numeric / NULLIF(s.area_km2, 0))::numeric, 1)
         ::double precision AS density,
       'population' = ANY(s.suppressed) AS suppressed,
       s.computed_at, g.geom, g.geom_3857
FROM grid_cells g JOIN population_stats s ON s.level = 'grid' AND s.code = g.grid_code""")
    # The counts read only this index (an index-only scan in (grid, household) order: the
    # refresh's one pass groups households without a sort; tests/perf/bench_population_stats).
    # It leads with grid_code under the same predicate: the scope's index of 0020 is redundant
    # (one index less to fill on every load).
    op.execute("DROP INDEX idx_persons_grid")
    op.execute("CREATE INDEX idx_persons_counts ON persons (grid_code, household_id) "
               "INCLUDE (sex, birth_date) WHERE status IN ('resident','registered_elsewhere')")
    # The referencing sides of foreign keys: deleting an address, a household or a person
    # (a county reload, a test's cleanup) looks them up instead of scanning the tables.
    for name, table, column in INDEXED_REFERENCES:
        op.execute(f"CREATE INDEX {name} ON {table} ({column})")
    for statement in bump_trigger_sql("population_stats"):
        op.execute(statement)


def downgrade() -> None:
    for name, _table, _column in INDEXED_REFERENCES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute("DROP INDEX IF EXISTS idx_persons_counts")
    op.execute("CREATE INDEX idx_persons_grid ON persons (grid_code) "
               "WHERE status IN ('resident','registered_elsewhere')")
    op.execute("DROP VIEW population_grid_cells")
    op.execute("DROP TABLE population_stats")
