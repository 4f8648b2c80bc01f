from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, FeatureMixin, geometry_columns


class BusLine(FeatureMixin, Base):
    __tablename__ = "bus_lines"
    __table_args__ = (FeatureMixin.source_unique("bus_lines"),)
    code: Mapped[str] = mapped_column(sa.Text, nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.Text, nullable=False)
    color: Mapped[str | None] = mapped_column(sa.String(7))
    operator: Mapped[str | None] = mapped_column(sa.Text)
    length_m: Mapped[float | None] = mapped_column(sa.Float)
    geom, geom_3857 = geometry_columns("LINESTRING")


class BusStop(FeatureMixin, Base):
    __tablename__ = "bus_stops"
    __table_args__ = (FeatureMixin.source_unique("bus_stops"),)
    code: Mapped[str] = mapped_column(sa.Text, nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.Text, nullable=False)
    geom, geom_3857 = geometry_columns("POINT")


class BusLineStop(Base):
    """Ordered stops of a line; distance_m is measured along the line's geometry."""

    __tablename__ = "bus_line_stops"
    line_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey("bus_lines.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    stop_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey("bus_stops.id", ondelete="CASCADE"), nullable=False
    )
    distance_m: Mapped[float] = mapped_column(sa.Float, nullable=False)
