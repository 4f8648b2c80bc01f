"""base map tables

Revision ID: 0001
Revises:
Create Date: 2026-11-24 16:04:01.050003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

from backend.db.versions import BUMP_FUNCTION, bump_trigger_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


FEATURE_TABLES = [
    "county",
    "townships",
    "roads",
    "buildings",
    "parcels",
    "pipelines",
    "cameras",
    "bus_lines",
    "bus_stops",
    "grid_cells",
    "pilot_segments",
]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_geospatial_table(
        "buildings",
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("use", sa.Text(), nullable=True),
        sa.Column("floors", sa.SmallInteger(), nullable=False),
        sa.Column("height", sa.Float(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_3857",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=3857,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 3857)", persisted=True),
            nullable=True,
        ),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buildings")),
        sa.UniqueConstraint("source", "source_key", name="uq_buildings_source_key"),
    )
    op.create_geospatial_index(
        "idx_buildings_geom",
        "buildings",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "idx_buildings_geom_3857",
        "buildings",
        ["geom_3857"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "bus_lines",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=True),
        sa.Column("operator", sa.Text(), nullable=True),
        sa.Column("length_m", sa.Float(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="LINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_3857",
            Geometry(
                geometry_type="LINESTRING",
                srid=3857,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 3857)", persisted=True),
            nullable=True,
        ),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bus_lines")),
        sa.UniqueConstraint("code", name=op.f("uq_bus_lines_code")),
        sa.UniqueConstraint("source", "source_key", name="uq_bus_lines_source_key"),
    )
    op.create_geospatial_index(
        "idx_bus_lines_geom",
        "bus_lines",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "idx_bus_lines_geom_3857",
        "bus_lines",
        ["geom_3857"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "bus_stops",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_3857",
            Geometry(
                geometry_type="POINT",
                srid=3857,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 3857)", persisted=True),
            nullable=True,
        ),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bus_stops")),
        sa.UniqueConstraint("code", name=op.f("uq_bus_stops_code")),
        sa.UniqueConstraint("source", "source_key", name="uq_bus_stops_source_key"),
    )
    op.create_geospatial_index(
        "idx_bus_stops_geom",
        "bus_stops",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "idx_bus_stops_geom_3857",
        "bus_stops",
        ["geom_3857"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "cameras",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("direction_deg", sa.Float(), nullable=True),
        sa.Column("fov_deg", sa.Float(), nullable=True),
        sa.Column("status", sa.Text(), server_default="online", nullable=False),
        sa.Column("stream_url", sa.Text(), nullable=True),
        sa.Column("township_code", sa.String(length=9), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_3857",
            Geometry(
                geometry_type="POINT",
                srid=3857,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 3857)", persisted=True),
            nullable=True,
        ),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('tianwang','xueliang','traffic')", name=op.f("ck_cameras_kind")
        ),
        sa.CheckConstraint(
            "status IN ('online','offline','fault')", name=op.f("ck_cameras_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
        sa.UniqueConstraint("code", name=op.f("uq_cameras_code")),
        sa.UniqueConstraint("source", "source_key", name="uq_cameras_source_key"),
    )
    op.create_geospatial_index(
        "idx_cameras_geom",
        "cameras",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "idx_cameras_geom_3857",
        "cameras",
        ["geom_3857"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "county",
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("attribution", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_3857",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=3857,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 3857)", persisted=True),
            nullable=True,
        ),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_county")),
        sa.UniqueConstraint("source", "source_key", name="uq_county_source_key"),
    )
    op.create_geospatial_index(
        "idx_county_geom",
        "county",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "idx_county_geom_3857",
        "county",
        ["geom_3857"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "grid_cells",
        sa.Column("grid_code", sa.String(length=15), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("township_code", sa.String(length=9), nullable=False),
        sa.Column("township_name", sa.Text(), nullable=True),
        sa.Column("community", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_3857",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=3857,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 3857)", persisted=True),
            nullable=True,
        ),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "grid_code ~ '^[0-9]{15}$'", name=op.f("ck_grid_cells_grid_code_15_digits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_cells")),
        sa.UniqueConstraint("grid_code", name=op.f("uq_grid_cells_grid_code")),
        sa.UniqueConstraint("source", "source_key", name="uq_grid_cells_source_key"),
    )
    op.create_geospatial_index(
        "idx_grid_cells_geom",
        "grid_cells",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "idx_grid_cells_geom_3857",
        "grid_cells",
        ["geom_3857"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "layer_versions",
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="1", nullable=False),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("table_name", name=op.f("pk_layer_versions")),
    )
    op.create_geospatial_table(
        "parcels",
        sa.Column("parcel_code", sa.String(length=19), nullable=False),
        sa.Column("land_use", sa.String(length=4), nullable=False),
        sa.Column("land_use_name", sa.Text(), nullable=True),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("ownership", sa.Text(), nullable=False),
        sa.Column("township_code", sa.String(length=9), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_3857",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=3857,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 3857)", persisted=True),
            nullable=True,
        ),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parcels")),
        sa.UniqueConstraint("source", "source_key", name="uq_parcels_source_key"),
    )
    op.create_geospatial_index(
        "idx_parcels_geom",
        "parcels",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "idx_parcels_geom_3857",
        "parcels",
        ["geom_3857"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "pilot_segments",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("road_name", sa.Text(), nullable=True),
        sa.Column("direction", sa.Text(), nullable=True),
        sa.Column("speed_limit", sa.SmallInteger(), nullable=True),
        sa.Column("length_m", sa.Float(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="LINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_3857",
            Geometry(
                geometry_type="LINESTRING",
                srid=3857,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 3857)", persisted=True),
            nullable=True,
        ),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pilot_segments")),
        sa.UniqueConstraint("code", name=op.f("uq_pilot_segments_code")),
        sa.UniqueConstraint("source", "source_key", name="uq_pilot_segments_source_key"),
    )
    op.create_geospatial_index(
        "idx_pilot_segments_geom",
        "pilot_segments",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "idx_pilot_segments_geom_3857",
        "pilot_segments",
        ["geom_3857"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "pipelines",
        sa.Column("network", sa.Text(), nullable=False),
        sa.Column("diameter_mm", sa.Integer(), nullable=True),
        sa.Column("material", sa.Text(), nullable=True),
        sa.Column("depth_m", sa.Float(), nullable=True),
        sa.Column("install_year", sa.SmallInteger(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="LINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_3857",
            Geometry(
                geometry_type="LINESTRING",
                srid=3857,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 3857)", persisted=True),
            nullable=True,
        ),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "network IN ('water_supply','drainage','gas','power','telecom','heating')",
            name=op.f("ck_pipelines_network"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipelines")),
        sa.UniqueConstraint("source", "source_key", name="uq_pipelines_source_key"),
    )
    op.create_geospatial_index(
        "idx_pipelines_geom",
        "pipelines",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "idx_pipelines_geom_3857",
        "pipelines",
        ["geom_3857"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "roads",
        sa.Column("road_class", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("speed_limit", sa.SmallInteger(), nullable=True),
        sa.Column("lanes", sa.SmallInteger(), nullable=True),
        sa.Column("rank", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="LINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_3857",
            Geometry(
                geometry_type="LINESTRING",
                srid=3857,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 3857)", persisted=True),
            nullable=True,
        ),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roads")),
        sa.UniqueConstraint("source", "source_key", name="uq_roads_source_key"),
    )
    op.create_geospatial_index(
        "idx_roads_geom",
        "roads",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "idx_roads_geom_3857",
        "roads",
        ["geom_3857"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "townships",
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_3857",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=3857,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 3857)", persisted=True),
            nullable=True,
        ),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_townships")),
        sa.UniqueConstraint("code", name=op.f("uq_townships_code")),
        sa.UniqueConstraint("source", "source_key", name="uq_townships_source_key"),
    )
    op.create_geospatial_index(
        "idx_townships_geom",
        "townships",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "idx_townships_geom_3857",
        "townships",
        ["geom_3857"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "bus_line_stops",
        sa.Column("line_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("stop_id", sa.BigInteger(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["bus_lines.id"],
            name=op.f("fk_bus_line_stops_line_id_bus_lines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stop_id"],
            ["bus_stops.id"],
            name=op.f("fk_bus_line_stops_stop_id_bus_stops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("line_id", "seq", name=op.f("pk_bus_line_stops")),
    )
    op.execute(BUMP_FUNCTION)
    for table in FEATURE_TABLES:
        for stmt in bump_trigger_sql(table):
            op.execute(stmt)


def downgrade() -> None:
    op.drop_table("bus_line_stops")
    op.drop_geospatial_index(
        "idx_townships_geom_3857",
        table_name="townships",
        postgresql_using="gist",
        column_name="geom_3857",
    )
    op.drop_geospatial_index(
        "idx_townships_geom", table_name="townships", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("townships")
    op.drop_geospatial_index(
        "idx_roads_geom_3857", table_name="roads", postgresql_using="gist", column_name="geom_3857"
    )
    op.drop_geospatial_index(
        "idx_roads_geom", table_name="roads", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("roads")
    op.drop_geospatial_index(
        "idx_pipelines_geom_3857",
        table_name="pipelines",
        postgresql_using="gist",
        column_name="geom_3857",
    )
    op.drop_geospatial_index(
        "idx_pipelines_geom", table_name="pipelines", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("pipelines")
    op.drop_geospatial_index(
        "idx_pilot_segments_geom_3857",
        table_name="pilot_segments",
        postgresql_using="gist",
        column_name="geom_3857",
    )
    op.drop_geospatial_index(
        "idx_pilot_segments_geom",
        table_name="pilot_segments",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("pilot_segments")
    op.drop_geospatial_index(
        "idx_parcels_geom_3857",
        table_name="parcels",
        postgresql_using="gist",
        column_name="geom_3857",
    )
    op.drop_geospatial_index(
        "idx_parcels_geom", table_name="parcels", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("parcels")
    op.drop_table("layer_versions")
    op.drop_geospatial_index(
        "idx_grid_cells_geom_3857",
        table_name="grid_cells",
        postgresql_using="gist",
        column_name="geom_3857",
    )
    op.drop_geospatial_index(
        "idx_grid_cells_geom", table_name="grid_cells", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("grid_cells")
    op.drop_geospatial_index(
        "idx_county_geom_3857",
        table_name="county",
        postgresql_using="gist",
        column_name="geom_3857",
    )
    op.drop_geospatial_index(
        "idx_county_geom", table_name="county", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("county")
    op.drop_geospatial_index(
        "idx_cameras_geom_3857",
        table_name="cameras",
        postgresql_using="gist",
        column_name="geom_3857",
    )
    op.drop_geospatial_index(
        "idx_cameras_geom", table_name="cameras", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("cameras")
    op.drop_geospatial_index(
        "idx_bus_stops_geom_3857",
        table_name="bus_stops",
        postgresql_using="gist",
        column_name="geom_3857",
    )
    op.drop_geospatial_index(
        "idx_bus_stops_geom", table_name="bus_stops", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("bus_stops")
    op.drop_geospatial_index(
        "idx_bus_lines_geom_3857",
        table_name="bus_lines",
        postgresql_using="gist",
        column_name="geom_3857",
    )
    op.drop_geospatial_index(
        "idx_bus_lines_geom", table_name="bus_lines", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("bus_lines")
    op.drop_geospatial_index(
        "idx_buildings_geom_3857",
        table_name="buildings",
        postgresql_using="gist",
        column_name="geom_3857",
    )
    op.drop_geospatial_index(
        "idx_buildings_geom", table_name="buildings", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("buildings")
    op.execute("DROP FUNCTION IF EXISTS cityops_bump_version()")
