"""Declarative base and the columns every map-feature table shares."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

STORE_SRID = 4326  # authoritative geometry: areas and OGC output need geographic coordinates
TILE_SRID = 3857   # generated copy for tiles, with its own GiST index


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def geometry_columns(geometry_type: str) -> tuple[sa.Column, sa.Column]:
    """`geom` in EPSG:4326 and `geom_3857`, a stored generated Web-Mercator copy for tiles."""
    geom = sa.Column("geom", Geometry(geometry_type, srid=STORE_SRID, spatial_index=True),
                     nullable=False)
    geom_3857 = sa.Column(
        "geom_3857",
        Geometry(geometry_type, srid=TILE_SRID, spatial_index=True),
        sa.Computed("ST_Transform(geom, 3857)", persisted=True),
    )
    return geom, geom_3857


def label_point_columns() -> tuple[sa.Column, sa.Column]:
    """A generated label point inside a polygon (ST_PointOnSurface), in both CRSs: a label
    layer drawn from it shows one label per polygon instead of one per tile."""
    point = sa.Column(
        "label_point",
        Geometry("POINT", srid=STORE_SRID, spatial_index=False),
        sa.Computed("ST_PointOnSurface(geom)", persisted=True),
    )
    point_3857 = sa.Column(
        "label_point_3857",
        Geometry("POINT", srid=TILE_SRID, spatial_index=True),
        sa.Computed("ST_Transform(ST_PointOnSurface(geom), 3857)", persisted=True),
    )
    return point, point_3857


class FeatureMixin:
    """Identity, provenance (one source per datum: unique source + key) and change time."""

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    source: Mapped[str] = mapped_column(sa.Text, nullable=False)
    source_key: Mapped[str] = mapped_column(sa.Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )

    @classmethod
    def source_unique(cls, table: str) -> sa.UniqueConstraint:
        return sa.UniqueConstraint("source", "source_key", name=f"uq_{table}_source_key")
