from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, FeatureMixin, geometry_columns


class PilotSegment(FeatureMixin, Base):
    __tablename__ = "pilot_segments"
    __table_args__ = (FeatureMixin.source_unique("pilot_segments"),)
    code: Mapped[str] = mapped_column(sa.Text, nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.Text, nullable=False)
    road_name: Mapped[str | None] = mapped_column(sa.Text)
    direction: Mapped[str | None] = mapped_column(sa.Text)
    speed_limit: Mapped[int | None] = mapped_column(sa.SmallInteger)
    length_m: Mapped[float | None] = mapped_column(sa.Float)
    geom, geom_3857 = geometry_columns("LINESTRING")


# The traffic tables of migration 0016. The partitioned parent of traffic_speeds is made by the
# migration (described here for queries only); its day partitions by a SECURITY DEFINER function.

class TrafficSegment(Base):
    """A direction of travel along one road row (backend.traffic.network.segment_key)."""

    __tablename__ = "traffic_segments"
    segment: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    road_id: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    forward: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    name: Mapped[str | None] = mapped_column(sa.Text)
    road_class: Mapped[str] = mapped_column(sa.Text, nullable=False)
    length_m: Mapped[float] = mapped_column(sa.Float, nullable=False)
    township_code: Mapped[str | None] = mapped_column(sa.Text)
    pilot_code: Mapped[str | None] = mapped_column(sa.Text)  # same direction as the pilot line
    geom, geom_3857 = geometry_columns("LINESTRING")  # in the direction of travel
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


class TrafficSpeed(Base):
    """A published segment-bucket (>= min_vehicles distinct vehicles) and its level."""

    __tablename__ = "traffic_speeds"
    __table_args__ = {"postgresql_partition_by": "RANGE (bucket_start)"}
    segment: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), primary_key=True)
    speed_kmh: Mapped[float] = mapped_column(sa.Float, nullable=False)
    vehicles: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    traversals: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    level: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)


class TrafficTypical(Base):
    """The usual speed of a segment in a time-of-week slot (local Monday 00:00 = slot 0, five
    minutes each, 2016 slots)."""

    __tablename__ = "traffic_typical"
    segment: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    slot: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    speed_kmh: Mapped[float] = mapped_column(sa.Float, nullable=False)
    samples: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


class TrafficTpi(Base):
    """The index of an area ('seat' or a township code) in a closed bucket."""

    __tablename__ = "traffic_tpi"
    area: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), primary_key=True)
    tpi: Mapped[float | None] = mapped_column(sa.Float)
    level: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    length_m: Mapped[float] = mapped_column(sa.Float, nullable=False)  # known-level length


class TrafficAlert(Base):
    """A traffic alert (congestion, slow, accident): raised and cleared by the rules,
    acknowledged and closed by traffic police; `revision` counts the changes since it was
    raised (0: as raised; CAP Update)."""

    __tablename__ = "traffic_alerts"
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(always=False), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.Text, nullable=False)
    source_key: Mapped[str] = mapped_column(sa.Text, nullable=False, server_default="")
    segment: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    pilot_code: Mapped[str | None] = mapped_column(sa.Text)
    name: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.Text, nullable=False, server_default="active")
    level: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False, server_default="0")
    speed_kmh: Mapped[float | None] = mapped_column(sa.Float)
    typical_kmh: Mapped[float | None] = mapped_column(sa.Float)
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    raised_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    cleared_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(sa.Text)
    closed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(sa.Text)
    note: Mapped[str | None] = mapped_column(sa.Text)
    revision: Mapped[int] = mapped_column(sa.Integer, nullable=False, server_default="0")
    case_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    vehicle_id: Mapped[str | None] = mapped_column(sa.Text)
    lon: Mapped[float] = mapped_column(sa.Float, nullable=False)
    lat: Mapped[float] = mapped_column(sa.Float, nullable=False)
    details: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
