from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, FeatureMixin, geometry_columns, label_point_columns


class GridCell(FeatureMixin, Base):
    __tablename__ = "grid_cells"
    __table_args__ = (
        FeatureMixin.source_unique("grid_cells"),
        sa.CheckConstraint("grid_code ~ '^[0-9]{15}$'", name="grid_code_15_digits"),
    )
    # 15 digits: county (6) + township (3) + community (3) + cell (3)
    grid_code: Mapped[str] = mapped_column(sa.String(15), nullable=False, unique=True)
    name: Mapped[str | None] = mapped_column(sa.Text)
    township_code: Mapped[str] = mapped_column(sa.String(9), nullable=False)
    township_name: Mapped[str | None] = mapped_column(sa.Text)
    community: Mapped[str | None] = mapped_column(sa.Text)
    geom, geom_3857 = geometry_columns("MULTIPOLYGON")
    label_point, label_point_3857 = label_point_columns()
