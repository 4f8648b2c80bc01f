"""raster_files: the registry of raster layers' files (orthophotos, DEMs)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 21:30:00

One row per raster layer names its current Cloud-Optimized GeoTIFF (EPSG:3857, under
CITYOPS_RASTER_DIR, named by its SHA-256) and records what the ingest found and fixed. Tiles
follow the row; `cityops ingest` replaces it in the same transaction that bumps the
`raster:<layer id>` row of layer_versions (the tile cache's key).
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE raster_files (
  layer_id text NOT NULL,
  kind text NOT NULL,
  path text NOT NULL,
  sha256 text NOT NULL,
  bytes bigint NOT NULL,
  width integer NOT NULL,
  height integer NOT NULL,
  bands smallint NOT NULL,
  dtype text NOT NULL,
  nodata double precision,
  source_name text NOT NULL,
  source_crs text NOT NULL,
  bounds geometry(POLYGON, 4326) NOT NULL,
  minzoom smallint NOT NULL,
  maxzoom smallint NOT NULL,
  report jsonb NOT NULL,
  loaded_at timestamptz NOT NULL DEFAULT now(),
  loaded_by text NOT NULL,
  CONSTRAINT pk_raster_files PRIMARY KEY (layer_id),
  CONSTRAINT ck_raster_files_kind CHECK (kind IN ('cog', 'dem')),
  CONSTRAINT ck_raster_files_sha256 CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  CONSTRAINT ck_raster_files_sizes CHECK (bytes > 0 AND width > 0 AND height > 0 AND bands > 0),
  CONSTRAINT ck_raster_files_zooms CHECK (minzoom BETWEEN 0 AND 30
                                          AND maxzoom BETWEEN minzoom AND 30)
)""")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS raster_files")
    op.execute("DELETE FROM layer_versions WHERE table_name LIKE 'raster:%'")
