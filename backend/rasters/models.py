"""The registry of raster files: which COG each raster layer serves now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import STORE_SRID, Base

KINDS = ("cog", "dem")


class RasterFileRow(Base):
    """One row per raster layer: its current file (a COG in EPSG:3857 under raster_dir, named
    by its SHA-256), what the file is, where it came from and the ingest report."""

    __tablename__ = "raster_files"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('cog', 'dem')", name="kind"),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256"),
        sa.CheckConstraint("bytes > 0 AND width > 0 AND height > 0 AND bands > 0",
                           name="sizes"),
        sa.CheckConstraint("minzoom BETWEEN 0 AND 30 AND maxzoom BETWEEN minzoom AND 30",
                           name="zooms"),
    )

    layer_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.Text, nullable=False)
    path: Mapped[str] = mapped_column(sa.Text, nullable=False)
    sha256: Mapped[str] = mapped_column(sa.Text, nullable=False)
    bytes: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    width: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    height: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    bands: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    dtype: Mapped[str] = mapped_column(sa.Text, nullable=False)
    nodata: Mapped[float | None] = mapped_column(sa.Float(53))
    source_name: Mapped[str] = mapped_column(sa.Text, nullable=False)
    source_crs: Mapped[str] = mapped_column(sa.Text, nullable=False)
    # The data's footprint (the source file's extent) in EPSG:4326.
    bounds = mapped_column(Geometry("POLYGON", srid=STORE_SRID, spatial_index=False),
                           nullable=False)
    minzoom: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    maxzoom: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    report: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    loaded_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )
    loaded_by: Mapped[str] = mapped_column(sa.Text, nullable=False)
