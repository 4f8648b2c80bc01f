"""Base-map tables. Geometry in EPSG:4326 plus a generated EPSG:3857 copy for tiles."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, FeatureMixin, geometry_columns, label_point_columns


class County(FeatureMixin, Base):
    __tablename__ = "county"
    __table_args__ = (FeatureMixin.source_unique("county"),)
    code: Mapped[str] = mapped_column(sa.String(6), nullable=False)
    name: Mapped[str] = mapped_column(sa.Text, nullable=False)
    name_en: Mapped[str | None] = mapped_column(sa.Text)
    attribution: Mapped[str | None] = mapped_column(sa.Text)
    geom, geom_3857 = geometry_columns("MULTIPOLYGON")


class Township(FeatureMixin, Base):
    __tablename__ = "townships"
    __table_args__ = (FeatureMixin.source_unique("townships"),)
    code: Mapped[str] = mapped_column(sa.String(9), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.Text, nullable=False)
    kind: Mapped[str] = mapped_column(sa.Text, nullable=False)  # 街道 / 镇 / 开发区
    geom, geom_3857 = geometry_columns("MULTIPOLYGON")
    label_point, label_point_3857 = label_point_columns()


class Road(FeatureMixin, Base):
    __tablename__ = "roads"
    __table_args__ = (FeatureMixin.source_unique("roads"),)
    road_class: Mapped[str] = mapped_column(sa.Text, nullable=False)
    name: Mapped[str | None] = mapped_column(sa.Text)
    speed_limit: Mapped[int | None] = mapped_column(sa.SmallInteger)  # km/h
    lanes: Mapped[int | None] = mapped_column(sa.SmallInteger)
    rank: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False, server_default="0")
    geom, geom_3857 = geometry_columns("LINESTRING")


class Building(FeatureMixin, Base):
    __tablename__ = "buildings"
    __table_args__ = (FeatureMixin.source_unique("buildings"),)
    name: Mapped[str | None] = mapped_column(sa.Text)
    use: Mapped[str | None] = mapped_column(sa.Text)
    floors: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    height: Mapped[float] = mapped_column(sa.Float, nullable=False)  # metres
    geom, geom_3857 = geometry_columns("MULTIPOLYGON")


class Parcel(FeatureMixin, Base):
    __tablename__ = "parcels"
    __table_args__ = (FeatureMixin.source_unique("parcels"),)
    parcel_code: Mapped[str] = mapped_column(sa.String(19), nullable=False)
    land_use: Mapped[str] = mapped_column(sa.String(4), nullable=False)  # GB/T 21010 code
    land_use_name: Mapped[str | None] = mapped_column(sa.Text)
    area_m2: Mapped[float] = mapped_column(sa.Float, nullable=False)
    ownership: Mapped[str] = mapped_column(sa.Text, nullable=False)  # 国有 / 集体
    township_code: Mapped[str | None] = mapped_column(sa.String(9))
    geom, geom_3857 = geometry_columns("MULTIPOLYGON")


# Gas pressure classes (GB 50028-2006 表6.1.6), named in the layer's `values:`.
PRESSURE_CLASSES = ("low", "medium_b", "medium_a", "sub_high_b", "sub_high_a", "high")
MAX_DEPTH_M = 100  # deeper than any utility tunnel: a larger cover is a unit or sign mistake


class Pipeline(FeatureMixin, Base):
    __tablename__ = "pipelines"
    __table_args__ = (
        FeatureMixin.source_unique("pipelines"),
        sa.CheckConstraint(
            "network IN ('water_supply','drainage','gas','power','telecom','heating')",
            name="network",
        ),
        sa.CheckConstraint(
            "pressure_class IN ('low','medium_b','medium_a','sub_high_b','sub_high_a','high')",
            name="pressure_class",
        ),
        sa.CheckConstraint("pressure_class IS NULL OR network = 'gas'", name="pressure_gas_only"),
        # One constraint per column: a file giving one end is checked on that end alone.
        sa.CheckConstraint(f"depth_start_m BETWEEN 0 AND {MAX_DEPTH_M}", name="depth_start_m"),
        sa.CheckConstraint(f"depth_end_m BETWEEN 0 AND {MAX_DEPTH_M}", name="depth_end_m"),
    )
    network: Mapped[str] = mapped_column(sa.Text, nullable=False)
    diameter_mm: Mapped[int | None] = mapped_column(sa.Integer)
    material: Mapped[str | None] = mapped_column(sa.Text)
    # Cover (surface to the pipe's top) at the line's first and last vertex; a gravity pipe is
    # drawn in its direction of flow, so its end is the deeper.
    depth_start_m: Mapped[float | None] = mapped_column(sa.Float)
    depth_end_m: Mapped[float | None] = mapped_column(sa.Float)
    install_year: Mapped[int | None] = mapped_column(sa.SmallInteger)
    owner: Mapped[str | None] = mapped_column(sa.Text)  # the operating unit
    pressure_class: Mapped[str | None] = mapped_column(sa.Text)  # gas only
    geom, geom_3857 = geometry_columns("LINESTRING")
