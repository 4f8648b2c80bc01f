from __future__ import annotations

import sqlalchemy as sa
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
