"""Vehicle positions: a table partitioned by day (UTC), and the latest state per vehicle.

The partitioned parent is created by migration 0003 (SQLAlchemy describes it for queries
only); daily partitions are made on demand by a SECURITY DEFINER function, because the
application's role owns no tables and so may not create them itself.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base


class VehiclePosition(Base):
    __tablename__ = "vehicle_positions"
    __table_args__ = {"postgresql_partition_by": "RANGE (time)"}
    vehicle_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    time: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )
    lon: Mapped[float] = mapped_column(sa.Float, nullable=False)
    lat: Mapped[float] = mapped_column(sa.Float, nullable=False)
    speed_kmh: Mapped[float | None] = mapped_column(sa.Float)
    heading_deg: Mapped[float | None] = mapped_column(sa.Float)
    altitude_m: Mapped[float | None] = mapped_column(sa.Float)
    alarm_flags: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, server_default="0")
    status_flags: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, server_default="0")
    source: Mapped[str] = mapped_column(sa.Text, nullable=False)


class VehicleLatest(Base):
    """The newest fix of each vehicle (a late fix never replaces a newer one)."""

    __tablename__ = "vehicle_latest"
    vehicle_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    time: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    lon: Mapped[float] = mapped_column(sa.Float, nullable=False)
    lat: Mapped[float] = mapped_column(sa.Float, nullable=False)
    speed_kmh: Mapped[float | None] = mapped_column(sa.Float)
    heading_deg: Mapped[float | None] = mapped_column(sa.Float)
    alarm_flags: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, server_default="0")
    status_flags: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, server_default="0")
    source: Mapped[str] = mapped_column(sa.Text, nullable=False)
    geom = sa.Column(
        "geom",
        Geometry("POINT", srid=4326, spatial_index=True),
        sa.Computed("ST_SetSRID(ST_MakePoint(lon, lat), 4326)", persisted=True),
    )


class Vehicle(Base):
    """The fleet register (migration 0004): which terminal is which bus, on which line."""

    __tablename__ = "vehicles"
    vehicle_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)  # JT/T 808: the phone
    label: Mapped[str | None] = mapped_column(sa.Text)  # the operator's own number, "1路#1"
    plate: Mapped[str | None] = mapped_column(sa.Text)
    vehicle_class: Mapped[str] = mapped_column(sa.Text, nullable=False, server_default="bus")
    line_id: Mapped[int | None] = mapped_column(
        sa.BigInteger, sa.ForeignKey("bus_lines.id", ondelete="SET NULL")
    )
    operator: Mapped[str | None] = mapped_column(sa.Text)
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, server_default=sa.true())
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )
    # Migration 0011: the JT/T 808 terminal this vehicle carries. Its phone without leading
    # zeros (unique), and its terminal id when the operator knows it (checked at register).
    terminal_phone: Mapped[str | None] = mapped_column(sa.Text, unique=True)
    terminal_id: Mapped[str | None] = mapped_column(sa.Text)


class TerminalAuth(Base):
    """A terminal's current auth code (migration 0011), as a SHA-256 only; NULL once revoked."""

    __tablename__ = "terminal_auth"
    terminal_phone: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    vehicle_id: Mapped[str] = mapped_column(
        sa.Text, sa.ForeignKey("vehicles.vehicle_id", ondelete="CASCADE"), nullable=False)
    code_sha256: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    generation: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, server_default="1")
    registered_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())
    registered_from: Mapped[str | None] = mapped_column(sa.Text)
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(sa.Text)


class VehicleAlarm(Base):
    """An alarm a rule raised (migration 0004), its clearing and its acknowledgement."""

    __tablename__ = "vehicle_alarms"
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(always=False), primary_key=True)
    vehicle_id: Mapped[str] = mapped_column(sa.Text, nullable=False)
    kind: Mapped[str] = mapped_column(sa.Text, nullable=False)
    severity: Mapped[str] = mapped_column(sa.Text, nullable=False)
    status: Mapped[str] = mapped_column(sa.Text, nullable=False)  # active | cleared
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    raised_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    cleared_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    cleared_by: Mapped[str | None] = mapped_column(sa.Text)  # "rule" or who cleared it
    lon: Mapped[float] = mapped_column(sa.Float, nullable=False)
    lat: Mapped[float] = mapped_column(sa.Float, nullable=False)
    details: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    acknowledged_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(sa.Text)
    note: Mapped[str | None] = mapped_column(sa.Text)
