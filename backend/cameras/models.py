from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, FeatureMixin, geometry_columns


class Camera(FeatureMixin, Base):
    __tablename__ = "cameras"
    __table_args__ = (
        FeatureMixin.source_unique("cameras"),
        sa.CheckConstraint("kind IN ('tianwang','xueliang','traffic')", name="kind"),
        sa.CheckConstraint("status IN ('online','offline','fault')", name="status"),
    )
    code: Mapped[str] = mapped_column(sa.Text, nullable=False, unique=True)
    name: Mapped[str | None] = mapped_column(sa.Text)
    kind: Mapped[str] = mapped_column(sa.Text, nullable=False)
    direction_deg: Mapped[float | None] = mapped_column(sa.Float)  # 0 = north, clockwise
    fov_deg: Mapped[float | None] = mapped_column(sa.Float)
    status: Mapped[str] = mapped_column(sa.Text, nullable=False, server_default="online")
    stream_url: Mapped[str | None] = mapped_column(sa.Text)
    township_code: Mapped[str | None] = mapped_column(sa.String(9))
    geom, geom_3857 = geometry_columns("POINT")
